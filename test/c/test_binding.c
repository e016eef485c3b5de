/* test_binding.c - string bindings and the status table, from C. */
#include <stdlib.h>
#include <string.h>
#include "testhelp.h"
#include "rpc/binding.h"
#include "base/status.h"

static char scratch[DCE_BINDING_SCRATCH(DCE_BINDING_MAX_LEN)];

static int parse(dce_binding *b, const char *s, dce_binding_err *e) {
  return dce_binding_parse(b, s, strlen(s), scratch, sizeof scratch, e);
}

static int eq(const dce_bstr *x, const char *s) {
  return x->s && x->len == strlen(s) && memcmp(x->s, s, x->len) == 0 && x->s[x->len] == '\0';
}

/* parse, format, and check the text is `want` */
static int roundtrip(const char *in, const char *want) {
  dce_binding b, b2;
  char out[512], out2[512], scr2[sizeof scratch];
  size_t n;
  if (parse(&b, in, NULL)) return 0;
  n = dce_binding_format(&b, out, sizeof out);
  if (n == (size_t)-1 || n >= sizeof out || strcmp(out, want)) return 0;
  if (dce_binding_parse(&b2, out, n, scr2, sizeof scr2, NULL)) return 0;
  n = dce_binding_format(&b2, out2, sizeof out2);
  return strcmp(out, out2) == 0;
}

int main(void) {
  dce_binding b;
  dce_binding_err e;
  char out[256];
  size_t n;

  test_cond("plain tcp", parse(&b, "ncacn_ip_tcp:127.0.0.1[135]", NULL) == 0 &&
            eq(&b.protseq, "ncacn_ip_tcp") && eq(&b.host, "127.0.0.1") && eq(&b.endpoint, "135") &&
            b.nopts == 0 && !b.has_object);
  test_cond("flags and options", parse(&b, "ncacn_ip_tcp:h[60135,sign,seal,target_hostname=dc1]", NULL) == 0 &&
            b.nopts == 3 && eq(&b.opt[0].key, "sign") && b.opt[0].value.s == NULL &&
            eq(&b.opt[2].key, "target_hostname") && eq(&b.opt[2].value, "dc1"));
  test_cond("first known flag is not an endpoint", parse(&b, "ncacn_ip_tcp:h[seal]", NULL) == 0 &&
            b.endpoint.s == NULL && b.nopts == 1);
  test_cond("bracketed IPv6", parse(&b, "ncacn_ip_tcp:[fe80::1%lo][135]", NULL) == 0 &&
            eq(&b.host, "fe80::1%lo") && eq(&b.endpoint, "135"));
  test_cond("bare IPv6", parse(&b, "ncacn_ip_tcp:::1", NULL) == 0 && eq(&b.host, "::1") && !b.endpoint.s);
  test_cond("object uuid", parse(&b, "12345678-1234-abcd-ef00-0123456789ab@ncalrpc:[x]", NULL) == 0 &&
            b.has_object && eq(&b.endpoint, "x"));
  test_cond("escapes", parse(&b, "ncacn_np:\\\\\\\\srv[\\pipe\\a\\,b]", NULL) == 0 &&
            eq(&b.host, "\\\\srv") && eq(&b.endpoint, "\\pipe\\a,b"));
  test_cond("round trip samba pipe", roundtrip("ncacn_np:127.0.0.1[\\pipe\\srvsvc]", "ncacn_np:127.0.0.1[\\pipe\\srvsvc]"));
  test_cond("round trip windows pipe", roundtrip("ncacn_np:\\\\\\\\S[\\\\PIPE\\\\atsvc]", "ncacn_np:\\\\\\\\S[\\PIPE\\atsvc]"));
  test_cond("round trip ipv6", roundtrip("ncacn_ip_tcp:[::1][135,seal]", "ncacn_ip_tcp:::1[135,seal]"));
  test_cond("round trip endpoint=", roundtrip("ncalrpc:[endpoint=seal]", "ncalrpc:[endpoint=seal]"));
  test_cond("round trip unknown first flag", roundtrip("ncalrpc:[,foo,k=v]", "ncalrpc:[,foo,k=v]"));
  test_cond("round trip trailing backslash", roundtrip("ncalrpc:[a\\\\]", "ncalrpc:[a\\\\]"));

  test_cond("missing ':'", parse(&b, "ncacn_ip_tcp", &e) == -1 && e.pos == 12);
  test_cond("bad port", parse(&b, "ncacn_ip_tcp:h[99999]", &e) == -1 && e.pos == 15 && strstr(e.msg, "range"));
  test_cond("missing ]", parse(&b, "ncacn_ip_tcp:h[1", &e) == -1 && strstr(e.msg, "missing ']'"));
  test_cond("control char", dce_binding_parse(&b, "ncalrpc:\0", 9, scratch, sizeof scratch, &e) == -1 && e.pos == 8);
  test_cond("small scratch refused", dce_binding_parse(&b, "ncalrpc:", 8, scratch, 4, &e) == -1);

  /* snprintf-like formatting */
  parse(&b, "ncacn_ip_tcp:127.0.0.1[135,seal]", NULL);
  n = dce_binding_format(&b, NULL, 0);
  test_cond("format sizes", n == strlen("ncacn_ip_tcp:127.0.0.1[135,seal]"));
  memset(out, 'x', sizeof out);
  test_cond("format truncates safely", dce_binding_format(&b, out, 5) == n && strcmp(out, "ncac") == 0);
  b.protseq.s = "bad seq"; b.protseq.len = 7;
  test_cond("format refuses bad protseq", dce_binding_format(&b, out, sizeof out) == (size_t)-1);

  /* every truncation of a long binding parses or fails cleanly */
  {
    const char *s = "12345678-1234-abcd-ef00-0123456789ab@ncacn_np:\\\\\\\\srv[\\pipe\\x,sign,a=b\\,c]";
    size_t i, ok = 0, bad = 0;
    for (i = 0; i <= strlen(s); i++) {
      if (dce_binding_parse(&b, s, i, scratch, sizeof scratch, &e) == 0) ok++;
      else if (e.pos <= i) bad++;
    }
    test_cond("all prefixes handled", ok + bad == strlen(s) + 1 && ok > 0 && bad > 0);
  }

  /* status table: sorted, names looked up both ways */
  {
    size_t i;
    uint32_t prev = 0, code;
    const char *name;
    int sorted = 1, found = 1;
    for (i = 0; (name = dce_status_at(i, &code)) != NULL; i++) {
      if (i && code <= prev) sorted = 0;
      if (dce_status_name(code) != name) found = 0;
      prev = code;
    }
    test_cond("status table sorted", sorted && i > 150);
    test_cond("status lookups", found);
    test_cond("nca_s_op_rng_error", strcmp(dce_status_name(DCE_NCA_S_OP_RNG_ERROR), "nca_s_op_rng_error") == 0);
    test_cond("ept_s_not_registered", strcmp(dce_status_name(DCE_EPT_S_NOT_REGISTERED), "ept_s_not_registered") == 0);
    test_cond("1726", strcmp(dce_status_name(DCE_RPC_S_CALL_FAILED), "RPC_S_CALL_FAILED") == 0);
    test_cond("unknown", dce_status_name(0xdeadbeefu) == NULL);
  }
  return test_report("test_binding");
}
