/**
 * Order and concurrency: priority then arrival, never two WOs on the same path (or id) at once. Two pools:
 * WOs that run commands (exec, validate, commands, post_verify, tests, services) share `concurrency` slots;
 * WOs that only do file I/O share `io_concurrency` slots (0: they share the command slots instead).
 */
import { PROCESSORS } from '../processors/index.js';
import { commandsOf } from '../policy/verdict.js';
import type { Job, Runtime } from './runtime.js';
import type { AbortWhy, Outcome, RunControl } from './lifecycle.js';

interface Running {
  job: Job;
  ac: AbortController;
  why: AbortWhy | undefined;
  keys: string[];
  exclusive: boolean;
  pool: Pool;
  done: Promise<void>;
}

type Pool = 'cmd' | 'io';

/** A queued job with what the scheduler needs, computed once at enqueue (a 10k-deep queue is scanned often). */
interface Queued {
  job: Job;
  keys: string[];
  exclusive: boolean;
  io: boolean;
}

/** Why: a WO that runs no command is pure file I/O (fsync-bound, not CPU- or child-bound): it may use the I/O pool. */
export function fileOnly(job: Pick<Job, 'type' | 'wo'>): boolean {
  if (job.type === 'exec') return false;
  // A services step (when the WO format has one) starts and stops units: it counts as a command.
  const services = (job.wo as { services?: unknown }).services;
  if (Array.isArray(services) ? services.length > 0 : services !== undefined && services !== null) return false;
  return commandsOf(job.wo).length === 0;
}

const PRIO: Record<string, number> = { P0: 0, P1: 1, P2: 2, P3: 3 };

export class Scheduler {
  private queue: Queued[] = [];
  private unsorted = false;
  private running = new Map<string, Running>();
  private inPool: Record<Pool, number> = { cmd: 0, io: 0 };
  private queuedIo = 0;
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
    const io = fileOnly(job);
    this.queue.push({ job, keys: this.keysOf(job), exclusive: this.isExclusive(job), io });
    if (io) this.queuedIo += 1;
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
    return this.running.has(id) || this.queue.some((q) => q.job.id === id);
  }

  /** Every job queued or running, with its lane (`wo cancel --all`). */
  jobs(): { id: string; lane: string; running: boolean }[] {
    return [...[...this.running.values()].map((r) => ({ id: r.job.id, lane: r.job.lane, running: true })), ...this.queue.map(({ job: j }) => ({ id: j.id, lane: j.lane, running: false }))];
  }

  /** Start whatever may start now. */
  pump(): void {
    if (this.stopping || this.exclusive) return;
    const cfg = this.rt.config();
    const ioLimit = cfg.io_concurrency;
    const poolOf = (q: Queued): Pool => (q.io && ioLimit > 0 ? 'io' : 'cmd');
    const room = (p: Pool) => this.inPool[p] < (p === 'io' ? ioLimit : cfg.concurrency);
    // Stop scanning once no pool with room has a job of its kind waiting (a deep queue of one kind is not rescanned).
    const waiting = (p: Pool) => (p === 'io' ? this.queuedIo : ioLimit > 0 ? this.queue.length - this.queuedIo : this.queue.length);
    const open = () => (room('cmd') && waiting('cmd') > 0) || (ioLimit > 0 && room('io') && waiting('io') > 0);
    if (!open()) return;
    // Sorted only after an enqueue: re-sorting a 10k-deep queue on every finish cost ~5 % of a burst.
    if (this.unsorted) this.queue.sort((a, b) => (PRIO[a.job.wo.priority] ?? 2) - (PRIO[b.job.wo.priority] ?? 2) || a.job.seq - b.job.seq);
    this.unsorted = false;
    for (let i = 0; i < this.queue.length && !this.exclusive && open(); i++) {
      const q = this.queue[i]!;
      const pool = poolOf(q);
      if (!room(pool)) continue;
      if (q.exclusive && this.running.size > 0) continue;
      if (q.keys.some((k) => this.locked.has(k))) continue;
      this.remove(i--);
      this.start(q.job, q.keys, q.exclusive, pool);
    }
  }

  /** Take the queue's i-th entry out (keeping the count of file-only jobs waiting). */
  private remove(i: number): Queued {
    const q = this.queue.splice(i, 1)[0]!;
    if (q.io) this.queuedIo -= 1;
    return q;
  }

  private start(job: Job, keys: string[], excl: boolean, pool: Pool): void {
    for (const k of keys) this.locked.add(k);
    this.inPool[pool] += 1;
    if (excl) this.exclusive = true;
    const ac = new AbortController();
    const entry: Running = { job, ac, why: undefined, keys, exclusive: excl, pool, done: Promise.resolve() };
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
        this.inPool[pool] -= 1;
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
    return this.queue.find((q) => q.job.id === id)?.job;
  }

  /** Remove a queued (not running) job; returns it. */
  dequeue(id: string): Job | undefined {
    const i = this.queue.findIndex((q) => q.job.id === id);
    return i >= 0 ? this.remove(i).job : undefined;
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
    this.queuedIo = 0;
    if (this.running.size === 0) return;
    const idle = new Promise<void>((r) => this.idleWaiters.push(r));
    const timer = setTimeout(() => {
      for (const id of this.running.keys()) this.abort(id, 'shutdown');
    }, Math.max(0, deadlineMs - 2000));
    await idle;
    clearTimeout(timer);
  }
}
