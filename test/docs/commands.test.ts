// The docs say what is so: every `make` command for a board target names its
// PLATFORM (the build refuses one without), `make test-core` runs the core's
// suites (test/core, test/protocol) alone, and the README's status table
// copies no benchmark figures (they live in bench/RESULTS.md, from a run),
// docs/OPERATIONS.md names the device events as the gateway logs them, and
// what the README's gateway command writes stays out of git.
import { describe, it, expect } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parse } from "yaml";
import { ROOT } from "../../host/status.ts";
import { EVENT_TYPE_NAMES } from "../../host/abi.ts";

const DOCS = [
  "README.md",
  "boards/README.md",
  "bench/README.md",
  "qn_config.mk",
  ...(existsSync(join(ROOT, "docs"))
    ? readdirSync(join(ROOT, "docs"))
        .filter((f) => f.endsWith(".md"))
        .map((f) => `docs/${f}`)
    : []),
];

/** Every `make ...` a doc gives: in backticks, or a line of a code block. */
function makeCommands(text: string): string[] {
  const out = [...text.matchAll(/`(make [^`]*)`/g)].map((m) => m[1]);
  for (const line of text.split("\n")) if (/^\s*make\s/.test(line)) out.push(line.replace(/#.*/, "").trim());
  return out;
}

describe("docs: make commands", () => {
  it("every make command for a board target names PLATFORM", () => {
    const mk = readFileSync(join(ROOT, "boards/boards.mk"), "utf8");
    // The targets boards.mk refuses without PLATFORM.
    const m = /ifndef PLATFORM\n([a-z -]+):/.exec(mk);
    expect(m, "boards.mk: the targets that need PLATFORM").not.toBeNull();
    const needPlatform = m![1].trim().split(/\s+/);
    expect(needPlatform).toContain("size");
    const bad: string[] = [];
    for (const doc of DOCS) {
      for (const cmd of makeCommands(readFileSync(join(ROOT, doc), "utf8"))) {
        const words = cmd.split(/\s+/).slice(1);
        // make -C <dir> runs that folder's Makefile (an SDK application's qn.mk), not boards.mk.
        if (words.includes("-C")) continue;
        const goals = words.filter((w) => !w.includes("=") && !w.startsWith("-") && /^[a-z][a-z0-9-]*$/.test(w));
        if (goals.some((g) => needPlatform.includes(g)) && !words.some((w) => w.startsWith("PLATFORM=")))
          bad.push(`${doc}: ${cmd}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it("make test-core runs test/core and test/protocol, nothing else", () => {
    const dry = execFileSync("make", ["-n", "test-core"], { cwd: ROOT, encoding: "utf8" });
    const line = dry.split("\n").find((l) => /vitest run/.test(l));
    expect(line, dry).toBeDefined();
    const args = line!
      .replace(/^.*vitest run/, "")
      .trim()
      .split(/\s+/)
      .filter(Boolean);
    const listed = execFileSync(
      join(ROOT, "node_modules/.bin/vitest"),
      ["list", "--filesOnly", ...args.filter((a) => !a.startsWith("--reporter"))],
      { cwd: ROOT, encoding: "utf8" },
    )
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l.endsWith(".test.ts"))
      .sort();
    const want = ["test/core", "test/protocol"]
      .flatMap((d) =>
        readdirSync(join(ROOT, d))
          .filter((f) => f.endsWith(".test.ts"))
          .map((f) => `${d}/${f}`),
      )
      .sort();
    expect(listed).toEqual(want);
  });
});

describe("docs: README status", () => {
  it("the status table quotes no benchmark ratios: it points to bench/RESULTS.md", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const status = readme.slice(
      readme.indexOf("\n## Status"),
      readme.indexOf("\n## ", readme.indexOf("\n## Status") + 1),
    );
    const row = status.split("\n").find((l) => l.startsWith("| benchmarks"));
    expect(row, "the benchmarks row").toBeDefined();
    expect(row).toMatch(/bench\/RESULTS\.md/);
    // Goals (≥ 3×, ≤ 1.5×) are the table's to state; measured ratios are not.
    expect(status.match(/(?<![≥≤]\s?|[\d.,])\d[\d.,]*\s?×/g) ?? []).toEqual([]);
  });
});

describe("docs: log event names", () => {
  it("docs/OPERATIONS.md gives each device event name the gateway writes in `event` (gateway/event-log.ts)", () => {
    const text = readFileSync(join(ROOT, "docs/OPERATIONS.md"), "utf8");
    const logs = text.slice(text.indexOf("## Logs"), text.indexOf("## Traces"));
    const missing = [...EVENT_TYPE_NAMES.values()].filter((name) => !logs.includes(`\`${name}\``));
    expect(missing).toEqual([]);
  });
});

describe("docs: the README's gateway", () => {
  it("every file gateway/example.yaml writes (token, spool, journals) is ignored by git", () => {
    const file = join(ROOT, "gateway/example.yaml");
    const cfg = parse(readFileSync(file, "utf8"));
    const written = [
      cfg.gateway.ops.token_file,
      cfg.gateway.spool,
      ...cfg.devices.map((d: { journal: string }) => d.journal),
    ].map((p: string) => resolve(dirname(file), p));
    expect(written.length).toBeGreaterThan(2);
    // check-ignore prints the ignored ones (and fails when there are none).
    const r = spawnSync("git", ["check-ignore", "--no-index", ...written], { cwd: ROOT, encoding: "utf8" });
    expect(r.stdout.trim().split("\n").filter(Boolean).sort()).toEqual([...written].sort());
  });
});
