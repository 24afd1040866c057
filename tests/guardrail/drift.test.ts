import { describe, expect, it } from 'vitest';
import { detectDrift, driftFields, driftKey } from '../../src/guardrail/index.js';
import type { Drift, Observation, ProtectedSpec } from '../../src/guardrail/index.js';

const NOW = Date.parse('2026-01-01T00:00:00Z');
const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);
const file = (extra: Partial<ProtectedSpec> = {}): ProtectedSpec => ({ path: 'bin/tool.sh', kind: 'file', source: 'config', ...extra });
const seen = (extra: Partial<Observation> = {}): Observation => ({
  path: 'bin/tool.sh', observedAtMs: NOW, exists: true, type: 'file', mode: 0o755, mtimeMs: NOW - 1000, ...extra,
});

type Row = [name: string, spec: ProtectedSpec, obs: Observation | null, want: Partial<Drift> | null];

const rows: Row[] = [
  ['healthy plain file', file(), seen(), null],
  ['missing file', file(), seen({ exists: false, type: undefined }), { kind: 'missing' }],
  ['not executable', file({ executable: true }), seen({ mode: 0o644 }), { kind: 'broken', code: 'not_executable' }],
  ['executable ok', file({ executable: true }), seen({ mode: 0o700 }), null],
  ['sha mismatch', file({ sha256: SHA_A }), seen({ sha256: SHA_B }), { kind: 'broken', code: 'sha_mismatch' }],
  ['sha match', file({ sha256: SHA_A }), seen({ sha256: SHA_A }), null],
  ['invalid JSON', file({ json: true }), seen({ jsonError: 'Unexpected token' }), { kind: 'broken', code: 'invalid_json' }],
  ['valid JSON', file({ json: true }), seen({ jsonError: null }), null],
  ['too old', file({ max_age_s: 60 }), seen({ mtimeMs: NOW - 61_000 }), { kind: 'broken', code: 'too_old' }],
  ['fresh enough', file({ max_age_s: 60 }), seen({ mtimeMs: NOW - 59_000 }), null],
  ['directory missing', { path: 'g/telemetry', kind: 'dir', source: 'pipeline' }, { path: 'g/telemetry', observedAtMs: NOW, exists: false }, { kind: 'missing' }],
  ['directory present', { path: 'g/telemetry', kind: 'dir', source: 'pipeline' }, { path: 'g/telemetry', observedAtMs: NOW, exists: true, type: 'dir', mode: 0o700 }, null],
  ['file where a folder is expected', { path: 'd', kind: 'dir', source: 'config' }, { path: 'd', observedAtMs: NOW, exists: true, type: 'file' }, { kind: 'broken', code: 'not_a_dir' }],
  ['folder where a file is expected', file(), seen({ type: 'dir' }), { kind: 'broken', code: 'not_a_file' }],
  ['symlink', file(), seen({ type: 'symlink' }), { kind: 'broken', code: 'symlink' }],
  ['symlinked folder on the way', file(), seen({ exists: false, symlinkAncestor: 'bin' }), { kind: 'broken', code: 'symlink' }],
  ['outside the root', file({ path: '../x', invalid: '../x: is outside the root' }), null, { kind: 'broken', code: 'invalid_spec' }],
  ['unreadable', file(), seen({ readError: 'cannot be read: EACCES' }), { kind: 'broken', code: 'unreadable' }],
  ['corrupt vault copy of an intact file', file({ sha256: SHA_A, fromVault: true }), seen({ sha256: SHA_A, vault: 'corrupt' }), { kind: 'broken', code: 'vault_corrupt' }],
  ['not observed (locked) ⇒ no verdict', file(), null, null],
];

describe('detectDrift', () => {
  it.each(rows)('%s', (_name, spec, obs, want) => {
    const got = detectDrift([spec], obs ? [obs] : []);
    if (want === null) expect(got).toEqual([]);
    else {
      expect(got).toHaveLength(1);
      expect(got[0]).toMatchObject({ path: spec.path, ...want });
      if (got[0]!.kind === 'broken') expect(got[0]!.why.length).toBeGreaterThan(5);
    }
  });

  it('says why in words for a mode problem', () => {
    const [d] = detectDrift([file({ executable: true })], [seen({ mode: 0o644 })]);
    expect(d).toMatchObject({ why: 'not executable (mode 0644)' });
  });

  it('matches observations by path, one drift per path', () => {
    const specs = [file(), file({ path: 'b', executable: true })];
    const obs = [seen({ path: 'b', mode: 0o600 }), seen({ exists: false })];
    expect(detectDrift(specs, obs).map((d) => [d.path, d.kind])).toEqual([['bin/tool.sh', 'missing'], ['b', 'broken']]);
  });

  it('gives telemetry fields and a stable state key', () => {
    expect(driftFields({ kind: 'missing', path: 'x' })).toEqual({ missing: 'x' });
    expect(driftFields({ kind: 'broken', path: 'x', code: 'too_old', why: 'w' })).toEqual({ broken: 'x', why: 'w' });
    expect(driftKey(undefined)).toBe('ok');
    expect(driftKey({ kind: 'broken', path: 'x', code: 'too_old', why: 'age 61' })).toBe(driftKey({ kind: 'broken', path: 'x', code: 'too_old', why: 'age 62' }));
  });
});
