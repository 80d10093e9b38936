// The device registry's file format (gateway/registry.ts): later lines
// change earlier ones; every bad line is listed with its number and none
// applies; a record is checked against the registry as it is (a profile
// must exist, a key id belongs to one device); keys are bounded and never
// quoted back.
import { describe, it, expect } from "vitest";
import { Registry, RegistryError } from "../registry.ts";

const KEY = "00112233445566778899aabbccddeeff";
const lines = (...recs: unknown[]) => recs.map((r) => (typeof r === "string" ? r : JSON.stringify(r))).join("\n");
const profile = { profile: "p", heartbeat_ms: 30000, channels: [{ channel: 1, topic: "t", qos: 1, direction: "up" }] };

describe("registry file", () => {
  it("replays adds, rotations, moves, revocations and removals in order", () => {
    const r = Registry.parse(
      lines(
        "# a comment",
        profile,
        { profile: "q" },
        { device: "a", key_id: 1, key: KEY, profile: "p" },
        { device: "b", key_id: 2, key: KEY, profile: "p" },
        { device: "a", key_id: 3, key: "ff", profile: "q" },
        { device: "b", revoke: true },
        { device: "c", key_id: 4, key: KEY, profile: "p" },
        { device: "c", remove: true },
        "",
      ),
    );
    expect(r.lookup(1)).toBeUndefined(); // a's old key id is free again
    expect(r.lookup(3)).toMatchObject({ id: "a", profile: "q", key: Uint8Array.of(0xff) });
    expect(r.lookup(2)).toBeUndefined();
    expect(r.refusal(2)).toBe("revoked");
    expect(r.refusal(4)).toBe("unknown");
    expect(r.devices.has("c")).toBe(false);
    expect(r.profiles.get("p")!.channels).toHaveLength(1);
    expect(r.profiles.get("q")!.event_poll_ms).toBe(0);
  });

  it("lists every bad line by number, and nothing applies", () => {
    let err: RegistryError | undefined;
    try {
      Registry.parse(
        lines(
          profile,
          "{not json",
          { device: "x", key_id: 1, key: KEY, profile: "nope" },
          { device: "y", key_id: 0, key: KEY, profile: "p" },
          { device: "z", key_id: 5, key: "secretsecret", profile: "p" },
          { device: "a", key_id: 6, key: KEY, profile: "p" },
          { device: "b", key_id: 6, key: KEY, profile: "p" },
          { device: "ghost", revoke: true },
          {
            profile: "p",
            channels: [
              { channel: 1, topic: "t", qos: 1, direction: "up" },
              { channel: 1, topic: "u", qos: 0, direction: "up" },
            ],
          },
          { device: "a", key_id: 7, key: KEY, profile: "p", extra: 1 },
          `{"device":"big","key_id":9,"key":"${"a".repeat(20000)}","profile":"p"}`,
        ),
        "reg.qnr",
      );
    } catch (e) {
      err = e as RegistryError;
    }
    expect(err).toBeInstanceOf(RegistryError);
    const p = err!.problems;
    expect(p[0]).toBe("line 2: not a JSON object");
    expect(p[1]).toBe('line 3: device x: no profile "nope"');
    expect(p[2]).toMatch(/^line 4: device: key_id: expected a key id >= 1/);
    expect(p[3]).toMatch(/^line 5: device: key: expected 1 to 32 bytes in hex$/);
    expect(p[4]).toBe("line 7: device b: key id 6 is a's");
    expect(p[5]).toBe('line 8: no device "ghost"');
    expect(p[6]).toMatch(/^line 9: profile p: uplink 1\/u mapped twice/);
    expect(p[7]).toMatch(/^line 10: device: unknown key\(s\) "extra"/);
    expect(p[8]).toMatch(/^line 11: record of \d+ bytes/);
    expect(err!.message).not.toMatch(/secretsecret/);
  });

  it("refuses a file it cannot read, with the reason", () => {
    expect(() => Registry.load("/nonexistent/reg.qnr")).toThrow(/cannot read the file/);
  });
});
