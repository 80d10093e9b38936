/* What the core reports about its board (identity, the selftest): the
 * platform name, clock and memory, traps caught, the firmware image's
 * CRC-32C (computed a slice per loop turn, so the check never delays a
 * frame by much) and the main stack's high-water mark.
 */
#include <string.h>
#include "qn_api.h"
#include "qn_crc32c.h"
#include "qn_lib.h"
#include "qn_port.h"

/* How often the stack high-water mark is handed to the core. */
#define STACK_REPORT_US 10000u
/* Image bytes CRC'd per loop turn: ~2,600 instructions on the M7. */
#define IMAGE_SLICE 256u

static uint32_t last_stack_report;
/* Image check: progress through qn_port_image's bytes. */
static struct {
  const uint8_t *start;
  uint32_t len, done, crc;
  int32_t state;
} image;
enum { IMAGE_PENDING, IMAGE_RUNNING, IMAGE_DONE, IMAGE_NONE };

/* The name must be in linear memory: it is staged in the application
 * area, which is free while a core starts. */
void qn_lib_device_info(uint32_t traps) {
  const char *name = qn_port_platform();
  int32_t len = (int32_t)strlen(name);
  memcpy(qn_core_mem() + qn_core_app_buf(), name, (size_t)len);
  qn_core_board_info(qn_port_clock_hz(), qn_core_mem_size(), qn_core_app_buf(), len);
  for (uint32_t i = 0; i < traps; i++) qn_core_board_trap();
  if (image.state == IMAGE_DONE) qn_core_board_image(image.crc, image.len);
}

int qn_lib_device_image_service(void) {
  if (image.state == IMAGE_DONE || image.state == IMAGE_NONE) return 0;
  if (image.state == IMAGE_PENDING) {
    if (!qn_port_image(&image.start, &image.len)) {
      image.state = IMAGE_NONE;
      return 0;
    }
    image.crc = QN_CRC32C_INIT;
    image.state = IMAGE_RUNNING;
  }
  uint32_t n = image.len - image.done < IMAGE_SLICE ? image.len - image.done : IMAGE_SLICE;
  image.crc = qn_crc32c_update(image.crc, image.start + image.done, n);
  image.done += n;
  if (image.done == image.len) {
    image.crc = qn_crc32c_final(image.crc);
    image.state = IMAGE_DONE;
    qn_core_board_image(image.crc, image.len);
  }
  return 1;
}

void qn_lib_device_stack_service(uint32_t now) {
  if (now - last_stack_report < STACK_REPORT_US) return;
  uint32_t used, size;
  if (qn_port_stack(&used, &size)) qn_core_board_stack(used, size);
  last_stack_report = now;
}
