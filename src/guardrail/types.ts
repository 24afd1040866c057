/** The data the guardrail reasons over: what is expected of a protected path, what was seen, what differs. */

/** Where a protected path came from. */
export type SpecSource = 'config' | 'protect' | 'pipeline';

/** What is expected of one protected path (root-relative, `/`-separated). */
export interface ProtectedSpec {
  path: string;
  kind: 'file' | 'dir';
  source: SpecSource;
  executable?: boolean;
  /** Expected content hash: from config, else the vaulted hash (see `pinned`). */
  sha256?: string;
  /** True when `sha256` comes from the vault index (so the vault copy is checked too). */
  fromVault?: boolean;
  json?: boolean;
  max_age_s?: number;
  /** Set when the spec itself is unusable (outside the root, …): reported as broken, never touched. */
  invalid?: string;
}

/** What was seen on disk for one path at one moment. */
export interface Observation {
  path: string;
  observedAtMs: number;
  exists: boolean;
  type?: 'file' | 'dir' | 'symlink' | 'other';
  /** A folder on the way to the path is a symlink (rel path of that folder). */
  symlinkAncestor?: string;
  mode?: number;
  mtimeMs?: number;
  sha256?: string;
  /** When JSON was asked for: the parse error, or null when valid. */
  jsonError?: string | null;
  /** When the expectation comes from the vault: the state of the vault copy. */
  vault?: 'ok' | 'missing' | 'corrupt';
  /** The path could not be read (EACCES, …). */
  readError?: string;
}

export type DriftCode =
  | 'invalid_spec' | 'unreadable' | 'symlink' | 'not_a_file' | 'not_a_dir' | 'not_executable'
  | 'sha_mismatch' | 'invalid_json' | 'too_old' | 'vault_corrupt';

/** One protected path out of its expected state. */
export type Drift =
  | { kind: 'missing'; path: string }
  | { kind: 'broken'; path: string; code: DriftCode; why: string };
