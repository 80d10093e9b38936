// Talks to a QN device over a serial port (a board, or the QEMU board's
// pty): a session under the device key, one QoS 1 message out, the echo the
// demo firmware sends back.  node --import tsx examples/host/talk.ts <port> [key file]
import { AuthMode, type Message, Peer, Qos, SerialTransport, readKeyFile } from "qn";

const [path, keyFile = "boards/dev-psk.hex"] = process.argv.slice(2);
const link = new SerialTransport({ path, baudRate: 921600 });
await link.open();
const peer = new Peer(link, { session: { key: readKeyFile(keyFile), auth: AuthMode.FRAME_MAC } });
const echo = new Promise<Message>((resolve) => peer.onMessage(resolve));
const { handshakeUs } = await peer.connect(10_000);
const packet = peer.publish(1, Qos.AT_LEAST_ONCE, new TextEncoder().encode("hello, board"));
const late = setTimeout(() => {
  console.error("no echo within 10 s");
  process.exit(1);
}, 10_000);
const m = await echo;
clearTimeout(late);
console.log(`session up in ${handshakeUs} µs, sent packet ${packet}, echo on channel ${m.channel} at QoS ${m.qos}:`);
console.log(new TextDecoder().decode(m.payload));
await peer.close();
