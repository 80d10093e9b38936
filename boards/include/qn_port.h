/* qn_port.h: what a board provides to run the QN firmware.
 *
 * The QN library (libqn.a: the core and its loop, sdk/src) is the same on
 * every board; it reaches the hardware only through these functions. A new board implements each
 * one in boards/<name>/board.c. Rules common to all of them:
 *   1. Nothing here blocks, except qn_port_panic_write and qn_port_exit.
 *   2. Counts are byte counts: 0 means "nothing now, try again later", never
 *      an error. Errors are negative qn_status_t values (qn_abi.h).
 *   3. Everything is statically allocated; a port never calls malloc.
 *   4. Only the UART receive path runs in interrupt context; every function
 *      here is called from the main loop (thread mode) unless it says so.
 */
#ifndef QN_PORT_H
#define QN_PORT_H

#include <stdint.h>
#include "qn_abi.h"

/* ---- Life cycle ---- */

/* Bring up clocks, the monotonic clock, the UART (receive interrupt on) and
 * storage. Returns QN_OK, or a negative status; the firmware then reports
 * it with qn_port_panic_write and stops. */
int32_t qn_port_init(void);

/* Platform name for identity ("mps2-an500", "stm32h743", "posix"). */
const char *qn_port_platform(void);

/* Core clock in Hz, as configured by qn_port_init. */
uint32_t qn_port_clock_hz(void);

/* Called once when the firmware is ready to serve: boards record the boot
 * cost here (mps2-an500: virtual nanoseconds from reset, see board.c). */
void qn_port_ready(void);

/* Non-zero when the firmware should end its main loop and exit (posix:
 * SIGTERM or SIGINT seen). Bare-metal boards return 0. */
int32_t qn_port_stop_requested(void);

/* Reset the system; does not return. Storage survives. ARM: an NVIC
 * system reset (SYSRESETREQ). posix: the process exits with status
 * QN_PORT_EXIT_RESET (75) so whoever runs it restarts it: the same path a
 * power-cut test takes after kill -9. */
void qn_port_reset(void) __attribute__((noreturn));
#define QN_PORT_EXIT_RESET 75

/* End the firmware with an exit status; does not return. QEMU: semihosting
 * exit (status 0 ends QEMU with 0, anything else with 1). Hardware: stop
 * with interrupts off so a debugger finds the state. posix: exit(status). */
void qn_port_exit(int32_t status) __attribute__((noreturn));

/* ---- Time ---- */

/* Microseconds since reset (or process start), monotonic, never wraps in
 * practice (64 bits). Resolution at least 1 ms; ARM boards give 1 us. */
uint64_t qn_port_now_us(void);

/* ---- UART: the link the core's frames travel on ---- */

/* Copy up to max received bytes to dst. Returns the count (0..max);
 * 0 when nothing arrived. Bytes are collected by the receive interrupt
 * into a ring, so the main loop may be late without losing bytes until
 * the ring overflows (counted: qn_port_uart_overruns). A board may hold
 * back the start of a frame still arriving (the bytes after the last
 * 0x00) while its ring is less than half full: the ARM boards do, so the
 * core gets each frame in one qn_core_rx call; posix hands over what the pty
 * gave. */
int32_t qn_port_uart_read(uint8_t *dst, int32_t max);

/* How many bytes qn_port_uart_write would accept right now. */
int32_t qn_port_uart_tx_space(void);

/* Queue up to len bytes for transmission. Returns the count accepted
 * (0..len); the rest must be offered again later. */
int32_t qn_port_uart_write(const uint8_t *src, int32_t len);

/* Move queued transmit bytes to the hardware; called every loop turn. */
void qn_port_uart_service(void);

/* Receive bytes lost because the ring was full, since boot. */
uint32_t qn_port_uart_overruns(void);

