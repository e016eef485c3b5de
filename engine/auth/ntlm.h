/*
** ntlm.h - NTLMSSP ([MS-NLMP]) as a sans-IO engine module: the client and
** the server side of the three-message handshake, then message integrity
** (sign / verify) and confidentiality (seal / unseal) for the RPC layer.
**
** Nothing here does I/O: each step takes the peer's token as bytes and
** appends ours to a dce_buf. Every function returns an NTSTATUS-like code,
** 0 on success.
**
** Lifecycle (client):
**   c = dce_ntlm_client_new(&cred, DCE_NTLM_WANT_SIGN | DCE_NTLM_WANT_SEAL)
**   dce_ntlm_client_negotiate(c, &out)              -> NEGOTIATE_MESSAGE
**   dce_ntlm_client_authenticate(c, chal, n, &out)  -> AUTHENTICATE_MESSAGE
**   ... dce_ntlm_sign / seal / verify / unseal ...
** Lifecycle (server):
**   s = dce_ntlm_server_new(&cfg)
**   dce_ntlm_server_challenge(s, neg, n, &out)      -> CHALLENGE_MESSAGE
**   dce_ntlm_server_parse_auth(s, auth, n, &info)   -> who claims to log on
**   (the caller looks up the user's NT hash, e.g. through a Lua callback)
**   dce_ntlm_server_verify(s, nt_hash)              -> 0 or STATUS_LOGON_FAILURE
**
** Strings in and out are UTF-8 (WTF-8 accepted); UTF-16LE on the wire.
** NTOWFv2 upper-cases the user name: ASCII, Latin-1, Latin Extended-A, basic
** Greek and basic Cyrillic letters are upper-cased as Windows does; other
** characters are left as they are (see docs/ntlm.md).
**
** A context is not thread-safe; use one per connection. The crypto module
** underneath is.
*/
#ifndef DCE_NTLM_H
#define DCE_NTLM_H

#include <stddef.h>
#include <stdint.h>
#include "base/buf.h"

/* ------------------------------------------------------------ status codes */
#define DCE_NTLM_OK                    0u
#define DCE_NTLM_E_LOGON_FAILURE       0xC000006Du  /* STATUS_LOGON_FAILURE: bad response / MIC */
#define DCE_NTLM_E_INVALID_PARAMETER   0xC000000Du  /* STATUS_INVALID_PARAMETER: malformed message */
#define DCE_NTLM_E_NO_MEMORY           0xC0000017u  /* STATUS_NO_MEMORY */
#define DCE_NTLM_E_NOT_SUPPORTED       0xC00000BBu  /* STATUS_NOT_SUPPORTED: peer lacks what we require */
#define DCE_NTLM_E_INTERNAL            0xC00000E5u  /* STATUS_INTERNAL_ERROR: crypto provider failure */
#define DCE_NTLM_E_STATE               0xC0000184u  /* STATUS_INVALID_DEVICE_STATE: call out of order */
#define DCE_NTLM_E_MESSAGE_ALTERED     0x8009030Fu  /* SEC_E_MESSAGE_ALTERED: bad signature */
#define DCE_NTLM_E_OUT_OF_SEQUENCE     0x80090310u  /* SEC_E_OUT_OF_SEQUENCE: replayed / reordered */

/* ------------------------------------------------------------ flags (2.2.2.5) */
#define NTLMSSP_NEGOTIATE_UNICODE                  0x00000001u
#define NTLMSSP_NEGOTIATE_OEM                      0x00000002u
#define NTLMSSP_REQUEST_TARGET                     0x00000004u
#define NTLMSSP_NEGOTIATE_SIGN                     0x00000010u
#define NTLMSSP_NEGOTIATE_SEAL                     0x00000020u
#define NTLMSSP_NEGOTIATE_DATAGRAM                 0x00000040u
#define NTLMSSP_NEGOTIATE_LM_KEY                   0x00000080u
#define NTLMSSP_NEGOTIATE_NTLM                     0x00000200u
#define NTLMSSP_ANONYMOUS                          0x00000800u
#define NTLMSSP_NEGOTIATE_OEM_DOMAIN_SUPPLIED      0x00001000u
#define NTLMSSP_NEGOTIATE_OEM_WORKSTATION_SUPPLIED 0x00002000u
#define NTLMSSP_NEGOTIATE_ALWAYS_SIGN              0x00008000u
#define NTLMSSP_TARGET_TYPE_DOMAIN                 0x00010000u
#define NTLMSSP_TARGET_TYPE_SERVER                 0x00020000u
#define NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY 0x00080000u
#define NTLMSSP_NEGOTIATE_IDENTIFY                 0x00100000u
#define NTLMSSP_REQUEST_NON_NT_SESSION_KEY         0x00400000u
#define NTLMSSP_NEGOTIATE_TARGET_INFO              0x00800000u
#define NTLMSSP_NEGOTIATE_VERSION                  0x02000000u
#define NTLMSSP_NEGOTIATE_128                      0x20000000u
#define NTLMSSP_NEGOTIATE_KEY_EXCH                 0x40000000u
#define NTLMSSP_NEGOTIATE_56                       0x80000000u

