/*
** mech.h - one interface for authentication mechanisms (NTLMSSP, SPNEGO,
** Kerberos) and the registry that finds them.
**
** A mechanism is a table of functions (dce_mech) over an opaque context it
** allocates. Whoever carries its tokens uses only this table: DCE/RPC's
** security context (rpc/sec.c) for auth types 10, 9 and 16, SPNEGO
** for its inner mechanisms, SMB2 session setup (step and session key only).
** Nothing here does I/O or knows about PDUs: the caller hands over tokens
** and, for packet protection, the bytes to protect.
**
** Life of a context:
**   ctx = m->client_new(&cred, want, err) | m->server_new(&acceptor, want, err)
**   loop: r = m->step(ctx, in, n, &out, &status, err)   (client: in = NULL first)
**         send out when not empty; r = 0 established, 1 continue, -1 failed
**   then sign/check or seal/unseal per message, session_key, names
**   m->free(ctx)
**
** Adding a mechanism: write engine/auth/<name>_mech.c defining one
** `const dce_mech dce_mech_<name>` and add it to the list in mech.c (its
** place there is its rank in SPNEGO's offer). See docs/auth.md.
*/
#ifndef DCE_MECH_H
#define DCE_MECH_H

#include <stddef.h>
#include <stdint.h>
#include "base/buf.h"

/* ------------------------------------------------------------ statuses
** What step and the packet functions return (NTSTATUS / SEC_E_ values). A
** mechanism may return its own as well (NTLM: DCE_NTLM_E_*, the same codes). */
#define DCE_MECH_E_LOGON_FAILURE      0xC000006Du   /* STATUS_LOGON_FAILURE */
#define DCE_MECH_E_NO_MEMORY          0xC0000017u   /* STATUS_NO_MEMORY */
#define DCE_MECH_E_INTERNAL           0xC00000E5u   /* STATUS_INTERNAL_ERROR: misuse, bad layout */
#define DCE_MECH_E_INVALID_TOKEN      0x80090308u   /* SEC_E_INVALID_TOKEN */
#define DCE_MECH_E_MESSAGE_ALTERED    0x8009030Fu   /* SEC_E_MESSAGE_ALTERED: bad signature */
#define DCE_MECH_E_OUT_OF_SEQUENCE    0x80090310u   /* SEC_E_OUT_OF_SEQUENCE */
#define DCE_MECH_E_ALGORITHM_MISMATCH 0x80090331u   /* SEC_E_ALGORITHM_MISMATCH: too weak a result */
/* Kerberos failures, as Windows' SSPI names them */
#define DCE_MECH_E_TARGET_UNKNOWN     0x80090303u   /* SEC_E_TARGET_UNKNOWN: no such service principal */
#define DCE_MECH_E_NO_CREDENTIALS     0x8009030Eu   /* SEC_E_NO_CREDENTIALS: no ticket */
#define DCE_MECH_E_NO_AUTHORITY       0x80090311u   /* SEC_E_NO_AUTHENTICATING_AUTHORITY: no KDC */
#define DCE_MECH_E_CONTEXT_EXPIRED    0x80090317u   /* SEC_E_CONTEXT_EXPIRED: the ticket expired */
#define DCE_MECH_E_TIME_SKEW          0x80090324u   /* SEC_E_TIME_SKEW */
#define DCE_MECH_E_ETYPE_NOT_SUPP     0x80090341u   /* SEC_E_ETYPE_NOT_SUPP */

/* The longest signature (auth value on a protected fragment) a mechanism
** may ask for: NTLM 16, Kerberos 28 (AES MIC) to 76 (AES DCE-style wrap). */
#define DCE_MECH_MAX_SIG_LEN 128

/* ------------------------------------------------------------ what is wanted
** `want` of client_new / server_new. A context that completes without what
** was wanted fails its last step (a man in the middle must not strip
** signing or sealing). */
#define DCE_MECH_WANT_SIGN      0x01u   /* integrity */
#define DCE_MECH_WANT_SEAL      0x02u   /* confidentiality (implies SIGN) */
#define DCE_MECH_WANT_DCE_STYLE 0x04u   /* used by DCE/RPC: Kerberos' DCE-style AP
                                           exchange (three legs); SMB2 leaves it out */

/* ------------------------------------------------------------ credentials */

