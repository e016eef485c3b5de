/*
** fuzz_vt.c - libFuzzer harness for the verification trailer check: the
** first two input bytes give the offset where the NDR data "ended" and the
** drep; the rest is the stub.
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "rpc/vt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  dce_vt_expect x;
  char err[160];
  size_t from;
  if (size < 2) return 0;
  memset(&x, 0, sizeof x);
  x.drep[0] = (data[1] & 1) ? DCE_DREP_LE : 0;
  x.transfer.major = 2;
  from = data[0];
  data += 2; size -= 2;
  if (from > size) from = size;
  /* a trailer that checks out holds at least the magic and one command */
  if (dce_vt_check(data, size, from, &x, err, sizeof err) == DCE_VT_OK && size - from < 12) abort();
  return 0;
}
