// The ABI's named integers have one definition, in assembly/, and the
// build generates the C names (build/qn_abi.h) and the host's
// (build/qn_abi.ts) from it. This scans every hand-written TypeScript,
// JavaScript and C file for a copy that came back: a name of the ABI bound
// to its number (`PING: 0x01`, `const CFG_NODE = 9`, `#define T_DATA 0x10`),
// a number table of event names or status names, a stat selector, counter
// id, config key, event type, field kind or frame type written as a bare
// number at the call, the zig-zag decoding written out again, or the host
// parsing assembly/ at run time.
import { describe, it, expect } from "vitest";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { readAbi, readStatus } from "../../tools/abi-source.mjs";

const ROOT = join(fileURLToPath(import.meta.url), "../../..");
const SELF = relative(ROOT, fileURLToPath(import.meta.url));
/** Every folder of hand-written code: all but the definition (assembly/),
 *  the generated copies (build/), installed packages and dot folders. */
const SKIP = new Set(["assembly", "build", "node_modules"]);
const DIRS = readdirSync(ROOT, { withFileTypes: true })
  .filter((e) => e.isDirectory() && !e.name.startsWith(".") && !SKIP.has(e.name))
  .map((e) => e.name);
const EXT = /\.(ts|mts|mjs|c|h)$/;
/** The one zig-zag decoder on the host side. */
const ZIGZAG_HOME = "host/zigzag.ts";

function files(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...files(p));
    else if (EXT.test(e.name) && p !== SELF) out.push(p);
  }
  return out;
}

const SOURCES = DIRS.flatMap(files).map((path) => ({ path, text: readFileSync(join(ROOT, path), "utf8") }));

interface Hit {
  path: string;
  line: number;
  text: string;
  why: string;
}

function lineOf(text: string, index: number): number {
  let n = 1;
  for (let i = 0; i < index; i++) if (text.charCodeAt(i) === 10) n++;
  return n;
}

function hitsOf(re: RegExp, why: string, only: (path: string) => boolean = () => true): Hit[] {
  const out: Hit[] = [];
  for (const f of SOURCES) {
    if (!only(f.path)) continue;
    for (const m of f.text.matchAll(re)) {
      const line = lineOf(f.text, m.index);
      out.push({ path: f.path, line, text: f.text.split("\n")[line - 1].trim(), why });
    }
  }
  return out;
}

const show = (hits: Hit[]) => hits.map((h) => `${h.path}:${h.line}: ${h.why}: ${h.text}`).join("\n");

interface Named {
  group: string;
  names: string[];
  distinct: boolean;
}

/** Every named integer by its value, with the spellings a copy would use:
 *  its name in its group (PING), as assembly/ writes it (T_PING) and in C
 *  (QN_T_PING). A name with an underscore is specific enough to flag
 *  alone; a short one (PING, NONE, UP) only in a table: two or more of its
 *  group in one file. */
function namedByValue(): Map<number, Named[]> {
  const abi = readAbi(ROOT);
  const out = new Map<number, Named[]>();
  const add = (value: number, n: Named) => out.set(value, [...(out.get(value) ?? []), n]);
  for (const g of abi.groups) {
    for (const m of g.members) {
      add(m.value, { group: g.ts, names: [m.source, `QN_${m.source}`], distinct: true });
      add(m.value, { group: g.ts, names: [m.name], distinct: m.name.includes("_") });
    }
  }
  for (const k of abi.constants) add(k.value, { group: "constant", names: [k.name, `QN_${k.name}`], distinct: true });
  for (const s of readStatus(ROOT))
    add(s.value, { group: "Status", names: [s.name, `QN_${s.name}`], distinct: s.name !== "OK" });
  return out;
}

/** An identifier bound to a number: `NAME: 1`, `NAME = 0x01`, `#define NAME 1`. */
const NUM = "(-\\s*\\d+|0[xX][0-9a-fA-F]+|\\d+)(?![0-9A-Za-z_.])";
const BINDING = new RegExp(
  `(?<![A-Za-z0-9_])([A-Za-z_][A-Za-z0-9_]*)\\s*[:=]\\s*${NUM}|#define\\s+([A-Za-z_][A-Za-z0-9_]*)\\s+\\(?${NUM}`,
  "g",
);

