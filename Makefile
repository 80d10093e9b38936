# QN build. `make help` lists the targets.
# The core (assembly/) compiles once to build/qn.wasm; every shell (boards,
# host) runs that one module. Board firmware lives in boards/boards.mk.

SHELL := /bin/bash
.DEFAULT_GOAL := all
include qn_config.mk

NODE_BIN := node_modules/.bin
ASC := $(NODE_BIN)/asc
CORE_SRC := $(shell find assembly -name '*.ts' | sort)
FEATURES := QN_FEAT_JSON=$(QN_FEAT_JSON) QN_FEAT_PROBES=$(QN_FEAT_PROBES)
FEATURE_TAG := json$(QN_FEAT_JSON)-probes$(QN_FEAT_PROBES)
# Build id: CRC-32C over the core sources and features, so two builds of the
# same sources agree and the selftest can match a device to its manifest.
BUILD_ID := $(shell node tools/build-id.mjs $(FEATURE_TAG) $(CORE_SRC))
ASC_USE = $(foreach f,$(FEATURES),--use $(f)) --use QN_BUILD_ID=$(BUILD_ID)
# Hand-written C, for clang-format (generated C lives in build/ only).
C_SRC := $(shell find boards bench/firmware sdk examples -name '*.[ch]' | sort)

DEBIAN_PKGS := gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm wabt openocd mosquitto haproxy clang-format prometheus chromium
.PHONY: all help deps deps-npm deps-debian core api check format test test-core demo selftest clean

all: core ## build the core (build/qn.wasm, build/qn_abi.h, qn_api.h, qn_probe.h, build/qn_abi.ts)

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

deps: deps-npm deps-debian ## install what is missing (npm packages, Debian toolchains)

deps-npm: node_modules/.installed
# Installed when package-lock.json differs from the one node_modules was
# installed from (its hash is the stamp), not when its date is newer: a
# checkout or merge that leaves the lock as it was does not reinstall.
LOCK_HASH = $(shell sha1sum package-lock.json | cut -d' ' -f1)
node_modules/.installed: FORCE
	@if [ "$$(cat $@ 2>/dev/null)" != "$(LOCK_HASH)" ]; then \
	  echo "deps: npm ci"; \
	  npm ci --no-audit --no-fund --loglevel=error && echo "$(LOCK_HASH)" > $@; \
	fi
FORCE:

deps-debian:
	@missing=""; for p in $(DEBIAN_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null \
	    || { echo "deps: apt-get install failed for:$$missing" >&2; exit 1; }; \
	fi

# The feature stamp makes a change of qn_config rebuild the core.
build/.features-$(FEATURE_TAG):
	@mkdir -p build && rm -f build/.features-* && touch $@

build/qn.wasm: $(CORE_SRC) tools/build-id.mjs asconfig.json build/.features-$(FEATURE_TAG) | node_modules/.installed deps-debian
	$(ASC) --config asconfig.json --target release $(ASC_USE)
	wasm-validate $@
	@! wasm-objdump -d $@ | grep -q 'memory.grow' || { echo "core: memory.grow found in $@ (the core must not grow memory)" >&2; rm -f $@; exit 1; }

build/debug/qn.wasm: $(CORE_SRC) tools/build-id.mjs asconfig.json build/.features-$(FEATURE_TAG) | node_modules/.installed
	$(ASC) --config asconfig.json --target debug $(ASC_USE)

build/qn_abi.h build/qn_api.h build/qn_probe.h build/qn_api_wasm2c.c build/manifest.json &: build/qn.wasm tools/gen-api.mjs tools/abi-source.mjs tools/manifest.mjs
	QN_BUILD_ID=$(BUILD_ID) node tools/gen-api.mjs build/qn.wasm build
	node tools/manifest.mjs build/qn.wasm $(BUILD_ID) "$(FEATURES)" > build/manifest.json

# The host's names for the ABI's integers (host/ imports them): from the
# sources alone, so it is there before the module is built.
build/qn_abi.ts: $(CORE_SRC) tools/gen-host-abi.mjs tools/abi-source.mjs
	@mkdir -p build
	node tools/gen-host-abi.mjs build

core: build/qn.wasm build/debug/qn.wasm build/qn_api.h build/qn_abi.ts ## build the core

api: build/qn_api.h ## regenerate build/qn_abi.h, qn_api.h and qn_probe.h

demo: core ## a short demo through the core in Node
	@node --import tsx host/demo.ts

# The gates .ci/run passes before the tests: the TypeScript type-checks
# (tsconfig.json, strict), lints and is formatted (biome.jsonc); the C is
# formatted (.clang-format); and the hand-written C of every board (the
# blank template too) and of the bench firmware compiles (-Werror is in
# every C build's flags).
check: deps core ## type check, lint and format check (TypeScript and C), every board's C with -Werror
	$(NODE_BIN)/tsc --noEmit -p .
	$(NODE_BIN)/biome check --error-on-warnings .
	clang-format --dry-run --Werror $(C_SRC)
	@set -e; for p in $(QN_PLATFORMS) template; do for t in $(QN_TARGETS); do \
	  $(MAKE) --no-print-directory PLATFORM=$$p TARGET=$$t firmware-c; done; done
	$(MAKE) --no-print-directory bench-c

format: ## apply the formatters: Biome to the TypeScript, clang-format to the C
	$(NODE_BIN)/biome format --write .
	clang-format -i $(C_SRC)

test-core: core ## core tests only: test/core and test/protocol (vitest, through the real wasm)
	$(NODE_BIN)/vitest run --reporter=default test/core/ test/protocol/

test: deps core ## the whole suite: core, boards, QEMU, selftest
	@# The QEMU firmware the selftest and board tests boot.
	$(MAKE) --no-print-directory PLATFORM=mps2-an500 TARGET=release firmware
	@# Under V8 coverage: below the TypeScript floors it fails (coverage.mk).
	$(NODE_BIN)/vitest run --coverage --reporter=default

selftest: deps core ## the selftest against the emulated Cortex-M7 (QEMU), JSON report
	$(MAKE) --no-print-directory PLATFORM=mps2-an500 TARGET=release firmware
	./qn_selftest --mode=full --output=json --target qemu

clean: ## remove build/
	rm -rf build

-include boards/boards.mk

# Benchmarks (bench/README.md): `make bench`, never part of `make test`.
-include bench/bench.mk

# Fuzzing (fuzz/README.md): `make fuzz`, `make fuzz-smoke` (CI); never part of `make test`.
-include fuzz/fuzz.mk

# Coverage floors (coverage.mk): `make coverage`.
-include coverage.mk
