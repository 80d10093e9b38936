# Coverage-guided fuzzing of the core as the device runs it: libFuzzer
# harnesses (fuzz/README.md) over build/qn.wasm compiled by wasm2c and the
# boards' runtime, with AddressSanitizer and UBSan. Included by the root
# Makefile.
#
#   make fuzz [FUZZ_SECONDS=N]     every target N seconds (default 60)
#   make fuzz-regress              replay fuzz/regressions/<target>/ and the seed corpora
#   make fuzz-smoke                fuzz-regress, then about 60 s across the targets (CI)
#   make fuzz-run FUZZ_TARGET=t    one target, FUZZ_SECONDS, FUZZ_ARGS passed to libFuzzer
#   make fuzz-property             the decoder property tests with 10 million inputs each

FUZZ_TARGETS := rx-auth0 rx-auth2-pre rx-auth2-session journal decode config
FUZZ_SECONDS ?= 60
FUZZ_ARGS ?=
# clang and the sanitizer runtimes: installed by the fuzz targets only
# (make test does not need them).
FUZZ_DEBIAN_PKGS := clang llvm libclang-rt-14-dev
FUZZ_DIR := build/fuzz
FUZZ_W2C := $(FUZZ_DIR)/wasm2c
FUZZ_CC := clang
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS := -std=gnu11 -g -O2 -fno-omit-frame-pointer -Wall -Wextra -Werror \
  -Iboards/include -Iboards/common -Ibuild -I$(FUZZ_W2C) -Ifuzz -I/usr/src/wasm2c \
  -DWASM_RT_MEMCHECK_SIGNAL_HANDLER=0 -DWASM_RT_USE_STACK_DEPTH_COUNT=1 \
  -DWASM_RT_MAX_CALL_STACK_DEPTH=$(QN_WASM_MAX_DEPTH) $(FUZZ_SAN) -fsanitize=fuzzer-no-link
# wasm2c's output: the warnings its style triggers by design (boards.mk).
FUZZ_GEN_CFLAGS := -DNDEBUG -Wno-unused-value -Wno-unused-variable -Wno-unused-but-set-variable \
  -Wno-unused-function -Wno-unused-parameter
FUZZ_COMMON := fuzz/fuzz_core.c fuzz/fuzz_frame.c fuzz/fuzz_rx.c \
  boards/common/qn_wasm_rt.c boards/common/qn_imports.c boards/common/qn_crc32c.c
FUZZ_OBJS := $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(FUZZ_COMMON)) $(FUZZ_DIR)/obj/qn.o $(FUZZ_DIR)/obj/qn_api_wasm2c.o
FUZZ_BINS := $(foreach t,$(FUZZ_TARGETS),$(FUZZ_DIR)/$(t))

.PHONY: deps-fuzz fuzz-build fuzz fuzz-run fuzz-regress fuzz-smoke fuzz-corpus fuzz-property

deps-fuzz:
	@missing=""; for p in $(FUZZ_DEBIAN_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null \
	    || { echo "deps: apt-get install failed for:$$missing" >&2; exit 1; }; \
	fi

$(FUZZ_W2C)/qn_w2c.c $(FUZZ_W2C)/qn_w2c.h &: build/qn.wasm boards/tools/w2c-mem.mjs
	@mkdir -p $(FUZZ_W2C)
	wasm2c $< -n qn -o $(FUZZ_W2C)/qn_w2c.c
	node boards/tools/w2c-mem.mjs $(FUZZ_W2C)/qn_w2c.c

$(FUZZ_W2C)/qn_linear_mem.h: build/manifest.json boards/tools/linear-mem.mjs
	@mkdir -p $(FUZZ_W2C)
	node boards/tools/linear-mem.mjs $< > $@.tmp && mv $@.tmp $@

FUZZ_HDRS := $(FUZZ_W2C)/qn_w2c.h $(FUZZ_W2C)/qn_linear_mem.h build/qn_api.h $(wildcard fuzz/*.h)

$(FUZZ_DIR)/obj/%.o: %.c $(FUZZ_HDRS) | deps-fuzz
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_DIR)/obj/qn.o: $(FUZZ_W2C)/qn_w2c.c $(FUZZ_HDRS) boards/common/qn_w2c_mem.h | deps-fuzz
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_GEN_CFLAGS) -c $< -o $@

$(FUZZ_DIR)/obj/qn_api_wasm2c.o: build/qn_api_wasm2c.c $(FUZZ_HDRS) | deps-fuzz
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_GEN_CFLAGS) -c $< -o $@

# One binary per target; target names use '-', their sources '_'.
define FUZZ_TARGET_RULE
$(FUZZ_DIR)/$(1): $(FUZZ_DIR)/obj/fuzz/target_$(subst -,_,$(1)).o $(FUZZ_OBJS)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer $$^ -o $$@
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call FUZZ_TARGET_RULE,$(t))))

fuzz-build: $(FUZZ_BINS) ## build the fuzz targets (build/fuzz/<target>)

fuzz: fuzz-build ## run every fuzz target FUZZ_SECONDS seconds (default 60); findings in build/fuzz/findings/
	@fail=0; for t in $(FUZZ_TARGETS); do fuzz/tools/run-target.sh $$t $(FUZZ_SECONDS) $(FUZZ_ARGS) || fail=1; done; exit $$fail

fuzz-run: fuzz-build ## one target: FUZZ_TARGET=<name> FUZZ_SECONDS=N FUZZ_ARGS='libFuzzer options'
	@test -n "$(filter $(FUZZ_TARGET),$(FUZZ_TARGETS))" || { echo "fuzz-run: set FUZZ_TARGET to one of: $(FUZZ_TARGETS)" >&2; exit 1; }
	@fuzz/tools/run-target.sh $(FUZZ_TARGET) $(FUZZ_SECONDS) $(FUZZ_ARGS)

fuzz-regress: fuzz-build ## replay the kept findings (fuzz/regressions/) and the seed corpora
	@fuzz/tools/regress.sh $(FUZZ_TARGETS)

fuzz-smoke: fuzz-regress ## CI: fuzz-regress, then a fixed seed and number of runs per target (about 5 s each; run-target.sh)
	@fail=0; for t in $(FUZZ_TARGETS); do FUZZ_SMOKE=1 fuzz/tools/run-target.sh $$t 300 || fail=1; done; exit $$fail

fuzz-corpus: core ## regenerate the seed corpora in fuzz/corpus/ (commit them)
	node --import tsx fuzz/tools/make-corpus.ts

# The decoder property tests (test/core/property*.test.ts) at the campaign's
# size; make test runs them with their small defaults.
FUZZ_PROPERTY_INPUTS ?= 10000000
fuzz-property: core ## the decoder property tests, FUZZ_PROPERTY_INPUTS inputs each (default 10 million)
	QN_PROPERTY_INPUTS=$(FUZZ_PROPERTY_INPUTS) $(NODE_BIN)/vitest run --reporter=default test/core/property.test.ts test/core/property-states.test.ts
