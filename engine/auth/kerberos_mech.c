/*
** kerberos_mech.c - Kerberos V5 through MIT GSSAPI (libgssapi_krb5) as a
** mechanism (auth/mech.h): DCE/RPC auth type 16, RPC_C_AUTHN_GSS_KERBEROS.
**
** The exchange is GSSAPI's; what is DCE's here is asked of GSSAPI with
** GSS_C_DCE_STYLE ([MS-KILE] 3.4.5.1): the client's AP-REQ rides on the
** bind, the server's AP-REP on the bind_ack, and the client's own AP-REP
** (the third leg, which completes the client) on the auth3 the association
** sends after a step that returns 0 with a token. The server completes on
** that third leg with nothing to send.
**
** Credentials (client): a password (and the user) gets a TGT from the KDC
** into a credential GSSAPI keeps in a private memory ccache; a client keytab
** gets one the same way (into a private MEMORY: ccache unless one is named);
** a named ccache is used as it is; nothing names the default ccache
** (KRB5CCNAME). They are acquired on the first step, so that a KDC that does
** not answer or a wrong password fails the bind with a message, not the
** construction. The target is a principal ("host/name", the realm from
** krb5.conf or after '@'); "service@host" is a host-based service name.
**
** Acceptor: the keytab given (else KRB5_KTNAME, else the system's) and,
** when given, the one service principal to accept as.
**
** Packet protection ([MS-KILE] 3.4.5.4, [MS-RPCE] 2.2.2.11): at integrity
** a MIC (gss_get_mic) over the stub and its padding, or over the whole PDU
** from its header through the sec_trailer once header signing is settled;
** at privacy gss_wrap_iov in DCE style: the auth value is the token header
** (which holds the trailer too), the stub is encrypted in place, and with
** header signing the PDU header and the sec_trailer go in as SIGN_ONLY
** buffers. Both RFC 4121 (AES) and RFC 4757 (RC4-HMAC) tokens come from
** GSSAPI; the signature length is GSSAPI's (gss_wrap_iov_length), but for
** an RFC 1964-style MIC (37 bytes with its framing).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <krb5/krb5.h>                 /* error codes only */
#include "auth/mech.h"
#include "base/crypto.h"

/* 1.2.840.113554.1.2.2, Kerberos V5 ([MS-KILE]; MS-krb5 1.2.840.48018.1.2.2
** is matched to it by dce_oid_match) */
static const uint8_t krb5_oid[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02 };

#define NAME_MAX_LEN 256

typedef struct krb_ctx {
  int server;
  unsigned want;
  OM_uint32 req_flags, ret_flags;
  gss_ctx_id_t gctx;
  gss_cred_id_t cred;              /* ours (client) or the acceptor's */
  int have_cred;
  gss_name_t target;               /* client: the service */
  int established, failed, hdr_sign;
  uint32_t cred_status;            /* why getting the credential failed */
  size_t sig_seal, sig_sign;       /* auth value lengths, once established */
  char *user, *realm_in, *password, *ccache, *client_keytab, *keytab, *service;
  char memcc[64];                  /* a private MEMORY: ccache name */
  char peer_user[NAME_MAX_LEN], peer_realm[NAME_MAX_LEN];
} krb_ctx;

static gss_OID_desc mech_oid = { sizeof krb5_oid, (void *)krb5_oid };

/* ------------------------------------------------------------ helpers */

static char *dup_opt(const char *s, int *bad) {
  char *d;
  if (!s || !*s) return NULL;
  d = strdup(s);
  if (!d) *bad = 1;
  return d;
}

static void free_str(char **s) {
  if (*s) { dce_secure_zero(*s, strlen(*s)); free(*s); *s = NULL; }
}

/* The words of one status code of the given type, appended to buf. */
static void status_words(OM_uint32 code, int type, char *buf, size_t cap) {
  OM_uint32 maj, min, more = 0;
  gss_buffer_desc msg;
  size_t off = strlen(buf);
  do {
    maj = gss_display_status(&min, code, type, &mech_oid, &more, &msg);
    if (GSS_ERROR(maj)) break;
    if (off < cap) {
      int w = snprintf(buf + off, cap - off, "%s%.*s", off && buf[off - 1] != ' ' ? "; " : "",
                       (int)msg.length, (const char *)msg.value);
      if (w > 0) off += (size_t)w;
    }
    gss_release_buffer(&min, &msg);
  } while (more);
}

