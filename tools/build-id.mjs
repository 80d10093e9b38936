// Prints the build id of the core: CRC-32C over a tag (the feature set) and
// the named source files, as 0xXXXXXXXX. Same sources, same id.
import { readFileSync } from "node:fs";
import { crc32c } from "./crc32c.mjs";
const [tag, ...files] = process.argv.slice(2);
const parts = [Buffer.from(tag)];
for (const f of files) parts.push(Buffer.from(f), readFileSync(f));
console.log("0x" + crc32c(Buffer.concat(parts)).toString(16).padStart(8, "0"));
