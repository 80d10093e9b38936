# Coverage floors (issue 16): line and branch coverage of the TypeScript
# product code and of the core as the device runs it, each checked against
# coverage-floors.json (today's figures less about 2 points; raise them as
# the tests grow). Included by the root Makefile. Uses fuzz/fuzz.mk's variables
# in recipes only, so the two files may be included in either order.
#
#   make coverage        coverage-core, then make test, then the table; fails
#                        below a floor
#   make test            runs the suite under V8 coverage (vitest.config.ts:
#                        host/, gateway/, selftest/; the TypeScript floors are
#                        its thresholds) into build/coverage/ts; the figures
#                        per file: vitest run --coverage --coverage.reporter=text
#   make coverage-core   llvm-cov over the wasm2c C of the core, driven by the
#                        fuzz harnesses replaying fuzz/regressions/<target>/
#                        and fuzz/corpus/<target>/ (committed, so the figures
#                        repeat); COV_EXTRA_CORPUS=<dir> also replays
#                        <dir>/<target>/ (e.g. build/fuzz/corpus after a
#                        campaign) for a report, not for the floors
#
# The core's C is compiled from a copy of build/qn.wasm that keeps the
# function names (asc --debug): the rule checks that, stripped of them, it is
# build/qn.wasm byte for byte, so the figures are those of the shipped code,
# and wasm2c names each C function after its AssemblyScript function, which
# tools/coverage/core-report.mjs maps back to its assembly/ file. The core's
# tests in test/ run it in V8, where its coverage is not measured: what
# coverage-core counts is what the fuzz corpora reach.

COV_DIR := build/coverage
COV_W2C := $(COV_DIR)/wasm2c
COV_CC := clang
COV_PROFILE := -fprofile-instr-generate -fcoverage-mapping
# The harness's flags without the sanitizers or libFuzzer's instrumentation
# (deferred: fuzz/fuzz.mk defines FUZZ_CFLAGS). The core's headers come from
# COV_W2C, ahead of the fuzz build's.
COV_CFLAGS = -I$(COV_W2C) $(filter-out $(FUZZ_SAN) -fsanitize=fuzzer-no-link,$(FUZZ_CFLAGS))
COV_EXTRA_CORPUS ?=
# Every fuzz harness source: a change to any of them relinks the replays.
COV_HARNESS_DEPS := $(wildcard fuzz/*.c fuzz/*.h boards/common/*.c boards/common/*.h boards/include/*.h)

.PHONY: coverage coverage-core coverage-core-check-fuzz

coverage: coverage-core test ## make test and coverage-core, then a table of the figures against coverage-floors.json
	@node tools/coverage/table.mjs coverage-floors.json $(COV_DIR)/ts/coverage-summary.json $(COV_DIR)/core-summary.json

coverage-core-check-fuzz:
	@test -n "$(FUZZ_TARGETS)" || { echo "coverage: the core's coverage replays the fuzz harnesses (fuzz/fuzz.mk), not in this tree" >&2; exit 1; }

$(COV_DIR)/qn-named.wasm: build/qn.wasm | node_modules/.installed deps-debian
	@mkdir -p $(COV_DIR)
	$(ASC) --config asconfig.json --target release $(ASC_USE) --debug --outFile $@ --textFile $(COV_DIR)/qn-named.wat
	@cp $@ $@.stripped && wasm-strip $@.stripped && cmp -s $@.stripped build/qn.wasm || { \
	  echo "coverage: $@ without its names differs from build/qn.wasm: the figures would not be the shipped code's" >&2; \
	  rm -f $@ $@.stripped; exit 1; }
	@rm -f $@.stripped

$(COV_W2C)/qn_w2c.c $(COV_W2C)/qn_w2c.h &: $(COV_DIR)/qn-named.wasm boards/tools/w2c-mem.mjs
	@mkdir -p $(COV_W2C)
	wasm2c $< -n qn -o $(COV_W2C)/qn_w2c.c
	node boards/tools/w2c-mem.mjs $(COV_W2C)/qn_w2c.c

$(COV_W2C)/qn_linear_mem.h: build/manifest.json boards/tools/linear-mem.mjs
	@mkdir -p $(COV_W2C)
	node boards/tools/linear-mem.mjs $< > $@.tmp && mv $@.tmp $@

COV_HDRS := $(COV_W2C)/qn_w2c.h $(COV_W2C)/qn_linear_mem.h build/qn_api.h

# Only the core carries the coverage instrumentation.
$(COV_DIR)/qn.o: $(COV_W2C)/qn_w2c.c $(COV_HDRS) boards/common/qn_w2c_mem.h | deps-fuzz
	$(COV_CC) $(COV_CFLAGS) $(FUZZ_GEN_CFLAGS) $(COV_PROFILE) -c $< -o $@

$(COV_DIR)/qn_api_wasm2c.o: build/qn_api_wasm2c.c $(COV_HDRS) | deps-fuzz
	$(COV_CC) $(COV_CFLAGS) $(FUZZ_GEN_CFLAGS) -c $< -o $@

# One replay program per fuzz target (target names use '-', sources '_').
$(COV_DIR)/replay-%: $(COV_DIR)/qn.o $(COV_DIR)/qn_api_wasm2c.o tools/coverage/fuzz-replay.c $(COV_HARNESS_DEPS) | coverage-core-check-fuzz
	$(COV_CC) $(COV_CFLAGS) -fprofile-instr-generate fuzz/target_$(subst -,_,$*).c $(FUZZ_COMMON) \
	  tools/coverage/fuzz-replay.c $(COV_DIR)/qn.o $(COV_DIR)/qn_api_wasm2c.o -o $@

# Profiles are per target; llvm-cov reads the core's functions from any one
# replay (they all link the same qn.o).
coverage-core: coverage-core-check-fuzz core ## the core's function, line, region and branch coverage under the fuzz corpora; fails below the core floors
	@$(MAKE) --no-print-directory $(foreach t,$(FUZZ_TARGETS),$(COV_DIR)/replay-$(t))
	@rm -rf $(COV_DIR)/prof && mkdir -p $(COV_DIR)/prof
	@set -e; for t in $(FUZZ_TARGETS); do \
	  dirs=""; for d in fuzz/regressions/$$t fuzz/corpus/$$t $(if $(COV_EXTRA_CORPUS),$(COV_EXTRA_CORPUS)/$$t); do \
	    [ -d $$d ] && dirs="$$dirs $$d"; done; \
	  printf 'coverage: %-17s ' $$t; \
	  LLVM_PROFILE_FILE=$(COV_DIR)/prof/$$t-%m.profraw $(COV_DIR)/replay-$$t $$dirs; done
	@llvm-profdata merge -sparse $(COV_DIR)/prof/*.profraw -o $(COV_DIR)/core.profdata
	@llvm-cov export -format=text -instr-profile=$(COV_DIR)/core.profdata \
	  $(COV_DIR)/replay-$(firstword $(FUZZ_TARGETS)) $(COV_W2C)/qn_w2c.c > $(COV_DIR)/core.json
	@llvm-cov report -show-functions -instr-profile=$(COV_DIR)/core.profdata \
	  $(COV_DIR)/replay-$(firstword $(FUZZ_TARGETS)) $(COV_W2C)/qn_w2c.c > $(COV_DIR)/core-functions.txt
	@node tools/coverage/core-report.mjs $(COV_DIR)/qn-named.wasm $(COV_DIR)/core.json $(COV_DIR)/core-functions.txt coverage-floors.json $(COV_DIR)/core-summary.json
