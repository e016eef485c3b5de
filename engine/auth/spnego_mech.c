/*
** spnego_mech.c - SPNEGO (auth/spnego.h) as a mechanism (auth/mech.h):
** DCE/RPC auth type 9, RPC_C_AUTHN_GSS_NEGOTIATE.
**
** The context holds the negotiation and one context of every inner
** mechanism it may choose: a client makes one for each registered
** mechanism with an OID that can use its credential (mech.c's order is the
** order offered, the first one's token goes out optimistically); a server
** one for each that can accept with its acceptor, and takes the first of the
** client's list among them. Once a mechanism is chosen, packet protection,
** the session key and the names are that mechanism's.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "auth/mech.h"
#include "auth/spnego.h"
#include "base/crypto.h"

typedef struct spnego_ctx {
  dce_spnego sp;
  size_t n;                                    /* inner contexts made */
  const dce_mech *mechs[DCE_SPNEGO_MAX_MECHS];
  void *mctx[DCE_SPNEGO_MAX_MECHS];
} spnego_ctx;

static void spnego_free(void *ctx) {
  spnego_ctx *c = ctx;
  size_t i;
  if (!c) return;
  dce_spnego_free(&c->sp);
  for (i = 0; i < c->n; i++) c->mechs[i]->free(c->mctx[i]);
  dce_secure_zero(c, sizeof *c);
  free(c);
}

/* Make a context of every registered mechanism that can be negotiated and
** has this side (server or not), in the registry's order, then start the
** negotiation over them. */
static void *spnego_new(int server, const dce_cred *cred, const dce_acceptor *acc, unsigned want,
                        char *err, size_t errlen) {
  spnego_ctx *c = calloc(1, sizeof *c);
  const dce_mech *m;
  char why[200] = "";
  size_t i;
  if (!c) { snprintf(err, errlen, "out of memory"); return NULL; }
  for (i = 0; (m = dce_mech_at(i)) != NULL && c->n < DCE_SPNEGO_MAX_MECHS; i++) {
    char e[160] = "";
    void *x;
    if (!m->oid || (server ? !m->server_new : !m->client_new)) continue;
    /* Kerberos is offered when asked for by name: a client with a ccache
    ** or a keytab, a server with a keytab or a service principal. Not
    ** for a plain user and password (its client would ask a KDC on every
    ** SPNEGO bind meant for NTLM), nor from the default keytab. */
    if (m->auth_type == 16 && !(server ? acc && (acc->keytab || acc->service)
                                       : cred && (cred->ccache || cred->client_keytab || cred->kerberos)))
      continue;
    if (!server && cred && cred->kerberos == 2 && m->auth_type != 16) continue;   /* Kerberos alone */
    /* Kerberos wanted and no user name: NTLM would only be an anonymous
    ** fallback, which is not what was asked for (the error stays Kerberos') */
    if (!server && cred && m->auth_type == 10 && (cred->ccache || cred->client_keytab || cred->kerberos) &&
        (!cred->user || !*cred->user))
      continue;
    x = server ? m->server_new(acc, want, e, sizeof e) : m->client_new(cred, want, e, sizeof e);
    if (!x) {                      /* not usable here: not offered */
      snprintf(why, sizeof why, "%s: %s", m->name, e[0] ? e : "cannot be set up");
      continue;
    }
    c->mechs[c->n] = m;
    c->mctx[c->n] = x;
    c->n++;
  }
  if (!c->n) {
    snprintf(err, errlen, "SPNEGO has no mechanism to offer (%s)", why[0] ? why : "none registered");
    free(c);
    return NULL;
  }
  if (dce_spnego_init(&c->sp, server ? DCE_SPNEGO_SERVER : DCE_SPNEGO_CLIENT, c->mechs, c->mctx, c->n, 0)) {
    snprintf(err, errlen, "cannot set up SPNEGO");
    spnego_free(c);
    return NULL;
  }
  return c;
}

static void *spnego_client_new(const dce_cred *cred, unsigned want, char *err, size_t errlen) {
  return spnego_new(0, cred, NULL, want, err, errlen);
}

static void *spnego_server_new(const dce_acceptor *acc, unsigned want, char *err, size_t errlen) {
  return spnego_new(1, NULL, acc, want, err, errlen);
}

