/*
** smb_crypt.h - the cryptography of SMB 2 and 3, sans IO ([MS-SMB2] 3.1.4,
** 3.1.5, 3.2.5.3.1, 3.3.5.5.3): session keys by dialect, signing and
** verifying one message, the SMB2 TRANSFORM_HEADER (encrypting and
** decrypting in place), and the SMB 3.1.1 pre-authentication hash.
**
** Nothing here reads a socket or a clock; the SMB2 client (or a server)
** hands in the bytes of one message and gets them back signed, verified,
** encrypted or decrypted. The primitives come from base/crypto.h.
**
** Lifecycle (one authenticated session):
**   dce_smb_preauth_init(h)                 when the connection starts (3.1.1)
**   dce_smb_preauth_update(h, ...)          NEGOTIATE request, response;
**                                           per session: a copy of h, then every
**                                           SESSION_SETUP request and every response
**                                           but the final (STATUS_SUCCESS) one
**   dce_smb_keys_derive(&k, dialect, sign_algo, cipher, key, n, h, &e)
**   dce_smb_crypt_init(&c, &k, DCE_SMB_CLIENT, &e)   then dce_smb_keys_wipe(&k)
**   ... dce_smb_sign / verify / encrypt / decrypt, for every message ...
**   dce_smb_crypt_free(&c)                  wipes the keys
**
** Every function returns DCE_SMB_OK (0) or a DCE_SMB_E* code (negative),
** and when given a dce_err fills it: kind DCE_E_MISUSE for the caller's
** mistakes (DCE_SMB_E_ARG), otherwise DCE_E_REFUSED with an NTSTATUS and a
** message naming the field and the numbers, e.g. "SMB2 TRANSFORM_HEADER:
** OriginalMessageSize 200 but 180 bytes follow the header".
**
** A dce_smb_crypt is not thread-safe (the OpenSSL contexts in it are reused
** for every message): one per session, used by one thread at a time.
*/
#ifndef DCE_SMB_CRYPT_H
#define DCE_SMB_CRYPT_H

#include <stddef.h>
#include <stdint.h>
#include "base/crypto.h"
#include "base/err.h"

/* ------------------------------------------------------------ protocol constants */

/* Dialects (NEGOTIATE DialectRevision) */
#define DCE_SMB2_DIALECT_202  0x0202
#define DCE_SMB2_DIALECT_210  0x0210
#define DCE_SMB2_DIALECT_300  0x0300
#define DCE_SMB2_DIALECT_302  0x0302
#define DCE_SMB2_DIALECT_311  0x0311

/* Signing algorithms (3.1.1 SMB2_SIGNING_CAPABILITIES, 2.2.3.1.7) */
#define DCE_SMB2_SIGN_HMAC_SHA256  0x0000
#define DCE_SMB2_SIGN_AES_CMAC     0x0001
#define DCE_SMB2_SIGN_AES_GMAC     0x0002
#define DCE_SMB2_SIGN_DEFAULT      0xFFFF   /* none negotiated: the dialect's own */

/* Ciphers (3.1.1 SMB2_ENCRYPTION_CAPABILITIES, 2.2.3.1.2) */
#define DCE_SMB2_CIPHER_NONE        0x0000
#define DCE_SMB2_CIPHER_AES128_CCM  0x0001
#define DCE_SMB2_CIPHER_AES128_GCM  0x0002
#define DCE_SMB2_CIPHER_AES256_CCM  0x0003
#define DCE_SMB2_CIPHER_AES256_GCM  0x0004

/* The SMB2 header (2.2.1) as far as signing needs it */
#define DCE_SMB2_HDR_SIZE        64
#define DCE_SMB2_HDR_FLAGS       16      /* offset of Flags (LE32) */
#define DCE_SMB2_HDR_COMMAND     12      /* offset of Command (LE16) */
#define DCE_SMB2_HDR_MESSAGE_ID  24      /* offset of MessageId (LE64) */
#define DCE_SMB2_HDR_SIGNATURE   48      /* offset of Signature (16 bytes) */
#define DCE_SMB2_SIG_SIZE        16
#define DCE_SMB2_FLAGS_SERVER_TO_REDIR 0x00000001u   /* a response */
#define DCE_SMB2_FLAGS_SIGNED          0x00000008u
#define DCE_SMB2_CANCEL          0x000C

