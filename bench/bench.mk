# Benchmarks (bench/README.md). Never part of `make test`. Included by the
# root Makefile; reuses the mps2-an500 release objects that boards/boards.mk
# builds, and links them with the bench main instead of the product main.

BENCH_OUT := build/bench
BENCH_FW_OBJ := build/mps2-an500/release/obj
BENCH_W2C := build/mps2-an500/release/wasm2c
BENCH_REUSED := $(BENCH_FW_OBJ)/qn.o $(BENCH_FW_OBJ)/qn_api_wasm2c.o \
  $(BENCH_FW_OBJ)/boards/common/qn_wasm_rt.o $(BENCH_FW_OBJ)/boards/common/qn_crc32c.o \
  $(BENCH_FW_OBJ)/boards/common/startup_cm7.o $(BENCH_FW_OBJ)/boards/common/systick_cm7.o \
  $(BENCH_FW_OBJ)/boards/common/uart_ring_cm7.o \
  $(BENCH_FW_OBJ)/boards/mps2-an500/board.o
BENCH_CFLAGS := -std=gnu11 -Wall -Wextra -Werror -O2 -DNDEBUG -g -ffunction-sections -fdata-sections \
  -mcpu=cortex-m7 -mthumb -mfloat-abi=hard -mfpu=fpv5-d16 -ffreestanding -fno-delete-null-pointer-checks \
  -DQN_IRQ_COUNT=32 -DQN_RESET_HZ=25000000u -DWASM_RT_MEMCHECK_SIGNAL_HANDLER=0 \
  -DWASM_RT_USE_STACK_DEPTH_COUNT=1 -DWASM_RT_MAX_CALL_STACK_DEPTH=32 \
  -Iboards/include -Iboards/common -Iboards/mps2-an500 -Ibuild -I$(BENCH_W2C) -I/usr/src/wasm2c -Ibench/firmware

BENCH_OBJS := $(BENCH_OUT)/bench_main.o $(BENCH_OUT)/crc_ref.o

.PHONY: bench-scale
.PHONY: bench bench-c bench-fw bench-paced-fw bench-codec bench-m7 bench-link bench-footprint bench-gateway bench-ber

# The reused objects get no rule here: boards/boards.mk owns them, so the
# product firmware is built first (by its own rules), then the bench image.
bench-fw: ## the M7 bench firmware (build/bench/bench.elf)
	$(MAKE) --no-print-directory PLATFORM=mps2-an500 TARGET=release firmware
	$(MAKE) --no-print-directory $(BENCH_OUT)/bench.elf

# make check: the bench firmware's own C compiled, without the link (its
# wasm2c header comes from the mps2-an500 release build).
bench-c:
	$(MAKE) --no-print-directory PLATFORM=mps2-an500 TARGET=release firmware-c
	$(MAKE) --no-print-directory $(BENCH_OBJS)

$(BENCH_OUT)/%.o: bench/firmware/%.c bench/firmware/crc_ref.h $(BENCH_W2C)/qn_w2c.h build/qn_api.h
	@mkdir -p $(BENCH_OUT)
	arm-none-eabi-gcc $(BENCH_CFLAGS) -c $< -o $@

$(BENCH_OUT)/bench.elf: $(BENCH_OBJS) $(BENCH_REUSED)
	arm-none-eabi-gcc -mcpu=cortex-m7 -mthumb -mfloat-abi=hard -mfpu=fpv5-d16 -nostartfiles -specs=nano.specs \
	  -Wl,--gc-sections -Wl,-Map=$(BENCH_OUT)/bench.map -Lboards/common -Tboards/mps2-an500/mps2-an500.ld \
	  $^ -lc -lm -lgcc -o $@

bench: deps core ## run every benchmark (< 10 min): bench/results.json, bench/RESULTS.md, bench/latency.svg, bench/ber.svg
	$(MAKE) --no-print-directory PLATFORM=stm32h743 TARGET=release firmware
	$(MAKE) --no-print-directory bench-fw bench-paced-fw
	node --expose-gc --import tsx bench/run.ts

# The product firmware with its UART paced to 57600 baud (QEMU's has no
# line rate), in a build root of its own: the link benchmark's emergency-
# under-bulk rounds run on it. bench/link.ts names the same rate and path.
bench-paced-fw:
	$(MAKE) --no-print-directory PLATFORM=mps2-an500 TARGET=release QN_FW_ROOT=build/paced QN_UART_PACE_BAUD=57600 firmware

bench-link: core bench-paced-fw ## link latency and emergency under bulk only (prints JSON)
	$(MAKE) --no-print-directory PLATFORM=mps2-an500 TARGET=release firmware
	node --import tsx bench/link.ts

bench-codec: core ## host codec benchmark only (prints JSON)
	node --expose-gc --import tsx bench/codec.ts

bench-m7: bench-fw ## M7 instruction counts only (prints JSON)
	node --import tsx bench/m7.ts

bench-gateway: core ## gateway throughput only: QN gateway vs mosquitto, QoS 0/1/2 (prints JSON)
	node --import tsx bench/gateway.ts

bench-ber: core ## goodput and p50/p99 latency against bit error rate, QoS 0/1/2, in-process and QEMU: bench/BER.md, ber.json, ber.svg
	$(MAKE) --no-print-directory PLATFORM=mps2-an500 TARGET=release firmware
	node --import tsx bench/ber.ts

bench-scale: core ## fleet scale (issue 18): 100 / 1,000 / 10,000 devices on one gateway's fleet listener, storm and restart: bench/scale.json, scale.svg (< 10 min)
	node --import tsx bench/scale.ts --n 100,1000,10000 --idle-s 10 --restart --out bench/scale.json
