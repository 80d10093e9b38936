// A path in a config, or in a request to the ops API, is never a way to read,
// overwrite or chmod someone else's file (issue 14, defect 5). POST /reload
// reads only the gateway's own config, and a refused config never quotes
// the file (a line of /etc/shadow, a value, a YAML line); a journal, spool,
// downlink queue, lock, event-LSN or token path that names a file of
// another kind is refused (or left alone) and the file keeps its bytes and
// its mode; the gateway's own files are still taken.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import {
  writeFileSync,
  readFileSync,
  mkdtempSync,
  mkdirSync,
  symlinkSync,
  statSync,
  chmodSync,
  existsSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import pino from "pino";
import { loadConfig, ConfigError } from "../config.ts";
import { Gateway } from "../gateway.ts";
import { EventMerger } from "../event-log.ts";
import { openJournal, JOURNAL_BYTES } from "../journal-file.ts";
import { FileStorage } from "../../host/storage.ts";
import { freePort, writeDevKey } from "./helpers.ts";
import { EventType } from "../../host/abi.ts";

const dir = mkdtempSync(join(tmpdir(), "qn-foreign-"));
const SECRET = "S3CRETHASH";
const lines: string[] = [];
const log = pino(
  { level: "debug" },
  {
    write: (s: string) => {
      lines.push(s);
    },
  },
);
const ports = { mqtt: 0, ops: 0, device: 0 };

function config(o: { journal?: string; spool?: string; token?: string; extra?: string } = {}): string {
  return `gateway: { spool: ${o.spool ?? "mqtt.spool"}, ops: { listen: "127.0.0.1:${ports.ops}", token_file: ${o.token ?? "ops.token"} } }
mqtt: { url: "mqtt://127.0.0.1:${ports.mqtt}" }
devices:
  - id: d1
    transport: { tcp: { listen: "127.0.0.1:${ports.device}" } }
    key_file: k.hex
    journal: ${o.journal ?? "d1.journal"}
${o.extra ?? ""}`;
}

/** The problems loading `text` (as a config in `dir`) gives, or "accepted". */
function refusal(text: string, name = "c.yaml"): string {
  writeFileSync(join(dir, name), text);
  try {
    loadConfig(join(dir, name));
    return "accepted";
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return e.problems.join("\n");
  }
}

/** A file's bytes and mode, to show it was left as it was. */
const snapshot = (p: string) => ({ bytes: readFileSync(p).toString("base64"), mode: statSync(p).mode & 0o777 });

