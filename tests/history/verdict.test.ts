import { describe, expect, it } from 'vitest';
import { decideVerdict } from '../../src/history/verdict.js';
import type { Evidence, GitCommit, ReflogEntry, WoFact } from '../../src/history/types.js';

const NOW = '2025-11-13T23:00:00.000Z';
const T = (h: number) => `2025-11-13T${String(h).padStart(2, '0')}:00:00.000Z`;

function ev(over: Partial<Evidence> = {}): Evidence {
  return {
    path: 'agents/x.zsh', now: NOW, fs: { exists: false }, expect: null,
    git: { state: 'ok', commits: [], reflog: [], inHead: false },
    wo: [], telemetry: [], rollbacks: [], alerts: [], mls: [], service: [], notes: [], ...over,
  };
}
const file = (o: Partial<Evidence['fs']> = {}): Evidence['fs'] => ({ exists: true, kind: 'file', mode: '0755', size: 10, executable: true, ...o });
const commit = (sha: string, status: string, h: number, subject = 'msg'): GitCommit => ({ sha: sha.padEnd(40, '0'), parents: [], ts: T(h), author: 'A', subject, status, path: 'agents/x.zsh' });
const rl = (n: number, sha: string, message: string, h: number, hasPath: boolean | null): ReflogEntry => ({ selector: `HEAD@{${n}}`, sha: sha.padEnd(40, '0'), ts: T(h), message, hasPath });
const wo = (o: Partial<WoFact>): WoFact => ({ wo_id: 'WO-1', title: 't', status: 'succeeded', action: 'write', ts: T(5), rolled_back: false, dry_run: false, before_sha256: null, after_sha256: 'a', ...o });

const cases: { name: string; e: Evidence; verdict: string; cause?: RegExp; lastSeen?: RegExp; firstMissing?: RegExp; summary?: RegExp }[] = [
  { name: 'healthy file', e: ev({ fs: file() }), verdict: 'healthy' },
  { name: 'healthy folder', e: ev({ fs: { exists: true, kind: 'dir', mode: '0700' } }), verdict: 'healthy' },
  { name: 'nothing anywhere', e: ev(), verdict: 'never-existed' },
  { name: 'no git: says so', e: ev({ git: { state: 'not-a-repo', note: 'not a git repository: no git history checked', commits: [], reflog: [], inHead: null } }), verdict: 'never-existed', summary: /not a git repository/ },
  { name: 'guardrail alert only: still never-existed', e: ev({ telemetry: [{ ts: T(3), event: 'wo_pipeline_drift', kind: 'missing', detail: 'drift' }] }), verdict: 'never-existed', summary: /guardrail has expected it/ },
  { name: 'shebang without x bit', e: ev({ fs: file({ mode: '0644', executable: false, shebang: '#!/bin/sh' }) }), verdict: 'broken', summary: /not executable/ },
  { name: 'configured executable, 0644', e: ev({ fs: file({ mode: '0644', executable: false }), expect: { executable: true, from: 'guardrail.files' } }), verdict: 'broken', summary: /executable: true/ },
  { name: 'invalid JSON', e: ev({ path: 'a.json', fs: file({ json: { valid: false, error: 'Unexpected token' } }) }), verdict: 'broken', summary: /invalid JSON/ },
  { name: 'empty file', e: ev({ fs: file({ size: 0 }) }), verdict: 'broken', summary: /empty/ },
  { name: 'empty .gitkeep is fine', e: ev({ path: 'd/.gitkeep', fs: file({ size: 0 }) }), verdict: 'healthy' },
  { name: 'dangling symlink', e: ev({ fs: { exists: false, kind: 'dangling-symlink', symlinkTarget: '/nope' } }), verdict: 'broken', summary: /dangling/ },
  {
    name: 'reset --hard after the commit that added it',
    e: ev({ git: { state: 'ok', inHead: false, commits: [commit('bbb', 'A', 2, 'add x')], reflog: [rl(0, 'aaa', 'reset: moving to HEAD~1', 4, false), rl(1, 'bbb', 'commit: add x', 2, true), rl(2, 'aaa', 'commit (initial): init', 1, false)] } }),
    verdict: 'vanished', cause: /git reset --hard HEAD~1 .*HEAD@\{0\}/, lastSeen: /bbb/, firstMissing: /reset/,
  },
  {
    name: 'deleted in a commit',
    e: ev({ git: { state: 'ok', inHead: false, commits: [commit('ddd', 'D', 6, 'remove x'), commit('bbb', 'A', 2)], reflog: [rl(0, 'ddd', 'commit: remove x', 6, false), rl(1, 'bbb', 'commit: add', 2, true)] } }),
    verdict: 'vanished', cause: /deleted in commit ddd0000 "remove x"/,
  },
  { name: 'deleted by a WO', e: ev({ wo: [wo({ ts: T(2) }), wo({ wo_id: 'WO-9', action: 'delete', ts: T(7), before_sha256: 'a', after_sha256: null })] }), verdict: 'vanished', cause: /deleted by WO WO-9/ },
  { name: 'WO created it and was rolled back', e: ev({ wo: [wo({ rolled_back: true, status: 'failed' })] }), verdict: 'vanished', cause: /rolled back by WO WO-1/ },
  { name: 'dry run is not existence', e: ev({ wo: [wo({ dry_run: true })] }), verdict: 'never-existed' },
  { name: 'still in HEAD, gone from the working tree', e: ev({ git: { state: 'ok', inHead: true, commits: [commit('bbb', 'A', 2)], reflog: [rl(0, 'bbb', 'commit: add', 2, true)] } }), verdict: 'vanished', cause: /still committed at HEAD/ },
  {
    name: 'came back after a delete, then a later reset removed it',
    e: ev({ git: { state: 'ok', inHead: false, commits: [commit('ccc', 'A', 5), commit('ddd', 'D', 3), commit('bbb', 'A', 1)], reflog: [rl(0, 'ddd', 'reset: moving to HEAD~1', 8, false), rl(1, 'ccc', 'commit: re-add', 5, true), rl(2, 'ddd', 'commit: del', 3, false), rl(3, 'bbb', 'commit: add', 1, true)] } }),
    verdict: 'vanished', cause: /reset/,
  },
  { name: 'rollback log line names it', e: ev({ wo: [wo({ ts: T(1) })], rollbacks: [{ ts: T(3), file: 'g/logs/rollback_20251113.log', line: 'removed agents/x.zsh' }] }), verdict: 'vanished', cause: /rollback/ },
  { name: 'restored by the guardrail then vanished unexplained', e: ev({ telemetry: [{ ts: T(3), event: 'guardrail_restored', kind: 'restored', detail: 'restored' }] }), verdict: 'vanished', cause: /unknown/ },
];

describe('decideVerdict (pure)', () => {
  it.each(cases)('$name', ({ e, verdict, cause, lastSeen, firstMissing, summary }) => {
    const v = decideVerdict(e);
    expect(v.verdict).toBe(verdict);
    if (cause) expect(v.cause).toMatch(cause);
    if (lastSeen) expect(JSON.stringify(v.last_seen)).toMatch(lastSeen);
    if (firstMissing) expect(JSON.stringify(v.first_missing)).toMatch(firstMissing);
    if (summary) expect(v.summary).toMatch(summary);
    if (verdict !== 'vanished') expect(v.cause).toBeUndefined();
  });

  it('does not depend on the shown window: same evidence, same verdict', () => {
    const e = cases.find((c) => c.name.startsWith('reset'))!.e;
    expect(decideVerdict(e)).toEqual(decideVerdict(structuredClone(e)));
  });
});
