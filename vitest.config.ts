import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["**/*.test.ts"],
    exclude: ["node_modules/**", "build/**"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Suites that boot QEMU or a board process run one file at a time: the
    // machine has 2 cores and a starved emulator makes timings flaky.
    fileParallelism: false,
  },
});
