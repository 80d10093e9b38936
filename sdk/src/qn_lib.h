/* qn_lib.h: what the library's files share (sdk/src); not installed.
 *
 * The loop (qn_loop.c) owns the core's life: start, trap recovery, one
 * turn of qn_poll. qn_messages.c moves messages between the core's
 * application area and the application; qn_device.c tells the core about
 * the board (name, clock, image CRC, stack). */
#ifndef QN_LIB_H
#define QN_LIB_H

#include <stdint.h>
#include "qn.h"
#include "qn_wasm_rt.h"

/* The application's configuration, as qn_start was given it. */
extern qn_config_t qn_lib_cfg;

/* The trap target every library call into the core arms (qn_loop.c). */
extern qn_trap_target_t qn_lib_trap;

/* A core call trapped with code: count it, start a fresh core, tell the
 * peer. */
void qn_lib_recover(int code);

/* Deliver the next received DATA message (or the held one) to the
 * callback; handles RESET_REQ. Returns 1 when it did work. */
int qn_lib_messages_service(void);
/* 1 while a message waits for redelivery (the callback said AGAIN). */
int qn_lib_messages_held(void);
/* Forget the held message (the core restarted: its frame is gone). */
void qn_lib_messages_reset(void);

/* Tell a fresh core about the board (name, clock, memory, traps, image). */
void qn_lib_device_info(uint32_t traps);
/* One slice of the image CRC; returns 1 when it did work. */
int qn_lib_device_image_service(void);
/* Hand the stack high-water mark to the core now and then. */
void qn_lib_device_stack_service(uint32_t now);

#endif /* QN_LIB_H */