/* Plain words for the minor statuses a user meets most (krb5_err.h). */
static const char *plain(OM_uint32 min) {
  switch ((krb5_error_code)min) {
  case KRB5KDC_ERR_PREAUTH_FAILED:
  case KRB5KRB_AP_ERR_BAD_INTEGRITY: return "wrong password or key";
  case KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN: return "unknown service principal";
  case KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN: return "unknown client principal";
  case KRB5_KDC_UNREACH: return "KDC unreachable";
  case KRB5_REALM_CANT_RESOLVE: return "no KDC known for the realm";
  case KRB5KRB_AP_ERR_SKEW: return "clock skew too great";
  case KRB5KRB_AP_ERR_TKT_EXPIRED: return "ticket expired";
  case KRB5KDC_ERR_ETYPE_NOSUPP: return "encryption type not supported";
  case KRB5_FCC_NOFILE:
  case KRB5_CC_NOTFOUND: return "no ticket";
  case KRB5_KT_NOTFOUND:
  case KRB5_KT_END: return "no such key in the keytab";
  case KRB5KRB_AP_ERR_NOT_US: return "the ticket is for a service not in this keytab";
  case KRB5KRB_AP_ERR_MODIFIED: return "the ticket does not decrypt with the keytab's key";
  default: return NULL;
  }
}

/* "kerberos: WHAT: <plain words>: <minor in words> (GSS major 0x..: <major in
** words>, minor N)": the minor status first, as it says what happened. */
static void gss_fail(char *err, size_t errlen, const char *what, OM_uint32 maj, OM_uint32 min) {
  char majw[200] = "", minw[240] = "";
  const char *p = plain(min);
  status_words(maj, GSS_C_GSS_CODE, majw, sizeof majw);
  if (min) status_words(min, GSS_C_MECH_CODE, minw, sizeof minw);
  if (min)
    snprintf(err, errlen, "kerberos: %s: %s%s%s (GSS major 0x%08x: %s; minor %u)", what, p ? p : "", p ? ": " : "",
             minw, (unsigned)maj, majw, (unsigned)min);
  else
    snprintf(err, errlen, "kerberos: %s: %s (GSS major 0x%08x)", what, majw, (unsigned)maj);
}

static uint32_t status_of(OM_uint32 maj) {
  switch (GSS_ROUTINE_ERROR(maj)) {
  case GSS_S_DEFECTIVE_TOKEN: return DCE_MECH_E_INVALID_TOKEN;
  case GSS_S_BAD_SIG: return DCE_MECH_E_MESSAGE_ALTERED;
  case GSS_S_FAILURE: break;
  default: break;
  }
  if (maj & (GSS_S_DUPLICATE_TOKEN | GSS_S_OLD_TOKEN | GSS_S_UNSEQ_TOKEN | GSS_S_GAP_TOKEN))
    return DCE_MECH_E_OUT_OF_SEQUENCE;
  return DCE_MECH_E_LOGON_FAILURE;
}

/* The SSPI status Windows reports for the same failure, where one says more
** than "logon failure" (winerror.h): scripts test err.code. A wrong password
** or an unknown user stays STATUS_LOGON_FAILURE, as with NTLM. */
static uint32_t status_for(OM_uint32 maj, OM_uint32 min) {
  switch ((krb5_error_code)min) {
  case KRB5KRB_AP_ERR_SKEW: return DCE_MECH_E_TIME_SKEW;
  case KRB5KRB_AP_ERR_TKT_EXPIRED: return DCE_MECH_E_CONTEXT_EXPIRED;
  case KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN: return DCE_MECH_E_TARGET_UNKNOWN;
  case KRB5_KDC_UNREACH:
  case KRB5_REALM_CANT_RESOLVE: return DCE_MECH_E_NO_AUTHORITY;
  case KRB5KDC_ERR_ETYPE_NOSUPP: return DCE_MECH_E_ETYPE_NOT_SUPP;
  case KRB5_FCC_NOFILE:
  case KRB5_CC_NOTFOUND: return DCE_MECH_E_NO_CREDENTIALS;
  case KRB5KDC_ERR_PREAUTH_FAILED:
  case KRB5KRB_AP_ERR_BAD_INTEGRITY:
  case KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN: return DCE_MECH_E_LOGON_FAILURE;
  default: break;
  }
  if (GSS_ROUTINE_ERROR(maj) == GSS_S_CREDENTIALS_EXPIRED) return DCE_MECH_E_CONTEXT_EXPIRED;
  if (GSS_ROUTINE_ERROR(maj) == GSS_S_NO_CRED) return DCE_MECH_E_NO_CREDENTIALS;
  return status_of(maj);
}

/* gss_fail for the credential: also keeps the status for the step. */
static void cred_fail(krb_ctx *c, char *err, size_t errlen, const char *what, OM_uint32 maj, OM_uint32 min) {
  gss_fail(err, errlen, what, maj, min);
  c->cred_status = status_for(maj, min);
}

static int import_name(const char *s, gss_OID type, gss_name_t *out, OM_uint32 *maj, OM_uint32 *min) {
  gss_buffer_desc b;
  b.value = (void *)s;
  b.length = strlen(s);
  *maj = gss_import_name(min, &b, type, out);
  return GSS_ERROR(*maj) ? -1 : 0;
}

