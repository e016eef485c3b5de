/*
** smb_crypt.c - SMB 2/3 keys, signing, the TRANSFORM_HEADER and the 3.1.1
** pre-authentication hash over base/crypto.
**
** Invariants:
**   - every length taken from the wire is compared with the bytes present
**     before anything is read at it or decrypted;
**   - a message is never copied: signatures are computed over pieces (the
**     header before the signature field, 16 zero bytes, the rest), AEADs
**     work in place;
**   - keys live in OpenSSL contexts made once per session; the plain copies
**     in dce_smb_keys are the caller's to wipe.
*/
#include <string.h>

#include "base/buf.h"
#include "base/crypto.h"
#include "base/err.h"
#include "smb/smb_crypt.h"

static const uint8_t ZERO16[16];
static const uint8_t TRANSFORM_ID[4] = { 0xFD, 'S', 'M', 'B' };

const char *dce_smb_crypt_rcname(int rc) {
  switch (rc) {
  case DCE_SMB_OK: return "ok";
  case DCE_SMB_E_ARG: return "bad_argument";
  case DCE_SMB_E_CRYPTO: return "crypto_failure";
  case DCE_SMB_E_NOKEY: return "no_key";
  case DCE_SMB_E_SHORT: return "short";
  case DCE_SMB_E_PROTOCOL: return "bad_protocol_id";
  case DCE_SMB_E_SIZE: return "bad_size";
  case DCE_SMB_E_FLAGS: return "bad_flags";
  case DCE_SMB_E_SESSION: return "wrong_session";
  case DCE_SMB_E_SIGNATURE: return "bad_signature";
  case DCE_SMB_E_NONCE: return "nonce_exhausted";
  default: return NULL;
  }
}

/* The crypto module's failure as ours, with its reason. */
static int crypto_fail(dce_err *e, int crc, const char *what) {
  if (crc == DCE_CRYPTO_EINVAL) {
    dce_misuse(e, "%s: invalid argument for the crypto module", what);
    return DCE_SMB_E_ARG;
  }
  dce_err_set(e, DCE_E_REFUSED, DCE_SMB_STATUS_INTERNAL_ERROR, DCE_EXEC_UNSET, "%s: %s", what,
              crc == DCE_CRYPTO_ENOPROV ? dce_crypto_error() : "an OpenSSL call failed");
  return DCE_SMB_E_CRYPTO;
}

/* ------------------------------------------------------------ keys */

static int is_3x(uint16_t d) {
  return d == DCE_SMB2_DIALECT_300 || d == DCE_SMB2_DIALECT_302 || d == DCE_SMB2_DIALECT_311;
}

/* KDF(key, Label, Context) with the NUL of both strings counted, as
** [MS-SMB2] writes them ("SMB2AESCMAC\0" is 12 bytes). */
#define KDF_STR(s) (s), sizeof(s)

