/** The CLI in pipes and scripts, without a daemon: EPIPE, stdin, exit codes, did-you-mean, status, completion, root lookup. */
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { CLI, childEnv, runCli, tempDir, tempRoot } from '../helpers.js';

const WO = 'wo_id: WO-PIPE\ntitle: from a pipe\ntype: exec\ncommands:\n  - "true"\n';
const sh = (script: string, env: Record<string, string> = {}, cwd?: string) =>
  spawnSync('bash', ['-c', script], { env: { ...childEnv(), ...env }, encoding: 'utf8', timeout: 60_000, ...(cwd ? { cwd } : {}) });
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const wo = `${q(process.execPath)} ${q(CLI)}`;

/** A telemetry file big enough that `| head -1` closes the pipe while wo is still writing. */
function bigTelemetry(root: string, n = 20_000): void {
  const dir = path.join(root, 'g/telemetry');
  fs.mkdirSync(dir, { recursive: true });
  const line = (i: number) => JSON.stringify({ ts: new Date(Date.UTC(2026, 0, 1, 0, 0, i % 60)).toISOString(), agent: 'daemon', event: 'wo_step', ok: true, wo_id: `WO-${i}`, note: 'x'.repeat(100) });
  fs.writeFileSync(path.join(dir, 'unified.jsonl'), Array.from({ length: n }, (_, i) => line(i)).join('\n') + '\n');
}

describe('EPIPE: a reader that goes away ends wo quietly with 0', () => {
  it('wo logs -n 20000 | head -1', () => {
    const root = tempRoot();
    bigTelemetry(root);
    const r = sh(`set -o pipefail; ${wo} logs -n 20000 --root ${q(root)} 2>${q(path.join(root, 'err'))} | head -1`);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.split('\n').filter(Boolean)).toHaveLength(1);
    expect(fs.readFileSync(path.join(root, 'err'), 'utf8')).toBe('');
  });

  it('wo logs --json -f | head -1 (following) and wo status --watch | head -3', () => {
    const root = tempRoot();
    bigTelemetry(root);
    const logs = sh(`set -o pipefail; ${wo} logs --json -f -n 20000 --root ${q(root)} 2>${q(path.join(root, 'err1'))} | head -1`);
    expect(logs.status, logs.stderr).toBe(0);
    expect(JSON.parse(logs.stdout.trim())).toMatchObject({ event: 'wo_step' });
    const st = sh(`set -o pipefail; ${wo} status --watch --root ${q(root)} 2>${q(path.join(root, 'err2'))} | head -3`);
    expect(st.status, st.stderr).toBe(0);
    expect(st.stdout.split('\n').filter(Boolean)).toHaveLength(3);
    expect(st.stdout).toContain('daemon');
    expect(fs.readFileSync(path.join(root, 'err1'), 'utf8') + fs.readFileSync(path.join(root, 'err2'), 'utf8')).toBe('');
  });

  it('wo completion bash | head -1', () => {
    const r = sh(`set -o pipefail; ${wo} completion bash | head -1`);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
  });
});

