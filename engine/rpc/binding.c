/*
** binding.c - string binding parser and formatter (see binding.h for the
** grammar). No allocation: components are unescaped into caller scratch.
*/
#include <stdio.h>
#include <string.h>
#include "rpc/binding.h"

/* Characters a backslash escapes. Anywhere else a backslash is literal. */
#define BIND_SPECIAL "@:[],=\\"

static int is_special(int c) { return c != 0 && strchr(BIND_SPECIAL, c) != NULL; }
static int is_ident(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '_' || c == '-' || c == '.';
}
static int is_hex(int c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Flags Samba accepts bare in the brackets (librpc/rpc/binding.c's option
** list); the first item of the brackets is an endpoint unless it is one. */
static const char *const bind_flags[] = {
  "sign", "seal", "connect", "packet", "spnego", "ntlm", "krb5", "schannel",
  "validate", "print", "padcheck", "bigendian", "smb1", "smb2", "ndr64", NULL
};

int dce_binding_is_flag(const char *name, size_t len) {
  int i;
  for (i = 0; bind_flags[i]; i++)
    if (strlen(bind_flags[i]) == len && memcmp(bind_flags[i], name, len) == 0) return 1;
  return 0;
}

static const char *const bind_protseqs[] = {
  "ncacn_ip_tcp", "ncacn_np", "ncalrpc", "ncadg_ip_udp", "ncacn_http",
  "ncacn_unix_stream", "ncadg_unix_dgram", "ncacn_nb_tcp", "ncacn_spx",
  "ncadg_ipx", "ncacn_at_dsp", "ncacn_vns_spp", NULL
};

int dce_binding_known_protseq(const char *ps, size_t len) {
  int i;
  for (i = 0; bind_protseqs[i]; i++)
    if (strlen(bind_protseqs[i]) == len && memcmp(bind_protseqs[i], ps, len) == 0) return 1;
  return 0;
}

/* Protocol sequences whose endpoint is a port number. */
static int port_endpoint(const dce_bstr *ps) {
  return (ps->len == 12 && memcmp(ps->s, "ncacn_ip_tcp", 12) == 0) ||
         (ps->len == 12 && memcmp(ps->s, "ncadg_ip_udp", 12) == 0) ||
         (ps->len == 10 && memcmp(ps->s, "ncacn_http", 10) == 0);
}

/* ------------------------------------------------------------------ parse */

typedef struct bparse {
  const char *s;
  size_t len;
  char *scr;        /* scratch */
  size_t scap, sused;
  dce_binding_err *err;
} bparse;

static int bp_fail(bparse *p, size_t pos, const char *what) {
  if (p->err) {
    p->err->pos = pos;
    if (pos < p->len)
      snprintf(p->err->msg, sizeof p->err->msg, "%s at position %zu (near '%c')",
               what, pos + 1, p->s[pos]);
    else
      snprintf(p->err->msg, sizeof p->err->msg, "%s at position %zu (end of string)",
               what, pos + 1);
  }
  return -1;
}

/* Index of the first unescaped character of `stops` in [a, b), or b. */
static size_t bp_find(const bparse *p, size_t a, size_t b, const char *stops) {
  size_t i = a;
  while (i < b) {
    char c = p->s[i];
    if (c == '\\' && i + 1 < b && is_special((unsigned char)p->s[i + 1])) { i += 2; continue; }
    if (strchr(stops, c)) return i;
    i++;
  }
  return b;
}

/* Unescape s[a, b) into scratch as a NUL-terminated string. */
static int bp_copy(bparse *p, size_t a, size_t b, dce_bstr *out) {
  size_t i = a, start = p->sused;
  if (b - a + 1 > p->scap - p->sused) return bp_fail(p, a, "internal: scratch too small");
  while (i < b) {
    char c = p->s[i];
    if (c == '\\' && i + 1 < b && is_special((unsigned char)p->s[i + 1])) { c = p->s[i + 1]; i++; }
    p->scr[p->sused++] = c;
    i++;
  }
  p->scr[p->sused++] = '\0';
  out->s = p->scr + start;
  out->len = p->sused - start - 1;
  return 0;
}

/* Length of the IPv6-literal-looking prefix of s[0..n) (hex, ':', '.', then an
** optional %zone), stopping at ']'; (size_t)-1 when a character does not fit
** or there are fewer than two colons. The bracketed-address test uses it. */
static size_t ipv6_span(const char *s, size_t n) {
  size_t i;
  int colons = 0, zone = 0;
  for (i = 0; i < n && s[i] != ']'; i++) {
    int c = (unsigned char)s[i];
    if (zone) { if (!is_ident(c)) return (size_t)-1; continue; }
    if (c == ':') colons++;
    else if (c == '%') zone = 1;
    else if (!is_hex(c) && c != '.') return (size_t)-1;
  }
  return colons < 2 ? (size_t)-1 : i;
}

/* Local protocol sequences have no network address, so for them "[...]" is
** always the endpoint. */
static int has_netaddr(const dce_bstr *ps) {
  return !((ps->len == 7 && memcmp(ps->s, "ncalrpc", 7) == 0) ||
           (ps->len == 17 && memcmp(ps->s, "ncacn_unix_stream", 17) == 0) ||
           (ps->len == 16 && memcmp(ps->s, "ncadg_unix_dgram", 16) == 0));
}

/* "[...]" at a holding an IPv6 literal: the index of the closing ']', or 0. */
static size_t bp_ipv6_bracket(const bparse *p, size_t a) {
  size_t n = ipv6_span(p->s + a + 1, p->len - a - 1);
  if (n == (size_t)-1 || a + 1 + n >= p->len) return 0;
  return a + 1 + n;
}

static int bp_ident(const dce_bstr *x) {
  size_t i;
  if (x->len == 0) return 0;
  for (i = 0; i < x->len; i++) if (!is_ident((unsigned char)x->s[i])) return 0;
  return 1;
}

static int bp_items(bparse *p, dce_binding *b, size_t a, size_t end) {
  size_t i = a;
  int first = 1;
  size_t endpoint_pos = 0;
  for (;;) {
    size_t e = bp_find(p, i, end, ",");
    size_t eq = bp_find(p, i, e, "=");
    if (eq == e) {                                /* no '=': endpoint or flag */
      dce_bstr v;
      if (bp_copy(p, i, e, &v)) return -1;
      if (first && v.len == 0) {
        /* "[]" or "[,flag]": no endpoint */
      } else if (first && !dce_binding_is_flag(v.s, v.len)) {
        b->endpoint = v; endpoint_pos = i;
      } else {
        size_t k;
        if (!bp_ident(&v)) return bp_fail(p, i, v.len ? "invalid flag name" : "empty option");
        if (v.len == 8 && memcmp(v.s, "endpoint", 8) == 0) return bp_fail(p, i, "'endpoint' needs a value");
        if (b->nopts == DCE_BINDING_MAX_OPTS) return bp_fail(p, i, "too many options");
        for (k = 0; k < b->nopts; k++)
          if (b->opt[k].key.len == v.len && memcmp(b->opt[k].key.s, v.s, v.len) == 0)
            return bp_fail(p, i, "duplicate option");
        b->opt[b->nopts].key = v;
        b->opt[b->nopts].value.s = NULL; b->opt[b->nopts].value.len = 0;
        b->nopts++;
      }
    } else {                                      /* key=value */
      dce_bstr k, v;
      size_t j;
      if (bp_copy(p, i, eq, &k) || bp_copy(p, eq + 1, e, &v)) return -1;
      if (!bp_ident(&k)) return bp_fail(p, i, "invalid option name");
      if (k.len == 8 && memcmp(k.s, "endpoint", 8) == 0) {
        if (b->endpoint.s) return bp_fail(p, i, "endpoint given twice");
        b->endpoint = v; endpoint_pos = eq + 1;
      } else {
        if (b->nopts == DCE_BINDING_MAX_OPTS) return bp_fail(p, i, "too many options");
        for (j = 0; j < b->nopts; j++)
          if (b->opt[j].key.len == k.len && memcmp(b->opt[j].key.s, k.s, k.len) == 0)
            return bp_fail(p, i, "duplicate option");
        b->opt[b->nopts].key = k;
        b->opt[b->nopts].value = v;
        b->nopts++;
      }
    }
    first = 0;
    if (e == end) break;
    i = e + 1;
  }
  /* Port-number endpoints are checked here so a typo fails early. */
  if (b->endpoint.s && port_endpoint(&b->protseq)) {
    size_t k;
    unsigned long v = 0;
    if (b->endpoint.len == 0 || b->endpoint.len > 5)
      return bp_fail(p, endpoint_pos, "invalid port number");
    for (k = 0; k < b->endpoint.len; k++) {
      int c = (unsigned char)b->endpoint.s[k];
      if (c < '0' || c > '9') return bp_fail(p, endpoint_pos + k, "invalid port number");
      v = v * 10 + (unsigned long)(c - '0');
    }
    if (v > 65535) return bp_fail(p, endpoint_pos, "port number out of range");
  }
  if (b->endpoint.s && b->endpoint.len == 0) b->endpoint.s = NULL;  /* "endpoint=" */
  return 0;
}

int dce_binding_parse(dce_binding *b, const char *s, size_t len,
                      char *scratch, size_t scratch_len, dce_binding_err *err) {
  bparse p;
  size_t i, ps_start, addr;
  memset(b, 0, sizeof *b);
  p.s = s; p.len = len; p.scr = scratch; p.scap = scratch_len; p.sused = 0; p.err = err;
  if (err) { err->pos = 0; err->msg[0] = '\0'; }
  if (len == 0) return bp_fail(&p, 0, "empty string binding");
  if (len > DCE_BINDING_MAX_LEN) return bp_fail(&p, DCE_BINDING_MAX_LEN, "string binding too long");
  if (scratch_len < DCE_BINDING_SCRATCH(len)) return bp_fail(&p, 0, "internal: scratch too small");
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c == 0x7f) return bp_fail(&p, i, "control character");
  }

  /* Object UUID: only when an '@' comes before the first ':'. */
  for (i = 0; i < len && s[i] != ':' && s[i] != '@'; i++) {}
  ps_start = 0;
  if (i < len && s[i] == '@') {
    if (dce_uuid_parse(&b->object, s, i)) return bp_fail(&p, 0, "invalid object UUID");
    b->has_object = 1;
    ps_start = i + 1;
  }

  /* Protocol sequence, stored lower case. */
  for (i = ps_start; i < len && s[i] != ':'; i++) {
    unsigned char c = (unsigned char)s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
      return bp_fail(&p, i, "invalid character in protocol sequence");
  }
  if (i == ps_start) return bp_fail(&p, i, "missing protocol sequence");
  if (i == len) return bp_fail(&p, i, "expected ':' after the protocol sequence");
  {
    size_t k, n = i - ps_start;
    char *q = p.scr + p.sused;
    for (k = 0; k < n; k++) {
      char c = s[ps_start + k];
      q[k] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    q[n] = '\0';
    b->protseq.s = q; b->protseq.len = n;
    p.sused += n + 1;
  }

  /* Network address. */
  addr = i + 1;
  if (addr < len && s[addr] == '[') {
    size_t close = has_netaddr(&b->protseq) ? bp_ipv6_bracket(&p, addr) : 0;
    if (close) {
      char *q = p.scr + p.sused;
      memcpy(q, s + addr + 1, close - addr - 1);
      q[close - addr - 1] = '\0';
      b->host.s = q; b->host.len = close - addr - 1;
      p.sused += close - addr;
      i = close + 1;
      if (i < len && s[i] != '[') return bp_fail(&p, i, "expected '[' after the address");
    } else {
      i = addr;
    }
  } else {
    i = bp_find(&p, addr, len, "[]");
    if (i < len && s[i] == ']') return bp_fail(&p, i, "unbalanced ']'");
  }
  if (!b->host.s && bp_copy(&p, addr, i, &b->host)) return -1;

  /* Endpoint and options. */
  if (i < len) {
    size_t close = bp_find(&p, i + 1, len, "]");
    if (close == len) return bp_fail(&p, len, "missing ']'");
    if (close + 1 != len) return bp_fail(&p, close + 1, "unexpected text after ']'");
    {
      size_t nested = bp_find(&p, i + 1, close, "[");
      if (nested < close) return bp_fail(&p, nested, "unexpected '['");
    }
    if (bp_items(&p, b, i + 1, close)) return -1;
  }
  return 0;
}

