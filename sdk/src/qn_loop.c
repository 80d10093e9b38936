/* The QN loop: the core's life on a board. qn_start brings up the port and
 * a core configured from the application's qn_config_t; qn_poll runs one
 * turn (bytes in, the clock, messages to the application, bytes out). A
 * trap is a bug in the core: it is counted, a fresh core is started (its
 * state after a trap cannot be trusted) and the peer is told with T_ERROR
 * carrying the trap code; the frames the old core held are lost and the
 * peer's retransmission covers them. Every protocol rule lives in the
 * core; this file only moves bytes, time and settings.
 */
#include <string.h>
#include "qn.h"
#include "qn_api.h"
#include "qn_lib.h"
#include "qn_port.h"
#include "qn_wasm_rt.h"
#ifdef QN_POSIX_TRAP_HOOK
#include "qn_probe.h"
/* posix test hook: makes the core trap on demand (see boards/posix). */
int32_t qn_posix_trap_requested(void);
#endif

qn_config_t qn_lib_cfg;
/* The one trap target: armed by whichever library call enters the core
 * from the application (qn_start, qn_poll, qn_publish outside a
 * callback), in that call's frame, and disarmed before it returns. */
qn_trap_target_t qn_lib_trap;
/* Traps caught since boot. Kept outside the core: a trap re-instantiates
 * the core, which forgets its own count. */
static uint32_t traps;
/* Session state last reported to on_link. */
static int link_up;
/* Status of the last journal open (QN_OK, or why QoS 2 is unavailable)
 * and how long it took (part of the boot cost; `make bootcost` shows it).
 * Read by the QEMU tests through the monitor. */
volatile int32_t qn_journal_status;
volatile uint32_t qn_journal_open_us;
/* qn_core_rx calls made with received bytes, since boot: with frames
 * handed over whole (qn_port_uart_read) about one per frame. Read by the
 * QEMU tests through the monitor. */
volatile uint32_t qn_main_rx_calls;

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

/* Report a status to the peer as T_ERROR {1: status} (PROTOCOL.md). */
static void send_status_error(int32_t status) {
  qn_core_msg_reset();
  if (qn_core_msg_add(1, QN_K_SINT, (uint64_t)(int64_t)status, 0) != QN_OK) return;
  int32_t n = qn_core_encode(QN_CODEC_PB, qn_core_app_buf() + QN_HEADER_SIZE, qn_core_max_payload());
  if (n < 0) return;
  qn_core_send(QN_T_ERROR, QN_PRIO_CONTROL, QN_CODEC_PB, 0, qn_core_next_packet(), n);
}

/* Role, auth mode, key and key id, then the journal. The key is staged in
 * the application area for the moment of qn_core_set_key and wiped after. */
static int32_t configure(const qn_config_t *cfg) {
  int32_t st = qn_core_config_set(QN_CFG_ROLE, (uint32_t)cfg->role);
  if (st == QN_OK) st = qn_core_config_set(QN_CFG_AUTH, (uint32_t)cfg->auth);
  if (st == QN_OK && cfg->key_len > 0) {
    if (!cfg->key || cfg->key_len > (size_t)qn_core_max_payload()) return QN_ERR_ARG;
    volatile uint8_t *stage = qn_core_mem() + qn_core_app_buf();
    for (size_t i = 0; i < cfg->key_len; i++) stage[i] = cfg->key[i];
    st = qn_core_set_key(qn_core_app_buf(), (int32_t)cfg->key_len);
    for (size_t i = 0; i < cfg->key_len; i++) stage[i] = 0; /* volatile: not optimised away */
  }
  if (st != QN_OK) return st;
  if (cfg->key_id) qn_core_set_key_id(cfg->key_id); /* 0: none, as a core starts */
  uint32_t size = cfg->journal_bytes ? cfg->journal_bytes : qn_port_storage_size();
  if (size > qn_port_storage_size()) return QN_ERR_ARG;
  uint64_t t0 = qn_port_now_us();
  qn_journal_status = qn_core_journal_open(size);
  qn_journal_open_us = (uint32_t)(qn_port_now_us() - t0);
  if (qn_journal_status != QN_OK) {
    /* The status as a number: qn_status_str's texts would put every
     * status message into each firmware; the peer gets the status in
     * T_ERROR and names it. */
    char num[] = "-0x00000000";
    put_u32(num + 3, (uint32_t)-qn_journal_status);
    qn_port_panic_write("\r\nqn: journal: status ");
    qn_port_panic_write(num);
    qn_port_panic_write(" (QoS 2 unavailable)\r\n");
    send_status_error(qn_journal_status);
  }
  return QN_OK;
}