int dce_smb_keys_derive(dce_smb_keys *k, uint16_t dialect, uint16_t sign_algo, uint16_t cipher,
                        const uint8_t *session_key, size_t sklen, const uint8_t *preauth,
                        dce_err *e) {
  uint8_t sk[16];                          /* Session.SessionKey */
  const uint8_t *full;                     /* Session.FullSessionKey */
  size_t fulllen, clen;
  int rc = 0;

  if (!k) return dce_misuse(e, "SMB keys: no output"), DCE_SMB_E_ARG;
  memset(k, 0, sizeof *k);
  if (!session_key || sklen == 0)
    return dce_misuse(e, "SMB keys: no session key (an anonymous session cannot sign or seal)"),
           DCE_SMB_E_ARG;
  switch (dialect) {
  case DCE_SMB2_DIALECT_202: case DCE_SMB2_DIALECT_210:
    if (sign_algo != DCE_SMB2_SIGN_DEFAULT && sign_algo != DCE_SMB2_SIGN_HMAC_SHA256)
      return dce_misuse(e, "SMB keys: dialect 0x%04x signs with HMAC-SHA256, not algorithm %u",
                        dialect, sign_algo), DCE_SMB_E_ARG;
    if (cipher != DCE_SMB2_CIPHER_NONE)
      return dce_misuse(e, "SMB keys: dialect 0x%04x has no encryption (cipher %u)", dialect, cipher),
             DCE_SMB_E_ARG;
    sign_algo = DCE_SMB2_SIGN_HMAC_SHA256;
    break;
  case DCE_SMB2_DIALECT_300: case DCE_SMB2_DIALECT_302:
    if (sign_algo != DCE_SMB2_SIGN_DEFAULT && sign_algo != DCE_SMB2_SIGN_AES_CMAC)
      return dce_misuse(e, "SMB keys: dialect 0x%04x signs with AES-CMAC, not algorithm %u",
                        dialect, sign_algo), DCE_SMB_E_ARG;
    if (cipher != DCE_SMB2_CIPHER_NONE && cipher != DCE_SMB2_CIPHER_AES128_CCM)
      return dce_misuse(e, "SMB keys: dialect 0x%04x encrypts only with AES-128-CCM (cipher %u)",
                        dialect, cipher), DCE_SMB_E_ARG;
    sign_algo = DCE_SMB2_SIGN_AES_CMAC;
    break;
  case DCE_SMB2_DIALECT_311:
    if (sign_algo == DCE_SMB2_SIGN_DEFAULT) sign_algo = DCE_SMB2_SIGN_AES_CMAC;
    if (sign_algo > DCE_SMB2_SIGN_AES_GMAC)
      return dce_misuse(e, "SMB keys: unknown signing algorithm %u", sign_algo), DCE_SMB_E_ARG;
    if (cipher > DCE_SMB2_CIPHER_AES256_GCM)
      return dce_misuse(e, "SMB keys: unknown cipher %u", cipher), DCE_SMB_E_ARG;
    if (!preauth)
      return dce_misuse(e, "SMB keys: dialect 3.1.1 needs the pre-authentication hash"),
             DCE_SMB_E_ARG;
    break;
  default:
    return dce_misuse(e, "SMB keys: unknown dialect 0x%04x", dialect), DCE_SMB_E_ARG;
  }
  k->dialect = dialect;
  k->sign_algo = sign_algo;
  k->cipher = cipher;

  /* SessionKey: the first 16 bytes, right-padded with zeros (3.2.1.3) */
  memset(sk, 0, sizeof sk);
  memcpy(sk, session_key, sklen < 16 ? sklen : 16);
  /* FullSessionKey: the whole GSS key; AES-256 ciphers derive from it (a
  ** 32-byte Kerberos key then gives a different key than its first half) */
  full = sklen >= 16 ? session_key : sk;
  fulllen = sklen >= 16 ? sklen : 16;
  clen = (cipher == DCE_SMB2_CIPHER_AES256_CCM || cipher == DCE_SMB2_CIPHER_AES256_GCM) ? 32 : 16;

  if (!is_3x(dialect)) {
    memcpy(k->signing, sk, 16);
    memcpy(k->application, sk, 16);
  } else if (dialect != DCE_SMB2_DIALECT_311) {
    rc = dce_kdf_ctr_hmac_sha256(sk, 16, KDF_STR("SMB2AESCMAC"), KDF_STR("SmbSign"), k->signing, 16);
    if (!rc) rc = dce_kdf_ctr_hmac_sha256(sk, 16, KDF_STR("SMB2APP"), KDF_STR("SmbRpc"),
                                          k->application, 16);
    if (!rc && cipher) {
      /* note the space: "ServerIn " is as long as "ServerOut" */
      rc = dce_kdf_ctr_hmac_sha256(sk, 16, KDF_STR("SMB2AESCCM"), KDF_STR("ServerIn "),
                                   k->encryption, 16);
      if (!rc) rc = dce_kdf_ctr_hmac_sha256(sk, 16, KDF_STR("SMB2AESCCM"), KDF_STR("ServerOut"),
                                            k->decryption, 16);
    }
  } else {
    rc = dce_kdf_ctr_hmac_sha256(sk, 16, KDF_STR("SMBSigningKey"), preauth, DCE_SMB2_PREAUTH_SIZE,
                                 k->signing, 16);
    if (!rc) rc = dce_kdf_ctr_hmac_sha256(sk, 16, KDF_STR("SMBAppKey"), preauth,
                                          DCE_SMB2_PREAUTH_SIZE, k->application, 16);
    if (!rc && cipher) {
      const uint8_t *ki = clen == 32 ? full : sk;
      size_t kilen = clen == 32 ? fulllen : 16;
      rc = dce_kdf_ctr_hmac_sha256(ki, kilen, KDF_STR("SMBC2SCipherKey"), preauth,
                                   DCE_SMB2_PREAUTH_SIZE, k->encryption, clen);
      if (!rc) rc = dce_kdf_ctr_hmac_sha256(ki, kilen, KDF_STR("SMBS2CCipherKey"), preauth,
                                            DCE_SMB2_PREAUTH_SIZE, k->decryption, clen);
    }
  }
  dce_secure_zero(sk, sizeof sk);
  if (rc) {
    dce_smb_keys_wipe(k);
    return crypto_fail(e, rc, "SMB key derivation");
  }
  k->cipher_key_len = cipher ? (uint8_t)clen : 0;
  return DCE_SMB_OK;
}

