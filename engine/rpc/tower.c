/*
** tower.c - protocol tower encoding and decoding (see tower.h).
*/
#include <stdio.h>
#include <string.h>
#include "rpc/tower.h"

/* Floor layouts after the two UUID floors, as Windows and Samba register
** them ([MS-RPCE] 2.2.1.1, C706 appendix L). */
static const dce_tower_layout tower_layouts[] = {
  { "ncacn_ip_tcp",      3, { DCE_EPM_PROTO_NCACN,   DCE_EPM_PROTO_TCP,        DCE_EPM_PROTO_IP } },
  { "ncadg_ip_udp",      3, { DCE_EPM_PROTO_NCADG,   DCE_EPM_PROTO_UDP,        DCE_EPM_PROTO_IP } },
  { "ncacn_np",          3, { DCE_EPM_PROTO_NCACN,   DCE_EPM_PROTO_SMB,        DCE_EPM_PROTO_NETBIOS } },
  { "ncacn_http",        3, { DCE_EPM_PROTO_NCACN,   DCE_EPM_PROTO_HTTP,       DCE_EPM_PROTO_IP } },
  { "ncalrpc",           2, { DCE_EPM_PROTO_NCALRPC, DCE_EPM_PROTO_NAMED_PIPE, 0 } },
  { "ncacn_unix_stream", 2, { DCE_EPM_PROTO_NCACN,   DCE_EPM_PROTO_UNIX_DS,    0 } },
  { "ncadg_unix_dgram",  2, { DCE_EPM_PROTO_NCADG,   DCE_EPM_PROTO_UNIX_DS,    0 } },
  { NULL, 0, { 0, 0, 0 } }
};

const dce_tower_layout *dce_tower_layout_of(const char *protseq) {
  const dce_tower_layout *l;
  if (!protseq) return NULL;
  for (l = tower_layouts; l->protseq; l++)
    if (strcmp(l->protseq, protseq) == 0) return l;
  return NULL;
}

/* How a transport floor's rhs is read and written. */
enum { RHS_PORT, RHS_IPV4, RHS_NAME, RHS_OTHER };
static int rhs_kind(uint8_t proto) {
  switch (proto) {
    case DCE_EPM_PROTO_TCP: case DCE_EPM_PROTO_UDP: case DCE_EPM_PROTO_HTTP: return RHS_PORT;
    case DCE_EPM_PROTO_IP: return RHS_IPV4;
    case DCE_EPM_PROTO_SMB: case DCE_EPM_PROTO_NAMED_PIPE: case DCE_EPM_PROTO_NETBIOS:
    case DCE_EPM_PROTO_UNIX_DS: return RHS_NAME;
    default: return RHS_OTHER;
  }
}
/* Is a transport floor (index 1 or 2 of a layout) the host or the endpoint? */
static int is_host_proto(uint8_t proto) {
  return proto == DCE_EPM_PROTO_IP || proto == DCE_EPM_PROTO_NETBIOS;
}

#define TERR(...) do { if (errcap) snprintf(err, errcap, __VA_ARGS__); } while (0)

/* ------------------------------------------------------------------ decode */

static int uuid_floor(const dce_floor *f, dce_syntax *s) {
  memcpy(s->uuid.b, f->lhs + 1, 16);
  s->major = dce_ld16(f->lhs + 17, 1);
  s->minor = dce_ld16(f->rhs, 1);
  return 0;
}

/* Read one transport floor's rhs into text. Returns 0 or -1 (err set). */
static int rhs_text(dce_tower *t, size_t idx, int as_host, char *err, size_t errcap) {
  const dce_floor *f = &t->floor[idx];
  uint8_t proto = f->lhs[0];
  const char *txt = NULL;
  size_t n = 0;
  if (f->lhs_len != 1) { TERR("floor %zu: protocol 0x%02x with %u lhs bytes", idx + 1, proto, f->lhs_len); return -1; }
  switch (rhs_kind(proto)) {
    case RHS_PORT: {
      char *b = as_host ? t->host_text : t->ep_text;
      if (f->rhs_len != 2) { TERR("floor %zu: port must be 2 bytes, got %u", idx + 1, f->rhs_len); return -1; }
      n = (size_t)snprintf(b, 8, "%u", (unsigned)dce_ld16(f->rhs, 0));
      txt = b;
      break;
    }
    case RHS_IPV4: {
      char *b = as_host ? t->host_text : t->ep_text;
      size_t cap = as_host ? sizeof t->host_text : sizeof t->ep_text;
      if (f->rhs_len != 4) { TERR("floor %zu: IPv4 address must be 4 bytes, got %u", idx + 1, f->rhs_len); return -1; }
      n = (size_t)snprintf(b, cap, "%u.%u.%u.%u", f->rhs[0], f->rhs[1], f->rhs[2], f->rhs[3]);
      txt = b;
      break;
    }
    case RHS_NAME: {
      if (f->rhs_len == 0 || f->rhs[f->rhs_len - 1] != 0) {
        TERR("floor %zu: name is not NUL-terminated", idx + 1); return -1;
      }
      if (memchr(f->rhs, 0, f->rhs_len - 1)) { TERR("floor %zu: NUL inside the name", idx + 1); return -1; }
      txt = (const char *)f->rhs;
      n = (size_t)f->rhs_len - 1;
      break;
    }
    default:
      TERR("floor %zu: unexpected protocol 0x%02x", idx + 1, proto); return -1;
  }
  if (as_host) { t->host = txt; t->host_len = n; }
  else { t->endpoint = txt; t->endpoint_len = n; }
  return 0;
}

