/**
 * Brakes on a lane (SPEC §6): a breaker that drops the lane to `approve` after repeated failures until a person
 * resets it (state in g/run/breaker.json, so it survives restarts), and a rate limit (in memory: a restart forgets
 * it). The decisions are pure functions over data; `Brakes` holds the state of one root and persists the breaker.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { writeJsonAtomic } from '../util/fsx.js';

export interface BreakerRule {
  /** Failed WOs in one lane within `window_s` that open the breaker; 0: off. */
  failures: number;
  window_s: number;
}

export interface RateRule {
  max: number;
  per_s: number;
}

/** Why a lane's breaker is open: the rule it tripped and when. */
export interface OpenBreaker {
  since: string;
  failures: number;
  window_s: number;
}

export interface LaneBreaker {
  /** When the lane's recent WOs failed (ISO), oldest first, within the window. */
  failures: string[];
  open?: OpenBreaker;
}

/** g/run/breaker.json. */
export interface BreakerState {
  lanes: Record<string, LaneBreaker>;
}

const BREAKER_FILE = 'breaker.json';

/** Why: the file may be from an older version or hand-edited; keep what reads as breaker state, drop the rest. */
export function parseBreakerState(raw: unknown): BreakerState {
  const lanes: Record<string, LaneBreaker> = {};
  const src = (raw as { lanes?: unknown } | null)?.lanes;
  if (!src || typeof src !== 'object' || Array.isArray(src)) return { lanes };
  for (const [lane, v] of Object.entries(src as Record<string, unknown>)) {
    const l = v as { failures?: unknown; open?: unknown } | null;
    if (!l || typeof l !== 'object') continue;
    const failures = Array.isArray(l.failures) ? l.failures.filter((t): t is string => typeof t === 'string' && !Number.isNaN(Date.parse(t))) : [];
    const o = l.open as Partial<OpenBreaker> | undefined;
    const open = o && typeof o === 'object' && typeof o.since === 'string' && typeof o.failures === 'number' && typeof o.window_s === 'number' ? { since: o.since, failures: o.failures, window_s: o.window_s } : undefined;
    Object.defineProperty(lanes, lane, { value: { failures, ...(open ? { open } : {}) }, enumerable: true, writable: true, configurable: true });
  }
  return { lanes };
}

const laneOf = (state: BreakerState, lane: string): LaneBreaker | undefined => (Object.hasOwn(state.lanes, lane) ? state.lanes[lane] : undefined);

function withLane(state: BreakerState, lane: string, value: LaneBreaker | undefined): BreakerState {
  const lanes: Record<string, LaneBreaker> = {};
  for (const [k, v] of Object.entries(state.lanes)) if (k !== lane) Object.defineProperty(lanes, k, { value: v, enumerable: true, writable: true, configurable: true });
  if (value) Object.defineProperty(lanes, lane, { value, enumerable: true, writable: true, configurable: true });
  return { lanes };
}

/** Why: one failed WO in a lane; opens the breaker when the lane has `rule.failures` failures within the window. Pure. */
export function noteFailure(state: BreakerState, lane: string, now: Date, rule: BreakerRule): { state: BreakerState; opened?: OpenBreaker } {
  if (rule.failures <= 0) return { state };
  const since = now.getTime() - rule.window_s * 1000;
  const prev = laneOf(state, lane);
  const failures = [...(prev?.failures ?? []).filter((t) => Date.parse(t) > since), now.toISOString()].slice(-rule.failures);
  if (prev?.open) return { state: withLane(state, lane, { failures, open: prev.open }) };
  if (failures.length < rule.failures) return { state: withLane(state, lane, { failures }) };
  const opened: OpenBreaker = { since: now.toISOString(), failures: rule.failures, window_s: rule.window_s };
  return { state: withLane(state, lane, { failures, open: opened }), opened };
}

/** Why: a person closes a lane's breaker (or every lane's) and forgets its failures, so the next one does not reopen it. Pure. */
export function closeBreakers(state: BreakerState, lane?: string): { state: BreakerState; closed: string[] } {
  const lanes = lane === undefined ? Object.keys(state.lanes) : [lane];
  const closed = lanes.filter((l) => laneOf(state, l)?.open);
  let next = state;
  for (const l of lanes) if (laneOf(next, l)) next = withLane(next, l, undefined);
  return { state: next, closed };
}

/** What opened a lane's breaker, in words (logs, notifications). */
export function breakerCause(lane: string, open: OpenBreaker): string {
  return `breaker open for lane ${lane}: ${open.failures} failure${open.failures === 1 ? '' : 's'} in ${open.window_s} s (policy.breaker)`;
}

/** The hold reason of a WO in a lane whose breaker is open. */
export function breakerReason(lane: string, open: OpenBreaker): string {
  return `${breakerCause(lane, open)}; \`wo resume --lane ${lane}\` closes it`;
}