describe("one source for the ABI's integers", () => {
  it("no name of the ABI is bound to its number outside assembly/ and build/", () => {
    const byValue = namedByValue();
    const hits: (Hit & { group: string; distinct: boolean })[] = [];
    for (const f of SOURCES) {
      for (const m of f.text.matchAll(BINDING)) {
        const id = m[1] ?? m[3];
        const value = Number((m[2] ?? m[4]).replace(/\s/g, ""));
        // The identifier is the name or ends in _<name> (QN_EVENT_TRAP is EV_TRAP);
        // a specific name in any case (heartbeat_ms: 2 is CFG_HEARTBEAT_MS).
        for (const n of byValue.get(value) ?? []) {
          const as = n.distinct ? id.toUpperCase() : id;
          if (!n.names.some((name) => as === name || as.endsWith(`_${name}`))) continue;
          const line = lineOf(f.text, m.index);
          hits.push({
            path: f.path,
            line,
            text: f.text.split("\n")[line - 1].trim(),
            why: `${n.group} ${id} = ${value}`,
            group: n.group,
            distinct: n.distinct,
          });
        }
      }
    }
    const inFile = (path: string, group: string) => hits.filter((h) => h.path === path && h.group === group).length;
    const copies = hits.filter((h) => h.distinct || inFile(h.path, h.group) >= 2);
    // One line per copy, however many of its spellings matched.
    expect([...new Set(show(copies).split("\n"))].join("\n")).toBe("");
  });

  it("no number table of event names or status names", () => {
    const abi = readAbi(ROOT);
    const events = abi.groups.find((g) => g.ts === "EventType")!.members.map((m) => m.doc);
    const statuses = readStatus(ROOT).map((s) => s.name);
    const hits = [
      ...hitsOf(new RegExp(`\\b\\d+\\s*:\\s*"(?:${events.join("|")})"`, "g"), "event type -> name"),
      ...hitsOf(new RegExp(`-?\\d+\\s*:\\s*"(?:${statuses.join("|")})"`, "g"), "status -> name"),
    ];
    expect(show(hits)).toBe("");
  });

  it("no selector, counter id, config key, event type, field kind, codec or frame type as a bare number", () => {
    const abi = readAbi(ROOT);
    const values = (ts: string) => new Set(abi.groups.find((g) => g.ts === ts)!.members.map((m) => m.value));
    // The number a pattern captures counts when it is a member of its group:
    // an out-of-range value written on purpose (a test of ERR_CODEC) is not a copy.
    const N = "(0[xX][0-9a-fA-F]+|\\d+)(?![0-9A-Za-z_.])";
    const checks: [RegExp, string][] = [
      [new RegExp(`\\b(?:qn_)?session_stat\\(\\s*${N}`, "g"), "SessionStat"],
      [new RegExp(`\\b(?:qn_)?qos_stat\\(\\s*${N}`, "g"), "QosStat"],
      [new RegExp(`\\b(?:qn_)?journal_stat\\(\\s*${N}`, "g"), "JournalStat"],
      [new RegExp(`\\b(?:qn_)?sched_stat\\(\\s*${N}`, "g"), "SchedStat"],
      [new RegExp(`\\bqn_pool_stat\\([^,()]+,\\s*${N}`, "g"), "PoolStat"],
      [new RegExp(`\\b(?:qn_)?counter\\(\\s*${N}`, "g"), "Counter"],
      [new RegExp(`\\bqn_config_(?:set|get)\\(\\s*${N}`, "g"), "ConfigKey"],
      [new RegExp(`\\bqn_event\\(\\s*${N}`, "g"), "EventType"],
      [new RegExp(`\\bqn_msg_add\\([^,()]+,\\s*${N}`, "g"), "FieldKind"],
      [new RegExp(`\\b(?:qn_)?(?:en|de)code\\(\\s*${N}\\s*,`, "g"), "Codec"],
      [new RegExp(`\\bqn_send\\(\\s*${N}`, "g"), "FrameType"],
      [new RegExp(`\\.type\\s*[!=]==?\\s*${N}|\\btype:\\s*${N}`, "g"), "FrameType"],
      [new RegExp(`\\.(?:request|send)\\(\\s*${N}`, "g"), "FrameType"],
    ];
    const hits: Hit[] = [];
    for (const [re, group] of checks) {
      const ok = values(group);
      for (const f of SOURCES) {
        for (const m of f.text.matchAll(re)) {
          const n = Number(m.slice(1).find((x) => x !== undefined));
          if (!ok.has(n)) continue;
          const line = lineOf(f.text, m.index);
          hits.push({
            path: f.path,
            line,
            text: f.text.split("\n")[line - 1].trim(),
            why: `${group} ${n} as a number`,
          });
        }
      }
    }
    expect(show(hits)).toBe("");
  });

  it("the flags' QoS field is read through its names", () => {
    const hits = hitsOf(/>>\s*2\s*\)\s*&\s*3\b/g, "QoS field decoded by hand");
    expect(show(hits)).toBe("");
  });

  it(`zig-zag decoding is written once, in ${ZIGZAG_HOME}`, () => {
    const hits = hitsOf(/>>\s*1n?\)\s*\^\s*-\s*\(/g, "zig-zag decoding", (p) => p !== ZIGZAG_HOME);
    expect(show(hits)).toBe("");
  });

  it("nothing outside the build tools and tests reads assembly/ at run time", () => {
    const hits = hitsOf(
      /abi-source\.mjs|assembly\/status\.ts["'`]/g,
      "reads assembly/",
      (p) => !p.startsWith("tools/") && !p.startsWith("test/"),
    );
    expect(show(hits)).toBe("");
  });
});
