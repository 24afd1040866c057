/** The durable state record of a WO (SPEC §4): the names here are the contract. */
import type { ErrorCode } from '../errors.js';

export const STATUSES = ['queued', 'awaiting_approval', 'running', 'succeeded', 'failed', 'rejected', 'cancelled', 'routed', 'reverted'] as const;
export type Status = (typeof STATUSES)[number];
export const TERMINAL: ReadonlySet<Status> = new Set(['succeeded', 'failed', 'rejected', 'cancelled', 'routed', 'reverted']);

export const STAGES = ['received', 'validated', 'held', 'snapshot', 'apply', 'commands', 'post_verify', 'tests', 'commit'] as const;
export type Stage = (typeof STAGES)[number];

export type WoType = 'apply_patch' | 'exec' | 'route';
export type Phase = 'validate' | 'commands' | 'post_verify' | 'tests';

export interface FileEffect {
  path: string;
  action: 'write' | 'patch' | 'delete';
  before_sha256: string | null;
  after_sha256: string | null;
  mode: string | null;
  before_mode?: string | null;
}

export interface CommandRecord {
  phase: Phase;
  cmd: string;
  exit_code: number | null;
  signal: string | null;
  timed_out: boolean;
  duration_ms: number;
  stdout_tail: string;
  stderr_tail: string;
  pid?: number;
  started_at?: string;
  name?: string;
}

/** What a services: step action did (SPEC §4): the manager call, its outcome, the status before and after. */
export interface ServiceRecord {
  index: number;
  kind: 'launchd' | 'systemd';
  /** The launchd label or systemd unit. */
  name: string;
  plist?: string;
  action: 'load' | 'unload' | 'restart';
  cmd: string;
  exit_code: number | null;
  timed_out: boolean;
  output_tail: string;
  status_before: import('../services/status.js').ServiceStatus | null;
  status_after: import('../services/status.js').ServiceStatus | null;
  ok: boolean;
  /** Why it failed (the call, or the health check after it: "exited 127 (command not found: …)"). */
  problem?: string;
  /** Its undo on rollback (reverse order, after the files are restored). */
  compensation?: { action: 'load' | 'unload' | 'restart'; cmd: string; exit_code: number | null; output_tail: string; status_after: import('../services/status.js').ServiceStatus | null; ok: boolean; problem?: string };
}

export interface TestResult {
  name: string;
  expected: string;
  actual: string;
  passed: boolean;
}

export interface PlanStep {
  step: string;
  path?: string;
  cmd?: string;
  verdict: 'will change' | 'no change' | 'unknown';
  diff?: string;
  /** A command step of a held WO's plan: what policy says of this command alone (from `analyzeCommand`). */
  policy?: 'allowed' | 'held';
  /** That command's policy reasons (empty when allowed). */
  why?: string[];
}

/** Who acted on a WO (SPEC §9): every operator action appends one, kept across attempts. */
export interface OperatorAction {
  action: 'approve' | 'reject' | 'retry' | 'cancel' | 'rollback' | 'pause' | 'resume';
  ts: string;
  by: { uid: number; channel: 'cli' | 'http' };
  reason?: string;
}

export interface AttemptSummary {
  attempt: number;
  status: Status;
  started?: string;
  finished?: string;
  error?: { code: ErrorCode; message: string };
  rolled_back?: boolean;
}

export interface WoRecord {
  schema: 1;
  wo_id: string;
  title: string;
  lane: string;
  type: WoType;
  priority: string;
  owner?: string;
  status: Status;
  stage: Stage;
  stage_index: number;
  stages_total: number;
  attempt: number;
  attempts: AttemptSummary[];
  sha256: string;
  /** Where the WO file is now (relative to the root). */
  file: string;
  /** The file's original name in the inbox. */
  source_name: string;
  rolled_back: boolean;
  /** A failed attempt rolled back to this snapshot: `g/backups/<wo_id>/`, or `record` (the in-record snapshot). */
  rolled_back_to?: string;
  dry_run: boolean;
  given_up?: boolean;
  idempotent?: boolean;
  times: Record<string, string>;
  files: FileEffect[];
  commands: CommandRecord[];
  /** The services: step's actions, in order (absent when the WO has none). */
  services?: ServiceRecord[];
  tests: TestResult[];
  error?: { code: ErrorCode; message: string; details?: { path: string; message: string }[] };
  warnings: string[];
  hold_reasons?: string[];
  /** Held: the dry-run plan computed at hold time; succeeded: what changed; failed: what it attempted. */
  plan?: PlanStep[];
  /** sha256 over the targets' state when the plan was computed (held WOs): approval re-plans if it differs. */
  plan_sha256?: string;
  routed_ids?: string[];
  /** exec WO without `paths`: its command effects cannot be rolled back. */
  unrollbackable?: boolean;
  /** Approved by a person (policy hold lifted). */
  approved?: boolean;
  /** Attempts made since this content was submitted or retried (crash loops give up at config.attempts). */
  tries?: number;
  /** Set by `wo retry`: the status this attempt ended in before it was queued again (its history entry keeps it). */
  requeued_from?: Status;
  /** The pre-apply snapshot when every target was absent (else it is g/backups/<wo_id>/manifest.json). */
  snapshot?: import('../snapshot/backup.js').Manifest;
  /** route: where each produced WO went. */
  deliveries?: { wo_id: string; lane: string }[];
  /**
   * A command in flight, written after spawn and before the command starts: its launcher's pid (= pgid) and
   * start time, the marker every descendant carries in its environment (`WO_RUN`), and its cgroup when it has one.
   */
  running_command?: { pid: number; started_at: string; phase: Phase; cmd: string; index: number; proc_start?: string; marker?: string; cgroup?: string } | null;
  /** Operator actions on this WO, oldest first (who, how, when, why). */
  actions?: OperatorAction[];
  /** Imported by `wo migrate` from the old pipeline's state files (never run by wo). */
  imported?: boolean;
  /** Fields the WO carried that the schema does not know (kept, listed as warnings). */
  extra?: Record<string, unknown>;
}

/** 1-based index of a stage. */
export function stageIndex(stage: Stage): number {
  return STAGES.indexOf(stage) + 1;
}
