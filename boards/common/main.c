/* The QN firmware: the same main loop on every board. It moves bytes, time
 * and messages between the board (qn_port.h) and the core (qn_api.h); every
 * protocol rule lives in the core. The demo application echoes each DATA
 * frame back to its sender, which is what the throughput tests measure.
 */
#include <string.h>
#include "qn_api.h"
#include "qn_port.h"
#include "qn_wasm_rt.h"

#define T_DATA 0x10
#define T_ERROR 0x7F
#define FLAGS_CONTROL 0x01
/* How often the stack high-water mark is handed to the core. */
#define STACK_REPORT_US 10000u

/* Traps caught since boot. Kept outside the core: a trap re-instantiates
 * the core, which forgets its own count. */
static uint32_t traps;
static uint32_t last_stack_report;
/* A DATA frame popped from the inbox but not yet echoed (the outbox was
 * full): it stays in the application area and is retried. */
static struct { int32_t active, flags, codec, channel, len; uint32_t packet; } echo;

static void put_u32(char *p, uint32_t v) {
  static const char hex[] = "0123456789abcdef";
  for (int i = 7; i >= 0; i--, v >>= 4) p[i] = hex[v & 15];
}

void qn_fatal(const char *why, uint32_t code) {
  char num[] = "0x00000000\r\n";
  put_u32(num + 2, code);
  qn_port_panic_write("\r\nqn: fatal: ");
  qn_port_panic_write(why);
  qn_port_panic_write(" ");
  qn_port_panic_write(num);
  qn_port_exit(2);
}

/* Tell the core about the board. The name must be in linear memory: it is
 * staged in the application area, which is free at this point. */
static void board_info(void) {
  const char *name = qn_port_platform();
  int32_t len = (int32_t)strlen(name);
  memcpy(qn_mem() + qn_app_buf(), name, (size_t)len);
  qn_board_info(qn_port_clock_hz(), qn_mem_size(), qn_app_buf(), len);
  for (uint32_t i = 0; i < traps; i++) qn_board_trap();
}

/* Instantiate and initialise the core; a trap here or static data larger
 * than the memory the build gave it is a build error: report and stop. */
static void core_start(void) {
  static qn_trap_target_t t;
  int code = QN_TRY(t);
  if (code != 0) qn_fatal("core trapped while starting (linear memory too small?)", (uint32_t)code);
  int32_t st = qn_runtime_init();
  if (st != QN_OK) qn_fatal(qn_status_str(st), (uint32_t)st);
  if (qn_heap_base() > qn_mem_size()) qn_fatal("core needs more linear memory than built in: heap_base", qn_heap_base());
  st = qn_init();
  if (st != QN_OK) qn_fatal(qn_status_str(st), (uint32_t)st);
  board_info();
  qn_wasm_rt_disarm();
}

/* The demo application: echo DATA frames with their own header fields. */
static void app_service(void) {
  uint8_t *app = qn_mem() + qn_app_buf();
  if (!echo.active) {
    int32_t n = qn_inbox_pop();
    if (n <= 0) return;
    if (app[1] != T_DATA) return; /* only DATA is the demo's business */
    echo.flags = app[2];
    echo.codec = app[3];
    echo.channel = app[4];
    echo.len = app[6] | (app[7] << 8);
    echo.packet = (uint32_t)app[12] | (uint32_t)app[13] << 8 | (uint32_t)app[14] << 16 | (uint32_t)app[15] << 24;
    echo.active = 1;
  }
  /* The payload is still at app + 24: qn_send rewrites only the header. */
  int32_t st = qn_send(T_DATA, echo.flags, echo.codec, echo.channel, echo.packet, echo.len);
  if (st != QN_ERR_POOL_EMPTY && st != QN_ERR_RING_FULL) echo.active = 0; /* sent, or refused for good */
}

/* One turn of the loop; returns non-zero when it did any work. */
static int loop_once(void) {
  int busy = 0;
  uint8_t *mem = qn_mem();
  uint64_t now = qn_port_now_us();
  qn_tick((int64_t)now);

  int32_t n = qn_port_uart_read(mem + qn_rx_buf(), qn_rx_cap());
  if (n > 0) {
    qn_rx(n);
    busy = 1;
  }
  app_service();

  int32_t room = qn_port_uart_tx_space();
  if (room > qn_tx_cap()) room = qn_tx_cap();
  if (room > 0) {
    int32_t k = qn_tx_pull(room);
    if (k > 0) {
      qn_port_uart_write(mem + qn_tx_buf(), k); /* accepts all: k <= space */
      busy = 1;
    }
  }
  qn_port_uart_service();

  if ((uint32_t)now - last_stack_report >= STACK_REPORT_US) {
    uint32_t used, size;
    if (qn_port_stack(&used, &size)) qn_board_stack(used, size);
    last_stack_report = (uint32_t)now;
  }
  return busy || echo.active || qn_tx_in_flight() > 0;
}

/* A trap is a bug in the core: count it, start a fresh core (its state
 * after a trap cannot be trusted) and tell the peer with T_ERROR carrying
 * the trap code. The frames the old core held are lost; the peer's own
 * retransmission covers them. */
static void recover(int code) {
  traps++;
  echo.active = 0;
  core_start();
  uint8_t *app = qn_mem() + qn_app_buf();
  app[qn_header_size()] = (uint8_t)code;
  qn_send(T_ERROR, FLAGS_CONTROL, 0, 0, qn_next_packet(), 1);
}

#ifdef QN_POSIX_TRAP_HOOK
/* posix test hook: makes the core trap on demand (see boards/posix). */
int32_t qn_posix_trap_requested(void);
#endif

int main(void) {
  int32_t st = qn_port_init();
  if (st != QN_OK) qn_fatal(qn_status_str(st), (uint32_t)st);
  core_start();
  qn_port_ready();

  static qn_trap_target_t t;
  for (;;) {
    int code = QN_TRY(t);
    if (code != 0) {
      recover(code);
      continue;
    }
    while (!qn_port_stop_requested()) {
#ifdef QN_POSIX_TRAP_HOOK
      /* An out-of-range CRC request: a real trap through the real runtime. */
      if (qn_posix_trap_requested()) qn_crc32c(qn_mem_size(), 16);
#endif
      if (!loop_once()) qn_port_idle();
    }
    break;
  }
  qn_wasm_rt_disarm();
  qn_port_exit(0);
}
