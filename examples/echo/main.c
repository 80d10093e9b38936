/* The echo application: what the selftest and the throughput tests talk
 * to. Each QoS 0/1 DATA message goes back on its channel with its QoS,
 * priority, codec and trace context; QoS 2 messages are consumed (the
 * selftest checks exactly-once through a digest in the core). A device
 * server with the build's auth mode and pre-shared key (qn_fw_config.h,
 * generated from QN_AUTH_MODE and QN_PSK_FILE).
 */
#include "qn.h"
#include "qn_fw_config.h"

static const uint8_t psk[QN_PSK_LEN] = {QN_PSK_BYTES};

/* Echoes dropped because no session was up (QN_ERR_LINK_DOWN) or refused
 * for good; visible to a debugger or QEMU's monitor. */
volatile uint32_t echo_dropped;

static int on_message(const qn_message_t *msg, void *user) {
  (void)user;
  if (msg->qos == QN_QOS_EXACTLY_ONCE) return QN_MSG_DONE;
  int64_t r = qn_publish_msg(msg); /* in place: the payload is not copied */
  if (qn_would_block(r)) return QN_MSG_AGAIN;
  if (r < 0) echo_dropped++;
  return QN_MSG_DONE;
}

int main(void) {
  const qn_config_t cfg = {
      QN_ROLE_SERVER, (qn_auth_mode_t)QN_AUTH_MODE, psk, sizeof psk, QN_KEY_ID, 0, on_message, NULL, NULL};
  int32_t st = qn_start(&cfg);
  if (st != QN_OK) qn_fatal("qn_start refused (status in hex)", (uint32_t)st);
  for (;;)
    if (!qn_poll()) qn_idle();
}
