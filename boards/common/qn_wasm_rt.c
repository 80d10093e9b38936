/* A bare-metal runtime for wasm2c (wabt 1.0.32) output: everything qn_w2c.c
 * links against, nothing more. The stock wasm-rt-impl.c needs mmap, malloc
 * and signals, and reads short enums through va_arg (undefined on
 * arm-none-eabi, where GCC emits a trapping udf): see docs in NOTES.
 *
 * Linear memory is one static array of QN_LINEAR_MEM_BYTES (generated from
 * the module's heap base by the build). Bounds checks stay on: every access
 * is checked against the array size (qn_w2c_mem.h), so an access beyond it
 * traps instead of corrupting RAM.
 */
#include <stdarg.h>
#include <string.h>
#include "wasm-rt.h"
#include "qn_wasm_rt.h"
#include "qn_linear_mem.h" /* QN_LINEAR_MEM_BYTES, QN_WASM_FUNC_TYPES: generated */

#if !WASM_RT_USE_STACK_DEPTH_COUNT || WASM_RT_MEMCHECK_SIGNAL_HANDLER
#error "build with explicit bounds checks and depth counting (WASM_RT_MEMCHECK_SIGNAL_HANDLER=0)"
#endif

/* The core's memory. Aligned for the widest load (i64/f64). On ARM it is
 * kept out of .bss (QN_NOINIT_SECTION) because wasm_rt_allocate_memory
 * zeroes it anyway: clearing it twice costs boot time. */
#ifdef QN_NOINIT_SECTION
#define LINEAR_MEM_ATTR __attribute__((aligned(8), section(QN_NOINIT_SECTION)))
#else
#define LINEAR_MEM_ATTR __attribute__((aligned(8)))
#endif
uint8_t qn_linear_mem[QN_LINEAR_MEM_BYTES] LINEAR_MEM_ATTR;

uint32_t wasm_rt_call_stack_depth;
uint32_t wasm_rt_saved_call_stack_depth;

static qn_trap_target_t *target;
static bool initialized;

void qn_wasm_rt_arm(qn_trap_target_t *t) {
  target = t;
  wasm_rt_saved_call_stack_depth = wasm_rt_call_stack_depth;
}

void qn_wasm_rt_disarm(void) { target = 0; }

qn_trap_target_t *qn_wasm_rt_armed(void) { return target; }

void wasm_rt_trap(wasm_rt_trap_t code) {
  wasm_rt_call_stack_depth = wasm_rt_saved_call_stack_depth;
  if (!target) qn_fatal("wasm trap with no QN_TRY armed", (uint32_t)code);
  qn_trap_target_t *t = target;
  target = 0; /* a second trap before re-arming is fatal, never a loop */
  longjmp(t->jb, code == WASM_RT_TRAP_NONE ? QN_TRAP_UNREACHABLE : (int)code);
}

const char *qn_wasm_rt_trap_str(int code) {
  static const char *const s[] = {"none",           "out of bounds",      "integer overflow",
                                  "divide by zero", "invalid conversion", "unreachable",
                                  "call_indirect",  "exception",          "call stack exhausted"};
  return (code >= 0 && code < (int)(sizeof s / sizeof s[0])) ? s[code] : "unknown trap";
}

void wasm_rt_init(void) { initialized = true; }
bool wasm_rt_is_initialized(void) { return initialized; }
void wasm_rt_free(void) { initialized = false; }

/* Function types: call_indirect compares the ids this returns, so equal
 * signatures must get equal ids. A small table of signatures, compared in
 * full. Types come through va_arg as int: wasm_rt_type_t is a short enum on
 * arm-none-eabi and is promoted to int when passed through "...". The
 * table has one place per entry of the module's type section (generated). */
#define MAX_TYPES QN_WASM_FUNC_TYPES
#define MAX_ARITY 12
static struct { uint8_t np, nr, t[MAX_ARITY]; } types[MAX_TYPES];
static uint32_t ntypes;

uint32_t wasm_rt_register_func_type(uint32_t params, uint32_t results, ...) {
  uint8_t t[MAX_ARITY];
  if (params + results > MAX_ARITY) qn_fatal("wasm function type too wide", params + results);
  va_list ap;
  va_start(ap, results);
  for (uint32_t i = 0; i < params + results; i++) t[i] = (uint8_t)va_arg(ap, int);
  va_end(ap);
  for (uint32_t i = 0; i < ntypes; i++)
    if (types[i].np == params && types[i].nr == results && !memcmp(types[i].t, t, params + results)) return i;
  if (ntypes == MAX_TYPES) qn_fatal("too many wasm function types", ntypes);
  types[ntypes].np = (uint8_t)params;
  types[ntypes].nr = (uint8_t)results;
  memcpy(types[ntypes].t, t, params + results);
  return ntypes++;
}

/* Memory: instantiation (also after a trap) starts from zeroed memory, as
 * the Wasm spec requires, because data segments are all that qn_w2c.c loads. */
void wasm_rt_allocate_memory(wasm_rt_memory_t *mem, uint32_t initial_pages, uint32_t max_pages) {
  uint64_t want = (uint64_t)initial_pages * 65536u;
  /* qn_w2c_mem.h checks accesses against QN_LINEAR_MEM_BYTES itself, so
   * the module's memory must be at least that large. */
  if (want < QN_LINEAR_MEM_BYTES) qn_fatal("wasm memory smaller than QN_LINEAR_MEM_BYTES", (uint32_t)want);
  mem->data = qn_linear_mem;
  mem->size = QN_LINEAR_MEM_BYTES;
  mem->pages = initial_pages;
  mem->max_pages = max_pages;
  memset(qn_linear_mem, 0, sizeof qn_linear_mem);
}

/* The core never grows its memory (the build rejects memory.grow). */
uint32_t wasm_rt_grow_memory(wasm_rt_memory_t *mem, uint32_t pages) {
  (void)mem;
  (void)pages;
  return UINT32_MAX;
}

void wasm_rt_free_memory(wasm_rt_memory_t *mem) { (void)mem; }

/* Tables: a release core has none; a small static one covers a debug core. */
#define MAX_TABLE 16
static wasm_rt_funcref_t funcrefs[MAX_TABLE];

void wasm_rt_allocate_funcref_table(wasm_rt_funcref_table_t *t, uint32_t n, uint32_t max) {
  if (n > MAX_TABLE) qn_fatal("wasm funcref table too large", n);
  (void)max;
  memset(funcrefs, 0, sizeof funcrefs);
  t->data = funcrefs;
  t->size = n;
  t->max_size = n;
}

void wasm_rt_free_funcref_table(wasm_rt_funcref_table_t *t) { (void)t; }

uint32_t wasm_rt_grow_funcref_table(wasm_rt_funcref_table_t *t, uint32_t delta, wasm_rt_funcref_t init) {
  (void)t;
  (void)delta;
  (void)init;
  return UINT32_MAX;
}

void wasm_rt_allocate_externref_table(wasm_rt_externref_table_t *t, uint32_t n, uint32_t max) {
  if (n > 0) qn_fatal("wasm externref tables are not supported", n);
  (void)max;
  t->data = 0;
  t->size = 0;
  t->max_size = 0;
}

void wasm_rt_free_externref_table(wasm_rt_externref_table_t *t) { (void)t; }

uint32_t wasm_rt_grow_externref_table(wasm_rt_externref_table_t *t, uint32_t delta, wasm_rt_externref_t init) {
  (void)t;
  (void)delta;
  (void)init;
  return UINT32_MAX;
}
