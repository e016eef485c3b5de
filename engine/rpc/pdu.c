/*
** pdu.c - encoder and bounded decoder of connection-oriented PDUs.
**
** Layouts (offsets from the start of the fragment, C706 12.6.4 / [MS-RPCE]):
**   header   0 vers 1 minor 2 ptype 3 flags 4 drep[4] 8 frag_len 10 auth_len 12 call_id
**   bind     16 max_xmit 18 max_recv 20 assoc_group 24 p_cont_list
**   bind_ack 16 max_xmit 18 max_recv 20 assoc_group 24 port_any (u16 len + bytes)
**            pad to 4, p_result_list
**   bind_nak 16 reason 18 n_versions, (major,minor)*, optional tail
**   request  16 alloc_hint 20 ctx_id 22 opnum [24 object uuid] stub
**   response 16 alloc_hint 20 ctx_id 22 cancel_count 23 reserved 24 stub
**   fault    as response, 24 status 28 reserved2, 32 stub
**   auth3    16 four bytes of pad; co_cancel, orphaned, shutdown: header only
** Any PDU may end in an auth verifier: auth_pad_length bytes of padding, the
** 8-byte sec_trailer, then auth_length bytes of auth value.
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rpc/pdu.h"

/* ------------------------------------------------------------ names */

static const char *const ptype_names[20] = {
  "request", NULL, "response", "fault", NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  "bind", "bind_ack", "bind_nak", "alter_context", "alter_context_resp",
  "auth3", "shutdown", "co_cancel", "orphaned"
};

const char *dce_ptype_name(int ptype) {
  if (ptype < 0 || ptype >= 20) return NULL;
  return ptype_names[ptype];
}

int dce_ptype_from_name(const char *name) {
  int i;
  for (i = 0; i < 20; i++)
    if (ptype_names[i] && strcmp(ptype_names[i], name) == 0) return i;
  return -1;
}

static int is_co_ptype(int t) { return dce_ptype_name(t) != NULL; }

void dce_pdu_init(dce_pdu *p, uint8_t ptype, uint32_t call_id) {
  memset(p, 0, sizeof *p);
  p->vers = 5;
  p->vers_minor = 0;
  p->ptype = ptype;
  p->flags = DCE_PFC_FIRST_FRAG | DCE_PFC_LAST_FRAG;
  p->drep[0] = DCE_DREP_LE;
  p->call_id = call_id;
}

void dce_pdu_free(dce_pdu *p) {
  free(p->mem);
  p->mem = NULL;
  p->ctx = NULL;
  p->results = NULL;
}

