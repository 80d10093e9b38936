// What a worker of a multi-process gateway (cluster.ts) runs: the config
// with its own spool ("<spool>.w<N>", each spool has one owner) and its own
// MQTT client id (the broker drops a session whose id connects twice); the
// devices of the config (serial ports, ports of their own) are served by
// worker 0 only, the registry's devices by whichever worker accepted the
// connection.
import { availableParallelism } from "node:os";
import type { Config } from "./config.ts";
import { defaultClientId } from "./bridge.ts";

/** How many worker processes `gateway.workers` asks for (1: no cluster). */
export function workerCount(c: Config): number {
  const w = c.gateway.workers;
  return w === "auto" ? availableParallelism() : w;
}

/** Worker `index`'s view of config `c` (a copy; `c` is left as it is). */
export function workerConfig(c: Config, index: number): Config {
  return {
    ...c,
    gateway: { ...c.gateway, spool: `${c.gateway.spool}.w${index}` },
    mqtt: { ...c.mqtt, client_id: `${c.mqtt.client_id ?? defaultClientId(c.mqtt)}-w${index}` },
    devices: index === 0 ? c.devices : [],
  };
}
