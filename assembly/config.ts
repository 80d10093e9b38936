// Build-time configuration of the core: every size that decides the static
// memory footprint lives here, so RAM cost is read off one file.
// Feature switches are integer constants introduced by the build with
// `asc --use QN_FEAT_X=0|1` (see qn_config.mk); code behind a 0 switch is
// folded away by the compiler, so a trimmed build carries none of it.

/** Protocol version carried in byte 0 of every frame header. 2: auth mode
 *  2's frame MAC is Chaskey-12 (1 had a truncated HMAC-SHA-256). */
export const PROTOCOL_VERSION: u8 = 2;
/** Core version, reported by identity: major.minor.patch. */
export const VERSION_MAJOR: u8 = 0;
export const VERSION_MINOR: u8 = 1;
export const VERSION_PATCH: u8 = 0;

/** Largest payload a frame may carry. Bounds every buffer below. */
export const MAX_PAYLOAD: i32 = 256; // bytes of payload a frame carries at most
/** Fixed frame header (see docs/PROTOCOL.md). */
export const HEADER_SIZE: i32 = 24; // bytes of the frame header
export const CRC_SIZE: i32 = 4; // bytes of the CRC-32C that ends a frame
/** Largest raw frame: header + payload + frame MAC + CRC. */
export const MAX_FRAME: i32 = HEADER_SIZE + MAX_PAYLOAD + 8 + CRC_SIZE;
/** COBS adds one byte per 254 and the delimiter adds one. */
export const MAX_WIRE: i32 = MAX_FRAME + MAX_FRAME / 254 + 2;

/** Shell exchange areas (rx staging, tx staging, application message). */
export const RX_STAGE: i32 = 256;
export const TX_STAGE: i32 = 256;
export const APP_BUF: i32 = MAX_FRAME;

/** Block pools: two classes, small frames (pings, acks) and full frames.
 *  A block holds a queued wire frame: u16 length + COBS bytes. At most 32
 *  blocks per pool (the allocation bitmap is one u32). */
export const POOL_SMALL_SIZE: i32 = 64;
export const POOL_SMALL_COUNT: i32 = 24;
export const POOL_LARGE_SIZE: i32 = (MAX_WIRE + 4 + 3) & ~3; // + the block's length word (pool.ts BLK_HDR)
export const POOL_LARGE_COUNT: i32 = 20;

/** Outbox per priority class and inbox: rings of u32 block addresses.
 *  Power-of-two capacities. */
export const OUTBOX_SLOTS: u32 = 8;
export const INBOX_SLOTS: u32 = 8;

/** QoS 1/2 messages in flight per sender (ERR_WINDOW beyond), and the
 *  frames a receiver holds past a gap: each costs an in-flight entry and a
 *  hold slot (qos.ts, hold.ts). */
export const WINDOW: i32 = 8;

/** Priority classes (flags bits 0-1): lower number is more urgent. */
export const PRIO_EMERGENCY: u8 = 0; // cuts in ahead of everything, even a frame on the wire
export const PRIO_CONTROL: u8 = 1; // session, acknowledgements, requests
export const PRIO_BULK: u8 = 2; // bulk data: yields to the other two
export const PRIO_CLASSES: i32 = 3; // number of priority classes

/** QoS levels (flags bits 2-3). */
export const QOS_AT_MOST_ONCE: u8 = 0; // sent once, never acknowledged
export const QOS_AT_LEAST_ONCE: u8 = 1; // acknowledged (PUBACK), resent until it is
export const QOS_EXACTLY_ONCE: u8 = 2; // four steps with the journal: delivered once across resets

/** Payload codec ids (header byte 3). */
export const CODEC_NONE: u8 = 0; // opaque bytes
export const CODEC_PB: u8 = 1; // protobuf over the field table (always built)
export const CODEC_JSON: u8 = 2; // JSON over the field table

/** Message field table used by the codecs. */
export const MAX_FIELDS: i32 = 24;
