# quire — plain GNU Make. `make` builds build/libquire.a and build/quire.
#   make test                 the whole suite: normal, ASan+UBSan, aarch64 under qemu,
#                             TSan (threaded parts), fuzz (60 s per target)
#   make test-build           the suite on one build only
#   make SANITIZE=address,undefined test-build   (builds into build/san-...)
#   make check-arm64          cross-build the core for aarch64, run core tests in qemu
#   make check-arm64-full     the whole pipeline (MuPDF, Tesseract, server) for aarch64 against
#                             a Debian arm64 sysroot, under qemu, compared with x86_64 (minutes)
#   make fuzz / fuzz-regress  libFuzzer targets in fuzz/ (clang; see docs/fuzzing.md)
#   make bench                build benchmarks (see bench/)
#   make lint                 checksrc-style bans
# Per-ISA kernel files get their own -m flags; nothing is built with -march=native.

CC       ?= cc
BUILD    ?= build
SANITIZE ?=
OPT      ?= -O2
PKG_CONFIG ?= pkg-config

MACHINE := $(shell $(CC) -dumpmachine)
ifneq ($(findstring x86_64,$(MACHINE)),)
  ARCH := x86_64
else ifneq ($(findstring aarch64,$(MACHINE)),)
  ARCH := aarch64
else
  ARCH := other
endif

comma := ,
ifneq ($(SANITIZE),)
  BUILD := build/san-$(subst $(comma),-,$(SANITIZE))
  SANFLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter
CFLAGS  ?= $(OPT) -g
DEPLIBS := libutf8proc jansson sqlite3
# The HTTP server (`quire serve`) needs libmicrohttpd; WITH_SERVER=0 builds without it
# (quire_server_* then return QUIRE_UNSUPPORTED), as the static aarch64 build does.
WITH_SERVER ?= 1
ifeq ($(WITH_SERVER),1)
  DEPLIBS += libmicrohttpd
endif
# PostgreSQL (`quire enqueue` / `worker` / `status` with --db postgresql://...) needs
# libpq; WITH_PG=0 builds without it (those commands then return QUIRE_UNSUPPORTED), as the
# static aarch64 build does.
WITH_PG ?= 1
ifeq ($(WITH_PG),1)
  DEPLIBS += libpq
endif
# Conversion (PDF/images -> Markdown) needs MuPDF and Tesseract; the core never does.
# WITH_CONVERT=0 builds without them (quire_convert_* then return QUIRE_UNSUPPORTED).
WITH_CONVERT ?= 1
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(DEPLIBS) 2>/dev/null)
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(DEPLIBS) 2>/dev/null)
ifeq ($(PKG_LIBS),)
  PKG_LIBS := -lutf8proc -ljansson -lsqlite3 $(if $(filter 1,$(WITH_SERVER)),-lmicrohttpd,) \
              $(if $(filter 1,$(WITH_PG)),-lpq,)
endif
ifeq ($(WITH_CONVERT),1)
  # Debian 12's MuPDF is static-only: link its --static closure plus harfbuzz.
  PKG_CFLAGS += $(shell $(PKG_CONFIG) --cflags mupdf tesseract lept libcurl zlib 2>/dev/null) -DHAVE_CONVERT=1
  # Tesseract is dlopen'ed on first OCR use (src/ocr/tess_dl.c): not linked, so its
  # static initialisers do not slow down every start of the CLI.
  PKG_LIBS   += $(shell $(PKG_CONFIG) --libs --static mupdf 2>/dev/null) -lharfbuzz -ldl \
                $(shell $(PKG_CONFIG) --libs libcurl zlib 2>/dev/null)
