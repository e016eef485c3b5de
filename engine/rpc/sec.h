/*
** sec.h - one DCE/RPC security context ([MS-RPCE] 2.2.2.11, 3.3.1.5.2): an
** authentication mechanism (auth/mech.h: NTLMSSP, auth type 10; SPNEGO,
** auth type 9; any other registered one), the authentication level, and
** the protection of each encoded fragment. Sans IO: the association
** (co_client.c, co_server.c) carries the tokens in the auth verifiers of
** bind / bind_ack / auth3 / alter_context and asks this module to wrap and
** unwrap request and response fragments.
**
** What is DCE's here, and the mechanism's there: the levels (connect
** authenticates the association only, no verifier on calls; call is
** treated as packet, as Windows does for connection-oriented RPC; packet
** and integrity sign every fragment; privacy seals the stub and signs)
** and the fragment layout are DCE's; what the signature covers (for NTLM
** with extended session security the whole fragment, header, body, auth
** padding and sec_trailer, as Samba and Windows do; without it the stub
** alone) is the mechanism's.
*/
#ifndef DCE_SEC_H
#define DCE_SEC_H

#include <stddef.h>
#include <stdint.h>
#include "base/buf.h"
#include "auth/mech.h"

#define DCE_AUTHN_NONE     0
#define DCE_AUTHN_SPNEGO   9
#define DCE_AUTHN_WINNT   10        /* NTLMSSP */
#define DCE_AUTHN_KERBEROS 16       /* auth/kerberos_mech.c */

#define DCE_LEVEL_NONE      1
#define DCE_LEVEL_CONNECT   2
#define DCE_LEVEL_CALL      3
#define DCE_LEVEL_PKT       4
#define DCE_LEVEL_INTEGRITY 5
#define DCE_LEVEL_PRIVACY   6


#define DCE_AUTH_PAD_ALIGN 16u               /* stub + auth padding is a multiple of 16 */

typedef struct dce_sec dce_sec;

/* A client context: auth type a registered mechanism's (DCE_AUTHN_WINNT,
** DCE_AUTHN_SPNEGO, ...), level DCE_LEVEL_CONNECT..PRIVACY. The credential's
** strings are copied. NULL with a message in err on a type without a
** client side, a bad level, a credential the mechanism cannot use, or out
** of memory. */
dce_sec *dce_sec_client_new(uint8_t type, uint8_t level, const dce_cred *cred,
                            char *err, size_t errlen);

/* A server context for a bind or alter_context naming type and level: acc
** names the server (NTLM's CHALLENGE) and finds the users' keys (its
** lookup). NULL with a message as above. */
dce_sec *dce_sec_server_new(uint8_t type, uint8_t level, const dce_acceptor *acc,
                            char *err, size_t errlen);
/* Is there a mechanism for this auth type with a server (or client) side? */
int dce_sec_type_supported(uint8_t type, int server);
void dce_sec_free(dce_sec *s);

uint8_t dce_sec_type(const dce_sec *s);
uint8_t dce_sec_level(const dce_sec *s);
const char *dce_sec_type_name(uint8_t type);   /* "ntlm", "spnego", ... ("unknown") */
const char *dce_sec_level_name(uint8_t level); /* "connect", "integrity", ... */

/* One leg of the token exchange. in: the peer's token (NULL/0 for the
** client's first leg). Appends our token to out (possibly nothing).
** Returns 0 when the context is established (send out when not empty),
** 1 to continue (send out, feed the peer's answer), -1 on failure with a
** status (an NTSTATUS such as 0xC000006D, or a SEC_E_ value) and a message.
*/
int dce_sec_step(dce_sec *s, const uint8_t *in, size_t len, dce_buf *out,
                 uint32_t *status, char *err, size_t errlen);
int dce_sec_established(const dce_sec *s);

/* Who authenticated (the server side, once established; the client's own
** name on the client side). The pointers are never NULL. 0 when
** established, else -1 (the names are filled in all the same). */
int dce_sec_peer_user(const dce_sec *s, const char **user, const char **domain, const char **workstation);

/* DCE/RPC settled on header signing (the bind or alter_context that made
** the context carried PFC_SUPPORT_HEADER_SIGN, and the answer echoed it):
** mechanisms that leave the choice to the caller (Kerberos) sign the
** header from then on. NTLM ignores it. */
void dce_sec_header_sign(dce_sec *s);

/* Bytes of the auth value on protected fragments (16 for NTLM), 0 when the
** level does not protect fragments (connect). */
size_t dce_sec_sig_len(const dce_sec *s);
/* Does the level put a verifier on request and response fragments? */
int dce_sec_protects(const dce_sec *s);

/* Protect an encoded fragment in place. pdu[0..len) is the whole fragment,
** its last dce_sec_sig_len() bytes the room for the signature; the data
** region pdu[data_off, data_off + data_len) is stub + auth padding (sealed at
** privacy). 0 or a status. */
uint32_t dce_sec_wrap(dce_sec *s, uint8_t *pdu, size_t len, size_t data_off, size_t data_len);
/* Check (and at privacy unseal in place) a received fragment laid out the
** same way. 0, or a status (SEC_E_MESSAGE_ALTERED, SEC_E_OUT_OF_SEQUENCE):
** then drop the connection, the data is not to be used. */
uint32_t dce_sec_unwrap(dce_sec *s, uint8_t *pdu, size_t len, size_t data_off, size_t data_len);

/* The session key once established, into out[0..cap), its length in *len
** (NTLM 16; Kerberos 16 or 32). 0 or a status. */
uint32_t dce_sec_session_key(const dce_sec *s, uint8_t *out, size_t cap, size_t *len);

/* The mechanism of the context (SPNEGO's, not the one it negotiated). */
const dce_mech *dce_sec_mech(const dce_sec *s);

#endif