/* Split "user@REALM" into the peer names. */
static void set_names(krb_ctx *c, const char *s, size_t n) {
  size_t at = n;
  while (at > 0 && s[at - 1] != '@') at--;
  if (at == 0) {
    snprintf(c->peer_user, sizeof c->peer_user, "%.*s", (int)n, s);
    c->peer_realm[0] = '\0';
  } else {
    snprintf(c->peer_user, sizeof c->peer_user, "%.*s", (int)(at - 1), s);
    snprintf(c->peer_realm, sizeof c->peer_realm, "%.*s", (int)(n - at), s + at);
  }
}

static void names_from(krb_ctx *c, gss_name_t name) {
  OM_uint32 min;
  gss_buffer_desc d;
  if (name == GSS_C_NO_NAME) return;
  if (!GSS_ERROR(gss_display_name(&min, name, &d, NULL))) {
    set_names(c, (const char *)d.value, d.length);
    gss_release_buffer(&min, &d);
  }
}

/* ------------------------------------------------------------ contexts */

static void krb_free(void *ctx) {
  krb_ctx *c = ctx;
  OM_uint32 min;
  if (!c) return;
  if (c->gctx != GSS_C_NO_CONTEXT) gss_delete_sec_context(&min, &c->gctx, GSS_C_NO_BUFFER);
  if (c->cred != GSS_C_NO_CREDENTIAL) gss_release_cred(&min, &c->cred);
  if (c->target != GSS_C_NO_NAME) gss_release_name(&min, &c->target);
  free_str(&c->user); free_str(&c->realm_in); free_str(&c->password);
  free_str(&c->ccache); free_str(&c->client_keytab); free_str(&c->keytab); free_str(&c->service);
  dce_secure_zero(c, sizeof *c);
  free(c);
}

static OM_uint32 flags_of(unsigned want) {
  OM_uint32 f = GSS_C_MUTUAL_FLAG | GSS_C_REPLAY_FLAG | GSS_C_SEQUENCE_FLAG;
  if (want & DCE_MECH_WANT_DCE_STYLE) f |= GSS_C_DCE_STYLE;
  if (want & (DCE_MECH_WANT_SIGN | DCE_MECH_WANT_SEAL)) f |= GSS_C_INTEG_FLAG;
  if (want & DCE_MECH_WANT_SEAL) f |= GSS_C_CONF_FLAG;
  return f;
}

static krb_ctx *ctx_new(int server, unsigned want, char *err, size_t errlen) {
  krb_ctx *c = calloc(1, sizeof *c);
  if (!c) { snprintf(err, errlen, "out of memory"); return NULL; }
  c->server = server;
  c->want = want;
  c->req_flags = flags_of(want);
  c->gctx = GSS_C_NO_CONTEXT;
  c->cred = GSS_C_NO_CREDENTIAL;
  c->target = GSS_C_NO_NAME;
  return c;
}

static void *krb_client_new(const dce_cred *cred, unsigned want, char *err, size_t errlen) {
  krb_ctx *c;
  OM_uint32 maj, min;
  int bad = 0;
  const char *t = cred ? cred->target : NULL;
  if (!t || !*t) {
    snprintf(err, errlen, "kerberos: no target service principal (e.g. host/server.example)");
    return NULL;
  }
  if (cred->nt_hash && !cred->password) {
    snprintf(err, errlen, "kerberos: an NT hash is no Kerberos credential (give a password, ccache or keytab)");
    return NULL;
  }
  c = ctx_new(0, want, err, errlen);
  if (!c) return NULL;
  c->user = dup_opt(cred->user, &bad);
  c->realm_in = dup_opt(cred->domain, &bad);
  c->password = dup_opt(cred->password, &bad);
  c->ccache = dup_opt(cred->ccache, &bad);
  c->client_keytab = dup_opt(cred->client_keytab, &bad);
  if (bad) { krb_free(c); snprintf(err, errlen, "out of memory"); return NULL; }
  if (c->password && !c->user) {
    krb_free(c);
    snprintf(err, errlen, "kerberos: a password needs a user");
    return NULL;
  }
  /* "service@host" is host-based; anything else a Kerberos principal */
  if (import_name(t, strchr(t, '/') || !strchr(t, '@') ? (gss_OID)GSS_KRB5_NT_PRINCIPAL_NAME
                                                        : GSS_C_NT_HOSTBASED_SERVICE,
                  &c->target, &maj, &min)) {
    gss_fail(err, errlen, "bad target name", maj, min);
    krb_free(c);
    return NULL;
  }
  snprintf(c->memcc, sizeof c->memcc, "MEMORY:lua-dcerpc-%p", (void *)c);
  if (c->user) {                   /* ourselves, until the context says */
    if (strchr(c->user, '@')) set_names(c, c->user, strlen(c->user));
    else {
      snprintf(c->peer_user, sizeof c->peer_user, "%s", c->user);
      snprintf(c->peer_realm, sizeof c->peer_realm, "%s", c->realm_in ? c->realm_in : "");
    }
  }
  return c;
}

