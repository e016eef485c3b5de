/*
** nbss.h - the NetBIOS session service (RFC 1002 4.3, [MS-SMB2] 2.1) as SMB
** on port 139 uses it: the SESSION REQUEST that opens a session, and the
** server's answer. After a positive answer the stream carries SESSION
** MESSAGEs, framed exactly like direct TCP (a zero type byte and a length),
** plus KEEP ALIVEs (type 0x85) that the reader skips. Sans IO.
*/
#ifndef DCE_NBSS_H
#define DCE_NBSS_H

#include <stddef.h>
#include "base/buf.h"

/* Status of a refused session request: the called name is not known there
** (the caller may retry with "*SMBSERVER" on a new connection). */
#define DCE_NBSS_REFUSED 0xC00000CCu   /* STATUS_BAD_NETWORK_NAME */

/* Append a SESSION REQUEST for `called` (the server's NetBIOS name, padded
** with type 0x20) from `calling` (ours, type 0x00). Names are upper-cased
** and cut at 15 characters; "*SMBSERVER" is sent as Windows sends it.
** 0, or -1 for an empty name or out of memory. */
int dce_nbss_request(dce_buf *out, const char *called, const char *calling);

/* The server's answer at p[0..len): 0 need more bytes, > 0 a POSITIVE
** SESSION RESPONSE of that many bytes (consume them), -1 a NEGATIVE SESSION
** RESPONSE (the called name refused; the RFC 1002 error code in words in
** err), -2 anything else: a retarget, or not a session response at all. */
int dce_nbss_response(const unsigned char *p, size_t len, char *err, size_t errlen);

#endif
