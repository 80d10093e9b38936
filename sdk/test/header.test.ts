// qn.h, the application's one header: self-contained (it needs only the
// generated qn_abi.h), valid C99 and C++ under -Wall -Wextra -Werror
// -pedantic, and it keeps the core's raw exports (qn_api.h, which take
// linear-memory offsets) and the probes (qn_probe.h) out of the
// application's sight.
import { describe, it, expect } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(fileURLToPath(import.meta.url), "../../..");
const FLAGS = ["-Wall", "-Wextra", "-Werror", "-pedantic", "-I", join(ROOT, "sdk/include"), "-I", join(ROOT, "build")];

const USE = `#include "qn.h"
#ifdef QN_API_H
#error "qn.h exposes the core's raw exports"
#endif
#ifdef QN_PROBE_H
#error "qn.h exposes the probes"
#endif
static int on_message(const qn_message_t *m, void *user) {
  (void)user;
  int64_t r = qn_publish_msg(m);
  return qn_would_block(r) ? QN_MSG_AGAIN : QN_MSG_DONE;
}
static void on_link(int up, void *user) { (void)up; (void)user; }
int app(void);
int app(void) {
  static const uint8_t key[] = {1, 2, 3};
  qn_config_t cfg = {QN_ROLE_SERVER, QN_AUTH_FRAME_MAC, key, sizeof key, 0, 0, on_message, on_link, 0};
  if (qn_start(&cfg) != QN_OK) return 1;
  int64_t id = qn_publish(3, QN_QOS_AT_LEAST_ONCE, QN_PRIO_BULK, "x", 1);
  if (id < 0) return qn_status_str((int32_t)id)[0];
  return qn_poll() + qn_link_up();
}
`;

describe("qn.h", () => {
  it("compiles alone as C99 and as C++11 with -Wall -Wextra -Werror -pedantic", () => {
    const dir = mkdtempSync(join(tmpdir(), "qn-h-"));
    try {
      const src = join(dir, "use.c");
      writeFileSync(src, USE);
      execFileSync("gcc", ["-std=c99", ...FLAGS, "-c", src, "-o", join(dir, "use.o")]);
      execFileSync("g++", ["-std=c++11", ...FLAGS, "-x", "c++", "-c", src, "-o", join(dir, "use-cpp.o")]);
      // C++ callers link against the C library: the names are not mangled.
      const syms = execFileSync("nm", [join(dir, "use-cpp.o")]).toString();
      expect(syms).toMatch(/ U qn_publish_msg$/m);
      expect(syms).toMatch(/ U qn_start$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses to compile an application that reaches for a raw export", () => {
    const dir = mkdtempSync(join(tmpdir(), "qn-h-"));
    try {
      const src = join(dir, "raw.c");
      writeFileSync(src, `#include "qn.h"\nint f(void);\nint f(void) { return (int)qn_core_app_buf(); }\n`);
      expect(() =>
        execFileSync("gcc", ["-std=c99", ...FLAGS, "-c", src, "-o", join(dir, "raw.o")], { stdio: "pipe" }),
      ).toThrow(/qn_core_app_buf/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
