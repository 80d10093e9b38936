// JSON payload codec for the flat field table: one object whose keys are the
// field numbers, e.g. {"1":42,"2":-7,"3":"text"}. Integers are exact 64-bit
// decimals (no floats, no exponents: a reader must not lose precision);
// bytes fields are JSON strings (UTF-8 passed through, control characters,
// quote and backslash escaped). Decoding accepts any whitespace, the standard
// escapes including \uXXXX (surrogate pairs joined), and refuses anything
// else (nesting, floats, true/false/null, duplicate-free is not enforced) as
// ERR_DECODE. Negative numbers decode as K_SINT, others as K_UINT.
import { MAX_PAYLOAD } from "../config";
import { Status } from "../status";
import {
  K_UINT, K_SINT, K_BYTES, msg_add, msg_count, msg_tag, msg_kind, msg_len, msg_value, msg_reset,
} from "./fields";

// Decoded strings are unescaped here (JSON escapes make zero-copy impossible).
const SCRATCH = memory.data(MAX_PAYLOAD, 4);
const DIGITS = memory.data(24);
let wpos: i32 = 0;
let wcap: i32 = 0;
let wdst: usize = 0;
let wfull: bool = false;

@inline function put(b: u32): void {
  if (wpos < wcap) store<u8>(wdst + wpos, <u8>b); else wfull = true;
  wpos++;
}

function put_u64(v: u64): void {
  let n = 0;
  do { store<u8>(DIGITS + n++, <u8>(0x30 + <u32>(v % 10))); v /= 10; } while (v != 0);
  while (n > 0) put(load<u8>(DIGITS + --n));
}

const HEX = memory.data<u8>([0x30,0x31,0x32,0x33,0x34,0x35,0x36,0x37,0x38,0x39,0x61,0x62,0x63,0x64,0x65,0x66]);

export function json_encode(dst: usize, cap: i32): i32 {
  wdst = dst; wcap = cap; wpos = 0; wfull = false;
  put(0x7B); // {
  const n = msg_count();
  for (let i = 0; i < n; i++) {
    if (i > 0) put(0x2C);
    put(0x22); put_u64(<u64>msg_tag(i)); put(0x22); put(0x3A);
    const kind = msg_kind(i);
    const v = msg_value(i);
    if (kind == K_SINT && <i64>v < 0) { put(0x2D); put_u64(<u64>(-<i64>v)); }
    else if (kind == K_BYTES) {
      put(0x22);
      const len = msg_len(i);
      for (let k: u32 = 0; k < len; k++) {
        const c = <u32>load<u8>(<usize>v + k);
        if (c == 0x22 || c == 0x5C) { put(0x5C); put(c); }
        else if (c < 0x20) {
          put(0x5C); put(0x75); put(0x30); put(0x30);
          put(load<u8>(HEX + (c >> 4))); put(load<u8>(HEX + (c & 15)));
        } else put(c);
      }
      put(0x22);
    } else put_u64(v);
  }
  put(0x7D); // }
  return wfull ? Status.ERR_NO_SPACE : wpos;
}

let rsrc: usize = 0;
let rlen: i32 = 0;
let rpos: i32 = 0;
let spos: i32 = 0;

@inline function peek(): i32 { return rpos < rlen ? <i32>load<u8>(rsrc + rpos) : -1; }
function skip_ws(): void {
  while (rpos < rlen) {
    const c = load<u8>(rsrc + rpos);
    if (c != 0x20 && c != 0x09 && c != 0x0A && c != 0x0D) return;
    rpos++;
  }
}

function hex4(): i32 {
  if (rlen - rpos < 4) return -1;
  let v = 0;
  for (let i = 0; i < 4; i++) {
    const c = <i32>load<u8>(rsrc + rpos++);
    let d = -1;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if (c >= 0x61 && c <= 0x66) d = c - 0x61 + 10;
    else if (c >= 0x41 && c <= 0x46) d = c - 0x41 + 10;
    if (d < 0) return -1;
    v = (v << 4) | d;
  }
  return v;
}

function sput(b: u32): bool {
  if (spos >= MAX_PAYLOAD) return false;
  store<u8>(SCRATCH + spos++, <u8>b);
  return true;
}

