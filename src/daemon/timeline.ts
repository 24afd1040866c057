/** Pure: a finished record's timeline (stages and commands as intervals), shared by the metrics and the traces. */
import { STAGES, type Phase, type Stage, type WoRecord } from '../state/record.js';

export interface Interval {
  /** Epoch milliseconds. */
  start: number;
  end: number;
}

export interface StageInterval extends Interval {
  stage: Stage;
}

export interface CommandInterval extends Interval {
  index: number;
  phase: Phase;
  cmd: string;
  name?: string;
  exit_code: number | null;
  signal: string | null;
  timed_out: boolean;
  /** The stage whose span holds this command (its phase's stage when the record reached it). */
  stage: Stage | null;
}

export interface Timeline extends Interval {
  stages: StageInterval[];
  commands: CommandInterval[];
}

const PHASE_STAGE: Record<Phase, Stage> = { validate: 'validated', commands: 'commands', post_verify: 'post_verify', tests: 'tests' };

const ms = (iso: string | undefined): number | undefined => {
  const t = iso === undefined ? NaN : Date.parse(iso);
  return Number.isFinite(t) ? t : undefined;
};

/**
 * Why: one reading of a record's times for every consumer. The WO runs from `received` to `finished` (`now`
 * when absent); each stage lasts until the next one began (or the end); each command from its `started_at`
 * for `duration_ms` (placed at its stage's start when the record has no start time).
 */
export function timelineOf(rec: Pick<WoRecord, 'times' | 'commands'>, now = Date.now()): Timeline {
  const marks = STAGES.map((stage) => ({ stage, t: ms(rec.times[stage]) })).filter((m): m is { stage: Stage; t: number } => m.t !== undefined);
  const end = Math.max(ms(rec.times.finished) ?? now, ...marks.map((m) => m.t));
  const start = Math.min(ms(rec.times.received) ?? marks[0]?.t ?? end, end);
  const stages = marks.map((m, i) => ({ stage: m.stage, start: m.t, end: Math.max(m.t, marks[i + 1]?.t ?? end) }));
  const commands = (rec.commands ?? []).map((c, index): CommandInterval => {
    const stage = stages.find((s) => s.stage === PHASE_STAGE[c.phase]) ?? null;
    const cStart = ms(c.started_at) ?? stage?.start ?? start;
    return {
      index,
      phase: c.phase,
      cmd: c.cmd,
      ...(c.name ? { name: c.name } : {}),
      exit_code: c.exit_code,
      signal: c.signal,
      timed_out: c.timed_out,
      stage: stage?.stage ?? null,
      start: cStart,
      end: cStart + Math.max(0, c.duration_ms || 0),
    };
  });
  return { start, end, stages, commands };
}
