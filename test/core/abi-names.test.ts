// The names of the ABI's integers, generated from assembly/ (tools/abi-source.mjs):
// build/qn_abi.h gives C every one with its value and compiles as C99 and
// C++, build/qn_abi.ts gives the host the same, the core answers by them,
// and the reader refuses a source it cannot read exactly.
import { describe, it, expect } from "vitest";
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../../host/status.ts";
import { readAbi, readStatus } from "../../tools/abi-source.mjs";
import * as hostAbi from "../../host/abi.ts";
import { loadCore } from "../../host/core.ts";
import { raw } from "../support/raw-core.ts";

const abi = readAbi(ROOT);
const status = readStatus(ROOT);
/** Every C name and its value, as assembly/ defines them. */
const expected = [
  ...abi.constants.map((k) => [`QN_${k.name}`, k.value] as const),
  ...abi.groups.flatMap((g) => g.members.map((m) => [`QN_${m.source}`, m.value] as const)),
  ...status.map((s) => [`QN_${s.name}`, s.value] as const),
];

describe("qn_abi.h", () => {
  it("names every integer of assembly/ with its value, and compiles as C99 and C++ with -pedantic", () => {
    const dir = mkdtempSync(join(tmpdir(), "qn-names-"));
    const src = join(dir, "names.c");
    writeFileSync(
      src,
      `#include "qn_abi.h"
#include <stdio.h>
int main(void) {
${expected.map(([n]) => `  printf("%s=%ld\\n", "${n}", (long)${n});`).join("\n")}
  return 0;
}
`,
    );
    const flags = ["-Wall", "-Wextra", "-Werror", "-pedantic", "-I", join(ROOT, "build")];
    execFileSync("gcc", ["-std=c99", ...flags, "-o", join(dir, "names"), src, "-Wl,--unresolved-symbols=ignore-all"]);
    execFileSync("g++", ["-std=c++11", ...flags, "-x", "c++", "-fsyntax-only", src]);
    const got = execFileSync(join(dir, "names")).toString().trim().split("\n");
    expect(got).toEqual(expected.map(([n, v]) => `${n}=${v}`));
    // Each group is an enum of its own type.
    const h = readFileSync(join(ROOT, "build/qn_abi.h"), "utf8");
    for (const g of abi.groups) expect(h).toContain(`} ${g.c};`);
  });
});

describe("build/qn_abi.ts", () => {
  it("has the same names and values for the host", () => {
    const host = hostAbi as unknown as Record<string, Record<string, number> | number>;
    for (const k of abi.constants) expect(host[k.name], k.name).toBe(k.value);
    for (const g of abi.groups) {
      expect(host[g.ts], g.ts).toEqual(Object.fromEntries(g.members.map((m) => [m.name, m.value])));
    }
    expect(hostAbi.Status).toEqual(Object.fromEntries(status.map((s) => [s.name, s.value])));
    for (const s of status) expect(hostAbi.STATUS_INFO.get(s.value)).toEqual({ name: s.name, message: s.message });
    expect(Object.isFrozen(hostAbi.FrameType)).toBe(true);
  });

  it("the core answers by these names", () => {
    const {
      ConfigKey,
      SessionStat,
      SessionState,
      JournalStat,
      PoolStat,
      Feature,
      Counter,
      COUNTER_COUNT,
      CFG_COUNT,
      QosStat,
    } = hostAbi;
    const core = loadCore();
    const x = raw(core).x;
    expect(x.qn_config_get(ConfigKey.HEARTBEAT_MS)).toBe(1000); // the default (assembly/session.ts)
    expect(x.qn_config_get(ConfigKey.BACKOFF_CAP_MS)).toBe(5000);
    expect(x.qn_config_get(CFG_COUNT)).toBe(0); // past the last key
    expect(x.qn_session_stat(SessionStat.STATE)).toBe(BigInt(SessionState.DOWN));
    expect(x.qn_session_stat(SessionStat.HANDSHAKE_US)).toBe(-1n); // before any handshake
    expect(x.qn_journal_stat(JournalStat.SIZE)).toBe(0);
    expect(x.qn_journal_open(8192)).toBe(0);
    expect(x.qn_journal_stat(JournalStat.SIZE)).toBe(8192);
    expect(x.qn_journal_stat(JournalStat.GENERATION)).toBe(1); // freshly formatted
    expect(x.qn_qos_stat(QosStat.Q1_NEXT)).toBe(1);
    expect(x.qn_pool_stat(0, PoolStat.COUNT)).toBeGreaterThan(0);
    expect(x.qn_pool_stat(0, PoolStat.IN_USE)).toBe(0);
    expect(x.qn_features() & Feature.PB).toBe(Feature.PB);
    core.rx(Uint8Array.of(1, 2, 3, 0));
    expect(core.counter(Counter.BYTES_IN)).toBe(4);
    expect(raw(core).x.qn_counter(COUNTER_COUNT)).toBe(0); // past the named ids
  });
});

describe("the reader of assembly/", () => {
  /** A copy of assembly/ with `edit` applied to one file. */
  function withEdit(file: string, edit: (src: string) => string): string {
    const root = mkdtempSync(join(tmpdir(), "qn-abi-src-"));
    cpSync(join(ROOT, "assembly"), join(root, "assembly"), { recursive: true });
    const p = join(root, "assembly", file);
    writeFileSync(p, edit(readFileSync(p, "utf8")));
    return root;
  }

  it("refuses a member that is not an integer literal, a value twice in a group, and a status it cannot read", () => {
    const computed = withEdit("frame.ts", (s) =>
      s.replace("export const T_PONG: u8 = 0x02;", "export const T_PONG: u8 = T_PING + 1;"),
    );
    expect(() => readAbi(computed)).toThrow(
      /T_PONG = T_PING \+ 1 has the prefix T_ of FrameType but is not an integer literal/,
    );
    const twice = withEdit("counters.ts", (s) =>
      s.replace("export const C_RETX: i32 = 19;", "export const C_RETX: i32 = 18;"),
    );
    expect(() => readAbi(twice)).toThrow(/C_RETX and C_DUP_SUPPRESSED are both 18/);
    const crc = status.find((s) => s.name === "ERR_CRC")!;
    const bare = `${crc.name} = ${crc.value},`;
    const noMessage = withEdit("status.ts", (s) => s.replace(`${bare} // ${crc.message}`, bare));
    expect(() => readStatus(noMessage)).toThrow(`"${bare}" is not`);
    const gone = withEdit("events.ts", (s) => s.replace(/^export const EV_.*$/gm, ""));
    expect(() => readAbi(gone)).toThrow(/no constant with the prefix EV_/);
  });
});
