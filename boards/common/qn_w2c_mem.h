/* qn_w2c_mem.h: linear-memory access for wasm2c output on our runtime.
 *
 * The build inserts `#include "qn_w2c_mem.h"` into the generated qn_w2c.c just
 * before its DEFINE_LOAD list (boards/tools/w2c-mem.mjs), replacing wasm2c's
 * generic accessors. Those read mem->data and mem->size on every access,
 * and any store through a byte pointer may alias them, so GCC reloads both
 * after each store; the address is a u64, so on a 32-bit core each check is
 * a 64-bit add and compare. Here the memory is what qn_wasm_rt.c says it
 * is: one module, one memory, the static array qn_linear_mem of exactly
 * QN_LINEAR_MEM_BYTES that never grows. The base is a link-time constant
 * and the limit a compile-time one.
 *
 * Every access is still bounds-checked with the same result as wasm2c's
 * check (addr + size > limit traps OOB): only where the limit comes from
 * changes.
 *
 * wasm2c writes every wasm32 access as name(mem, (u64)(base) + offset).
 * GCC often keeps that u64 through a loop (a 64-bit induction variable:
 * add, add-with-carry, compare, compare-with-carry on every access), so
 * w2c-mem.mjs rewrites those calls to name_at(base, offset) below: a u32
 * base and the constant offset, checked as base > limit - size - offset,
 * one compare against a constant. The same accesses trap: base + offset
 * (no wrap in u64) exceeds limit - size exactly when base exceeds
 * limit - size - offset, and an offset past limit - size always traps. */
#ifndef QN_W2C_MEM_H
#define QN_W2C_MEM_H

#include "qn_linear_mem.h" /* QN_LINEAR_MEM_BYTES */

#if WABT_BIG_ENDIAN
#error "qn_w2c_mem.h: little-endian targets only"
#endif

extern uint8_t qn_linear_mem[QN_LINEAR_MEM_BYTES];

#undef DEFINE_LOAD
#undef DEFINE_STORE

#define QN_MEMCHECK(addr, t) \
  if (UNLIKELY((addr) > (u64)(QN_LINEAR_MEM_BYTES - sizeof(t)))) TRAP(OOB);

#define DEFINE_LOAD(name, t1, t2, t3)                          \
  static inline t3 name(wasm_rt_memory_t *mem, u64 addr) {     \
    (void)mem;                                                 \
    QN_MEMCHECK(addr, t1);                                     \
    t1 result;                                                 \
    wasm_rt_memcpy(&result, &qn_linear_mem[addr], sizeof(t1)); \
    return (t3)(t2)result;                                     \
  }

#define DEFINE_STORE(name, t1, t2)                                     \
  static inline void name(wasm_rt_memory_t *mem, u64 addr, t2 value) { \
    (void)mem;                                                         \
    QN_MEMCHECK(addr, t1);                                             \
    t1 wrapped = (t1)value;                                            \
    wasm_rt_memcpy(&qn_linear_mem[addr], &wrapped, sizeof(t1));        \
  }

#define QN_MEMCHECK_AT(base, off, t) \
  if (UNLIKELY((off) > QN_LINEAR_MEM_BYTES - sizeof(t) || (base) > QN_LINEAR_MEM_BYTES - sizeof(t) - (off))) TRAP(OOB);

#define DEFINE_LOAD_AT(name, t1, t2, t3)                             \
  static inline t3 name##_at(u32 base, u32 off) {                    \
    QN_MEMCHECK_AT(base, off, t1);                                   \
    t1 result;                                                       \
    wasm_rt_memcpy(&result, &qn_linear_mem[base] + off, sizeof(t1)); \
    return (t3)(t2)result;                                           \
  }

#define DEFINE_STORE_AT(name, t1, t2)                                 \
  static inline void name##_at(u32 base, u32 off, t2 value) {         \
    QN_MEMCHECK_AT(base, off, t1);                                    \
    t1 wrapped = (t1)value;                                           \
    wasm_rt_memcpy(&qn_linear_mem[base] + off, &wrapped, sizeof(t1)); \
  }

DEFINE_LOAD_AT(i32_load, u32, u32, u32)
DEFINE_LOAD_AT(i64_load, u64, u64, u64)
DEFINE_LOAD_AT(f32_load, f32, f32, f32)
DEFINE_LOAD_AT(f64_load, f64, f64, f64)
DEFINE_LOAD_AT(i32_load8_s, s8, s32, u32)
DEFINE_LOAD_AT(i64_load8_s, s8, s64, u64)
DEFINE_LOAD_AT(i32_load8_u, u8, u32, u32)
DEFINE_LOAD_AT(i64_load8_u, u8, u64, u64)
DEFINE_LOAD_AT(i32_load16_s, s16, s32, u32)
DEFINE_LOAD_AT(i64_load16_s, s16, s64, u64)
DEFINE_LOAD_AT(i32_load16_u, u16, u32, u32)
DEFINE_LOAD_AT(i64_load16_u, u16, u64, u64)
DEFINE_LOAD_AT(i64_load32_s, s32, s64, u64)
DEFINE_LOAD_AT(i64_load32_u, u32, u64, u64)
DEFINE_STORE_AT(i32_store, u32, u32)
DEFINE_STORE_AT(i64_store, u64, u64)
DEFINE_STORE_AT(f32_store, f32, f32)
DEFINE_STORE_AT(f64_store, f64, f64)
DEFINE_STORE_AT(i32_store8, u8, u32)
DEFINE_STORE_AT(i32_store16, u16, u32)
DEFINE_STORE_AT(i64_store8, u8, u64)
DEFINE_STORE_AT(i64_store16, u16, u64)
DEFINE_STORE_AT(i64_store32, u32, u64)

#endif /* QN_W2C_MEM_H */
