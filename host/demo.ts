// A short demo of the core in Node: two instances of the same qn.wasm (a
// "host" and a "device") wired back to back; identity, ping, a corrupt frame
// and an emergency frame cutting in front of bulk traffic.
import { loadCore } from "./core.ts";
import { FieldKind } from "./abi.ts";
import { Codec, FrameType, Prio, Counter, flags } from "./frame.ts";
import { statusName } from "./status.ts";

const host = loadCore();
const dev = loadCore();
dev.boardInfo(480_000_000, 65536, "demo-device");

const exchange = () => {
  dev.rx(host.pull());
  host.rx(dev.pull());
};

host.send({ type: FrameType.IDENT_REQ, codec: Codec.JSON });
exchange();
const ident = host.inboxPop()!;
console.log("identity (JSON codec):", new TextDecoder().decode(ident.payload));

const t0 = process.hrtime.bigint();
host.send({ type: FrameType.PING, payload: new TextEncoder().encode("hello") });
exchange();
const pong = host.inboxPop()!;
console.log(
  `ping -> pong packet ${pong.packet}, payload "${new TextDecoder().decode(pong.payload)}", ${Number(process.hrtime.bigint() - t0) / 1000} µs in-process`,
);

const wire = host.encode(Codec.PB, [{ tag: 1, kind: FieldKind.UINT, value: 42n }]);
host.send({ type: FrameType.DATA, codec: Codec.PB, payload: wire });
const bytes = host.pull();
bytes[30] ^= 0x04; // line noise: one bit of the payload
dev.rx(bytes);
console.log(
  `corrupted DATA frame: delivered ${dev.inboxPop() ? 1 : 0}, rejected with ${statusName(dev.lastError())}, CRC errors counted ${dev.counter(Counter.ERR_CRC)}`,
);

for (let i = 0; i < 3; i++)
  host.send({ type: FrameType.DATA, flags: flags(Prio.BULK), payload: new Uint8Array(200).fill(i) });
const partial = host.pull(100);
host.send({ type: FrameType.DATA, flags: flags(Prio.EMERGENCY), payload: new TextEncoder().encode("E-STOP") });
dev.rx(Buffer.concat([partial, host.pull()]));
const order: string[] = [];
for (let f; (f = dev.inboxPop()); ) order.push(f.flags % 4 === 0 ? "EMERGENCY" : "bulk");
console.log(
  `emergency under bulk load: arrival order ${order.join(", ")}; bulk frames cut and resent: ${host.counter(Counter.PREEMPT)}`,
);