static int spnego_step(void *ctx, const uint8_t *in, size_t len, dce_buf *out,
                       uint32_t *status, char *err, size_t errlen) {
  spnego_ctx *c = ctx;
  int r = dce_spnego_step(&c->sp, in, len, out);
  *status = 0;
  if (r == DCE_SPNEGO_ERROR) {
    int code = dce_spnego_errcode(&c->sp);
    uint32_t ms = dce_spnego_mech_status(&c->sp);
    *status = ms ? ms                                /* the inner mechanism's own */
            : code == DCE_SPNEGO_E_NOMEM ? DCE_MECH_E_NO_MEMORY
            : code == DCE_SPNEGO_E_MIC_BAD || code == DCE_SPNEGO_E_MIC_MISSING ? DCE_MECH_E_MESSAGE_ALTERED
            : code == DCE_SPNEGO_E_REJECTED ? DCE_MECH_E_LOGON_FAILURE : DCE_MECH_E_INVALID_TOKEN;
    snprintf(err, errlen, "SPNEGO: %s", dce_spnego_errmsg(&c->sp));
    return -1;
  }
  return r == DCE_SPNEGO_DONE ? 0 : 1;
}

/* ------------------------------------------------------------ the chosen one
** Before the choice (nothing to protect yet) the first inner context
** answers: the client's own names, a signature length to lay out with. */

static const dce_mech *inner(const spnego_ctx *c, void **ctx) {
  const dce_mech *m = dce_spnego_mech(&c->sp);
  if (m) { *ctx = dce_spnego_mech_ctx(&c->sp); return m; }
  *ctx = c->mctx[0];
  return c->mechs[0];
}

static size_t spnego_sig_len(void *ctx) {
  void *x;
  const dce_mech *m = inner(ctx, &x);
  return m->sig_len(x);
}

static uint32_t spnego_sign(void *ctx, const uint8_t *data, size_t data_len,
                            const uint8_t *whole, size_t whole_len, uint8_t *sig, size_t sig_len) {
  void *x;
  const dce_mech *m = inner(ctx, &x);
  return m->sign(x, data, data_len, whole, whole_len, sig, sig_len);
}

static uint32_t spnego_check(void *ctx, const uint8_t *data, size_t data_len,
                             const uint8_t *whole, size_t whole_len, const uint8_t *sig, size_t sig_len) {
  void *x;
  const dce_mech *m = inner(ctx, &x);
  return m->check(x, data, data_len, whole, whole_len, sig, sig_len);
}

static uint32_t spnego_seal(void *ctx, uint8_t *data, size_t data_len,
                            const uint8_t *whole, size_t whole_len, uint8_t *sig, size_t sig_len) {
  void *x;
  const dce_mech *m = inner(ctx, &x);
  return m->seal(x, data, data_len, whole, whole_len, sig, sig_len);
}

static uint32_t spnego_unseal(void *ctx, uint8_t *data, size_t data_len,
                              const uint8_t *whole, size_t whole_len, const uint8_t *sig, size_t sig_len) {
  void *x;
  const dce_mech *m = inner(ctx, &x);
  return m->unseal(x, data, data_len, whole, whole_len, sig, sig_len);
}

/* Header signing may be settled before the choice: tell every candidate. */
static void spnego_header_sign(void *ctx) {
  spnego_ctx *c = ctx;
  size_t i;
  for (i = 0; i < c->n; i++)
    if (c->mechs[i]->header_sign) c->mechs[i]->header_sign(c->mctx[i]);
}

static uint32_t spnego_session_key(void *ctx, uint8_t *out, size_t cap, size_t *len) {
  void *x;
  const dce_mech *m = inner(ctx, &x);
  return m->session_key(x, out, cap, len);
}

static void spnego_names(void *ctx, const char **user, const char **domain, const char **workstation) {
  void *x;
  const dce_mech *m = inner(ctx, &x);
  m->names(x, user, domain, workstation);
}

extern const dce_mech dce_mech_spnego;
const dce_mech dce_mech_spnego = {
  .name = "spnego",
  .auth_type = 9,
  .oid = NULL, .oid_len = 0,       /* not offered inside itself */
  .client_new = spnego_client_new,
  .server_new = spnego_server_new,
  .free = spnego_free,
  .step = spnego_step,
  .sig_len = spnego_sig_len,
  .sign = spnego_sign,
  .check = spnego_check,
  .seal = spnego_seal,
  .unseal = spnego_unseal,
  .header_sign = spnego_header_sign,
  .get_mic = NULL, .verify_mic = NULL, .mic_policy = NULL, .after_mic = NULL,
  .session_key = spnego_session_key,
  .names = spnego_names,
};
