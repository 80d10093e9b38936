// The only functions the core imports. A shell (board C glue, the Node
// loader) must provide each; docs/PROTOCOL.md and qn_port.h give the contract.

/** Log a UTF-8 message of `len` bytes at `ptr` (level 0 error .. 3 debug). */
@external("env", "qn_log")
export declare function host_log(level: i32, ptr: usize, len: i32): void;

/** The core hit a bug (a failed assertion or abort). Must not return:
 *  the shell unwinds the call into the core and reports ERR_TRAP. */
@external("env", "qn_panic")
export declare function host_panic(line: i32, col: i32): void;
