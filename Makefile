# lua-dcerpc - builds dcerpc/core.so (engine + bindings) and runs the suites.
# Works alone (`make`, `make test`) and under LuaRocks (build.type = "make",
# which passes CFLAGS, LIBFLAG, LUA_INCDIR, LIBDIR, LUADIR).

LUA        ?= lua5.4
PKG_CONFIG ?= pkg-config
BUILD      ?= build

LUA_INCDIR ?= $(shell $(PKG_CONFIG) --variable=includedir lua5.4 2>/dev/null)/lua5.4
DEP_CFLAGS := $(shell $(PKG_CONFIG) --cflags libcrypto krb5-gssapi 2>/dev/null)
DEP_LIBS   := $(shell $(PKG_CONFIG) --libs libcrypto krb5-gssapi 2>/dev/null)

CFLAGS  ?= -O2 -g
LIBFLAG ?= -shared
WARN     = -Wall -Wextra -pedantic -Wmissing-prototypes -Wshadow -Wpointer-arith \
           -Wstrict-prototypes -Wno-unused-parameter
DCE_CFLAGS = -std=c11 -D_GNU_SOURCE -fPIC -fvisibility=hidden $(WARN) $(CFLAGS)

ENGINE_SRC := $(sort $(wildcard engine/*/*.c))
BIND_SRC   := $(sort $(wildcard bindings/*.c))
ENGINE_OBJ := $(ENGINE_SRC:%.c=$(BUILD)/%.o)
BIND_OBJ   := $(BIND_SRC:%.c=$(BUILD)/%.o)
HEADERS    := $(wildcard engine/*/*.h bindings/*.h)
CTEST_SRC  := $(sort $(wildcard test/c/test_*.c))
CTEST_BIN  := $(CTEST_SRC:test/c/%.c=$(BUILD)/test/%)
FUZZ_SRC   := $(sort $(wildcard test/fuzz/fuzz_*.c))

CORE_SO := $(BUILD)/dcerpc/core.so

# The client-only module: no server runner, no event loop, no server
# association, no server binding (lserver.c); see bindings/lcore.c.
CLIENT_BUILD  ?= build-client
CLIENT_ENGINE := $(filter-out engine/run/server.c engine/run/workers.c engine/net/loop.c engine/rpc/co_server.c,$(ENGINE_SRC))
CLIENT_BIND   := $(filter-out bindings/lserver.c,$(BIND_SRC))
CLIENT_OBJ    := $(CLIENT_ENGINE:%.c=$(CLIENT_BUILD)/%.o) $(CLIENT_BIND:%.c=$(CLIENT_BUILD)/%.o)

.PHONY: all install demo test check ctest spec asan-test bench fuzz clean setup setup-test peers-stop check-layers client-only
all: $(CORE_SO)

$(BUILD)/engine/%.o: engine/%.c $(HEADERS) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(DCE_CFLAGS) -Iengine $(DEP_CFLAGS) -c -o $@ $<

$(BUILD)/bindings/%.o: bindings/%.c $(HEADERS) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(DCE_CFLAGS) -Iengine -I$(LUA_INCDIR) -c -o $@ $<

$(CORE_SO): $(ENGINE_OBJ) $(BIND_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LIBFLAG) $(CFLAGS) -o $@ $^ $(DEP_LIBS) $(LDFLAGS)

$(CLIENT_BUILD)/engine/%.o: engine/%.c $(HEADERS) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(DCE_CFLAGS) -DDCERPC_CLIENT_ONLY -Iengine $(DEP_CFLAGS) -c -o $@ $<

$(CLIENT_BUILD)/bindings/%.o: bindings/%.c $(HEADERS) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(DCE_CFLAGS) -DDCERPC_CLIENT_ONLY -Iengine -I$(LUA_INCDIR) -c -o $@ $<

$(CLIENT_BUILD)/dcerpc/core.so: $(CLIENT_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LIBFLAG) $(CFLAGS) -o $@ $^ $(DEP_LIBS) $(LDFLAGS)

client-only: $(CLIENT_BUILD)/dcerpc/core.so

$(BUILD)/libdce.a: $(ENGINE_OBJ)
	$(AR) rcs $@ $^

$(BUILD)/test/%: test/c/%.c $(BUILD)/libdce.a test/c/testhelp.h $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(DCE_CFLAGS) -Iengine -o $@ $< $(BUILD)/libdce.a $(DEP_LIBS) $(LDFLAGS)

# ------------------------------------------------------------ install (rock)
# The `dcerpc` command goes to BINDIR and its man page to MANDIR/man1; an
# empty BINDIR / MANDIR skips them (the rockspec passes both empty: LuaRocks
# installs the command itself, build.install.bin, with a wrapper that sets
# the module paths of its tree).
LUADIR ?= /usr/local/share/lua/5.4
LIBDIR ?= /usr/local/lib/lua/5.4
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
install: $(CORE_SO)
	mkdir -p $(DESTDIR)$(LIBDIR)/dcerpc
	cp $(CORE_SO) $(DESTDIR)$(LIBDIR)/dcerpc/core.so
	cd scripts && find dcerpc -name '*.lua' | while read f; do \
	  mkdir -p "$(DESTDIR)$(LUADIR)/$$(dirname $$f)"; cp "$$f" "$(DESTDIR)$(LUADIR)/$$f"; done
	if [ -n "$(BINDIR)" ]; then mkdir -p "$(DESTDIR)$(BINDIR)" && \
	  install -m 755 bin/dcerpc "$(DESTDIR)$(BINDIR)/dcerpc"; fi
	if [ -n "$(MANDIR)" ]; then mkdir -p "$(DESTDIR)$(MANDIR)/man1" && \
	  install -m 644 docs/dcerpc.1 "$(DESTDIR)$(MANDIR)/man1/dcerpc.1"; fi

# ------------------------------------------------------------ jobs
setup:
	bash tools/setup.sh demo

setup-test:
	bash tools/setup.sh test

demo: setup
	$(MAKE) all
	bash tools/demo.sh

# Everything: C unit tests, busted specs (unit + interop with real peers), the
# same again under ASan/UBSan. Last line: "N passed, N failed".
test: setup-test
	$(MAKE) all
	bash tools/run-tests.sh

check-layers:
	bash tools/check-layers.sh

ctest: $(CTEST_BIN)
	@for t in $(CTEST_BIN); do $$t || exit 1; done

spec: all
	bash tools/run-tests.sh --spec-only

asan-test:
	bash tools/run-tests.sh --asan

bench: all
	bash bench/run.sh

fuzz:
	bash tools/fuzz.sh

peers-stop:
	bash test/peers/samba-member.sh stop || true
	bash test/peers/mit-kdc.sh stop || true

clean:
	rm -rf $(BUILD) build-asan $(CLIENT_BUILD)
