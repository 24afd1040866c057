/** Drift detection: a pure function from expectations and observations to the differences. No I/O here. */
import type { Drift, Observation, ProtectedSpec } from './types.js';

const octal = (mode: number) => (mode & 0o7777).toString(8).padStart(4, '0');
const short = (sha: string | undefined) => (sha ? sha.slice(0, 12) : 'none');

/** The first thing wrong with one path, or null when it is as expected. */
function driftOf(spec: ProtectedSpec, obs: Observation): Drift | null {
  const broken = (code: Extract<Drift, { kind: 'broken' }>['code'], why: string): Drift => ({ kind: 'broken', path: spec.path, code, why });
  if (spec.invalid) return broken('invalid_spec', spec.invalid);
  if (obs.readError) return broken('unreadable', obs.readError);
  if (obs.symlinkAncestor) return broken('symlink', `the folder ${obs.symlinkAncestor} on its path is a symlink; refusing to follow it`);
  if (!obs.exists) return { kind: 'missing', path: spec.path };
  if (obs.type === 'symlink') return broken('symlink', 'is a symlink; protected paths must be real files or folders (protect the target instead)');
  if (spec.kind === 'file' && obs.type !== 'file') return broken('not_a_file', `expected a regular file, found a ${obs.type === 'dir' ? 'folder' : 'special file'}`);
  if (spec.kind === 'dir' && obs.type !== 'dir') return broken('not_a_dir', `expected a folder, found a ${obs.type === 'file' ? 'file' : 'special file'}`);
  if (spec.kind === 'dir') return null;
  if (spec.executable && ((obs.mode ?? 0) & 0o111) === 0) return broken('not_executable', `not executable (mode ${octal(obs.mode ?? 0)})`);
  if (spec.sha256 && obs.sha256 !== spec.sha256) {
    const against = spec.fromVault ? 'the vaulted copy' : 'the configured sha256';
    return broken('sha_mismatch', `content changed: sha256 ${short(obs.sha256)}… differs from ${against} ${short(spec.sha256)}…`);
  }
  if (spec.json && obs.jsonError) return broken('invalid_json', `not valid JSON: ${obs.jsonError}`);
  if (spec.max_age_s !== undefined && obs.mtimeMs !== undefined) {
    const age = (obs.observedAtMs - obs.mtimeMs) / 1000;
    if (age > spec.max_age_s) {
      return broken('too_old', `last modified ${new Date(obs.mtimeMs).toISOString()}, older than max_age_s ${spec.max_age_s}`);
    }
  }
  if (spec.fromVault && obs.vault === 'corrupt') return broken('vault_corrupt', `its vault copy ${short(spec.sha256)}… is corrupt (content does not match its hash); it will not be restored from`);
  return null;
}

/**
 * Compare expectations with observations (matched by path). A spec without an observation was not
 * looked at this time (locked, or outside this check's scope) and yields no drift.
 */
export function detectDrift(expected: ProtectedSpec[], observed: Observation[]): Drift[] {
  const byPath = new Map(observed.map((o) => [o.path, o]));
  const out: Drift[] = [];
  for (const spec of expected) {
    const obs = byPath.get(spec.path);
    if (!obs && !spec.invalid) continue;
    const d = driftOf(spec, obs ?? { path: spec.path, observedAtMs: 0, exists: false });
    if (d) out.push(d);
  }
  return out;
}

/** A stable key for a drift's state: alerts fire when this changes, not on every check. */
export function driftKey(d: Drift | undefined): string {
  if (!d) return 'ok';
  return d.kind === 'missing' ? 'missing' : `broken:${d.code}`;
}

/** The telemetry fields of a drift (SPEC §11): `{missing: p}` or `{broken: p, why}`. */
export function driftFields(d: Drift): { missing: string } | { broken: string; why: string } {
  return d.kind === 'missing' ? { missing: d.path } : { broken: d.path, why: d.why };
}

/** One line for people. */
export function describeDrift(d: Drift): string {
  return d.kind === 'missing' ? `${d.path}: missing` : `${d.path}: broken — ${d.why}`;
}
