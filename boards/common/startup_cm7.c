/* Cortex-M7 start-up shared by the ARM boards: vector table, reset
 * handler (.data/.bss, FPU, stack painting), fault reports, and the
 * painted-stack measurement behind qn_port_stack.
 * The board supplies QN_IRQ_COUNT and QN_RESET_HZ (board.mk). */
#include <stdint.h>
#include <string.h>
#include "qn_cm7.h"
#include "qn_port.h"

#ifndef QN_IRQ_COUNT
#error "board.mk must define QN_IRQ_COUNT (device interrupts in the vector table)"
#endif
#ifndef QN_RESET_HZ
#error "board.mk must define QN_RESET_HZ (core clock out of reset)"
#endif

#define STACK_PAINT 0xA5A5A5A5u

/* From the linker script (boards/common/cm7_sections.ld). */
extern uint32_t _sidata[], _sdata[], _edata[], _sbss[], _ebss[], _sstack[], _estack[];

int main(void);
void Reset_Handler(void);
void SysTick_Handler(void);
static void fault_handler(void);
static void irq_dispatch(void);

__attribute__((weak)) void qn_board_early(void) {}

/* Faults share one handler: it reads which one from IPSR. The table is
 * laid out by hand, one vector a line. */
/* clang-format off */
__attribute__((section(".isr_vector"), used))
static void (*const vectors[16 + QN_IRQ_COUNT])(void) = {
  [0] = (void (*)(void))_estack,
  [1] = Reset_Handler,
  [2] = fault_handler,  /* NMI */
  [3] = fault_handler,  /* HardFault */
  [4] = fault_handler,  /* MemManage */
  [5] = fault_handler,  /* BusFault */
  [6] = fault_handler,  /* UsageFault */
  [11] = fault_handler, /* SVCall: never used */
  [12] = fault_handler, /* DebugMonitor */
  [14] = fault_handler, /* PendSV: never used */
  [15] = SysTick_Handler,
  [16 ... 16 + QN_IRQ_COUNT - 1] = irq_dispatch,
};
/* clang-format on */

static uint32_t ipsr(void) {
  uint32_t v;
  __asm volatile("mrs %0, ipsr" : "=r"(v));
  return v & 0x1FFu;
}

static void irq_dispatch(void) { qn_board_irq(ipsr() - 16u); }

/* Fill the unused stack with a pattern, up to a margin below the live SP,
 * so the high-water mark can be read off later. */
static void paint_stack(void) {
  uint32_t *sp;
  __asm volatile("mov %0, sp" : "=r"(sp));
  for (uint32_t *p = _sstack; p < sp - 16; p++) *p = STACK_PAINT;
}

void Reset_Handler(void) {
  /* Clock first: boot cost counts from here. Registers and .noinit only. */
  qn_systick_boot(QN_RESET_HZ);
  qn_board_early();
  memcpy(_sdata, _sidata, (size_t)((uint8_t *)_edata - (uint8_t *)_sdata));
  memset(_sbss, 0, (size_t)((uint8_t *)_ebss - (uint8_t *)_sbss));
  QN_SCB_CPACR |= 0xFu << 20; /* CP10, CP11 full access: the FPU */
  qn_cm7_dsb_isb();
  /* Trap divide by zero and let MemManage/Bus/Usage faults report as such. */
  QN_REG(0xE000ED14u) |= 1u << 4; /* CCR.DIV_0_TRP */
  QN_SCB_SHCSR |= (1u << 16) | (1u << 17) | (1u << 18);
  paint_stack();
  main();
  qn_port_exit(0);
}

int32_t qn_port_stack(uint32_t *used, uint32_t *size) {
  const uint32_t *p = _sstack;
  while (p < _estack && *p == STACK_PAINT) p++;
  *used = (uint32_t)((const uint8_t *)_estack - (const uint8_t *)p);
  *size = (uint32_t)((const uint8_t *)_estack - (const uint8_t *)_sstack);
  return 1;
}

/* The image as qn.bin holds it (cm7_sections.ld: contiguous by assertion).
 * On mps2-an500 it starts at address 0, hence -fno-delete-null-pointer-checks
 * for the ARM boards (boards.mk). */
extern const uint8_t qn_image_start[], qn_image_end[];

int32_t qn_port_image(const uint8_t **start, uint32_t *len) {
  *start = qn_image_start;
  *len = (uint32_t)((uintptr_t)qn_image_end - (uintptr_t)qn_image_start);
  return 1;
}

static void put_hex(char *p, uint32_t v) {
  static const char hex[] = "0123456789abcdef";
  for (int i = 7; i >= 0; i--, v >>= 4) p[i] = hex[v & 15];
}

static void report(const char *name, uint32_t v) {
  char buf[] = "=00000000 ";
  put_hex(buf + 1, v);
  qn_port_panic_write(name);
  qn_port_panic_write(buf);
}

/* Report the fault with the stacked PC and the fault status registers,
 * then stop (QEMU: semihosting exit 1, so a crash never hangs a test). */
void qn_cm7_fault_report(const uint32_t *frame, uint32_t exc);
__attribute__((used)) void qn_cm7_fault_report(const uint32_t *frame, uint32_t exc) {
  static const char *const names[] = {"?", "?", "NMI", "HardFault", "MemManage", "BusFault", "UsageFault"};
  qn_port_panic_write("\r\nqn: fault ");
  qn_port_panic_write(exc < 7 ? names[exc] : "exception");
  qn_port_panic_write(" ");
  report("exc", exc);
  report("pc", frame[6]);
  report("lr", frame[5]);
  report("cfsr", QN_SCB_CFSR);
  report("hfsr", QN_SCB_HFSR);
  report("bfar", QN_SCB_BFAR);
  qn_port_panic_write("\r\n");
  qn_port_exit(3);
}

/* Naked: picks the stack the fault frame was pushed on (MSP or PSP). */
__attribute__((naked)) static void fault_handler(void) {
  __asm volatile("tst lr, #4\n"
                 "ite eq\n"
                 "mrseq r0, msp\n"
                 "mrsne r0, psp\n"
                 "mrs r1, ipsr\n"
                 "ubfx r1, r1, #0, #9\n"
                 "b qn_cm7_fault_report\n");
}
