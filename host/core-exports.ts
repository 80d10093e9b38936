// The core's Wasm exports as JavaScript sees them, typed: i32 (signed or
// not in C) arrives as a signed number (`>>> 0` makes a u32 of it), i64 as
// a bigint, an address (qn_addr_t) as a number. assembly/index.ts defines
// each one; build/qn_api.h gives C the same list with a line of why.
// test/core/core-exports.test.ts checks this list against the module's
// exports, name and arity. Only host/core*.ts hold this table (QnCore
// keeps it private); tests reach it through test/support/raw-core.ts.

export interface CoreExports {
  memory: WebAssembly.Memory;
  qn_init(): number;
  qn_rx_buf(): number;
  qn_rx_cap(): number;
  qn_rx(len: number): number;
  qn_tx_buf(): number;
  qn_tx_cap(): number;
  qn_tx_pull(max: number): number;
  qn_tx_pending(prio: number): number;
  qn_tx_in_flight(): number;
  qn_tick(nowUs: bigint): void;
  qn_app_buf(): number;
  qn_header_size(): number;
  qn_max_payload(): number;
  qn_send(type: number, flags: number, codec: number, channel: number, packet: number, len: number): number;
  qn_publish(channel: number, qos: number, prio: number, codec: number, len: number): bigint;
  qn_publish_traced(channel: number, qos: number, prio: number, codec: number, len: number): bigint;
  qn_connect(): number;
  qn_hold_rx(held: number): void;
  qn_disconnect(): void;
  qn_config_set(key: number, value: number): number;
  qn_config_get(key: number): number;
  qn_set_key(ptr: number, len: number): number;
  qn_forget_key(): void;
  qn_set_key_id(id: number): void;
  qn_session_stat(what: number): bigint;
  qn_backoff_log(i: number): number;
  qn_backoff_attempt(i: number): number;
  qn_qos_stat(what: number): number;
  qn_event(type: number, code: number): void;
  qn_sched_stat(what: number): number;
  qn_journal_open(size: number): number;
  qn_journal_stat(what: number): number;
  qn_sha256(ptr: number, len: number, out: number): void;
  qn_hmac(key: number, klen: number, ptr: number, len: number, out: number): void;
  qn_chaskey(key: number, ptr: number, len: number, out: number): void;
  qn_rto_sample(us: bigint): void;
  qn_rto_backoff(): void;
  qn_sack_off(): void;
  qn_inbox_pop(): number;
  qn_inbox_count(): number;
  qn_inbox_capacity(): number;
  qn_inbox_peek(i: number): number;
  qn_next_packet(): number;
  qn_counter(id: number): number;
  qn_last_error(): number;
  qn_board_info(clockHz: number, memBytes: number, name: number, len: number): void;
  qn_board_stack(used: number, size: number): void;
  qn_board_trap(): void;
  qn_board_image(crc: number, len: number): void;
  qn_id_next(): bigint;
  qn_build_id(): number;
  qn_features(): number;
  qn_codecs(): number;
  qn_heap_base(): number;
  qn_pool_count(): number;
  qn_pool_stat(i: number, what: number): number;
  qn_pool_alloc(size: number): number;
  qn_pool_free(blk: number): number;
  qn_msg_reset(): void;
  qn_msg_add(tag: number, kind: number, value: bigint, len: number): number;
  qn_msg_count(): number;
  qn_msg_tag(i: number): number;
  qn_msg_kind(i: number): number;
  qn_msg_len(i: number): number;
  qn_msg_value(i: number): bigint;
  qn_msg_data(): number;
  qn_encode(codec: number, dst: number, cap: number): number;
  qn_decode(codec: number, src: number, len: number): number;
  qn_frame_encode(
    type: number,
    flags: number,
    codec: number,
    channel: number,
    packet: number,
    len: number,
    dst: number,
    cap: number,
  ): number;
  qn_frame_decode(src: number, len: number): number;
  qn_crc32c_widen(ptr: number): number;
  qn_crc32c_widen_bytes(): number;
  qn_crc32c(ptr: number, len: number): number;
  qn_cobs_encode(src: number, len: number, dst: number, cap: number): number;
  qn_cobs_decode(src: number, len: number, dst: number, cap: number): number;
}

/** The raw door into one core, for tests only (test/support/raw-core.ts
 *  hands it out): the export table, the linear memory, and the host's
 *  scratch base (SCRATCH in host/core-instance.ts). */
export interface RawCore {
  readonly x: CoreExports;
  readonly mem: Uint8Array;
  readonly scratchBase: number;
}
