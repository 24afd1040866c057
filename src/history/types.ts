/** The data check-history and forensics gather: typed facts per source, and the report shapes (SPEC §8). */

export const SOURCES = ['git', 'reflog', 'wo', 'telemetry', 'rollback', 'mls', 'service', 'fs'] as const;
export type Source = (typeof SOURCES)[number];

/** One line of evidence as printed and as in `--json`. */
export interface EvidenceItem {
  ts: string;
  source: Source;
  detail: string;
}

export type Verdict = 'healthy' | 'never-existed' | 'vanished' | 'broken';

/** What the file system says about the path now. */
export interface FsFacts {
  exists: boolean;
  kind?: 'file' | 'dir' | 'dangling-symlink' | 'other';
  mode?: string;
  size?: number;
  mtime?: string;
  executable?: boolean;
  /** The first line when the file starts with `#!`. */
  shebang?: string;
  /** Set when the file is `.json` or configured `json: true`. */
  json?: { valid: boolean; error?: string };
  /** sha256 of the content, computed only when a sha256 is configured. */
  sha256?: string;
  symlinkTarget?: string;
  /** When the path is missing: whether its parent folder is missing too. */
  parentMissing?: boolean;
}

/** What wo.config.yaml guardrail expects of the path, if it is protected. */
export interface Expectation {
  executable?: boolean;
  json?: boolean;
  sha256?: string;
  max_age_s?: number;
  /** `guardrail.files` or `guardrail.dirs`. */
  from: string;
}

export interface GitCommit {
  sha: string;
  parents: string[];
  ts: string;
  author: string;
  subject: string;
  /** name-status letter(s) for the path: A, M, D, R100, C75, T. */
  status: string;
  /** The path as the commit names it (repository-relative). */
  path: string;
  /** For a rename or copy: the old name. */
  from?: string;
}

export interface ReflogEntry {
  /** `HEAD@{n}`. */
  selector: string;
  sha: string;
  ts: string;
  message: string;
  /** Whether the commit HEAD moved to contains the path (null: unknown). */
  hasPath: boolean | null;
}

export type GitState = 'ok' | 'no-git' | 'not-a-repo' | 'no-commits' | 'error';

export interface GitFacts {
  state: GitState;
  /** Said in the summary/evidence when git could not help. */
  note?: string;
  /** Commits touching the path, newest first. */
  commits: GitCommit[];
  /** HEAD's reflog, newest first (bounded). */
  reflog: ReflogEntry[];
  /** Whether HEAD's tree contains the path (null: unknown). */
  inHead: boolean | null;
}

export interface WoFact {
  wo_id: string;
  title: string;
  status: string;
  action: 'write' | 'patch' | 'delete';
  ts: string;
  rolled_back: boolean;
  dry_run: boolean;
  before_sha256: string | null;
  after_sha256: string | null;
}

export interface TelemetryFact {
  ts: string;
  event: string;
  wo_id?: string;
  /** missing / broken: a guardrail drift event; restored: guardrail_restored; rolled_back: wo_rolled_back. */
  kind: 'missing' | 'broken' | 'restored' | 'rolled_back' | 'other';
  detail: string;
}

/** A line of a log file naming the path (rollback logs, guardrail alerts, service logs). */
export interface LogLine {
  ts: string;
  file: string;
  line: string;
  /** True when the time is the file's mtime (the line carried none). */
  approxTs?: boolean;
}

export interface MlsFact {
  ts: string;
  type: string;
  title: string;
}

export interface ServiceFact {
  ts: string;
  detail: string;
  /** `failure` lines (exit 127, command not found) are service failures. */
  kind: 'unit' | 'failure' | 'reference';
}

/** Everything gathered about one path; decideVerdict reads only this. */
export interface Evidence {
  path: string;
  /** ISO time the evidence was gathered. */
  now: string;
  fs: FsFacts;
  expect: Expectation | null;
  git: GitFacts;
  wo: WoFact[];
  telemetry: TelemetryFact[];
  rollbacks: LogLine[];
  alerts: LogLine[];
  mls: MlsFact[];
  service: ServiceFact[];
  /** Extra lines worth showing (unreadable config, a skipped source). */
  notes: EvidenceItem[];
}

export interface VerdictResult {
  verdict: Verdict;
  summary: string;
  last_seen?: EvidenceItem;
  first_missing?: EvidenceItem;
  cause?: string;
}

/** What `check-history --json` prints. */
export interface HistoryReport {
  path: string;
  verdict: Verdict;
  summary: string;
  last_seen?: EvidenceItem;
  first_missing?: EvidenceItem;
  cause?: string;
  evidence: EvidenceItem[];
}
