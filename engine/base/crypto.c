/*
** crypto.c - MD4, MD5, HMAC-MD5, RC4, DES and random bytes from OpenSSL 3,
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
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <openssl/rand.h>

#include "base/crypto.h"

static pthread_once_t crypto_once = PTHREAD_ONCE_INIT;
static int crypto_status = DCE_CRYPTO_ENOPROV;
static char crypto_msg[160];

static OSSL_LIB_CTX *libctx;
static EVP_MD *md_md4, *md_md5;
static EVP_MAC *mac_hmac;
static EVP_CIPHER *ci_rc4, *ci_des;

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
