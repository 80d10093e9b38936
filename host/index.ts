// The host library's public face, the package's main entry (`import ... from
// "qn"`): talk to a QN device from Node over a serial port or TCP (a Peer:
// a core of its own plus a transport), publish and receive messages, and
// reach the core's typed API and every named constant of its ABI. The
// selftest runs from "qn/selftest" (selftest/api.ts). What is not exported
// here (the gateway, the CLIs, the test kits) is not part of the API.

// A link to a device: the session, requests, publish and receive.
export { Peer, configureClient, type SessionOptions, type RequestOptions } from "./peer.ts";
export { messageOf, type Message } from "./message.ts";

// Transports: one interface, a serial port, TCP (and TLS), an in-memory pair.
export { type Transport, TransportError } from "./transport/transport.ts";
export { SerialTransport, type SerialOptions, type SerialBinding } from "./transport/serial.ts";
export { TcpTransport, tcpConnect } from "./transport/tcp.ts";
export { memoryLink, type Faults } from "./transport/memory.ts";

// The core: the same qn.wasm the device runs, behind typed methods.
export { QnCore, loadCore, loadModule, DEFAULT_WASM, type LoadOptions, type Field } from "./core.ts";
export { FrameCodec } from "./frame-codec.ts";
export { type Frame, type FrameHeader, type FrameFields, flags, flagsPrio, flagsQos } from "./frame.ts";
export { type Storage, MemoryStorage, FileStorage } from "./storage.ts";

// An in-process device (the firmware's shell around the same core).
export { SimDevice, type SimOptions } from "./sim-device.ts";

// Every named integer of the core's ABI, and what a status means.
export * from "./abi.ts";
export { QnError, statusName, statusMessage } from "./status.ts";

// Keys and trace contexts.
export { readKeyFile, parseKeyText } from "./key-file.ts";
export {
  type TraceContext,
  encodeTraceBytes,
  decodeTraceBytes,
  formatTraceparent,
  parseTraceparent,
} from "./trace.ts";
