/*
** crypto.c - MD4, MD5, HMAC-MD5, RC4, DES, SHA-256/512, HMAC-SHA256,
** AES-CMAC, AES-CCM/GCM, the SP800-108 KDF and random bytes from OpenSSL 3,
** fetched once from a library context of our own.
**
** Why a private OSSL_LIB_CTX: loading "legacy" into the default context
** would change what every other user of libcrypto in the process (the GSSAPI
** library, a host application) gets. The fetched algorithm objects are
** immutable after the fetch and OpenSSL allows sharing them across threads.
*/
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <openssl/rand.h>

#include "base/crypto.h"

static pthread_once_t crypto_once = PTHREAD_ONCE_INIT;
static int crypto_status = DCE_CRYPTO_ENOPROV;
static char crypto_msg[160];

static OSSL_LIB_CTX *libctx;
static EVP_MD *md_md4, *md_md5, *md_sha256, *md_sha512;
static EVP_MAC *mac_hmac, *mac_cmac;
static EVP_CIPHER *ci_rc4, *ci_des;
static EVP_CIPHER *ci_aead[5];          /* indexed by DCE_AEAD_*; [0] unused */
static EVP_KDF *kdf_kbkdf;

static void crypto_setup(void) {
  OSSL_PROVIDER *def, *leg;
  libctx = OSSL_LIB_CTX_new();
  if (!libctx) {
    snprintf(crypto_msg, sizeof crypto_msg, "OpenSSL: cannot create a library context");
    return;
  }
  def = OSSL_PROVIDER_load(libctx, "default");
  leg = OSSL_PROVIDER_load(libctx, "legacy");
  if (!def || !leg) {
    snprintf(crypto_msg, sizeof crypto_msg,
             "OpenSSL: cannot load the \"%s\" provider (NTLM needs MD4, RC4 and DES "
             "from OpenSSL 3's legacy provider; is legacy.so installed?)",
             def ? "legacy" : "default");
    ERR_clear_error();
    return;
  }
  md_md4 = EVP_MD_fetch(libctx, "MD4", NULL);
  md_md5 = EVP_MD_fetch(libctx, "MD5", NULL);
  mac_hmac = EVP_MAC_fetch(libctx, "HMAC", NULL);
  ci_rc4 = EVP_CIPHER_fetch(libctx, "RC4", NULL);
  ci_des = EVP_CIPHER_fetch(libctx, "DES-ECB", NULL);
  if (!md_md4 || !md_md5 || !mac_hmac || !ci_rc4 || !ci_des) {
    snprintf(crypto_msg, sizeof crypto_msg,
             "OpenSSL: missing algorithm (%s) even with the legacy provider loaded",
             !md_md4 ? "MD4" : !md_md5 ? "MD5" : !mac_hmac ? "HMAC" : !ci_rc4 ? "RC4" : "DES-ECB");
    ERR_clear_error();
    return;
  }
  /* what SMB 2/3 needs, all from the default provider */
  md_sha256 = EVP_MD_fetch(libctx, "SHA256", NULL);
  md_sha512 = EVP_MD_fetch(libctx, "SHA512", NULL);
  mac_cmac = EVP_MAC_fetch(libctx, "CMAC", NULL);
  ci_aead[DCE_AEAD_AES128_CCM] = EVP_CIPHER_fetch(libctx, "AES-128-CCM", NULL);
  ci_aead[DCE_AEAD_AES128_GCM] = EVP_CIPHER_fetch(libctx, "AES-128-GCM", NULL);
  ci_aead[DCE_AEAD_AES256_CCM] = EVP_CIPHER_fetch(libctx, "AES-256-CCM", NULL);
  ci_aead[DCE_AEAD_AES256_GCM] = EVP_CIPHER_fetch(libctx, "AES-256-GCM", NULL);
  kdf_kbkdf = EVP_KDF_fetch(libctx, "KBKDF", NULL);
  if (!md_sha256 || !md_sha512 || !mac_cmac || !ci_aead[1] || !ci_aead[2] || !ci_aead[3]
      || !ci_aead[4] || !kdf_kbkdf) {
    snprintf(crypto_msg, sizeof crypto_msg,
             "OpenSSL: missing algorithm (%s) in the default provider",
             !md_sha256 ? "SHA256" : !md_sha512 ? "SHA512" : !mac_cmac ? "CMAC"
             : !ci_aead[1] ? "AES-128-CCM" : !ci_aead[2] ? "AES-128-GCM"
             : !ci_aead[3] ? "AES-256-CCM" : !ci_aead[4] ? "AES-256-GCM" : "KBKDF");
    ERR_clear_error();
    return;
  }
  crypto_status = 0;
}

