// Builds firmware for the board tests through the real make targets.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");

/** `make PLATFORM=... TARGET=... firmware` (incremental); returns the ELF or
 *  host executable path. Throws with make's output when the build fails. */
export function buildFirmware(platform: string, target: "release" | "debug", extra: string[] = []): string {
  make([`PLATFORM=${platform}`, `TARGET=${target}`, "firmware", ...extra]);
  return join(ROOT, "build", platform, target, platform === "posix" ? "qn" : "qn.elf");
}

export function make(args: string[]): string {
  try {
    return execFileSync("make", ["--no-print-directory", ...args], {
      cwd: ROOT,
      encoding: "utf8",
      stdio: "pipe",
      timeout: 300_000,
    });
  } catch (e: any) {
    throw new Error(`make ${args.join(" ")} failed:\n${e.stdout ?? ""}${e.stderr ?? ""}`);
  }
}
