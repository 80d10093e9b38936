// Requests and answers between the primary of a multi-process gateway and
// its workers over the cluster IPC channel, in both directions: a request
// {qn: "req", id, op, args} gets {qn: "res", id, ok, value | error}. Each
// side numbers its own requests; an answer that never comes fails the
// request after REQUEST_MS, and every request still open fails when the
// channel closes (the worker died).

/** Longest wait for an answer (a reload of thousands of devices included). */
export const REQUEST_MS = 60_000;

export interface Channel {
  send(msg: unknown): unknown;
  on(event: "message", f: (msg: unknown) => void): unknown;
}

type Handler = (...args: unknown[]) => unknown;
type Msg = { qn?: string; id?: number; op?: string; args?: unknown[]; ok?: boolean; value?: unknown; error?: string };

export class Rpc {
  private next = 1;
  private readonly open = new Map<
    number,
    { resolve(v: unknown): void; reject(e: Error): void; timer: NodeJS.Timeout }
  >();

  constructor(
    private readonly ch: Channel,
    private readonly handlers: Record<string, Handler>,
  ) {
    ch.on("message", (m) => this.receive(m as Msg));
  }

  ask<T = unknown>(op: string, ...args: unknown[]): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => this.settle(id, false, undefined, `no answer to ${op} in ${REQUEST_MS} ms`),
        REQUEST_MS,
      );
      this.open.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      try {
        this.ch.send({ qn: "req", id, op, args });
      } catch (e) {
        this.settle(id, false, undefined, (e as Error).message);
      }
    });
  }

  /** The other side is gone: every open request fails. */
  closed(why: string): void {
    for (const id of [...this.open.keys()]) this.settle(id, false, undefined, why);
  }

  private settle(id: number, ok: boolean, value: unknown, error?: string): void {
    const p = this.open.get(id);
    if (!p) return;
    this.open.delete(id);
    clearTimeout(p.timer);
    if (ok) p.resolve(value);
    else p.reject(new Error(error ?? "failed"));
  }

  private receive(m: Msg): void {
    if (typeof m !== "object" || m === null || typeof m.id !== "number") return;
    if (m.qn === "res") {
      this.settle(m.id, !!m.ok, m.value, m.error);
      return;
    }
    if (m.qn !== "req") return;
    const id = m.id;
    const h = this.handlers[m.op ?? ""];
    const reply = (r: Msg) => {
      try {
        this.ch.send({ qn: "res", id, ...r });
      } catch {
        /* the channel closed: nobody waits for the answer */
      }
    };
    if (!h) {
      reply({ ok: false, error: `no operation ${m.op}` });
      return;
    }
    Promise.resolve()
      .then(() => h(...(m.args ?? [])))
      .then(
        (value) => reply({ ok: true, value }),
        (e: Error) => reply({ ok: false, error: e.message }),
      );
  }
}
