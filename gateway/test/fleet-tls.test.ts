// The fleet listener over TLS 1.3 with mutual certificates and the CA's
// revocation list: a device whose certificate is on the CRL is refused in
// the TLS handshake (counted, no link), one with a good certificate and a
// registered key gets its link; the key still decides which device it is.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { writeFileSync, mkdtempSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import pino from "pino";
import { Gateway } from "../gateway.ts";
import { Mosquitto, TcpDevice, freePort, until, makeTestCerts, clientTls, writeRegistry } from "./helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "qn-fleet-tls-"));
const key = () => Uint8Array.from(randomBytes(32));
const hex = (k: Uint8Array) => Buffer.from(k).toString("hex");

/** Revoke `who`'s certificate and write the CA's CRL (qn-ca.crl). */
function revoke(who: string): void {
  const ossl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  writeFileSync(
    join(dir, "ca.cnf"),
    "[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\ncrlnumber = crlnumber\ndefault_md = sha256\ndefault_crl_days = 1\n",
  );
  writeFileSync(join(dir, "index.txt"), "");
  writeFileSync(join(dir, "crlnumber"), "01\n");
  const ca = ["-config", "ca.cnf", "-keyfile", "qn-ca.key", "-cert", "qn-ca.crt"];
  ossl("ca", ...ca, "-revoke", `${who}.crt`);
  ossl("ca", ...ca, "-gencrl", "-out", "qn-ca.crl");
}

describe("fleet listener over TLS with a CRL", () => {
  let broker: Mosquitto, gw: Gateway;
  const keys = { good: key(), revoked: key() };
  const devices: TcpDevice[] = [];

  beforeAll(async () => {
    makeTestCerts(dir);
    revoke("other-dev");
    broker = new Mosquitto(await freePort());
    await broker.start();
    const port = await freePort();
    writeRegistry(join(dir, "devices.qnr"), [
      { profile: "p", channels: [{ channel: 1, topic: "t", qos: 1, direction: "up" }] },
      { device: "good", key_id: 1, key: hex(keys.good), profile: "p" },
      { device: "revoked", key_id: 2, key: hex(keys.revoked), profile: "p" },
    ]);
    writeFileSync(
      join(dir, "gateway.yaml"),
      `gateway: { spool: mqtt.spool }
mqtt: { url: "${broker.url}" }
tls: { cert: gateway.crt, key: gateway.key, ca: qn-ca.crt, crl: qn-ca.crl }
fleet: { listen: "127.0.0.1:${port}", tls: true, registry: devices.qnr, journals: journals }
`,
    );
    gw = Gateway.fromFile(join(dir, "gateway.yaml"), { log: pino({ level: "silent" }) });
    await gw.start({ ops: false });
    const dial = (id: string, k: Uint8Array, keyId: number, cert: string) => {
      const d = new TcpDevice(id, `127.0.0.1:${port}`, k, clientTls(dir, cert), keyId);
      devices.push(d);
      void d.run();
      return d;
    };
    dial("good", keys.good, 1, "tls-dev");
    dial("revoked", keys.revoked, 2, "other-dev"); // the right key, a revoked certificate
  }, 60000);

  afterAll(async () => {
    for (const d of devices) await d.stop();
    await gw?.stop();
    await broker?.stop();
  });

  it("a revoked certificate is refused in the TLS handshake; a good one gets its link", async () => {
    await until(
      "good up, revoked refused",
      // The gateway's side is up once it has sent its CONFIRM; the
      // device's once the CONFIRM arrived: both are waited for.
      () =>
        gw.links.get("good")?.state === "up" && devices[0].up && (gw.fleet!.listener.refused.get("garbage") ?? 0) >= 2,
    );
    expect(devices[1].up).toBe(false);
    expect(gw.links.has("revoked")).toBe(false);
    expect(gw.fleet!.listener.pool.instances).toBeLessThanOrEqual(1);
  }, 30000);
});
