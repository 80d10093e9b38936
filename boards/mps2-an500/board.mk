# mps2-an500: the Cortex-M7 that qemu-system-arm emulates. Every QEMU test
# runs this firmware.
BOARD_ARCH := cm7
BOARD_CFLAGS := -mcpu=cortex-m7 -mthumb -mfloat-abi=hard -mfpu=fpv5-d16 \
  -DQN_IRQ_COUNT=32 -DQN_RESET_HZ=25000000u
BOARD_LDSCRIPT := boards/mps2-an500/mps2-an500.ld
BOARD_SRC := boards/mps2-an500/board.c
# The emulator that runs this board (empty on a board that runs on
# hardware): make run here and in an SDK folder's qn.mk add the UART and the image.
BOARD_QEMU := qemu-system-arm -M mps2-an500 -display none -monitor none -semihosting-config enable=on,target=native
