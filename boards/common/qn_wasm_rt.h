/* qn_wasm_rt.h: the one seam between board code and the Wasm runtime.
 *
 * The SDK's loop calls the core through qn_api.h and catches traps with
 * QN_TRY; nothing else of the runtime is visible. Another runtime (WAMR)
 * would implement qn_api.h plus these few lines and nothing above would
 * change.
 *
 *   qn_trap_target_t t;
 *   int code = QN_TRY(t);      // 0 now; the trap code if a call traps later
 *   if (code == 0) { ... calls into the core ... }
 *   qn_wasm_rt_disarm();
 *
 * QN_TRY must be used in a function that stays active for as long as the
 * target is armed (setjmp rule); locals changed after it must be volatile.
 */
#ifndef QN_WASM_RT_H
#define QN_WASM_RT_H

#include <setjmp.h>
#include <stdint.h>

typedef struct {
  jmp_buf jb;
} qn_trap_target_t;

/* Trap codes (same numbers as wasm2c's wasm_rt_trap_t). */
enum {
  QN_TRAP_OOB = 1, /* linear memory or table access out of range */
  QN_TRAP_INT_OVERFLOW = 2,
  QN_TRAP_DIV_BY_ZERO = 3,
  QN_TRAP_INVALID_CONVERSION = 4,
  QN_TRAP_UNREACHABLE = 5, /* the core's abort(): a failed assertion */
  QN_TRAP_CALL_INDIRECT = 6,
  QN_TRAP_EXCEPTION = 7,
  QN_TRAP_EXHAUSTION = 8, /* call depth beyond QN_WASM_MAX_DEPTH */
};

/* Arm t as the place a trap returns to. Use through QN_TRY. */
void qn_wasm_rt_arm(qn_trap_target_t *t);
/* Forget the armed target: a trap with none armed is fatal (qn_fatal). */
void qn_wasm_rt_disarm(void);
/* The armed target, or NULL: a call made while one is armed (from inside
 * the loop) needs no target of its own. */
qn_trap_target_t *qn_wasm_rt_armed(void);
/* Short text for a trap code. */
const char *qn_wasm_rt_trap_str(int code);

#define QN_TRY(t) (qn_wasm_rt_arm(&(t)), setjmp((t).jb))

/* Provided by the SDK's loop (sdk/src/qn_loop.c): report why it cannot go
 * on and stop. */
void qn_fatal(const char *why, uint32_t code) __attribute__((noreturn));

#endif /* QN_WASM_RT_H */
