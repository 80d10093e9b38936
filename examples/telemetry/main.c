/* The telemetry example: a sensor reading every 100 ms at QoS 1, an
 * emergency frame when the input line fires, and a setpoint applied when
 * a command arrives at QoS 2 (exactly once, across resets). A device
 * server with the build's auth mode and key (qn_fw_config.h). Channels and
 * payloads: telemetry.h.
 *
 * A reading or an emergency that cannot go now (the window is full) stays
 * pending and goes at a later turn; with no session a reading is dropped
 * (the next one is newer) but an emergency waits for the link.
 */
#include <string.h>
#include "qn.h"
#include "qn_fw_config.h"
#include "telemetry.h"

static const uint8_t psk[QN_PSK_LEN] = {QN_PSK_BYTES};

static struct {
  int32_t setpoint_mc;      /* applied setpoint, milli-degrees C */
  uint32_t seq;             /* readings taken */
  uint32_t refused;         /* setpoint commands refused (bad text or range) */
  uint32_t inputs;          /* input events seen */
  volatile uint32_t raised; /* input events raised (an interrupt may write) */
  uint64_t next_us;         /* when the next reading is due */
  int reading_pending, emergency_pending;
  char reading[64];
  size_t reading_len;
} app = {.setpoint_mc = TELEMETRY_SETPOINT_START};

/* The input line fired: called by a button's interrupt handler on a real
 * board, by the message handler on QEMU. Only increments a counter. */
void input_raise(void) { app.raised++; }

/* Decimal text of v at p; returns the end. */
static char *put_int(char *p, int32_t v) {
  char tmp[11];
  uint32_t u = v < 0 ? 0u - (uint32_t)v : (uint32_t)v;
  size_t n = 0;
  if (v < 0) *p++ = '-';
  do tmp[n++] = (char)('0' + u % 10);
  while ((u /= 10) != 0);
  while (n) *p++ = tmp[--n];
  return p;
}

static char *put_str(char *p, const char *s) {
  while (*s) *p++ = *s++;
  return p;
}

/* A decimal integer in [min, max] from len bytes; 0 when it is not one. */
static int parse_int(const uint8_t *s, size_t len, int32_t min, int32_t max, int32_t *out) {
  size_t i = 0;
  int neg = len > 0 && s[0] == '-';
  int64_t v = 0;
  if (neg) i++;
  if (i == len || len > 12) return 0;
  for (; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return 0;
    v = v * 10 + (s[i] - '0');
  }
  if (neg) v = -v;
  if (v < min || v > max) return 0;
  *out = (int32_t)v;
  return 1;
}

/* The simulated sensor: the setpoint with a small ripple. A real board
 * reads its ADC or I2C sensor here. */
static int32_t sensor_read(uint32_t seq) { return app.setpoint_mc + ((int32_t)(seq % 8) - 4) * 25; }

static int on_message(const qn_message_t *msg, void *user) {
  (void)user;
  int32_t sp;
  switch (msg->channel) {
  case TELEMETRY_CH_SETPOINT:
    if (msg->qos == QN_QOS_EXACTLY_ONCE &&
        parse_int(msg->data, msg->len, TELEMETRY_SETPOINT_MIN, TELEMETRY_SETPOINT_MAX, &sp))
      app.setpoint_mc = sp;
    else
      app.refused++;
    break;
  case TELEMETRY_CH_INPUT:
    input_raise();
    break;
  default:
    break; /* not ours */
  }
  return QN_MSG_DONE;
}

static void take_reading(void) {
  char *p = app.reading;
  p = put_str(p, "seq=");
  p = put_int(p, (int32_t)app.seq);
  p = put_str(p, " mC=");
  p = put_int(p, sensor_read(app.seq));
  p = put_str(p, " sp=");
  p = put_int(p, app.setpoint_mc);
  p = put_str(p, " rej=");
  p = put_int(p, (int32_t)app.refused);
  app.reading_len = (size_t)(p - app.reading);
  app.seq++;
  app.reading_pending = 1;
}

static void send_pending(void) {
  if (app.emergency_pending) {
    char text[32], *p = put_str(text, "emergency input=");
    p = put_int(p, (int32_t)app.inputs);
    int64_t r = qn_publish(TELEMETRY_CH_EMERGENCY, QN_QOS_AT_LEAST_ONCE, QN_PRIO_EMERGENCY, text, (size_t)(p - text));
    if (r >= 0) app.emergency_pending = 0; /* else: retried, also while the link is down */
  }
  if (app.reading_pending) {
    int64_t r = qn_publish(TELEMETRY_CH_READING, QN_QOS_AT_LEAST_ONCE, QN_PRIO_BULK, app.reading, app.reading_len);
    if (!qn_would_block(r)) app.reading_pending = 0; /* sent, or no session: the next one is newer */
  }
}

int main(void) {
  const qn_config_t cfg = {
      QN_ROLE_SERVER, (qn_auth_mode_t)QN_AUTH_MODE, psk, sizeof psk, QN_KEY_ID, 0, on_message, NULL, NULL};
  int32_t st = qn_start(&cfg);
  if (st != QN_OK) qn_fatal("qn_start refused (status in hex)", (uint32_t)st);
  app.next_us = qn_now_us() + TELEMETRY_PERIOD_US;
  for (;;) {
    if (app.raised != app.inputs) {
      app.inputs = app.raised;
      app.emergency_pending = 1;
    }
    if (qn_now_us() >= app.next_us) {
      app.next_us += TELEMETRY_PERIOD_US;
      take_reading();
    }
    send_pending();
    if (!qn_poll()) qn_idle();
  }
}
