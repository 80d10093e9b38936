// The QEMU launcher lives with the board tests that made it; tools reach it
// through here.
export { Qemu, type QemuOptions, type QemuExit } from "../boards/test/qemu.ts";