function put_utf8(cp: u32): bool {
  if (cp < 0x80) return sput(cp);
  if (cp < 0x800) return sput(0xC0 | (cp >> 6)) && sput(0x80 | (cp & 0x3F));
  if (cp < 0x10000) return sput(0xE0 | (cp >> 12)) && sput(0x80 | ((cp >> 6) & 0x3F)) && sput(0x80 | (cp & 0x3F));
  return sput(0xF0 | (cp >> 18)) && sput(0x80 | ((cp >> 12) & 0x3F)) && sput(0x80 | ((cp >> 6) & 0x3F)) && sput(0x80 | (cp & 0x3F));
}

/** Parse a string after its opening quote into SCRATCH; returns its start
 *  offset in SCRATCH or -1. */
function read_string(): i32 {
  const start = spos;
  while (true) {
    if (rpos >= rlen) return -1;
    const c = <u32>load<u8>(rsrc + rpos++);
    if (c == 0x22) return start;
    if (c < 0x20) return -1;
    if (c != 0x5C) { if (!sput(c)) return -1; continue; }
    if (rpos >= rlen) return -1;
    const e = <u32>load<u8>(rsrc + rpos++);
    let ok = true;
    if (e == 0x22 || e == 0x5C || e == 0x2F) ok = sput(e);
    else if (e == 0x62) ok = sput(8);
    else if (e == 0x66) ok = sput(12);
    else if (e == 0x6E) ok = sput(10);
    else if (e == 0x72) ok = sput(13);
    else if (e == 0x74) ok = sput(9);
    else if (e == 0x75) {
      let cp = hex4();
      if (cp < 0) return -1;
      if (cp >= 0xD800 && cp < 0xDC00) {
        if (rlen - rpos < 6 || load<u8>(rsrc + rpos) != 0x5C || load<u8>(rsrc + rpos + 1) != 0x75) return -1;
        rpos += 2;
        const lo = hex4();
        if (lo < 0xDC00 || lo >= 0xE000) return -1;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
      } else if (cp >= 0xDC00 && cp < 0xE000) return -1;
      ok = put_utf8(<u32>cp);
    } else return -1;
    if (!ok) return -1;
  }
  return -1;
}

/** Unsigned decimal, no leading zeros (except "0"), no overflow. */
function read_u64(): u64 {
  let v: u64 = 0;
  const start = rpos;
  while (rpos < rlen) {
    const c = <u32>load<u8>(rsrc + rpos);
    if (c < 0x30 || c > 0x39) break;
    const d = <u64>(c - 0x30);
    if (v > (0xFFFFFFFFFFFFFFFF - d) / 10) { rpos = -1; return 0; }
    v = v * 10 + d;
    rpos++;
  }
  if (rpos == start || (rpos - start > 1 && load<u8>(rsrc + start) == 0x30)) rpos = -1;
  return v;
}

export function json_decode(src: usize, len: i32): i32 {
  msg_reset();
  rsrc = src; rlen = len; rpos = 0; spos = 0;
  skip_ws();
  if (peek() != 0x7B) return Status.ERR_DECODE;
  rpos++;
  skip_ws();
  if (peek() == 0x7D) { rpos++; skip_ws(); return rpos == rlen ? 0 : Status.ERR_DECODE; }
  while (true) {
    skip_ws();
    if (peek() != 0x22) return Status.ERR_DECODE;
    rpos++;
    const tag = read_u64();
    if (rpos < 0 || tag == 0 || tag > 0xFFFF || peek() != 0x22) return Status.ERR_DECODE;
    rpos++;
    skip_ws();
    if (peek() != 0x3A) return Status.ERR_DECODE;
    rpos++;
    skip_ws();
    const c = peek();
    let st: i32 = 0;
    if (c == 0x22) {
      rpos++;
      const s = read_string();
      if (s < 0) return Status.ERR_DECODE;
      st = msg_add(<i32>tag, K_BYTES, <u64>(SCRATCH + s), <u32>(spos - s));
    } else if (c == 0x2D) {
      rpos++;
      const v = read_u64();
      if (rpos < 0 || v > 0x8000000000000000) return Status.ERR_DECODE;
      st = msg_add(<i32>tag, K_SINT, <u64>(-<i64>v), 0);
    } else {
      const v = read_u64();
      if (rpos < 0) return Status.ERR_DECODE;
      st = msg_add(<i32>tag, K_UINT, v, 0);
    }
    if (st < 0) return st;
    skip_ws();
    const d = peek();
    if (d == 0x2C) { rpos++; continue; }
    if (d == 0x7D) { rpos++; break; }
    return Status.ERR_DECODE;
  }
  skip_ws();
  return rpos == rlen ? msg_count() : Status.ERR_DECODE;
}
