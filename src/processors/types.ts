/** What a processor is: one entry of the PROCESSORS table (src/processors/index.ts). */
import type { Agent } from '../state/telemetry.js';
import type { PlanStep, WoRecord } from '../state/record.js';
import type { WorkOrder } from '../wo/parse.js';
import type { Job, Runtime } from '../daemon/runtime.js';

export type AbortWhy = 'cancel' | 'timeout' | 'shutdown';

export interface RunControl {
  signal: AbortSignal;
  reason: () => AbortWhy | undefined;
}

export type Outcome = { rec: WoRecord; retryInMs?: number };

/** The lane route consumes: files dropped there are entry files, not WOs of a type. (A leaf module: no import cycle.) */
export const ENTRY_LANE = 'ENTRY';

/** A decoded file of a processor's own lane: its identity and the document it carries. */
export type Decoded = { ok: true; id: string; sha256: string; wo: WorkOrder; doc: unknown } | { ok: false; message: string };

export interface Processor {
  /** The telemetry agent of its events. */
  agent: Agent;
  /** A lane whose files this processor decodes itself, and the only lane its WOs may come from (route: ENTRY). */
  lane?: string;
  /** For its own lane: the job's id and document from the raw file. */
  decode?(bytes: Buffer, name: string): Decoded;
  /** Whether the WO's paths are judged and its commands are under policy (route only delivers files to inboxes). */
  judged: boolean;
  /** Runs alone: no other WO at the same time (an exec WO without `paths`). */
  exclusive(wo: WorkOrder): boolean;
  /** The honest plan of what it would do, without doing it (dry run, review). */
  plan(rt: Runtime, job: Job): Promise<PlanStep[]>;
  /** One attempt to a terminal state (or queued again): the record is fresh for this attempt. */
  run(rt: Runtime, job: Job, rec: WoRecord, ctl: RunControl): Promise<Outcome>;
}
