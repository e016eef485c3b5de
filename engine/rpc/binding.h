/*
** binding.h - string bindings ([MS-RPCE] 2.1.1, C706 "string bindings"):
**
**     [ObjectUUID@]ProtSeq:[NetworkAddr][[Endpoint][,Option=Value | ,flag]...]
**
** Parsing allocates nothing: the caller hands in a scratch area that receives
** the unescaped components (each NUL terminated), and the result points into it.
** Formatting is snprintf-like, so a caller can size a buffer it owns first.
**
** Grammar as implemented (the lenient reading that accepts what Windows,
** Samba's rpcclient and Impacket print):
**   - ObjectUUID: 36-char UUID, then '@'. Only looked for before the first ':'.
**   - ProtSeq: [A-Za-z0-9_]+ up to the first ':', stored lower case.
**   - NetworkAddr: everything up to the first unescaped '[' (or the end). It
**     may be empty, a host name, IPv4, bare IPv6 with zone ("fe80::1%lo"),
**     "\\\\server" for ncacn_np, or a bracketed IPv6 literal "[::1]" (told
**     apart from an endpoint by its content: hex digits, ':' (at least two),
**     '.', and an optional %zone; never for ncalrpc and the Unix-socket
**     protseqs, which have no address). The formatter writes IPv6 bare
**     ("ncacn_ip_tcp:::1[135]", the form rpcclient accepts) and writes an
**     endpoint that would read as such a literal as "endpoint=...".
**   - In brackets, comma-separated items. The first item without '=' is the
**     endpoint unless it is one of the well-known Samba flags (sign, seal,
**     ...); "endpoint=..." also sets the endpoint. Later items without '='
**     are bare flags (kept in order); "k=v" items are options. Option and
**     flag names are [A-Za-z0-9_.-]+, unique; a bare "endpoint" is refused.
**   - Endpoints of ncacn_ip_tcp, ncadg_ip_udp and ncacn_http must be decimal
**     ports 0..65535.
**   - Escapes: a backslash before one of  @ : [ ] , = \  stands for that
**     character; a backslash before anything else is a literal backslash, so
**     "\pipe\srvsvc" and "\\pipe\\srvsvc" are the same endpoint.
**   - Control characters and more than DCE_BINDING_MAX_OPTS options are refused.
*/
#ifndef DCE_BINDING_H
#define DCE_BINDING_H

#include <stddef.h>
#include <stdint.h>
#include "base/buf.h"

#if !defined(DCE_BINDING_MAX_OPTS)
#define DCE_BINDING_MAX_OPTS 64          /* items inside the brackets */
#endif
#if !defined(DCE_BINDING_MAX_LEN)
#define DCE_BINDING_MAX_LEN 8192         /* whole string binding */
#endif

/* Scratch space dce_binding_parse needs for an input of `len` bytes. */
#define DCE_BINDING_SCRATCH(len) (2 * (size_t)(len) + 16)

typedef struct dce_bstr {
  const char *s;   /* NUL terminated; NULL when absent */
  size_t len;
} dce_bstr;

typedef struct dce_binding_opt {
  dce_bstr key;
  dce_bstr value;  /* value.s == NULL: a bare flag */
} dce_binding_opt;

typedef struct dce_binding {
  int has_object;
  dce_uuid object;
  dce_bstr protseq;    /* lower case, never empty after a successful parse */
  dce_bstr host;       /* may be empty (len 0), never NULL after parse */
  dce_bstr endpoint;   /* s == NULL: none given (ask the endpoint mapper) */
  size_t nopts;
  dce_binding_opt opt[DCE_BINDING_MAX_OPTS];  /* in input order */
} dce_binding;

typedef struct dce_binding_err {
  size_t pos;          /* byte offset of the offending character */
  char msg[160];
} dce_binding_err;

/* Parse s[0..len). scratch must hold DCE_BINDING_SCRATCH(len) bytes and
** outlive *b. Returns 0, or -1 with *err filled (err may be NULL). */
int dce_binding_parse(dce_binding *b, const char *s, size_t len,
                      char *scratch, size_t scratch_len, dce_binding_err *err);

/* Write the canonical text of *b into out[0..cap) (NUL terminated when cap > 0)
** and return the length it needs (without the NUL), or (size_t)-1 when *b
** cannot be written (no protseq, a protseq that is not [a-z0-9_]+, ...).
** Canonical: lower-case object UUID; bare IPv6 host; endpoint first; then the
** options in the order given; only the characters that need it are escaped. */
size_t dce_binding_format(const dce_binding *b, char *out, size_t cap);

/* True when `name` (NUL terminated) is one of the well-known bare flags that
** may stand first in the brackets without being taken for an endpoint. */
int dce_binding_is_flag(const char *name, size_t len);

/* Known protocol sequences: 1 when `ps` is one this engine knows by name. */
int dce_binding_known_protseq(const char *ps, size_t len);

#endif