int dce_crypto_init(void) {
  pthread_once(&crypto_once, crypto_setup);
  return crypto_status;
}

const char *dce_crypto_error(void) {
  dce_crypto_init();
  return crypto_msg;
}

#define CRYPTO_READY() do { if (dce_crypto_init()) return DCE_CRYPTO_ENOPROV; } while (0)

/* ------------------------------------------------------------ digests */

static int digest(const EVP_MD *md, const void *data, size_t len, uint8_t out[16]) {
  unsigned int n = 0;
  if (!EVP_Digest(data ? data : "", len, out, &n, md, NULL) || n != 16) {
    ERR_clear_error();
    return DCE_CRYPTO_EFAIL;
  }
  return 0;
}

int dce_md4(const void *data, size_t len, uint8_t out[16]) {
  CRYPTO_READY();
  return digest(md_md4, data, len, out);
}

int dce_md5(const void *data, size_t len, uint8_t out[16]) {
  CRYPTO_READY();
  return digest(md_md5, data, len, out);
}

/* ------------------------------------------------------------ HMAC-MD5 */

int dce_hmac_md5_init(dce_hmac_md5_ctx *h, const void *key, size_t klen) {
  EVP_MAC_CTX *c;
  OSSL_PARAM params[2];
  static const unsigned char nokey[1] = { 0 };
  h->mac = NULL;
  CRYPTO_READY();
  c = EVP_MAC_CTX_new(mac_hmac);
  if (!c) return DCE_CRYPTO_EFAIL;
  params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"MD5", 0);
  params[1] = OSSL_PARAM_construct_end();
  /* a NULL key means "keep the previous key" to OpenSSL: never pass NULL */
  if (!EVP_MAC_init(c, key ? key : nokey, key ? klen : 0, params)) {
    EVP_MAC_CTX_free(c);
    ERR_clear_error();
    return DCE_CRYPTO_EFAIL;
  }
  h->mac = c;
  return 0;
}

int dce_hmac_md5_update(dce_hmac_md5_ctx *h, const void *data, size_t len) {
  if (!h->mac) return DCE_CRYPTO_EFAIL;
  if (len && !EVP_MAC_update((EVP_MAC_CTX *)h->mac, data, len)) {
    ERR_clear_error();
    return DCE_CRYPTO_EFAIL;
  }
  return 0;
}

int dce_hmac_md5_final(dce_hmac_md5_ctx *h, uint8_t out[16]) {
  size_t n = 0;
  int ok;
  if (!h->mac) return DCE_CRYPTO_EFAIL;
  ok = EVP_MAC_final((EVP_MAC_CTX *)h->mac, out, &n, 16) && n == 16;
  dce_hmac_md5_free(h);
  if (!ok) { ERR_clear_error(); return DCE_CRYPTO_EFAIL; }
  return 0;
}

void dce_hmac_md5_free(dce_hmac_md5_ctx *h) {
  if (h->mac) EVP_MAC_CTX_free((EVP_MAC_CTX *)h->mac);   /* wipes the key */
  h->mac = NULL;
}

int dce_hmac_md5_key_init(dce_hmac_md5_key *k, const void *key, size_t klen) {
  dce_hmac_md5_ctx h;
  int rc = dce_hmac_md5_init(&h, key, klen);
  k->mac = rc ? NULL : h.mac;
  return rc;
}

