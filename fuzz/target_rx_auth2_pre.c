/* Fuzz target rx-auth2-pre: the receive path of a device (server) in auth mode 2 before any handshake: nothing but a
 * PONG may reach its application. Input format and oracles: fuzz_rx.c, fuzz_rx.h. */
#include "fuzz_rx.h"

static fz_fixture_t fixture;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  fz_fixture_fresh(&fixture, QN_AUTH_FRAME_MAC);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  FUZZ_GUARD();
  fz_rx_begin(&fixture);
  fz_in_t in = {data, size, 0};
  fz_rx_ops(&in);
  FUZZ_UNGUARD();
  return 0;
}
