# ekprobe: hypervisor-assisted early kernel probing.
# `make` builds build/ekprobe-host. `make demo` and `make test` install what they need first.

CC      ?= cc
CLANG   ?= clang
PKGS    := libelf capstone jansson expat libvirt libvirt-qemu libtraceevent
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wformat=2 -Wvla
CPPFLAGS += -D_GNU_SOURCE -Iinclude -I. $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lz
# The decompressors of kernel boot images (host/symbols/decompress.c): every compression a
# kernel can use. EKPROBE_WITHOUT="lz4 ..." builds without some (with B= another build dir):
# such a payload is then refused, naming the missing library.
COMPRESSIONS := gzip bzip2 lzma xz lzo lz4 zstd
lib_gzip := -lz
lib_bzip2 := -lbz2
lib_lzma := -llzma
lib_xz := -llzma
lib_lzo := -llzo2
lib_lz4 := -llz4
lib_zstd := -lzstd
EKPROBE_WITHOUT ?=
WITH_COMP := $(filter-out $(EKPROBE_WITHOUT),$(COMPRESSIONS))
CPPFLAGS += $(foreach c,$(WITH_COMP),-DEKP_HAVE_$(shell echo $(c) | tr a-z A-Z))
LDLIBS  += $(sort $(foreach c,$(WITH_COMP),$(lib_$(c))))
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
# Unit tests also read trace.dat files back with trace-cmd's own library.
TEST_PKGS := libtracecmd
TEST_CFLAGS := $(shell pkg-config --cflags $(TEST_PKGS) 2>/dev/null)
TEST_LIBS := $(shell pkg-config --libs $(TEST_PKGS) 2>/dev/null)

# Everything but the daemon's main() goes into one static library that tests link against.
# plugin/ is not in it: it is the QEMU TCG plugin, a shared object loaded into QEMU.
LIB_SRCS  := $(sort $(wildcard lib/*.c proto/*.c arch/*.c arch/*/*.c host/*.c host/*/*.c))
LIB_SRCS  := $(filter-out host/main.c,$(LIB_SRCS))
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))

