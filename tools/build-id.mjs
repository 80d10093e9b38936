// Prints the build id of the core: CRC-32C over a tag (the feature set) and
// the named source files, in decimal. Same sources, same id.
import { readFileSync } from "node:fs";
import { crc32c } from "./crc32c.mjs";
const [tag, ...files] = process.argv.slice(2);
const parts = [Buffer.from(tag)];
for (const f of files) parts.push(Buffer.from(f), readFileSync(f));
// Decimal: asc --use does not parse hex constants (0x... becomes 0).
console.log(String(crc32c(Buffer.concat(parts))));
