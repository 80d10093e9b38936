# qn.mk: build a QN application against this SDK folder and nothing else.
#
#   APP := telemetry                 # the image's name
#   APP_SRC := main.c sensor.c       # the application's C files
#   include $(QN_SDK_ROOT)/qn.mk
#
# `make` writes $(QN_OUT)/$(APP).elf (ARM boards also .bin, .hex and
# image.json, the image CRC the selftest checks). Settings:
#   QN_SDK_ROOT   this folder (default: where this file is)
#   QN_OUT        build directory (default build/<platform>)
#   QN_AUTH_MODE  0, 1 or 2 (default 2), QN_PSK_FILE the pre-shared key (hex;
#                 default keys/dev-psk.hex, a PUBLIC development key). Both
#                 reach the application as qn_fw_config.h (QN_AUTH_MODE,
#                 QN_PSK_LEN, QN_PSK_BYTES); the key never appears on a
#                 command line. QN_KEY_ID the key's id in the gateway's
#                 registry (qn_config_t.key_id, for a fleet listener;
#                 default 0: none), as QN_KEY_ID there too.
#   QN_SERIAL     make run: QEMU's UART, pty (default: it prints the
#                 /dev/pts/N a host peer opens) or stdio
#
# `make run` boots the image in QEMU on a board QEMU emulates (mps2-an500),
# starts it on the posix board; on other boards flash $(QN_OUT)/$(APP).elf
# with the board's own tool.
QN_SDK_ROOT ?= $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
include $(QN_SDK_ROOT)/qn_board.mk
QN_OUT ?= build/$(QN_PLATFORM)
QN_AUTH_MODE ?= 2
QN_PSK_FILE ?= $(QN_SDK_ROOT)/keys/dev-psk.hex
QN_KEY_ID ?= 0
QN_NODE_TOOLS := $(QN_SDK_ROOT)/tools/selftest/boards/tools
APP ?= app
APP_OBJS := $(patsubst %.c,$(QN_OUT)/obj/%.o,$(APP_SRC))
QN_CFLAGS := -std=gnu11 -Wall -Wextra -Werror -g -ffunction-sections -fdata-sections -MMD -MP \
  $(QN_BOARD_CFLAGS) -I$(QN_SDK_ROOT)/include -I$(QN_OUT)/gen $(CFLAGS)
QN_LIBS := -Wl,--whole-archive $(QN_SDK_ROOT)/lib/libqn_board.a -Wl,--no-whole-archive $(QN_SDK_ROOT)/lib/libqn.a

ifeq ($(QN_ARCH),cm7)
QN_ELF := $(QN_OUT)/$(APP).elf
QN_LDFLAGS := $(QN_BOARD_CFLAGS) -nostartfiles -specs=nano.specs -Wl,--gc-sections \
  -Wl,-Map=$(QN_OUT)/$(APP).map -L$(QN_SDK_ROOT)/ld -T$(QN_LDSCRIPT)
QN_SYSLIBS := -lc -lm -lgcc
QN_OUTPUTS := $(QN_ELF) $(QN_OUT)/$(APP).bin $(QN_OUT)/$(APP).hex $(QN_OUT)/image.json
else
QN_ELF := $(QN_OUT)/$(APP)
QN_LDFLAGS := $(QN_BOARD_CFLAGS)
QN_SYSLIBS := -lm
QN_OUTPUTS := $(QN_ELF)
endif

.PHONY: all clean run FORCE
all: $(QN_OUTPUTS)

QN_SERIAL ?= pty
ifneq ($(QN_QEMU),)
run: $(QN_OUTPUTS)
	$(QN_QEMU) -serial $(QN_SERIAL) -kernel $(QN_ELF)
else ifneq ($(QN_ARCH),cm7)
run: $(QN_OUTPUTS)
	$(QN_ELF)
else
run:
	@echo "qn.mk: $(QN_PLATFORM) runs on hardware, not in QEMU: flash $(QN_ELF) with the board's tool" >&2; exit 1
endif

# Rewritten only when the mode or key changed (the tool compares), silent.
$(QN_OUT)/gen/qn_fw_config.h: FORCE
	@mkdir -p $(dir $@)
	@node $(QN_NODE_TOOLS)/fw-config.mjs $@ '$(QN_AUTH_MODE)' '$(QN_PSK_FILE)' '$(QN_KEY_ID)'
FORCE:

$(QN_OUT)/obj/%.o: %.c $(QN_OUT)/gen/qn_fw_config.h
	@mkdir -p $(dir $@)
	$(QN_CC) $(QN_CFLAGS) -c $< -o $@

# No heap: an application that drags in malloc fails the build, as the
# firmware does (every QN buffer is static).
$(QN_ELF): $(APP_OBJS) $(QN_SDK_ROOT)/lib/libqn.a $(QN_SDK_ROOT)/lib/libqn_board.a
	$(QN_CC) $(QN_LDFLAGS) $(APP_OBJS) -Wl,--start-group $(QN_LIBS) $(QN_SYSLIBS) -Wl,--end-group -o $@
	@if [ "$(QN_ARCH)" = cm7 ] && arm-none-eabi-nm $@ | grep -qE ' [TtWw] (_?malloc|_malloc_r|_sbrk|_sbrk_r)$$'; then \
	  echo "qn.mk: $@ links malloc/_sbrk: QN applications run without a heap" >&2; rm -f $@; exit 1; fi

$(QN_OUT)/$(APP).bin: $(QN_ELF)
	arm-none-eabi-objcopy -O binary $< $@
$(QN_OUT)/$(APP).hex: $(QN_ELF)
	arm-none-eabi-objcopy -O ihex $< $@
$(QN_OUT)/image.json: $(QN_OUT)/$(APP).bin
	node $(QN_NODE_TOOLS)/image-json.mjs $< $@

clean:
	rm -rf $(QN_OUT)

-include $(APP_OBJS:.o=.d)