describe("paths never reach someone else's files", () => {
  let gw: Gateway;
  const cfg = join(dir, "gateway.yaml");
  const token = () => readFileSync(join(dir, "ops.token"), "utf8").trim();
  const ops = (path: string, method = "POST") =>
    fetch(`http://127.0.0.1:${ports.ops}${path}`, { method, headers: { authorization: `Bearer ${token()}` } });

  beforeAll(async () => {
    for (const k of ["mqtt", "ops", "device"] as const) ports[k] = await freePort();
    writeDevKey(dir);
    writeFileSync(cfg, config());
    gw = Gateway.fromFile(cfg, { log });
    await gw.start();
  });

  afterAll(async () => {
    await gw?.stop();
  });

  it("POST /reload reads only the gateway's own config, and a refusal never quotes the file", async () => {
    const shadow = join(dir, "shadow");
    writeFileSync(shadow, `root:$6$saltsalt$${SECRET}:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n`, {
      mode: 0o600,
    });
    const other = await ops(`/reload?file=${encodeURIComponent(shadow)}`);
    const otherText = await other.text();
    expect(other.status).toBe(400);
    expect(otherText).toContain(`reload reads only the gateway's own config file (${cfg})`);
    // The gateway's own file, named or not, is reloaded.
    expect((await ops(`/reload?file=${encodeURIComponent(cfg)}`)).status).toBe(200);
    expect((await ops("/reload")).status).toBe(200);
    // Its own file, with text that must not come back: shadow lines as
    // unknown keys, a YAML error on a line with a secret, a bad value.
    const bodies: string[] = [];
    for (const text of [
      readFileSync(shadow, "utf8"),
      config() + `password: hunter2-${SECRET} extra: x\n`,
      config().replace("gateway: {", `gateway: { log_level: ${SECRET},`),
      config() + `x: !${SECRET} y\ny: *${SECRET}\n`,
    ]) {
      writeFileSync(cfg, text);
      const r = await ops("/reload");
      expect(r.status).toBe(422);
      bodies.push(await r.text());
    }
    writeFileSync(cfg, config());
    console.log(
      `foreign files test: reload refusals ${bodies.map((b) => JSON.stringify(JSON.parse(b).errors)).join(" ")}`,
    );
    const errors = bodies.map((b) => (JSON.parse(b) as { errors: string[] }).errors.join("\n"));
    expect(errors[0]).toMatch(/unknown key\(s\) \(a key of \d+ characters that is no config key name, not shown\)/);
    expect(errors[1]).toMatch(/YAML syntax error at line \d+, column \d+: /);
    expect(errors[2]).toMatch(/gateway\.log_level: expected "trace"/);
    for (const b of [otherText, ...bodies]) expect(b).not.toContain(SECRET);
    expect(lines.join("")).not.toContain(SECRET);
  });

  it("a journal path naming another file is refused and the file left as it was; a journal is taken", async () => {
    const text = join(dir, "passwd");
    writeFileSync(text, "root:x:0:0:root:/root:/bin/bash\n");
    const same = join(dir, "image.bin"); // a journal's size, not a journal
    writeFileSync(same, randomBytes(JOURNAL_BYTES));
    const link = join(dir, "link.journal");
    symlinkSync(join(dir, "d1.journal"), link);
    const before = [text, same].map(snapshot);
    expect(refusal(config({ journal: "passwd" }))).toBe(
      `devices[0].journal: ${text} is 32 bytes, not a journal file (${JOURNAL_BYTES} bytes): refusing to overwrite it`,
    );
    expect(refusal(config({ journal: "image.bin" }))).toBe(
      `devices[0].journal: ${same} holds no QN journal header, so it is not a journal file: refusing to overwrite it`,
    );
    expect(refusal(config({ journal: "link.journal" }))).toBe(
      `devices[0].journal: ${link} is a symbolic link, not a journal file`,
    );
    // Through a reload: refused, the link keeps its journal.
    writeFileSync(cfg, config({ journal: "image.bin" }));
    const r = await gw.reload();
    writeFileSync(cfg, config());
    expect(r.ok).toBe(false);
    expect(r.errors).toEqual([
      `devices[0].journal: ${same} holds no QN journal header, so it is not a journal file: refusing to overwrite it`,
    ]);
    expect(gw.links.get("d1")!.cfg.journal).toBe(join(dir, "d1.journal"));
    // Opened directly (a file put there after the check): refused too.
    expect(() => openJournal(same)).toThrow(/holds no QN journal header/);
    expect(() => new FileStorage(text, 4096)).toThrow(
      /is 32 bytes, not a storage file \(4096 bytes\): refusing to overwrite it/,
    );
    expect([text, same].map(snapshot)).toEqual(before);
    // The gateway's own journal, and a blank one, are journals.
    writeFileSync(join(dir, "blank.journal"), Buffer.alloc(JOURNAL_BYTES, 0xff));
    expect(refusal(config())).toBe("accepted");
    expect(refusal(config({ journal: "blank.journal" }))).toBe("accepted");
  });

  it("a spool or downlink queue path naming another file is refused and the file left as it was", () => {
    const notes = join(dir, "notes.txt");
    writeFileSync(notes, "shopping: milk, eggs\nthe door code is 1234\n");
    const before = snapshot(notes);
    expect(refusal(config({ spool: "notes.txt" }))).toBe(
      `gateway.spool: ${notes} exists and is not a spool file (no line of it is a spool file record): refusing to overwrite it`,
    );
    expect(snapshot(notes)).toEqual(before);
    // The spool is new, but the downlink queue beside it is someone's file.
    mkdirSync(join(dir, "s2"));
    const spool = join(dir, "s2", "mqtt.spool"),
      down = `${spool}.down`;
    writeFileSync(down, "shopping: milk, eggs\n");
    const downBefore = snapshot(down);
    writeFileSync(join(dir, "s2.yaml"), config({ spool: "s2/mqtt.spool" }));
    const c = loadConfig(join(dir, "s2.yaml"));
    expect(() => new Gateway(c, join(dir, "s2.yaml"), { log })).toThrow(
      `${down} exists and is not a downlink queue file (no line of it is a downlink queue file record): refusing to overwrite it`,
    );
    expect(snapshot(down)).toEqual(downBefore);
    // Nothing is left holding the spool.
    expect(existsSync(`${spool}.lock`)).toBe(false);
  });

  it("a token file that is not plainly the gateway's own is refused, never chmod'ed", () => {
    const loose = join(dir, "loose.token");
    writeFileSync(loose, "0123456789abcdef0123456789abcdef\n");
    chmodSync(loose, 0o644);
    const key = join(dir, "id_key");
    writeFileSync(key, "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n", {
      mode: 0o600,
    });
    const before = [loose, key].map(snapshot);
    expect(refusal(config({ token: "loose.token" }))).toBe(
      `gateway.ops.token_file: ${loose} has mode 644: a token file is for the gateway's user only (chmod 600 it, or remove it and the gateway makes a new one)`,
    );
    expect(refusal(config({ token: "id_key" }))).toBe(
      `gateway.ops.token_file: ${key} does not hold a token (one line of 16 to 512 printable characters): refusing to use it as the token file`,
    );
    expect([loose, key].map(snapshot)).toEqual(before);
    // A token file of the gateway's own making is taken.
    expect(refusal(config())).toBe("accepted");
  });

  it("a file in the way of a journal's lock or event-LSN file is left alone", async () => {
    writeFileSync(join(dir, "e.journal.lock"), "not a lock: someone's notes\n");
    // A gateway of its own (its own spool and device port), beside the one running.
    const port = await freePort();
    writeFileSync(
      join(dir, "l.yaml"),
      config({ journal: "e.journal", spool: "l/mqtt.spool" }).replace(`127.0.0.1:${ports.device}`, `127.0.0.1:${port}`),
    );
    const g = Gateway.fromFile(join(dir, "l.yaml"), { log });
    await g.start({ ops: false });
    try {
      expect(g.links.get("d1")!.lastError).toMatch(
        /e\.journal\.lock exists and is not a QN lock file: refusing to remove it/,
      );
      expect(readFileSync(join(dir, "e.journal.lock"), "utf8")).toBe("not a lock: someone's notes\n");
    } finally {
      await g.stop();
    }
    const events = join(dir, "x.events");
    writeFileSync(events, "someone's notes\n");
    const ev = { seq: 1, time_us: 1000, type: EventType.LINK_UP, event: "link up", code: 0 };
    await new EventMerger(events, log, async () => [ev]).poll();
    expect(readFileSync(events, "utf8")).toBe("someone's notes\n");
  });
});
