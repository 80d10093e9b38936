// A device in-process: the same core as the firmware, driven by a shell that
// does what boards/common/main.c does (bytes in, bytes out, clock, echo of
// DATA frames by the demo application). The selftest's `--target sim`.
import { readFileSync } from "node:fs";
import { loadCore, DEFAULT_WASM, type QnCore } from "./core.ts";
import { nowUs } from "./clock.ts";
import { FrameType } from "./frame.ts";
import type { Transport } from "./transport/transport.ts";
// @ts-ignore -- plain ESM helper
import { crc32c } from "../tools/crc32c.mjs";

export class SimDevice {
  readonly core: QnCore;
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly transport: Transport, wasmPath = DEFAULT_WASM) {
    this.core = loadCore({ wasmPath });
    const name = new TextEncoder().encode("sim");
    this.core.mem.set(name, this.core.x.qn_msg_data());
    // No MCU clock in-process: clock_hz 0 means "not a hardware target".
    this.core.x.qn_board_info(0, this.core.mem.length, this.core.x.qn_msg_data(), name.length);
    // The module this shell runs is its "image": report its CRC like a board
    // reports the CRC of its flash.
    const image = readFileSync(wasmPath);
    this.core.x.qn_board_image(crc32c(image), image.length);
    transport.onData((b) => this.step(b));
  }

  private step(bytes: Uint8Array): void {
    this.core.tick(nowUs());
    this.core.rx(bytes);
    for (let f; (f = this.core.inboxPop()); ) {
      if (f.type === FrameType.DATA) {
        try {
          this.core.send({ type: FrameType.DATA, flags: f.flags, codec: f.codec, channel: f.channel, packet: f.packet, payload: f.payload });
        } catch { /* outbox full: the frame is dropped, as on the device */ }
      }
    }
    const out = this.core.pull();
    if (out.length) this.writing = this.writing.then(() => this.transport.write(out)).catch(() => {});
  }
}
