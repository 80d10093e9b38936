// Test helpers: the SDK folder made by `make sdk`, copied to a temporary
// directory, and an example built against that copy alone.
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { make, ROOT } from "../../boards/test/build.ts";

export { ROOT };

/** `make sdk PLATFORM=platform`, then a copy of the folder in a fresh
 *  temporary directory; returns the copy's path (QN_SDK_ROOT). */
export function sdkCopy(platform: string, target: "release" | "debug" = "release"): string {
  make([`PLATFORM=${platform}`, `TARGET=${target}`, "sdk"]);
  const name = target === "debug" ? `${platform}-debug` : platform;
  const dir = join(mkdtempSync(join(tmpdir(), "qn-sdk-")), name);
  cpSync(join(ROOT, "build/sdk", name), dir, { recursive: true });
  return dir;
}

/** Builds examples/<name> of the SDK copy (or the application in appDir)
 *  with make and its settings vars ("QN_KEY_ID=7"); returns its output
 *  directory. */
export function buildExample(
  sdk: string,
  name: string,
  platform: string,
  appDir = join(sdk, "examples", name),
  vars: string[] = [],
): string {
  try {
    execFileSync("make", ["--no-print-directory", "-C", appDir, `QN_SDK_ROOT=${sdk}`, ...vars], {
      encoding: "utf8",
      stdio: "pipe",
      timeout: 120_000,
    });
  } catch (e: any) {
    throw new Error(`building examples/${name} against ${sdk} failed:\n${e.stdout ?? ""}${e.stderr ?? ""}`);
  }
  return join(appDir, "build", platform);
}

/** Every file under dir whose text names the repository's path: a build
 *  that reached into the repository (an include, a library, a script). */
export function filesNamingRepo(dir: string): string[] {
  const hits: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) hits.push(...filesNamingRepo(p));
    else if (/\.(d|map|h|mk)$/.test(e) && readFileSync(p, "utf8").includes(ROOT)) hits.push(p);
  }
  return hits;
}

/** A `#define NAME <integer>` of a C header, so a test and the example
 *  share one definition. */
export function cDefine(header: string, name: string): number {
  const m = new RegExp(`^#define ${name} \\(?(-?\\d+)u?\\)?$`, "m").exec(readFileSync(header, "utf8"));
  if (!m) throw new Error(`${header}: no #define ${name}`);
  return Number(m[1]);
}