/* The SMB2 TRANSFORM_HEADER (2.2.41): 52 bytes, the AAD is bytes 20..51 */
#define DCE_SMB2_TRANSFORM_SIZE  52
#define DCE_SMB2_TRANSFORM_AAD   20
#define DCE_SMB2_TRANSFORM_FLAGS_ENCRYPTED 0x0001

#define DCE_SMB2_PREAUTH_SIZE    64      /* SHA-512 */

/* Who we are: decides which key encrypts and which decrypts, and the role
** bit of the AES-GMAC nonce. */
#define DCE_SMB_CLIENT 0
#define DCE_SMB_SERVER 1

/* ------------------------------------------------------------ results */

#define DCE_SMB_OK          0
#define DCE_SMB_E_ARG     (-1)   /* caller's mistake: unknown dialect/cipher, bad key length, NULL */
#define DCE_SMB_E_CRYPTO  (-2)   /* the crypto module failed (providers missing, out of memory) */
#define DCE_SMB_E_NOKEY   (-3)   /* no key for it: no cipher negotiated, or a 2.x session */
#define DCE_SMB_E_SHORT   (-4)   /* fewer bytes than a header */
#define DCE_SMB_E_PROTOCOL (-5)  /* ProtocolId is not 0xFD 'S' 'M' 'B' */
#define DCE_SMB_E_SIZE    (-6)   /* OriginalMessageSize disagrees with the bytes present */
#define DCE_SMB_E_FLAGS   (-7)   /* Flags/EncryptionAlgorithm is not 0x0001 */
#define DCE_SMB_E_SESSION (-8)   /* SessionId is not the session's */
#define DCE_SMB_E_SIGNATURE (-9) /* signature or AEAD tag does not verify: altered or forged */
#define DCE_SMB_E_NONCE   (-10)  /* 2^64 messages under one key: the nonce space is used up */

/* A short stable name for a result ("bad_signature", "short" ...), or NULL. */
const char *dce_smb_crypt_rcname(int rc);

/* NTSTATUS put in a dce_err for a refusal */
#define DCE_SMB_STATUS_ACCESS_DENIED      0xC0000022u   /* bad signature or tag */
#define DCE_SMB_STATUS_INVALID_PARAMETER  0xC000000Du   /* malformed transform header */
#define DCE_SMB_STATUS_USER_SESSION_DELETED 0xC0000203u /* unknown SessionId */
#define DCE_SMB_STATUS_INTERNAL_ERROR     0xC00000E5u   /* crypto provider failure */

/* ------------------------------------------------------------ keys */

/* The keys of one session, as [MS-SMB2] 3.2.5.3.1 (client) and 3.3.5.5.3
** (server) derive them. Plain bytes; wipe with dce_smb_keys_wipe. */
typedef struct dce_smb_keys {
  uint16_t dialect;            /* DCE_SMB2_DIALECT_* */
  uint16_t sign_algo;          /* DCE_SMB2_SIGN_* actually in force (never _DEFAULT) */
  uint16_t cipher;             /* DCE_SMB2_CIPHER_*, NONE when there is no encryption */
  uint8_t cipher_key_len;      /* 16, 32 (AES-256), 0 with no cipher */
  uint8_t signing[16];         /* SigningKey (2.x: the session key) */
  uint8_t application[16];     /* ApplicationKey: RPC over a pipe of this session uses it
                                  as its session key */
  uint8_t encryption[32];      /* EncryptionKey, client -> server ("ServerIn "/SMBC2SCipherKey) */
  uint8_t decryption[32];      /* DecryptionKey, server -> client ("ServerOut"/SMBS2CCipherKey) */
} dce_smb_keys;