void dce_smb_keys_wipe(dce_smb_keys *k) {
  if (k) dce_secure_zero(k, sizeof *k);
}

/* ------------------------------------------------------------ per session */

void dce_smb_crypt_free(dce_smb_crypt *c) {
  if (!c) return;
  dce_hmac_sha256_key_free(&c->hmac);
  dce_cmac_key_free(&c->cmac);
  dce_aead_key_free(&c->gmac);
  dce_aead_key_free(&c->seal);
  dce_aead_key_free(&c->open);
  dce_secure_zero(c, sizeof *c);
}

int dce_smb_crypt_init(dce_smb_crypt *c, const dce_smb_keys *k, int role, dce_err *e) {
  int rc = 0;
  if (!c) return dce_misuse(e, "SMB crypt: no context"), DCE_SMB_E_ARG;
  memset(c, 0, sizeof *c);
  if (!k || (role != DCE_SMB_CLIENT && role != DCE_SMB_SERVER))
    return dce_misuse(e, "SMB crypt: no keys or an unknown role"), DCE_SMB_E_ARG;
  if (k->sign_algo > DCE_SMB2_SIGN_AES_GMAC || k->cipher > DCE_SMB2_CIPHER_AES256_GCM
      || (k->cipher && k->cipher_key_len != (k->cipher >= DCE_SMB2_CIPHER_AES256_CCM ? 32 : 16)))
    return dce_misuse(e, "SMB crypt: keys not made by dce_smb_keys_derive"), DCE_SMB_E_ARG;
  c->dialect = k->dialect; c->sign_algo = k->sign_algo; c->cipher = k->cipher; c->role = role;

  switch (k->sign_algo) {
  case DCE_SMB2_SIGN_HMAC_SHA256: rc = dce_hmac_sha256_key_init(&c->hmac, k->signing, 16); break;
  case DCE_SMB2_SIGN_AES_CMAC: rc = dce_cmac_key_init(&c->cmac, k->signing); break;
  default: rc = dce_aead_key_init(&c->gmac, DCE_AEAD_AES128_GCM, k->signing, 16); break;
  }
  if (!rc && k->cipher) {
    /* the SMB cipher ids are the DCE_AEAD_* values */
    const uint8_t *mine = role == DCE_SMB_CLIENT ? k->encryption : k->decryption;
    const uint8_t *theirs = role == DCE_SMB_CLIENT ? k->decryption : k->encryption;
    rc = dce_aead_key_init(&c->seal, k->cipher, mine, k->cipher_key_len);
    if (!rc) rc = dce_aead_key_init(&c->open, k->cipher, theirs, k->cipher_key_len);
    if (!rc) rc = dce_random_bytes(c->nonce_salt, sizeof c->nonce_salt);
  }
  if (rc) {
    dce_smb_crypt_free(c);
    return crypto_fail(e, rc, "SMB crypt setup");
  }
  return DCE_SMB_OK;
}

