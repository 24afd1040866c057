/**
 * Hostile commands through the real daemon: a command's escaped descendants (setsid, double forks) never
 * outlive its WO — at exit, at timeout_s, at `wo cancel`, and after a kill -9 of the daemon (recovery) — and
 * a command cannot store the daemon's secrets (its environment, the HTTP token) in a record.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dropComplete, readRecord, runCli, startDaemon, tempDir, tempRoot, waitFor, type DaemonHandle } from '../helpers.js';
import { FULL } from './common.js';
import { ESCAPES, killAll, liveWith, neverWithin, sleepToken } from '../exec/proc-helpers.js';

const linux = process.platform === 'linux';
const AUTO = 'http:\n  enabled: false\npolicy:\n  autonomy: auto\nexec:\n  kill_grace_s: 1\n';
const TERMINAL = ['succeeded', 'failed', 'cancelled', 'rejected', 'reverted'];
type Ending = 'exit' | 'timeout_s' | 'cancel' | 'kill -9';

/** Stop our daemons by pid whatever happened (tests run concurrently: no shared pool). */
async function stopAll(ds: DaemonHandle[]): Promise<void> {
  for (const d of ds) {
    if (d.child.exitCode === null && d.child.signalCode === null) {
      d.child.kill('SIGKILL');
      await d.exited;
    }
  }
}

async function escapeCase(mode: 'default' | 'tracking', ending: Ending): Promise<void> {
  const env: Record<string, string> = mode === 'tracking' ? { WO_CONTAINMENT: 'tracking' } : {};
  const root = tempRoot(AUTO);
  const dir = tempDir('wo-esc-');
  const sleepS = ending === 'exit' ? 2 : 5;
  const tok = sleepToken(sleepS);
  const id = `WO-ESC-${ending.replace(/\W/g, '')}`;
  const script = `touch ${dir}/started; sleep ${tok}; touch ${dir}/late`;
  const cmd = `${ESCAPES.setsid!(script)}\nwhile [ ! -e ${dir}/started ]; do sleep 0.01; done\n${ending === 'exit' ? 'echo done' : 'sleep 60'}`;
  const wo = { wo_id: id, title: `escape at ${ending}`, type: 'exec', paths: ['work'], commands: [cmd], ...(ending === 'timeout_s' ? { timeout_s: 2 } : {}) };
  const daemons: DaemonHandle[] = [];
  try {
    daemons.push(await startDaemon(root, { env }));
    dropComplete(root, 'CLC', `${id}.json`, JSON.stringify(wo));
    await waitFor(() => fs.existsSync(`${dir}/started`), { timeout: 30_000, what: 'the escapee started' });
    if (ending === 'cancel') expect(runCli(['cancel', id], { root }).code).toBe(0);
    if (ending === 'kill -9') {
      daemons[0]!.child.kill('SIGKILL');
      await daemons[0]!.exited;
      expect(liveWith(tok).length, 'the escapee outlives the killed daemon until recovery').toBeGreaterThan(0);
      daemons.push(await startDaemon(root, { env }));
    }
    const rec = await waitFor(() => {
      const r = readRecord(root, id);
      return r && TERMINAL.includes(r.status) ? r : undefined;
    }, { timeout: 30_000, what: `${id} terminal` });
    const want = { exit: 'succeeded', timeout_s: 'failed', cancel: 'cancelled', 'kill -9': 'failed' }[ending];
    expect(rec.status, JSON.stringify(rec.error)).toBe(want);
    await waitFor(() => liveWith(tok).length === 0, { timeout: 1000, what: `no process of the tree 1 s after the WO ended (left: ${liveWith(tok).join(',')})` });
    const wakes = fs.statSync(`${dir}/started`).mtimeMs + (sleepS + 1) * 1000;
    await neverWithin(() => fs.existsSync(`${dir}/late`), wakes - Date.now(), 'the escapee touching the late file');
  } finally {
    killAll(liveWith(tok));
    await stopAll(daemons);
  }
}

describe.skipIf(!linux)('hostile commands: nothing a command starts outlives its WO', () => {
  const endings: Ending[] = ['exit', 'timeout_s', 'cancel', 'kill -9'];
  for (const mode of ['default', 'tracking'] as const) {
    for (const ending of endings) {
      if (!FULL && mode === 'tracking' && (ending === 'timeout_s' || ending === 'cancel')) continue;
      it.concurrent(`${mode === 'default' ? 'cgroup (when writable)' : 'descendant tracking'}: a setsid escapee ends with its WO at ${ending}`, () => escapeCase(mode, ending));
    }
  }
});

describe('hostile commands: the daemon\'s secrets never reach a record', () => {
  it.skipIf(!linux)('/proc/$PPID/environ holds no SECRET_X; the token is redacted from every phase', async () => {
    const root = tempRoot(AUTO);
    const secret = 'sekrit-Value-0815-do-not-store';
    const d = await startDaemon(root, { env: { SECRET_X: secret } });
    try {
      const token = fs.readFileSync(path.join(root, 'g/run/token'), 'utf8').trim();
      dropComplete(root, 'CLC', 'env.json', JSON.stringify({
        wo_id: 'WO-ENV', title: 'read the parent', type: 'apply_patch',
        files: [{ path: 'work/v.txt', content: 'v\n', validate: 'cat g/run/token; cat g/run/token >&2; cat %s >/dev/null' }],
        commands: ["tr '\\0' '\\n' < /proc/$PPID/environ", 'cat g/run/token', 'cat g/run/token >&2'],
        post_verify: ['cat g/run/token'],
      }));
      dropComplete(root, 'CLC', 'tok.json', JSON.stringify({
        wo_id: 'WO-TOK', title: 'a test that prints the token', type: 'exec', paths: ['work2'],
        tests: [{ name: 'token', command: 'cat g/run/token', expected: 'nope' }],
      }));
      for (const id of ['WO-ENV', 'WO-TOK']) await waitFor(() => TERMINAL.includes(readRecord(root, id)?.status), { timeout: 30_000, what: `${id} terminal` });
      const env = readRecord(root, 'WO-ENV')!;
      expect(env.status, JSON.stringify(env.error)).toBe('succeeded');
      const tok = readRecord(root, 'WO-TOK')!;
      expect(tok.error.code).toBe('TEST_FAILED');
      for (const id of ['WO-ENV', 'WO-TOK']) {
        const text = fs.readFileSync(path.join(root, 'g/followup/state', `${id}.json`), 'utf8');
        expect(text).not.toContain(secret);
        expect(text).not.toContain(token);
        expect(text).toContain('[redacted: token]');
        const shown = runCli(['show', id, '--json'], { root });
        expect(shown.stdout + shown.stderr).not.toContain(token);
      }
      const parentEnv = env.commands.find((c: { cmd: string }) => c.cmd.includes('environ')).stdout_tail as string;
      expect(parentEnv).toContain('WO_ID=WO-ENV');
      expect(parentEnv).not.toContain('SECRET_X');
      expect(env.commands.filter((c: { stdout_tail: string; stderr_tail: string }) => `${c.stdout_tail}${c.stderr_tail}`.includes('[redacted: token]')).length).toBeGreaterThanOrEqual(4);
      expect(tok.tests[0].actual).toBe('[redacted: token]');
    } finally {
      await stopAll([d]);
    }
  });
});
