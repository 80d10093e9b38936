# stm32h743: the Nucleo-H743ZI. Cortex-M7, 150 device interrupts, 64 MHz
# HSI out of reset (clock.c raises it to 480 MHz).
BOARD_ARCH := cm7
BOARD_CFLAGS := -mcpu=cortex-m7 -mthumb -mfloat-abi=hard -mfpu=fpv5-d16 \
  -DQN_IRQ_COUNT=150 -DQN_RESET_HZ=64000000u
BOARD_LDSCRIPT := boards/stm32h743/stm32h743.ld
BOARD_SRC := boards/stm32h743/board.c boards/stm32h743/clock.c boards/stm32h743/storage.c boards/stm32h743/rng.c
