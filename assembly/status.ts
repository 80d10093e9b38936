// One status enum for every layer of QN. Values are stable wire/ABI numbers:
// never renumber, only append. The trailing comment of each member is its
// message: the build turns this file into the C enum and qn_status_str() in
// build/qn_api.h, and the host loader reads it for its error texts, so this
// file is the single source of truth for both ends.
export enum Status {
  OK = 0, // success
  ERR_CRC = -1, // frame CRC-32C mismatch
  ERR_OVERSIZE = -2, // frame or payload longer than the configured maximum
  ERR_TRUNCATED = -3, // frame shorter than its header, length field or COBS block says
  ERR_VERSION = -4, // unknown protocol version in frame header
  ERR_COBS = -5, // malformed COBS encoding
  ERR_POOL_EMPTY = -6, // memory pool exhausted
  ERR_RING_FULL = -7, // ring buffer full
  ERR_RING_EMPTY = -8, // ring buffer empty
  ERR_ARG = -9, // invalid argument
  ERR_CODEC = -10, // unknown or disabled payload codec id
  ERR_DECODE = -11, // malformed payload for its codec
  ERR_NO_SPACE = -12, // destination buffer too small
  ERR_STORAGE = -13, // storage read, write or erase failed
  ERR_TYPE = -14, // unknown frame type
  ERR_NOT_BUILT = -15, // feature not built into this core (see qn_config)
  ERR_DOUBLE_FREE = -16, // block freed twice or not from a pool
  ERR_PROBE = -17, // selftest probe found a fault
  ERR_TRAP = -18, // the core trapped (a bug): reported by the shell
  ERR_TIMEOUT = -19, // no answer within the timeout
  ERR_IO = -20, // transport I/O error (port missing, unplugged, closed)
  ERR_AUTH = -21, // authentication failed (wrong key, bad proof or frame MAC)
  ERR_REPLAY = -22, // frame replayed (LSN outside or already in the replay window)
  ERR_LINK_DOWN = -23, // peer is down (circuit open): send refused, retry after reconnect
  ERR_SESSION = -24, // no established session, or a frame of another session
  ERR_WINDOW = -25, // in-flight window full: wait for acknowledgements
  ERR_NO_JOURNAL = -26, // QoS 2 needs the journal: call qn_journal_open first
  ERR_HEADER = -27, // intact frame with a header field out of range (priority 3, QoS 3, flag bit 7, reserved byte)
  ERR_NO_KEY = -28, // the peer named a key id and no key is set: look it up, set it (qn_set_key), feed the WELCOME again
}