int dce_tower_decode(dce_tower *t, const uint8_t *p, size_t len, char *err, size_t errcap) {
  dce_rd r;
  uint16_t count;
  size_t i;
  memset(t, 0, sizeof *t);
  if (errcap) err[0] = '\0';
  dce_rd_init(&r, p, len);
  if (dce_rd_u16(&r, &count, 1)) { TERR("tower truncated: %zu bytes, no floor count", len); return -1; }
  if (count == 0) { TERR("tower has no floors"); return -1; }
  if (count > DCE_TOWER_MAX_FLOORS) { TERR("tower has %u floors, limit %d", count, DCE_TOWER_MAX_FLOORS); return -1; }
  for (i = 0; i < count; i++) {
    dce_floor *f = &t->floor[i];
    if (dce_rd_u16(&r, &f->lhs_len, 1)) { TERR("floor %zu: truncated lhs length at offset %zu", i + 1, r.off); return -1; }
    if (f->lhs_len == 0) { TERR("floor %zu: empty lhs (no protocol identifier)", i + 1); return -1; }
    if (dce_rd_bytes(&r, &f->lhs, f->lhs_len)) {
      TERR("floor %zu: lhs of %u bytes, %zu left", i + 1, f->lhs_len, dce_rd_left(&r)); return -1;
    }
    if (dce_rd_u16(&r, &f->rhs_len, 1)) { TERR("floor %zu: truncated rhs length at offset %zu", i + 1, r.off); return -1; }
    if (dce_rd_bytes(&r, &f->rhs, f->rhs_len)) {
      TERR("floor %zu: rhs of %u bytes, %zu left", i + 1, f->rhs_len, dce_rd_left(&r)); return -1;
    }
  }
  if (dce_rd_left(&r)) { TERR("%zu bytes after the last floor", dce_rd_left(&r)); return -1; }
  t->nfloors = count;

  /* Floors 1 and 2: interface and transfer syntax, when they are UUID floors. */
  for (i = 0; i < 2 && i < t->nfloors; i++) {
    const dce_floor *f = &t->floor[i];
    if (f->lhs[0] != DCE_EPM_PROTO_UUID) break;
    if (f->lhs_len != 19 || f->rhs_len != 2) {
      TERR("floor %zu: UUID floor with %u lhs / %u rhs bytes (want 19 / 2)", i + 1, f->lhs_len, f->rhs_len);
      return -1;
    }
    if (i == 0) { t->has_iface = 1; uuid_floor(f, &t->iface); }
    else { t->has_syntax = 1; uuid_floor(f, &t->syntax); }
  }
  if (!t->has_iface || !t->has_syntax || t->nfloors < 3) return 0;

  /* Floor 3: RPC protocol. */
  {
    const dce_floor *f = &t->floor[2];
    uint8_t pr = f->lhs[0];
    if (pr != DCE_EPM_PROTO_NCACN && pr != DCE_EPM_PROTO_NCADG && pr != DCE_EPM_PROTO_NCALRPC) return 0;
    if (f->lhs_len != 1 || f->rhs_len != 2) {
      TERR("floor 3: RPC protocol floor with %u lhs / %u rhs bytes (want 1 / 2)", f->lhs_len, f->rhs_len);
      return -1;
    }
    t->has_rpc = 1;
    t->rpc_proto = pr;
    t->rpc_minor = dce_ld16(f->rhs, 1);
  }

  /* Known layouts: the whole floor list must match. */
  {
    const dce_tower_layout *l;
    for (l = tower_layouts; l->protseq; l++) {
      size_t k;
      if (t->nfloors != (size_t)2 + l->n) continue;
      for (k = 0; k < l->n; k++) if (t->floor[2 + k].lhs[0] != l->proto[k]) break;
      if (k < l->n) continue;
      for (k = 1; k < l->n; k++)
        if (rhs_text(t, 2 + k, is_host_proto(l->proto[k]), err, errcap)) return -1;
      t->protseq = l->protseq;
      break;
    }
  }
  return 0;
}

/* ------------------------------------------------------------------ encode */

typedef struct tout { uint8_t *p; size_t cap, n; } tout;

