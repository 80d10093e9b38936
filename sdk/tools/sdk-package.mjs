// The generated parts of an SDK folder (sdk/sdk.mk has copied the rest):
//   qn_board.mk               what qn.mk needs to know about the board: its
//                             platform, target, compiler, flags, linker script,
//                             the emulator that runs it (none for hardware)
//   tools/selftest/package.json  the selftest's Node dependencies, at the
//                             versions this repository pins (one `make deps`)
// Usage: node sdk/tools/sdk-package.mjs <sdk dir> <platform> <target> <arch> <cc> <cflags> <ldscript> [qemu command]
import { readFileSync, writeFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const [dir, platform, target, arch, cc, cflags, ldscript, qemu] = process.argv.slice(2);
if (!dir || !platform || !target || !arch || !cc) {
  console.error(
    "usage: node sdk/tools/sdk-package.mjs <sdk dir> <platform> <target> <arch> <cc> <cflags> <ldscript> [qemu command]",
  );
  process.exit(2);
}
const flat = (s) => s.replace(/\s+/g, " ").trim();

writeFileSync(
  join(dir, "qn_board.mk"),
  `# DO NOT EDIT. Written by make sdk (sdk/tools/sdk-package.mjs): the board
# this SDK folder was made for. Included by qn.mk.
QN_PLATFORM := ${platform}
QN_TARGET := ${target}
QN_ARCH := ${arch}
QN_CC := ${cc}
QN_BOARD_CFLAGS := ${flat(cflags ?? "")}
QN_LDSCRIPT := ${ldscript ?? ""}
QN_QEMU := ${flat(qemu ?? "")}
`,
);

// The selftest imports these at run time (host/, selftest/); tsx runs the
// TypeScript. Versions as the repository's package.json pins them.
const RUNTIME = ["ajv", "ajv-formats", "serialport", "tsx"];
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const all = { ...pkg.devDependencies, ...pkg.dependencies };
const deps = {};
for (const name of RUNTIME) {
  if (!all[name]) {
    console.error(`sdk-package: ${name} is not in package.json: the selftest cannot run without it`);
    process.exit(1);
  }
  deps[name] = all[name];
}
writeFileSync(
  join(dir, "tools/selftest/package.json"),
  `${JSON.stringify(
    {
      name: "qn-selftest",
      private: true,
      type: "module",
      description: "QN selftest (qn_selftest), as shipped in a QN SDK folder",
      dependencies: deps,
      overrides: pkg.overrides,
    },
    null,
    2,
  )}\n`,
);