static void *krb_server_new(const dce_acceptor *acc, unsigned want, char *err, size_t errlen) {
  krb_ctx *c = ctx_new(1, want, err, errlen);
  int bad = 0;
  if (!c) return NULL;
  if (acc) {
    c->keytab = dup_opt(acc->keytab, &bad);
    c->service = dup_opt(acc->service, &bad);
  }
  if (bad) { krb_free(c); snprintf(err, errlen, "out of memory"); return NULL; }
  return c;
}

/* The client's credential, on the first step. */
static int client_cred(krb_ctx *c, char *err, size_t errlen) {
  OM_uint32 maj, min;
  gss_name_t me = GSS_C_NO_NAME;
  gss_OID_set_desc mechs = { 1, &mech_oid };
  int rc = -1;
  if (c->user) {
    char full[2 * NAME_MAX_LEN + 2];
    if (!strchr(c->user, '@') && c->realm_in)
      snprintf(full, sizeof full, "%s@%s", c->user, c->realm_in);
    else
      snprintf(full, sizeof full, "%s", c->user);
    if (import_name(full, (gss_OID)GSS_KRB5_NT_PRINCIPAL_NAME, &me, &maj, &min)) {
      cred_fail(c, err, errlen, "bad user name", maj, min);
      return -1;
    }
  }
  if (c->password) {
    gss_buffer_desc pw;
    pw.value = c->password;
    pw.length = strlen(c->password);
    maj = gss_acquire_cred_with_password(&min, me, &pw, GSS_C_INDEFINITE, &mechs, GSS_C_INITIATE,
                                         &c->cred, NULL, NULL);
    if (GSS_ERROR(maj)) cred_fail(c, err, errlen, "cannot get a ticket with the password", maj, min);
    else rc = 0;
  } else if (c->ccache || c->client_keytab) {
    gss_key_value_element_desc el[2];
    gss_key_value_set_desc store;
    store.count = 0;
    store.elements = el;
    el[store.count].key = "ccache";
    el[store.count].value = c->ccache ? c->ccache : c->memcc;
    store.count++;
    if (c->client_keytab) {
      el[store.count].key = "client_keytab";
      el[store.count].value = c->client_keytab;
      store.count++;
    }
    maj = gss_acquire_cred_from(&min, me, GSS_C_INDEFINITE, &mechs, GSS_C_INITIATE, &store,
                                &c->cred, NULL, NULL);
    if (GSS_ERROR(maj))
      cred_fail(c, err, errlen, c->client_keytab ? "cannot get a ticket with the keytab" : "no usable credentials in the ccache",
               maj, min);
    else rc = 0;
  } else {
    maj = gss_acquire_cred(&min, me, GSS_C_INDEFINITE, &mechs, GSS_C_INITIATE, &c->cred, NULL, NULL);
    if (GSS_ERROR(maj)) cred_fail(c, err, errlen, "no credentials (default ccache)", maj, min);
    else rc = 0;
  }
  if (me != GSS_C_NO_NAME) gss_release_name(&min, &me);
  if (c->password) free_str(&c->password);
  /* MIT marks every context confidential in the AP-REQ unless told not to:
  ** a server that sizes its signatures by that flag (Samba: wrap-sized
  ** verifiers once CONF is there) would then refuse integrity-level calls */
  if (rc == 0 && !(c->want & DCE_MECH_WANT_SEAL)) {
    gss_buffer_desc none = GSS_C_EMPTY_BUFFER;
    maj = gss_set_cred_option(&min, &c->cred, GSS_KRB5_CRED_NO_CI_FLAGS_X, &none);
    if (GSS_ERROR(maj)) { cred_fail(c, err, errlen, "cannot leave out confidentiality", maj, min); rc = -1; }
  }
  return rc;
}

static int server_cred(krb_ctx *c, char *err, size_t errlen) {
  OM_uint32 maj, min;
  gss_name_t me = GSS_C_NO_NAME;
  gss_OID_set_desc mechs = { 1, &mech_oid };
  gss_key_value_element_desc el;
  gss_key_value_set_desc store;
  if (!c->keytab && !c->service) return 0;    /* GSS_C_NO_CREDENTIAL: the default keytab */
  if (c->service && import_name(c->service, strchr(c->service, '/') || !strchr(c->service, '@')
                                ? (gss_OID)GSS_KRB5_NT_PRINCIPAL_NAME : GSS_C_NT_HOSTBASED_SERVICE,
                                &me, &maj, &min)) {
    cred_fail(c, err, errlen, "bad service principal", maj, min);
    return -1;
  }
  el.key = "keytab";
  el.value = c->keytab;
  store.count = c->keytab ? 1 : 0;
  store.elements = &el;
  maj = gss_acquire_cred_from(&min, me, GSS_C_INDEFINITE, &mechs, GSS_C_ACCEPT, &store, &c->cred, NULL, NULL);
  if (me != GSS_C_NO_NAME) gss_release_name(&min, &me);
  if (GSS_ERROR(maj)) { cred_fail(c, err, errlen, "cannot use the keytab", maj, min); return -1; }
  return 0;
}

