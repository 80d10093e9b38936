/* posix: the firmware as a Linux process. Its UART is the master side of a
 * pseudo-terminal (the path of the slave is printed on stdout), its storage
 * a file that survives kill -9, its clock CLOCK_MONOTONIC, its entropy
 * getrandom(). SIGTERM/SIGINT end it cleanly (exit 0); a reset request ends
 * it with status 75 for its runner to restart it; SIGUSR1 makes the core
 * trap once (test hook, main.c). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include "qn_port.h"
#include "qn_byte_ring.h"

#define STORE_SIZE 65536u
#define STORE_SECTOR 4096u
#define DEFAULT_FLASH "qn_flash.bin"

static int master = -1, slave = -1, flash = -1;
static qn_byte_ring_t tx;
static struct timespec t0;
static volatile sig_atomic_t stop, trap_req;

static void on_stop(int sig) {
  (void)sig;
  stop = 1;
}
static void on_trap(int sig) {
  (void)sig;
  trap_req = 1;
}

int32_t qn_posix_trap_requested(void);
int32_t qn_posix_trap_requested(void) {
  if (!trap_req) return 0;
  trap_req = 0;
  return 1;
}

static int32_t open_pty(void) {
  master = posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0) return QN_ERR_IO;
  const char *name = ptsname(master);
  if (!name) return QN_ERR_IO;
  /* Keep a slave descriptor open: with none, reads on the master fail with
   * EIO whenever the host has closed its end. Raw mode: bytes, not lines. */
  slave = open(name, O_RDWR | O_NOCTTY);
  if (slave < 0) return QN_ERR_IO;
  struct termios tio;
  if (tcgetattr(slave, &tio) != 0) return QN_ERR_IO;
  cfmakeraw(&tio);
  if (tcsetattr(slave, TCSANOW, &tio) != 0) return QN_ERR_IO;
  if (fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK) != 0) return QN_ERR_IO;
  printf("qn-posix: uart %s\n", name);
  fflush(stdout);
  return QN_OK;
}

/* The storage file: created erased (0xFF) at the region size. */
static int32_t open_flash(void) {
  const char *path = getenv("QN_FLASH");
  if (!path || !*path) path = DEFAULT_FLASH;
  flash = open(path, O_RDWR | O_CREAT, 0644);
  if (flash < 0) return QN_ERR_STORAGE;
  off_t size = lseek(flash, 0, SEEK_END);
  if (size < (off_t)STORE_SIZE) {
    static uint8_t ff[STORE_SECTOR];
    memset(ff, 0xFF, sizeof ff);
    for (off_t off = size - size % STORE_SECTOR; off < (off_t)STORE_SIZE; off += STORE_SECTOR)
      if (pwrite(flash, ff, STORE_SECTOR, off) != (ssize_t)STORE_SECTOR) return QN_ERR_STORAGE;
  }
  printf("qn-posix: flash %s\n", path);
  fflush(stdout);
  return QN_OK;
}

int32_t qn_port_init(void) {
  clock_gettime(CLOCK_MONOTONIC, &t0);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop;
  sigaction(SIGTERM, &sa, 0);
  sigaction(SIGINT, &sa, 0);
  sa.sa_handler = on_trap;
  sigaction(SIGUSR1, &sa, 0);
  signal(SIGPIPE, SIG_IGN);
  int32_t st = open_pty();
  if (st != QN_OK) return st;
  return open_flash();
}

const char *qn_port_platform(void) { return "posix"; }
/* A process has no core clock of its own to report. */
uint32_t qn_port_clock_hz(void) { return 0; }

void qn_port_ready(void) {
  printf("qn-posix: ready\n");
  fflush(stdout);
}

int32_t qn_port_stop_requested(void) { return stop; }

/* A reset ends the process with QN_PORT_EXIT_RESET (75); whoever runs it
 * (a test, a supervisor loop) starts it again, with a new pty, over the
 * same storage file. This is the path a power-cut test takes too (kill -9,
 * start again), so both exercise the same recovery. Unflushed transmit
 * bytes are lost, as on a board. */
void qn_port_reset(void) {
  printf("qn-posix: reset\n");
  fflush(stdout);
  _exit(QN_PORT_EXIT_RESET);
}

void qn_port_exit(int32_t status) {
  printf("qn-posix: exit %d\n", (int)status);
  fflush(stdout);
  if (flash >= 0) close(flash);
  if (slave >= 0) close(slave);
  if (master >= 0) close(master);
  exit(status);
}

uint64_t qn_port_now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)(t.tv_sec - t0.tv_sec) * 1000000u + (uint64_t)((t.tv_nsec - t0.tv_nsec) / 1000);
}