describe('wo submit - reads the WO from standard input', () => {
  it('YAML and JSON are sniffed; the file is named from its wo_id', () => {
    const root = tempRoot();
    const y = runCli(['submit', '-'], { root, input: WO });
    expect(y.code, y.stderr).toBe(0);
    expect(y.stdout.trim()).toBe('WO-PIPE');
    const j = sh(`printf '%s' ${q(JSON.stringify({ wo_id: 'WO-JSON', title: 't', type: 'exec', commands: ['true'] }))} | ${wo} submit - --root ${q(root)}`);
    expect(j.status, j.stderr).toBe(0);
    expect(fs.readdirSync(path.join(root, 'bridge/inbox/CLC')).sort()).toEqual(['WO-JSON.json', 'WO-PIPE.yaml']);
    expect(fs.readFileSync(path.join(root, 'bridge/inbox/CLC/WO-PIPE.yaml'), 'utf8')).toBe(WO);
  });

  it('an invalid WO on stdin exits 2 and drops nothing; wo validate - works too', () => {
    const root = tempRoot();
    const r = runCli(['submit', '-'], { root, input: 'wo_id: X\ntitle: t\ntype: exec\npost_verfy: ["true"]\n' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/standard input is not a valid WO/);
    expect(r.stderr).toContain("did you mean 'post_verify'");
    expect(fs.existsSync(path.join(root, 'bridge/inbox/CLC'))).toBe(false);
    expect(runCli(['validate', '-'], { root, input: WO }).code).toBe(0);
  });
});

describe('unknown top-level keys', () => {
  it('are INVALID (exit 2) with a did-you-mean; x- keys pass; --lenient and intake.lenient keep the warning', () => {
    const root = tempRoot();
    const dir = tempDir();
    const bad = path.join(dir, 'bad.yaml');
    fs.writeFileSync(bad, 'wo_id: X\ntitle: t\ntype: exec\npost_verfy: ["true"]\nx-ticket: 7\n');
    const v = runCli(['validate', bad], { root });
    expect(v.code).toBe(2);
    expect(v.stderr).toMatch(/post_verfy: unknown field \(did you mean 'post_verify'\?\)/);
    expect(v.stderr).not.toContain('x-ticket');
    const lenient = runCli(['validate', bad, '--lenient'], { root });
    expect(lenient.code, lenient.stderr).toBe(0);
    expect(lenient.stderr).toMatch(/warning: unknown field 'post_verfy' kept but not used/);
    const sub = runCli(['submit', bad, '--lenient'], { root });
    expect(sub.code, sub.stderr).toBe(0);
    const cfgRoot = tempRoot('http:\n  enabled: false\nintake:\n  lenient: true\n');
    expect(runCli(['validate', bad], { root: cfgRoot }).code).toBe(0);
    const json = runCli(['validate', bad, '--json'], { root });
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout).errors).toEqual([expect.objectContaining({ path: 'post_verfy' })]);
  });
});

describe('exit codes and did-you-mean', () => {
  it('an unknown command or option exits 2 with a suggestion; --help documents the codes', () => {
    const c = runCli(['stauts']);
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/unknown command 'stauts'\. Did you mean status\?/);
    const o = runCli(['status', '--jsn'], { root: tempRoot() });
    expect(o.code).toBe(2);
    expect(o.stderr).toMatch(/Did you mean --json\?/);
    const sub = runCli(['mls', 'lst'], { root: tempRoot() });
    expect(sub.code).toBe(2);
    expect(sub.stderr).toMatch(/Did you mean list\?/);
    const h = runCli(['--help']);
    expect(h.code).toBe(0);
    for (const line of [/0 +ok/, /1 +the thing checked failed/, /2 +usage error/, /3 +held for approval.*no daemon/, /4 +timed out/]) expect(h.stdout).toMatch(line);
    expect(h.stdout).not.toContain('__complete-ids');
  });

  it('wo status with the daemon down: guardrail unknown (even over an old healthy report), exit 0', () => {
    const root = tempRoot();
    fs.mkdirSync(path.join(root, 'g/guardrail'), { recursive: true });
    fs.writeFileSync(path.join(root, 'g/guardrail/health.json'), JSON.stringify({ healthy: true, checked_at: '2026-01-01T00:00:00.000Z', protected: 1, drift: [] }));
    const j = runCli(['status', '--json'], { root });
    expect(j.code).toBe(0);
    const r = JSON.parse(j.stdout);
    expect(r.daemon.running).toBe(false);
    expect(r.guardrail).toMatchObject({ healthy: null, state: 'unknown', last: { healthy: true } });
    const t = runCli(['status'], { root });
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/guardrail unknown/);
    expect(t.stdout).not.toMatch(/healthy/);
  });

  it('wo canary and wo submit --wait with no daemon exit 3', () => {
    const root = tempRoot();
    expect(runCli(['canary', '--timeout', '1'], { root }).code).toBe(3);
    const r = runCli(['submit', '-', '--wait', '--timeout', '1'], { root, input: WO });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/no daemon is running/);
  });
});