/* The enctype of the context's key: the last arc of the OID that
** GSS_C_INQ_SSPI_SESSION_KEY gives with it (1.2.840.113554.1.2.2.4.<etype>);
** -1 when unknown. */
static long context_enctype(krb_ctx *c) {
  OM_uint32 min;
  gss_buffer_set_t set = GSS_C_NO_BUFFER_SET;
  long et = -1;
  if (!GSS_ERROR(gss_inquire_sec_context_by_oid(&min, c->gctx, GSS_C_INQ_SSPI_SESSION_KEY, &set)) &&
      set && set->count >= 2 && set->elements[1].length > 0) {
    const uint8_t *o = set->elements[1].value;
    size_t n = set->elements[1].length, i = n - 1;
    while (i > 0 && (o[i - 1] & 0x80)) i--;            /* start of the last arc */
    for (et = 0; i < n && et < 0x1000000; i++) et = et << 7 | (o[i] & 0x7f);
  }
  if (set) {
    size_t i;
    for (i = 0; i < set->count; i++) dce_secure_zero(set->elements[i].value, set->elements[i].length);
    gss_release_buffer_set(&min, &set);
  }
  return et;
}

/* Once established: did we get what we wanted, and the lengths. */
static int finish(krb_ctx *c, uint32_t *status, char *err, size_t errlen) {
  OM_uint32 maj, min;
  gss_iov_buffer_desc iov[2];
  int i;
  /* The acceptor takes a context without the integrity flag at the packet
  ** and integrity levels (its MICs still work: the first request with a
  ** bad verifier fails, as Windows and Samba answer, raw_protocol's
  ** spnego_packet_bind_none); confidentiality it must have for privacy. */
  if (((c->want & DCE_MECH_WANT_SEAL) && !(c->ret_flags & GSS_C_CONF_FLAG)) ||
      (!c->server && (c->want & DCE_MECH_WANT_SIGN) && !(c->ret_flags & GSS_C_INTEG_FLAG))) {
    *status = DCE_MECH_E_ALGORITHM_MISMATCH;
    snprintf(err, errlen, "kerberos: the context has no %s", (c->want & DCE_MECH_WANT_SEAL) &&
             !(c->ret_flags & GSS_C_CONF_FLAG) ? "confidentiality" : "integrity");
    return -1;
  }
  for (i = 0; i < 2; i++) {
    memset(iov, 0, sizeof iov);
    iov[0].type = GSS_IOV_BUFFER_TYPE_HEADER;
    iov[1].type = GSS_IOV_BUFFER_TYPE_DATA;
    iov[1].buffer.length = 16;
    maj = gss_wrap_iov_length(&min, c->gctx, i, GSS_C_QOP_DEFAULT, NULL, iov, 2);
    if (GSS_ERROR(maj)) {
      if (!(c->want & (DCE_MECH_WANT_SIGN | DCE_MECH_WANT_SEAL))) break;   /* connect: not needed */
      *status = DCE_MECH_E_INTERNAL;
      gss_fail(err, errlen, "cannot size the signature", maj, min);
      return -1;
    }
    if (iov[0].buffer.length > DCE_MECH_MAX_SIG_LEN) {
      *status = DCE_MECH_E_INTERNAL;
      snprintf(err, errlen, "kerberos: a %zu-byte signature is too long", (size_t)iov[0].buffer.length);
      return -1;
    }
    if (i) c->sig_seal = iov[0].buffer.length; else c->sig_sign = iov[0].buffer.length;
  }
  /* A MIC is as long as a wrap token without confidentiality in RFC 4121
  ** (28 with AES); an RFC 1964 / 4757 MIC (DES, RC4-HMAC) carries the
  ** GSS framing: 37 bytes, as Windows and Samba lay it out. */
  switch (context_enctype(c)) {
  case 1: case 2: case 3: case 23: case 24: c->sig_sign = 37; break;
  default: break;
  }
  c->established = 1;
  return 0;
}