/* ------------------------------------------------------------ signing */

/* The 16-byte signature of header hdr (its own field taken as zero) and
** body, as `sender` (DCE_SMB_CLIENT / _SERVER) would compute it. */
#define MAX_BODY_PIECES 14
static int signature(dce_smb_crypt *c, int sender, const uint8_t *hdr,
                     const dce_span *body, size_t n, uint8_t out[16]) {
  dce_span v[3 + MAX_BODY_PIECES];
  const dce_span *pv = v;
  size_t i, nv;
  uint8_t full[32];
  int rc;

  v[0].p = hdr; v[0].len = DCE_SMB2_HDR_SIGNATURE;
  v[1].p = ZERO16; v[1].len = DCE_SMB2_SIG_SIZE;
  v[2].p = hdr + DCE_SMB2_HDR_SIGNATURE + DCE_SMB2_SIG_SIZE;
  v[2].len = DCE_SMB2_HDR_SIZE - DCE_SMB2_HDR_SIGNATURE - DCE_SMB2_SIG_SIZE;   /* 0 today */
  if (n > MAX_BODY_PIECES) return DCE_CRYPTO_EINVAL;
  for (i = 0; i < n; i++) v[3 + i] = body[i];
  nv = 3 + n;

  switch (c->sign_algo) {
  case DCE_SMB2_SIGN_HMAC_SHA256:
    rc = dce_hmac_sha256_key_mac(&c->hmac, pv, nv, full);   /* 2.x keeps the first 16 */
    if (!rc) memcpy(out, full, 16);
    dce_secure_zero(full, sizeof full);
    return rc;
  case DCE_SMB2_SIGN_AES_CMAC:
    return dce_cmac_key_mac(&c->cmac, pv, nv, out);
  default: {
    /* AES-GMAC (3.1.4.1): nonce = MessageId (8 bytes, as in the header),
    ** then a LE32 whose bit 0 is the sender's role (server 1) and bit 1
    ** marks an SMB2 CANCEL request; the whole message is the AAD. The
    ** role is the one we know the sender has, not the header's flag, so a
    ** reflected message does not verify. */
    uint8_t nonce[12];
    uint16_t cmd = dce_ld16(hdr + DCE_SMB2_HDR_COMMAND, 1);
    uint32_t flags = dce_ld32(hdr + DCE_SMB2_HDR_FLAGS, 1);
    uint32_t bits = (sender == DCE_SMB_SERVER ? 1u : 0u)
                    | (cmd == DCE_SMB2_CANCEL && !(flags & DCE_SMB2_FLAGS_SERVER_TO_REDIR) ? 2u : 0u);
    memcpy(nonce, hdr + DCE_SMB2_HDR_MESSAGE_ID, 8);
    dce_st32(nonce + 8, bits, 1);
    return dce_aead_encrypt(&c->gmac, nonce, sizeof nonce, pv, nv, NULL, 0, out);
  }
  }
}

int dce_smb_signv(dce_smb_crypt *c, uint8_t hdr[DCE_SMB2_HDR_SIZE],
                  const dce_span *body, size_t n, int set_flag) {
  uint8_t sig[16];
  int rc;
  if (!c || !hdr || (n && !body)) return DCE_SMB_E_ARG;
  if (set_flag)
    dce_st32(hdr + DCE_SMB2_HDR_FLAGS,
             dce_ld32(hdr + DCE_SMB2_HDR_FLAGS, 1) | DCE_SMB2_FLAGS_SIGNED, 1);
  rc = signature(c, c->role, hdr, body, n, sig);
  if (rc) return rc == DCE_CRYPTO_EINVAL ? DCE_SMB_E_ARG : DCE_SMB_E_CRYPTO;
  memcpy(hdr + DCE_SMB2_HDR_SIGNATURE, sig, 16);
  return DCE_SMB_OK;
}

