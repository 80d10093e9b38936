# `make sdk PLATFORM=<board> [TARGET=release|debug]`: a relocatable SDK
# folder (QN_SDK_ROOT) an application builds against with nothing else of
# this repository. Included by boards/boards.mk once PLATFORM is set; reuses
# the objects the firmware build makes (same flags), so the library in the
# SDK is byte for byte what the firmware links.
#
#   include/   qn.h (the application API), qn_abi.h (generated names),
#              qn_port.h (for a port of one's own)
#   lib/       libqn.a (core + runtime + loop), libqn_board.a (this board)
#   ld/        the board's linker scripts
#   qn.mk      what an application's Makefile includes (sdk/qn.mk)
#   examples/  echo and telemetry, each with its Makefile
#   tools/selftest/  qn_selftest and what it runs on (sdk/selftest/)
#   keys/      the PUBLIC development key the examples build with by default

SDK_DIR := $(QN_FW_ROOT)/sdk/$(PLATFORM)$(if $(filter debug,$(TARGET)),-debug)
SDK_LIB_OBJS := $(patsubst %.c,$(FW_OBJ)/%.o,$(QN_LIB_SRC)) $(FW_OBJ)/qn.o $(FW_OBJ)/qn_api_wasm2c.o
SDK_BOARD_OBJS := $(patsubst %.c,$(FW_OBJ)/%.o,$(filter-out $(QN_LIB_SRC) $(QN_APP_SRC),$(FW_SRC)))
SDK_AR := $(if $(filter cm7,$(BOARD_ARCH)),arm-none-eabi-ar,ar)
SDK_LDSCRIPTS := $(if $(BOARD_LDSCRIPT),$(BOARD_LDSCRIPT) boards/common/cm7_sections.ld)
# The Node side of the selftest, mirrored with the repository's layout
# (host/ reads ../build/qn.wasm, ../tools/crc32c.mjs, ../boards/dev-psk.hex).
# Its generated files are prerequisites of sdk: a fresh checkout has none.
SDK_SELFTEST_FILES := qn_selftest host selftest tools/crc32c.mjs boards/dev-psk.hex \
  boards/tools/fw-config.mjs boards/tools/image-json.mjs build/qn.wasm build/qn_abi.ts build/manifest.json

.PHONY: sdk
sdk: $(FW_OUTPUTS) $(filter build/%,$(SDK_SELFTEST_FILES)) sdk/tools/sdk-package.mjs sdk/qn.mk sdk/selftest/Makefile sdk/README.md ## the SDK folder for PLATFORM (build/sdk/<board>)
	@rm -rf $(SDK_DIR) && mkdir -p $(SDK_DIR)/include $(SDK_DIR)/lib $(SDK_DIR)/ld $(SDK_DIR)/keys
	cp sdk/include/qn.h build/qn_abi.h boards/include/qn_port.h $(SDK_DIR)/include/
	$(SDK_AR) rcs $(SDK_DIR)/lib/libqn.a $(SDK_LIB_OBJS)
	$(SDK_AR) rcs $(SDK_DIR)/lib/libqn_board.a $(SDK_BOARD_OBJS)
	$(if $(SDK_LDSCRIPTS),cp $(SDK_LDSCRIPTS) $(SDK_DIR)/ld/)
	cp boards/dev-psk.hex $(SDK_DIR)/keys/
	cp sdk/qn.mk sdk/README.md $(SDK_DIR)/
	@set -e; for f in $(SDK_SELFTEST_FILES); do mkdir -p $(SDK_DIR)/tools/selftest/$$(dirname $$f); \
	  cp -R $$f $(SDK_DIR)/tools/selftest/$$f; done
	rm -rf $(SDK_DIR)/tools/selftest/host/test $(SDK_DIR)/tools/selftest/selftest/test
	cp sdk/selftest/Makefile $(SDK_DIR)/tools/selftest/Makefile
	@mkdir -p $(SDK_DIR)/examples && cp -R examples/echo examples/telemetry $(SDK_DIR)/examples/
	node sdk/tools/sdk-package.mjs $(SDK_DIR) '$(PLATFORM)' '$(TARGET)' '$(BOARD_ARCH)' '$(FW_CC)' \
	  '$(BOARD_CFLAGS) $(FW_OPT_CFLAGS) $(FW_ARCH_CFLAGS)' '$(notdir $(BOARD_LDSCRIPT))' '$(BOARD_QEMU)'
	@echo "sdk: $(SDK_DIR) (QN_SDK_ROOT)"
