/* fuzz_rx.h: the receive path of a server core (the device's role) under
 * hostile input, with the oracles of issue 16:
 *   - a wasm trap is a finding (FUZZ_GUARD);
 *   - every frame the application pops must be one the reference decoder
 *     (fuzz_frame.h) found intact in the bytes fed (CRC, or MAC in its
 *     place); in auth mode 2, one delivered while a session was up must
 *     carry a valid MAC under that session's key and an LSN not delivered
 *     before, and one delivered outside a session may only be a PONG (the
 *     one public frame that reaches the application);
 *   - every MAC'd frame the server sends in the harness's session verifies;
 *   - after the input, with the inbox and the transmit queues drained, no
 *     pool block is held but by the inbox and the QoS window, and no
 *     outbox holds a frame (a lost block or a frame no pull will ever send
 *     is a leak that starves the device).
 *
 * A fixture is the server as each input starts: freshly booted (targets
 * rx-auth0, rx-auth2-pre) or right after a real handshake with a client
 * core (rx-auth2-session, config), restored from a snapshot per input. */
#ifndef QN_FUZZ_RX_H
#define QN_FUZZ_RX_H

#include "fuzz_core.h"
#include "fuzz_frame.h"

typedef struct {
  uint32_t auth;      /* the server's auth mode */
  int knows_key;      /* the harness's client holds the pre-shared key */
  int have_key;       /* a session is up and the harness holds its key */
  uint8_t ks[16];     /* its frame MAC key (Ks[0..15]) */
  uint32_t lsn;       /* the client's next LSN */
  fuzz_core_t server; /* the server as each input starts */
} fz_fixture_t;

/* A server just booted with auth mode auth over an erased journal; the
 * fuzzer plays a peer that does not know the key (its handshake proofs are
 * its own bytes). */
void fz_fixture_fresh(fz_fixture_t *f, uint32_t auth);
/* A server and a client core (auth mode auth) through HELLO, WELCOME and
 * CONFIRM; the session key is derived from the handshake's transcript and
 * checked against a MAC'd PING the client sends. The fuzzer plays that
 * client: it knows the key, so its handshakes can renew and resume the
 * session. */
void fz_fixture_session(fz_fixture_t *f, uint32_t auth);

/* One input from the fixture: load it, run the ops, drain and check. */
void fz_rx_begin(fz_fixture_t *f);
/* Feed wire bytes to the server (and the reference decoder). */
void fz_rx_feed(const uint8_t *p, size_t n);
/* Send a frame as the harness's client: session and LSN filled in, MAC'd
 * under the session key when one is held. */
void fz_rx_send(uint8_t type, uint8_t flags, uint8_t codec, const uint8_t *payload, size_t plen);
/* Pull the server's output through its oracle. */
void fz_rx_pull(size_t max);
/* The frames the server sent in this input (cleared when it fills). */
fz_ref_t *fz_rx_output(void);
/* The firmware's application loop turn: pop one frame (checked), echo DATA
 * at QoS 0/1, reset on RESET_REQ. */
void fz_rx_app(void);
/* Drain everything and check the end-of-input invariants. */
void fz_rx_end(void);
/* The op interpreter over a whole input (fuzz_rx.c describes the ops). */
void fz_rx_ops(fz_in_t *in);

#endif /* QN_FUZZ_RX_H */
