# Features of the core, 1 = built in, 0 = left out of qn.wasm and the firmware.
# Override on the command line (make QN_FEAT_JSON=0) or edit here;
# `make size PLATFORM=<board> QN_FEAT_JSON=0` shows what each costs. Everything off still leaves framing, pools, rings,
# sessions, QoS, the journal, ping and identity. The protobuf payload codec
# (id 1) is not optional: the handshake, identity and config frames use it.
# JSON payload codec (codec id 2)
QN_FEAT_JSON ?= 1
# selftest probes run on the target (checks 3, 4, 6, 7, 8)
QN_FEAT_PROBES ?= 1
