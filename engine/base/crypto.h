/*
** crypto.h - the few primitives the auth mechanisms need, over OpenSSL 3
** libcrypto. No OpenSSL type leaks through this header.
**
** The module owns one OSSL_LIB_CTX with the "default" and "legacy"
** providers loaded (MD4, RC4 and single DES live in "legacy", which OpenSSL 3
** does not load by itself). It is set up once, on first use, under
** pthread_once, so any thread may call any function at any time.
**
** Every function that can fail returns 0 or DCE_CRYPTO_E*; when the legacy
** provider is missing they all fail with DCE_CRYPTO_ENOPROV and
** dce_crypto_error() says why in a sentence.
*/
#ifndef DCE_CRYPTO_H
#define DCE_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define DCE_CRYPTO_ENOPROV  (-1)   /* providers could not be loaded */
#define DCE_CRYPTO_EFAIL    (-2)   /* an OpenSSL call failed (or out of memory) */

/* Load the providers (idempotent, thread-safe). 0 or DCE_CRYPTO_ENOPROV. */
int dce_crypto_init(void);
/* Why initialisation failed, or "" when it did not. */
const char *dce_crypto_error(void);

/* One-shot digests. */
int dce_md4(const void *data, size_t len, uint8_t out[16]);
int dce_md5(const void *data, size_t len, uint8_t out[16]);
int dce_hmac_md5(const void *key, size_t klen, const void *data, size_t len, uint8_t out[16]);

/* Incremental HMAC-MD5: init, any number of updates, final (which also
** frees). dce_hmac_md5_free releases an unfinished one; it is safe on a
** zeroed or finished struct. */
typedef struct dce_hmac_md5_ctx { void *mac; } dce_hmac_md5_ctx;
int dce_hmac_md5_init(dce_hmac_md5_ctx *h, const void *key, size_t klen);
int dce_hmac_md5_update(dce_hmac_md5_ctx *h, const void *data, size_t len);
int dce_hmac_md5_final(dce_hmac_md5_ctx *h, uint8_t out[16]);
void dce_hmac_md5_free(dce_hmac_md5_ctx *h);

/* RC4 stream: the key schedule state persists across dce_rc4_crypt calls,
** as NTLM sealing needs. A zeroed struct is a valid "closed" handle;
** dce_rc4_free wipes and releases it and may be called on a closed handle. */
/* HMAC-MD5 under one key for many messages (NTLM signing): the key is set
** once, each mac re-initialises the same context (no allocation). */
typedef struct dce_hmac_md5_key { void *mac; } dce_hmac_md5_key;
int dce_hmac_md5_key_init(dce_hmac_md5_key *k, const void *key, size_t klen);
int dce_hmac_md5_key_mac(dce_hmac_md5_key *k, const void *a, size_t alen,
                         const void *b, size_t blen, uint8_t out[16]);   /* HMAC(key, a || b) */
void dce_hmac_md5_key_free(dce_hmac_md5_key *k);

typedef struct dce_rc4 { void *ctx; } dce_rc4;
int dce_rc4_init(dce_rc4 *r, const void *key, size_t klen);
int dce_rc4_crypt(dce_rc4 *r, uint8_t *buf, size_t len);   /* in place */
void dce_rc4_free(dce_rc4 *r);

/* DES-ECB of one block under a 56-bit key given as 7 bytes (expanded to 8
** with parity bits, as [MS-NLMP] section 6 DES() describes). */
int dce_des7_ecb(const uint8_t key7[7], const uint8_t in[8], uint8_t out[8]);

/* Cryptographically strong random bytes. */
int dce_random_bytes(void *buf, size_t len);

/* Wipe memory so the compiler keeps the stores; compare in constant time
** (returns 0 when equal). */
void dce_secure_zero(void *p, size_t len);
int dce_ct_memcmp(const void *a, const void *b, size_t len);

#endif
