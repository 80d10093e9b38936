// The only functions the core imports. A shell (board C glue, the Node
// loader) must provide each; docs/PROTOCOL.md and qn_port.h give the contract.

/** Log a UTF-8 message of `len` bytes at `ptr` (level 0 error .. 3 debug). */
@external("env", "qn_log")
export declare function host_log(level: i32, ptr: usize, len: i32): void;

/** The core hit a bug (a failed assertion or abort). Must not return:
 *  the shell unwinds the call into the core and reports ERR_TRAP. */
@external("env", "qn_panic")
export declare function host_panic(line: i32, col: i32): void;

/** Read `len` bytes of persistent storage at offset `off` into `ptr`.
 *  Returns 0, or a negative status (ERR_STORAGE). */
@external("env", "qn_storage_read")
export declare function storage_read(off: u32, ptr: usize, len: u32): i32;

/** Program `len` bytes at `off` from `ptr`. Flash semantics: only bytes
 *  erased (0xFF) since the last erase are written; returns 0 or a negative
 *  status. Must be durable when it returns (fsync on a file). */
@external("env", "qn_storage_write")
export declare function storage_write(off: u32, ptr: usize, len: u32): i32;

/** Erase `len` bytes at `off` to 0xFF (whole sectors on flash; the core
 *  erases only whole journal halves). Returns 0 or a negative status. */
@external("env", "qn_storage_erase")
export declare function storage_erase(off: u32, len: u32): i32;

/** Fill `len` bytes at `ptr` with unpredictable bytes (hardware RNG,
 *  getrandom): handshake nonces and backoff jitter. Returns 0 or negative. */
@external("env", "qn_entropy")
export declare function entropy(ptr: usize, len: u32): i32;
