/** What every pipeline stage receives: root, config, store, telemetry, logger, clock and hooks. */
import path from 'node:path';
import type { Config } from '../config/load.js';
import type { Layout } from '../layout.js';
import type { StateStore } from '../state/store.js';
import type { Telemetry, Agent, EventName } from '../state/telemetry.js';
import { stageIndex, STAGES, type Stage, type WoRecord, type WoType } from '../state/record.js';
import type { WorkOrder } from '../wo/parse.js';
import type { NamedTarget } from '../policy/targets.js';
import { PROCESSORS } from '../processors/index.js';
import { appendRotated } from '../util/rotate.js';

export interface Logger {
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
}

export interface Hooks {
  /** A WO reached a terminal state (metrics, notify, guardrail). */
  terminal?(rec: WoRecord): void;
  /** A WO was held for approval. */
  held?(rec: WoRecord): void;
  /** A WO changed these protected paths on purpose and succeeded: the guardrail accepts them. */
  accepted?(rels: string[]): Promise<void>;
  /** These paths are no longer locked by a running WO. */
  unlocked?(rels: string[]): Promise<void>;
}

export interface Runtime {
  L: Layout;
  config: () => Config;
  store: StateStore;
  telemetry: Telemetry;
  log: Logger;
  now: () => Date;
  hooks: Hooks;
  /** The daemon's record index (listings inside the daemon read it); absent in the CLI's offline runtime. */
  index?: import('../state/index.js').WoIndex;
}

/** A claimed WO file, parsed, ready to be admitted or run. */
export interface Job {
  /** Absolute path of the WO file now (processing/ or hold/). */
  file: string;
  lane: string;
  /** The name it had in the inbox. */
  name: string;
  sha256: string;
  bytes: Buffer;
  wo: WorkOrder;
  id: string;
  type: WoType;
  warnings: string[];
  seq: number;
  received: string;
  /** Approved by a person: skip the policy hold. */
  approved?: boolean;
  /** ENTRY lane: the decoded document to route. */
  doc?: unknown;
  /** Every path the WO names, judged once at admission (locks, snapshot and apply all use these). */
  targets: NamedTarget[];
}

/** The agent name telemetry uses for a WO type (its processor's). */
export function agentFor(type: WoType): Agent {
  return PROCESSORS[type].agent;
}

/** A fresh record for a job's attempt. */
export function newRecord(rt: Runtime, job: Job, prev: WoRecord | undefined): WoRecord {
  const attempt = (prev?.attempt ?? 0) + 1;
  return {
    schema: 1,
    wo_id: job.id,
    title: job.wo.title,
    lane: job.lane,
    type: job.type,
    priority: job.wo.priority,
    ...(job.wo.owner ? { owner: job.wo.owner } : {}),
    status: 'queued',
    stage: 'validated',
    stage_index: stageIndex('validated'),
    stages_total: STAGES.length,
    attempt,
    attempts: prev ? [...(prev.attempts ?? []), { attempt: prev.attempt, status: prev.requeued_from ?? prev.status, ...(prev.times?.started ? { started: prev.times.started } : {}), ...(prev.times?.finished ? { finished: prev.times.finished } : {}), ...(prev.error ? { error: { code: prev.error.code, message: prev.error.message } } : {}), rolled_back: prev.rolled_back }] : [],
    sha256: job.sha256,
    file: path.relative(rt.L.root, job.file),
    source_name: job.name,
    rolled_back: false,
    dry_run: false,
    idempotent: job.wo.idempotent,
    // An approved WO's run keeps when it was held and approved (its timeline shows the wait for a person).
    times: prev && prev.sha256 === job.sha256 && prev.status === 'queued' && prev.times?.approved
      ? { received: job.received, validated: prev.times.validated ?? rt.now().toISOString(), ...(prev.times.held ? { held: prev.times.held } : {}), approved: prev.times.approved }
      : { received: job.received, validated: rt.now().toISOString() },
    files: [],
    commands: [],
    tests: [],
    warnings: job.warnings,
    ...(Object.keys(job.wo.extra).length ? { extra: job.wo.extra } : {}),
    ...(prev?.actions?.length ? { actions: prev.actions } : {}),
  };
}

/** Move a record to a stage (in memory; persist with `save`). */
export function setStage(rt: Runtime, rec: WoRecord, stage: Stage): void {
  rec.stage = stage;
  rec.stage_index = stageIndex(stage);
  rec.times[stage] = rt.now().toISOString();
}

/** Persist a record durably (write-ahead: before the side effect it precedes). */
export async function save(rt: Runtime, rec: WoRecord): Promise<void> {
  await rt.store.write(rec);
}

/** Emit a telemetry event about a WO. */
export function emit(rt: Runtime, rec: Pick<WoRecord, 'wo_id' | 'type' | 'lane'> & { attempt?: number }, event: EventName, fields: Record<string, unknown> = {}, agent?: Agent): void {
  rt.telemetry.emit(agent ?? agentFor(rec.type), event, { wo_id: rec.wo_id, lane: rec.lane, ...(rec.attempt !== undefined ? { attempt: rec.attempt } : {}), ...fields });
}

/** The telemetry event that announces a terminal status (none for routed/reverted: theirs are per step). */
export const TERMINAL_EVENT: Partial<Record<WoRecord['status'], EventName>> = {
  succeeded: 'wo_completed',
  failed: 'wo_failed',
  cancelled: 'wo_cancelled',
  rejected: 'wo_rejected',
};

/** Append a line to g/logs/rollback_YYYYMMDD.log (rotated by size: logs.rotate_bytes × logs.keep). */
export async function logRollback(rt: Runtime, woId: string, paths: string[], why: string): Promise<void> {
  const now = rt.now();
  const day = now.toISOString().slice(0, 10).replace(/-/g, '');
  const line = `${now.toISOString()} wo=${woId} restored=${JSON.stringify(paths)} reason=${JSON.stringify(why)}\n`;
  const { logs } = rt.config();
  appendRotated(path.join(rt.L.logs, `rollback_${day}.log`), line, { rotateBytes: logs.rotate_bytes, keep: logs.keep });
}
