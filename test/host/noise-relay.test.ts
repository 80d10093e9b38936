// host/noise-relay.ts between a stand-in device (a unix socket server, as
// QEMU's `-serial unix:...,server=on`) and a host over TCP: clean bytes pass
// untouched both ways, noise damages them at the seeded rate and repeats
// with its seed, a new host replaces the old one, and the relay ends when
// the device side goes.
import { describe, it, expect, afterEach } from "vitest";
import { createServer, connect, type Server, type Socket } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NoiseRelay, parseEndpoint } from "../../host/noise-relay.ts";
import type { NoiseOptions } from "../../host/line-noise.ts";

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function device(): Promise<{ path: string; server: Server; socket: Promise<Socket> }> {
  const dir = mkdtempSync(join(tmpdir(), "qn-relay-test-"));
  const path = join(dir, "uart");
  let got!: (s: Socket) => void;
  const socket = new Promise<Socket>((r) => (got = r));
  const server = createServer(got);
  await new Promise<void>((r) => server.listen(path, r));
  cleanup.push(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { path, server, socket };
}

async function host(relay: NoiseRelay): Promise<Socket> {
  const ep = parseEndpoint(relay.address);
  const s = connect((ep as { port: number }).port, "127.0.0.1");
  await new Promise((r) => s.once("connect", r));
  cleanup.push(() => void s.destroy());
  return s;
}

function collect(s: Socket, n: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let have = 0;
  return new Promise((resolve) =>
    s.on("data", (b: Buffer) => {
      parts.push(b);
      have += b.length;
      if (have >= n) resolve(Buffer.concat(parts));
    }),
  );
}

async function start(noise: NoiseOptions) {
  const d = await device();
  const relay = await NoiseRelay.start({ device: { path: d.path }, noise });
  cleanup.push(() => relay.close());
  const dev = await d.socket;
  const h = await host(relay);
  return { relay, dev, h };
}

const data = Buffer.from(Array.from({ length: 20_000 }, (_, i) => (i * 7 + 3) & 0xff));

describe("noise relay", () => {
  it("passes bytes untouched both ways at rate 0", async () => {
    const { relay, dev, h } = await start({});
    const toDev = collect(dev, data.length);
    h.write(data);
    expect((await toDev).equals(data)).toBe(true);
    const toHost = collect(h, data.length);
    dev.write(data);
    expect((await toHost).equals(data)).toBe(true);
    expect(relay.toDevice.stats.flipped + relay.toHost.stats.flipped).toBe(0);
    expect(relay.toDevice.stats.bytes).toBe(data.length);
  });

  it("flips bits at the seeded rate, the same ones for the same seed", async () => {
    const flipped: number[] = [];
    for (let run = 0; run < 2; run++) {
      const { relay, dev, h } = await start({ ber: 1e-3, seed: 9 });
      const toDev = collect(dev, data.length);
      h.write(data);
      const got = await toDev;
      let diff = 0;
      for (let i = 0; i < data.length; i++) for (let b = got[i] ^ data[i]; b; b &= b - 1) diff++;
      expect(diff).toBe(relay.toDevice.stats.flipped);
      flipped.push(diff);
      await relay.close();
    }
    // 160,000 bits at 1e-3: 160 expected, well within 100..220.
    expect(flipped[0]).toBeGreaterThan(100);
    expect(flipped[0]).toBeLessThan(220);
    expect(flipped[1]).toBe(flipped[0]);
  });

  it("lets a new host take over, and ends when the device side closes", async () => {
    const { relay, dev, h } = await start({});
    const closed = new Promise((r) => h.once("close", r));
    const h2 = await host(relay);
    await closed; // the first host was let go
    const toH2 = collect(h2, 4);
    dev.write(Buffer.from("ping"));
    expect((await toH2).toString()).toBe("ping");
    dev.destroy();
    await relay.closed;
  });

  it("says which device endpoint it could not reach", async () => {
    await expect(NoiseRelay.start({ device: { path: "/nonexistent/qn-uart" }, noise: {} })).rejects.toThrow(
      /relay: cannot connect to \/nonexistent\/qn-uart/,
    );
    await expect(NoiseRelay.start({ device: { path: "/x" }, noise: { ber: 2 } })).rejects.toThrow(/probability/);
  });
});