/* The client's side: who we are. Strings are UTF-8 and copied by
** client_new; NULL means absent. A mechanism takes what it can use and
** fails client_new when the credential is not enough for it. */
typedef struct dce_cred {
  const char *user;          /* NULL or "" without password or hash: anonymous */
  const char *domain;        /* NetBIOS domain (NTLM) / realm (Kerberos) */
  const char *workstation;   /* NTLM's workstation name */
  const char *password;
  const uint8_t *nt_hash;    /* 16 bytes, wins over password ("pass the hash") */
  const char *target;        /* the service we talk to: NTLM's MsvAvTargetName,
                                Kerberos' service principal ("host/srv.example") */
  int ntlmv1;                /* NTLM: send NTLMv1 (weak; off by default) */
  const char *ccache;        /* Kerberos: a credential cache ("FILE:/path",
                                "MEMORY:x"; NULL: the default one, unless a
                                password or client_keytab is given) */
  const char *client_keytab; /* Kerberos: a keytab to get a TGT from */
  int kerberos;              /* SPNEGO: 0 offers Kerberos only when ccache or
                                client_keytab is given; 1 offers it first
                                whatever the credential (a password gets a
                                TGT, else the default ccache), NTLM after it;
                                2 offers Kerberos alone */
} dce_cred;

/* Answers "what is the NT hash of this user?": 0 with hash filled in, or
** -1 (unknown user). Called during a server step, never concurrently for
** one context. */
typedef int (*dce_hash_lookup_fn)(void *ud, const char *user, const char *domain,
                                  const char *workstation, uint8_t hash[16]);

/* The server's side: what a mechanism needs to accept. Strings are copied
** by server_new. */
typedef struct dce_acceptor {
  const char *nb_domain;     /* NTLM CHALLENGE: TargetName, MsvAvNbDomainName */
  const char *nb_computer;   /* MsvAvNbComputerName */
  const char *dns_domain;    /* MsvAvDnsDomainName (NULL/"": omitted) */
  const char *dns_computer;  /* MsvAvDnsComputerName (NULL/"": omitted) */
  dce_hash_lookup_fn lookup; /* NT hashes of the users (NTLM) */
  void *ud;                  /* for lookup */
  int allow_ntlmv1;          /* accept NTLMv1 responses */
  const char *keytab;        /* Kerberos: the acceptor's keytab (NULL:
                                KRB5_KTNAME, else the system's) */
  const char *service;       /* Kerberos: the one principal to accept as
                                ("host/name"; NULL: any in the keytab) */
} dce_acceptor;

/* ------------------------------------------------------------ mechanism */

/* mic_policy results: what mechListMIC exchange SPNEGO makes once the
** mechanism has completed ([MS-SPNG] 3.1.5.1, RFC 4178 section 5). */
enum {
  DCE_MECH_MIC_NONE = 0,      /* no integrity: never a MIC */
  DCE_MECH_MIC_OPTIONAL = 1,  /* integrity; exchanged when SPNEGO's rules say so */
  DCE_MECH_MIC_REQUIRED = 2   /* the mechanism demands the exchange (NTLM with
                                 a MIC in AUTHENTICATE_MESSAGE) */
};

