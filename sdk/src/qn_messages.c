/* Messages between the core's application area and the application: each
 * received DATA frame becomes a qn_message_t for the on_message callback,
 * and qn_publish stages a payload where the core sends it from. The
 * application area (one frame: header, then payload) is the only buffer:
 * a message the callback is looking at, or one held for redelivery, stays
 * there, so other data published meanwhile is staged over a copy of it
 * kept on the stack and the message put back once the core has taken the
 * frame. RESET_REQ (only ever delivered inside an authenticated session:
 * the core checks) resets the board.
 */
#include <string.h>
#include "qn.h"
#include "qn_api.h"
#include "qn_lib.h"
#include "qn_port.h"
#include "qn_wasm_rt.h"

static qn_message_t held;
static int holding;

static uint8_t *app_area(void) { return qn_core_mem() + qn_core_app_buf(); }

int qn_lib_messages_held(void) { return holding; }
void qn_lib_messages_reset(void) { holding = 0; }

/* The popped frame's header into held; 0 for a frame that is not DATA. */
static int take(const uint8_t *app) {
  if (app[QN_H_TYPE] == QN_T_RESET_REQ) qn_port_reset();
  if (app[QN_H_TYPE] != QN_T_DATA) return 0; /* the core answers everything else */
  uint8_t flags = app[QN_H_FLAGS];
  const uint8_t *pay = app + QN_HEADER_SIZE;
  size_t len = (size_t)(app[QN_H_LENGTH] | app[QN_H_LENGTH + 1] << 8);
  held.channel = app[QN_H_CHANNEL];
  held.qos = (uint8_t)((flags & QN_F_QOS_MASK) >> QN_F_QOS_SHIFT);
  held.prio = flags & QN_F_PRIO_MASK;
  held.codec = app[QN_H_CODEC];
  held.id = (uint32_t)app[QN_H_PACKET] | (uint32_t)app[QN_H_PACKET + 1] << 8 | (uint32_t)app[QN_H_PACKET + 2] << 16 |
            (uint32_t)app[QN_H_PACKET + 3] << 24;
  /* The core refuses a TRACE frame shorter than its context. */
  int traced = (flags & QN_F_TRACE) && len >= QN_TRACE_BYTES;
  held.trace = traced ? pay : NULL;
  held.data = traced ? pay + QN_TRACE_BYTES : pay;
  held.len = traced ? len - QN_TRACE_BYTES : len;
  return 1;
}

int qn_lib_messages_service(void) {
  if (!holding) {
    if (qn_core_inbox_pop() <= 0) return 0;
    if (!take(app_area()) || !qn_lib_cfg.on_message) return 1;
    holding = 1;
  }
  /* A trap inside the callback (in qn_publish) longjmps past this line;
   * the restart clears holding. */
  if (qn_lib_cfg.on_message(&held, qn_lib_cfg.user) != QN_MSG_AGAIN) holding = 0;
  return 1;
}

/* Stage msg in the area and hand it to the core. */
static int64_t send_staged(const qn_message_t *m, int in_place) {
  size_t ctx = m->trace ? QN_TRACE_BYTES : 0;
  uint8_t *pay = app_area() + QN_HEADER_SIZE;
  if (!in_place) {
    if (m->len) memmove(pay + ctx, m->data, m->len);
    if (ctx) memmove(pay, m->trace, ctx);
  }
  int32_t len = (int32_t)(m->len + ctx);
  /* Inside qn_poll (a callback) its target covers this call; from the
   * application's own code this call arms the target itself. */
  const int arm = !qn_wasm_rt_armed();
  if (arm) {
    int code = QN_TRY(qn_lib_trap);
    if (code != 0) {
      qn_lib_recover(code);
      return QN_ERR_TRAP;
    }
  }
  int64_t r = ctx ? qn_core_publish_traced(m->channel, m->qos, m->prio, m->codec, len)
                  : qn_core_publish(m->channel, m->qos, m->prio, m->codec, len);
  if (arm) qn_wasm_rt_disarm();
  return r;
}

/* Other data while a message is held: the held frame waits on the stack
 * (only on this path) and goes back once the core has copied the new
 * frame out of the area, so the callback sees it unchanged. A trap
 * restarts the core and drops the held message (qn_lib_recover), and then
 * there is nothing to put back. */
static __attribute__((noinline)) int64_t send_over_held(const qn_message_t *m) {
  uint8_t saved[QN_HEADER_SIZE + QN_MAX_PAYLOAD];
  const uint8_t *area = app_area();
  size_t n = QN_HEADER_SIZE + (size_t)(area[QN_H_LENGTH] | area[QN_H_LENGTH + 1] << 8);
  if (n > sizeof saved) n = sizeof saved;
  memcpy(saved, area, n);
  int64_t r = send_staged(m, 0);
  if (holding) memcpy(app_area(), saved, n);
  return r;
}

int64_t qn_publish_msg(const qn_message_t *m) {
  if (!m || (m->len > 0 && !m->data)) return QN_ERR_ARG;
  size_t ctx = m->trace ? QN_TRACE_BYTES : 0;
  if (m->len > (size_t)qn_core_max_payload() - ctx) return QN_ERR_OVERSIZE;
  uint8_t *pay = app_area() + QN_HEADER_SIZE;
  int in_place = m->data == pay + ctx && (!ctx || m->trace == pay);
  return holding && !in_place ? send_over_held(m) : send_staged(m, in_place);
}

int64_t qn_publish(uint8_t channel, qn_qos_t qos, qn_prio_t prio, const void *data, size_t len) {
  qn_message_t m = {channel, (uint8_t)qos, (uint8_t)prio, QN_CODEC_NONE, 0, NULL, (const uint8_t *)data, len};
  return qn_publish_msg(&m);
}