static int fail(dce_pdu_error *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(dce_pdu_error *e, int code, const char *fmt, ...) {
  if (e) {
    va_list ap;
    e->code = code;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
  }
  return code;
}

/* ------------------------------------------------------------ peek */

long dce_pdu_peek(const uint8_t *b, size_t len, dce_pdu_error *e) {
  int le;
  uint16_t flen, alen;
  if (len < DCE_PDU_HDR_LEN) return 0;
  if (b[0] != 5 || b[1] != 0)
    return fail(e, DCE_PDU_EVERSION, "PDU version is not 5.0 (offset %zu)", (size_t)0);
  if ((b[4] >> 4) > 1)
    return fail(e, DCE_PDU_EDREP, "unknown integer representation in drep (offset %zu)", (size_t)4);
  le = (b[4] & DCE_DREP_LE) != 0;
  flen = dce_ld16(b + 8, le);
  alen = dce_ld16(b + 10, le);
  if (flen < DCE_PDU_HDR_LEN)
    return fail(e, DCE_PDU_EFRAGLEN, "frag_length below 16 (offset %zu)", (size_t)8);
  if ((size_t)alen + DCE_AUTH_TRAILER_LEN > (size_t)flen - DCE_PDU_HDR_LEN && alen)
    return fail(e, DCE_PDU_EAUTHLEN, "auth_length beyond the fragment (offset %zu)", (size_t)10);
  if (!is_co_ptype(b[2]))
    return fail(e, DCE_PDU_EPTYPE, "unknown ptype (offset %zu)", (size_t)2);
  return (long)flen;
}

/* ------------------------------------------------------------ decode */

/* Bytes before the stub (or before any variable part) of each ptype: the
** auth pad may never reach into them. */
static size_t fixed_len(int ptype, int flags) {
  switch (ptype) {
  case DCE_PT_REQUEST: return 24u + ((flags & DCE_PFC_OBJECT_UUID) ? 16u : 0u);
  case DCE_PT_RESPONSE: return 24u;
  case DCE_PT_FAULT: return 28u;
  case DCE_PT_BIND: case DCE_PT_ALTER: return 28u;
  case DCE_PT_BIND_ACK: case DCE_PT_ALTER_RESP: return 26u;
  case DCE_PT_BIND_NAK: return 18u;
  default: return DCE_PDU_HDR_LEN;
  }
}

static int rd_syntax(dce_rd *r, dce_syntax *s, int le) {
  const uint8_t *u;
  uint32_t v;
  if (dce_rd_bytes(r, &u, 16) || dce_rd_u32(r, &v, le)) return -1;
  memcpy(s->uuid.b, u, 16);
  if (!le) dce_uuid_swap(&s->uuid);
  s->major = (uint16_t)(v & 0xffffu);
  s->minor = (uint16_t)(v >> 16);
  return 0;
}

/* p_cont_list_t: count u8, 3 reserved, elements. Two passes: the first walks
** the bytes to prove every count fits, the second fills one allocation. */
static int dec_cont_list(dce_pdu *p, dce_rd *r, int le, dce_pdu_error *e) {
  uint8_t n, nt;
  size_t total_t = 0, start, i, k;
  dce_rd scan;
  char *mem;
  dce_syntax *tp;
  /* an empty list may end right after its count (Windows sends it so) */
  if (dce_rd_u8(r, &n) || (n && dce_rd_skip(r, 3)))
    return fail(e, DCE_PDU_EBODY, "p_cont_list header truncated (offset %zu)", (size_t)r->off);
  start = r->off;
  scan = *r;
  for (i = 0; i < n; i++) {
    if (dce_rd_skip(&scan, 2) || dce_rd_u8(&scan, &nt) || dce_rd_skip(&scan, 1 + 20)
        || dce_rd_skip(&scan, (size_t)nt * 20))
      return fail(e, DCE_PDU_EBODY, "p_cont_elem count beyond the PDU (offset %zu)", (size_t)scan.off);
    total_t += nt;
  }
  (void)start;
  p->n_ctx = n;
  if (n == 0) return 0;
  mem = malloc(n * sizeof(dce_ctx_elem) + total_t * sizeof(dce_syntax) + 1);
  if (!mem) return fail(e, DCE_PDU_ENOMEM, "out of memory (offset %zu)", (size_t)r->off);
  p->mem = mem;
  p->ctx = (dce_ctx_elem *)(void *)mem;
  tp = (dce_syntax *)(void *)(mem + n * sizeof(dce_ctx_elem));
  for (i = 0; i < n; i++) {
    dce_ctx_elem *c = &p->ctx[i];
    uint8_t rsv;
    /* cannot fail: proven by the scan above */
    dce_rd_u16(r, &c->id, le);
    dce_rd_u8(r, &c->n_transfer);
    dce_rd_u8(r, &rsv);
    rd_syntax(r, &c->abstract, le);
    c->transfer = tp;
    for (k = 0; k < c->n_transfer; k++) rd_syntax(r, tp++, le);
  }
  return 0;
}

static int dec_result_list(dce_pdu *p, dce_rd *r, int le, dce_pdu_error *e) {
  uint8_t n;
  size_t i;
  if (dce_rd_u8(r, &n) || dce_rd_skip(r, 3))
    return fail(e, DCE_PDU_EBODY, "p_result_list header truncated (offset %zu)", (size_t)r->off);
  if (!dce_rd_has(r, (size_t)n * 24))
    return fail(e, DCE_PDU_EBODY, "p_result count beyond the PDU (offset %zu)", (size_t)r->off);
  p->n_results = n;
  if (n == 0) return 0;
  p->results = malloc(n * sizeof(dce_result));
  if (!p->results) return fail(e, DCE_PDU_ENOMEM, "out of memory (offset %zu)", (size_t)r->off);
  p->mem = p->results;
  for (i = 0; i < n; i++) {
    dce_rd_u16(r, &p->results[i].result, le);
    dce_rd_u16(r, &p->results[i].reason, le);
    rd_syntax(r, &p->results[i].transfer, le);
  }
  return 0;
}

int dce_pdu_decode(dce_pdu *p, const uint8_t *b, size_t len, dce_pdu_error *e) {
  long fl;
  int le, rc;
  size_t body_end;               /* end of the body: before auth pad + trailer */
  dce_rd r;

  memset(p, 0, sizeof *p);
  if (e) { e->code = 0; e->msg[0] = '\0'; }
  fl = dce_pdu_peek(b, len, e);
  if (fl == 0) return fail(e, DCE_PDU_ESHORT, "fewer than 16 bytes (%zu)", (size_t)len);
  if (fl < 0) return (int)fl;
  if ((size_t)fl > len)
    return fail(e, DCE_PDU_EFRAGLEN, "frag_length beyond the data (%zu bytes there)", (size_t)len);
  if ((size_t)fl < len)
    return fail(e, DCE_PDU_EFRAGLEN, "bytes after frag_length (%zu bytes there)", (size_t)len);

  p->vers = b[0]; p->vers_minor = b[1]; p->ptype = b[2]; p->flags = b[3];
  memcpy(p->drep, b + 4, 4);
  le = (b[4] & DCE_DREP_LE) != 0;
  p->frag_length = dce_ld16(b + 8, le);
  p->auth_length = dce_ld16(b + 10, le);
  p->call_id = dce_ld32(b + 12, le);
  body_end = p->frag_length;

  if (p->auth_length) {
    /* The trailer sits at frag_length - auth_length - 8 (peek proved it is
    ** past the header); its pad comes before it and must fit in the body. */
    size_t toff = (size_t)p->frag_length - p->auth_length - DCE_AUTH_TRAILER_LEN;
    const uint8_t *t = b + toff;
    if (toff & 3)
      return fail(e, DCE_PDU_EAUTHLEN, "sec_trailer not 4-byte aligned (offset %zu)", (size_t)toff);
    p->has_auth = 1;
    p->auth.type = t[0];
    p->auth.level = t[1];
    p->auth.pad_len = t[2];
    p->auth.reserved = t[3];
    p->auth.context_id = dce_ld32(t + 4, le);
    p->auth.value = t + DCE_AUTH_TRAILER_LEN;
    p->auth.value_len = p->auth_length;
    if (p->auth.pad_len > toff - DCE_PDU_HDR_LEN)
      return fail(e, DCE_PDU_EAUTHLEN, "auth_pad_length larger than the body (offset %zu)", (size_t)(toff + 2));
    if (p->ptype == DCE_PT_BIND || p->ptype == DCE_PT_ALTER || p->ptype == DCE_PT_AUTH3) {
      /* no stub to cut: the body is read by its own counts and the pad
      ** value is not used (Windows ignores it), but it may not reach past
      ** the body's fixed fields */
      size_t fixed = DCE_PDU_HDR_LEN + (p->ptype == DCE_PT_AUTH3 ? 0u : 8u);
      if (toff < fixed || p->auth.pad_len > toff - fixed)
        return fail(e, DCE_PDU_EAUTHLEN, "auth_pad_length larger than the body (offset %zu)", (size_t)(toff + 2));
    } else {
      body_end = toff - p->auth.pad_len;
      if (body_end < fixed_len(p->ptype, p->flags))
        return fail(e, DCE_PDU_EAUTHLEN, "auth_pad_length reaches into the PDU header (offset %zu)", (size_t)(toff + 2));
    }
    if (body_end > toff) body_end = toff;       /* bind, alter_context, auth3 */
  }
  dce_rd_init(&r, b, body_end);
  r.off = DCE_PDU_HDR_LEN;

  switch (p->ptype) {
  case DCE_PT_BIND:
  case DCE_PT_ALTER:
    if (dce_rd_u16(&r, &p->max_xmit, le) || dce_rd_u16(&r, &p->max_recv, le)
        || dce_rd_u32(&r, &p->assoc_group, le))
      return fail(e, DCE_PDU_EBODY, "bind body truncated (offset %zu)", (size_t)r.off);
    if ((rc = dec_cont_list(p, &r, le, e))) return rc;
    break;
  case DCE_PT_BIND_ACK:
  case DCE_PT_ALTER_RESP:
    if (dce_rd_u16(&r, &p->max_xmit, le) || dce_rd_u16(&r, &p->max_recv, le)
        || dce_rd_u32(&r, &p->assoc_group, le) || dce_rd_u16(&r, &p->sec_addr_len, le)
        || dce_rd_bytes(&r, &p->sec_addr, p->sec_addr_len))
      return fail(e, DCE_PDU_EBODY, "bind_ack secondary address truncated (offset %zu)", (size_t)r.off);
    if (dce_rd_align(&r, 4, 0))
      return fail(e, DCE_PDU_EBODY, "bind_ack padding truncated (offset %zu)", (size_t)r.off);
    if ((rc = dec_result_list(p, &r, le, e))) return rc;
    break;
  case DCE_PT_BIND_NAK:
    if (dce_rd_u16(&r, &p->reject_reason, le))
      return fail(e, DCE_PDU_EBODY, "bind_nak body truncated (offset %zu)", (size_t)r.off);
    /* Old peers send only the reason; when a versions list is there it
    ** must fit. */
    if (dce_rd_left(&r) > 0) {
      if (dce_rd_u8(&r, &p->n_versions)
          || dce_rd_bytes(&r, &p->versions, (size_t)p->n_versions * 2))
        return fail(e, DCE_PDU_EBODY, "bind_nak versions beyond the PDU (offset %zu)", (size_t)r.off);
    }
    p->stub = b + r.off;
    p->stub_len = dce_rd_left(&r);
    break;
  case DCE_PT_REQUEST:
    if (dce_rd_u32(&r, &p->alloc_hint, le) || dce_rd_u16(&r, &p->ctx_id, le)
        || dce_rd_u16(&r, &p->opnum, le))
      return fail(e, DCE_PDU_EBODY, "request header truncated (offset %zu)", (size_t)r.off);
    if (p->flags & DCE_PFC_OBJECT_UUID) {
      const uint8_t *u;
      if (dce_rd_bytes(&r, &u, 16))
        return fail(e, DCE_PDU_EBODY, "request object UUID truncated (offset %zu)", (size_t)r.off);
      memcpy(p->object.b, u, 16);
      if (!le) dce_uuid_swap(&p->object);
      p->has_object = 1;
    }
    p->stub = b + r.off;
    p->stub_len = dce_rd_left(&r);
    break;
  case DCE_PT_RESPONSE:
  case DCE_PT_FAULT:
    if (dce_rd_u32(&r, &p->alloc_hint, le) || dce_rd_u16(&r, &p->ctx_id, le)
        || dce_rd_u8(&r, &p->cancel_count) || dce_rd_u8(&r, &p->reserved))
      return fail(e, DCE_PDU_EBODY, "response header truncated (offset %zu)", (size_t)r.off);
    if (p->ptype == DCE_PT_FAULT) {
      uint32_t rsv2;
      if (dce_rd_u32(&r, &p->status, le))
        return fail(e, DCE_PDU_EBODY, "fault status truncated (offset %zu)", (size_t)r.off);
      /* reserved2 is 4 bytes; tolerate peers that stop right after status */
      if (dce_rd_left(&r) >= 4) dce_rd_u32(&r, &rsv2, le);
    }
    p->stub = b + r.off;
    p->stub_len = dce_rd_left(&r);
    break;
  case DCE_PT_AUTH3:
    /* 4 bytes of pad ([MS-RPCE] 2.2.2.10); absent in some old peers */
    if (dce_rd_left(&r) >= 4) {
      dce_rd_u16(&r, &p->max_xmit, le);
      dce_rd_u16(&r, &p->max_recv, le);
    }
    break;
  case DCE_PT_SHUTDOWN:
  case DCE_PT_CO_CANCEL:
  case DCE_PT_ORPHANED:
    break;
  default:
    return fail(e, DCE_PDU_EPTYPE, "unknown ptype (offset %zu)", (size_t)2);
  }
  return 0;
}

/* ------------------------------------------------------------ encode */

static void wr_syntax(dce_buf *o, const dce_syntax *s, int le) {
  dce_uuid u = s->uuid;
  if (!le) dce_uuid_swap(&u);
  dce_buf_put(o, u.b, 16);
  dce_buf_u32(o, (uint32_t)s->major | ((uint32_t)s->minor << 16), le);
}

int dce_pdu_encode(dce_pdu *p, dce_buf *o, dce_pdu_error *e) {
  size_t start = o->len, i, k, flen;
  int le = (p->drep[0] & DCE_DREP_LE) != 0;

  if (e) { e->code = 0; e->msg[0] = '\0'; }
  if (!is_co_ptype(p->ptype))
    return fail(e, DCE_PDU_EPTYPE, "unknown ptype %zu", (size_t)p->ptype);
  dce_buf_u8(o, p->vers);
  dce_buf_u8(o, p->vers_minor);
  dce_buf_u8(o, p->ptype);
  dce_buf_u8(o, p->flags);
  dce_buf_put(o, p->drep, 4);
  dce_buf_zero(o, 4);                  /* frag_length, auth_length: below */
  dce_buf_u32(o, p->call_id, le);

  switch (p->ptype) {
  case DCE_PT_BIND:
  case DCE_PT_ALTER:
    dce_buf_u16(o, p->max_xmit, le);
    dce_buf_u16(o, p->max_recv, le);
    dce_buf_u32(o, p->assoc_group, le);
    dce_buf_u8(o, p->n_ctx);
    dce_buf_zero(o, 3);
    for (i = 0; i < p->n_ctx; i++) {
      const dce_ctx_elem *c = &p->ctx[i];
      dce_buf_u16(o, c->id, le);
      dce_buf_u8(o, c->n_transfer);
      dce_buf_u8(o, 0);
      wr_syntax(o, &c->abstract, le);
      for (k = 0; k < c->n_transfer; k++) wr_syntax(o, &c->transfer[k], le);
    }
    break;
  case DCE_PT_BIND_ACK:
  case DCE_PT_ALTER_RESP:
    dce_buf_u16(o, p->max_xmit, le);
    dce_buf_u16(o, p->max_recv, le);
    dce_buf_u32(o, p->assoc_group, le);
    dce_buf_u16(o, p->sec_addr_len, le);
    dce_buf_put(o, p->sec_addr, p->sec_addr_len);
    dce_buf_align(o, 4, start);
    dce_buf_u8(o, p->n_results);
    dce_buf_zero(o, 3);
    for (i = 0; i < p->n_results; i++) {
      dce_buf_u16(o, p->results[i].result, le);
      dce_buf_u16(o, p->results[i].reason, le);
      wr_syntax(o, &p->results[i].transfer, le);
    }
    break;
  case DCE_PT_BIND_NAK:
    dce_buf_u16(o, p->reject_reason, le);
    dce_buf_u8(o, p->n_versions);
    dce_buf_put(o, p->versions, (size_t)p->n_versions * 2);
    dce_buf_put(o, p->stub, p->stub_len);
    break;
  case DCE_PT_REQUEST:
    dce_buf_u32(o, p->alloc_hint, le);
    dce_buf_u16(o, p->ctx_id, le);
    dce_buf_u16(o, p->opnum, le);
    if (p->flags & DCE_PFC_OBJECT_UUID) {
      dce_uuid u = p->object;
      if (!le) dce_uuid_swap(&u);
      dce_buf_put(o, u.b, 16);
    }
    dce_buf_put(o, p->stub, p->stub_len);
    break;
  case DCE_PT_RESPONSE:
  case DCE_PT_FAULT:
    dce_buf_u32(o, p->alloc_hint, le);
    dce_buf_u16(o, p->ctx_id, le);
    dce_buf_u8(o, p->cancel_count);
    dce_buf_u8(o, p->reserved);
    if (p->ptype == DCE_PT_FAULT) {
      dce_buf_u32(o, p->status, le);
      dce_buf_u32(o, 0, le);
    }
    dce_buf_put(o, p->stub, p->stub_len);
    break;
  case DCE_PT_AUTH3:
    dce_buf_u16(o, p->max_xmit, le);
    dce_buf_u16(o, p->max_recv, le);
    break;
  default:                             /* shutdown, co_cancel, orphaned */
    break;
  }

  if (p->has_auth) {
    size_t at;
    if (p->auth.value_len > 0xffffu)
      return fail(e, DCE_PDU_EENCODE, "auth value too long (%zu)", (size_t)p->auth.value_len);
    /* never produce what the decoder refuses: the trailer is 4-aligned */
    at = o->len - start + p->auth.pad_len;
    if (at & 3) {
      o->len = start;
      return fail(e, DCE_PDU_EENCODE, "sec_trailer would be unaligned (offset %zu)", (size_t)at);
    }
    dce_buf_zero(o, p->auth.pad_len);
    dce_buf_u8(o, p->auth.type);
    dce_buf_u8(o, p->auth.level);
    dce_buf_u8(o, p->auth.pad_len);
    dce_buf_u8(o, p->auth.reserved);
    dce_buf_u32(o, p->auth.context_id, le);
    dce_buf_put(o, p->auth.value, p->auth.value_len);
    p->auth_length = (uint16_t)p->auth.value_len;
  } else {
    p->auth_length = 0;
  }
  if (o->err) return fail(e, DCE_PDU_ENOMEM, "out of memory or buffer limit (%zu)", (size_t)o->len);
  flen = o->len - start;
  if (flen > 0xffffu) {
    o->len = start;
    return fail(e, DCE_PDU_EENCODE, "PDU longer than 65535 bytes (%zu)", (size_t)flen);
  }
  p->frag_length = (uint16_t)flen;
  dce_st16(o->p + start + 8, p->frag_length, le);
  dce_st16(o->p + start + 10, p->auth_length, le);
  return 0;
}