/* AV_PAIR ids (2.2.2.1) */
#define MSV_AV_EOL               0
#define MSV_AV_NB_COMPUTER_NAME  1
#define MSV_AV_NB_DOMAIN_NAME    2
#define MSV_AV_DNS_COMPUTER_NAME 3
#define MSV_AV_DNS_DOMAIN_NAME   4
#define MSV_AV_DNS_TREE_NAME     5
#define MSV_AV_FLAGS             6
#define MSV_AV_TIMESTAMP         7
#define MSV_AV_SINGLE_HOST       8
#define MSV_AV_TARGET_NAME       9
#define MSV_AV_CHANNEL_BINDINGS  10

/* Hard caps. */
#define DCE_NTLM_MAX_MSG     65536   /* any NTLMSSP message */
#define DCE_NTLM_MAX_AVPAIRS 64      /* AV pairs in one list */
#define DCE_NTLM_MAX_NAME    512     /* bytes of UTF-16 in a user/domain/workstation */

#define DCE_NTLM_SIG_SIZE    16

/* What the client asks for (dce_ntlm_client_new `want`). */
#define DCE_NTLM_WANT_SIGN   1u
#define DCE_NTLM_WANT_SEAL   2u     /* implies SIGN */

typedef struct dce_ntlm dce_ntlm;

/* Client credentials; the strings are copied by dce_ntlm_client_new. */
typedef struct dce_ntlm_cred {
  const char *user;          /* UTF-8; NULL or "" with no password: anonymous */
  const char *domain;        /* UTF-8, used as given (NULL = "") */
  const char *workstation;   /* UTF-8 (NULL = "") */
  const char *password;      /* UTF-8, or NULL when nt_hash is given */
  const uint8_t *nt_hash;    /* 16 bytes ("pass the hash"); wins over password */
  const char *target_name;   /* optional SPN sent as MsvAvTargetName (NULL: none) */
  int ntlmv1;                /* 1: send NTLMv1 (with ESS when the server offers it).
                                Off by default: NTLMv1 is weak. */
} dce_ntlm_cred;

/* Server configuration; strings are copied. */
typedef struct dce_ntlm_server_cfg {
  const char *nb_domain;      /* NetBIOS domain: TargetName and MsvAvNbDomainName */
  const char *nb_computer;    /* MsvAvNbComputerName */
  const char *dns_domain;     /* MsvAvDnsDomainName (NULL/"": omitted) */
  const char *dns_computer;   /* MsvAvDnsComputerName (NULL/"": omitted) */
  int allow_ntlmv1;           /* accept 24-byte NTLMv1 responses (default 0) */
} dce_ntlm_server_cfg;

/* What an AUTHENTICATE_MESSAGE claims; strings owned by the context, valid
** until it is freed. */
typedef struct dce_ntlm_auth_info {
  const char *user, *domain, *workstation;   /* UTF-8, NUL-terminated */
  uint32_t flags;        /* NegotiateFlags of the AUTHENTICATE_MESSAGE */
  int anonymous;         /* 1: anonymous logon (empty user, empty responses);
                            dce_ntlm_server_verify refuses it */
  int ntlmv2;            /* 1: NTLMv2 response, 0: NTLMv1 */
} dce_ntlm_auth_info;

/* ------------------------------------------------------------ contexts */
/* NULL on out of memory or bad arguments (a password or nt_hash is needed
** unless the user is empty). */
dce_ntlm *dce_ntlm_client_new(const dce_ntlm_cred *cred, unsigned want);
dce_ntlm *dce_ntlm_server_new(const dce_ntlm_server_cfg *cfg);
void dce_ntlm_free(dce_ntlm *n);            /* wipes keys; NULL is fine */

/* ------------------------------------------------------------ handshake */
uint32_t dce_ntlm_client_negotiate(dce_ntlm *c, dce_buf *out);
uint32_t dce_ntlm_client_authenticate(dce_ntlm *c, const uint8_t *chal, size_t len, dce_buf *out);

uint32_t dce_ntlm_server_challenge(dce_ntlm *s, const uint8_t *neg, size_t len, dce_buf *out);
uint32_t dce_ntlm_server_parse_auth(dce_ntlm *s, const uint8_t *auth, size_t len,
                                    dce_ntlm_auth_info *info);
