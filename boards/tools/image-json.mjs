// Writes image.json next to qn.bin: the CRC-32C and length of the image
// exactly as `objcopy -O binary` wrote it. The firmware CRCs the same bytes
// in flash and reports them in its identity (fields 16, 17); the selftest
// (check 2, core.integrity) compares the two.
// Usage: node boards/tools/image-json.mjs <qn.bin> <image.json>
import { readFileSync, writeFileSync } from "node:fs";
import { crc32c } from "../../tools/crc32c.mjs";

const [bin, out] = process.argv.slice(2);
const bytes = readFileSync(bin);
writeFileSync(out, JSON.stringify({ image_crc32c: crc32c(bytes), image_bytes: bytes.length }) + "\n");
