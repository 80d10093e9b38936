# Board firmware: the core (build/qn.wasm) compiled ahead of time to C by
# wasm2c and linked with boards/common and one board. Included by the root
# Makefile.
#
#   make PLATFORM=<board> [TARGET=release|debug]   build/<board>/<target>/qn.elf (+ .bin .hex .map)
#   make size|run|flash|bootcost PLATFORM=<board>
#   make boards                                     every board x every target
#
# Both targets run the release core (build/qn.wasm): the debug core has a
# different import list and a larger memory, and the C side is what TARGET
# changes (-Og -g, posix with ASan/UBSan). The generated qn_api_wasm2c.c is
# made from the release module, so the two always agree.

QN_PLATFORMS := mps2-an500 stm32h743 posix
QN_TARGETS := debug release
TARGET ?= release
# Release budget (bytes), checked by `make size`: all RAM (data, bss,
# linear memory, stack) and all flash.
QN_BUDGET_RAM ?= 24576
QN_BUDGET_FLASH ?= 65536
# Deepest Wasm call nesting before the core traps (EXHAUSTION) instead of
# running the C stack into a fault.
QN_WASM_MAX_DEPTH ?= 32
# Authentication the firmware asks of its peer (qn_config_set key 1):
# 0 none, 1 handshake HMAC, 2 handshake + per-frame MAC.
QN_AUTH_MODE ?= 2
# The pre-shared key (hex). The default is a PUBLIC development key for
# QEMU and the tests: a production device gets its own (boards/README.md).
QN_PSK_FILE ?= boards/dev-psk.hex
# The key's id in the gateway's registry (a fleet listener finds the key
# by it); 0: none, the device has a port of its own.
QN_KEY_ID ?= 0
OPENOCD_CFG ?= board/st_nucleo_h743zi.cfg
QN_SERIAL ?= pty

.PHONY: firmware firmware-c flash run size bootcost boards boards-check-platform sdk

boards: ## build every board for every target
	@set -e; for p in $(QN_PLATFORMS); do for t in $(QN_TARGETS); do \
	  $(MAKE) --no-print-directory PLATFORM=$$p TARGET=$$t firmware; done; done

ifndef PLATFORM
firmware firmware-c flash run size bootcost sdk:
	@echo "boards: set PLATFORM to one of: $(QN_PLATFORMS) (and TARGET to one of: $(QN_TARGETS))" >&2; exit 1
else
ifeq ($(filter $(PLATFORM),$(QN_PLATFORMS) template),)
$(error unknown PLATFORM '$(PLATFORM)': valid platforms are $(QN_PLATFORMS) (and template, the blank port of docs/PORTING.md))
endif
ifeq ($(filter $(TARGET),$(QN_TARGETS)),)
$(error unknown TARGET '$(TARGET)': valid targets are $(QN_TARGETS))
endif

# `make PLATFORM=x` builds the firmware as well as the core.
all: firmware

include boards/$(PLATFORM)/board.mk

# QN_FW_ROOT lets a test build every board into a fresh directory.
QN_FW_ROOT ?= build
FW := $(QN_FW_ROOT)/$(PLATFORM)/$(TARGET)
FW_W2C := $(FW)/wasm2c
FW_GEN := $(FW)/gen
FW_OBJ := $(FW)/obj
# The application linked into the firmware: the echo example by default
# (what the selftest and the QEMU tests talk to).
QN_APP_SRC ?= examples/echo/main.c
# The QN library (libqn.a in the SDK): the loop over the core and runtime.
QN_LIB_SRC := sdk/src/qn_loop.c sdk/src/qn_messages.c sdk/src/qn_device.c \
  boards/common/qn_wasm_rt.c boards/common/qn_imports.c boards/common/qn_crc32c.c
FW_COMMON := $(QN_APP_SRC) $(QN_LIB_SRC)
ifeq ($(BOARD_ARCH),cm7)
FW_COMMON += boards/common/startup_cm7.c boards/common/systick_cm7.c boards/common/uart_ring_cm7.c
endif
FW_SRC := $(FW_COMMON) $(BOARD_SRC)
FW_OBJS := $(patsubst %.c,$(FW_OBJ)/%.o,$(FW_SRC)) $(FW_OBJ)/qn.o $(FW_OBJ)/qn_api_wasm2c.o

