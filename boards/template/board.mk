# template: a blank Cortex-M7 port (docs/PORTING.md). Copy this folder to
# boards/<name>, add <name> to QN_PLATFORMS in boards/boards.mk, then set:
#   BOARD_CFLAGS   the core's flags, QN_IRQ_COUNT (device interrupts) and
#                  QN_RESET_HZ (the core clock out of reset, for SysTick)
#   BOARD_LDSCRIPT the memory map (template.ld)
#   BOARD_SRC      the port's C files
BOARD_ARCH := cm7
BOARD_CFLAGS := -mcpu=cortex-m7 -mthumb -mfloat-abi=hard -mfpu=fpv5-d16 \
  -DQN_IRQ_COUNT=32 -DQN_RESET_HZ=16000000u
BOARD_LDSCRIPT := boards/template/template.ld
BOARD_SRC := boards/template/board.c
