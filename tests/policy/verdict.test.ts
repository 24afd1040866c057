import { describe, expect, it } from 'vitest';
import { APPROVE_REASON, policyVerdict, type Autonomy } from '../../src/policy/verdict.js';
import { DEFAULT_ALLOW_COMMANDS } from '../../src/config/schema.js';
import type { WorkOrder } from '../../src/wo/parse.js';
import { sh, woOf as wo } from '../fixtures/wo.js';

const base = { allowCommands: DEFAULT_ALLOW_COMMANDS, root: '/srv/wo', allowedRoots: [] as string[], dryRunEnv: false };
const at = (autonomy: Autonomy, extra: Partial<typeof base> = {}) => ({ ...base, ...extra, autonomy });

const canary = wo({
  files: [{ path: 'tmp/canary_test.txt', mode: 0o644, content: Buffer.from('hello\n'), validate: undefined }],
  post_verify: [sh('test -f tmp/canary_test.txt')],
  tests: [{ name: 'canary file exists', command: sh('test -f tmp/canary_test.txt && echo canary_ok'), expected: 'canary_ok' }],
});
const risky = wo({ type: 'exec', commands: [sh('mkdir -p tmp/x && rm -rf tmp/y'), { kind: 'argv', argv: ['git', 'status'] }] });

describe('policyVerdict by autonomy level', () => {
  const table: [string, Autonomy, WorkOrder, Partial<typeof base>, { decision: string; hold_reasons: string[] }][] = [
    ['observe plans even a safe WO', 'observe', canary, {}, { decision: 'dry_run', hold_reasons: [] }],
    ['observe plans a risky WO', 'observe', risky, {}, { decision: 'dry_run', hold_reasons: [] }],
    ['WO_DRY_RUN wins over auto', 'auto', risky, { dryRunEnv: true }, { decision: 'dry_run', hold_reasons: [] }],
    ['WO_DRY_RUN wins over approve', 'approve', canary, { dryRunEnv: true }, { decision: 'dry_run', hold_reasons: [] }],
    ['wo.dry_run wins over guarded', 'guarded', wo({ ...risky, dry_run: true }), {}, { decision: 'dry_run', hold_reasons: [] }],
    ['approve holds a safe WO', 'approve', canary, {}, { decision: 'hold', hold_reasons: [APPROVE_REASON] }],
    ['guarded runs a safe WO', 'guarded', canary, {}, { decision: 'run', hold_reasons: [] }],
    ['guarded runs a WO without commands', 'guarded', wo(), {}, { decision: 'run', hold_reasons: [] }],
    ['auto runs a risky WO', 'auto', risky, {}, { decision: 'run', hold_reasons: [] }],
    ['guarded runs a risky WO once its programs are listed', 'guarded', risky, { allowCommands: [...DEFAULT_ALLOW_COMMANDS, 'rm', 'git'] }, { decision: 'run', hold_reasons: [] }],
  ];
  it.each(table)('%s', (_name, autonomy, w, extra, want) => {
    expect(policyVerdict(w, at(autonomy, extra))).toEqual(want);
  });

  it('the approve reason reads as the contract says', () => {
    expect(APPROVE_REASON).toBe('policy.autonomy is approve: every WO waits for approval');
  });
});

describe('policyVerdict in guarded mode lists every reason, where it comes from', () => {
  it('commands (sh and argv)', () => {
    expect(policyVerdict(risky, at('guarded'))).toEqual({
      decision: 'hold',
      hold_reasons: [
        "commands[0]: command 'mkdir -p tmp/x && rm -rf tmp/y': program 'rm' is not on policy.allow_commands",
        "commands[1]: command 'git status': program 'git' is not on policy.allow_commands",
      ],
    });
  });

  it('post_verify, tests and validate are under the same policy', () => {
    const w = wo({
      files: [{ path: 'tools/x.sh', mode: 0o755, content: Buffer.from('#!/bin/sh\n'), validate: 'sh -n %s' }],
      post_verify: [sh('launchctl list | grep x')],
      tests: [{ name: 'n', command: sh('echo $(date)'), expected: '' }],
    });
    const v = policyVerdict(w, at('guarded'));
    expect(v.decision).toBe('hold');
    expect(v.hold_reasons).toEqual([
      "files[0].validate: command 'sh -n .wo-validate-target': program 'sh' runs other programs, which cannot be checked, and is not on policy.allow_commands",
      "post_verify[0]: command 'launchctl list | grep x': program 'launchctl' is not on policy.allow_commands",
      "tests[0]: command 'echo $(date)': command substitution $(…) runs a program that cannot be checked",
    ]);
  });

  it('a validate command with an allowed program and %s runs', () => {
    const w = wo({ files: [{ path: 'a.json', mode: undefined, content: Buffer.from('{}'), validate: 'grep -q . %s' }] });
    expect(policyVerdict(w, at('guarded'))).toEqual({ decision: 'run', hold_reasons: [] });
  });

  it('redirections: /dev/null and inside the root run; outside holds', () => {
    expect(policyVerdict(wo({ commands: [sh('ls > tmp/list.txt 2>/dev/null')] }), at('guarded')).decision).toBe('run');
    const v = policyVerdict(wo({ commands: [sh('echo x > /etc/motd')] }), at('guarded'));
    expect(v).toEqual({ decision: 'hold', hold_reasons: ["commands[0]: command 'echo x > /etc/motd': the redirection '> /etc/motd' writes outside the root and policy.allowed_roots"] });
    expect(policyVerdict(wo({ commands: [sh('echo x > /etc/motd')] }), at('guarded', { allowedRoots: ['/etc'] })).decision).toBe('run');
  });
});

describe('woTargets', () => {
  it('judges every named path and lists every refusal with its field', async () => {
    const { woTargets } = await import('../../src/policy/targets.js');
    const w = wo({
      files: [{ path: 'tmp/ok.txt', mode: undefined, content: Buffer.from(''), validate: undefined }, { path: '../escape', mode: undefined, content: Buffer.from(''), validate: undefined }],
      patches: [{ path: 'g/followup/state/x.json', diff: '' }],
      delete: ['/etc/passwd'],
      paths: ['build/out'],
    });
    const r = woTargets(w, { root: '/srv/wo', allowedRoots: [] });
    expect(r.targets.map((t) => [t.where, t.target.rel])).toEqual([['files[0].path', 'tmp/ok.txt'], ['paths[0]', 'build/out']]);
    expect(r.refusals).toEqual([
      { path: 'files[1].path', message: "path '../escape': is outside the root and policy.allowed_roots" },
      { path: 'patches[0].path', message: "path 'g/followup/state/x.json': is inside the daemon's internals (bridge/ or wo's own folders under g/), which WOs may not write" },
      { path: 'delete[0]', message: "path '/etc/passwd': is outside the root and policy.allowed_roots" },
    ]);
  });
});