int dce_hmac_md5_key_mac(dce_hmac_md5_key *k, const void *a, size_t alen,
                         const void *b, size_t blen, uint8_t out[16]) {
  EVP_MAC_CTX *c = (EVP_MAC_CTX *)k->mac;
  size_t n = 0;
  if (!c) return DCE_CRYPTO_EFAIL;
  /* a NULL key: OpenSSL keeps the one set by dce_hmac_md5_key_init */
  if (!EVP_MAC_init(c, NULL, 0, NULL)
      || (alen && !EVP_MAC_update(c, a, alen))
      || (blen && !EVP_MAC_update(c, b, blen))
      || !EVP_MAC_final(c, out, &n, 16) || n != 16) {
    ERR_clear_error();
    return DCE_CRYPTO_EFAIL;
  }
  return 0;
}

void dce_hmac_md5_key_free(dce_hmac_md5_key *k) {
  if (k->mac) EVP_MAC_CTX_free((EVP_MAC_CTX *)k->mac);
  k->mac = NULL;
}

int dce_hmac_md5(const void *key, size_t klen, const void *data, size_t len, uint8_t out[16]) {
  dce_hmac_md5_ctx h;
  int rc = dce_hmac_md5_init(&h, key, klen);
  if (rc) return rc;
  if ((rc = dce_hmac_md5_update(&h, data, len)) != 0) { dce_hmac_md5_free(&h); return rc; }
  return dce_hmac_md5_final(&h, out);
}

/* ------------------------------------------------------------ RC4 */

int dce_rc4_init(dce_rc4 *r, const void *key, size_t klen) {
  EVP_CIPHER_CTX *c;
  r->ctx = NULL;
  CRYPTO_READY();
  if (klen == 0 || klen > 256) return DCE_CRYPTO_EFAIL;
  c = EVP_CIPHER_CTX_new();
  if (!c) return DCE_CRYPTO_EFAIL;
  if (!EVP_EncryptInit_ex2(c, ci_rc4, NULL, NULL, NULL)
      || !EVP_CIPHER_CTX_set_key_length(c, (int)klen)
      || !EVP_EncryptInit_ex2(c, NULL, key, NULL, NULL)) {
    EVP_CIPHER_CTX_free(c);
    ERR_clear_error();
    return DCE_CRYPTO_EFAIL;
  }
  r->ctx = c;
  return 0;
}

int dce_rc4_crypt(dce_rc4 *r, uint8_t *buf, size_t len) {
  if (!r->ctx) return DCE_CRYPTO_EFAIL;
  while (len > 0) {
    int chunk = len > (size_t)(INT_MAX / 2) ? INT_MAX / 2 : (int)len, outl = 0;
    if (!EVP_EncryptUpdate((EVP_CIPHER_CTX *)r->ctx, buf, &outl, buf, chunk) || outl != chunk) {
      ERR_clear_error();
      return DCE_CRYPTO_EFAIL;
    }
    buf += chunk; len -= (size_t)chunk;
  }
  return 0;
}

void dce_rc4_free(dce_rc4 *r) {
  if (r->ctx) EVP_CIPHER_CTX_free((EVP_CIPHER_CTX *)r->ctx);   /* cleanses the state */
  r->ctx = NULL;
}

/* ------------------------------------------------------------ DES */

/* Spread 56 key bits over 8 bytes, 7 bits each in the high bits, and set
** odd parity in bit 0 (OpenSSL ignores parity, but it is what DES() means). */
static void des_expand(const uint8_t k[7], uint8_t o[8]) {
  int i;
  o[0] = k[0];
  o[1] = (uint8_t)((k[0] << 7) | (k[1] >> 1));
  o[2] = (uint8_t)((k[1] << 6) | (k[2] >> 2));
  o[3] = (uint8_t)((k[2] << 5) | (k[3] >> 3));
  o[4] = (uint8_t)((k[3] << 4) | (k[4] >> 4));
  o[5] = (uint8_t)((k[4] << 3) | (k[5] >> 5));
  o[6] = (uint8_t)((k[5] << 2) | (k[6] >> 6));
  o[7] = (uint8_t)(k[6] << 1);
  for (i = 0; i < 8; i++) {
    uint8_t b = (uint8_t)(o[i] & 0xfe), p = b;
    p ^= (uint8_t)(p >> 4); p ^= (uint8_t)(p >> 2); p ^= (uint8_t)(p >> 1);
    o[i] = (uint8_t)(b | (~p & 1));
  }
}