static int krb_step(void *ctx, const uint8_t *in, size_t in_len, dce_buf *out,
                    uint32_t *status, char *err, size_t errlen) {
  krb_ctx *c = ctx;
  OM_uint32 maj, min;
  gss_buffer_desc ib, ob = GSS_C_EMPTY_BUFFER;
  gss_name_t src = GSS_C_NO_NAME;
  int r;
  *status = 0;
  if (c->failed || c->established) {
    *status = DCE_MECH_E_INVALID_TOKEN;
    snprintf(err, errlen, "kerberos: the context takes no further token");
    return -1;
  }
  if (!c->have_cred) {
    if (c->server ? server_cred(c, err, errlen) : client_cred(c, err, errlen)) {
      c->failed = 1;
      *status = c->cred_status ? c->cred_status : DCE_MECH_E_LOGON_FAILURE;
      return -1;
    }
    c->have_cred = 1;
  }
  ib.value = (void *)in;
  ib.length = in ? in_len : 0;
  if (c->server) {
    if (!in || !in_len) {
      c->failed = 1;
      *status = DCE_MECH_E_INVALID_TOKEN;
      snprintf(err, errlen, "kerberos: no token from the client");
      return -1;
    }
    maj = gss_accept_sec_context(&min, &c->gctx, c->cred, &ib, GSS_C_NO_CHANNEL_BINDINGS, &src, NULL,
                                 &ob, &c->ret_flags, NULL, NULL);
  } else {
    maj = gss_init_sec_context(&min, c->cred, &c->gctx, c->target, &mech_oid, c->req_flags, 0,
                               GSS_C_NO_CHANNEL_BINDINGS, in ? &ib : GSS_C_NO_BUFFER, NULL, &ob,
                               &c->ret_flags, NULL);
  }
  if (GSS_ERROR(maj)) {
    c->failed = 1;
    *status = status_for(maj, min);
    if (c->server) {
      gss_fail(err, errlen, "the client's token is refused", maj, min);
    } else {
      /* name the service: a KDC's "Server not found" may not */
      char what[NAME_MAX_LEN + 48] = "cannot authenticate to the server";
      OM_uint32 m2;
      gss_buffer_desc d;
      if (c->target != GSS_C_NO_NAME && !GSS_ERROR(gss_display_name(&m2, c->target, &d, NULL))) {
        snprintf(what, sizeof what, "cannot authenticate to the server (service %.*s)",
                 (int)(d.length < NAME_MAX_LEN ? d.length : NAME_MAX_LEN), (const char *)d.value);
        gss_release_buffer(&m2, &d);
      }
      gss_fail(err, errlen, what, maj, min);
    }
    if (ob.length) gss_release_buffer(&min, &ob);
    if (src != GSS_C_NO_NAME) gss_release_name(&min, &src);
    return -1;
  }
  r = ob.length && dce_buf_put(out, ob.value, ob.length) ? -1 : 0;
  gss_release_buffer(&min, &ob);
  if (src != GSS_C_NO_NAME) { names_from(c, src); gss_release_name(&min, &src); }
  if (r) { c->failed = 1; *status = DCE_MECH_E_NO_MEMORY; snprintf(err, errlen, "out of memory"); return -1; }
  if (maj & GSS_S_CONTINUE_NEEDED) return 1;
  if (!c->server) {                /* who we are, as the context has it */
    gss_name_t me = GSS_C_NO_NAME;
    if (!GSS_ERROR(gss_inquire_context(&min, c->gctx, &me, NULL, NULL, NULL, NULL, NULL, NULL))) {
      names_from(c, me);
      gss_release_name(&min, &me);
    }
  }
  if (finish(c, status, err, errlen)) { c->failed = 1; return -1; }
  return 0;
}

/* ------------------------------------------------------------ per message */

static size_t krb_sig_len(void *ctx) {
  krb_ctx *c = ctx;
  if (!c->established) return (c->want & DCE_MECH_WANT_SEAL) ? 76 : 28;   /* AES, until known */
  return (c->want & DCE_MECH_WANT_SEAL) ? c->sig_seal : c->sig_sign;
}

static uint32_t krb_sign(void *ctx, const uint8_t *data, size_t data_len,
                         const uint8_t *whole, size_t whole_len, uint8_t *sig, size_t sig_len) {
  krb_ctx *c = ctx;
  OM_uint32 maj, min;
  gss_buffer_desc msg, tok = GSS_C_EMPTY_BUFFER;
  uint32_t st = 0;
  msg.value = (void *)(c->hdr_sign ? whole : data);
  msg.length = c->hdr_sign ? whole_len : data_len;
  maj = gss_get_mic(&min, c->gctx, GSS_C_QOP_DEFAULT, &msg, &tok);
  if (GSS_ERROR(maj)) return DCE_MECH_E_INTERNAL;
  if (tok.length != sig_len) st = DCE_MECH_E_INTERNAL;
  else memcpy(sig, tok.value, sig_len);
  gss_release_buffer(&min, &tok);
  return st;
}

