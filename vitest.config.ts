import { readFileSync } from "node:fs";
import { defineConfig } from "vitest/config";

// The TypeScript floors (make coverage, coverage.mk): `vitest run --coverage`
// fails below them.
const floors = JSON.parse(readFileSync(new URL("./coverage-floors.json", import.meta.url), "utf8")) as {
  ts: { lines: number; branches: number };
};

export default defineConfig({
  test: {
    include: ["**/*.test.ts"],
    exclude: ["node_modules/**", "build/**"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Suites that boot QEMU or a board process run one file at a time: the
    // machine has 2 cores and a starved emulator makes timings flaky.
    fileParallelism: false,
    // Off unless asked (--coverage). The product code only: the Node shells
    // of the core, the gateway and the selftest, every file of them counted
    // whether a test loads it or not. Code that runs in a child process (the
    // CLIs the tests spawn) is not seen.
    coverage: {
      provider: "v8",
      include: ["host/**/*.ts", "gateway/**/*.ts", "selftest/**/*.ts"],
      exclude: ["**/test/**", "**/*.test.ts"],
      reportsDirectory: "build/coverage/ts",
      reporter: ["text-summary", "json-summary"],
      thresholds: { lines: floors.ts.lines, branches: floors.ts.branches },
    },
  },
});
