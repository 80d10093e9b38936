// The fleet's journal pack (journal-pack.ts): device journals in slots of
// one file, made durable by one fdatasync per flush round for all of them,
// kept across reopening, refusing files that are not packs, and taking
// over a device's journal file from before the pack.
import { describe, it, expect } from "vitest";
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
  openSync,
  writeSync,
  closeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { JournalPack } from "../journal-pack.ts";
import { JOURNAL_BYTES, openJournal } from "../journal-file.ts";
import { parseConfig, type ConfigError } from "../config.ts";
import { loadCore } from "../../host/core.ts";
import { journalImageProblem } from "../../host/journal-image.ts";
import { Status } from "../../host/abi.ts";

const dir = () => mkdtempSync(join(tmpdir(), "qn-pack-"));
const bytes = (...b: number[]) => Uint8Array.from(b);
const image = (s: { read(off: number, dst: Uint8Array): number }) => {
  const b = new Uint8Array(JOURNAL_BYTES);
  expect(s.read(0, b)).toBe(0);
  return b;
};

describe("journal pack", () => {
  it("keeps each device's journal in its own slot, with NOR rules, across a reopen", async () => {
    const path = join(dir(), "journals.pack");
    let pack = new JournalPack(path);
    const a = pack.slot("a"),
      b = pack.slot("b-Überdruck");
    expect(pack.slot("a")).toBe(a); // one slot per device
    expect(a.write(100, bytes(0xf0, 0x0f))).toBe(0);
    expect(a.write(100, bytes(0x3c, 0xff))).toBe(0); // a write only clears bits
    expect(b.write(JOURNAL_BYTES - 2, bytes(1, 2))).toBe(0);
    expect(b.write(JOURNAL_BYTES - 1, bytes(1, 2))).toBe(Status.ERR_STORAGE); // past the end
    expect(a.erase(0, 64)).toBe(0);
    await Promise.all([a.syncAsync(), b.syncAsync()]);
    pack.close();

    pack = new JournalPack(path);
    expect(pack.devices.sort()).toEqual(["a", "b-Überdruck"]);
    const ia = image(pack.slot("a")),
      ib = image(pack.slot("b-Überdruck"));
    expect([...ia.subarray(100, 102)]).toEqual([0x30, 0x0f]);
    expect(ia.filter((x) => x !== 0xff).length).toBe(2);
    expect([...ib.subarray(JOURNAL_BYTES - 2)]).toEqual([1, 2]);
    pack.close();
  });

  it("makes a round's writes of every device durable with one fdatasync", async () => {
    const path = join(dir(), "journals.pack");
    const pack = new JournalPack(path);
    const slots = Array.from({ length: 8 }, (_, i) => pack.slot(`dev${i}`));
    await Promise.all(slots.map((s) => s.syncAsync())); // the new slots
    const before = pack.fsyncs;
    for (const [i, s] of slots.entries()) s.write(8 * i, bytes(i));
    await Promise.all(slots.map((s) => s.syncAsync()));
    expect(pack.fsyncs - before).toBe(1);
    // On disk (read past the process's state): each at its slot.
    const file = readFileSync(path);
    const at = (i: number) => file.indexOf(Buffer.from(`dev${i}`));
    for (let i = 0; i < 8; i++) expect(at(i)).toBeGreaterThan(0);
    expect(file.length).toBe(statSync(path).size);
    pack.close();
  });

  it("is a core's journal: formatted, written and read back by the core", async () => {
    const path = join(dir(), "journals.pack");
    let pack = new JournalPack(path);
    const core = loadCore({ storage: pack.slot("dev1") });
    core.journalOpen(JOURNAL_BYTES);
    await pack.slot("dev1").syncAsync();
    pack.close();
    pack = new JournalPack(path);
    const img = image(pack.slot("dev1"));
    expect(img.some((x) => x !== 0xff)).toBe(true);
    expect(journalImageProblem(img)).toBeUndefined();
    pack.close();
  });

  it("refuses a file that is not a pack, and a symbolic link, leaving them as they are", () => {
    const d = dir();
    const foreign = join(d, "notes.txt");
    writeFileSync(foreign, "someone else's file\n");
    expect(() => new JournalPack(foreign)).toThrow(/is not a journal pack of this version: refusing to overwrite it/);
    expect(readFileSync(foreign, "utf8")).toBe("someone else's file\n");
    const link = join(d, "link.pack");
    symlinkSync(join(d, "elsewhere.pack"), link);
    expect(() => new JournalPack(link)).toThrow(/symbolic link/);
    expect(existsSync(join(d, "elsewhere.pack"))).toBe(false);
  });

  it("is one process's: a second opener is refused while the first holds it", () => {
    const path = join(dir(), "journals.pack");
    const pack = new JournalPack(path);
    // The same process counts as the owner (a gateway restarted in-process),
    // so the lock file is what another process would see.
    expect(existsSync(`${path}.lock`)).toBe(true);
    pack.close();
    expect(existsSync(`${path}.lock`)).toBe(false);
  });

  it("drops a partial slot at its tail and reuses a slot whose head is torn, erased", async () => {
    const path = join(dir(), "journals.pack");
    let pack = new JournalPack(path);
    pack.slot("a").write(0, bytes(0));
    pack.slot("b").write(0, bytes(0));
    await pack.slot("b").syncAsync();
    pack.close();
    const size = statSync(path).size;
    // A crash while a third slot was appended: half of it on disk.
    truncateSync(path, size + 1000);
    // b's head torn (its CRC no longer matches).
    const bHead = readFileSync(path).indexOf(Buffer.from("QNJS", "latin1"), 600);
    const fd = openSync(path, "r+");
    writeSync(fd, Buffer.from([0x00]), 0, 1, bHead + 6);
    closeSync(fd);
    pack = new JournalPack(path);
    expect(statSync(path).size).toBe(size);
    expect(pack.devices).toEqual(["a"]);
    const c = pack.slot("c"); // takes b's slot, erased
    expect(image(c).every((x) => x === 0xff)).toBe(true);
    await c.syncAsync();
    expect(statSync(path).size).toBe(size);
    pack.close();
  });

  it("takes over a device's journal file from before the pack, once", async () => {
    const d = dir();
    const legacy = join(d, "dev1.journal");
    const old = openJournal(legacy);
    const core = loadCore({ storage: old });
    core.journalOpen(JOURNAL_BYTES);
    old.close();
    const before = readFileSync(legacy);
    const pack = new JournalPack(join(d, "journals.pack"));
    const s = pack.slot("dev1", legacy);
    expect(Buffer.from(image(s)).equals(before)).toBe(true);
    expect(existsSync(legacy)).toBe(false);
    expect(readFileSync(`${legacy}.imported`).equals(before)).toBe(true);
    // Not a journal: refused, nothing taken, the file left.
    writeFileSync(join(d, "dev2.journal"), "not a journal");
    expect(() => pack.slot("dev2", join(d, "dev2.journal"))).toThrow(/not a journal file/);
    expect(pack.devices).toEqual(["dev1"]);
    expect(readFileSync(join(d, "dev2.journal"), "utf8")).toBe("not a journal");
    pack.close();
  });
});

describe("fleet.journal_pack in the config", () => {
  const text = (extra: string, workers: number | string) =>
    `gateway: { workers: ${workers} }
mqtt: { url: "mqtt://127.0.0.1:1883" }
fleet: { listen: "127.0.0.1:7000", registry: devices.qnr, journals: journals${extra} }
`;
  const problems = (t: string): string[] => {
    try {
      parseConfig(t);
      return [];
    } catch (e) {
      return (e as ConfigError).problems;
    }
  };

  it("is on by default, and refused when asked for with workers (a device's journal moves between them)", () => {
    expect(parseConfig(text("", 1)).fleet?.journal_pack).toBeUndefined();
    expect(problems(text(", journal_pack: false", 2))).toEqual([]);
    expect(problems(text("", 2))).toEqual([]);
    expect(problems(text(", journal_pack: true", 2))).toEqual([
      expect.stringMatching(/^fleet\.journal_pack: true needs gateway\.workers: 1/),
    ]);
    expect(problems(text(", journal_pack: yes", 1))[0]).toMatch(/fleet\.journal_pack/);
  });
});
