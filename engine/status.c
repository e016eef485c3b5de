/* status.c - placeholder, replaced by the status table. */
#include <stddef.h>
#include "status.h"
const char *dce_status_name(uint32_t code) { (void)code; return NULL; }