/* Instantiate, initialise and configure a core. A trap here, or static
 * data larger than the memory the build gave it, is a build error. */
static int32_t core_start(void) {
  int code = QN_TRY(qn_lib_trap);
  if (code != 0) qn_fatal("core trapped while starting (linear memory too small?)", (uint32_t)code);
  int32_t st = qn_core_runtime_init();
  if (st == QN_OK && qn_core_heap_base() > qn_core_mem_size())
    qn_fatal("core needs more linear memory than built in: heap_base", qn_core_heap_base());
  if (st == QN_OK) st = qn_core_init();
  if (st == QN_OK) {
    qn_core_tick((int64_t)qn_port_now_us());
    qn_lib_device_info(traps);
    st = configure(&qn_lib_cfg);
  }
  qn_wasm_rt_disarm();
  link_up = 0;
  return st;
}

int32_t qn_start(const qn_config_t *cfg) {
  if (!cfg) return QN_ERR_ARG;
  qn_lib_cfg = *cfg;
  int32_t st = qn_port_init();
  if (st == QN_OK) st = core_start();
  if (st != QN_OK) return st;
  qn_core_event(QN_EV_BOOT, 0);
  qn_port_ready();
  return QN_OK;
}

void qn_lib_recover(int code) {
  traps++;
  qn_lib_messages_reset();
  if (core_start() != QN_OK) qn_fatal("core refused its configuration after a trap", (uint32_t)code);
  if (QN_TRY(qn_lib_trap) != 0) qn_fatal("core trapped again while recovering", (uint32_t)code);
  qn_core_event(QN_EV_TRAP, code); /* into the device event log (journalled) */
  qn_core_mem()[qn_core_app_buf() + QN_HEADER_SIZE] = (uint8_t)code;
  qn_core_send(QN_T_ERROR, QN_PRIO_CONTROL, QN_CODEC_NONE, 0, qn_core_next_packet(), 1);
  qn_wasm_rt_disarm();
}

/* One turn; returns non-zero when it did work or work is waiting. */
static int turn(void) {
  int busy = 0;
  uint8_t *mem = qn_core_mem();
  uint64_t now = qn_port_now_us();
  qn_core_tick((int64_t)now);

  int32_t n = qn_port_uart_read(mem + qn_core_rx_buf(), qn_core_rx_cap());
  if (n > 0) {
    qn_main_rx_calls++;
    qn_core_rx(n);
    busy = 1;
  }
  int up = qn_core_session_stat(QN_SESSION_STAT_STATE) == QN_SESSION_UP;
  if (up != link_up) {
    link_up = up;
    if (qn_lib_cfg.on_link) qn_lib_cfg.on_link(up, qn_lib_cfg.user);
  }
  if (qn_lib_messages_service()) busy = 1;
  if (qn_lib_device_image_service()) busy = 1;

  int32_t room = qn_port_uart_tx_space();
  if (room > qn_core_tx_cap()) room = qn_core_tx_cap();
  if (room > 0) {
    int32_t k = qn_core_tx_pull(room);
    if (k > 0) {
      qn_port_uart_write(mem + qn_core_tx_buf(), k); /* accepts all: k <= space */
      busy = 1;
    }
  }
  qn_port_uart_service();
  qn_lib_device_stack_service((uint32_t)now);
  return busy || qn_lib_messages_held() || qn_core_tx_in_flight() > 0;
}

int qn_poll(void) {
  int code = QN_TRY(qn_lib_trap);
  if (code != 0) {
    qn_lib_recover(code);
    return 1;
  }
  if (qn_port_stop_requested()) {
    qn_wasm_rt_disarm();
    qn_port_exit(0);
  }
#ifdef QN_POSIX_TRAP_HOOK
  /* An out-of-range CRC request: a real trap through the real runtime. */
  if (qn_posix_trap_requested()) qn_core_crc32c(qn_core_mem_size(), 16);
#endif
  int busy = turn();
  qn_wasm_rt_disarm();
  return busy;
}

void qn_idle(void) { qn_port_idle(); }

int qn_link_up(void) { return link_up; }

uint64_t qn_now_us(void) { return qn_port_now_us(); }