/* Derive every key of a session.
**   session_key/sklen  the GSS (NTLM, Kerberos) session key, any length > 0;
**                      SessionKey is its first 16 bytes, zero-padded; AES-256
**                      ciphers derive from the whole key (FullSessionKey, L=256)
**   dialect            DCE_SMB2_DIALECT_*
**   sign_algo          3.1.1: the negotiated SigningAlgorithmId, or
**                      DCE_SMB2_SIGN_DEFAULT when none was (AES-CMAC);
**                      earlier dialects fix it (2.x HMAC-SHA256, 3.0.x
**                      AES-CMAC) and accept only _DEFAULT or that one
**   cipher             3.1.1: the negotiated CipherId or NONE; 3.0/3.0.2:
**                      AES128_CCM when encryption is supported, else NONE;
**                      2.x: NONE
**   preauth            3.1.1: the session's PreauthIntegrityHashValue (64
**                      bytes); NULL for other dialects
** Returns DCE_SMB_OK, DCE_SMB_E_ARG or DCE_SMB_E_CRYPTO. */
int dce_smb_keys_derive(dce_smb_keys *k, uint16_t dialect, uint16_t sign_algo, uint16_t cipher,
                        const uint8_t *session_key, size_t sklen, const uint8_t *preauth,
                        dce_err *e);
void dce_smb_keys_wipe(dce_smb_keys *k);

/* ------------------------------------------------------------ per session */

/* The keys turned into ready OpenSSL contexts: a MAC for signing, an AEAD
** key each way. Zero it (or let init fail) and dce_smb_crypt_free is safe. */
typedef struct dce_smb_crypt {
  uint16_t dialect, sign_algo, cipher;
  int role;                    /* DCE_SMB_CLIENT or DCE_SMB_SERVER */
  dce_hmac_sha256_key hmac;    /* 2.x (or 3.1.1 with HMAC-SHA256) */
  dce_cmac_key cmac;           /* AES-CMAC */
  dce_aead_key gmac;           /* AES-GMAC: AES-128-GCM under the signing key */
  dce_aead_key seal, open;     /* our sending key and the peer's */
  uint8_t nonce_salt[12];      /* random per session, see dce_smb_encrypt */
  uint64_t nonce_count;        /* messages encrypted so far */
} dce_smb_crypt;

/* Set up c from k (k is copied into OpenSSL contexts; the caller may wipe
** it right after). role DCE_SMB_CLIENT encrypts with k->encryption and
** decrypts with k->decryption; DCE_SMB_SERVER the other way round.
** DCE_SMB_OK, DCE_SMB_E_ARG or DCE_SMB_E_CRYPTO (c is then freed). */
int dce_smb_crypt_init(dce_smb_crypt *c, const dce_smb_keys *k, int role, dce_err *e);
void dce_smb_crypt_free(dce_smb_crypt *c);

/* ------------------------------------------------------------ signing */

/* Sign one SMB2 message in place (3.1.4.1): msg[0..len) is exactly that
** message (one element of a compound chain, its padding included, from its
** header up to the next one's NextCommand offset). With set_flag,
** SMB2_FLAGS_SIGNED is set first. The signature field is computed as zero
** and then written; nothing else changes. len >= 64 else DCE_SMB_E_SHORT. */
int dce_smb_sign(dce_smb_crypt *c, uint8_t *msg, size_t len, int set_flag);
/* The same over a message whose 64-byte header and body are apart: hdr
** points at the header (written: Flags, Signature), body at n pieces
** (at most 14; more is DCE_SMB_E_ARG). */
int dce_smb_signv(dce_smb_crypt *c, uint8_t hdr[DCE_SMB2_HDR_SIZE],
                  const dce_span *body, size_t n, int set_flag);