int dce_des7_ecb(const uint8_t key7[7], const uint8_t in[8], uint8_t out[8]) {
  EVP_CIPHER_CTX *c;
  uint8_t key[8];
  int outl = 0, ok;
  CRYPTO_READY();
  c = EVP_CIPHER_CTX_new();
  if (!c) return DCE_CRYPTO_EFAIL;
  des_expand(key7, key);
  ok = EVP_EncryptInit_ex2(c, ci_des, key, NULL, NULL)
       && EVP_CIPHER_CTX_set_padding(c, 0)
       && EVP_EncryptUpdate(c, out, &outl, in, 8) && outl == 8;
  EVP_CIPHER_CTX_free(c);
  dce_secure_zero(key, sizeof key);
  if (!ok) { ERR_clear_error(); return DCE_CRYPTO_EFAIL; }
  return 0;
}

/* ------------------------------------------------------------ SHA-2 */

int dce_sha256(const void *data, size_t len, uint8_t out[32]) {
  unsigned int n = 0;
  CRYPTO_READY();
  if (!EVP_Digest(data ? data : "", len, out, &n, md_sha256, NULL) || n != 32) {
    ERR_clear_error();
    return DCE_CRYPTO_EFAIL;
  }
  return 0;
}

int dce_sha512(const void *data, size_t len, uint8_t out[64]) {
  unsigned int n = 0;
  CRYPTO_READY();
  if (!EVP_Digest(data ? data : "", len, out, &n, md_sha512, NULL) || n != 64) {
    ERR_clear_error();
    return DCE_CRYPTO_EFAIL;
  }
  return 0;
}

int dce_sha512_init(dce_sha512_ctx *h) {
  EVP_MD_CTX *c;
  h->md = NULL;
  CRYPTO_READY();
  c = EVP_MD_CTX_new();
  if (!c) return DCE_CRYPTO_EFAIL;
  if (!EVP_DigestInit_ex2(c, md_sha512, NULL)) {
    EVP_MD_CTX_free(c);
    ERR_clear_error();
    return DCE_CRYPTO_EFAIL;
  }
  h->md = c;
  return 0;
}

int dce_sha512_update(dce_sha512_ctx *h, const void *data, size_t len) {
  if (!h->md) return DCE_CRYPTO_EINVAL;
  if (len && !EVP_DigestUpdate((EVP_MD_CTX *)h->md, data, len)) {
    ERR_clear_error();
    return DCE_CRYPTO_EFAIL;
  }
  return 0;
}

int dce_sha512_final(dce_sha512_ctx *h, uint8_t out[64]) {
  unsigned int n = 0;
  int ok;
  if (!h->md) return DCE_CRYPTO_EINVAL;
  ok = EVP_DigestFinal_ex((EVP_MD_CTX *)h->md, out, &n) && n == 64;
  dce_sha512_free(h);
  if (!ok) { ERR_clear_error(); return DCE_CRYPTO_EFAIL; }
  return 0;
}

void dce_sha512_free(dce_sha512_ctx *h) {
  if (h->md) EVP_MD_CTX_free((EVP_MD_CTX *)h->md);
  h->md = NULL;
}

/* ------------------------------------------------------------ MACs over pieces */

