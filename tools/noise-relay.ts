// noise-relay: a seeded line-noise relay between a device's serial socket
// and a host (host/noise-relay.ts). With the QEMU board:
//
//   qemu-system-arm -M mps2-an500 -nographic -serial unix:/tmp/uart,server=on,wait=off -kernel qn.elf
//   node --import tsx tools/noise-relay.ts --device unix:/tmp/uart --listen tcp:127.0.0.1:5555 --ber 1e-4
//   ./qn_selftest --port tcp:127.0.0.1:5555
//
// It prints what it did to each direction when it ends (SIGINT, SIGTERM, or
// the device side closing).
import { parseArgs } from "node:util";
import { NoiseRelay, parseEndpoint } from "../host/noise-relay.ts";

const HELP = `usage: noise-relay --device <ep> [--listen <ep>] [--ber p] [--drop p] [--insert p] [--seed n]
  <ep>: unix:PATH | tcp:HOST:PORT   (--listen default tcp:127.0.0.1:0, a free port)
  --ber: bit flip probability per bit, --drop / --insert: per byte; both directions, seeded`;

function prob(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const p = Number(v);
  if (!(p >= 0 && p <= 1)) {
    process.stderr.write(`noise-relay: --${name} must be a probability in [0, 1] (got ${v})\n`);
    process.exit(2);
  }
  return p;
}

async function main(): Promise<void> {
  const { values: a } = parseArgs({
    options: {
      device: { type: "string" },
      listen: { type: "string" },
      ber: { type: "string" },
      drop: { type: "string" },
      insert: { type: "string" },
      seed: { type: "string" },
      help: { type: "boolean" },
    },
  });
  if (a.help || !a.device) {
    process.stderr.write(HELP + "\n");
    process.exit(a.help ? 0 : 2);
  }
  const relay = await NoiseRelay.start({
    device: parseEndpoint(a.device),
    listen: a.listen ? parseEndpoint(a.listen) : undefined,
    noise: {
      ber: prob("ber", a.ber),
      drop: prob("drop", a.drop),
      insert: prob("insert", a.insert),
      seed: a.seed === undefined ? 1 : Number(a.seed),
    },
  });
  process.stderr.write(`noise-relay: ${a.device} <-> ${relay.address}\n`);
  const end = async () => {
    await relay.close();
    process.stderr.write(
      `noise-relay: to device ${JSON.stringify(relay.toDevice.stats)}, to host ${JSON.stringify(relay.toHost.stats)}\n`,
    );
    process.exit(0);
  };
  process.on("SIGINT", end);
  process.on("SIGTERM", end);
  relay.closed.then(end);
}

main().catch((e) => {
  process.stderr.write(`noise-relay: ${e?.message ?? e}\n`);
  process.exit(2);
});