FW_CFLAGS := -std=gnu11 -Wall -Wextra -Werror -g -ffunction-sections -fdata-sections -MMD -MP \
  -Isdk/include -Isdk/src -Iboards/include -Iboards/common -Iboards/$(PLATFORM) -Ibuild -I$(FW_W2C) -I$(FW_GEN) -I/usr/src/wasm2c \
  -DWASM_RT_MEMCHECK_SIGNAL_HANDLER=0 -DWASM_RT_USE_STACK_DEPTH_COUNT=1 \
  -DWASM_RT_MAX_CALL_STACK_DEPTH=$(QN_WASM_MAX_DEPTH) $(BOARD_CFLAGS)
# Bench builds: the mps2-an500 UART paced to a line rate (board.c says
# why). Make does not track flags, so such a build needs a root of its own.
ifdef QN_UART_PACE_BAUD
ifeq ($(QN_FW_ROOT),build)
$(error QN_UART_PACE_BAUD needs QN_FW_ROOT set to a directory of its own (e.g. build/paced))
endif
FW_CFLAGS += -DQN_UART_PACE_BAUD=$(QN_UART_PACE_BAUD)u
endif
ifeq ($(TARGET),release)
FW_OPT_CFLAGS := -O2 -DNDEBUG
else
FW_OPT_CFLAGS := -Og -DQN_DEBUG=1
endif
FW_CFLAGS += $(FW_OPT_CFLAGS)
# wasm2c's output: NDEBUG always (its asserts would pull in stdio), and the
# warnings its style triggers by design.
FW_GEN_CFLAGS := -DNDEBUG -Wno-unused-value -Wno-unused-variable -Wno-unused-but-set-variable \
  -Wno-unused-function -Wno-unused-parameter

ifeq ($(BOARD_ARCH),cm7)
FW_CC := arm-none-eabi-gcc
# Address 0 is memory on these chips (mps2-an500's image starts there).
FW_ARCH_CFLAGS := -ffreestanding -fno-delete-null-pointer-checks
FW_CFLAGS += -DQN_NOINIT_SECTION='".noinit"' $(FW_ARCH_CFLAGS)
FW_LDFLAGS := $(BOARD_CFLAGS) -nostartfiles -specs=nano.specs -Wl,--gc-sections \
  -Wl,-Map=$(FW)/qn.map -Wl,--print-memory-usage -Lboards/common -T$(BOARD_LDSCRIPT)
FW_LIBS := -lc -lm -lgcc
FW_ELF := $(FW)/qn.elf
FW_OUTPUTS := $(FW_ELF) $(FW)/qn.bin $(FW)/qn.hex $(FW)/image.json
FW_NM := arm-none-eabi-nm
else
FW_CC := gcc
FW_LDFLAGS := $(BOARD_CFLAGS) -Wl,-Map=$(FW)/qn.map
FW_LIBS := -lm
FW_ELF := $(FW)/qn
FW_OUTPUTS := $(FW_ELF)
FW_NM := nm
endif

firmware: $(FW_OUTPUTS) ## build the firmware for PLATFORM and TARGET

# make check: the board's hand-written C compiled, as the firmware build
# compiles it, without the generated core (the slow part) or the link.
firmware-c: $(patsubst %.c,$(FW_OBJ)/%.o,$(FW_SRC))

$(FW_W2C)/qn_w2c.c $(FW_W2C)/qn_w2c.h &: build/qn.wasm boards/tools/w2c-mem.mjs
	@mkdir -p $(FW_W2C)
	wasm2c $< -n qn -o $(FW_W2C)/qn_w2c.c
	node boards/tools/w2c-mem.mjs $(FW_W2C)/qn_w2c.c

# Linear memory: the module's heap base (its static data) rounded up to
# 256 bytes. The boot re-checks it against qn_heap_base().
$(FW_W2C)/qn_linear_mem.h: build/manifest.json boards/tools/linear-mem.mjs
	@mkdir -p $(FW_W2C)
	QN_LINEAR_MEM_OVERRIDE=$(QN_LINEAR_MEM_OVERRIDE) node boards/tools/linear-mem.mjs $< > $@.tmp && mv $@.tmp $@

# Auth mode and key, compiled into main.c. Always run: the tool rewrites
# the header only when QN_AUTH_MODE or the key changed. Silent, and the key
# is never on the command line (make must not echo it into a log).
$(FW_GEN)/qn_fw_config.h: FORCE
	@mkdir -p $(FW_GEN)
	@node boards/tools/fw-config.mjs $@ '$(QN_AUTH_MODE)' '$(QN_PSK_FILE)' '$(QN_KEY_ID)'