/* A MAC context with its key set: start over (a NULL key keeps the one set
** at init, for HMAC and CMAC alike), feed the pieces, finish into exactly
** outlen bytes. */
static int mac_pieces(EVP_MAC_CTX *c, const dce_span *v, size_t n, uint8_t *out, size_t outlen) {
  size_t i, got = 0;
  if (!EVP_MAC_init(c, NULL, 0, NULL)) goto fail;
  for (i = 0; i < n; i++)
    if (v[i].len && !EVP_MAC_update(c, v[i].p, v[i].len)) goto fail;
  if (!EVP_MAC_final(c, out, &got, outlen) || got != outlen) goto fail;
  return 0;
fail:
  ERR_clear_error();
  return DCE_CRYPTO_EFAIL;
}

/* A new MAC context of `mac` keyed with key[0..klen), params as given. */
static int mac_new(EVP_MAC *mac, const void *key, size_t klen, const OSSL_PARAM *params,
                   void **out) {
  static const unsigned char nokey[1] = { 0 };
  EVP_MAC_CTX *c;
  *out = NULL;
  c = EVP_MAC_CTX_new(mac);
  if (!c) return DCE_CRYPTO_EFAIL;
  /* a NULL key means "keep the previous key" to OpenSSL: never pass NULL */
  if (!EVP_MAC_init(c, key ? key : nokey, key ? klen : 0, params)) {
    EVP_MAC_CTX_free(c);
    ERR_clear_error();
    return DCE_CRYPTO_EFAIL;
  }
  *out = c;
  return 0;
}

int dce_hmac_sha256_key_init(dce_hmac_sha256_key *k, const void *key, size_t klen) {
  OSSL_PARAM params[2];
  k->mac = NULL;
  CRYPTO_READY();
  params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
  params[1] = OSSL_PARAM_construct_end();
  return mac_new(mac_hmac, key, klen, params, &k->mac);
}

int dce_hmac_sha256_key_mac(dce_hmac_sha256_key *k, const dce_span *v, size_t n, uint8_t out[32]) {
  if (!k->mac) return DCE_CRYPTO_EINVAL;
  return mac_pieces((EVP_MAC_CTX *)k->mac, v, n, out, 32);
}

void dce_hmac_sha256_key_free(dce_hmac_sha256_key *k) {
  if (k->mac) EVP_MAC_CTX_free((EVP_MAC_CTX *)k->mac);   /* wipes the key */
  k->mac = NULL;
}

int dce_hmac_sha256(const void *key, size_t klen, const dce_span *v, size_t n, uint8_t out[32]) {
  dce_hmac_sha256_key k;
  int rc = dce_hmac_sha256_key_init(&k, key, klen);
  if (rc) return rc;
  rc = dce_hmac_sha256_key_mac(&k, v, n, out);
  dce_hmac_sha256_key_free(&k);
  return rc;
}

int dce_cmac_key_init(dce_cmac_key *k, const uint8_t key[16]) {
  OSSL_PARAM params[2];
  k->mac = NULL;
  CRYPTO_READY();
  if (!key) return DCE_CRYPTO_EINVAL;
  params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, (char *)"AES-128-CBC", 0);
  params[1] = OSSL_PARAM_construct_end();
  return mac_new(mac_cmac, key, 16, params, &k->mac);
}

int dce_cmac_key_mac(dce_cmac_key *k, const dce_span *v, size_t n, uint8_t out[16]) {
  if (!k->mac) return DCE_CRYPTO_EINVAL;
  return mac_pieces((EVP_MAC_CTX *)k->mac, v, n, out, 16);
}

void dce_cmac_key_free(dce_cmac_key *k) {
  if (k->mac) EVP_MAC_CTX_free((EVP_MAC_CTX *)k->mac);
  k->mac = NULL;
}

int dce_cmac_aes128(const uint8_t key[16], const dce_span *v, size_t n, uint8_t out[16]) {
  dce_cmac_key k;
  int rc = dce_cmac_key_init(&k, key);
  if (rc) return rc;
  rc = dce_cmac_key_mac(&k, v, n, out);
  dce_cmac_key_free(&k);
  return rc;
}

