// The ops API's OpenAPI page (/docs): Swagger UI from the swagger-ui-dist
// package, served by the gateway with nothing fetched from elsewhere,
// opened in headless Chromium (Debian's `chromium`, installed by make
// deps-debian): the rendered page shows the document's title and its
// operations; the page names nothing from elsewhere and its Content
// Security Policy allows this origin only. A
// screenshot is written to the test's directory (QN_API_PAGE_PNG names
// another place). Skipped, saying why, only when Chromium cannot run here.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { writeFileSync, mkdtempSync, existsSync, statSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { Gateway } from "../gateway.ts";
import { API_PAGE_PATH } from "../api-page.ts";
import { openapi } from "../ops.ts";
import { freePort } from "./helpers.ts";

const CHROMIUM = "chromium";
const probe = spawnSync(CHROMIUM, ["--version"], { encoding: "utf8", timeout: 30000 });
const NO_CHROMIUM =
  probe.status === 0
    ? ""
    : ` (SKIPPED: ${CHROMIUM} not runnable: ${probe.error?.message ?? probe.stderr}; make deps-debian installs it)`;

/** Run headless Chromium to its end; its process group is killed on a
 *  timeout and after it ends (its helpers included). */
function chromium(args: string[], timeoutMs = 90000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const profile = mkdtempSync(join(tmpdir(), "qn-chromium-"));
  const child = spawn(
    CHROMIUM,
    [
      "--headless",
      "--no-sandbox", // root in CI containers; the page is our own, on loopback
      "--disable-gpu",
      "--no-first-run",
      "--disable-extensions",
      "--disable-background-networking",
      `--user-data-dir=${profile}`,
      ...args,
    ],
    { detached: true, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "",
    stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d));
  child.stderr.on("data", (d: Buffer) => (stderr += d));
  const killGroup = () => {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      /* gone already */
    }
  };
  const timer = setTimeout(killGroup, timeoutMs);
  return new Promise((resolve) => {
    child.on("close", (code) => {
      clearTimeout(timer);
      killGroup();
      rmSync(profile, { recursive: true, force: true });
      resolve({ code, stdout, stderr });
    });
  });
}

describe("the ops API's OpenAPI page", () => {
  const dir = mkdtempSync(join(tmpdir(), "qn-apipage-"));
  let gw: Gateway, ops: number;

  beforeAll(async () => {
    ops = await freePort();
    // No broker: the page needs none (the bridge keeps retrying meanwhile).
    writeFileSync(
      join(dir, "gateway.yaml"),
      `gateway:
  ops: { listen: "127.0.0.1:${ops}", token_file: ops.token }
  spool: mqtt.spool
mqtt: { url: "mqtt://127.0.0.1:${await freePort()}", topic_prefix: qn }
`,
    );
    gw = Gateway.fromFile(join(dir, "gateway.yaml"), { log: pino({ level: "silent" }) });
    await gw.start();
  }, 30000);

  afterAll(async () => {
    await gw?.stop();
  });

  it("serves the page and the package's files without a token, and nothing else under /docs", async () => {
    const base = `http://127.0.0.1:${ops}${API_PAGE_PATH}`;
    const page = await fetch(base);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
    const html = await page.text();
    expect(html).toContain(`${API_PAGE_PATH}/swagger-ui-bundle.js`);
    expect(html).not.toMatch(/https?:\/\//); // nothing from elsewhere
    const bundle = await fetch(`${base}/swagger-ui-bundle.js`);
    expect(bundle.status).toBe(200);
    expect((await bundle.arrayBuffer()).byteLength).toBeGreaterThan(100_000);
    for (const bad of ["/package.json", "/../ops.token", "/index.html", "/swagger-ui.js.map", "/%2e%2e/ops.token"])
      expect((await fetch(base + bad)).status, bad).toBe(401); // not a page file: the token rules apply
  });

  it.skipIf(!!NO_CHROMIUM)(
    `renders in headless Chromium: title, version and every operation of the document${NO_CHROMIUM}`,
    async () => {
      const url = `http://127.0.0.1:${ops}${API_PAGE_PATH}`;
      const dom = await chromium(["--virtual-time-budget=15000", "--dump-dom", url]);
      expect(dom.code, dom.stderr.slice(-2000)).toBe(0);
      const text = dom.stdout;
      expect(text).toContain('id="swagger-ui"');
      // Rendered by Swagger UI from /openapi.json, not in the page we sent.
      expect(text).toMatch(new RegExp(`class="title"[^>]*>\\s*${openapi.info.title}`));
      expect(text).toContain(openapi.info.version);
      const paths = Object.keys(openapi.paths);
      expect(paths.length).toBeGreaterThan(8);
      for (const path of paths) expect(text, path).toContain(`data-path="${path}"`);
      expect(text).toContain("Authorize");

      const png = process.env.QN_API_PAGE_PNG ?? join(dir, "api-page.png");
      const shot = await chromium([
        "--virtual-time-budget=15000",
        "--window-size=1280,1400",
        `--screenshot=${png}`,
        url,
      ]);
      expect(shot.code, shot.stderr.slice(-2000)).toBe(0);
      expect(existsSync(png)).toBe(true);
      expect(statSync(png).size).toBeGreaterThan(10_000);
      console.log(`API page screenshot: ${png}`);
    },
    200000,
  );
});
