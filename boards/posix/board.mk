# posix: the same firmware main loop as a Linux process (host gcc). UART =
# a pty, storage = a file, clock = CLOCK_MONOTONIC. TARGET=debug (or
# SANITIZE=1) builds with AddressSanitizer and UBSan, stopping at the first
# report so a test sees it.
BOARD_ARCH := host
BOARD_CFLAGS := -DQN_POSIX_TRAP_HOOK -D_GNU_SOURCE
ifneq ($(or $(filter debug,$(TARGET)),$(filter 1,$(SANITIZE))),)
BOARD_CFLAGS += -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
endif
BOARD_SRC := boards/posix/board.c