/* ------------------------------------------------------------ AEAD */

static int aead_is_ccm(int alg) { return alg == DCE_AEAD_AES128_CCM || alg == DCE_AEAD_AES256_CCM; }

/* One direction's context: cipher, CCM's tag length, the key. The key
** schedule is made for that direction (OpenSSL's AES-NI CCM picks its
** encrypt or decrypt routine when the key is set), so the direction of a
** context never changes afterwards. */
static EVP_CIPHER_CTX *aead_ctx(int alg, int enc, const uint8_t *key) {
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  if (!c) return NULL;
  if (!EVP_CipherInit_ex2(c, ci_aead[alg], NULL, NULL, enc, NULL)
      || (aead_is_ccm(alg) && !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, 11, NULL))
      || (aead_is_ccm(alg) && !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, DCE_AEAD_TAG_SIZE, NULL))
      || !EVP_CipherInit_ex2(c, NULL, key, NULL, enc, NULL)) {
    EVP_CIPHER_CTX_free(c);
    ERR_clear_error();
    return NULL;
  }
  return c;
}

int dce_aead_key_init(dce_aead_key *k, int alg, const uint8_t *key, size_t klen) {
  k->enc = k->dec = NULL; k->alg = 0;
  CRYPTO_READY();
  if (alg < DCE_AEAD_AES128_CCM || alg > DCE_AEAD_AES256_GCM || !key) return DCE_CRYPTO_EINVAL;
  if (klen != (alg >= DCE_AEAD_AES256_CCM ? 32u : 16u)) return DCE_CRYPTO_EINVAL;
  /* keyed once here; each message then passes only its nonce */
  k->enc = aead_ctx(alg, 1, key);
  k->dec = k->enc ? aead_ctx(alg, 0, key) : NULL;
  if (!k->dec) {
    dce_aead_key_free(k);
    return DCE_CRYPTO_EFAIL;
  }
  k->alg = alg;
  return 0;
}

void dce_aead_key_free(dce_aead_key *k) {
  /* EVP_CIPHER_CTX_free cleanses the key schedules */
  if (k->enc) EVP_CIPHER_CTX_free((EVP_CIPHER_CTX *)k->enc);
  if (k->dec) EVP_CIPHER_CTX_free((EVP_CIPHER_CTX *)k->dec);
  k->enc = k->dec = NULL; k->alg = 0;
}

/* One message, either way. tag is read (decrypt) or written (encrypt). */
static int aead_run(dce_aead_key *k, int enc, const uint8_t *nonce, size_t nlen,
                    const dce_span *aad, size_t naad, uint8_t *buf, size_t len, uint8_t *tag) {
  EVP_CIPHER_CTX *c = (EVP_CIPHER_CTX *)(enc ? k->enc : k->dec);
  int ccm, outl = 0, ok;
  size_t i;
  if (!c || !nonce || !tag || (len && !buf)) return DCE_CRYPTO_EINVAL;
  ccm = aead_is_ccm(k->alg);
  if (ccm ? (nlen < 7 || nlen > 13) : nlen != 12) return DCE_CRYPTO_EINVAL;
  if (len > (size_t)INT_MAX) return DCE_CRYPTO_EINVAL;
  for (i = 0; i < naad; i++)
    if (aad[i].len > (size_t)INT_MAX) return DCE_CRYPTO_EINVAL;

  /* the nonce; the key set at init stays (a NULL key keeps it) */
  if (ccm && !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, (int)nlen, NULL)) goto fail;
  if (!EVP_CipherInit_ex2(c, NULL, NULL, nonce, enc, NULL)) goto fail;
  /* CCM checks the tag inside the one data call: it must be known first */
  if (ccm && !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, DCE_AEAD_TAG_SIZE, enc ? NULL : tag))
    goto fail;
  /* CCM needs the total data length before the additional data */
  if (ccm && !EVP_CipherUpdate(c, NULL, &outl, NULL, (int)len)) goto fail;
  for (i = 0; i < naad; i++)
    if (aad[i].len && !EVP_CipherUpdate(c, NULL, &outl, aad[i].p, (int)aad[i].len)) goto fail;
  if (ccm || len) {
    ok = EVP_CipherUpdate(c, buf, &outl, buf, (int)len);
    if (!ok && ccm && !enc) goto forged;         /* CCM reports a bad tag here */
    if (!ok || outl != (int)len) goto fail;
  }
  if (!ccm) {
    if (!enc && !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, DCE_AEAD_TAG_SIZE, tag)) goto fail;
    if (!EVP_CipherFinal_ex(c, buf ? buf + len : NULL, &outl)) {
      if (!enc) goto forged;
      goto fail;
    }
  }
  if (enc && !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, DCE_AEAD_TAG_SIZE, tag)) goto fail;
  return 0;
