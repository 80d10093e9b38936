// One listener for many devices: a device names its key (WELCOME field 14)
// and a client with no key stops at that WELCOME until the shell has set
// the key named, then checks the proof under it. A wrong key is an
// authentication failure as always; a client never given one gives up on
// its handshake timer.
import { describe, it, expect } from "vitest";
import { loadModule, QnCore } from "../../host/core.ts";
import { MemoryStorage } from "../../host/storage.ts";
import { AuthMode, ConfigKey, Counter, Role, SessionState } from "../../host/abi.ts";
import { KEY } from "./harness.ts";

const module = loadModule();

function core(role: number, opts: { key?: Uint8Array; keyId?: number } = {}): QnCore {
  const c = new QnCore(module, { storage: new MemoryStorage(16 * 1024) });
  c.init();
  c.setConfig(ConfigKey.ROLE, role);
  c.setConfig(ConfigKey.AUTH, AuthMode.FRAME_MAC);
  c.setConfig(ConfigKey.HANDSHAKE_MS, 100);
  if (opts.key) c.setKey(opts.key);
  if (opts.keyId) c.setKeyId(opts.keyId);
  c.journalOpen(c.storage.size);
  return c;
}

const state = (c: QnCore) => c.sessionState();

/** Client and server one HELLO and WELCOME apart; returns the WELCOME's bytes. */
function toWelcome(client: QnCore, server: QnCore, t = 1000): Uint8Array {
  client.tick(t);
  client.connect();
  server.tick(t);
  server.rx(client.pull());
  return server.pull();
}

describe("key id in WELCOME", () => {
  it("a client with no key waits at a WELCOME naming a key id, then proves the session under the key set", () => {
    const server = core(Role.SERVER, { key: KEY, keyId: 77 });
    const client = core(Role.CLIENT);
    client.forgetKey();
    const welcome = toWelcome(client, server);
    client.rx(welcome);
    expect(state(client)).toBe(SessionState.HELLO_SENT);
    expect(client.peerKeyId()).toBe(77);
    expect(client.counter(Counter.AUTH_FAIL)).toBe(0); // not a failure: a question
    expect(client.pull().length).toBe(0); // nothing answered yet
    client.setKey(KEY);
    client.rx(welcome);
    expect(state(client)).toBe(SessionState.UP);
    server.rx(client.pull()); // CONFIRM
    expect(state(server)).toBe(SessionState.UP);
    expect(client.sessionWireId()).toBe(server.sessionWireId());
  });

  it("the wrong key set for the id named is an authentication failure, counted", () => {
    const server = core(Role.SERVER, { key: KEY, keyId: 5 });
    const client = core(Role.CLIENT);
    client.forgetKey();
    const welcome = toWelcome(client, server);
    client.rx(welcome);
    client.setKey(new TextEncoder().encode("another device's key 0123456789"));
    client.rx(welcome);
    expect(state(client)).toBe(SessionState.DOWN);
    expect(client.counter(Counter.AUTH_FAIL)).toBe(1);
  });

  it("a client never given the key gives up on its handshake timer", () => {
    const server = core(Role.SERVER, { key: KEY, keyId: 9 });
    const client = core(Role.CLIENT);
    client.forgetKey();
    client.rx(toWelcome(client, server));
    client.tick(1000 + 150_000);
    expect(state(client)).toBe(SessionState.DOWN);
    expect(client.counter(Counter.AUTH_FAIL)).toBe(0);
  });

  it("a client with its key checks the proof at once and records the id; a device without one is as before", () => {
    const server = core(Role.SERVER, { key: KEY, keyId: 1234567 });
    const client = core(Role.CLIENT, { key: KEY });
    client.rx(toWelcome(client, server));
    expect(state(client)).toBe(SessionState.UP);
    expect(client.peerKeyId()).toBe(1234567);

    const plain = core(Role.SERVER, { key: KEY });
    const keyless = core(Role.CLIENT);
    keyless.forgetKey();
    keyless.rx(toWelcome(keyless, plain));
    expect(keyless.peerKeyId()).toBe(0);
    expect(keyless.counter(Counter.AUTH_FAIL)).toBe(1); // no key and no id: refused as before
    expect(state(keyless)).toBe(SessionState.DOWN);
  });

  it("a forgotten key is gone: the next HELLO's WELCOME waits again", () => {
    const server = core(Role.SERVER, { key: KEY, keyId: 3 });
    const client = core(Role.CLIENT, { key: KEY });
    client.forgetKey();
    client.rx(toWelcome(client, server));
    expect(state(client)).toBe(SessionState.HELLO_SENT);
  });
});
