# authd: the one build entry.
#
#   make deps    install build dependencies (Debian packages, mbedTLS 3.6)
#   make         build authctl (and the daemon once it exists) into build/
#   make test    unit tests under ASan+UBSan, CLI/integration tests, short fuzz runs
#   make kube-deps  kube-apiserver v1.20.2 and kubectl for the Kubernetes tests
#                (mk/kube-apiserver.sh: built once into $(DEPS_DIR)/kube, about
#                9 minutes from scratch; part of make test, not of make deps/dev)
#   make asan    build everything the tests use with ASan+UBSan (build/asan/)
#   make fuzz    libFuzzer targets (clang), longer runs: FUZZ_SECONDS=300
#   make bench   benchmarks (installs the reference proxies too: mk/deps.sh bench;
#                figures go to build/bench/; the README quotes them)
#   make dev     build and run the self-contained dev walkthrough
#   make check-layers  every include, and the daemon's calls, against the
#                layer table (docs/architecture.md); part of make test
#   make install PREFIX=/usr/local
#
# V=1 shows every command. Objects live under $(BUILD); -MMD -MP tracks headers.

BUILD    ?= build
DEPS_DIR ?= build/deps
PREFIX   ?= /usr/local
CC       ?= cc
CLANG    ?= clang
V        ?= 0
Q := $(if $(filter 1,$(V)),,@)
say = $(if $(filter 1,$(V)),,@printf '  %-7s %s\n' $(1) $(2);)

# mbedTLS 3.6: a system copy when pkg-config finds one, else our own build.
MBEDTLS_SYSTEM := $(shell pkg-config --atleast-version=3.6 mbedtls 2>/dev/null && echo yes)
ifeq ($(MBEDTLS_SYSTEM),yes)
MBEDTLS_CFLAGS := $(shell pkg-config --cflags mbedtls mbedx509 mbedcrypto)
MBEDTLS_LIBS   := $(shell pkg-config --libs mbedtls mbedx509 mbedcrypto)
MBEDTLS_STAMP  :=
else
MBEDTLS_PREFIX := $(DEPS_DIR)/mbedtls
MBEDTLS_CFLAGS := -isystem $(MBEDTLS_PREFIX)/include \
	-DMBEDTLS_USER_CONFIG_FILE='"$(CURDIR)/mk/mbedtls_config.h"'
MBEDTLS_LIBS   := $(MBEDTLS_PREFIX)/lib/libmbedtls.a $(MBEDTLS_PREFIX)/lib/libmbedx509.a \
	$(MBEDTLS_PREFIX)/lib/libmbedcrypto.a
MBEDTLS_STAMP  := $(MBEDTLS_PREFIX)/.stamp
endif

PKGS := libsodium lmdb libuv yaml-0.1 jansson
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lsodium -llmdb -luv -lyaml -ljansson)
CTL_PKGS  := libsodium lmdb yaml-0.1
CTL_PKG_LIBS = $(shell pkg-config --libs $(CTL_PKGS) 2>/dev/null || echo -lsodium -llmdb -lyaml)

WARN := -Wall -Wextra -Wshadow -Wformat=2 -Wformat-security -Wpointer-arith \
	-Wstrict-prototypes -Wmissing-prototypes -Wvla -Wwrite-strings \
	-Wimplicit-fallthrough -Wundef -Werror
HARDEN := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fstack-clash-protection -fPIE
LDHARDEN := -pie -Wl,-z,relro,-z,now -Wl,-z,noexecstack
OPT ?= -O2 -g

# SAN=1 builds with AddressSanitizer and UndefinedBehaviorSanitizer.
ifeq ($(SAN),1)
HARDEN := -fstack-protector-strong -fPIE
OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
LDHARDEN += -fsanitize=address,undefined
endif

ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -I. $(WARN) $(HARDEN) $(OPT) $(MBEDTLS_CFLAGS) \
	$(PKG_CFLAGS) -MMD -MP $(CFLAGS)
ALL_LDFLAGS = $(LDHARDEN) $(OPT) $(LDFLAGS)
LIBS = $(MBEDTLS_LIBS) $(PKG_LIBS) -lpthread
CTL_LINK_LIBS = $(MBEDTLS_LIBS) $(CTL_PKG_LIBS) -lpthread