/* Nothing to do: the board may sleep until there is. It returns when a
 * whole received frame waits (its 0x00 delimiter arrived) or many bytes
 * do, when bytes wait to be sent, or after at most about a millisecond
 * (the clock tick, for the core's timers). ARM boards: WFI, the main loop
 * does not run for each received byte; posix: poll(2) with a 1 ms
 * timeout. */
void qn_port_idle(void);

/* Blocking, polled write of a NUL-terminated string that bypasses the
 * transmit ring. For fault and boot-failure reports only: callable from a
 * fault handler with interrupts off. */
void qn_port_panic_write(const char *s);

/* ---- Storage: a reserved region for the journal ----
 * A flat region of qn_port_storage_size() bytes, made of erase sectors of
 * qn_port_storage_sector() bytes. It behaves like NOR flash on every board:
 * erase sets a sector to 0xFF; a write can only clear bits, and offset and
 * length must be multiples of qn_port_storage_unit() (32 on the STM32H743,
 * whose flash programs 256-bit words with ECC: there each unit may be
 * written only once between erases). Each call returns QN_OK,
 * QN_ERR_ARG (out of range or misaligned, nothing done) or QN_ERR_STORAGE
 * (the hardware reported a failure; the region may be partly written).
 * The core's journal uses the whole region as two halves, so the size is
 * an even number of sectors:
 *   mps2-an500  16 KiB, 4 KiB sectors, unit 1 (top of QEMU's code region)
 *   stm32h743   256 KiB, 128 KiB sectors, unit 32 (bank 2 sectors 6, 7)
 *   posix       64 KiB file, 4 KiB sectors, unit 1 */
uint32_t qn_port_storage_size(void);
uint32_t qn_port_storage_sector(void);
uint32_t qn_port_storage_unit(void);
int32_t qn_port_storage_read(uint32_t off, uint8_t *dst, uint32_t len);
/* Durable when it returns: after a reset or power cut the bits are there
 * (flash: programmed; posix: written and fdatasync'ed). */
int32_t qn_port_storage_write(uint32_t off, const uint8_t *src, uint32_t len);
/* Erase the sector that starts at off (a multiple of the sector size);
 * durable when it returns, like a write. */
int32_t qn_port_storage_erase(uint32_t off);

/* ---- Entropy: handshake nonces and backoff jitter ----
 * Fill dst with len unpredictable bytes. Returns QN_OK, or QN_ERR_IO when
 * the source failed (nothing usable in dst: the caller must not use it).
 * Never blocks for long: a source that does not become ready within a
 * bounded wait is a failure, not a hang.
 *   stm32h743: the RNG peripheral (true random, clocked by HSI48), checked
 *              for seed and clock errors (SECS, CECS) before each word.
 *   posix:     getrandom(2), the kernel's CSPRNG.
 *   mps2-an500 (QEMU): there is no RNG in the model. The bytes come from a
 *              mixer over SysTick readings, the millisecond count and a boot
 *              counter kept next to the storage. That makes nonces differ
 *              from boot to boot and call to call, but under -icount the
 *              sequence is reproducible: NOT SECURE, for emulation only. */
int32_t qn_port_entropy(uint8_t *dst, uint32_t len);

/* ---- Firmware image (identity: image CRC) ----
 * Where the firmware image sits in memory: exactly the bytes
 * `objcopy -O binary` writes to qn.bin (vector table, code, constants,
 * .data initialisers), so its CRC-32C can be checked against the build's
 * image.json. Returns 1 with start and len set, or 0 when the board has no
 * such image (posix: a process, not a flash image). */
int32_t qn_port_image(const uint8_t **start, uint32_t *len);

/* ---- Measurement ---- */

/* Main stack high-water mark (bytes ever used) and its size, from stack
 * painting. Returns 1 when measured, 0 when the board cannot measure
 * (posix): the firmware then reports nothing rather than a guess. */
int32_t qn_port_stack(uint32_t *used, uint32_t *size);

#endif /* QN_PORT_H */
