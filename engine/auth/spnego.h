/*
** spnego.h - SPNEGO (RFC 4178, with the [MS-SPNG] NegTokenInit2 form): the
** token codec and a client/server state machine generic over the inner
** mechanism (NTLMSSP today, Kerberos later). This is what MS-RPC auth type 9
** (RPC_C_AUTHN_GSS_NEGOTIATE) carries in its auth_value.
**
** Two layers:
**   1. dce_spnego_decode / dce_spnego_encode: NegTokenInit (inside the RFC 2743
**      InitialContextToken: [APPLICATION 0] { OID 1.3.6.1.5.5.2, [0] ... }) and
**      NegTokenResp ([1], never framed). Strict DER (der.h), 64 KiB cap.
**   2. dce_spnego: one side of one negotiation. The caller feeds each token
**      received from the peer and sends whatever lands in `out`.
**
** OIDs are always the DER *content* bytes (no 06 tag, no length).
*/
#ifndef DCE_SPNEGO_H
#define DCE_SPNEGO_H

#include <stddef.h>
#include <stdint.h>
#include "base/buf.h"
#include "auth/mech.h"

#if !defined(DCE_SPNEGO_MAX_TOKEN)
#define DCE_SPNEGO_MAX_TOKEN 65536   /* cap on a whole token, in and out */
#endif
#if !defined(DCE_SPNEGO_MAX_MECHS)
#define DCE_SPNEGO_MAX_MECHS 32      /* cap on mechTypes entries */
#endif
#define DCE_SPNEGO_MAX_OID 64        /* cap on one OID's content bytes */

/* ---------------------------------------------------------------- OIDs */

typedef struct dce_oid { const uint8_t *p; size_t len; } dce_oid;

extern const dce_oid dce_oid_spnego;   /* 1.3.6.1.5.5.2 */
extern const dce_oid dce_oid_ntlmssp;  /* 1.3.6.1.4.1.311.2.2.10 */
extern const dce_oid dce_oid_krb5;     /* 1.2.840.113554.1.2.2 */
extern const dce_oid dce_oid_mskrb5;   /* 1.2.840.48018.1.2.2 (Windows' alias of krb5) */
extern const dce_oid dce_oid_negoex;   /* 1.3.6.1.4.1.311.2.2.30 (recognised, never chosen) */

