/* A test application of qn.h's contract, built against an SDK folder for
 * the posix board (sdk/test/api-posix.test.ts drives it over its pty). It
 * prints what it sees on stdout, one "name value" line each:
 *   arg-null-config, arg-null-data, arg-oversize, publish-no-session: the
 *     statuses of calls that must be refused;
 *   link <0|1>: the on_link callback;
 *   callback-publish <status>: a publish of other data from inside the
 *     callback, before it hands the message back (every message);
 *   held-publish <status>: a publish of other data while a message waits
 *     for redelivery (once);
 *   delivered <id> <times>: each time the callback sees a message.
 * Each DATA message on channel 1 is handed back once with QN_MSG_AGAIN,
 * then echoed in place with qn_publish_msg: the echo shows the message
 * came back unchanged after the publishes of other data (channel 9). */
#include <stdio.h>
#include "qn.h"
#include "qn_fw_config.h"

static const uint8_t psk[QN_PSK_LEN] = {QN_PSK_BYTES};
static uint32_t again_id, held, held_reported;
static unsigned times;

static void say(const char *name, long v) {
  printf("%s %ld\n", name, v);
  fflush(stdout);
}

static void on_link(int up, void *user) {
  (void)user;
  say("link", up);
}

static int on_message(const qn_message_t *msg, void *user) {
  (void)user;
  if (msg->channel != 1) return QN_MSG_DONE;
  times = msg->id == again_id ? times + 1 : 1;
  printf("delivered %lu %u\n", (unsigned long)msg->id, times);
  fflush(stdout);
  if (msg->id != again_id) {
    say("callback-publish", (long)qn_publish(9, QN_QOS_AT_MOST_ONCE, QN_PRIO_BULK, "from the callback", 17));
    again_id = msg->id;
    held = 1;
    return QN_MSG_AGAIN;
  }
  held = 0;
  int64_t r = qn_publish_msg(msg);
  return qn_would_block(r) ? QN_MSG_AGAIN : QN_MSG_DONE;
}

int main(void) {
  static uint8_t big[QN_MAX_PAYLOAD + 1];
  say("arg-null-config", qn_start(NULL));
  const qn_config_t cfg = {
      QN_ROLE_SERVER, (qn_auth_mode_t)QN_AUTH_MODE, psk, sizeof psk, QN_KEY_ID, 0, on_message, on_link, NULL};
  int32_t st = qn_start(&cfg);
  if (st != QN_OK) qn_fatal("qn_start refused (status in hex)", (uint32_t)st);
  say("arg-null-data", (long)qn_publish(1, QN_QOS_AT_MOST_ONCE, QN_PRIO_BULK, NULL, 5));
  say("arg-oversize", (long)qn_publish(1, QN_QOS_AT_MOST_ONCE, QN_PRIO_BULK, big, sizeof big));
  say("publish-no-session", (long)qn_publish(1, QN_QOS_AT_LEAST_ONCE, QN_PRIO_BULK, "x", 1));
  for (;;) {
    if (held && !held_reported) {
      held_reported = 1;
      say("held-publish", (long)qn_publish(9, QN_QOS_AT_MOST_ONCE, QN_PRIO_BULK, "other", 5));
    }
    if (!qn_poll()) qn_idle();
  }
}
