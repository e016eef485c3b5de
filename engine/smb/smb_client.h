/*
** smb_client.h - an SMB 2/3 client session, just enough (and done right)
** for DCE/RPC over named pipes: negotiate, session setup through a
** mechanism of auth/mech.h (SPNEGO with NTLM; Kerberos plugs in there),
** signing and encryption, a tree connect to IPC$, and each open pipe as a
** dce_transport (net/transport.h) that the RPC association runs over.
**
** One session owns one connected byte-stream transport (TCP to 445, or to
** 139 with the NetBIOS session service in front). Several pipes share it:
** each pipe transport answers `poll` with the socket's fd and `pending`
** with what it already holds, so any driver (run/client.c, the server's
** loop, an outside loop) runs them like a socket. Nothing here blocks or
** reads a clock: the handshake advances inside the pipes' non-blocking
** calls, and dce_smb_pipe_open_step tells a connecting caller how far it
** got.
**
**   s = dce_smb_new(sock, &cfg, err)          the session, handshake queued
**   t = dce_smb_pipe_new(s, "srvsvc", err)     a pipe on it (opened when the
**                                               tree is connected)
**   until dce_smb_pipe_open_step(t, &e) != 0:  wait on dce_transport_poll(t)
**   ... the association runs over t ...
**   t->ops->close(t)                           CLOSE; the last pipe closes
**                                               the session and the socket
*/
#ifndef DCE_SMB_CLIENT_H
#define DCE_SMB_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include "base/err.h"
#include "auth/mech.h"
#include "net/transport.h"

typedef struct dce_smb dce_smb;

/* Choices of dce_smb_new. Strings are copied. */
typedef struct dce_smb_cfg {
  const char *server;              /* the name in \\SERVER\IPC$ (host or address) */
  const dce_mech *mech;            /* session setup mechanism (NULL: SPNEGO) */
  dce_cred cred;                   /* user NULL/"": anonymous */
  uint16_t min_dialect, max_dialect;   /* 0: 0x0202 .. 0x0311 */
  int signing;                     /* 1: require signing (else: as the server requires) */
  int encrypt;                     /* 1: require encryption (3.x only) */
  uint16_t ciphers[4];             /* 3.1.1 offer, in preference order (0: default list) */
  int n_ciphers;
  /* NetBIOS session service (port 139): called name (NULL: none, direct
  ** TCP); the client sends a session request first, and falls back to
  ** "*SMBSERVER" when the called name is refused. */
  const char *nbss_called;
  const char *nbss_calling;        /* NULL: "LUA-DCERPC" */
  size_t max_frame;                /* largest frame accepted (0: 256 KiB) */
} dce_smb_cfg;

/* A session on a connected transport `sock` (owned from now on, also on
** failure). NULL with err when out of memory or cfg is unusable. */
dce_smb *dce_smb_new(dce_transport *sock, const dce_smb_cfg *cfg, char *err, size_t errlen);

/* A pipe transport on session s (name without "\pipe\", e.g. "srvsvc"): it
** holds a reference to s. NULL with err when out of memory or s is dead. */
dce_transport *dce_smb_pipe_new(dce_smb *s, const char *name, char *err, size_t errlen);

/* The session a pipe transport runs on (NULL when t is not a pipe): to
** open more pipes on it. */
dce_smb *dce_smb_of(dce_transport *t);

/* Advance the handshake and the open of pipe t without blocking: 1 open,
** 0 not yet (wait as dce_transport_poll(t, DCE_T_READ, ...) says, then call
** again), -1 failed: e holds the status (STATUS_LOGON_FAILURE,
** STATUS_OBJECT_NAME_NOT_FOUND, ...; executed "no") and what failed. */
int dce_smb_pipe_open_step(dce_transport *t, dce_err *e);

/* What was negotiated, for info() and tests. */
typedef struct dce_smb_info {
  uint16_t dialect;
  uint16_t cipher;                 /* 0: not encrypting */
  uint16_t signing_algorithm;      /* 0 HMAC-SHA256, 1 AES-CMAC, 2 AES-GMAC */
  int signing;                     /* messages are signed */
  int encrypting;                  /* messages are encrypted */
  int guest, anonymous;
  uint32_t max_read, max_write, max_transact;
  uint64_t session_id;
  uint32_t tree_id;
  int pipes;                       /* pipes open on the session */
  uint64_t messages_sent, messages_received;
} dce_smb_info;
void dce_smb_get_info(const dce_smb *s, dce_smb_info *out);

/* The session key a pipe's RPC uses as its own ([MS-SMB2] 3.2.1.3
** Session.ApplicationKey; LSA and SAMR encrypt secrets with it): 0 and
** its length, or -1 before the session is set up (or anonymous). */
int dce_smb_app_key(const dce_smb *s, uint8_t *out, size_t cap, size_t *len);

#endif
