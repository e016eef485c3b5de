/* lconn.c - placeholder until the conn part of dcerpc.core lands. */
#include "lcore.h"
void dcerpc_open_conn(lua_State *L) { (void)L; }