/* Verify a received message's signature (3.1.5.1) without changing it: the
** signature field is taken as zero for the computation, the comparison is
** in constant time. DCE_SMB_OK, DCE_SMB_E_SIGNATURE (STATUS_ACCESS_DENIED),
** DCE_SMB_E_SHORT, DCE_SMB_E_CRYPTO. Whether a message had to be signed
** (SMB2_FLAGS_SIGNED, session state) is the caller's decision. */
int dce_smb_verify(dce_smb_crypt *c, const uint8_t *msg, size_t len, dce_err *e);
int dce_smb_verifyv(dce_smb_crypt *c, const uint8_t hdr[DCE_SMB2_HDR_SIZE],
                    const dce_span *body, size_t n, dce_err *e);

/* ------------------------------------------------------------ encryption */

/* Encrypt msg[0..len) in place (3.1.4.3) - one message or a whole compound
** chain - and fill th, the 52-byte TRANSFORM_HEADER that goes before it on
** the wire: ProtocolId, the tag as Signature, Nonce, OriginalMessageSize =
** len, Reserved 0, Flags 0x0001, session_id. The nonce (11 bytes for CCM,
** 12 for GCM, zero-padded to 16) is a per-session random salt XORed with a
** message counter, so it never repeats under one key.
** DCE_SMB_OK, DCE_SMB_E_NOKEY (no cipher), DCE_SMB_E_ARG (len 0 or
** 2 GiB and over), DCE_SMB_E_NONCE, DCE_SMB_E_CRYPTO. */
int dce_smb_encrypt(dce_smb_crypt *c, uint64_t session_id,
                    uint8_t th[DCE_SMB2_TRANSFORM_SIZE], uint8_t *msg, size_t len);
/* The same with the caller's 16-byte Nonce field, copied as it is (the
** cipher uses its first 11 or 12 bytes; the rest should be zero). For
** known-answer tests and callers with their own nonce scheme: it must never
** repeat under one key. */
int dce_smb_encrypt_with_nonce(dce_smb_crypt *c, uint64_t session_id, const uint8_t nonce[16],
                               uint8_t th[DCE_SMB2_TRANSFORM_SIZE], uint8_t *msg, size_t len);

/* Read the SessionId of a received transform message, to find its session
** before decrypting (checks only that 52 bytes and the ProtocolId are there).
** DCE_SMB_OK, DCE_SMB_E_SHORT, DCE_SMB_E_PROTOCOL. */
int dce_smb_transform_session(const uint8_t *buf, size_t len, uint64_t *session_id, dce_err *e);

/* Decrypt a received transform message in place (3.2.5.1.1.1 / 3.3.5.2.1.1):
** buf[0..len) is the whole frame, header included. Checked in this order:
** 52 bytes present (E_SHORT), ProtocolId (E_PROTOCOL), Flags == 0x0001
** (E_FLAGS), a cipher (E_NOKEY), OriginalMessageSize > 0, below 2 GiB and
** equal to the bytes after the header (E_SIZE), SessionId == session_id
** (E_SESSION),
** then the tag (E_SIGNATURE: the ciphertext is zeroed). On success *msg =
** buf + 52 and *msglen = OriginalMessageSize: the plaintext message(s),
** pointing into buf. */
int dce_smb_decrypt(dce_smb_crypt *c, uint64_t session_id, uint8_t *buf, size_t len,
                    uint8_t **msg, size_t *msglen, dce_err *e);

/* ------------------------------------------------------------ pre-authentication integrity */

/* SMB 3.1.1 (3.2.5.2, 3.3.5.4): the hash starts as 64 zero bytes and each
** covered message (given as n pieces, exactly its bytes, without the
** transport's 4-byte length) updates it: h = SHA-512(h || message). */
void dce_smb_preauth_init(uint8_t h[DCE_SMB2_PREAUTH_SIZE]);
int dce_smb_preauth_update(uint8_t h[DCE_SMB2_PREAUTH_SIZE], const dce_span *v, size_t n);

#endif