describe('the root is found walking up from the current folder', () => {
  const status = (cwd: string, env: Record<string, string> = {}, args: string[] = []) => {
    const r = spawnSync(process.execPath, [CLI, 'status', '--json', ...args], { cwd, env: { ...childEnv(), ...env }, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout).daemon.root as string;
  };

  it('a wo.config.yaml or a bridge/ + g/ pair marks a root; --root and $WO_ROOT win; else the current folder', () => {
    const byConfig = fs.realpathSync(tempRoot());
    fs.mkdirSync(path.join(byConfig, 'src/deep/er'), { recursive: true });
    expect(status(path.join(byConfig, 'src/deep/er'))).toBe(byConfig);
    const byDirs = fs.realpathSync(tempDir());
    for (const d of ['bridge', 'g', 'a/b']) fs.mkdirSync(path.join(byDirs, d), { recursive: true });
    expect(status(path.join(byDirs, 'a/b'))).toBe(byDirs);
    const other = fs.realpathSync(tempDir());
    expect(status(path.join(byDirs, 'a/b'), { WO_ROOT: other })).toBe(other);
    expect(status(path.join(byDirs, 'a/b'), { WO_ROOT: other }, ['--root', byConfig])).toBe(byConfig);
    const onlyG = fs.realpathSync(tempDir());
    fs.mkdirSync(path.join(onlyG, 'g/x'), { recursive: true });
    expect(status(path.join(onlyG, 'g/x'))).toBe(path.join(onlyG, 'g/x'));
  });
});

describe('wo completion', () => {
  /** A `wo` on PATH (the scripts call it for ids) and a root with two records. */
  function setup(): { bin: string; root: string } {
    const bin = tempDir();
    fs.writeFileSync(path.join(bin, 'wo'), `#!/bin/sh\nexec ${q(process.execPath)} ${q(CLI)} "$@"\n`, { mode: 0o755 });
    const root = tempRoot();
    fs.mkdirSync(path.join(root, 'g/followup/state'), { recursive: true });
    for (const id of ['WO-ALPHA', 'WO-BETA']) fs.writeFileSync(path.join(root, 'g/followup/state', `${id}.json`), '{}');
    return { bin, root };
  }

  it('bash: commands, options, and WO ids for show/approve from g/followup/state', () => {
    const { bin, root } = setup();
    const env = { PATH: `${bin}:${process.env.PATH}`, WO_ROOT: root };
    const complete = (...words: string[]) => {
      const r = sh(`source <(wo completion bash) && COMP_WORDS=(${words.map(q).join(' ')}) && COMP_CWORD=${words.length - 1} && _wo && printf '%s\\n' "\${COMPREPLY[@]}"`, env);
      expect(r.status, r.stderr).toBe(0);
      return r.stdout.split('\n').filter(Boolean);
    };
    expect(complete('wo', 'sta')).toEqual(['status']);
    expect(complete('wo', 'submit', '--wa')).toEqual(['--wait']);
    expect(complete('wo', 'show', 'WO-')).toEqual(['WO-ALPHA', 'WO-BETA']);
    expect(complete('wo', 'approve', 'WO-B')).toEqual(['WO-BETA']);
    expect(complete('wo', 'guardrail', 'pr')).toEqual(['protect']);
    const ids = runCli(['__complete-ids'], { root });
    expect(ids.stdout).toBe('WO-ALPHA\nWO-BETA\n');
  });

  it('zsh and fish scripts are printed (syntax-checked when the shell is installed); an unknown shell exits 2', () => {
    for (const shell of ['zsh', 'fish']) {
      const r = runCli(['completion', shell]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('__complete-ids');
      expect(r.stdout).toContain('status');
      const has = spawnSync('sh', ['-c', `command -v ${shell}`]).status === 0;
      if (has) {
        const f = path.join(tempDir(), `wo.${shell}`);
        fs.writeFileSync(f, r.stdout);
        expect(spawnSync(shell, ['-n', f], { encoding: 'utf8' }).status).toBe(0);
      }
    }
    expect(runCli(['completion', 'tcsh']).code).toBe(2);
  });
});
