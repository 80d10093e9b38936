/* A standalone main for one fuzz harness (fuzz/target_*.c): runs
 * LLVMFuzzerInitialize, if the harness has one, then LLVMFuzzerTestOneInput
 * once over every file named, or over every file of every directory named
 * (in name order, so two runs agree). It replaces libFuzzer's driver in the
 * coverage build (coverage.mk), which is compiled without the sanitizers and
 * with clang's source-based coverage on the core.
 *
 * Each input runs in a child forked after the initialiser, so an input that
 * the harness reports as a finding (it aborts) loses only its own counts:
 * the coverage of the others is still measured, and findings are the job of
 * make fuzz-regress, not of the coverage figures. The children's profiles
 * merge into one file when LLVM_PROFILE_FILE holds %m.
 *   fuzz-replay <file-or-dir>...   prints "<inputs> inputs, <n> findings" */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Weak: not every harness needs an initialiser. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static unsigned long inputs, findings;
/* The first findings' paths, named after the summary line. */
#define NAMED_FINDINGS 16
static char *finding_paths[NAMED_FINDINGS];

static void die(const char *what, const char *path) {
  fprintf(stderr, "fuzz-replay: %s: %s\n", path, what);
  exit(2);
}

static void replay_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) die("cannot open", path);
  size_t cap = 4096, n = 0;
  uint8_t *buf = malloc(cap);
  if (!buf) die("out of memory", path);
  size_t got;
  while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap) {
      cap *= 2;
      buf = realloc(buf, cap);
      if (!buf) die("out of memory", path);
    }
  }
  if (ferror(f)) die("read error", path);
  fclose(f);
  fflush(NULL);
  pid_t child = fork();
  if (child < 0) die("cannot fork", path);
  if (child == 0) {
    /* The harness says why on stderr; the parent names the input. */
    if (!freopen("/dev/null", "w", stderr)) _exit(3);
    LLVMFuzzerTestOneInput(buf, n);
    exit(0); /* exit, not _exit: the profile is written at exit */
  }
  int status;
  if (waitpid(child, &status, 0) != child) die("wait failed", path);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    if (findings < NAMED_FINDINGS) finding_paths[findings] = strdup(path);
    findings++;
  }
  free(buf);
  inputs++;
}

static int by_name(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }

static void replay_path(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) die("no such file or directory", path);
  if (!S_ISDIR(st.st_mode)) {
    replay_file(path);
    return;
  }
  struct dirent **names;
  int n = scandir(path, &names, NULL, by_name);
  if (n < 0) die("cannot list", path);
  for (int i = 0; i < n; i++) {
    char child[4096];
    if (names[i]->d_name[0] != '.') {
      if ((size_t)snprintf(child, sizeof child, "%s/%s", path, names[i]->d_name) >= sizeof child)
        die("path too long", path);
      struct stat cst;
      if (stat(child, &cst) == 0 && S_ISREG(cst.st_mode)) replay_file(child);
    }
    free(names[i]);
  }
  free(names);
}

int main(int argc, char **argv) {
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  for (int i = 1; i < argc; i++) replay_path(argv[i]);
  printf("%lu inputs, %lu findings\n", inputs, findings);
  for (unsigned long i = 0; i < findings && i < NAMED_FINDINGS; i++)
    printf("  finding (not counted; make fuzz-regress reports it): %s\n", finding_paths[i]);
  return 0;
}