/* One mechanism. Every function but the constructors takes the context a
** constructor returned. Optional members may be NULL (said below).
**
** client_new, server_new: a fresh context, or NULL with a message in err
**   (the credential or acceptor does not suit this mechanism, out of
**   memory). NULL member: the mechanism has no such side.
** free: wipes and frees the context; NULL is fine.
** step: one leg. `in` is the peer's token (NULL/0 for the client's first
**   leg); our token is appended to `out` (possibly nothing). Returns 0 when
**   the context is established (send `out` if not empty), 1 to go on (send
**   `out`, feed the peer's answer), -1 failed: *status says why (e.g.
**   0xC000006D logon failure, 0x80090308 bad token) and err a message; a
**   failed context takes no further step.
**
** Per message, established contexts only. `data` lies inside `whole`:
** for DCE/RPC, whole = the PDU from its header through the sec_trailer,
** data = the stub and its auth padding; elsewhere both may be the same
** message. The mechanism decides what its signature covers (NTLM with
** extended session security: whole; without: data; Kerberos: whole when
** header signing is on). Each returns 0 or a status (DCE_MECH_E_*).
** sig_len: bytes of the signature sign and seal write (16 for NTLM).
** sign: signature over the message into sig[0..sig_len).
** check: verify sig; consumes a sequence number whether it passes or not.
** seal: protect `data` in place (encrypt) and write the signature.
** unseal: decrypt `data` in place and verify; on failure discard it.
** header_sign (optional): DCE/RPC has settled on header signing
**   (PFC_SUPPORT_HEADER_SIGN acknowledged): sign the PDU header too, where
**   the mechanism leaves that choice to the caller (Kerberos). NTLM: NULL.
**
** For SPNEGO, after the mechanism completed (see docs/spnego.md):
** get_mic: append a MIC over msg to mic (GSS_GetMIC); 0 or -1. NULL with
**   verify_mic: the mechanism has no integrity.
** verify_mic: 0 when mic is a valid MIC over msg, else -1.
** mic_policy (optional): DCE_MECH_MIC_*; NULL means OPTIONAL when get_mic
**   and verify_mic are there, NONE otherwise.
** after_mic (optional): once, when SPNEGO completes after any mechListMIC
**   was made or checked here (NTLM restarts its RC4 handles, keeping the
**   sequence numbers, [MS-SPNG] 3.3.5.1).
**
** session_key: the key derived by the exchange into out[0..cap), its
**   length in *len (NTLM 16, Kerberos 16 or 32); 0 or a status.
** names: who authenticated (server: the peer, once established; client:
**   ourselves). Pointers into the context, never NULL ("" when unknown). */
typedef struct dce_mech {
  const char *name;                  /* "ntlm", "spnego", "krb5" */
  uint8_t auth_type;                 /* DCE/RPC auth type: 10, 9, 16 */
  const uint8_t *oid; size_t oid_len;  /* SPNEGO's name for it (DER content bytes);
                                          NULL: not offered in SPNEGO (SPNEGO itself) */

  void *(*client_new)(const dce_cred *cred, unsigned want, char *err, size_t errlen);
  void *(*server_new)(const dce_acceptor *acc, unsigned want, char *err, size_t errlen);
  void (*free)(void *ctx);

  int (*step)(void *ctx, const uint8_t *in, size_t in_len, dce_buf *out,
              uint32_t *status, char *err, size_t errlen);

  size_t (*sig_len)(void *ctx);
  uint32_t (*sign)(void *ctx, const uint8_t *data, size_t data_len,
                   const uint8_t *whole, size_t whole_len, uint8_t *sig, size_t sig_len);
  uint32_t (*check)(void *ctx, const uint8_t *data, size_t data_len,
                    const uint8_t *whole, size_t whole_len, const uint8_t *sig, size_t sig_len);
  uint32_t (*seal)(void *ctx, uint8_t *data, size_t data_len,
                   const uint8_t *whole, size_t whole_len, uint8_t *sig, size_t sig_len);
  uint32_t (*unseal)(void *ctx, uint8_t *data, size_t data_len,
                     const uint8_t *whole, size_t whole_len, const uint8_t *sig, size_t sig_len);
  void (*header_sign)(void *ctx);

  int (*get_mic)(void *ctx, const uint8_t *msg, size_t len, dce_buf *mic);
  int (*verify_mic)(void *ctx, const uint8_t *msg, size_t len, const uint8_t *mic, size_t mic_len);
  int (*mic_policy)(void *ctx);
  void (*after_mic)(void *ctx);

  uint32_t (*session_key)(void *ctx, uint8_t *out, size_t cap, size_t *len);
  void (*names)(void *ctx, const char **user, const char **domain, const char **workstation);
} dce_mech;

/* ------------------------------------------------------------ registry
** The mechanisms built in, in SPNEGO's order of preference. */

/* The i-th mechanism (0..), NULL past the end: for listing and offering. */
const dce_mech *dce_mech_at(size_t i);
/* By DCE/RPC auth type, by name ("ntlm"), by SPNEGO OID (content bytes;
** krb5 and MS-krb5 count as one). NULL when there is none. */
const dce_mech *dce_mech_by_type(uint8_t auth_type);
const dce_mech *dce_mech_by_name(const char *name);
const dce_mech *dce_mech_by_oid(const uint8_t *oid, size_t len);

#endif