/* "ntlmssp", "krb5", "ms-krb5", "negoex", "spnego" or NULL. */
const char *dce_oid_name(const uint8_t *p, size_t len);
/* Dotted form into out (always NUL terminated); "?" when malformed. */
void dce_oid_format(const uint8_t *p, size_t len, char *out, size_t outlen);
/* Same OID, treating krb5 and ms-krb5 as one mechanism (as Windows does). */
int dce_oid_match(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

/* ---------------------------------------------------------------- codec */

enum { DCE_SPNEGO_INIT = 0, DCE_SPNEGO_RESP = 1 };   /* token kinds */

enum {                                               /* NegTokenResp.negState */
  DCE_NEG_ABSENT = -1,
  DCE_NEG_ACCEPT_COMPLETED = 0,
  DCE_NEG_ACCEPT_INCOMPLETE = 1,
  DCE_NEG_REJECT = 2,
  DCE_NEG_REQUEST_MIC = 3
};

/* A decoded or to-be-encoded token. Decoded pointers point into the input.
** A field is absent when its pointer is NULL (an empty OCTET STRING that is
** present has a non-NULL pointer and length 0). */
typedef struct dce_spnego_tok {
  int kind;                          /* DCE_SPNEGO_INIT or DCE_SPNEGO_RESP */
  /* NegTokenInit / NegTokenInit2 */
  size_t n_mechs;
  dce_oid mechs[DCE_SPNEGO_MAX_MECHS];
  const uint8_t *mech_types;         /* decode only: the MechTypeList element */
  size_t mech_types_len;             /*   (30 ...), the bytes mechListMIC signs */
  int has_req_flags;                 /* decode only: reqFlags seen (ignored) */
  int has_neg_hints;                 /* NegTokenInit2 negHints present */
  const uint8_t *hint_name;          /* negHints.hintName (GeneralString) or NULL */
  size_t hint_name_len;
  /* NegTokenResp */
  int neg_state;                     /* DCE_NEG_*, DCE_NEG_ABSENT if absent */
  dce_oid supported_mech;            /* .p NULL if absent */
  /* both */
  const uint8_t *token;              /* mechToken / responseToken, or NULL */
  size_t token_len;
  const uint8_t *mic;                /* mechListMIC, or NULL */
  size_t mic_len;
} dce_spnego_tok;

/* Clear t to an empty token of the given kind (all fields absent). */
void dce_spnego_tok_init(dce_spnego_tok *t, int kind);

/* Decode one whole token: a framed NegTokenInit(2) or a bare NegTokenResp.
** Unknown trailing SEQUENCE members (the "..." extension marker) are skipped
** after a well-formedness check; anything after the token is refused.
** Returns 0, or -1 with a message in err (may be NULL). */
int dce_spnego_decode(dce_spnego_tok *t, const uint8_t *p, size_t len,
                      char *err, size_t errlen);

/* Append the DER encoding of t to out. INIT tokens get the GSS framing and use
** mechs[] (negHints go out as NegTokenInit2 when has_neg_hints is set); RESP
** tokens are bare. Returns 0, or -1 with a message in err. */
int dce_spnego_encode(const dce_spnego_tok *t, dce_buf *out, char *err, size_t errlen);

/* Append the MechTypeList (SEQUENCE OF OID) DER for mechs to out. */
int dce_spnego_mech_list(dce_buf *out, const dce_oid *mechs, size_t n);

/* ---------------------------------------------------------------- mechanism
** The inner mechanisms are auth/mech.h's dce_mech: SPNEGO uses their step,
** get_mic, verify_mic, mic_policy and after_mic (the MIC hooks are asked
** only after the mechanism completed; see docs/spnego.md). SPNEGO as a
** mechanism itself (auth type 9, every registered inner one it can use) is
** dce_mech_spnego, in spnego_mech.c. */

/* ---------------------------------------------------------------- negotiation */

enum { DCE_SPNEGO_CLIENT = 0, DCE_SPNEGO_SERVER = 1 };

/* dce_spnego_step results */
#define DCE_SPNEGO_DONE      0   /* established; send `out` if it is not empty */
#define DCE_SPNEGO_CONTINUE  1   /* send `out`, then feed the peer's answer */
#define DCE_SPNEGO_ERROR    (-1) /* failed; see code/err. A server's `out` then
                                    holds a reject NegTokenResp to send. */

/* Error codes (closed set; dce_spnego.code). */
enum {
  DCE_SPNEGO_E_NONE = 0,
  DCE_SPNEGO_E_DECODE,       /* malformed token */
  DCE_SPNEGO_E_PROTO,        /* well-formed token that is wrong at this point */
  DCE_SPNEGO_E_NO_MECH,      /* no common mechanism */
  DCE_SPNEGO_E_REJECTED,     /* the peer sent negState reject */
  DCE_SPNEGO_E_MECH,         /* the inner mechanism failed (its message follows) */
  DCE_SPNEGO_E_MIC_MISSING,  /* required mechListMIC absent */
  DCE_SPNEGO_E_MIC_BAD,      /* mechListMIC did not verify */
  DCE_SPNEGO_E_LIMIT,        /* size cap */
  DCE_SPNEGO_E_NOMEM,
  DCE_SPNEGO_E_STATE         /* API misuse (step after done/error, bad args) */
};

/* Flags for dce_spnego_init. */
#define DCE_SPNEGO_REQUIRE_MIC 0x1   /* exchange mechListMIC whenever the mech
                                        has integrity, whatever the rules say */

/* One negotiation. Embed it or allocate it; fields are private except
** through the accessors below. */
typedef struct dce_spnego {
  int role, state;
  unsigned flags;
  size_t n;                                  /* mechanisms given to init */
  const dce_mech *mechs[DCE_SPNEGO_MAX_MECHS];
  void *mctx[DCE_SPNEGO_MAX_MECHS];
  int sel;                                   /* index in mechs[] or -1 */
  int opt;                                   /* client: the mech of the optimistic token */
  uint8_t dropped[DCE_SPNEGO_MAX_MECHS];     /* client: could not start, not offered */
  int mech_done;                             /* inner mech established */
  int mic_wanted;                            /* request-mic / not first choice */
  int need_mic, mic_sent, mic_ok, reset_done;
  uint8_t sel_oid[DCE_SPNEGO_MAX_OID];       /* server: the OID as the client spelt it */
  size_t sel_oid_len;
  dce_buf mech_types;                        /* MechTypeList bytes the MIC covers */
  dce_buf tok;                               /* scratch: inner mech output */
  dce_buf mic;                               /* scratch: our MIC */
  int code;                                  /* DCE_SPNEGO_E_* */
  uint32_t mech_status;                      /* E_MECH: the status of the failed step */
  char err[256];
} dce_spnego;

/* Prepare s for one side. mechs/mctx: n mechanisms (1..DCE_SPNEGO_MAX_MECHS),
** fresh contexts that s does not own. A client offers them in this order of
** preference and sends the first one's optimistic token; one whose first
** step fails (Kerberos without a ticket, an unknown service, no KDC) is left
** out of the offer and the next one tries, as Windows' Negotiate falls back;
** only when none can start is that an error (the first one's, then the
** others'). A server accepts the first mechanism of the client's list that
** appears here. Returns 0 or -1. */
int dce_spnego_init(dce_spnego *s, int role, const dce_mech *const *mechs,
                    void *const *mctx, size_t n, unsigned flags);
void dce_spnego_free(dce_spnego *s);

/* One leg. Client: first call with in = NULL/0 (produces the NegTokenInit),
** then each NegTokenResp from the server. Server: each token from the client,
** starting with its NegTokenInit. `out` is appended to (reset it first).
** Returns DCE_SPNEGO_DONE, DCE_SPNEGO_CONTINUE or DCE_SPNEGO_ERROR. */
int dce_spnego_step(dce_spnego *s, const uint8_t *in, size_t in_len, dce_buf *out);

/* The negotiated mechanism and its context (NULL before the choice). */
const dce_mech *dce_spnego_mech(const dce_spnego *s);
void *dce_spnego_mech_ctx(const dce_spnego *s);
int dce_spnego_complete(const dce_spnego *s);
int dce_spnego_errcode(const dce_spnego *s);
const char *dce_spnego_errmsg(const dce_spnego *s);
/* DCE_SPNEGO_E_MECH: the status the inner mechanism's step failed with
** (0 when it was a MIC that could not be made, or another error). */
uint32_t dce_spnego_mech_status(const dce_spnego *s);

#endif