.PHONY: FORCE
FORCE:

$(FW_OBJ)/%.o: %.c $(FW_W2C)/qn_w2c.h $(FW_W2C)/qn_linear_mem.h build/qn_api.h $(FW_GEN)/qn_fw_config.h
	@mkdir -p $(dir $@)
	$(FW_CC) $(FW_CFLAGS) -c $< -o $@

$(FW_OBJ)/qn.o: $(FW_W2C)/qn_w2c.c $(FW_W2C)/qn_w2c.h $(FW_W2C)/qn_linear_mem.h boards/common/qn_w2c_mem.h
	@mkdir -p $(dir $@)
	$(FW_CC) $(FW_CFLAGS) $(FW_GEN_CFLAGS) -c $< -o $@

$(FW_OBJ)/qn_api_wasm2c.o: build/qn_api_wasm2c.c $(FW_W2C)/qn_w2c.h build/qn_api.h
	@mkdir -p $(dir $@)
	$(FW_CC) $(FW_CFLAGS) $(FW_GEN_CFLAGS) -c $< -o $@

# No heap: anything that drags in malloc or _sbrk fails the build.
$(FW_ELF): $(FW_OBJS) $(BOARD_LDSCRIPT) boards/common/cm7_sections.ld
	$(FW_CC) $(FW_LDFLAGS) $(FW_OBJS) $(FW_LIBS) -o $@
	@if [ "$(BOARD_ARCH)" = cm7 ] && $(FW_NM) $@ | grep -qE ' [TtWw] (_?malloc|_malloc_r|_sbrk|_sbrk_r)$$'; then \
	  echo "boards: $@ links malloc/_sbrk: the firmware must not use a heap" >&2; rm -f $@; exit 1; fi

$(FW)/qn.bin: $(FW_ELF)
	arm-none-eabi-objcopy -O binary $< $@
$(FW)/qn.hex: $(FW_ELF)
	arm-none-eabi-objcopy -O ihex $< $@
# CRC-32C and length of qn.bin, for the selftest's core.integrity check.
$(FW)/image.json: $(FW)/qn.bin boards/tools/image-json.mjs
	node boards/tools/image-json.mjs $< $@

-include $(FW_OBJS:.o=.d)

include sdk/sdk.mk

size: firmware ## flash and RAM of the firmware against the budget
	@node boards/tools/size.mjs $(PLATFORM) $(TARGET) $(FW_ELF) $(QN_BUDGET_RAM) $(QN_BUDGET_FLASH)
ifeq ($(PLATFORM),mps2-an500)
	@node --import tsx boards/tools/measure.ts $(FW_ELF)
else ifeq ($(BOARD_ARCH),cm7)
	@echo "  stack high-water: measured on the board only (identity field 13); not runnable here"
else
	@echo "  stack high-water: not measurable in a process (no painted stack)"
endif

ifeq ($(PLATFORM),mps2-an500)
QEMU_CMD := $(BOARD_QEMU) -serial $(QN_SERIAL) -kernel $(FW_ELF)
run: firmware ## boot the firmware in QEMU (UART on a pty, or QN_SERIAL=stdio)
	@echo "boards: $(QEMU_CMD)"; $(QEMU_CMD)
bootcost: firmware ## instructions from reset to ready under QEMU -icount shift=0
	@node --import tsx boards/tools/measure.ts $(FW_ELF)
else ifeq ($(PLATFORM),posix)
run: firmware
	$(FW_ELF) $(QN_POSIX_ARGS)
bootcost:
	@echo "boards: bootcost is measured on PLATFORM=mps2-an500 (QEMU -icount)" >&2; exit 1
else
run bootcost:
	@echo "boards: $(PLATFORM) runs on hardware: use 'make flash PLATFORM=$(PLATFORM)'" >&2; exit 1
endif

ifeq ($(PLATFORM),stm32h743)
flash: firmware ## program, verify and reset the board through OpenOCD
	@openocd -f $(OPENOCD_CFG) -c "program $(FW_ELF) verify reset exit" || { \
	  echo "boards: flash failed (OpenOCD's messages above). Is the Nucleo's ST-LINK plugged in (lsusb shows 0483:374e or similar) and free (no other debugger or OpenOCD on it)? Is OPENOCD_CFG=$(OPENOCD_CFG) the config for this board?" >&2; exit 1; }
else
flash:
	@echo "boards: flash is for PLATFORM=stm32h743 (this is $(PLATFORM))" >&2; exit 1
endif
endif
