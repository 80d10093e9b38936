// One timer for many tasks (host/scheduler.ts): tasks run in deadline
// order, a wake brings a task forward but never back, a removed task does
// not run, a task that throws leaves the schedule without stopping the
// others, and with nothing scheduled no timer is left armed.
import { describe, it, expect } from "vitest";
import { Scheduler } from "../../host/scheduler.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("Scheduler", () => {
  it("runs tasks by deadline, reschedules by their answer, and stops when they say so", async () => {
    const s = new Scheduler();
    const order: string[] = [];
    let again = 2;
    const task = (name: string, next?: () => number | undefined) => ({
      run() {
        order.push(name);
        return next?.();
      },
    });
    s.wake(task("late"), 40);
    s.wake(task("early"), 5);
    s.wake(
      task("repeat", () => (again-- > 0 ? 5 : undefined)),
      10,
    );
    await sleep(120);
    expect(order).toEqual(["early", "repeat", "repeat", "repeat", "late"]);
    expect(s.size).toBe(0);
  });

  it("wake brings a task forward, never back; remove takes it out", async () => {
    const s = new Scheduler();
    const ran: string[] = [];
    const a = { run: () => void ran.push("a") };
    const b = { run: () => void ran.push("b") };
    s.wake(a, 200);
    s.wake(a, 5); // forward
    s.wake(b, 10);
    s.wake(b, 500); // not back
    const c = { run: () => void ran.push("c") };
    s.wake(c, 5);
    s.remove(c);
    await sleep(60);
    expect(ran).toEqual(["a", "b"]);
    expect(s.size).toBe(0);
  });

  it("a task that throws leaves the schedule; the others run", async () => {
    const s = new Scheduler();
    let ok = 0;
    s.wake(
      {
        run: () => {
          throw new Error("boom");
        },
      },
      1,
    );
    s.wake({ run: () => (ok++ < 2 ? 1 : undefined) }, 2);
    await sleep(60);
    expect(ok).toBe(3);
    expect(s.size).toBe(0);
  });

  it("a wake while a task runs counts when it is sooner than the run's answer; a task may leave while it runs", async () => {
    const s = new Scheduler();
    const times: number[] = [];
    let n = 0;
    const t0 = performance.now();
    const task = {
      run: () => {
        times.push(performance.now() - t0);
        if (++n === 1) s.wake(task, 5); // output went out: come back soon
        return n < 2 ? 10_000 : undefined; // idle: much later
      },
    };
    s.wake(task, 1);
    const leaver = {
      run: () => {
        s.remove(leaver);
        return 1;
      },
    };
    s.wake(leaver, 1);
    await sleep(100);
    expect(times).toHaveLength(2);
    expect(times[1] - times[0]).toBeLessThan(1000);
    expect(s.size).toBe(0);
  });

  it("keeps the heap in order through many wakes and removes", async () => {
    const s = new Scheduler();
    const got: number[] = [];
    const tasks = Array.from({ length: 200 }, (_, i) => ({ i, run: () => void got.push(i) }));
    for (const t of tasks) s.wake(t, 5 + ((t.i * 37) % 50));
    for (const t of tasks) if (t.i % 3 === 0) s.remove(t);
    await sleep(150);
    const want = tasks
      .filter((t) => t.i % 3 !== 0)
      .sort((x, y) => ((x.i * 37) % 50) - ((y.i * 37) % 50) || x.i - y.i)
      .map((t) => t.i);
    expect(got.length).toBe(want.length);
    // Deadlines in order (ties in any order).
    const due = (i: number) => (i * 37) % 50;
    for (let k = 1; k < got.length; k++) expect(due(got[k])).toBeGreaterThanOrEqual(due(got[k - 1]));
  });
});
