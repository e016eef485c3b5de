/*
** crypto.h - the few primitives the auth mechanisms and SMB 2/3 need, over
** OpenSSL 3 libcrypto. No OpenSSL type leaks through this header.
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
#define DCE_CRYPTO_EAUTH    (-3)   /* an AEAD tag did not verify: the data was altered */
#define DCE_CRYPTO_EINVAL   (-4)   /* bad argument: key or nonce length, closed handle,
                                      more than INT_MAX bytes at once */

/* A piece of a message that lives in several buffers (an SMB2 header and its
** body, say): the MACs and AEADs below take arrays of them, so nothing is
** copied to make the message contiguous. A NULL p is allowed when len is 0. */
typedef struct dce_span { const void *p; size_t len; } dce_span;

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

/* ------------------------------------------------------------ SHA-2, HMAC-SHA256 */

/* SHA-512, one-shot and incremental (SMB 3.1.1 pre-authentication
** integrity). The incremental form is like HMAC-MD5's: init, updates, final
** (which frees); dce_sha512_free releases an unfinished one and is safe on a
** zeroed or finished struct. */
int dce_sha256(const void *data, size_t len, uint8_t out[32]);
int dce_sha512(const void *data, size_t len, uint8_t out[64]);
typedef struct dce_sha512_ctx { void *md; } dce_sha512_ctx;
int dce_sha512_init(dce_sha512_ctx *h);
int dce_sha512_update(dce_sha512_ctx *h, const void *data, size_t len);
int dce_sha512_final(dce_sha512_ctx *h, uint8_t out[64]);
void dce_sha512_free(dce_sha512_ctx *h);

/* HMAC-SHA256 of the concatenation of n pieces (out: the full 32 bytes;
** SMB 2.x keeps the first 16). */
int dce_hmac_sha256(const void *key, size_t klen, const dce_span *v, size_t n, uint8_t out[32]);

/* HMAC-SHA256 under one key for many messages: the key is set once, each
** mac re-initialises the same context, no allocation. A zeroed struct is a
** valid closed handle; _free wipes and releases and may be called on one.
** A handle is not thread-safe: one per session (and direction). */
typedef struct dce_hmac_sha256_key { void *mac; } dce_hmac_sha256_key;
int dce_hmac_sha256_key_init(dce_hmac_sha256_key *k, const void *key, size_t klen);
int dce_hmac_sha256_key_mac(dce_hmac_sha256_key *k, const dce_span *v, size_t n, uint8_t out[32]);
void dce_hmac_sha256_key_free(dce_hmac_sha256_key *k);

/* ------------------------------------------------------------ AES-128-CMAC */

/* AES-128-CMAC (RFC 4493) of n pieces under a 16-byte key; the per-key
** handle follows the HMAC-SHA256 one (set once, mac many, not thread-safe). */
int dce_cmac_aes128(const uint8_t key[16], const dce_span *v, size_t n, uint8_t out[16]);
typedef struct dce_cmac_key { void *mac; } dce_cmac_key;
int dce_cmac_key_init(dce_cmac_key *k, const uint8_t key[16]);
int dce_cmac_key_mac(dce_cmac_key *k, const dce_span *v, size_t n, uint8_t out[16]);
void dce_cmac_key_free(dce_cmac_key *k);

/* ------------------------------------------------------------ AEAD: AES-CCM, AES-GCM */

/* The algorithms; the values are SMB 3.1.1's cipher ids, so an SMB caller
** passes its CipherId through, but nothing here depends on SMB. */
#define DCE_AEAD_AES128_CCM 1      /* 16-byte key, nonce 7..13 bytes (SMB: 11) */
#define DCE_AEAD_AES128_GCM 2      /* 16-byte key, nonce 12 bytes */
#define DCE_AEAD_AES256_CCM 3      /* 32-byte key */
#define DCE_AEAD_AES256_GCM 4      /* 32-byte key */
#define DCE_AEAD_TAG_SIZE   16     /* the tag is always 16 bytes here */

/* An AEAD key: the key is scheduled once, for each direction (one context
** encrypts, one decrypts); each message only sets its nonce. A zeroed
** struct is a valid closed handle; _free wipes and releases it. Not
** thread-safe: one per key and thread. */
typedef struct dce_aead_key { void *enc, *dec; int alg; } dce_aead_key;
/* klen must be the algorithm's (16 or 32): else DCE_CRYPTO_EINVAL. */
int dce_aead_key_init(dce_aead_key *k, int alg, const uint8_t *key, size_t klen);
/* Encrypt buf[0..len) in place and authenticate it together with the n
** pieces of additional data; the 16-byte tag goes to tag. With len 0 (buf
** may be NULL) under a GCM key this is GMAC: a MAC of the additional data.
** len is at most INT_MAX (CCM takes the data in one call). */
int dce_aead_encrypt(dce_aead_key *k, const uint8_t *nonce, size_t nlen,
                     const dce_span *aad, size_t naad, uint8_t *buf, size_t len,
                     uint8_t tag[16]);
/* Decrypt buf[0..len) in place and verify tag over it and the additional
** data. DCE_CRYPTO_EAUTH when the tag does not match; buf is then zeroed, so
** unauthenticated plaintext is never left for the caller to use. */
int dce_aead_decrypt(dce_aead_key *k, const uint8_t *nonce, size_t nlen,
                     const dce_span *aad, size_t naad, uint8_t *buf, size_t len,
                     const uint8_t tag[16]);
void dce_aead_key_free(dce_aead_key *k);

/* ------------------------------------------------------------ SP800-108 KDF */

/* SP800-108 KDF in counter mode with HMAC-SHA256 as the PRF, r = 32,
** L = 8 * outlen (the form [MS-SMB2] 3.1.4.2 uses):
**   K(i) = HMAC-SHA256(Ki, [i]_32be || Label || 0x00 || Context || [L]_32be)
** Label and Context are taken exactly as given: SMB's labels include their
** terminating NUL in llen ("SMB2AESCMAC\0" is 12 bytes), and the 0x00
** separator is added here in addition. outlen is 1..64. */
int dce_kdf_ctr_hmac_sha256(const void *ki, size_t kilen, const void *label, size_t llen,
                            const void *context, size_t clen, uint8_t *out, size_t outlen);

/* Cryptographically strong random bytes. */
int dce_random_bytes(void *buf, size_t len);

/* Wipe memory so the compiler keeps the stores; compare in constant time
** (returns 0 when equal). */
void dce_secure_zero(void *p, size_t len);
int dce_ct_memcmp(const void *a, const void *b, size_t len);

#endif