static void to_b(tout *o, const void *s, size_t n) {
  if (n && o->p && o->n <= o->cap && n <= o->cap - o->n) memcpy(o->p + o->n, s, n);
  o->n += n;
}
static void to_u16(tout *o, uint16_t v, int le) {
  uint8_t b[2];
  dce_st16(b, v, le);
  to_b(o, b, 2);
}
static void to_floor(tout *o, const void *lhs, size_t ll, const void *rhs, size_t rl) {
  to_u16(o, (uint16_t)ll, 1); to_b(o, lhs, ll);
  to_u16(o, (uint16_t)rl, 1); to_b(o, rhs, rl);
}
static void to_uuid_floor(tout *o, const dce_syntax *s) {
  uint8_t lhs[19], rhs[2];
  lhs[0] = DCE_EPM_PROTO_UUID;
  memcpy(lhs + 1, s->uuid.b, 16);
  dce_st16(lhs + 17, s->major, 1);
  dce_st16(rhs, s->minor, 1);
  to_floor(o, lhs, 19, rhs, 2);
}

static int parse_port(const char *s, size_t n, uint16_t *v) {
  unsigned long x = 0;
  size_t i;
  if (n == 0 || n > 5) return -1;
  for (i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    x = x * 10 + (unsigned long)(s[i] - '0');
  }
  if (x > 65535) return -1;
  *v = (uint16_t)x;
  return 0;
}

/* Strict dotted quad: four decimal parts 0..255, no leading '+', no spaces. */
static int parse_ipv4(const char *s, size_t n, uint8_t ip[4]) {
  size_t i = 0;
  int part;
  for (part = 0; part < 4; part++) {
    unsigned v = 0, digits = 0;
    if (part) { if (i >= n || s[i] != '.') return -1; i++; }
    while (i < n && s[i] >= '0' && s[i] <= '9' && digits < 4) { v = v * 10 + (unsigned)(s[i] - '0'); i++; digits++; }
    if (digits == 0 || digits > 3 || v > 255) return -1;
    ip[part] = (uint8_t)v;
  }
  return i == n ? 0 : -1;
}

size_t dce_tower_encode(const dce_tower_spec *s, uint8_t *out, size_t cap,
                        char *err, size_t errcap) {
  const dce_tower_layout *l = dce_tower_layout_of(s->protseq);
  tout o;
  size_t k;
  uint8_t rpc_lhs, rpc_rhs[2];
  if (errcap) err[0] = '\0';
  if (!l) { TERR("no tower layout for protocol sequence '%s'", s->protseq ? s->protseq : "(none)"); return (size_t)-1; }
  o.p = out; o.cap = cap; o.n = 0;
  to_u16(&o, (uint16_t)(2 + l->n), 1);
  to_uuid_floor(&o, &s->iface);
  to_uuid_floor(&o, &s->syntax);
  rpc_lhs = l->proto[0];
  dce_st16(rpc_rhs, s->rpc_minor, 1);
  to_floor(&o, &rpc_lhs, 1, rpc_rhs, 2);
  for (k = 1; k < l->n; k++) {
    uint8_t proto = l->proto[k];
    int host = is_host_proto(proto);
    const char *v = host ? s->host : s->endpoint;
    size_t vn = host ? s->host_len : s->endpoint_len;
    switch (rhs_kind(proto)) {
      case RHS_PORT: {
        uint16_t port = 0;
        uint8_t b[2];
        if (v && parse_port(v, vn, &port)) { TERR("invalid port number '%.*s'", (int)(vn > 64 ? 64 : vn), v); return (size_t)-1; }
        dce_st16(b, port, 0);
        to_floor(&o, &proto, 1, b, 2);
        break;
      }
      case RHS_IPV4: {
        uint8_t ip[4] = { 0, 0, 0, 0 };
        if (v && parse_ipv4(v, vn, ip)) {
          TERR("%s towers need a dotted IPv4 host, not '%.*s'", l->protseq, (int)(vn > 64 ? 64 : vn), v);
          return (size_t)-1;
        }
        to_floor(&o, &proto, 1, ip, 4);
        break;
      }
      default: {                                   /* RHS_NAME */
        static const uint8_t nul = 0;
        if (!v) vn = 0;
        if (vn && memchr(v, 0, vn)) { TERR("NUL inside a tower name"); return (size_t)-1; }
        if (vn > 65534) { TERR("tower name too long (%zu bytes)", vn); return (size_t)-1; }
        to_u16(&o, 1, 1); to_b(&o, &proto, 1);
        to_u16(&o, (uint16_t)(vn + 1), 1);
        if (vn) to_b(&o, v, vn);
        to_b(&o, &nul, 1);
        break;
      }
    }
  }
  return o.n;
}

size_t dce_tower_encode_floors(const dce_floor *f, size_t n, uint8_t *out, size_t cap,
                               char *err, size_t errcap) {
  tout o;
  size_t i;
  if (errcap) err[0] = '\0';
  if (n == 0 || n > DCE_TOWER_MAX_FLOORS) { TERR("a tower needs 1..%d floors, got %zu", DCE_TOWER_MAX_FLOORS, n); return (size_t)-1; }
  o.p = out; o.cap = cap; o.n = 0;
  to_u16(&o, (uint16_t)n, 1);
  for (i = 0; i < n; i++) {
    if (f[i].lhs_len == 0) { TERR("floor %zu: empty lhs", i + 1); return (size_t)-1; }
    to_floor(&o, f[i].lhs, f[i].lhs_len, f[i].rhs, f[i].rhs_len);
  }
  return o.n;
}
