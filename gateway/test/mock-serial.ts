// A serial cable for tests, made of @serialport/binding-mock: the gateway
// opens `path` through `binding` (its SerialTransport, unchanged), and the
// device end is a Transport an in-process device (host/sim-device.ts) uses.
// Bytes the gateway writes reach the device; bytes the device writes arrive
// at the gateway's port. unplug() fails the gateway's pending read the way
// a pulled USB cable does (the port closes as disconnected); the gateway
// then reopens the path and the cable works again.
import { MockBinding } from "@serialport/binding-mock";
import type { Transport } from "../../host/transport/transport.ts";
import type { SerialBinding } from "../../host/transport/serial.ts";

type MockPort = Awaited<ReturnType<typeof MockBinding.open>>;

export class MockCable {
  /** The gateway's end while it is open. */
  port?: MockPort;
  opens = 0;
  private toDevice: ((b: Uint8Array) => void)[] = [];
  readonly binding: SerialBinding;

  constructor(readonly path: string) {
    MockBinding.createPort(path, { echo: false, record: false });
    this.binding = {
      list: () => MockBinding.list(),
      open: async (options: any) => {
        const p = await MockBinding.open(options);
        const write = p.write.bind(p);
        p.write = async (b: Buffer) => {
          await write(b);
          const copy = Uint8Array.from(b);
          for (const l of this.toDevice) l(copy);
        };
        this.port = p;
        this.opens++;
        return p;
      },
    };
  }

  /** The device's end of the cable. */
  readonly device: Transport = {
    name: "mock-serial-device",
    open: async () => {},
    // A device writing into an unplugged cable loses the bytes, as on a wire.
    write: async (b: Uint8Array) => {
      if (this.port?.isOpen) this.port.emitData(Buffer.from(b));
    },
    onData: (l) => {
      this.toDevice.push(l);
    },
    onClose: () => {},
    close: async () => {},
  };

  /** Pull the cable: the gateway's read fails with a non-cancel error. */
  unplug(): void {
    const p = this.port as unknown as { pendingRead: ((e?: Error) => void) | null } | undefined;
    if (!p?.pendingRead) throw new Error("no read pending on the gateway's end");
    const r = p.pendingRead;
    p.pendingRead = null;
    r(new Error("device unplugged"));
  }
}
