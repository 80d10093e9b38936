/* qn.h: the QN application API. The one header an application includes.
 *
 *   qn_config_t cfg = {QN_ROLE_SERVER, QN_AUTH_FRAME_MAC, key, sizeof key, key_id, 0, on_msg, on_link, NULL};
 *   if (qn_start(&cfg) != QN_OK) ...;
 *   for (;;) { app_work(); if (!qn_poll()) qn_idle(); }
 *
 * Threads and interrupts: every qn_* call, and every callback, runs on the
 * one thread (or the main loop) that calls qn_poll; none may be called
 * from an interrupt handler or another task. The only interrupt code is
 * the port's UART receive handler (qn_port.h), which never calls in here.
 * An RTOS application gives QN one task and passes data to it in its own
 * queues.
 *
 * Names: the application API is qn_<verb>; the core's raw exports, which
 * take offsets into its linear memory, are qn_core_* in qn_api.h (and the
 * test probes qn_probe.h), which applications never include; the integers
 * (QN_QOS_*, QN_PRIO_*, QN_CODEC_*, QN_ERR_*) and qn_status_str come from
 * the generated qn_abi.h. Statuses are negative qn_status_t values.
 */
#ifndef QN_H
#define QN_H

#include <stddef.h>
#include <stdint.h>
#include "qn_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A received message, or one to send with qn_publish_msg. The bytes it
 * points to belong to QN: valid until the callback returns (QN_MSG_DONE),
 * or until its redelivery (QN_MSG_AGAIN); publishing meanwhile does not
 * touch them. */
typedef struct {
  uint8_t channel;
  uint8_t qos;          /* qn_qos_t */
  uint8_t prio;         /* qn_prio_t */
  uint8_t codec;        /* qn_codec_t */
  uint32_t id;          /* packet id (0 for QoS 0) */
  const uint8_t *trace; /* QN_TRACE_BYTES of W3C trace context, or NULL */
  const uint8_t *data;  /* payload, after the trace context */
  size_t len;           /* payload bytes (0..QN_MAX_PAYLOAD, less the context) */
} qn_message_t;

/* What a message callback returns. */
enum { QN_MSG_DONE = 0, QN_MSG_AGAIN = 1 };

/* A DATA message arrived. Return QN_MSG_DONE when handled; QN_MSG_AGAIN
 * (say, qn_publish would block) to get the same message again at the next
 * qn_poll, before any other. The callback may publish (a reply, a log
 * line): the message stays as it was. QoS 2 messages are delivered once,
 * across resets (the journal): acting on one is final. */
typedef int (*qn_on_message_fn)(const qn_message_t *msg, void *user);
/* The session went up (1) or down (0). */
typedef void (*qn_on_link_fn)(int up, void *user);

typedef struct {
  qn_role_t role;              /* QN_ROLE_SERVER for a device */
  qn_auth_mode_t auth;         /* QN_AUTH_NONE, _HANDSHAKE or _FRAME_MAC */
  const uint8_t *key;          /* pre-shared key (1..32 bytes); kept: a core restart after a trap sets it again */
  size_t key_len;              /* 0 only with QN_AUTH_NONE */
  uint32_t key_id;             /* the key's id in the gateway's registry, sent in the handshake: a fleet
                                  listener finds the device's key by it; 0: none (a port of its own) */
  uint32_t journal_bytes;      /* QoS 2 journal storage; 0: the port's whole region */
  qn_on_message_fn on_message; /* may be NULL: DATA is then dropped */
  qn_on_link_fn on_link;       /* may be NULL */
  void *user;                  /* passed to both callbacks */
} qn_config_t;

/* Bring up the board (qn_port_init) and the core with cfg. QN_OK, or the
 * status of what refused (the board, a setting, the key). A journal that
 * does not open is not fatal: QoS 2 then answers QN_ERR_NO_JOURNAL. */
int32_t qn_start(const qn_config_t *cfg);

/* One loop turn: bytes in, timers, received messages to the callback,
 * bytes out. Returns 1 when it did work (call again), 0 when idle. */
int qn_poll(void);

/* Sleep until there is work (the port's qn_port_idle). */
void qn_idle(void);

/* Send len bytes (QN_CODEC_NONE) on channel. Returns the message id (0 for
 * QoS 0) or a negative status: QN_ERR_WINDOW, QN_ERR_POOL_EMPTY and
 * QN_ERR_RING_FULL mean try again later (qn_would_block); QN_ERR_LINK_DOWN
 * no session; QN_ERR_OVERSIZE past QN_MAX_PAYLOAD. The data is copied.
 * From a callback, or while a message is held for redelivery, the held
 * message is kept aside on the stack during the call (one frame,
 * QN_HEADER_SIZE + QN_MAX_PAYLOAD bytes) and put back. */
int64_t qn_publish(uint8_t channel, qn_qos_t qos, qn_prio_t prio, const void *data, size_t len);

/* qn_publish with every field of msg (codec and trace context too; id is
 * ignored). Passing a received message back sends it without a copy. */
int64_t qn_publish_msg(const qn_message_t *msg);

/* Non-zero for a status that means "no room now, try again later". */
static inline int qn_would_block(int64_t r) {
  return r == QN_ERR_WINDOW || r == QN_ERR_POOL_EMPTY || r == QN_ERR_RING_FULL;
}

/* 1 while a session is up. */
int qn_link_up(void);

/* Microseconds since reset, monotonic (the port's clock). */
uint64_t qn_now_us(void);

/* Report why the application cannot go on (the port's panic output) and
 * stop the board; does not return. */
void qn_fatal(const char *why, uint32_t code) __attribute__((noreturn));

/* const char *qn_status_str(int32_t status): text of a status (qn_abi.h). */

#ifdef __cplusplus
}
#endif

#endif /* QN_H */