endif
# -fPIC: the same objects go into libquire.a and libquire.so; -fno-semantic-interposition
# keeps calls between quire_ functions direct (no PLT) inside the shared library.
PIC_FLAGS := -fPIC -fno-semantic-interposition
ALL_CFLAGS := -std=c11 $(WARN) $(CFLAGS) $(SANFLAGS) $(PIC_FLAGS) -fvisibility=hidden -Iinclude -Isrc \
              -D_DEFAULT_SOURCE $(PKG_CFLAGS) -MMD -MP
LDLIBS  := $(PKG_LIBS) -lpthread -lm
LDFLAGS += $(SANFLAGS) $(if $(STATIC),-static,)

# ---- sources ---------------------------------------------------------------
LIB_MODULES := core nn text embed layout export store config
ifeq ($(WITH_CONVERT),1)
  LIB_MODULES += pdf ocr convert
endif
ifeq ($(WITH_SERVER),1)
  LIB_MODULES += server
endif
LIB_SRC := $(foreach m,$(LIB_MODULES),$(wildcard src/$(m)/*.c))
ifeq ($(WITH_SERVER),1)
  # GET /openapi.json serves docs/openapi.json, compiled in as a C string
  LIB_SRC += $(BUILD)/gen/openapi_spec.c
endif
ifneq ($(WITH_CONVERT),1)
  LIB_SRC += src/convert_none.c
endif
ifneq ($(WITH_SERVER),1)
  LIB_SRC += src/server_none.c
endif
ifeq ($(WITH_PG),1)
  LIB_SRC += $(wildcard src/store/pg/*.c)
else
  LIB_SRC += src/store_pg_none.c
endif
# quire_build_info: the build options and the versions of the libraries linked
LIB_SRC += src/buildinfo.c
BUILD_OPTS := -DQR_WITH_CONVERT=$(if $(filter 1,$(WITH_CONVERT)),1,0) \
              -DQR_WITH_SERVER=$(if $(filter 1,$(WITH_SERVER)),1,0) \
              -DQR_WITH_PG=$(if $(filter 1,$(WITH_PG)),1,0)
ISA_FLAGS_src/buildinfo.c := $(BUILD_OPTS)
ISA_X86 := src/nn/kern_avx2.c src/nn/kern_avx512.c src/nn/kern_lp_avx512.c src/nn/kern_amx.c \
           src/nn/kern_lp_avx2.c src/nn/kern_lp_avxvnni.c
ISA_ARM := src/nn/kern_neon.c src/nn/kern_lp_neon.c
ifneq ($(ARCH),x86_64)
  LIB_SRC := $(filter-out $(ISA_X86),$(LIB_SRC))
endif
ifneq ($(ARCH),aarch64)
  LIB_SRC := $(filter-out $(ISA_ARM),$(LIB_SRC))
endif
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)

CLI_SRC := $(wildcard cli/*.c)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)

TEST_SRC  := $(wildcard tests/unit/test_*.c)
ifneq ($(WITH_CONVERT),1)
  TEST_SRC := $(filter-out tests/unit/test_conv%,$(TEST_SRC))
endif
ifneq ($(WITH_SERVER),1)
  TEST_SRC := $(filter-out tests/unit/test_serve%,$(TEST_SRC))
endif
TEST_BIN  := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TEST_COMMON := $(BUILD)/obj/tests/unit/testlib.o

BENCH_SRC := $(wildcard bench/embed/*.c)
BENCH_BIN := $(BENCH_SRC:bench/embed/%.c=$(BUILD)/bench/%)

ISA_FLAGS_src/nn/kern_avx2.c   := -mavx2 -mfma
ISA_FLAGS_src/nn/kern_avx512.c := -mavx512f -mavx512bw -mavx512vl -mavx512dq -mfma -mavx2
ISA_FLAGS_src/nn/kern_lp_avx512.c := -mavx512f -mavx512bw -mavx512vl -mavx512dq -mfma -mavx2 \
                                     -mavx512bf16 -mavx512vnni
ISA_FLAGS_src/nn/kern_lp_avx2.c := -mavx2 -mfma
ISA_FLAGS_src/nn/kern_lp_avxvnni.c := -mavx2 -mfma -mavxvnni
ISA_FLAGS_src/nn/kern_amx.c := -mavx512f -mavx512bw -mavx512vl -mavx512dq -mfma -mavx2 \
                               -mamx-tile -mamx-bf16 -mamx-int8

.SECONDARY:
.PHONY: all lib cli test test-build tests check check-asan check-arm64 bench clean lint golden-update fmt
all: lib cli

QUIRE_VERSION := $(shell sed -n 's/^\#define QUIRE_VERSION_STRING "\(.*\)"/\1/p' include/quire.h)
SO_MAJOR := $(firstword $(subst ., ,$(QUIRE_VERSION)))
SO_NAME  := libquire.so.$(QUIRE_VERSION)
SO_LINK  := libquire.so.$(SO_MAJOR)
# The shared library is skipped in static and sanitizer builds (the aarch64 cross build;
# an ASan/TSan runtime cannot be linked into a shared object).
SO_TARGET := $(if $(STATIC)$(SANITIZE),,$(BUILD)/$(SO_NAME))
lib: $(BUILD)/libquire.a $(SO_TARGET)
cli: $(BUILD)/quire

# Objects depend on a file holding the compile flags, rewritten only when they change
# (e.g. -fPIC added), so new flags rebuild the objects instead of linking stale ones.
FLAGS_STAMP := $(BUILD)/obj/.cflags
$(shell mkdir -p $(BUILD)/obj && { echo '$(ALL_CFLAGS)' | cmp -s - $(FLAGS_STAMP) || \
  echo '$(ALL_CFLAGS)' > $(FLAGS_STAMP); })
$(BUILD)/obj/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ISA_FLAGS_$<) -c $< -o $@

# docs/openapi.json as one C string (backslash, quote and '?' escaped: no trigraphs).
$(BUILD)/gen/openapi_spec.c: docs/openapi.json
	@mkdir -p $(dir $@)
	{ echo '/* generated from docs/openapi.json by the Makefile: do not edit */'; \
	  echo 'extern const char qr_srv_openapi_json[];'; \
	  echo 'const char qr_srv_openapi_json[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/?/\\?/g' -e 's/^/    "/' -e 's/$$/\\n"/' $<; \
	  echo '    ;'; } > $@.tmp && mv $@.tmp $@

$(BUILD)/libquire.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

# ---- shared library, pkg-config files, man page, completion, install ----------
# libquire.so.MAJOR.MINOR.PATCH exports exactly the quire_ symbols (src/libquire.map); the
# static dependencies (MuPDF is static-only on Debian 12) are linked into it.
$(BUILD)/$(SO_NAME): $(LIB_OBJ) src/libquire.map
	@mkdir -p $(dir $@)
	$(CC) -shared $(LDFLAGS) -Wl,-soname,$(SO_LINK) -Wl,--version-script,src/libquire.map \
	  -Wl,--no-undefined -o $@ $(LIB_OBJ) $(LDLIBS)
	ln -sf $(SO_NAME) $(BUILD)/$(SO_LINK)
	ln -sf $(SO_NAME) $(BUILD)/libquire.so

PREFIX  ?= /usr/local
DESTDIR ?=
LIBDIR  ?= $(PREFIX)/lib
PC_REQUIRES := $(DEPLIBS)
.PHONY: install pc man completion uninstall FORCE
FORCE:
pc: $(BUILD)/quire.pc $(BUILD)/quire-static.pc
# quire.pc links the shared library; quire-static.pc links libquire.a and its closure.
$(BUILD)/quire.pc $(BUILD)/quire-static.pc: FORCE
	@mkdir -p $(BUILD)
	printf 'prefix=%s\nlibdir=%s\nincludedir=$${prefix}/include\n\nName: quire\nDescription: local, offline document AI (embeddings, conversion, search)\nVersion: %s\nCflags: -I$${includedir}\nLibs: -L$${libdir} -lquire\n' \
	  '$(PREFIX)' '$(LIBDIR)' '$(QUIRE_VERSION)' > $(BUILD)/quire.pc
	printf 'prefix=%s\nlibdir=%s\nincludedir=$${prefix}/include\n\nName: quire-static\nDescription: quire, static library and its link closure\nVersion: %s\nCflags: -I$${includedir}\nLibs: -L$${libdir} -l:libquire.a %s\n' \
	  '$(PREFIX)' '$(LIBDIR)' '$(QUIRE_VERSION)' '$(LDLIBS)' > $(BUILD)/quire-static.pc
# The man page and the bash completion are generated from the binary's own --help texts,
# so they cannot drift from it.
man: $(BUILD)/quire.1
$(BUILD)/quire.1: $(BUILD)/quire cli/gen/mkman.sh
	sh cli/gen/mkman.sh $(BUILD)/quire > $@.tmp && mv $@.tmp $@
completion: cli/gen/quire.bash
install: all pc man
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(PREFIX)/include \
	  $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 755 $(BUILD)/quire $(DESTDIR)$(PREFIX)/bin/quire
	install -m 644 $(BUILD)/libquire.a $(DESTDIR)$(LIBDIR)/libquire.a
	install -m 755 $(BUILD)/$(SO_NAME) $(DESTDIR)$(LIBDIR)/$(SO_NAME)
	ln -sf $(SO_NAME) $(DESTDIR)$(LIBDIR)/$(SO_LINK)
	ln -sf $(SO_NAME) $(DESTDIR)$(LIBDIR)/libquire.so
	install -m 644 include/quire.h $(DESTDIR)$(PREFIX)/include/quire.h
	install -m 644 $(BUILD)/quire.pc $(BUILD)/quire-static.pc $(DESTDIR)$(LIBDIR)/pkgconfig/
	install -m 644 $(BUILD)/quire.1 $(DESTDIR)$(PREFIX)/share/man/man1/quire.1
	install -m 644 cli/gen/quire.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/quire
uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/quire $(DESTDIR)$(LIBDIR)/libquire.a $(DESTDIR)$(LIBDIR)/libquire.so* \
	  $(DESTDIR)$(PREFIX)/include/quire.h $(DESTDIR)$(LIBDIR)/pkgconfig/quire.pc \
	  $(DESTDIR)$(LIBDIR)/pkgconfig/quire-static.pc $(DESTDIR)$(PREFIX)/share/man/man1/quire.1 \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions/quire

$(BUILD)/quire: $(CLI_OBJ) $(BUILD)/libquire.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libquire.a $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(TEST_COMMON) $(BUILD)/libquire.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(TEST_COMMON) $(BUILD)/libquire.a $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/obj/bench/embed/%.o $(BUILD)/libquire.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(BUILD)/libquire.a $(LDLIBS)

# The replaying VLM server of tests/cli/vlm.sh and test_vlm (libmicrohttpd; test tree only).
VLM_REPLAY := $(if $(filter 11,$(WITH_CONVERT)$(WITH_SERVER)),$(BUILD)/tests/vlm_replay,)
$(BUILD)/tests/vlm_replay: $(BUILD)/obj/tests/tools/vlm_replay.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(LDLIBS)

tests: all $(TEST_BIN) $(VLM_REPLAY)

# The suite on one build (this BUILD / SANITIZE).
test-build: tests models
	QUIRE_BUILD=$(BUILD) sh tests/run.sh

bench: all $(BENCH_BIN)

# bench/search: quire's HNSW next to hnswlib and FAISS (bench/search/run.sh runs it).
# The peer program is C++ built for this machine only (it is never shipped).
CXX ?= g++
.PHONY: bench-search
bench-search: $(BUILD)/bench/bench_search $(BUILD)/bench/search_peers
$(BUILD)/bench/bench_search: $(BUILD)/obj/bench/search/bench_search.o $(BUILD)/libquire.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(BUILD)/libquire.a $(LDLIBS)
$(BUILD)/bench/search_peers: bench/search/peers.cpp
	@mkdir -p $(dir $@)
	$(CXX) -O3 -march=native -std=c++17 -fopenmp -o $@ $< -lfaiss -llapack -lblas -lpthread

# bench/serve: `quire serve` under 1/8/64 keep-alive connections (batching vs one request per
# forward pass) and RSS over 100k requests; bench/serve/run.sh prints the table.
.PHONY: bench-serve
bench-serve: all models $(BUILD)/bench/serve_load
	QUIRE_BUILD=$(BUILD) sh bench/serve/run.sh
$(BUILD)/bench/serve_load: $(BUILD)/obj/bench/serve/load.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< -lpthread

# The whole suite (README's test command, run by .ci/run): normal build, ASan+UBSan
# build, aarch64 under qemu, TSan, fuzzing; the last line is the grand total
# "N passed, N failed".
test:
	bash tests/check.sh
check: test

# Cross-build the core for aarch64 (static) and run the core tests under qemu.
# Needs what .ci/setup installs: gcc-aarch64-linux-gnu, qemu-user and the arm64
# multiarch libutf8proc-dev:arm64 libjansson-dev:arm64 (static archives).
ARM64_CC   ?= aarch64-linux-gnu-gcc
ARM64_QEMU ?= qemu-aarch64
# MiniLM goldens under qemu: the default kernel set only (qemu's CPU has dotprod); the
# tiny model's goldens and the kernel-vs-scalar tests cover every set.
ARM64_GOLDEN_KERNELS ?= neon-dotprod
check-arm64: models
	@command -v $(ARM64_CC) >/dev/null && command -v $(ARM64_QEMU) >/dev/null || \
	  { echo "check-arm64: need $(ARM64_CC) and $(ARM64_QEMU) (run .ci/setup)" >&2; exit 1; }
	$(MAKE) BUILD=build/arm64 CC=$(ARM64_CC) AR=aarch64-linux-gnu-ar SANITIZE= WITH_CONVERT=0 WITH_SERVER=0 WITH_PG=0 \
	  PKG_CONFIG="env -u PKG_CONFIG_PATH PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig pkg-config --static" \
	  STATIC=1 tests
	$(ARM64_QEMU) build/arm64/quire info | tee build/arm64/info.txt
	@grep -q '^arch: aarch64' build/arm64/info.txt && grep -q '^cpu features:.*neon' build/arm64/info.txt || \
	  { echo "check-arm64: quire info under qemu does not report aarch64 + neon" >&2; exit 1; }
	@# the bf16/int8 kernel each emulated CPU gets: ARMv8.0, dotprod only, everything
	$(ARM64_QEMU) -cpu cortex-a53 build/arm64/quire info | grep -x 'precision kernels: fp32 neon, bf16 neon-bf16, int8 neon-int8'
	$(ARM64_QEMU) -cpu neoverse-n1 build/arm64/quire info | grep -x 'precision kernels: fp32 neon-dotprod, bf16 neon-bf16, int8 neon-sdot'
	$(ARM64_QEMU) -cpu max build/arm64/quire info | grep -x 'precision kernels: fp32 neon-dotprod, bf16 neon-bf16mmla, int8 neon-i8mm'
	QUIRE_BUILD=build/arm64 QUIRE_RUNNER="$(ARM64_QEMU)" QUIRE_CORE_ONLY=1 \
	  QUIRE_GOLDEN_MAX_TOKENS=128 QUIRE_LOWP_MAX_TOKENS=16 QUIRE_GOLDEN_KERNELS="$(ARM64_GOLDEN_KERNELS)" sh tests/run.sh

# The whole pipeline (conversion with MuPDF, OCR with Tesseract, server, store) for aarch64:
# linked dynamically against an arm64 sysroot of Debian packages (tests/tools/arm64_sysroot.sh,
# list in .ci/setup --arm64-sysroot) and run under qemu-aarch64 -L SYSROOT; tests/arm64_full.sh
# compares a sample of its outputs with the x86_64 build's (build/quire) and runs the CLI
# groups it names with the emulated binary. Without PostgreSQL (WITH_PG=0: no libpq in the sysroot).
ARM64_SYSROOT ?= build/arm64-sysroot
ARM64_SYSROOT_ABS = $(abspath $(ARM64_SYSROOT))
ARM64_FULL_PC = env -u PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR=$(ARM64_SYSROOT_ABS) \
  PKG_CONFIG_LIBDIR=$(ARM64_SYSROOT_ABS)/usr/lib/aarch64-linux-gnu/pkgconfig:$(ARM64_SYSROOT_ABS)/usr/share/pkgconfig pkg-config
.PHONY: check-arm64-full arm64-full
arm64-full:
	@command -v $(ARM64_CC) >/dev/null && command -v $(ARM64_QEMU) >/dev/null || \
	  { echo "check-arm64-full: need $(ARM64_CC) and $(ARM64_QEMU) (run .ci/setup)" >&2; exit 1; }
	sh tests/tools/arm64_sysroot.sh $(ARM64_SYSROOT)
	$(MAKE) BUILD=build/arm64-full CC="$(ARM64_CC) --sysroot=$(ARM64_SYSROOT_ABS)" AR=aarch64-linux-gnu-ar \
	  SANITIZE= WITH_PG=0 PKG_CONFIG="$(ARM64_FULL_PC)" \
	  LDFLAGS="-Wl,-rpath-link,$(ARM64_SYSROOT_ABS)/lib/aarch64-linux-gnu:$(ARM64_SYSROOT_ABS)/usr/lib/aarch64-linux-gnu" \
	  build/arm64-full/quire
check-arm64-full: arm64-full all
	ARM64_BUILD=build/arm64-full ARM64_SYSROOT=$(ARM64_SYSROOT) ARM64_QEMU=$(ARM64_QEMU) sh tests/arm64_full.sh

# ---- fuzzing (docs/fuzzing.md) -------------------------------------------------
# libFuzzer targets fuzz/fuzz_<name>.c, linked with clang -fsanitize=fuzzer,address,undefined
# against a clang build of the library instrumented with fuzzer-no-link (build/fuzz).
#   make fuzz [FUZZ_SECONDS=60] [FUZZ_JOBS=2] [FUZZ_TARGETS="chunk http"]
#       fuzz each target for FUZZ_SECONDS on a scratch copy of fuzz/corpus/<name>
#       (+ fuzz/regress/<name>); fails on any crash, leak, timeout or OOM
#   make fuzz-regress   run every target once over fuzz/corpus + fuzz/regress (no fuzzing)
FUZZ_CC      ?= clang
FUZZ_BUILD   := build/fuzz
FUZZ_SECONDS ?= 60
FUZZ_JOBS    ?= 2
FUZZ_SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
FUZZ_ALL     := safetensors config stconfig tokenizer unigram wordpiece chunk store toml \
                $(if $(filter 1,$(WITH_SERVER)),http,) $(if $(filter 1,$(WITH_CONVERT)),pdf,)
FUZZ_TARGETS ?= $(strip $(FUZZ_ALL))
FUZZ_BIN     := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)
.PHONY: fuzz fuzz-build fuzz-regress fuzz-lib
ifneq ($(BUILD),$(FUZZ_BUILD)) # (not inside the sub-make that builds the library)
fuzz-lib:
	$(MAKE) CC=$(FUZZ_CC) BUILD=$(FUZZ_BUILD) SANITIZE= \
	  SANFLAGS="-fsanitize=fuzzer-no-link $(FUZZ_SAN)" $(FUZZ_BUILD)/libquire.a
$(FUZZ_BUILD)/libquire.a: fuzz-lib
$(FUZZ_BUILD)/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz_common.h $(FUZZ_BUILD)/libquire.a
	$(FUZZ_CC) -std=c11 $(WARN) $(CFLAGS) -fsanitize=fuzzer $(FUZZ_SAN) -Iinclude -Isrc \
	  -D_DEFAULT_SOURCE $(PKG_CFLAGS) -DQUIRE_ROOT_DIR='"$(CURDIR)"' -o $@ $< \
	  $(FUZZ_BUILD)/libquire.a $(LDLIBS)
fuzz-build: $(FUZZ_BIN)
fuzz: fuzz-build
	FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_JOBS=$(FUZZ_JOBS) \
	  sh fuzz/run.sh fuzz $(FUZZ_TARGETS)
fuzz-regress: fuzz-build
	FUZZ_BUILD=$(FUZZ_BUILD) sh fuzz/run.sh regress $(FUZZ_TARGETS)
endif

lint: lib
	QUIRE_BUILD=$(BUILD) sh tests/lint.sh

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# The MiniLM-shaped test model (90 MB, not committed): regenerated bit-identically
# from shared/models/ref/gen_weights.py with Debian's python3-numpy.
SHARED ?= ../shared
MINILM_SHA256 := 756f31d1a8a9211da519ba9ee634f417bb2e22fd216a1515583873a63bf99f2a
# The full-size nomic-embed-text-v1.5 shape (547 MB, seeded; tests/unit/test_nomic_full.c and
# bench/embed/nomic.sh): shared/models/ref/gen_nomic.py writes the whole folder (config and
# side files identical to shared/models/nomic-random, tokenizer of tiny-nomic).
NOMIC_FULL_SHA256 := 03e4507d8d522cff13f3eb2e57c5ac6d437e497af7a208afb4b4be48273f03bf
.PHONY: models
models: build/models/minilm/model.safetensors build/models/nomic-full/model.safetensors

build/models/minilm/model.safetensors:
	@mkdir -p build/models
	/usr/bin/python3 $(SHARED)/models/ref/gen_weights.py minilm build/models/minilm.tmp
	echo "$(MINILM_SHA256)  build/models/minilm.tmp/model.safetensors" | sha256sum -c -
	rm -rf build/models/minilm && mv build/models/minilm.tmp build/models/minilm

build/models/nomic-full/model.safetensors:
	@mkdir -p build/models
	rm -rf build/models/nomic-full.tmp
	/usr/bin/python3 $(SHARED)/models/ref/gen_nomic.py nomic build/models/nomic-full.tmp
	echo "$(NOMIC_FULL_SHA256)  build/models/nomic-full.tmp/model.safetensors" | sha256sum -c -
	rm -rf build/models/nomic-full && mv build/models/nomic-full.tmp build/models/nomic-full

# Demo on bundled sample data, no model needed for the first part: convert a PDF to
# Markdown, ingest it into a store (text-only) and search it with citations; then CPU /
# kernels and embeddings with the bundled tiny model.
.PHONY: demo
demo: all
	./build/quire info
	./build/quire convert examples/sample.pdf | head -8
	rm -f build/demo.db build/demo.db-wal build/demo.db-shm
	./build/quire ingest --db build/demo.db --collection demo examples/sample.pdf
	./build/quire search --db build/demo.db --collection demo -k 2 "who designed the lens"
	./build/quire tokenize --model examples/tiny-bert examples/sentences.txt | head -3
	./build/quire embed --model examples/tiny-bert examples/sentences.txt | cut -c1-160

# Regenerate the conversion goldens in tests/data/golden (review the diff by eye).
golden-update: tests
	QUIRE_GOLDEN_UPDATE=1 QUIRE_SHARED=$(SHARED) $(BUILD)/tests/test_conv_golden
