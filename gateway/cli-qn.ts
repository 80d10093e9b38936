// `qn gateway --config config.yaml`: run the gateway in the foreground.
// SIGHUP reloads the config file; SIGINT / SIGTERM stop cleanly. A config
// that does not validate ends the process at once with exit status 2 and
// one line per problem, each naming its key.
import { Command } from "commander";
import { resolve } from "node:path";
import { ConfigError, loadConfig } from "./config.ts";
import { GatewayCluster } from "./cluster.ts";
import { workerCount } from "./worker-config.ts";
import { createLogger } from "./log.ts";
import { Gateway } from "./gateway.ts";
import { OwnerLockError } from "../host/owner-lock.ts";
import { FileError } from "../host/bounded-read.ts";

const program = new Command("qn").description("QN host tools");

program
  .command("gateway")
  .description("run the gateway: devices over serial / TCP, bridged to an MQTT broker")
  .requiredOption("-c, --config <file>", "the gateway's YAML config")
  .action(async (o: { config: string }) => {
    const path = resolve(o.config);
    let gw: Gateway | GatewayCluster;
    try {
      const config = loadConfig(path);
      // gateway.workers > 1: this process runs the workers and the ops API.
      gw =
        workerCount(config) > 1
          ? new GatewayCluster(
              config,
              path,
              createLogger({ level: config.gateway.log_level, environment: config.gateway.environment }),
            )
          : new Gateway(config, path);
    } catch (e) {
      if (e instanceof ConfigError) {
        process.stderr.write(`qn gateway: ${e.message}\n`);
        process.exit(2);
      }
      if (e instanceof OwnerLockError || e instanceof FileError) {
        process.stderr.write(`qn gateway: cannot start: ${e.message}\n`);
        process.exit(1);
      }
      throw e;
    }
    try {
      await gw.start();
    } catch (e) {
      process.stderr.write(`qn gateway: cannot start: ${(e as Error).message}\n`);
      await gw.stop().catch(() => {});
      process.exit(1);
    }
    process.on("SIGHUP", () => {
      void gw.reload();
    });
    let stopping = false;
    const stop = async () => {
      if (stopping) return;
      stopping = true;
      await gw.stop();
      process.exit(0);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });

program.parseAsync().catch((e) => {
  process.stderr.write(`qn: ${(e as Error).message}\n`);
  process.exit(1);
});
