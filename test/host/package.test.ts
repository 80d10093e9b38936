// The host library as a package: imported by its name ("qn", "qn/selftest")
// through package.json's exports map, as an application would, and used
// through what those entries export only: a session with an in-process
// device, a message out and its echo back, the core's figures, the
// selftest run as a function.
import { describe, it, expect } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  AuthMode,
  Codec,
  Counter,
  type Message,
  Peer,
  Prio,
  Qos,
  QosStat,
  QnError,
  SimDevice,
  Status,
  memoryLink,
  readKeyFile,
} from "qn";
import { ConnectError, runSelftest, type Report, UsageError } from "qn/selftest";

const ROOT = join(fileURLToPath(import.meta.url), "../../..");

describe("package.json exports", () => {
  it("resolves qn and qn/selftest to the entry files it names, which exist and are not test code", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    expect(pkg.name).toBe("qn");
    expect(fileURLToPath(import.meta.resolve("qn"))).toBe(join(ROOT, pkg.exports["."].default));
    expect(fileURLToPath(import.meta.resolve("qn/selftest"))).toBe(join(ROOT, pkg.exports["./selftest"].default));
    for (const e of Object.values(pkg.exports) as (string | Record<string, string>)[])
      for (const f of typeof e === "string" ? [e] : Object.values(e)) {
        expect(existsSync(join(ROOT, f)), f).toBe(true);
        expect(f).not.toMatch(/(^|\/)test\//);
      }
  });
});

describe("qn, imported by name", () => {
  it("holds a session with a device, publishes, and receives the echo", async () => {
    const key = readKeyFile(join(ROOT, "boards/dev-psk.hex"));
    const { a, b } = memoryLink();
    const device = new SimDevice(b, { key });
    const peer = new Peer(a, { session: { key, auth: AuthMode.FRAME_MAC } });
    try {
      const echoed = new Promise<Message>((resolve) => peer.onMessage(resolve));
      const session = await peer.connect();
      expect(session.resumed).toBe(false);
      const packet = peer.publish(7, Qos.AT_LEAST_ONCE, new TextEncoder().encode("hello"));
      expect(packet).toBeGreaterThan(0);
      const m = await echoed;
      expect(new TextDecoder().decode(m.payload)).toBe("hello");
      expect([m.channel, m.qos, m.prio, m.codec, m.trace]).toEqual([7, Qos.AT_LEAST_ONCE, Prio.BULK, Codec.NONE, null]);
      expect(peer.core.counter(Counter.FRAMES_IN)).toBeGreaterThan(0);
      expect(peer.core.qosStat(QosStat.Q1_NEXT)).toBeGreaterThan(0);
      expect(() => peer.publish(7, 3, new Uint8Array(1))).toThrow(QnError);
      const oversize = (() => {
        try {
          peer.publish(7, Qos.AT_MOST_ONCE, new Uint8Array(peer.core.maxPayload + 1));
        } catch (e) {
          return e as QnError;
        }
      })();
      expect(oversize?.status).toBe(Status.ERR_OVERSIZE);
    } finally {
      device.close();
      await peer.close();
    }
  });
});

describe("qn/selftest, imported by name", () => {
  it("runs checks against the in-process device and returns the report", async () => {
    const seen: string[] = [];
    const r: Report = await runSelftest({
      target: "sim",
      mode: "quick",
      only: "boot.identity,frame.codec",
      onCheck: (e) => seen.push(e.id),
    });
    expect(seen).toEqual(["boot.identity", "frame.codec"]);
    expect(r.tests.map((t) => t.status)).toEqual(["PASS", "PASS"]);
    expect(r.health_status).toBe("PASS");
    expect(r.target).toBe("sim");
  });

  it("says what is wrong with an unknown check, before connecting", async () => {
    await expect(runSelftest({ target: "sim", only: "no.such" })).rejects.toThrow(/unknown check "no.such"/);
  });

  it("refuses a target it does not know, naming the ones it does, before connecting", async () => {
    // From JavaScript, or a value read from a config: no type check stops these.
    for (const target of [undefined, "QEMU", "tcp"] as unknown as "sim"[])
      await expect(runSelftest({ target })).rejects.toThrow(/target must be qemu, sim or serial \(got /);
  });

  it("refuses a serial target without a port, and names a port that is not there", async () => {
    await expect(runSelftest({ target: "serial" })).rejects.toThrow(UsageError);
    const e = await runSelftest({ target: "serial", port: "/dev/qn-no-such-port", timeoutMs: 2000 }).catch((x) => x);
    expect(e).toBeInstanceOf(ConnectError);
    expect(e.message).toMatch(/cannot open \/dev\/qn-no-such-port: no such port/);
  });
});