static uint32_t krb_check(void *ctx, const uint8_t *data, size_t data_len,
                          const uint8_t *whole, size_t whole_len, const uint8_t *sig, size_t sig_len) {
  krb_ctx *c = ctx;
  OM_uint32 maj, min;
  gss_buffer_desc msg, tok;
  msg.value = (void *)(c->hdr_sign ? whole : data);
  msg.length = c->hdr_sign ? whole_len : data_len;
  tok.value = (void *)sig;
  tok.length = sig_len;
  maj = gss_verify_mic(&min, c->gctx, &msg, &tok, NULL);
  return GSS_ERROR(maj) ? (GSS_ROUTINE_ERROR(maj) == GSS_S_BAD_SIG ? DCE_MECH_E_MESSAGE_ALTERED : status_of(maj))
         : (maj & (GSS_S_DUPLICATE_TOKEN | GSS_S_OLD_TOKEN | GSS_S_UNSEQ_TOKEN | GSS_S_GAP_TOKEN))
         ? DCE_MECH_E_OUT_OF_SEQUENCE : 0;
}

/* HEADER (the auth value), then with header signing the PDU before the
** data and the rest after it (auth padding is inside data; the sec_trailer
** after it) as SIGN_ONLY. */
static void lay_out(const krb_ctx *c, gss_iov_buffer_desc iov[4], uint8_t *data, size_t data_len,
                    const uint8_t *whole, size_t whole_len, uint8_t *sig, size_t sig_len) {
  size_t pre = (size_t)(data - whole), post = whole_len - pre - data_len;
  memset(iov, 0, 4 * sizeof *iov);
  iov[0].type = GSS_IOV_BUFFER_TYPE_HEADER;
  iov[0].buffer.value = sig;
  iov[0].buffer.length = sig_len;
  iov[1].type = c->hdr_sign && pre ? GSS_IOV_BUFFER_TYPE_SIGN_ONLY : GSS_IOV_BUFFER_TYPE_EMPTY;
  iov[1].buffer.value = c->hdr_sign && pre ? (void *)whole : NULL;
  iov[1].buffer.length = c->hdr_sign ? pre : 0;
  iov[2].type = GSS_IOV_BUFFER_TYPE_DATA;
  iov[2].buffer.value = data;
  iov[2].buffer.length = data_len;
  iov[3].type = c->hdr_sign && post ? GSS_IOV_BUFFER_TYPE_SIGN_ONLY : GSS_IOV_BUFFER_TYPE_EMPTY;
  iov[3].buffer.value = c->hdr_sign && post ? (void *)(data + data_len) : NULL;
  iov[3].buffer.length = c->hdr_sign ? post : 0;
}

static uint32_t krb_seal(void *ctx, uint8_t *data, size_t data_len,
                         const uint8_t *whole, size_t whole_len, uint8_t *sig, size_t sig_len) {
  krb_ctx *c = ctx;
  OM_uint32 maj, min;
  gss_iov_buffer_desc iov[4];
  int conf = 0;
  if (data < whole || data_len > whole_len || (size_t)(data - whole) > whole_len - data_len)
    return DCE_MECH_E_INTERNAL;
  lay_out(c, iov, data, data_len, whole, whole_len, sig, sig_len);
  maj = gss_wrap_iov(&min, c->gctx, 1, GSS_C_QOP_DEFAULT, &conf, iov, 4);
  if (GSS_ERROR(maj) || !conf || iov[0].buffer.length != sig_len) return DCE_MECH_E_INTERNAL;
  return 0;
}

static uint32_t krb_unseal(void *ctx, uint8_t *data, size_t data_len,
                           const uint8_t *whole, size_t whole_len, const uint8_t *sig, size_t sig_len) {
  krb_ctx *c = ctx;
  OM_uint32 maj, min;
  gss_iov_buffer_desc iov[4];
  int conf = 0;
  if (data < whole || data_len > whole_len || (size_t)(data - whole) > whole_len - data_len)
    return DCE_MECH_E_MESSAGE_ALTERED;
  lay_out(c, iov, data, data_len, whole, whole_len, (uint8_t *)sig, sig_len);
  maj = gss_unwrap_iov(&min, c->gctx, &conf, NULL, iov, 4);
  if (GSS_ERROR(maj)) {
    memset(data, 0, data_len);     /* nothing of it is to be used */
    return GSS_ROUTINE_ERROR(maj) == GSS_S_BAD_SIG || GSS_ROUTINE_ERROR(maj) == GSS_S_DEFECTIVE_TOKEN
           ? DCE_MECH_E_MESSAGE_ALTERED : status_of(maj);
  }
  if (!conf) { memset(data, 0, data_len); return DCE_MECH_E_MESSAGE_ALTERED; }   /* not sealed */
  if (maj & (GSS_S_DUPLICATE_TOKEN | GSS_S_OLD_TOKEN | GSS_S_UNSEQ_TOKEN | GSS_S_GAP_TOKEN)) {
    memset(data, 0, data_len);
    return DCE_MECH_E_OUT_OF_SEQUENCE;
  }
  return 0;
}

