// One timer for many tasks, keyed by their next deadlines: a min-heap of
// due times and a single setTimeout for the earliest. A process with
// thousands of links pays for the deadlines that come due, not for a timer
// per link firing whether there is work or not.
//
// A task's run() returns the delay until it wants to run again (ms), or
// undefined to leave the schedule. wake(task, ms) brings a task forward
// (never back): new input or output may need its timers sooner.

export interface Task {
  run(): number | undefined;
}

interface Entry {
  task: Task;
  due: number;
  at: number; // index in the heap
  /** While it runs: the earliest time a wake() asked for meanwhile. */
  woken?: number;
}

export class Scheduler {
  private readonly heap: Entry[] = [];
  private readonly entries = new Map<Task, Entry>();
  private timer?: NodeJS.Timeout;
  private timerDue = Infinity;
  /** Tasks run so far (benchmarks read it). */
  runs = 0;

  get size(): number {
    return this.heap.length;
  }

  /** Run `task` in `ms` (or sooner, if it is already due sooner). */
  wake(task: Task, ms: number): void {
    const due = performance.now() + ms;
    const e = this.entries.get(task);
    if (e && e.woken !== undefined) {
      e.woken = Math.min(e.woken, due); // running: settled when its run returns
      return;
    }
    if (!e) {
      const n: Entry = { task, due, at: this.heap.length };
      this.entries.set(task, n);
      this.heap.push(n);
      this.up(n.at);
    } else if (due < e.due) {
      e.due = due;
      this.up(e.at);
    } else return;
    this.arm();
  }

  remove(task: Task): void {
    const e = this.entries.get(task);
    if (!e) return;
    this.entries.delete(task);
    const last = this.heap.pop()!;
    if (last !== e) {
      this.heap[e.at] = last;
      last.at = e.at;
      this.down(last.at);
      this.up(last.at);
    }
    if (!this.heap.length && this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.timerDue = Infinity;
    }
  }

  private arm(): void {
    const first = this.heap[0];
    if (!first || first.due >= this.timerDue) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerDue = first.due;
    this.timer = setTimeout(() => this.fire(), Math.max(0, first.due - performance.now()));
  }

  private fire(): void {
    this.timer = undefined;
    this.timerDue = Infinity;
    const now = performance.now();
    // Only what is due now; a task is moved to its next deadline in place
    // (one sift, no removal and insertion). One that asks to run again at
    // once waits for the next turn, so I/O callbacks run in between.
    while (this.heap.length && this.heap[0].due <= now) {
      const e = this.heap[0];
      e.woken = Infinity;
      this.runs++;
      let next: number | undefined;
      try {
        next = e.task.run();
      } catch {
        next = undefined; // a task that throws leaves the schedule; its owner sees its own error
      }
      const woken = e.woken;
      e.woken = undefined;
      if (this.entries.get(e.task) !== e) continue; // it left the schedule while it ran
      const at = Math.min(next === undefined ? Infinity : performance.now() + next, woken);
      if (at === Infinity) {
        this.remove(e.task);
        continue;
      }
      e.due = Math.max(at, now + 0.001);
      this.down(e.at);
      this.up(e.at);
    }
    this.arm();
  }

  private up(i: number): void {
    const h = this.heap;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p].due <= h[i].due) break;
      this.swap(i, p);
      i = p;
    }
  }

  private down(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1,
        r = l + 1;
      let m = i;
      if (l < h.length && h[l].due < h[m].due) m = l;
      if (r < h.length && h[r].due < h[m].due) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }

  private swap(i: number, j: number): void {
    const h = this.heap;
    const a = h[i];
    h[i] = h[j];
    h[j] = a;
    h[i].at = i;
    h[j].at = j;
  }
}

/** The process's scheduler: every Peer (and emulated device) shares it. */
export const scheduler = new Scheduler();
