// Runs build/bench/bench.elf (bench/firmware/bench_main.c) under
// qemu-system-arm -M mps2-an500 -icount shift=0 and turns its JSON lines
// into instructions per operation (1 instruction = 1 ns of virtual time).
// Usage: node --import tsx bench/m7.ts [elf]   (prints JSON)
import { execFileSync } from "node:child_process";

export const EST_MHZ = 480;

export function runM7(elf = "build/bench/bench.elf") {
  const out = execFileSync(
    "qemu-system-arm",
    [
      "-M",
      "mps2-an500",
      "-display",
      "none",
      "-monitor",
      "none",
      "-icount",
      "shift=0",
      "-semihosting-config",
      "enable=on,target=native",
      "-serial",
      "stdio",
      "-kernel",
      elf,
    ],
    { encoding: "utf8", timeout: 120_000 },
  );
  const lines = out
    .split(/\r?\n/)
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l));
  const fatal = lines.find((l) => l.fatal);
  if (fatal) throw new Error(`bench firmware: ${fatal.fatal} (${fatal.code})`);
  if (!lines.some((l) => l.done)) throw new Error(`bench firmware did not finish:\n${out}`);
  const hello = lines.find((l) => l.hello);
  const loop = lines.find((l) => l.op === "empty_loop");
  const loopPerIter = loop.batch_median / loop.n;
  const ops: Record<string, any> = {};
  for (const l of lines) {
    if (!l.op || l.op === "empty_loop") continue;
    const key = l.mode && l.mode !== "-" ? `${l.op}/${l.mode}` : l.op;
    if (l.op.startsWith("wire_bytes")) {
      ops[key] = { wire_bytes: l.bytes };
      continue;
    }
    const per = l.batch_median !== undefined ? l.batch_median / l.n - loopPerIter : l.median;
    ops[key] = {
      instructions: Math.round(per),
      est_us_at_480MHz: Math.round((per / EST_MHZ) * 100) / 100,
      ...(l.batch_median !== undefined
        ? {
            method: `batch of ${l.n}, median of 5 batches, minus the loop (${loopPerIter.toFixed(1)}/iter)`,
            batch_min: l.batch_min,
            batch_max: l.batch_max,
          }
        : {
            method: `${l.n} single timings: median (mean ${l.mean}, min ${l.min}, max ${l.max}, glitches ${l.glitches})`,
          }),
    };
  }
  const g = (k: string) => ops[k]?.instructions;
  const ratio = (a: string, b: string) => Math.round((g(a) / g(b)) * 100) / 100;
  return {
    qemu: "qemu-system-arm -M mps2-an500 (Cortex-M7) -icount shift=0: 1 instruction = 1 ns of virtual time; SysTick read resolution 40 instructions",
    timer_read_overhead: hello.timer_overhead,
    note_estimate: `est_us_at_480MHz = instructions / 480: an ESTIMATE assuming 1 instruction per cycle at 480 MHz (STM32H743). The real M7 is dual-issue but pays flash wait states, cache misses and multi-cycle loads; QEMU counts instructions, not cycles.`,
    ops,
    wasm2c_overhead: {
      crc32c_32B_vs_c_same: ratio("crc32c_wasm2c_32B", "crc32c_c_wordwise_32B"),
      crc32c_256B_vs_c_same: ratio("crc32c_wasm2c_256B", "crc32c_c_wordwise_256B"),
      crc32c_256B_vs_c_bytetable: ratio("crc32c_wasm2c_256B", "crc32c_c_bytetable_256B"),
      crc32c_256B_vs_c_nibble: ratio("crc32c_wasm2c_256B", "crc32c_c_nibble_256B"),
      goal: "<= 1.5x hand-written C (the same word-load, byte-table algorithm in C)",
      goal_met:
        Math.max(
          ratio("crc32c_wasm2c_256B", "crc32c_c_wordwise_256B"),
          ratio("crc32c_wasm2c_32B", "crc32c_c_wordwise_32B"),
        ) <= 1.5,
    },
    qos0_goal: {
      goal: "32-byte QoS 0 frame received and dispatched in <= 2,000 instructions",
      auth0_rx_dispatch: g("qos0_rx_dispatch_32B/auth0"),
      auth0_rx_to_app: g("qos0_rx_to_app_32B/auth0"),
      auth2_rx_dispatch: g("qos0_rx_dispatch_32B/auth2"),
      goal_met_auth0: g("qos0_rx_dispatch_32B/auth0") <= 2000,
      goal_met_auth2: g("qos0_rx_dispatch_32B/auth2") <= 2000,
      per_wire_byte_auth0: Math.round(g("qos0_rx_dispatch_32B/auth0") / ops["wire_bytes_32B/auth0"].wire_bytes),
      auth2_over_auth0: g("qos0_rx_dispatch_32B/auth2") - g("qos0_rx_dispatch_32B/auth0"),
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(JSON.stringify(runM7(process.argv[2]), null, 2));