forged:
  ERR_clear_error();
  if (len) dce_secure_zero(buf, len);
  return DCE_CRYPTO_EAUTH;
fail:
  ERR_clear_error();
  if (!enc && len) dce_secure_zero(buf, len);
  return DCE_CRYPTO_EFAIL;
}

int dce_aead_encrypt(dce_aead_key *k, const uint8_t *nonce, size_t nlen,
                     const dce_span *aad, size_t naad, uint8_t *buf, size_t len,
                     uint8_t tag[16]) {
  return aead_run(k, 1, nonce, nlen, aad, naad, buf, len, tag);
}

int dce_aead_decrypt(dce_aead_key *k, const uint8_t *nonce, size_t nlen,
                     const dce_span *aad, size_t naad, uint8_t *buf, size_t len,
                     const uint8_t tag[16]) {
  uint8_t t[DCE_AEAD_TAG_SIZE];
  if (!tag) return DCE_CRYPTO_EINVAL;
  memcpy(t, tag, sizeof t);                   /* OpenSSL's ctrl takes a non-const pointer */
  return aead_run(k, 0, nonce, nlen, aad, naad, buf, len, t);
}

/* ------------------------------------------------------------ SP800-108 */

int dce_kdf_ctr_hmac_sha256(const void *ki, size_t kilen, const void *label, size_t llen,
                            const void *context, size_t clen, uint8_t *out, size_t outlen) {
  static const unsigned char empty[1] = { 0 };
  EVP_KDF_CTX *c;
  OSSL_PARAM params[7], *p = params;
  int ok;
  CRYPTO_READY();
  if (!ki || kilen == 0 || !out || outlen == 0 || outlen > 64) return DCE_CRYPTO_EINVAL;
  c = EVP_KDF_CTX_new(kdf_kbkdf);
  if (!c) return DCE_CRYPTO_EFAIL;
  /* OpenSSL's KBKDF is SP800-108 with r = 32, the 0x00 separator and
  ** [L]_32be appended by default: exactly SMB's form. Salt is the Label,
  ** info the Context. */
  *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MODE, (char *)"counter", 0);
  *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MAC, (char *)"HMAC", 0);
  *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
  *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ki, kilen);
  *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
                                           (void *)(llen ? label : empty), llen);
  *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
                                           (void *)(clen ? context : empty), clen);
  *p = OSSL_PARAM_construct_end();
  ok = EVP_KDF_derive(c, out, outlen, params);
  EVP_KDF_CTX_free(c);
  if (!ok) { ERR_clear_error(); return DCE_CRYPTO_EFAIL; }
  return 0;
}

/* ------------------------------------------------------------ misc */

int dce_random_bytes(void *buf, size_t len) {
  CRYPTO_READY();
  if (len && RAND_bytes_ex(libctx, buf, len, 0) != 1) {
    ERR_clear_error();
    return DCE_CRYPTO_EFAIL;
  }
  return 0;
}

void dce_secure_zero(void *p, size_t len) {
  if (p && len) OPENSSL_cleanse(p, len);
}

int dce_ct_memcmp(const void *a, const void *b, size_t len) {
  return len ? CRYPTO_memcmp(a, b, len) : 0;
}