int dce_smb_sign(dce_smb_crypt *c, uint8_t *msg, size_t len, int set_flag) {
  dce_span body;
  if (!msg) return DCE_SMB_E_ARG;
  if (len < DCE_SMB2_HDR_SIZE) return DCE_SMB_E_SHORT;
  body.p = msg + DCE_SMB2_HDR_SIZE; body.len = len - DCE_SMB2_HDR_SIZE;
  return dce_smb_signv(c, msg, &body, 1, set_flag);
}

int dce_smb_verifyv(dce_smb_crypt *c, const uint8_t hdr[DCE_SMB2_HDR_SIZE],
                    const dce_span *body, size_t n, dce_err *e) {
  uint8_t sig[16];
  int rc;
  if (!c || !hdr || (n && !body)) return dce_misuse(e, "SMB verify: no message"), DCE_SMB_E_ARG;
  rc = signature(c, c->role == DCE_SMB_CLIENT ? DCE_SMB_SERVER : DCE_SMB_CLIENT, hdr, body, n, sig);
  if (rc) return crypto_fail(e, rc, "SMB verify");
  if (dce_ct_memcmp(sig, hdr + DCE_SMB2_HDR_SIGNATURE, 16)) {
    dce_err_set(e, DCE_E_REFUSED, DCE_SMB_STATUS_ACCESS_DENIED, DCE_EXEC_UNSET,
                "SMB2 message (MessageId %llu): the signature does not verify",
                (unsigned long long)dce_ld64(hdr + DCE_SMB2_HDR_MESSAGE_ID, 1));
    return DCE_SMB_E_SIGNATURE;
  }
  return DCE_SMB_OK;
}

int dce_smb_verify(dce_smb_crypt *c, const uint8_t *msg, size_t len, dce_err *e) {
  dce_span body;
  if (!msg) return dce_misuse(e, "SMB verify: no message"), DCE_SMB_E_ARG;
  if (len < DCE_SMB2_HDR_SIZE) {
    dce_err_set(e, DCE_E_REFUSED, DCE_SMB_STATUS_INVALID_PARAMETER, DCE_EXEC_UNSET,
                "SMB2 message: %zu bytes, shorter than its 64-byte header", len);
    return DCE_SMB_E_SHORT;
  }
  body.p = msg + DCE_SMB2_HDR_SIZE; body.len = len - DCE_SMB2_HDR_SIZE;
  return dce_smb_verifyv(c, msg, &body, 1, e);
}

/* ------------------------------------------------------------ encryption */

static size_t nonce_len(uint16_t cipher) {
  return cipher == DCE_SMB2_CIPHER_AES128_CCM || cipher == DCE_SMB2_CIPHER_AES256_CCM ? 11 : 12;
}

int dce_smb_encrypt_with_nonce(dce_smb_crypt *c, uint64_t session_id, const uint8_t nonce[16],
                               uint8_t th[DCE_SMB2_TRANSFORM_SIZE], uint8_t *msg, size_t len) {
  dce_span aad;
  size_t nl;
  int rc;
  if (!c || !nonce || !th || !msg || len == 0 || len > 0x7FFFFFFFu) return DCE_SMB_E_ARG;
  if (!c->cipher) return DCE_SMB_E_NOKEY;
  nl = nonce_len(c->cipher);
  memcpy(th, TRANSFORM_ID, 4);
  memset(th + 4, 0, 16);                                 /* Signature: the tag, below */
  /* Nonce: all 16 bytes as given; the cipher uses the first nl, the rest
  ** (which should be zero) is still authenticated as part of the AAD */
  memmove(th + 20, nonce, 16);
  dce_st32(th + 36, (uint32_t)len, 1);                   /* OriginalMessageSize */
  dce_st16(th + 40, 0, 1);                               /* Reserved */
  dce_st16(th + 42, DCE_SMB2_TRANSFORM_FLAGS_ENCRYPTED, 1);
  dce_st64(th + 44, session_id, 1);
  aad.p = th + DCE_SMB2_TRANSFORM_AAD; aad.len = DCE_SMB2_TRANSFORM_SIZE - DCE_SMB2_TRANSFORM_AAD;
  rc = dce_aead_encrypt(&c->seal, th + 20, nl, &aad, 1, msg, len, th + 4);
  if (rc) return rc == DCE_CRYPTO_EINVAL ? DCE_SMB_E_ARG : DCE_SMB_E_CRYPTO;
  return DCE_SMB_OK;
}