/** Why: the admissions still inside the rate window, and whether one more would exceed the rule. Pure. */
export function rateWindow(times: readonly number[], nowMs: number, rule: RateRule): { times: number[]; full: boolean } {
  const kept = times.filter((t) => t > nowMs - rule.per_s * 1000);
  return { times: kept, full: kept.length >= rule.max };
}

/** The hold reason of a WO over its lane's rate limit. */
export function rateReason(lane: string, rule: RateRule, count: number): string {
  return `policy.lanes.${lane}.rate is ${rule.max} per ${rule.per_s} s: ${count} WO${count === 1 ? '' : 's'} of lane ${lane} already started in the last ${rule.per_s} s`;
}

/** The brakes of one root: breaker state (persisted) and rate windows (in memory). */
export class Brakes {
  private state: BreakerState = { lanes: {} };
  private readonly started = new Map<string, number[]>();
  private writes: Promise<void> = Promise.resolve();
  /** Resolves once g/run/breaker.json is read (absent or unreadable: no breaker open, said once). */
  readonly ready: Promise<void>;

  constructor(readonly file: string, private readonly log: (msg: string) => void) {
    this.ready = this.load();
  }

  private async load(): Promise<void> {
    let text: string;
    try {
      text = await fsp.readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log(`cannot read ${this.file}: ${(err as Error).message}; no breaker is open`);
      return;
    }
    try {
      this.state = parseBreakerState(JSON.parse(text));
    } catch (err) {
      this.log(`${this.file} is not valid JSON (${(err as Error).message}); no breaker is open`);
    }
  }

  /** The hold reason when the lane's breaker is open and the breaker is on. */
  breakerFor(lane: string, rule: BreakerRule): string | undefined {
    const open = laneOf(this.state, lane)?.open;
    return open && rule.failures > 0 ? breakerReason(lane, open) : undefined;
  }

  /** Lanes whose breaker is open, with why. */
  openLanes(): { lane: string; open: OpenBreaker }[] {
    return Object.entries(this.state.lanes).flatMap(([lane, l]) => (l.open ? [{ lane, open: l.open }] : []));
  }

  /** The hold reason when one more WO would exceed the lane's rate. */
  rateFull(lane: string, rule: RateRule | undefined, now: Date): string | undefined {
    if (!rule) return undefined;
    const w = rateWindow(this.started.get(lane) ?? [], now.getTime(), rule);
    this.started.set(lane, w.times);
    return w.full ? rateReason(lane, rule, w.times.length) : undefined;
  }

  /** A WO of the lane was admitted to run: it counts against the rate. */
  admitted(lane: string, now: Date): void {
    (this.started.get(lane) ?? this.started.set(lane, []).get(lane)!).push(now.getTime());
  }

  /** A WO of the lane failed for good: counted now (admission sees it at once), persisted before resolving. */
  failed(lane: string, now: Date, rule: BreakerRule): { opened?: OpenBreaker; saved: Promise<void> } {
    const r = noteFailure(this.state, lane, now, rule);
    if (r.state === this.state) return { saved: Promise.resolve() };
    this.state = r.state;
    return { ...(r.opened ? { opened: r.opened } : {}), saved: this.persist() };
  }

  /** Close the lane's breaker (every lane's without one); resolves with the lanes that were open, once persisted. */
  async reset(lane?: string): Promise<string[]> {
    await this.ready;
    const r = closeBreakers(this.state, lane);
    if (r.state === this.state) return r.closed;
    this.state = r.state;
    await this.persist();
    return r.closed;
  }

  /** Write the current state (temp → fsync → rename → fsync dir), one write at a time, in order. */
  private persist(): Promise<void> {
    const snapshot = this.state;
    this.writes = this.writes.then(() => writeJsonAtomic(this.file, snapshot, { mode: 0o600 })).catch((err: unknown) => this.log(`cannot write ${this.file}: ${(err as Error).message}`));
    return this.writes;
  }
}

const registry = new Map<string, Brakes>();

/** Why: one `Brakes` per root in a process, so the daemon's admission, its failure hook and a reset share the state. */
export function brakesAt(runDir: string, log: (msg: string) => void = (m) => process.stderr.write(`wo brakes: ${m}\n`)): Brakes {
  const file = path.join(runDir, BREAKER_FILE);
  let b = registry.get(file);
  if (!b) registry.set(file, (b = new Brakes(file, log)));
  return b;
}

/**
 * Why: `wo resume --lane L` closes a lane's breaker (no lane: every lane's). Call it in the daemon's process: it
 * resets the daemon's state (all roots it serves, or only `runDir`'s) and g/run/breaker.json. Resolves with the lanes closed.
 */
export async function resetBreaker(lane?: string, runDir?: string): Promise<string[]> {
  const targets = runDir ? [brakesAt(runDir)] : [...registry.values()];
  const closed: string[] = [];
  for (const b of targets) closed.push(...(await b.reset(lane)));
  return closed;
}