B ?= build
# The guest architecture of make kernel, print-kernel and demo: x86_64 or arm64. make test
# covers both whatever it says.
ARCH ?= x86_64
OBJS      := $(LIB_SRCS:%.c=$(B)/obj/%.o)
ASAN_OBJS := $(LIB_SRCS:%.c=$(B)/asan/%.o)
FUZZ_OBJS := $(LIB_SRCS:%.c=$(B)/fuzzobj/%.o)
UNITS     := $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/%)
ASAN_UNITS:= $(UNIT_SRCS:tests/unit/%.c=$(B)/asan-tests/%)
FUZZERS   := $(FUZZ_SRCS:tests/fuzz/%.c=$(B)/fuzz/%)
TOOLS     := $(patsubst tests/tools/%.c,$(B)/tools/%,$(sort $(wildcard tests/tools/*.c)))

.PHONY: all deps test unit unit-asan fuzz-smoke fuzz integration demo bench kernel print-kernel clean \
	check-layers qemu print-qemu
.DELETE_ON_ERROR:

all: $(B)/ekprobe-host $(B)/ekprobe-tcg.so $(TOOLS)

deps:
	@scripts/deps.sh build

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -MMD -MP -c -o $@ $<

$(B)/asan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -O1 -g $(SAN) $(WARN) -MMD -MP -c -o $@ $<

$(B)/libekprobe.a: $(OBJS)
	@rm -f $@
	ar rcs $@ $^

$(B)/libekprobe-asan.a: $(ASAN_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(B)/ekprobe-host: $(B)/obj/host/main.o $(B)/libekprobe.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) -lpthread

# Small programs the integration tests use (tests/tools/).
$(B)/tools/%: tests/tools/%.c $(B)/libekprobe.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -o $@ $< $(B)/libekprobe.a $(LDLIBS) -lpthread

# The plugin engine's QEMU TCG plugin (plugin/): its QEMU API and GLib symbols are QEMU's own,
# resolved when QEMU loads it.
PLUGIN_SRCS := $(sort $(wildcard plugin/*.c))
$(B)/ekprobe-tcg.so: $(PLUGIN_SRCS) $(wildcard plugin/*.h) include/ekprobe/abi.h include/ekprobe/abi_eval.h \
		include/ekprobe/tcg.h
	@mkdir -p $(B)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -shared -fPIC -fvisibility=hidden -o $@ $(PLUGIN_SRCS) -lpthread

$(B)/tests/%: tests/unit/%.c tests/unit/helpers.c tests/unit/helpers.h $(B)/libekprobe.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(TEST_CFLAGS) $(CFLAGS) $(WARN) -o $@ $< tests/unit/helpers.c $(B)/libekprobe.a $(LDLIBS) $(TEST_LIBS) -lcmocka

$(B)/asan-tests/%: tests/unit/%.c tests/unit/helpers.c tests/unit/helpers.h $(B)/libekprobe-asan.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(TEST_CFLAGS) -O1 -g $(SAN) $(WARN) -o $@ $< tests/unit/helpers.c $(B)/libekprobe-asan.a $(LDLIBS) $(TEST_LIBS) -lcmocka

# Fuzz targets: libFuzzer with ASan+UBSan (clang). The library is compiled once with the
# fuzzer's coverage instrumentation (fuzzer-no-link) and each target links against it.
FUZZ_CFLAGS := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
	-Wall -Wextra -Werror -Wno-unused-parameter
$(B)/fuzzobj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CLANG) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(B)/libekprobe-fuzz.a: $(FUZZ_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(B)/fuzz/%: tests/fuzz/%.c $(B)/libekprobe-fuzz.a
	@mkdir -p $(dir $@)
	$(CLANG) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(B)/libekprobe-fuzz.a $(LDLIBS)

unit: $(UNITS)
	@tests/run-units.sh $(UNITS)

unit-asan: $(ASAN_UNITS)
	@ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 tests/run-units.sh $(ASAN_UNITS)

# A short run of every fuzz target on its seed corpus, as part of make test.
fuzz-smoke: $(FUZZERS)
	@tests/run-fuzz.sh smoke $(FUZZERS)

# Longer fuzzing: FUZZ_RUNS executions per target (default 10 million), or FUZZ_SECONDS each.
fuzz: $(FUZZERS)
	@tests/run-fuzz.sh long $(FUZZERS)

kernel:
	@EKPROBE_ARCH=$(ARCH) scripts/kernel.sh build

# A QEMU that loads the plugin (bookworm-backports' QEMU 10, unpacked into the cache).
qemu:
	@scripts/qemu.sh build

print-qemu:
	@scripts/qemu.sh print

print-kernel:
	@EKPROBE_ARCH=$(ARCH) scripts/kernel.sh print

integration: all
	@tests/integration/run.sh

# The layering rules docs/architecture.md states, checked: host/ reaches an architecture only
# through the ops table (never an arch/<name>/ header), and proto/ never prints.
check-layers:
	@bad=$$(grep -rlE '#include *"(\.\./)*arch/[a-z0-9_]+/' host || true); \
	if [ -n "$$bad" ]; then echo "layers: host/ includes per-arch headers: $$bad" >&2; exit 1; fi
	@bad=$$(grep -lE '\<(f?printf|puts|fputs|perror)\(' proto/*.c || true); \
	if [ -n "$$bad" ]; then echo "layers: proto/ prints: $$bad" >&2; exit 1; fi
	@echo "layers: host/ names no arch header; proto/ does not print"

test:
	@scripts/deps.sh test
	@EKPROBE_ARCH=x86_64 scripts/kernel.sh build
	@EKPROBE_ARCH=x86_64 EKPROBE_KERNEL_VARIANT=unpatched scripts/kernel.sh build
	@EKPROBE_ARCH=arm64 scripts/kernel.sh build
	@scripts/qemu.sh build
	@$(MAKE) --no-print-directory check-layers
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory unit-asan
	@$(MAKE) --no-print-directory fuzz-smoke
	@$(MAKE) --no-print-directory integration

# make demo KERNEL=debian: Debian 12's own cloud kernel, KASLR on (docs/distro.md).
demo:
	@scripts/deps.sh $(if $(filter arm64 aarch64,$(ARCH)),demo-arm64,demo)
	@$(MAKE) --no-print-directory all
	@if [ "$(KERNEL)" != debian ]; then EKPROBE_ARCH=$(ARCH) scripts/kernel.sh build; fi
	@KERNEL=$(KERNEL) EKPROBE_ARCH=$(ARCH) scripts/demo.sh

bench:
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory all
	@scripts/kernel.sh build
	@scripts/qemu.sh build
	@scripts/bench.sh

clean:
	rm -rf $(B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)