int dce_smb_encrypt(dce_smb_crypt *c, uint64_t session_id,
                    uint8_t th[DCE_SMB2_TRANSFORM_SIZE], uint8_t *msg, size_t len) {
  uint8_t nonce[16];
  uint64_t n;
  int rc;
  if (!c) return DCE_SMB_E_ARG;
  if (!c->cipher) return DCE_SMB_E_NOKEY;
  if (c->nonce_count == UINT64_MAX) return DCE_SMB_E_NONCE;
  /* A counter XORed into a random salt: distinct for every message under
  ** this key (the XOR is a bijection), unpredictable across sessions, and
  ** no RNG call per message. The counter takes the first 8 bytes; CCM's
  ** 11-byte nonce keeps 3 salt bytes after it, GCM's 12 keeps 4. */
  n = c->nonce_count;
  memset(nonce, 0, sizeof nonce);
  memcpy(nonce, c->nonce_salt, nonce_len(c->cipher));   /* the rest stays zero */
  dce_st64(nonce, dce_ld64(nonce, 1) ^ n, 1);
  rc = dce_smb_encrypt_with_nonce(c, session_id, nonce, th, msg, len);
  if (rc == DCE_SMB_OK) c->nonce_count = n + 1;
  return rc;
}

/* A refusal of a received transform message. */
#define REFUSE(rc_, status_, ...) \
  (dce_err_set(e, DCE_E_REFUSED, (status_), DCE_EXEC_UNSET, __VA_ARGS__), (rc_))

int dce_smb_transform_session(const uint8_t *buf, size_t len, uint64_t *session_id, dce_err *e) {
  if (!buf || !session_id) return dce_misuse(e, "SMB transform: no buffer"), DCE_SMB_E_ARG;
  if (len < DCE_SMB2_TRANSFORM_SIZE)
    return REFUSE(DCE_SMB_E_SHORT, DCE_SMB_STATUS_INVALID_PARAMETER,
                  "SMB2 TRANSFORM_HEADER: %zu bytes, the header alone is 52", len);
  if (memcmp(buf, TRANSFORM_ID, 4))
    return REFUSE(DCE_SMB_E_PROTOCOL, DCE_SMB_STATUS_INVALID_PARAMETER,
                  "SMB2 TRANSFORM_HEADER: ProtocolId %02x %02x %02x %02x, want fd 53 4d 42",
                  buf[0], buf[1], buf[2], buf[3]);
  *session_id = dce_ld64(buf + 44, 1);
  return DCE_SMB_OK;
}