/* Check the parsed AUTHENTICATE against the user's NT hash (MD4 of the
** UTF-16LE password, see dce_ntlm_nt_hash). 0 when authenticated (the
** context is then established), DCE_NTLM_E_LOGON_FAILURE otherwise
** (wrong password, bad MIC, anonymous, NTLMv1 not allowed). After a
** failure the context still holds the AUTHENTICATE, so another hash (an
** older password, say) may be tried. */
uint32_t dce_ntlm_server_verify(dce_ntlm *s, const uint8_t nt_hash[16]);

int dce_ntlm_established(const dce_ntlm *n);     /* 1 after a successful handshake */
uint32_t dce_ntlm_flags(const dce_ntlm *n);      /* negotiated flags */

/* ------------------------------------------------------------ per message */
/* All of these need an established context. The outgoing direction is
** client-to-server for a client, server-to-client for a server.
**
** sign: signature over msg with the next outgoing sequence number.
** verify: check sig against msg and the next incoming sequence number.
** seal: MAC over the plaintext `whole` (which normally contains `data`,
**   e.g. a PDU with its header), then `data` encrypted in place, then the
**   checksum encrypted with the same RC4 stream (with KEY_EXCH).
** unseal: `data` decrypted in place, then the signature verified over
**   `whole` as it is after the decryption (on failure `data` is decrypted
**   all the same: discard it).
** Without extended session security (NTLMv1, only when asked for) the
** checksum is a CRC-32 of `data` alone in seal/unseal, and of `msg` in
** sign/verify: pass the stub there, as Samba does, not the whole PDU.
** verify and unseal consume a sequence number and RC4 keystream whether or
** not the check passes, exactly as the sender did, so one corrupted message
** does not desynchronise the ones after it. An injected extra message does,
** and then everything after it fails: drop the connection on any failure. */
size_t dce_ntlm_sig_size(void);                  /* 16 */
uint32_t dce_ntlm_sign(dce_ntlm *n, const uint8_t *msg, size_t len, uint8_t sig[16]);
uint32_t dce_ntlm_verify(dce_ntlm *n, const uint8_t *msg, size_t len, const uint8_t sig[16]);
uint32_t dce_ntlm_seal(dce_ntlm *n, uint8_t *data, size_t data_len,
                       const uint8_t *whole, size_t whole_len, uint8_t sig[16]);
uint32_t dce_ntlm_unseal(dce_ntlm *n, uint8_t *data, size_t data_len,
                         const uint8_t *whole, size_t whole_len, const uint8_t sig[16]);
uint32_t dce_ntlm_session_key(const dce_ntlm *n, uint8_t out[16]);  /* ExportedSessionKey */
/* Re-initialise both RC4 handles from the sealing keys and zero both
** sequence numbers (SPNEGO mechListMIC handling needs this). */
uint32_t dce_ntlm_reset_crypto(dce_ntlm *n);
/* Re-initialise both RC4 handles, keeping the sequence numbers: what SPNEGO
** does after the mechListMIC exchange ([MS-SPNG] 3.3.5.1; Samba checked). */
uint32_t dce_ntlm_reset_rc4(dce_ntlm *n);

/* ------------------------------------------------------------ building blocks
** Exposed for the [MS-NLMP] 4.2 test vectors and for callers that store
** hashes; the handshake functions above use them. */
uint32_t dce_ntlm_nt_hash(const char *password, uint8_t out[16]);           /* NTOWFv1 */
uint32_t dce_ntlm_lm_hash(const char *password, uint8_t out[16]);           /* LMOWFv1 (ASCII upper) */
uint32_t dce_ntlm_ntowfv2(const uint8_t nt_hash[16], const char *user, const char *domain,
                          uint8_t out[16]);
uint32_t dce_ntlm_desl(const uint8_t key[16], const uint8_t data[8], uint8_t out[24]);
/* NTLMv2 responses (3.3.2) for fixed inputs: nt_out gets NTProofStr||temp,
** lm is LMv2 (ClientChallenge appended), sbk the SessionBaseKey. */
uint32_t dce_ntlm_v2_response(const uint8_t key_nt[16], const uint8_t server_chal[8],
                              const uint8_t client_chal[8], uint64_t filetime,
                              const uint8_t *avpairs, size_t avlen,
                              dce_buf *nt_out, uint8_t lm[24], uint8_t sbk[16]);
/* KXKEY (3.4.5.1) for NTLMv1; lm_hash is only read with LM_KEY or
** NON_NT_KEY. With ESS lm_resp needs 8 bytes. */
uint32_t dce_ntlm_kxkey_v1(uint32_t flags, const uint8_t sbk[16], const uint8_t lm_resp[24],
                           const uint8_t server_chal[8], const uint8_t lm_hash[16],
                           uint8_t out[16]);
/* Make `n` established with the given flags and ExportedSessionKey, as if a
** handshake had ended there: derives the four keys and the RC4 handles. */
uint32_t dce_ntlm_set_session(dce_ntlm *n, uint32_t flags, const uint8_t esk[16]);

#endif
