// host/journal-image.ts reads the core's half header on the host (the
// gateway asks it before taking an existing file as a journal): pinned here
// to the core itself. Journals the core formatted and compacted, with the
// live half in either place, are recognised at every step of a QoS 2 run;
// a blank region too; random bytes, a header with one bit changed, and text
// are not.
import { describe, it, expect } from "vitest";
import { randomBytes } from "node:crypto";
import { journalImageProblem } from "../../host/journal-image.ts";
import { MemoryStorage } from "../../host/storage.ts";
import { Link } from "../protocol/harness.ts";
import { JournalStat } from "../../host/abi.ts";

describe("journal image", () => {
  it("recognises every state of a journal the core writes, and nothing else", () => {
    const storage = new MemoryStorage(4096);
    expect(journalImageProblem(storage.data)).toBeUndefined(); // blank
    const l = new Link({ role: 1, auth: 0 }, { role: 0, auth: 0, storage });
    l.connect();
    expect(journalImageProblem(storage.data)).toBeUndefined();
    // Which halves start with a header (magic byte), as seen along the run.
    const layouts = new Set<string>();
    let sent = 0;
    // QoS 2 to the end with the small journal until it has compacted into
    // each half several times.
    while (l.b.core.journalStat(JournalStat.COMPACTIONS) < 6 && sent < 2000) {
      if (l.a.publish(1, 2, new Uint8Array(40).fill(sent & 0xff)) > 0) sent++;
      l.run(5);
      expect(journalImageProblem(storage.data), `after ${sent} messages`).toBeUndefined();
      layouts.add(`${storage.data[0] === 0xa5 ? 0 : "-"}${storage.data[2048] === 0xa5 ? 1 : "-"}`);
    }
    expect(l.b.core.journalStat(JournalStat.COMPACTIONS)).toBeGreaterThanOrEqual(6);
    expect([...layouts].sort()).toEqual(["-1", "0-"]);

    expect(journalImageProblem(randomBytes(4096))).toBe("holds no QN journal header");
    expect(journalImageProblem(Buffer.from("root:x:0:0:root:/root:/bin/bash\n".repeat(128)))).toBe(
      "holds no QN journal header",
    );
    const flipped = Uint8Array.from(storage.data);
    const at = flipped[0] === 0xa5 ? 0 : 2048;
    flipped[at + 12] ^= 1; // the generation, under the header's CRC
    flipped.fill(0xff, 2048 - at, 4096 - at); // and no other half to fall back on
    expect(journalImageProblem(flipped)).toBe("holds no QN journal header");
  });
});
