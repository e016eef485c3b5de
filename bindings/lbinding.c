/* lbinding.c - placeholder until the binding part of dcerpc.core lands. */
#include "lcore.h"
void dcerpc_open_binding(lua_State *L) { (void)L; }
