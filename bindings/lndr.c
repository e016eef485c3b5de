/* lndr.c - placeholder until the ndr part of dcerpc.core lands. */
#include "lcore.h"
void dcerpc_open_ndr(lua_State *L) { (void)L; }