int dce_smb_decrypt(dce_smb_crypt *c, uint64_t session_id, uint8_t *buf, size_t len,
                    uint8_t **msg, size_t *msglen, dce_err *e) {
  uint64_t sid;
  uint32_t size;
  uint16_t flags;
  dce_span aad;
  int rc;

  if (!c || !msg || !msglen) return dce_misuse(e, "SMB decrypt: no context or output"), DCE_SMB_E_ARG;
  *msg = NULL; *msglen = 0;
  if ((rc = dce_smb_transform_session(buf, len, &sid, e)) != DCE_SMB_OK) return rc;
  flags = dce_ld16(buf + 42, 1);
  if (flags != DCE_SMB2_TRANSFORM_FLAGS_ENCRYPTED)
    return REFUSE(DCE_SMB_E_FLAGS, DCE_SMB_STATUS_INVALID_PARAMETER,
                  "SMB2 TRANSFORM_HEADER: Flags/EncryptionAlgorithm 0x%04x, want 0x0001", flags);
  if (!c->cipher)
    return REFUSE(DCE_SMB_E_NOKEY, DCE_SMB_STATUS_ACCESS_DENIED,
                  "SMB2 TRANSFORM_HEADER: an encrypted message, but the session has no cipher");
  size = dce_ld32(buf + 36, 1);
  if (size == 0 || (size_t)size != len - DCE_SMB2_TRANSFORM_SIZE)
    return REFUSE(DCE_SMB_E_SIZE, DCE_SMB_STATUS_INVALID_PARAMETER,
                  "SMB2 TRANSFORM_HEADER: OriginalMessageSize %lu but %zu bytes follow the header",
                  (unsigned long)size, len - DCE_SMB2_TRANSFORM_SIZE);
  if (size > 0x7FFFFFFFu)                  /* the AEAD takes at most INT_MAX bytes at once */
    return REFUSE(DCE_SMB_E_SIZE, DCE_SMB_STATUS_INVALID_PARAMETER,
                  "SMB2 TRANSFORM_HEADER: OriginalMessageSize %lu is over 2 GiB",
                  (unsigned long)size);
  if (sid != session_id)
    return REFUSE(DCE_SMB_E_SESSION, DCE_SMB_STATUS_USER_SESSION_DELETED,
                  "SMB2 TRANSFORM_HEADER: SessionId 0x%016llx, this session is 0x%016llx",
                  (unsigned long long)sid, (unsigned long long)session_id);

  aad.p = buf + DCE_SMB2_TRANSFORM_AAD; aad.len = DCE_SMB2_TRANSFORM_SIZE - DCE_SMB2_TRANSFORM_AAD;
  rc = dce_aead_decrypt(&c->open, buf + 20, nonce_len(c->cipher), &aad, 1,
                        buf + DCE_SMB2_TRANSFORM_SIZE, size, buf + 4);
  if (rc == DCE_CRYPTO_EAUTH)
    return REFUSE(DCE_SMB_E_SIGNATURE, DCE_SMB_STATUS_ACCESS_DENIED,
                  "SMB2 TRANSFORM_HEADER: the message (%lu bytes) does not decrypt: "
                  "altered, or not under this session's key", (unsigned long)size);
  if (rc) return crypto_fail(e, rc, "SMB decrypt");
  *msg = buf + DCE_SMB2_TRANSFORM_SIZE;
  *msglen = size;
  return DCE_SMB_OK;
}

/* ------------------------------------------------------------ pre-authentication integrity */

void dce_smb_preauth_init(uint8_t h[DCE_SMB2_PREAUTH_SIZE]) {
  memset(h, 0, DCE_SMB2_PREAUTH_SIZE);
}

int dce_smb_preauth_update(uint8_t h[DCE_SMB2_PREAUTH_SIZE], const dce_span *v, size_t n) {
  dce_sha512_ctx s;
  size_t i;
  int rc;
  if (!h || (n && !v)) return DCE_SMB_E_ARG;
  if ((rc = dce_sha512_init(&s)) != 0) return DCE_SMB_E_CRYPTO;
  rc = dce_sha512_update(&s, h, DCE_SMB2_PREAUTH_SIZE);
  for (i = 0; !rc && i < n; i++) rc = dce_sha512_update(&s, v[i].p, v[i].len);
  if (rc) { dce_sha512_free(&s); return DCE_SMB_E_CRYPTO; }
  /* final writes straight over h: its old value was consumed above */
  return dce_sha512_final(&s, h) ? DCE_SMB_E_CRYPTO : DCE_SMB_OK;
}
