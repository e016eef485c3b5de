rockspec_format = "3.0"
package = "lua-dcerpc"
version = "scm-1"
source = { url = "git+file:///lua-dcerpc" }
description = {
  summary = "Scriptable MS-RPC (DCE/RPC 5.0 + MS-RPCE) engine: C core, Lua 5.4 module",
  detailed = [[
    Describe RPC interfaces in Lua, call them over ncacn_ip_tcp with a fast C
    NDR interpreter, and (later) serve them with Lua handlers.
  ]],
  license = "MIT",
}
dependencies = { "lua >= 5.4" }
build = {
  type = "make",
  build_variables = {
    CFLAGS = "$(CFLAGS)",
    LIBFLAG = "$(LIBFLAG)",
    LUA_INCDIR = "$(LUA_INCDIR)",
  },
  install_variables = {
    LUADIR = "$(LUADIR)",
    LIBDIR = "$(LIBDIR)",
    BINDIR = "",              -- the command: build.install.bin below
    MANDIR = "",              -- the man page: in the rock's docs (copy_directories)
  },
  install = { bin = { dcerpc = "bin/dcerpc" } },
  copy_directories = { "docs" },
}
