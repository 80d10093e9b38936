// Serial transport over the `serialport` package: a board's USB virtual COM
// port (ST-LINK on the Nucleo-H743ZI) or QEMU's pty. The hardware sits
// behind serialport's binding interface: the OS binding by default, or one
// given here (tests use @serialport/binding-mock, as node-serialport does).
import { SerialPort } from "serialport";
import { TransportError, type Transport } from "./transport.ts";

/** serialport's binding interface (@serialport/bindings-interface), the
 *  part this transport relies on; its own types are not exported for ESM. */
export interface SerialBinding {
  list(): Promise<unknown[]>;
  open(options: any): Promise<any>;
}

export interface SerialOptions {
  path: string;
  baudRate?: number;
  binding?: SerialBinding;
}

function explain(path: string, err: any): string {
  const m = String(err?.message ?? err).replace(/^Error: /, ""); // serialport nests "Error: " in its messages
  if (/ENOENT|No such file|cannot open/i.test(m) && /ENOENT|No such file/i.test(m)) {
    return `cannot open ${path}: no such port. Check the cable and the name (ls /dev/ttyACM* /dev/ttyUSB*)`;
  }
  if (/EACCES|Permission denied/i.test(m)) {
    return `cannot open ${path}: permission denied. Add yourself to the dialout group (sudo usermod -aG dialout $USER, then log in again)`;
  }
  if (/EBUSY|Resource busy|lock/i.test(m)) return `cannot open ${path}: port busy (another program has it open)`;
  return `cannot open ${path}: ${m}`;
}

export class SerialTransport implements Transport {
  readonly name: string;
  private port?: SerialPort;
  private dataListeners: ((b: Uint8Array) => void)[] = [];
  private closeListeners: ((e?: Error) => void)[] = [];
  private closed = false;

  constructor(private readonly opts: SerialOptions) {
    this.name = `serial:${opts.path}`;
  }

  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      const binding = this.opts.binding ? { binding: this.opts.binding as typeof SerialPort.binding } : {};
      const port = new SerialPort({
        path: this.opts.path,
        baudRate: this.opts.baudRate ?? 921600,
        autoOpen: false,
        ...binding,
      });
      port.open((err) => {
        if (err) return reject(new TransportError(explain(this.opts.path, err), { cause: err }));
        this.port = port;
        port.on("data", (b: Buffer) => {
          for (const l of this.dataListeners) l(b);
        });
        port.on("close", (e?: any) =>
          this.finish(
            e?.disconnected
              ? new TransportError(`${this.opts.path} disconnected`, { disconnected: true, cause: e })
              : undefined,
          ),
        );
        port.on("error", (e) =>
          this.finish(new TransportError(`${this.opts.path}: ${e.message}`, { disconnected: true, cause: e })),
        );
        resolve();
      });
    });
  }

  private finish(err?: Error): void {
    if (this.closed) return;
    this.closed = true;
    for (const l of this.closeListeners) l(err);
  }

  write(bytes: Uint8Array): Promise<void> {
    const port = this.port;
    if (!port || this.closed)
      return Promise.reject(new TransportError(`${this.opts.path} is not open`, { disconnected: true }));
    return new Promise((resolve, reject) => {
      port.write(Buffer.from(bytes), (err) =>
        err
          ? reject(
              new TransportError(`${this.opts.path}: write failed: ${err.message}`, { disconnected: true, cause: err }),
            )
          : resolve(),
      );
    });
  }

  onData(l: (b: Uint8Array) => void): void {
    this.dataListeners.push(l);
  }
  onClose(l: (e?: Error) => void): void {
    this.closeListeners.push(l);
  }

  close(): Promise<void> {
    const port = this.port;
    if (!port?.isOpen) {
      this.finish();
      return Promise.resolve();
    }
    return new Promise((resolve) =>
      port.close(() => {
        this.finish();
        resolve();
      }),
    );
  }
}
