/** Order and concurrency: priority then arrival, N at once, never two WOs on the same path (or id) at once. */
import { PROCESSORS } from '../processors/index.js';
import type { Job, Runtime } from './runtime.js';
import type { AbortWhy, Outcome, RunControl } from './lifecycle.js';

interface Running {
  job: Job;
  ac: AbortController;
  why: AbortWhy | undefined;
  keys: string[];
  exclusive: boolean;
  done: Promise<void>;
}

const PRIO: Record<string, number> = { P0: 0, P1: 1, P2: 2, P3: 3 };

export class Scheduler {
  private queue: Job[] = [];
  private unsorted = false;
  private running = new Map<string, Running>();
  private locked = new Set<string>();
  private exclusive = false;
  private stopping = false;
  private retryTimers = new Set<NodeJS.Timeout>();
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly rt: Runtime,
    private readonly run: (job: Job, ctl: RunControl) => Promise<Outcome>,
    private readonly onError: (job: Job, err: unknown) => void,
  ) {}

  /** Lock keys of a job: its id and every path it declares (lexically resolved). */
  private keysOf(job: Job): string[] {
    return [`id:${job.id}`, ...job.targets.map((t) => `path:${t.target.abs}`)];
  }

  /** An exec WO without `paths` may touch anything: it runs alone. */
  private isExclusive(job: Job): boolean {
    return PROCESSORS[job.type].exclusive(job.wo);
  }

  enqueue(job: Job): void {
    if (this.stopping) return;
    this.queue.push(job);
    this.unsorted = true;
    this.pump();
  }

  get depth(): number {
    return this.queue.length;
  }

  get active(): number {
    return this.running.size;
  }

  /** Paths (absolute) held by running WOs. */
  lockedPaths(): Set<string> {
    return new Set([...this.locked].filter((k) => k.startsWith('path:')).map((k) => k.slice(5)));
  }

  /** Why: retention deletes a WO's backup and record only while no attempt of it can start; undefined when one runs. */
  tryHoldIds(ids: string[]): (() => void) | undefined {
    const keys = ids.map((id) => `id:${id}`);
    if (keys.some((k) => this.locked.has(k))) return undefined;
    for (const k of keys) this.locked.add(k);
    return () => {
      for (const k of keys) this.locked.delete(k);
      this.pump();
    };
  }

  /** Ids queued or running. */
  has(id: string): boolean {
    return this.running.has(id) || this.queue.some((j) => j.id === id);
  }

  /** Every job queued or running, with its lane (`wo cancel --all`). */
  jobs(): { id: string; lane: string; running: boolean }[] {
    return [...[...this.running.values()].map((r) => ({ id: r.job.id, lane: r.job.lane, running: true })), ...this.queue.map((j) => ({ id: j.id, lane: j.lane, running: false }))];
  }

  /** Start whatever may start now. */
  pump(): void {
    if (this.stopping) return;
    const limit = this.rt.config().concurrency;
    if (this.running.size >= limit || this.exclusive) return;
    // Sorted only after an enqueue: re-sorting a 10k-deep queue on every finish cost ~5 % of a burst.
    if (this.unsorted) this.queue.sort((a, b) => (PRIO[a.wo.priority] ?? 2) - (PRIO[b.wo.priority] ?? 2) || a.seq - b.seq);
    this.unsorted = false;
    for (let i = 0; i < this.queue.length && this.running.size < limit && !this.exclusive; i++) {
      const job = this.queue[i]!;
      const excl = this.isExclusive(job);
      if (excl && this.running.size > 0) continue;
      const keys = this.keysOf(job);
      if (keys.some((k) => this.locked.has(k))) continue;
      this.queue.splice(i--, 1);
      this.start(job, keys, excl);
    }
  }

  private start(job: Job, keys: string[], excl: boolean): void {
    for (const k of keys) this.locked.add(k);
    if (excl) this.exclusive = true;
    const ac = new AbortController();
    const entry: Running = { job, ac, why: undefined, keys, exclusive: excl, done: Promise.resolve() };
    const timeoutS = job.wo.timeout_s;
    const timer = timeoutS ? setTimeout(() => this.abort(job.id, 'timeout'), timeoutS * 1000) : undefined;
    timer?.unref();
    entry.done = this.run(job, { signal: ac.signal, reason: () => entry.why })
      .then((out) => {
        if (out.retryInMs !== undefined && !this.stopping) {
          const t = setTimeout(() => {
            this.retryTimers.delete(t);
            this.enqueue({ ...job, seq: job.seq });
          }, out.retryInMs);
          this.retryTimers.add(t);
        }
      })
      .catch((err) => this.onError(job, err))
      .finally(() => {
        if (timer) clearTimeout(timer);
        this.running.delete(job.id);
        for (const k of keys) this.locked.delete(k);
        if (excl) this.exclusive = false;
        if (this.running.size === 0) this.idleWaiters.splice(0).forEach((w) => w());
        this.pump();
      });
    this.running.set(job.id, entry);
  }

  /** Abort a running WO (cancel, timeout or shutdown); false when it is not running. */
  abort(id: string, why: AbortWhy): boolean {
    const r = this.running.get(id);
    if (!r) return false;
    r.why ??= why;
    r.ac.abort();
    return true;
  }

  /** Resolves once the running attempt of this id (if any) has fully ended, its file moved. */
  async settled(id: string): Promise<void> {
    await this.running.get(id)?.done;
  }

  /** The queued (not yet running) job with this id. */
  queued(id: string): Job | undefined {
    return this.queue.find((j) => j.id === id);
  }

  /** Remove a queued (not running) job; returns it. */
  dequeue(id: string): Job | undefined {
    const i = this.queue.findIndex((j) => j.id === id);
    return i >= 0 ? this.queue.splice(i, 1)[0] : undefined;
  }

  /** Run `fn` once none of `absPaths` is locked, holding them meanwhile (wo rollback). */
  async withPaths<T>(absPaths: string[], fn: () => Promise<T>): Promise<T> {
    const keys = absPaths.map((p) => `path:${p}`);
    while (keys.some((k) => this.locked.has(k))) await new Promise((r) => setTimeout(r, 50));
    for (const k of keys) this.locked.add(k);
    try {
      return await fn();
    } finally {
      for (const k of keys) this.locked.delete(k);
      this.pump();
    }
  }

  /** Stop starting work; let running WOs finish until the deadline, then abort them (they roll back). */
  async shutdown(deadlineMs: number): Promise<void> {
    this.stopping = true;
    for (const t of this.retryTimers) clearTimeout(t);
    this.queue = [];
    if (this.running.size === 0) return;
    const idle = new Promise<void>((r) => this.idleWaiters.push(r));
    const timer = setTimeout(() => {
      for (const id of this.running.keys()) this.abort(id, 'shutdown');
    }, Math.max(0, deadlineMs - 2000));
    await idle;
    clearTimeout(timer);
  }
}
