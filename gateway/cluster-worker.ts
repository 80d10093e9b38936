// A worker process of a multi-process gateway (cluster.ts): one Gateway on
// the worker's view of the config (worker-config.ts), its fleet listener
// sharing the primary's socket, no ops API of its own: the primary asks
// (ipc.ts) and answers for all workers. It ends when the primary says stop
// or its IPC channel closes (the primary died).
import { AggregatorRegistry } from "prom-client";
import { loadConfig } from "./config.ts";
import { Gateway } from "./gateway.ts";
import { Rpc, type Channel } from "./ipc.ts";
import { registryRoute } from "./fleet-ops.ts";
import { deviceRoute, type DeviceRequest } from "./ops-target.ts";

const index = Number(process.env.QN_WORKER_INDEX);
const path = process.env.QN_CONFIG ?? "";
let gw: Gateway | undefined;
let stopping: Promise<void> | undefined;

function stop(code: number): Promise<void> {
  stopping ??= (async () => {
    await gw?.stop().catch(() => {});
    process.exit(code);
  })();
  return stopping;
}

const need = (): Gateway => {
  if (!gw) throw new Error(`worker ${index} is starting`);
  return gw;
};

const rpc = new Rpc(process as unknown as Channel, {
  health: () => need().health(),
  devices: () => need().devices(),
  reload: () => need().reload(),
  registry: (method, body) => registryRoute(need(), method as string, async () => body as string),
  registryChange: (records, persist) => {
    const f = need().fleet;
    if (!f) throw new Error("no fleet listener configured");
    return f.change(records as unknown[], persist as boolean);
  },
  device: (r) => deviceRoute(need(), r as DeviceRequest),
  release: (id) => need().release(id as string),
  stop: () => {
    // Answered first: the primary waits for the exit itself.
    setImmediate(() => void stop(0));
    return true;
  },
});

process.on("disconnect", () => void stop(0));
process.on("SIGINT", () => {}); // the primary stops its workers
process.on("SIGTERM", () => void stop(0));

try {
  const g = new Gateway(loadConfig(path), path, { worker: { index, claim: (d) => rpc.ask("claim", d) } });
  gw = g;
  // Answers the primary's metrics requests (prom-client listens once one exists).
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([g.metrics.registry]);
  await g.start({ ops: false });
  process.send?.({ qn: "ready", index });
} catch (e) {
  process.stderr.write(`qn gateway worker ${index}: cannot start: ${(e as Error).message}\n`);
  await stop(1);
}