static void krb_header_sign(void *ctx) { ((krb_ctx *)ctx)->hdr_sign = 1; }

/* ------------------------------------------------------------ for SPNEGO */

static int krb_get_mic(void *ctx, const uint8_t *msg, size_t len, dce_buf *mic) {
  krb_ctx *c = ctx;
  OM_uint32 maj, min;
  gss_buffer_desc m, t = GSS_C_EMPTY_BUFFER;
  int r;
  m.value = (void *)msg;
  m.length = len;
  maj = gss_get_mic(&min, c->gctx, GSS_C_QOP_DEFAULT, &m, &t);
  if (GSS_ERROR(maj)) return -1;
  r = dce_buf_put(mic, t.value, t.length) ? -1 : 0;
  gss_release_buffer(&min, &t);
  return r;
}

/* SPNEGO's mechListMIC: in the DCE-style exchange with the RFC 4121 (AES)
** token formats it is required both ways (Samba's "new SPNEGO": its server
** answers accept-incomplete until the client's MIC came); optional with
** RC4-HMAC and DES, whose peers predate the exchange, and in the two-leg
** exchange of SMB, where the acceptor completes with its AP-REP. */
static int krb_mic_policy(void *ctx) {
  krb_ctx *c = ctx;
  long et;
  if (!c->established || !(c->want & DCE_MECH_WANT_DCE_STYLE)) return DCE_MECH_MIC_OPTIONAL;
  /* a peer that did not ask for integrity (a connect-level client) makes no
  ** MIC of its own: Samba's gensec does "new SPNEGO" only with the flag */
  if (!(c->ret_flags & GSS_C_INTEG_FLAG)) return DCE_MECH_MIC_OPTIONAL;
  et = context_enctype(c);
  return (et == 23 || et == 24 || (et >= 1 && et <= 3) || et < 0) ? DCE_MECH_MIC_OPTIONAL : DCE_MECH_MIC_REQUIRED;
}

static int krb_verify_mic(void *ctx, const uint8_t *msg, size_t len, const uint8_t *mic, size_t mic_len) {
  krb_ctx *c = ctx;
  OM_uint32 maj, min;
  gss_buffer_desc m, t;
  m.value = (void *)msg;
  m.length = len;
  t.value = (void *)mic;
  t.length = mic_len;
  maj = gss_verify_mic(&min, c->gctx, &m, &t, NULL);
  return GSS_ERROR(maj) ? -1 : 0;
}

/* ------------------------------------------------------------ the rest */

static uint32_t krb_session_key(void *ctx, uint8_t *out, size_t cap, size_t *len) {
  krb_ctx *c = ctx;
  OM_uint32 maj, min;
  gss_buffer_set_t set = GSS_C_NO_BUFFER_SET;
  uint32_t st = 0;
  *len = 0;
  if (!c->established) return DCE_MECH_E_INTERNAL;
  maj = gss_inquire_sec_context_by_oid(&min, c->gctx, GSS_C_INQ_SSPI_SESSION_KEY, &set);
  if (GSS_ERROR(maj) || !set || set->count < 1) st = DCE_MECH_E_INTERNAL;
  else if (set->elements[0].length > cap) st = DCE_MECH_E_INTERNAL;
  else {
    memcpy(out, set->elements[0].value, set->elements[0].length);
    *len = set->elements[0].length;
  }
  if (set) {
    size_t i;
    for (i = 0; i < set->count; i++) dce_secure_zero(set->elements[i].value, set->elements[i].length);
    gss_release_buffer_set(&min, &set);
  }
  return st;
}

static void krb_names(void *ctx, const char **user, const char **domain, const char **workstation) {
  krb_ctx *c = ctx;
  *user = c->peer_user;
  *domain = c->peer_realm;
  *workstation = "";
}

extern const dce_mech dce_mech_krb5;
const dce_mech dce_mech_krb5 = {
  .name = "krb5",
  .auth_type = 16,
  .oid = krb5_oid, .oid_len = sizeof krb5_oid,
  .client_new = krb_client_new,
  .server_new = krb_server_new,
  .free = krb_free,
  .step = krb_step,
  .sig_len = krb_sig_len,
  .sign = krb_sign,
  .check = krb_check,
  .seal = krb_seal,
  .unseal = krb_unseal,
  .header_sign = krb_header_sign,
  .get_mic = krb_get_mic, .verify_mic = krb_verify_mic, .mic_policy = krb_mic_policy, .after_mic = NULL,
  .session_key = krb_session_key,
  .names = krb_names,
};