# Folders are layers (docs/architecture.md): each library folder is one
# archive, linked from the top layer down, so a call that points up a layer
# fails the link; `make check-layers` checks every include against the table.
LAYERS      := common certs wire policy kube
layer_srcs   = $(wildcard $(1)/*.c)
layer_lib    = $(BUILD)/lib/lib$(1).a
# The daemon's archive: all of authd/ but its entry point.
DAEMON_SRCS := $(filter-out authd/main.c,$(wildcard authd/*.c))
CTL_SRCS    := $(wildcard authctl/*.c)
CTL_OBJS    := $(CTL_SRCS:%.c=$(BUILD)/obj/%.o)
LIB_SRCS    := $(foreach l,$(LAYERS),$(call layer_srcs,$(l))) $(DAEMON_SRCS)
# Link order: a layer before the layers it uses.
DAEMON_LIBS := $(BUILD)/lib/libauthd.a $(call layer_lib,kube) $(call layer_lib,policy) $(call layer_lib,wire) \
	$(call layer_lib,certs) $(call layer_lib,common)
# authctl links no daemon code, no wire code and no libuv.
CTL_LIBS    := $(call layer_lib,policy) $(call layer_lib,certs) $(call layer_lib,common)

PROGS := $(BUILD)/authctl $(if $(wildcard authd/main.c),$(BUILD)/authd)

UNIT_SRCS  := $(wildcard tests/unit/*_test.c)
UNIT_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_SRCS  := $(wildcard tests/lib/*_tool.c bench/*_bench.c)
TOOL_BINS  := $(patsubst %.c,$(BUILD)/tools/%,$(notdir $(TOOL_SRCS)))

FUZZ_SRCS  := $(wildcard tests/fuzz/*_fuzz.c)
FUZZ_BINS  := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)
FUZZ_SECONDS ?= 300

# Keep objects make would otherwise treat as intermediate and delete.
.SECONDARY:

.PHONY: all deps kube-deps test unit asan fuzz fuzz-build bench dev install check check-layers clean distclean
all: $(PROGS) $(TOOL_BINS)

deps:
	$(Q)mk/deps.sh
	$(Q)$(if $(MBEDTLS_STAMP),mk/mbedtls.sh $(DEPS_DIR),true)

# After deps: both may run apt-get, which takes one lock.
kube-deps: deps
	$(Q)mk/deps.sh kube
	$(Q)mk/kube-apiserver.sh $(DEPS_DIR)

$(MBEDTLS_STAMP): mk/mbedtls.sh mk/mbedtls_config.h $(wildcard mk/patches/mbedtls-*.patch)
	$(Q)mk/mbedtls.sh $(DEPS_DIR)

$(BUILD)/obj/%.o: %.c $(MBEDTLS_STAMP)
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

define layer_rule
$(call layer_lib,$(1)): $(patsubst %.c,$(BUILD)/obj/%.o,$(2))
	@mkdir -p $$(dir $$@)
	$$(call say,AR,$$@)
	$$(Q)rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach l,$(LAYERS),$(eval $(call layer_rule,$(l),$(call layer_srcs,$(l)))))
$(eval $(call layer_rule,authd,$(DAEMON_SRCS)))

$(BUILD)/authctl: $(CTL_OBJS) $(CTL_LIBS)
	$(call say,LINK,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) $(CTL_OBJS) $(CTL_LIBS) $(CTL_LINK_LIBS) -o $@

$(BUILD)/authd: $(BUILD)/obj/authd/main.o $(DAEMON_LIBS)
	$(call say,LINK,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) $< $(DAEMON_LIBS) $(LIBS) -o $@

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(DAEMON_LIBS)
	@mkdir -p $(dir $@)
	$(call say,LINK,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) $< $(DAEMON_LIBS) $(LIBS) -o $@

$(BUILD)/tools/%: $(BUILD)/obj/tests/lib/%.o $(DAEMON_LIBS)
	@mkdir -p $(dir $@)
	$(call say,LINK,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) $< $(DAEMON_LIBS) $(LIBS) -o $@

# The data-plane load generator is the one program that links OpenSSL: it
# stands in for many clients and must stay cheaper than the server under test.
$(BUILD)/tools/load_bench: private LIBS += -lssl -lcrypto

$(BUILD)/tools/%: $(BUILD)/obj/bench/%.o $(DAEMON_LIBS)
	@mkdir -p $(dir $@)
	$(call say,LINK,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) $< $(DAEMON_LIBS) $(LIBS) -o $@

unit: $(UNIT_BINS)

# The sanitizer build of every program the tests run.
asan:
	$(Q)$(MAKE) --no-print-directory BUILD=build/asan SAN=1 all unit

# Fuzz targets are built with clang's libFuzzer; each harness compiles the
# library sources it needs together with itself.
FUZZ_FLAGS = -std=c11 -D_GNU_SOURCE -I. -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all $(MBEDTLS_CFLAGS) $(PKG_CFLAGS)
$(BUILD)/fuzz/%: tests/fuzz/%.c $(LIB_SRCS) $(MBEDTLS_STAMP)
	@mkdir -p $(dir $@)
	$(call say,FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_FLAGS) $< $(LIB_SRCS) $(LIBS) -o $@

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	$(Q)FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh $(BUILD)/fuzz

# Includes from the sources; calls from the daemon's objects (nm).
check-layers: $(BUILD)/lib/libauthd.a
	$(Q)mk/check-layers.sh
	$(Q)mk/check-layers.sh --calls $(DAEMON_SRCS:%.c=$(BUILD)/obj/%.o)

test: deps kube-deps
	$(Q)$(MAKE) --no-print-directory all fuzz-build
	$(Q)$(MAKE) --no-print-directory check-layers
	$(Q)$(MAKE) --no-print-directory asan
	$(Q)BUILD=$(BUILD) tests/run.sh

bench: deps
	$(Q)mk/deps.sh bench
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) bench/run.sh

dev: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) mk/dev.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(PROGS) $(DESTDIR)$(PREFIX)/bin/

check:
	scan-build --status-bugs $(MAKE) --no-print-directory BUILD=build/scan all

clean:
	rm -rf $(BUILD)/obj $(BUILD)/asan $(BUILD)/fuzz $(BUILD)/tests $(BUILD)/tools \
		$(BUILD)/scan $(BUILD)/lib $(PROGS)

distclean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
