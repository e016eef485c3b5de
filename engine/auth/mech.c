/*
** mech.c - the registry of authentication mechanisms (see mech.h).
*/
#include <string.h>
#include "auth/mech.h"
#include "auth/spnego.h"

/* The mechanisms, in SPNEGO's order of preference: a SPNEGO client offers
** every one with an OID that can use its credential, in this order, and
** sends the first one's token optimistically. Each X(n) names a `const
** dce_mech dce_mech_n` (Kerberos: dce_mech_krb5 in kerberos_mech.c).
** Kerberos goes first, as Windows prefers it (SPNEGO offers it only with
** Kerberos credentials, and accepts it only with a keytab: spnego_mech.c). */
#define DCE_MECHANISMS(X) X(krb5) X(ntlm) X(spnego)

#define DECLARE(n) extern const dce_mech dce_mech_##n;
#define ENTRY(n) &dce_mech_##n,
DCE_MECHANISMS(DECLARE)
static const dce_mech *const registry[] = { DCE_MECHANISMS(ENTRY) };
#define N_MECHS (sizeof registry / sizeof registry[0])

const dce_mech *dce_mech_at(size_t i) { return i < N_MECHS ? registry[i] : NULL; }

const dce_mech *dce_mech_by_type(uint8_t auth_type) {
  size_t i;
  for (i = 0; i < N_MECHS; i++)
    if (registry[i]->auth_type == auth_type) return registry[i];
  return NULL;
}

const dce_mech *dce_mech_by_name(const char *name) {
  size_t i;
  if (!name) return NULL;
  for (i = 0; i < N_MECHS; i++)
    if (!strcmp(registry[i]->name, name)) return registry[i];
  return NULL;
}

const dce_mech *dce_mech_by_oid(const uint8_t *oid, size_t len) {
  size_t i;
  if (!oid) return NULL;
  for (i = 0; i < N_MECHS; i++)
    if (registry[i]->oid && dce_oid_match(oid, len, registry[i]->oid, registry[i]->oid_len))
      return registry[i];
  return NULL;
}
