/*
** ntlm.c - NTLMSSP per [MS-NLMP]: messages (2.2.1), NTLMv1/NTLMv2 responses
** (3.3), key derivation (3.4.5) and message security with and without
** extended session security (3.4.3, 3.4.4).
**
** Invariants:
**   - every length/offset pair read from the wire is checked against the
**     bytes actually received before anything is read through it
**     (field_ok); AV pair lists are walked only after av_check accepted them;
**   - messages are capped at DCE_NTLM_MAX_MSG, AV lists at
**     DCE_NTLM_MAX_AVPAIRS entries, names at DCE_NTLM_MAX_NAME bytes;
**   - secrets (NT hash, keys, RC4 state) are wiped on free and on failure;
**   - comparisons of secrets are constant-time (dce_ct_memcmp).
*/
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/crypto.h"
#include "base/utf16.h"
#include "auth/ntlm.h"

enum { ROLE_CLIENT = 1, ROLE_SERVER = 2 };
enum { ST_INIT, ST_NEGOTIATE_SENT, ST_CHALLENGE_SENT, ST_AUTH_PARSED, ST_DONE };

static const uint8_t SIGNATURE[8] = { 'N', 'T', 'L', 'M', 'S', 'S', 'P', 0 };
/* Version field we send: 10.0 build 20348, NTLMSSP_REVISION_W2K3 (15). */
static const uint8_t OUR_VERSION[8] = { 10, 0, 0x7c, 0x4f, 0, 0, 0, 15 };

static const char C2S_SIGN[] = "session key to client-to-server signing key magic constant";
static const char S2C_SIGN[] = "session key to server-to-client signing key magic constant";
static const char C2S_SEAL[] = "session key to client-to-server sealing key magic constant";
static const char S2C_SEAL[] = "session key to server-to-client sealing key magic constant";

#define AUTH_HDR    88    /* AUTHENTICATE fixed part incl. Version and MIC */
#define MIC_OFF     72
#define CHAL_HDR    56    /* CHALLENGE fixed part incl. Version */
#define NEG_HDR     40    /* NEGOTIATE fixed part incl. Version */
#define V2_HDR      28    /* NTLMv2_CLIENT_CHALLENGE before its AV pairs */

struct dce_ntlm {
  int role, state;
  uint32_t flags;          /* negotiated (NegFlg) */
  unsigned want;           /* client: DCE_NTLM_WANT_* */
  int v1;                  /* client: send NTLMv1; server: accept it */
  /* client credentials */
  char *user, *domain, *workstation, *target_name;
  uint8_t nt_hash[16];
  int anon;                /* client: no credentials at all */
  /* server configuration */
  char *nb_domain, *nb_computer, *dns_domain, *dns_computer;
  uint32_t chal_flags;     /* flags we put in (or read from) the CHALLENGE */
  uint8_t server_chal[8];
  /* the three messages, kept for the MIC */
  dce_buf neg, chal, auth;
  /* server: what parse_auth found (offsets into `auth`) */
  char *a_user, *a_domain, *a_ws;
  uint32_t a_flags;
  int a_anon, a_v2, a_mic;
  size_t lm_off, lm_len, nt_off, nt_len, key_off, key_len;
  size_t us_off, us_len, dm_off, dm_len;
  /* session security */
  uint8_t esk[16];
  uint8_t sign_out[16], sign_in[16], seal_out[16], seal_in[16];
  dce_hmac_md5_key hk_out, hk_in;  /* HMAC contexts keyed with sign_out / sign_in */
  size_t seal_len;
  dce_rc4 rc4_out, rc4_in;
  int shared;              /* NTLMv1 without ESS: one RC4 stream, one counter */
  uint32_t seq_out, seq_in;
};

/* ------------------------------------------------------------ small helpers */

static uint32_t crypto_status(int rc) {
  return rc ? DCE_NTLM_E_INTERNAL : DCE_NTLM_OK;
}

static char *dup_str(const char *s) {
  size_t n = strlen(s ? s : "");
  char *p = malloc(n + 1);
  if (p) memcpy(p, s ? s : "", n + 1);
  return p;
}

static void free_str(char **s) {
  if (*s) { dce_secure_zero(*s, strlen(*s)); free(*s); *s = NULL; }
}

static void wipe_buf(dce_buf *b) {
  if (b->p) dce_secure_zero(b->p, b->cap);
  dce_buf_free(b);
}

/* Current time as a Windows FILETIME (100 ns since 1601-01-01). */
static uint64_t filetime_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ((uint64_t)ts.tv_sec + 11644473600ull) * 10000000ull + (uint64_t)ts.tv_nsec / 100u;
}

/* Append UTF-8 text as UTF-16LE. 0, or -1 (memory) / -2 (invalid UTF-8). */
static int put_utf16(dce_buf *b, const char *s) {
  size_t len = strlen(s), u;
  if (len == 0) return 0;
  if (dce_buf_reserve(b, 2 * len)) return -1;
  u = dce_utf8_to_utf16(s, len, 1, b->p + b->len);
  if (u == (size_t)-1) return -2;
  b->len += 2 * u;
  return 0;
}

/* Upper-case one UTF-16 unit the way Windows' table does for the scripts we
** cover: ASCII, Latin-1, Latin Extended-A, basic Greek and Cyrillic. */
static uint16_t upcase16(uint16_t c) {
  if (c >= 'a' && c <= 'z') return (uint16_t)(c - 32);
  if (c < 0xe0) return c;                                  /* incl. U+00B5 micro */
  if (c <= 0xfe) return c == 0xf7 ? c : (uint16_t)(c - 32); /* not the division sign */
  if (c == 0xff) return 0x178;
  if ((c >= 0x100 && c <= 0x12f) || (c >= 0x132 && c <= 0x137) || (c >= 0x14a && c <= 0x177))
    return (uint16_t)(c & ~1u);                            /* pairs: upper even, lower odd */
  if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e))
    return (c & 1) ? c : (uint16_t)(c - 1);               /* pairs: upper odd, lower even */
  if (c >= 0x3b1 && c <= 0x3c9 && c != 0x3c2) return (uint16_t)(c - 32);
  if (c >= 0x430 && c <= 0x44f) return (uint16_t)(c - 32);
  if (c >= 0x450 && c <= 0x45f) return (uint16_t)(c - 80);
  return c;
}