/* ------------------------------------------------------------------ format */

typedef struct bout { char *out; size_t cap, n; } bout;

static void bo_c(bout *o, char c) {
  if (o->n + 1 < o->cap) o->out[o->n] = c;
  o->n++;
}
static void bo_s(bout *o, const char *s, size_t len) {
  size_t k;
  for (k = 0; k < len; k++) bo_c(o, s[k]);
}

/* Write x escaping the characters of `esc`; a backslash is written single
** when the parser would read it back as a literal one (see binding.h). */
static void bo_esc(bout *o, const dce_bstr *x, const char *esc) {
  size_t i = 0;
  while (i < x->len) {
    char c = x->s[i];
    if (c == '\\') {
      size_t j = i;
      while (j < x->len && x->s[j] == '\\') j++;
      if (j - i == 1 && j < x->len && !is_special((unsigned char)x->s[j])) bo_c(o, '\\');
      else for (; i < j; i++) { bo_c(o, '\\'); bo_c(o, '\\'); }
      i = j;
      continue;
    }
    if (strchr(esc, c)) bo_c(o, '\\');
    bo_c(o, c);
    i++;
  }
}

static int bo_ident(const dce_bstr *x) {
  return x->s && bp_ident(x);
}

size_t dce_binding_format(const dce_binding *b, char *out, size_t cap) {
  bout o;
  size_t k;
  int any = 0;
  o.out = out; o.cap = cap; o.n = 0;
  if (!b->protseq.s || b->protseq.len == 0) return (size_t)-1;
  for (k = 0; k < b->protseq.len; k++) {
    int c = (unsigned char)b->protseq.s[k];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
      return (size_t)-1;
  }
  for (k = 0; k < b->nopts; k++) {
    if (!bo_ident(&b->opt[k].key)) return (size_t)-1;
    if (b->opt[k].key.len == 8 && memcmp(b->opt[k].key.s, "endpoint", 8) == 0) return (size_t)-1;
  }
  if (b->has_object) {
    char u[37];
    dce_uuid_format(&b->object, u);
    bo_s(&o, u, 36);
    bo_c(&o, '@');
  }
  for (k = 0; k < b->protseq.len; k++) {
    char c = b->protseq.s[k];
    bo_c(&o, (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c);
  }
  bo_c(&o, ':');
  if (b->host.s) {
    /* A host that looks like a bracketed IPv6 literal is written bare. */
    bo_esc(&o, &b->host, "[]");
  }
  if (b->endpoint.s && b->endpoint.len) {
    bo_c(&o, '[');
    any = 1;
    /* "endpoint=" where the bare form would read as something else: a flag,
    ** or (with no host) a bracketed IPv6 address. */
    if (dce_binding_is_flag(b->endpoint.s, b->endpoint.len) ||
        ((!b->host.s || b->host.len == 0) && has_netaddr(&b->protseq) &&
         ipv6_span(b->endpoint.s, b->endpoint.len) == b->endpoint.len)) {
      bo_s(&o, "endpoint=", 9);
      bo_esc(&o, &b->endpoint, "[],=");
    } else {
      bo_esc(&o, &b->endpoint, "[],=");
    }
  }
  for (k = 0; k < b->nopts; k++) {
    const dce_binding_opt *op = &b->opt[k];
    if (!any) {
      bo_c(&o, '[');
      /* A first bare flag the parser would take for an endpoint. */
      if (!op->value.s && !dce_binding_is_flag(op->key.s, op->key.len)) bo_c(&o, ',');
      any = 1;
    } else {
      bo_c(&o, ',');
    }
    bo_s(&o, op->key.s, op->key.len);
    if (op->value.s) {
      bo_c(&o, '=');
      bo_esc(&o, &op->value, "[],=");
    }
  }
  if (any) bo_c(&o, ']');
  if (cap) out[o.n < cap ? o.n : cap - 1] = '\0';
  return o.n;
}
