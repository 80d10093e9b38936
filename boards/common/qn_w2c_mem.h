/* qn_w2c_mem.h: linear-memory access for wasm2c output on our runtime.
 *
 * The build inserts `#include "qn_w2c_mem.h"` into the generated qn.c just
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
 * changes. GCC narrows the u64 compare itself where the address is a
 * zero-extended u32 plus a constant (every wasm32 access). */
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
  static inline t3 name(wasm_rt_memory_t* mem, u64 addr) {     \
    (void)mem;                                                 \
    QN_MEMCHECK(addr, t1);                                     \
    t1 result;                                                 \
    wasm_rt_memcpy(&result, &qn_linear_mem[addr], sizeof(t1)); \
    return (t3)(t2)result;                                     \
  }

#define DEFINE_STORE(name, t1, t2)                                     \
  static inline void name(wasm_rt_memory_t* mem, u64 addr, t2 value) { \
    (void)mem;                                                         \
    QN_MEMCHECK(addr, t1);                                             \
    t1 wrapped = (t1)value;                                            \
    wasm_rt_memcpy(&qn_linear_mem[addr], &wrapped, sizeof(t1));        \
  }

#endif /* QN_W2C_MEM_H */