/* CRC-32 (IEEE, reflected) for NTLMv1 signatures without ESS. */
static uint32_t crc32_ieee(const uint8_t *p, size_t n) {
  uint32_t c = 0xffffffffu;
  size_t i;
  int k;
  for (i = 0; i < n; i++) {
    c ^= p[i];
    for (k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return ~c;
}

/* A (len16, maxlen16, offset32) field at `at` of msg[0..total): sets *off
** and *len when the bytes it names lie inside the message and start no
** lower than `min_off` (unless empty). */
static int field_ok(const uint8_t *msg, size_t total, size_t at, size_t min_off,
                    size_t *off, size_t *len) {
  size_t l, o;
  if (at + 8 > total) return 0;
  l = dce_ld16(msg + at, 1);
  o = dce_ld32(msg + at + 4, 1);
  if (l == 0) { *off = 0; *len = 0; return 1; }
  if (o < min_off || o > total || l > total - o) return 0;
  *off = o; *len = l;
  return 1;
}

static void put_field(uint8_t *hdr, size_t at, size_t len, size_t off) {
  dce_st16(hdr + at, (uint16_t)len, 1);
  dce_st16(hdr + at + 2, (uint16_t)len, 1);
  dce_st32(hdr + at + 4, (uint32_t)off, 1);
}

/* ------------------------------------------------------------ AV pairs */

/* Check an AV_PAIR list: every pair inside p[0..len), at most
** DCE_NTLM_MAX_AVPAIRS of them, ending with MsvAvEOL (AvLen 0). Sets *used
** to the bytes up to and including the EOL (bytes after it are allowed:
** NTLMv2 responses pad with zeros). 0 or -1. */
static int av_check(const uint8_t *p, size_t len, size_t *used) {
  size_t off = 0;
  int n = 0;
  for (;;) {
    uint16_t id, l;
    if (len - off < 4 || ++n > DCE_NTLM_MAX_AVPAIRS) return -1;
    id = dce_ld16(p + off, 1);
    l = dce_ld16(p + off + 2, 1);
    off += 4;
    if (l > len - off) return -1;
    if (id == MSV_AV_EOL) {
      if (l != 0) return -1;
      *used = off;
      return 0;
    }
    if ((id == MSV_AV_FLAGS && l != 4) || (id == MSV_AV_TIMESTAMP && l != 8)) return -1;
    off += l;
  }
}

/* Find `id` in a list av_check accepted. Returns the value or NULL. */
static const uint8_t *av_find(const uint8_t *p, size_t len, uint16_t id, uint16_t *vlen) {
  size_t off = 0;
  while (len - off >= 4) {
    uint16_t i = dce_ld16(p + off, 1), l = dce_ld16(p + off + 2, 1);
    if (i == MSV_AV_EOL || l > len - off - 4) break;
    if (i == id) { *vlen = l; return p + off + 4; }
    off += 4 + (size_t)l;
  }
  return NULL;
}

static int av_put(dce_buf *b, uint16_t id, const void *v, size_t l) {
  dce_buf_u16(b, id, 1);
  dce_buf_u16(b, (uint16_t)l, 1);
  return dce_buf_put(b, v, l);
}

static int av_put_str(dce_buf *b, uint16_t id, const char *s) {
  size_t at = b->len;
  dce_buf_u32(b, 0, 1);
  if (put_utf16(b, s)) return -1;
  if (b->err || b->len - at - 4 > 0xffff) return -1;
  dce_st16(b->p + at, id, 1);
  dce_st16(b->p + at + 2, (uint16_t)(b->len - at - 4), 1);
  return 0;
}

/* ------------------------------------------------------------ building blocks */

uint32_t dce_ntlm_nt_hash(const char *password, uint8_t out[16]) {
  dce_buf b;
  int rc;
  dce_buf_init(&b);
  rc = put_utf16(&b, password ? password : "");
  if (rc) { wipe_buf(&b); return rc == -1 ? DCE_NTLM_E_NO_MEMORY : DCE_NTLM_E_INVALID_PARAMETER; }
  rc = dce_md4(b.p, b.len, out);
  wipe_buf(&b);
  return crypto_status(rc);
}

uint32_t dce_ntlm_lm_hash(const char *password, uint8_t out[16]) {
  static const uint8_t magic[8] = { 'K', 'G', 'S', '!', '@', '#', '$', '%' };
  uint8_t pw[14];
  size_t i, n = password ? strlen(password) : 0;
  int rc;
  memset(pw, 0, sizeof pw);
  for (i = 0; i < n && i < 14; i++) {
    char c = password[i];
    pw[i] = (uint8_t)(c >= 'a' && c <= 'z' ? c - 32 : c);
  }
  rc = dce_des7_ecb(pw, magic, out);
  if (!rc) rc = dce_des7_ecb(pw + 7, magic, out + 8);
  dce_secure_zero(pw, sizeof pw);
  return crypto_status(rc);
}

/* NTOWFv2 from UTF-16LE user (upper-cased here) and domain (as given). */
static uint32_t ntowfv2_16(const uint8_t nt_hash[16], const uint8_t *user16, size_t ulen,
                           const uint8_t *dom16, size_t dlen, int upper_domain, uint8_t out[16]) {
  dce_hmac_md5_ctx h;
  uint8_t u[2];
  size_t i;
  int rc = dce_hmac_md5_init(&h, nt_hash, 16);
  if (rc) return DCE_NTLM_E_INTERNAL;
  for (i = 0; i + 1 < ulen && !rc; i += 2) {
    dce_st16(u, upcase16(dce_ld16(user16 + i, 1)), 1);
    rc = dce_hmac_md5_update(&h, u, 2);
  }
  for (i = 0; i + 1 < dlen && !rc; i += 2) {
    uint16_t c = dce_ld16(dom16 + i, 1);
    dce_st16(u, upper_domain ? upcase16(c) : c, 1);
    rc = dce_hmac_md5_update(&h, u, 2);
  }
  if (rc) { dce_hmac_md5_free(&h); return DCE_NTLM_E_INTERNAL; }
  return crypto_status(dce_hmac_md5_final(&h, out));
}

uint32_t dce_ntlm_ntowfv2(const uint8_t nt_hash[16], const char *user, const char *domain,
                          uint8_t out[16]) {
  dce_buf u, d;
  uint32_t st = DCE_NTLM_E_INVALID_PARAMETER;
  dce_buf_init(&u); dce_buf_init(&d);
  if (!put_utf16(&u, user ? user : "") && !put_utf16(&d, domain ? domain : ""))
    st = ntowfv2_16(nt_hash, u.p, u.len, d.p, d.len, 0, out);
  dce_buf_free(&u); dce_buf_free(&d);
  return st;
}

uint32_t dce_ntlm_desl(const uint8_t key[16], const uint8_t data[8], uint8_t out[24]) {
  uint8_t k3[7];
  int rc;
  memset(k3, 0, sizeof k3);
  memcpy(k3, key + 14, 2);
  rc = dce_des7_ecb(key, data, out);
  if (!rc) rc = dce_des7_ecb(key + 7, data, out + 8);
  if (!rc) rc = dce_des7_ecb(k3, data, out + 16);
  dce_secure_zero(k3, sizeof k3);
  return crypto_status(rc);
}

uint32_t dce_ntlm_v2_response(const uint8_t key_nt[16], const uint8_t server_chal[8],
                              const uint8_t client_chal[8], uint64_t filetime,
                              const uint8_t *avpairs, size_t avlen,
                              dce_buf *nt_out, uint8_t lm[24], uint8_t sbk[16]) {
  uint8_t hdr[V2_HDR], cc[16];
  size_t start = nt_out->len;
  int rc;
  memset(hdr, 0, sizeof hdr);
  hdr[0] = 1; hdr[1] = 1;                          /* RespType, HiRespType */
  dce_st64(hdr + 8, filetime, 1);
  memcpy(hdr + 16, client_chal, 8);
  /* NTProofStr placeholder, then temp = hdr || AV pairs || Z(4) */
  dce_buf_zero(nt_out, 16);
  dce_buf_put(nt_out, hdr, sizeof hdr);
  dce_buf_put(nt_out, avpairs, avlen);
  dce_buf_zero(nt_out, 4);
  if (nt_out->err) return DCE_NTLM_E_NO_MEMORY;
  /* NTProofStr = HMAC_MD5(ResponseKeyNT, ServerChallenge || temp) */
  {
    dce_hmac_md5_ctx h;
    uint8_t *proof = nt_out->p + start;
    rc = dce_hmac_md5_init(&h, key_nt, 16);
    if (!rc) rc = dce_hmac_md5_update(&h, server_chal, 8);
    if (!rc) rc = dce_hmac_md5_update(&h, proof + 16, nt_out->len - start - 16);
    if (!rc) rc = dce_hmac_md5_final(&h, proof);
    else dce_hmac_md5_free(&h);
    if (rc) return DCE_NTLM_E_INTERNAL;
    /* SessionBaseKey = HMAC_MD5(ResponseKeyNT, NTProofStr) */
    if (dce_hmac_md5(key_nt, 16, proof, 16, sbk)) return DCE_NTLM_E_INTERNAL;
  }
  /* LMv2 = HMAC_MD5(ResponseKeyLM, ServerChallenge || ClientChallenge) || CC */
  memcpy(cc, server_chal, 8);
  memcpy(cc + 8, client_chal, 8);
  if (dce_hmac_md5(key_nt, 16, cc, 16, lm)) return DCE_NTLM_E_INTERNAL;
  memcpy(lm + 16, client_chal, 8);
  return DCE_NTLM_OK;
}

uint32_t dce_ntlm_kxkey_v1(uint32_t flags, const uint8_t sbk[16], const uint8_t lm_resp[24],
                           const uint8_t server_chal[8], const uint8_t lm_hash[16],
                           uint8_t out[16]) {
  if (flags & NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY) {
    uint8_t d[16];
    memcpy(d, server_chal, 8);
    memcpy(d + 8, lm_resp, 8);
    return crypto_status(dce_hmac_md5(sbk, 16, d, 16, out));
  }
  if (flags & NTLMSSP_NEGOTIATE_LM_KEY) {
    uint8_t k2[7];
    int rc;
    k2[0] = lm_hash[7];
    memset(k2 + 1, 0xbd, 6);
    rc = dce_des7_ecb(lm_hash, lm_resp, out);
    if (!rc) rc = dce_des7_ecb(k2, lm_resp, out + 8);
    return crypto_status(rc);
  }
  if (flags & NTLMSSP_REQUEST_NON_NT_SESSION_KEY) {
    memcpy(out, lm_hash, 8);
    memset(out + 8, 0, 8);
    return DCE_NTLM_OK;
  }
  memcpy(out, sbk, 16);
  return DCE_NTLM_OK;
}

/* ------------------------------------------------------------ session keys */

static uint32_t magic_key(const uint8_t *key, size_t klen, const char *magic, uint8_t out[16]) {
  uint8_t tmp[16 + 64];
  size_t mlen = strlen(magic) + 1;                 /* the constants include their NUL */
  int rc;
  memcpy(tmp, key, klen);
  memcpy(tmp + klen, magic, mlen);
  rc = dce_md5(tmp, klen + mlen, out);
  dce_secure_zero(tmp, sizeof tmp);
  return crypto_status(rc);
}

static void session_wipe(dce_ntlm *n) {
  dce_rc4_free(&n->rc4_out);
  dce_rc4_free(&n->rc4_in);
  dce_hmac_md5_key_free(&n->hk_out);
  dce_hmac_md5_key_free(&n->hk_in);
  dce_secure_zero(n->esk, sizeof n->esk);
  dce_secure_zero(n->sign_out, 16); dce_secure_zero(n->sign_in, 16);
  dce_secure_zero(n->seal_out, 16); dce_secure_zero(n->seal_in, 16);
  n->seq_out = n->seq_in = 0;
}

static uint32_t reset_rc4(dce_ntlm *n, int keep_seq) {
  if (!n || n->state != ST_DONE) return DCE_NTLM_E_STATE;
  dce_rc4_free(&n->rc4_out);
  dce_rc4_free(&n->rc4_in);
  if (!keep_seq) n->seq_out = n->seq_in = 0;
  if (dce_rc4_init(&n->rc4_out, n->seal_out, n->seal_len)) return DCE_NTLM_E_INTERNAL;
  if (!n->shared && dce_rc4_init(&n->rc4_in, n->seal_in, n->seal_len)) return DCE_NTLM_E_INTERNAL;
  return DCE_NTLM_OK;
}

uint32_t dce_ntlm_reset_crypto(dce_ntlm *n) { return reset_rc4(n, 0); }
uint32_t dce_ntlm_reset_rc4(dce_ntlm *n) { return reset_rc4(n, 1); }

/* 3.4.5.2 SIGNKEY and 3.4.5.3 SEALKEY for both directions, then the RC4
** handles; the context becomes established. */
static uint32_t session_setup(dce_ntlm *n, uint32_t flags, const uint8_t esk[16]) {
  int client = n->role == ROLE_CLIENT;
  uint32_t st = DCE_NTLM_OK;
  session_wipe(n);
  n->flags = flags;
  memcpy(n->esk, esk, 16);
  if (flags & NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY) {
    size_t kl = (flags & NTLMSSP_NEGOTIATE_128) ? 16 : (flags & NTLMSSP_NEGOTIATE_56) ? 7 : 5;
    n->shared = 0;
    n->seal_len = 16;
    if (!st) st = magic_key(esk, 16, client ? C2S_SIGN : S2C_SIGN, n->sign_out);
    if (!st) st = magic_key(esk, 16, client ? S2C_SIGN : C2S_SIGN, n->sign_in);
    if (!st) st = magic_key(esk, kl, client ? C2S_SEAL : S2C_SEAL, n->seal_out);
    if (!st) st = magic_key(esk, kl, client ? S2C_SEAL : C2S_SEAL, n->seal_in);
  } else {
    n->shared = 1;
    if (flags & NTLMSSP_NEGOTIATE_LM_KEY) {
      n->seal_len = 8;
      memcpy(n->seal_out, esk, 8);
      if (flags & NTLMSSP_NEGOTIATE_56) n->seal_out[7] = 0xa0;
      else { n->seal_out[5] = 0xe5; n->seal_out[6] = 0x38; n->seal_out[7] = 0xb0; }
    } else {
      n->seal_len = 16;
      memcpy(n->seal_out, esk, 16);
    }
    memcpy(n->seal_in, n->seal_out, 16);
  }
  if (st) { session_wipe(n); return st; }
  n->state = ST_DONE;
  st = dce_ntlm_reset_crypto(n);
  if (st) { session_wipe(n); n->state = ST_INIT; }
  return st;
}

uint32_t dce_ntlm_set_session(dce_ntlm *n, uint32_t flags, const uint8_t esk[16]) {
  if (!n) return DCE_NTLM_E_INVALID_PARAMETER;
  return session_setup(n, flags, esk);
}

/* ------------------------------------------------------------ contexts */

static dce_ntlm *ctx_new(int role) {
  dce_ntlm *n = calloc(1, sizeof *n);
  if (!n) return NULL;
  n->role = role;
  dce_buf_init(&n->neg); dce_buf_init(&n->chal); dce_buf_init(&n->auth);
  n->neg.limit = n->chal.limit = n->auth.limit = DCE_NTLM_MAX_MSG;
  return n;
}

dce_ntlm *dce_ntlm_client_new(const dce_ntlm_cred *cred, unsigned want) {
  dce_ntlm *n;
  const char *user = cred && cred->user ? cred->user : "";
  if (!cred) return NULL;
  if (strlen(user) > DCE_NTLM_MAX_NAME / 2
      || (cred->domain && strlen(cred->domain) > DCE_NTLM_MAX_NAME / 2)
      || (cred->workstation && strlen(cred->workstation) > DCE_NTLM_MAX_NAME / 2)
      || (cred->target_name && strlen(cred->target_name) > DCE_NTLM_MAX_NAME / 2))
    return NULL;
  if (*user && !cred->password && !cred->nt_hash) return NULL;
  if (!(n = ctx_new(ROLE_CLIENT))) return NULL;
  n->want = want & (DCE_NTLM_WANT_SIGN | DCE_NTLM_WANT_SEAL);
  if (n->want & DCE_NTLM_WANT_SEAL) n->want |= DCE_NTLM_WANT_SIGN;
  n->v1 = cred->ntlmv1 != 0;
  n->user = dup_str(user);
  n->domain = dup_str(cred->domain);
  n->workstation = dup_str(cred->workstation);
  n->target_name = cred->target_name ? dup_str(cred->target_name) : NULL;
  if (!n->user || !n->domain || !n->workstation || (cred->target_name && !n->target_name)) {
    dce_ntlm_free(n);
    return NULL;
  }
  n->anon = !*user && !cred->password && !cred->nt_hash;
  if (cred->nt_hash) memcpy(n->nt_hash, cred->nt_hash, 16);
  else if (!n->anon && dce_ntlm_nt_hash(cred->password, n->nt_hash)) {
    dce_ntlm_free(n);
    return NULL;
  }
  return n;
}

dce_ntlm *dce_ntlm_server_new(const dce_ntlm_server_cfg *cfg) {
  dce_ntlm *n;
  if (!cfg || !(n = ctx_new(ROLE_SERVER))) return NULL;
  n->nb_domain = dup_str(cfg->nb_domain);
  n->nb_computer = dup_str(cfg->nb_computer);
  n->dns_domain = dup_str(cfg->dns_domain);
  n->dns_computer = dup_str(cfg->dns_computer);
  n->v1 = cfg->allow_ntlmv1 != 0;
  if (!n->nb_domain || !n->nb_computer || !n->dns_domain || !n->dns_computer) {
    dce_ntlm_free(n);
    return NULL;
  }
  return n;
}

void dce_ntlm_free(dce_ntlm *n) {
  if (!n) return;
  session_wipe(n);
  dce_secure_zero(n->nt_hash, 16);
  free_str(&n->user); free_str(&n->domain); free_str(&n->workstation);
  free_str(&n->target_name);
  free_str(&n->nb_domain); free_str(&n->nb_computer);
  free_str(&n->dns_domain); free_str(&n->dns_computer);
  free_str(&n->a_user); free_str(&n->a_domain); free_str(&n->a_ws);
  wipe_buf(&n->neg); wipe_buf(&n->chal); wipe_buf(&n->auth);
  free(n);
}

int dce_ntlm_established(const dce_ntlm *n) { return n && n->state == ST_DONE; }
uint32_t dce_ntlm_flags(const dce_ntlm *n) { return n ? n->flags : 0; }
size_t dce_ntlm_sig_size(void) { return DCE_NTLM_SIG_SIZE; }

uint32_t dce_ntlm_session_key(const dce_ntlm *n, uint8_t out[16]) {
  if (!n || n->state != ST_DONE) return DCE_NTLM_E_STATE;
  memcpy(out, n->esk, 16);
  return DCE_NTLM_OK;
}

/* ------------------------------------------------------------ MIC */

/* HMAC_MD5(ExportedSessionKey, NEGOTIATE || CHALLENGE || AUTHENTICATE) with
** the AUTHENTICATE's MIC field taken as zeros. */
static uint32_t compute_mic(const dce_ntlm *n, const uint8_t esk[16], uint8_t mic[16]) {
  static const uint8_t zero[16] = { 0 };
  dce_hmac_md5_ctx h;
  int rc = dce_hmac_md5_init(&h, esk, 16);
  if (rc) return DCE_NTLM_E_INTERNAL;
  rc = dce_hmac_md5_update(&h, n->neg.p, n->neg.len);
  if (!rc) rc = dce_hmac_md5_update(&h, n->chal.p, n->chal.len);
  if (!rc) rc = dce_hmac_md5_update(&h, n->auth.p, MIC_OFF);
  if (!rc) rc = dce_hmac_md5_update(&h, zero, 16);
  if (!rc) rc = dce_hmac_md5_update(&h, n->auth.p + MIC_OFF + 16, n->auth.len - MIC_OFF - 16);
  if (rc) { dce_hmac_md5_free(&h); return DCE_NTLM_E_INTERNAL; }
  return crypto_status(dce_hmac_md5_final(&h, mic));
}

/* ------------------------------------------------------------ client */

uint32_t dce_ntlm_client_negotiate(dce_ntlm *c, dce_buf *out) {
  uint8_t m[NEG_HDR];
  uint32_t flags = NTLMSSP_NEGOTIATE_UNICODE | NTLMSSP_REQUEST_TARGET | NTLMSSP_NEGOTIATE_NTLM
                   | NTLMSSP_NEGOTIATE_ALWAYS_SIGN | NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY
                   | NTLMSSP_NEGOTIATE_TARGET_INFO | NTLMSSP_NEGOTIATE_VERSION
                   | NTLMSSP_NEGOTIATE_128 | NTLMSSP_NEGOTIATE_KEY_EXCH | NTLMSSP_NEGOTIATE_56;
  if (!c || c->role != ROLE_CLIENT || c->state != ST_INIT) return DCE_NTLM_E_STATE;
  if (c->want & DCE_NTLM_WANT_SIGN) flags |= NTLMSSP_NEGOTIATE_SIGN;
  if (c->want & DCE_NTLM_WANT_SEAL) flags |= NTLMSSP_NEGOTIATE_SEAL;
  memset(m, 0, sizeof m);
  memcpy(m, SIGNATURE, 8);
  dce_st32(m + 8, 1, 1);
  dce_st32(m + 12, flags, 1);
  put_field(m, 16, 0, NEG_HDR);                    /* DomainNameFields: not supplied */
  put_field(m, 24, 0, NEG_HDR);                    /* WorkstationFields: not supplied */
  memcpy(m + 32, OUR_VERSION, 8);
  dce_buf_reset(&c->neg);
  if (dce_buf_put(&c->neg, m, sizeof m) || dce_buf_put(out, m, sizeof m))
    return DCE_NTLM_E_NO_MEMORY;
  c->chal_flags = flags;                           /* what we asked for, until the reply */
  c->state = ST_NEGOTIATE_SENT;
  return DCE_NTLM_OK;
}

/* Parsed CHALLENGE_MESSAGE: pointers into the caller's bytes. */
typedef struct chal_msg {
  uint32_t flags;
  const uint8_t *server_chal;
  const uint8_t *tinfo;
  size_t tinfo_len;                                /* up to and including EOL */
} chal_msg;

static uint32_t parse_challenge(const uint8_t *m, size_t len, chal_msg *cm) {
  size_t off, l;
  if (!m || len < 32 || len > DCE_NTLM_MAX_MSG) return DCE_NTLM_E_INVALID_PARAMETER;
  if (memcmp(m, SIGNATURE, 8) || dce_ld32(m + 8, 1) != 2) return DCE_NTLM_E_INVALID_PARAMETER;
  if (!field_ok(m, len, 12, 32, &off, &l)) return DCE_NTLM_E_INVALID_PARAMETER;  /* TargetName */
  cm->flags = dce_ld32(m + 20, 1);
  cm->server_chal = m + 24;
  cm->tinfo = NULL; cm->tinfo_len = 0;
  if (len < 48 && (cm->flags & NTLMSSP_NEGOTIATE_TARGET_INFO)) return DCE_NTLM_E_INVALID_PARAMETER;
  if (len >= 48) {
    if (!field_ok(m, len, 40, 48, &off, &l)) return DCE_NTLM_E_INVALID_PARAMETER;
    if (l) {
      size_t used;
      if (av_check(m + off, l, &used)) return DCE_NTLM_E_INVALID_PARAMETER;
      cm->tinfo = m + off; cm->tinfo_len = used;
    }
  }
  return DCE_NTLM_OK;
}

/* The AV pairs a v2 client sends: the server's, with MsvAvFlags (MIC
** present) merged in, then MsvAvTargetName and zero channel bindings. */
static uint32_t client_avpairs(const dce_ntlm *c, const chal_msg *cm, dce_buf *b) {
  static const uint8_t zero_cb[16] = { 0 };
  uint32_t avflags = 0x2;                          /* MIC present */
  uint8_t fv[4];
  size_t off = 0;
  while (cm->tinfo && cm->tinfo_len - off >= 4) {
    uint16_t id = dce_ld16(cm->tinfo + off, 1), l = dce_ld16(cm->tinfo + off + 2, 1);
    if (id == MSV_AV_EOL) break;
    if (id == MSV_AV_FLAGS) avflags |= dce_ld32(cm->tinfo + off + 4, 1);
    else if (id != MSV_AV_TARGET_NAME && id != MSV_AV_CHANNEL_BINDINGS)
      dce_buf_put(b, cm->tinfo + off, 4 + (size_t)l);
    off += 4 + (size_t)l;
  }
  dce_st32(fv, avflags, 1);
  av_put(b, MSV_AV_FLAGS, fv, 4);
  if (c->target_name && *c->target_name && av_put_str(b, MSV_AV_TARGET_NAME, c->target_name))
    return DCE_NTLM_E_INVALID_PARAMETER;
  av_put(b, MSV_AV_CHANNEL_BINDINGS, zero_cb, 16);
  av_put(b, MSV_AV_EOL, NULL, 0);
  return b->err ? DCE_NTLM_E_NO_MEMORY : DCE_NTLM_OK;
}

uint32_t dce_ntlm_client_authenticate(dce_ntlm *c, const uint8_t *chal, size_t len, dce_buf *out) {
  chal_msg cm;
  dce_buf nt, av, names;
  uint8_t lm[24], sbk[16], kx[16], esk[16], enc[16], hdr[AUTH_HDR];
  size_t lm_len = 0, enc_len = 0, d_len = 0, u_len = 0, w_len = 0, pos, start;
  uint32_t st, flags;
  int v2 = 0;

  if (!c || c->role != ROLE_CLIENT || c->state != ST_NEGOTIATE_SENT) return DCE_NTLM_E_STATE;
  if ((st = parse_challenge(chal, len, &cm)) != 0) return st;
  if (!(cm.flags & NTLMSSP_NEGOTIATE_UNICODE)) return DCE_NTLM_E_NOT_SUPPORTED;
  if ((c->want & DCE_NTLM_WANT_SIGN) && !(cm.flags & NTLMSSP_NEGOTIATE_SIGN)) return DCE_NTLM_E_NOT_SUPPORTED;
  if ((c->want & DCE_NTLM_WANT_SEAL) && !(cm.flags & NTLMSSP_NEGOTIATE_SEAL)) return DCE_NTLM_E_NOT_SUPPORTED;
  if (!c->v1 && !c->anon && !(cm.flags & NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY))
    return DCE_NTLM_E_NOT_SUPPORTED;               /* NTLMv2 always runs with ESS */
  if (!c->v1 && c->want && !(cm.flags & NTLMSSP_NEGOTIATE_128))
    return DCE_NTLM_E_NOT_SUPPORTED;               /* no 40/56-bit session keys */
  /* NegFlg: what the server chose, within what we offered */
  flags = cm.flags & (c->chal_flags | NTLMSSP_TARGET_TYPE_DOMAIN | NTLMSSP_TARGET_TYPE_SERVER);
  if (c->anon) flags = (flags | NTLMSSP_ANONYMOUS) & ~NTLMSSP_NEGOTIATE_KEY_EXCH;

  dce_buf_reset(&c->chal);
  if (dce_buf_put(&c->chal, chal, len)) return DCE_NTLM_E_NO_MEMORY;
  memcpy(c->server_chal, cm.server_chal, 8);

  dce_buf_init(&nt); dce_buf_init(&av); dce_buf_init(&names);
  memset(lm, 0, sizeof lm); memset(sbk, 0, sizeof sbk); memset(kx, 0, sizeof kx);

  if (c->anon) {
    lm_len = 1;                                    /* Z(1), empty NT response */
  } else if (!c->v1) {
    uint8_t key_nt[16], cc[8];
    uint16_t tl = 0;
    const uint8_t *ts = cm.tinfo ? av_find(cm.tinfo, cm.tinfo_len, MSV_AV_TIMESTAMP, &tl) : NULL;
    v2 = 1;
    st = dce_ntlm_ntowfv2(c->nt_hash, c->user, c->domain, key_nt);
    if (!st) st = dce_random_bytes(cc, 8) ? DCE_NTLM_E_INTERNAL : 0;
    if (!st) st = client_avpairs(c, &cm, &av);
    if (!st) st = dce_ntlm_v2_response(key_nt, cm.server_chal, cc,
                                       ts ? dce_ld64(ts, 1) : filetime_now(),
                                       av.p, av.len, &nt, lm, sbk);
    if (ts) memset(lm, 0, sizeof lm);             /* 3.3.2: LMv2 zeroed with a timestamp */
    lm_len = 24;
    memcpy(kx, sbk, 16);                           /* KXKEY for NTLMv2 */
    dce_secure_zero(key_nt, sizeof key_nt);
  } else {
    uint8_t r[24], cc[8], d[16], h[16];
    if (flags & NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY) {
      st = dce_random_bytes(cc, 8) ? DCE_NTLM_E_INTERNAL : 0;
      memcpy(d, cm.server_chal, 8); memcpy(d + 8, cc, 8);
      if (!st) st = crypto_status(dce_md5(d, 16, h));
      if (!st) st = dce_ntlm_desl(c->nt_hash, h, r);
      memset(lm, 0, sizeof lm); memcpy(lm, cc, 8);
    } else {
      st = dce_ntlm_desl(c->nt_hash, cm.server_chal, r);
      memcpy(lm, r, 24);                           /* NoLMResponseNTLMv1: LM = NT */
    }
    flags &= ~(NTLMSSP_NEGOTIATE_LM_KEY | NTLMSSP_REQUEST_NON_NT_SESSION_KEY);
    if (!st) st = crypto_status(dce_md4(c->nt_hash, 16, sbk));
    if (!st) st = dce_ntlm_kxkey_v1(flags, sbk, lm, cm.server_chal, NULL, kx);
    if (!st && dce_buf_put(&nt, r, 24)) st = DCE_NTLM_E_NO_MEMORY;
    lm_len = 24;
  }

  /* ExportedSessionKey: random, sent under the key exchange key */
  if (!st && (flags & NTLMSSP_NEGOTIATE_KEY_EXCH)) {
    dce_rc4 r;
    if (dce_random_bytes(esk, 16) || dce_rc4_init(&r, kx, 16)) st = DCE_NTLM_E_INTERNAL;
    else {
      memcpy(enc, esk, 16);
      if (dce_rc4_crypt(&r, enc, 16)) st = DCE_NTLM_E_INTERNAL;
      dce_rc4_free(&r);
      enc_len = 16;
    }
  } else {
    memcpy(esk, kx, 16);
  }

  /* payload: Domain, User, Workstation, LM, NT, EncryptedRandomSessionKey */
  if (!st) {
    if (put_utf16(&names, c->domain)) st = DCE_NTLM_E_INVALID_PARAMETER;
    d_len = names.len;
    if (!st && put_utf16(&names, c->user)) st = DCE_NTLM_E_INVALID_PARAMETER;
    u_len = names.len - d_len;
    if (!st && put_utf16(&names, c->workstation)) st = DCE_NTLM_E_INVALID_PARAMETER;
    w_len = names.len - d_len - u_len;
  }
  if (!st && AUTH_HDR + names.len + lm_len + nt.len + enc_len > DCE_NTLM_MAX_MSG) st = DCE_NTLM_E_INVALID_PARAMETER;
  if (!st && nt.len > 0xffff) st = DCE_NTLM_E_INVALID_PARAMETER;
  if (st) goto done;

  memset(hdr, 0, sizeof hdr);
  memcpy(hdr, SIGNATURE, 8);
  dce_st32(hdr + 8, 3, 1);
  pos = AUTH_HDR;
  put_field(hdr, 28, d_len, pos);
  put_field(hdr, 36, u_len, pos + d_len);
  put_field(hdr, 44, w_len, pos + d_len + u_len);
  pos += names.len;
  put_field(hdr, 12, lm_len, pos); pos += lm_len;
  put_field(hdr, 20, nt.len, pos); pos += nt.len;
  put_field(hdr, 52, enc_len, pos);
  dce_st32(hdr + 60, flags, 1);
  if (flags & NTLMSSP_NEGOTIATE_VERSION) memcpy(hdr + 64, OUR_VERSION, 8);

  dce_buf_reset(&c->auth);
  dce_buf_put(&c->auth, hdr, sizeof hdr);
  dce_buf_put(&c->auth, names.p, names.len);
  dce_buf_put(&c->auth, lm, lm_len);
  dce_buf_put(&c->auth, nt.p, nt.len);
  dce_buf_put(&c->auth, enc, enc_len);
  if (c->auth.err) { st = DCE_NTLM_E_NO_MEMORY; goto done; }
  if (v2) {
    uint8_t mic[16];
    if ((st = compute_mic(c, esk, mic)) != 0) goto done;
    memcpy(c->auth.p + MIC_OFF, mic, 16);
  }
  start = out->len;
  if (dce_buf_put(out, c->auth.p, c->auth.len)) { st = DCE_NTLM_E_NO_MEMORY; goto done; }
  if ((st = session_setup(c, flags, esk)) != 0) out->len = start;

done:
  wipe_buf(&nt); dce_buf_free(&av); dce_buf_free(&names);
  dce_secure_zero(sbk, 16); dce_secure_zero(kx, 16); dce_secure_zero(esk, 16);
  dce_secure_zero(lm, 24);
  return st;
}

/* ------------------------------------------------------------ server */

uint32_t dce_ntlm_server_challenge(dce_ntlm *s, const uint8_t *neg, size_t len, dce_buf *out) {
  uint32_t cf, flags;
  size_t off, l;
  uint8_t hdr[CHAL_HDR], ft[8];
  dce_buf tn, ti;
  uint32_t st = DCE_NTLM_OK;

  if (!s || s->role != ROLE_SERVER || s->state != ST_INIT) return DCE_NTLM_E_STATE;
  if (!neg || len < 16 || len > DCE_NTLM_MAX_MSG) return DCE_NTLM_E_INVALID_PARAMETER;
  if (memcmp(neg, SIGNATURE, 8) || dce_ld32(neg + 8, 1) != 1) return DCE_NTLM_E_INVALID_PARAMETER;
  cf = dce_ld32(neg + 12, 1);
  if (len >= 32 && (!field_ok(neg, len, 16, 32, &off, &l) || !field_ok(neg, len, 24, 32, &off, &l)))
    return DCE_NTLM_E_INVALID_PARAMETER;
  if (!(cf & NTLMSSP_NEGOTIATE_UNICODE)) return DCE_NTLM_E_NOT_SUPPORTED;
  if (!(cf & NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY) && !s->v1) return DCE_NTLM_E_NOT_SUPPORTED;
  /* like Windows' "require 128-bit encryption": no 40/56-bit session keys */
  if ((cf & (NTLMSSP_NEGOTIATE_SIGN | NTLMSSP_NEGOTIATE_SEAL)) && !(cf & NTLMSSP_NEGOTIATE_128) && !s->v1)
    return DCE_NTLM_E_NOT_SUPPORTED;

  /* 3.2.5.1.1: echo what the client asked for and we support */
  flags = NTLMSSP_NEGOTIATE_UNICODE | NTLMSSP_NEGOTIATE_NTLM | NTLMSSP_NEGOTIATE_TARGET_INFO
          | (cf & (NTLMSSP_REQUEST_TARGET | NTLMSSP_NEGOTIATE_SIGN | NTLMSSP_NEGOTIATE_SEAL
                   | NTLMSSP_NEGOTIATE_ALWAYS_SIGN | NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY
                   | NTLMSSP_NEGOTIATE_IDENTIFY | NTLMSSP_NEGOTIATE_VERSION
                   | NTLMSSP_NEGOTIATE_128 | NTLMSSP_NEGOTIATE_KEY_EXCH | NTLMSSP_NEGOTIATE_56));
  if (cf & NTLMSSP_REQUEST_TARGET) flags |= NTLMSSP_TARGET_TYPE_DOMAIN;

  dce_buf_reset(&s->neg);
  if (dce_buf_put(&s->neg, neg, len)) return DCE_NTLM_E_NO_MEMORY;
  if (dce_random_bytes(s->server_chal, 8)) return DCE_NTLM_E_INTERNAL;

  dce_buf_init(&tn); dce_buf_init(&ti);
  if (put_utf16(&tn, s->nb_domain)) st = DCE_NTLM_E_INVALID_PARAMETER;
  if (!st && (av_put_str(&ti, MSV_AV_NB_DOMAIN_NAME, s->nb_domain)
              || av_put_str(&ti, MSV_AV_NB_COMPUTER_NAME, s->nb_computer)
              || (*s->dns_domain && av_put_str(&ti, MSV_AV_DNS_DOMAIN_NAME, s->dns_domain))
              || (*s->dns_computer && av_put_str(&ti, MSV_AV_DNS_COMPUTER_NAME, s->dns_computer))))
    st = DCE_NTLM_E_INVALID_PARAMETER;
  dce_st64(ft, filetime_now(), 1);
  av_put(&ti, MSV_AV_TIMESTAMP, ft, 8);
  av_put(&ti, MSV_AV_EOL, NULL, 0);
  if (!st && (tn.err || ti.err)) st = DCE_NTLM_E_NO_MEMORY;
  if (!st && (tn.len > 0xffff || ti.len > 0xffff)) st = DCE_NTLM_E_INVALID_PARAMETER;
  if (st) goto done;

  memset(hdr, 0, sizeof hdr);
  memcpy(hdr, SIGNATURE, 8);
  dce_st32(hdr + 8, 2, 1);
  put_field(hdr, 12, tn.len, CHAL_HDR);
  dce_st32(hdr + 20, flags, 1);
  memcpy(hdr + 24, s->server_chal, 8);
  put_field(hdr, 40, ti.len, CHAL_HDR + tn.len);
  if (flags & NTLMSSP_NEGOTIATE_VERSION) memcpy(hdr + 48, OUR_VERSION, 8);

  dce_buf_reset(&s->chal);
  dce_buf_put(&s->chal, hdr, sizeof hdr);
  dce_buf_put(&s->chal, tn.p, tn.len);
  dce_buf_put(&s->chal, ti.p, ti.len);
  if (s->chal.err || dce_buf_put(out, s->chal.p, s->chal.len)) { st = DCE_NTLM_E_NO_MEMORY; goto done; }
  s->chal_flags = flags;
  s->state = ST_CHALLENGE_SENT;
done:
  dce_buf_free(&tn); dce_buf_free(&ti);
  return st;
}

static char *utf16_dup(const uint8_t *p, size_t len) {
  char *s = malloc(len / 2 * 3 + 1);
  if (!s) return NULL;
  s[dce_utf16_to_utf8(p, len / 2, 1, s)] = 0;
  return s;
}

uint32_t dce_ntlm_server_parse_auth(dce_ntlm *s, const uint8_t *m, size_t len,
                                    dce_ntlm_auth_info *info) {
  size_t lm_o, lm_l, nt_o, nt_l, d_o, d_l, u_o, u_l, w_o, w_l, k_o, k_l, min;
  uint32_t flags;
  int v2 = 0, mic = 0, anon;

  if (!s || s->role != ROLE_SERVER || s->state != ST_CHALLENGE_SENT) return DCE_NTLM_E_STATE;
  if (!m || len < 64 || len > DCE_NTLM_MAX_MSG) return DCE_NTLM_E_INVALID_PARAMETER;
  if (memcmp(m, SIGNATURE, 8) || dce_ld32(m + 8, 1) != 3) return DCE_NTLM_E_INVALID_PARAMETER;
  if (!field_ok(m, len, 12, 64, &lm_o, &lm_l) || !field_ok(m, len, 20, 64, &nt_o, &nt_l)
      || !field_ok(m, len, 28, 64, &d_o, &d_l) || !field_ok(m, len, 36, 64, &u_o, &u_l)
      || !field_ok(m, len, 44, 64, &w_o, &w_l) || !field_ok(m, len, 52, 64, &k_o, &k_l))
    return DCE_NTLM_E_INVALID_PARAMETER;
  flags = dce_ld32(m + 60, 1);
  if (!(flags & NTLMSSP_NEGOTIATE_UNICODE)) return DCE_NTLM_E_INVALID_PARAMETER;
  if ((d_l | u_l | w_l) & 1 || d_l > DCE_NTLM_MAX_NAME || u_l > DCE_NTLM_MAX_NAME
      || w_l > DCE_NTLM_MAX_NAME)
    return DCE_NTLM_E_INVALID_PARAMETER;

  anon = u_l == 0 && nt_l == 0 && (lm_l == 0 || (lm_l == 1 && m[lm_o] == 0));
  if (nt_l > 24) {
    size_t used;
    uint16_t fl;
    const uint8_t *fv;
    /* NTProofStr(16) || NTLMv2_CLIENT_CHALLENGE header(28) || AV pairs */
    if (nt_l < 16 + V2_HDR + 4) return DCE_NTLM_E_INVALID_PARAMETER;
    if (av_check(m + nt_o + 16 + V2_HDR, nt_l - 16 - V2_HDR, &used)) return DCE_NTLM_E_INVALID_PARAMETER;
    fv = av_find(m + nt_o + 16 + V2_HDR, used, MSV_AV_FLAGS, &fl);
    mic = fv && (dce_ld32(fv, 1) & 0x2);
    v2 = 1;
  } else if (nt_l != 24 && nt_l != 0) {
    return DCE_NTLM_E_INVALID_PARAMETER;
  }
  if (mic) {
    /* the MIC lives at 72..88: nothing may overlap it */
    min = AUTH_HDR;
    if (len < AUTH_HDR || (lm_l && lm_o < min) || (nt_l && nt_o < min) || (d_l && d_o < min)
        || (u_l && u_o < min) || (w_l && w_o < min) || (k_l && k_o < min))
      return DCE_NTLM_E_INVALID_PARAMETER;
  }
  if (!anon && (s->chal_flags & flags & NTLMSSP_NEGOTIATE_KEY_EXCH) && k_l != 16)
    return DCE_NTLM_E_INVALID_PARAMETER;

  free_str(&s->a_user); free_str(&s->a_domain); free_str(&s->a_ws);
  dce_buf_reset(&s->auth);
  if (dce_buf_put(&s->auth, m, len)
      || !(s->a_user = utf16_dup(m + u_o, u_l)) || !(s->a_domain = utf16_dup(m + d_o, d_l))
      || !(s->a_ws = utf16_dup(m + w_o, w_l)))
    return DCE_NTLM_E_NO_MEMORY;
  s->a_flags = flags; s->a_anon = anon; s->a_v2 = v2; s->a_mic = mic;
  s->lm_off = lm_o; s->lm_len = lm_l; s->nt_off = nt_o; s->nt_len = nt_l;
  s->key_off = k_o; s->key_len = k_l;
  s->us_off = u_o; s->us_len = u_l; s->dm_off = d_o; s->dm_len = d_l;
  s->state = ST_AUTH_PARSED;
  if (info) {
    info->user = s->a_user; info->domain = s->a_domain; info->workstation = s->a_ws;
    info->flags = flags; info->anonymous = anon; info->ntlmv2 = v2;
  }
  return DCE_NTLM_OK;
}

/* NTLMv2 check for one spelling of the domain: sets sbk on success. */
static int v2_check(dce_ntlm *s, const uint8_t nt_hash[16], int upper_domain, uint8_t sbk[16]) {
  const uint8_t *a = s->auth.p, *nt = a + s->nt_off;
  uint8_t key_nt[16], proof[16];
  dce_hmac_md5_ctx h;
  int ok = 0;
  if (ntowfv2_16(nt_hash, a + s->us_off, s->us_len, a + s->dm_off, s->dm_len, upper_domain, key_nt))
    return 0;
  if (!dce_hmac_md5_init(&h, key_nt, 16)) {
    if (!dce_hmac_md5_update(&h, s->server_chal, 8)
        && !dce_hmac_md5_update(&h, nt + 16, s->nt_len - 16)
        && !dce_hmac_md5_final(&h, proof)) {
      ok = dce_ct_memcmp(proof, nt, 16) == 0 && dce_hmac_md5(key_nt, 16, proof, 16, sbk) == 0;
    }
    dce_hmac_md5_free(&h);
  }
  dce_secure_zero(key_nt, 16);
  return ok;
}

uint32_t dce_ntlm_server_verify(dce_ntlm *s, const uint8_t nt_hash[16]) {
  const uint8_t *a;
  uint8_t sbk[16], kx[16], esk[16];
  uint32_t flags, st = DCE_NTLM_E_LOGON_FAILURE;
  int ok = 0;

  if (!s || s->role != ROLE_SERVER || s->state != ST_AUTH_PARSED) return DCE_NTLM_E_STATE;
  if (s->a_anon || !nt_hash) return DCE_NTLM_E_LOGON_FAILURE;
  a = s->auth.p;
  flags = s->chal_flags & s->a_flags;
  if (s->a_v2) {
    const uint8_t *nt = a + s->nt_off;
    if (nt[16] != 1) return DCE_NTLM_E_LOGON_FAILURE;            /* RespType */
    ok = v2_check(s, nt_hash, 0, sbk);
    if (!ok) ok = v2_check(s, nt_hash, 1, sbk);                    /* domain upper-cased */
    if (ok) memcpy(kx, sbk, 16);
  } else if (s->nt_len == 24 && s->v1) {
    uint8_t r[24], h[16], d[16], lm8[24];
    memset(lm8, 0, sizeof lm8);
    flags &= ~(NTLMSSP_NEGOTIATE_LM_KEY | NTLMSSP_REQUEST_NON_NT_SESSION_KEY);
    if (flags & NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY) {
      if (s->lm_len < 8) return DCE_NTLM_E_LOGON_FAILURE;
      memcpy(lm8, a + s->lm_off, 8);
      memcpy(d, s->server_chal, 8); memcpy(d + 8, lm8, 8);
      ok = !dce_md5(d, 16, h) && !dce_ntlm_desl(nt_hash, h, r);
    } else {
      ok = !dce_ntlm_desl(nt_hash, s->server_chal, r);
    }
    ok = ok && dce_ct_memcmp(r, a + s->nt_off, 24) == 0
         && !dce_md4(nt_hash, 16, sbk)
         && !dce_ntlm_kxkey_v1(flags, sbk, lm8, s->server_chal, NULL, kx);
  }
  if (!ok) goto done;

  if (flags & NTLMSSP_NEGOTIATE_KEY_EXCH) {
    dce_rc4 r;
    if (s->key_len != 16 || dce_rc4_init(&r, kx, 16)) goto done;
    memcpy(esk, a + s->key_off, 16);
    ok = !dce_rc4_crypt(&r, esk, 16);
    dce_rc4_free(&r);
    if (!ok) goto done;
  } else {
    memcpy(esk, kx, 16);
  }
  if (s->a_mic) {
    uint8_t mic[16];
    if (compute_mic(s, esk, mic) || dce_ct_memcmp(mic, a + MIC_OFF, 16)) goto done;
  }
  st = session_setup(s, flags, esk);
done:
  dce_secure_zero(sbk, 16); dce_secure_zero(kx, 16); dce_secure_zero(esk, 16);
  return st;
}

/* ------------------------------------------------------------ sign / seal */

#define ESS(n) ((n)->flags & NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY)

/* The 16-byte signature for `msg` under direction `out` (1: ours), without
** touching the data. Consumes keystream and a sequence number. */
static uint32_t make_sig(dce_ntlm *n, int out, const uint8_t *msg, size_t len, uint8_t sig[16]) {
  dce_rc4 *rc4 = (out || n->shared) ? &n->rc4_out : &n->rc4_in;
  uint32_t *seq = (out || n->shared) ? &n->seq_out : &n->seq_in;
  uint8_t sq[4];
  dce_st32(sig, 1, 1);
  if (ESS(n)) {
    dce_hmac_md5_key *hk = out ? &n->hk_out : &n->hk_in;
    uint8_t d[16];
    dce_st32(sq, *seq, 1);
    if (!hk->mac && dce_hmac_md5_key_init(hk, out ? n->sign_out : n->sign_in, 16))
      return DCE_NTLM_E_INTERNAL;
    if (dce_hmac_md5_key_mac(hk, sq, 4, msg, len, d)) return DCE_NTLM_E_INTERNAL;
    memcpy(sig + 4, d, 8);
    if ((n->flags & NTLMSSP_NEGOTIATE_KEY_EXCH) && dce_rc4_crypt(rc4, sig + 4, 8))
      return DCE_NTLM_E_INTERNAL;
    memcpy(sig + 12, sq, 4);
  } else {
    /* 3.4.4.1: RandomPad, CRC32 and SeqNum through RC4; RandomPad then 0 */
    dce_st32(sig + 4, 0, 1);
    dce_st32(sig + 8, crc32_ieee(msg, len), 1);
    dce_st32(sig + 12, *seq, 1);
    if (dce_rc4_crypt(rc4, sig + 4, 12)) return DCE_NTLM_E_INTERNAL;
    dce_st32(sig + 4, 0, 1);
  }
  (*seq)++;
  return DCE_NTLM_OK;
}

/* Compare what we computed with what came: sequence first (so a replay says
** so), then the checksum, in constant time. */
static uint32_t check_sig(const dce_ntlm *n, const uint8_t want[16], const uint8_t got[16]) {
  int bad_seq, bad_sum;
  if (dce_ld32(got, 1) != 1) return DCE_NTLM_E_MESSAGE_ALTERED;
  bad_seq = dce_ct_memcmp(want + 12, got + 12, 4) != 0;
  bad_sum = dce_ct_memcmp(want + 4 + (ESS(n) ? 0 : 4), got + 4 + (ESS(n) ? 0 : 4), ESS(n) ? 8 : 4) != 0;
  if (bad_seq) return DCE_NTLM_E_OUT_OF_SEQUENCE;
  return bad_sum ? DCE_NTLM_E_MESSAGE_ALTERED : DCE_NTLM_OK;
}

uint32_t dce_ntlm_sign(dce_ntlm *n, const uint8_t *msg, size_t len, uint8_t sig[16]) {
  if (!n || n->state != ST_DONE) return DCE_NTLM_E_STATE;
  if (!msg && len) return DCE_NTLM_E_INVALID_PARAMETER;
  return make_sig(n, 1, msg, len, sig);
}

uint32_t dce_ntlm_verify(dce_ntlm *n, const uint8_t *msg, size_t len, const uint8_t sig[16]) {
  uint8_t want[16];
  uint32_t st;
  if (!n || n->state != ST_DONE) return DCE_NTLM_E_STATE;
  if ((!msg && len) || !sig) return DCE_NTLM_E_INVALID_PARAMETER;
  /* without ESS `want` holds the RC4-encrypted CRC and SeqNum, which is
  ** what the peer sent, so one byte comparison serves both cases */
  if ((st = make_sig(n, 0, msg, len, want)) != 0) return st;
  return check_sig(n, want, sig);
}

uint32_t dce_ntlm_seal(dce_ntlm *n, uint8_t *data, size_t data_len,
                       const uint8_t *whole, size_t whole_len, uint8_t sig[16]) {
  uint8_t sq[4], d[16];
  uint32_t crc = 0;
  if (!n || n->state != ST_DONE) return DCE_NTLM_E_STATE;
  if (!(n->flags & NTLMSSP_NEGOTIATE_SEAL)) return DCE_NTLM_E_NOT_SUPPORTED;
  if ((!data && data_len) || (!whole && whole_len)) return DCE_NTLM_E_INVALID_PARAMETER;
  /* MAC input first: `data` may lie inside `whole` and is about to change */
  if (ESS(n)) {
    dce_st32(sq, n->seq_out, 1);
    if (!n->hk_out.mac && dce_hmac_md5_key_init(&n->hk_out, n->sign_out, 16)) return DCE_NTLM_E_INTERNAL;
    if (dce_hmac_md5_key_mac(&n->hk_out, sq, 4, whole, whole_len, d)) return DCE_NTLM_E_INTERNAL;
  } else {
    /* without ESS only the sealed buffer is checksummed (3.4.6.1: NTLMv1
    ** covers the sign==TRUE buffers; Samba and Windows use the stub) */
    crc = crc32_ieee(data, data_len);
  }
  if (dce_rc4_crypt(&n->rc4_out, data, data_len)) return DCE_NTLM_E_INTERNAL;
  dce_st32(sig, 1, 1);
  if (ESS(n)) {
    memcpy(sig + 4, d, 8);
    if ((n->flags & NTLMSSP_NEGOTIATE_KEY_EXCH) && dce_rc4_crypt(&n->rc4_out, sig + 4, 8))
      return DCE_NTLM_E_INTERNAL;
    memcpy(sig + 12, sq, 4);
  } else {
    dce_st32(sig + 4, 0, 1);
    dce_st32(sig + 8, crc, 1);
    dce_st32(sig + 12, n->seq_out, 1);
    if (dce_rc4_crypt(&n->rc4_out, sig + 4, 12)) return DCE_NTLM_E_INTERNAL;
    dce_st32(sig + 4, 0, 1);
  }
  n->seq_out++;
  return DCE_NTLM_OK;
}

uint32_t dce_ntlm_unseal(dce_ntlm *n, uint8_t *data, size_t data_len,
                         const uint8_t *whole, size_t whole_len, const uint8_t sig[16]) {
  uint8_t want[16];
  uint32_t st;
  if (!n || n->state != ST_DONE) return DCE_NTLM_E_STATE;
  if (!(n->flags & NTLMSSP_NEGOTIATE_SEAL)) return DCE_NTLM_E_NOT_SUPPORTED;
  if ((!data && data_len) || (!whole && whole_len) || !sig) return DCE_NTLM_E_INVALID_PARAMETER;
  if (dce_rc4_crypt(n->shared ? &n->rc4_out : &n->rc4_in, data, data_len)) return DCE_NTLM_E_INTERNAL;
  if (ESS(n)) st = make_sig(n, 0, whole, whole_len, want);
  else st = make_sig(n, 0, data, data_len, want);            /* see dce_ntlm_seal */
  if (st) return st;
  return check_sig(n, want, sig);
}
