/**
 * The brake: claiming paused for every lane or some lanes, persisted in g/run/paused.json (written atomically,
 * so it survives restarts and can be set with the daemon down). WOs keep arriving in the inbox; none is lost.
 */
import path from 'node:path';
import { UsageError } from '../errors.js';
import { LANE_RE } from '../config/schema.js';
import { readJson, writeJsonAtomic } from '../util/fsx.js';
import type { Layout } from '../layout.js';
import type { OperatorAction } from '../state/record.js';

export interface PauseState {
  all: boolean;
  lanes: string[];
  /** The last pause/resume: who, when, why (and which lane). */
  last?: OperatorAction & { lane?: string };
}

export const NOT_PAUSED: PauseState = { all: false, lanes: [] };

/** g/run/paused.json. */
export function pauseFile(L: Layout): string {
  return path.join(L.run, 'paused.json');
}

/** Why: the file may be edited by hand; say what is wrong with it in one line, or undefined when it is a pause state. */
export function pauseProblem(v: unknown): string | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'is not a JSON object';
  const o = v as Record<string, unknown>;
  if (typeof o.all !== 'boolean') return 'has no boolean "all"';
  if (!Array.isArray(o.lanes) || !o.lanes.every((l) => typeof l === 'string' && LANE_RE.test(l))) return 'has no "lanes" list of lane names';
  return undefined;
}

/**
 * Read the pause state. Absent ⇒ not paused. Unreadable or malformed ⇒ not paused, with the problem said
 * (the daemon logs it, `wo status` shows it; `wo pause`/`wo resume` rewrite the file).
 */
export async function readPause(L: Layout): Promise<{ state: PauseState; problem?: string }> {
  let v: unknown;
  try {
    v = await readJson<unknown>(pauseFile(L));
  } catch (err) {
    return { state: NOT_PAUSED, problem: `g/run/paused.json ${err instanceof SyntaxError ? 'is not JSON' : `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`}` };
  }
  if (v === undefined) return { state: NOT_PAUSED };
  const why = pauseProblem(v);
  if (why) return { state: NOT_PAUSED, problem: `g/run/paused.json ${why}` };
  const o = v as PauseState;
  return { state: { all: o.all, lanes: [...new Set(o.lanes)].sort(), ...(o.last ? { last: o.last } : {}) } };
}

/** Write the pause state durably (temp → fsync → rename → fsync dir). */
export async function writePause(L: Layout, state: PauseState): Promise<void> {
  await writeJsonAtomic(pauseFile(L), state, { mode: 0o600 });
}

/** Is claiming paused for this lane? */
export function isPaused(state: PauseState, lane: string): boolean {
  return state.all || state.lanes.includes(lane);
}

/** Why: pure transition of the pause state; resuming one lane while all are paused is refused (resume all instead). */
export function applyPause(state: PauseState, pause: boolean, lane: string | undefined, entry?: OperatorAction): PauseState {
  if (lane !== undefined && !LANE_RE.test(lane)) throw new UsageError(`--lane ${JSON.stringify(lane)}: a lane is 1 to 64 letters, digits, . _ -`);
  let next: PauseState;
  if (lane === undefined) next = pause ? { all: true, lanes: state.lanes } : { all: false, lanes: [] };
  else if (pause) next = { all: state.all, lanes: [...new Set([...state.lanes, lane])].sort() };
  else {
    if (state.all) throw new UsageError(`every lane is paused: resume them all (wo resume, without --lane), then pause the lanes to keep paused`);
    next = { all: false, lanes: state.lanes.filter((l) => l !== lane) };
  }
  return entry ? { ...next, last: { ...entry, ...(lane !== undefined ? { lane } : {}) } } : next;
}

/** The state as shown in status, /readyz and /api/status: `{all, lanes}`. */
export function pauseView(state: PauseState): { all: boolean; lanes: string[] } {
  return { all: state.all, lanes: state.lanes };
}

/** One line for people: "all lanes" / "lanes A, B" / "" when nothing is paused. */
export function pauseWords(state: PauseState): string {
  if (state.all) return 'all lanes';
  return state.lanes.length ? `lane${state.lanes.length > 1 ? 's' : ''} ${state.lanes.join(', ')}` : '';
}