int32_t qn_port_uart_read(uint8_t *dst, int32_t max) {
  ssize_t n = read(master, dst, (size_t)max);
  return n > 0 ? (int32_t)n : 0; /* EAGAIN: nothing now */
}

int32_t qn_port_uart_tx_space(void) { return (int32_t)qn_ring_space(&tx); }

int32_t qn_port_uart_write(const uint8_t *src, int32_t len) {
  int32_t n = qn_ring_write(&tx, src, len);
  qn_port_uart_service();
  return n;
}

/* Write the ring's contiguous part; the pty pushes back with EAGAIN. */
void qn_port_uart_service(void) {
  while (qn_ring_count(&tx) > 0) {
    uint32_t at = tx.tail & (QN_RING_SIZE - 1u);
    uint32_t n = qn_ring_count(&tx);
    if (n > QN_RING_SIZE - at) n = QN_RING_SIZE - at;
    ssize_t k = write(master, tx.buf + at, n);
    if (k <= 0) return;
    tx.tail += (uint32_t)k;
  }
}

/* The kernel's pty buffer is the ring: nothing is counted as lost here. */
uint32_t qn_port_uart_overruns(void) { return 0; }

/* Sleep until a byte arrives, the pty can take more, or 1 ms passes (the
 * core's timers need the clock to advance). */
void qn_port_idle(void) {
  struct pollfd p = {.fd = master, .events = POLLIN};
  if (qn_ring_count(&tx) > 0) p.events |= POLLOUT;
  poll(&p, 1, 1);
}

void qn_port_panic_write(const char *s) {
  if (write(STDERR_FILENO, s, strlen(s)) < 0) {
    /* nothing left to report it on */
  }
}

uint32_t qn_port_storage_size(void) { return STORE_SIZE; }
uint32_t qn_port_storage_sector(void) { return STORE_SECTOR; }
uint32_t qn_port_storage_unit(void) { return 1; }

static int in_range(uint32_t off, uint32_t len) { return off <= STORE_SIZE && len <= STORE_SIZE - off; }

int32_t qn_port_storage_read(uint32_t off, uint8_t *dst, uint32_t len) {
  if (!in_range(off, len)) return QN_ERR_ARG;
  return pread(flash, dst, len, off) == (ssize_t)len ? QN_OK : QN_ERR_STORAGE;
}

/* NOR semantics, as on the MCU boards: a write only clears bits. Durable
 * on return (qn_port.h): fdatasync after the write, so it survives a
 * power cut of the host as well as kill -9. */
int32_t qn_port_storage_write(uint32_t off, const uint8_t *src, uint32_t len) {
  if (!in_range(off, len)) return QN_ERR_ARG;
  uint8_t buf[256];
  for (uint32_t done = 0; done < len;) {
    uint32_t n = len - done < sizeof buf ? len - done : (uint32_t)sizeof buf;
    if (pread(flash, buf, n, off + done) != (ssize_t)n) return QN_ERR_STORAGE;
    for (uint32_t i = 0; i < n; i++) buf[i] &= src[done + i];
    if (pwrite(flash, buf, n, off + done) != (ssize_t)n) return QN_ERR_STORAGE;
    done += n;
  }
  return fdatasync(flash) == 0 ? QN_OK : QN_ERR_STORAGE;
}

int32_t qn_port_storage_erase(uint32_t off) {
  if (off % STORE_SECTOR != 0 || off >= STORE_SIZE) return QN_ERR_ARG;
  static uint8_t ff[STORE_SECTOR];
  memset(ff, 0xFF, sizeof ff);
  if (pwrite(flash, ff, STORE_SECTOR, off) != (ssize_t)STORE_SECTOR) return QN_ERR_STORAGE;
  return fdatasync(flash) == 0 ? QN_OK : QN_ERR_STORAGE;
}

/* The kernel's CSPRNG. getrandom may return fewer bytes than asked (or be
 * interrupted by a signal): loop, but never block waiting for the pool. */
int32_t qn_port_entropy(uint8_t *dst, uint32_t len) {
  for (uint32_t done = 0; done < len;) {
    ssize_t n = getrandom(dst + done, len - done, GRND_NONBLOCK);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return QN_ERR_IO;
    done += (uint32_t)n;
  }
  return QN_OK;
}

/* A process has no flash image to check: identity reports no image CRC,
 * and the build writes no image.json for posix (the selftest skips). */
int32_t qn_port_image(const uint8_t **start, uint32_t *len) {
  *start = 0;
  *len = 0;
  return 0;
}

/* Stack painting is for the MCU boards; a process cannot measure it. */
int32_t qn_port_stack(uint32_t *used, uint32_t *size) {
  *used = 0;
  *size = 0;
  return 0;
}
