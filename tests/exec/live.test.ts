/** The live output of a running command: a redacted, ephemeral view for `wo submit --wait`, gone when it ends. */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LiveOutput, liveFile, readLive } from '../../src/exec/live.js';
import { clearSecrets, registerSecret } from '../../src/exec/redact.js';
import { liveLines } from '../../src/cli/follow.js';
import { dropComplete, readRecord, tempDir, tempRoot, waitFor } from '../helpers.js';
import { daemonPool } from '../reliability/common.js';

const pool = daemonPool();
afterEach(async () => {
  clearSecrets();
  await pool.cleanup();
});

describe('LiveOutput', () => {
  it('shows the last output, redacted, and removes it when the command ends', async () => {
    const run = tempDir('wo-live-');
    registerSecret('s3cr3t-token-value', 'token');
    const live = new LiveOutput(run, 'WO-L');
    live.push(Buffer.from('line one\n'));
    live.push(Buffer.from('the token is s3cr3t-token-value\n'));
    await waitFor(() => readLive(run, 'WO-L')?.includes('token is'));
    expect(readLive(run, 'WO-L')).not.toContain('s3cr3t-token-value');
    expect(readLive(run, 'WO-L')).toContain('line one');
    live.end();
    expect(fs.existsSync(liveFile(run, 'WO-L'))).toBe(false);
  });

  it('liveLines shows the running command and its live output, else the last finished output', () => {
    const rec = {
      wo_id: 'X', status: 'running', stage: 'commands', stage_index: 6, stages_total: 9, title: 't', lane: 'CLC',
      running_command: { pid: 1, started_at: new Date().toISOString(), phase: 'commands', cmd: 'make', index: 0 },
      commands: [{ stdout_tail: 'old output\n', stderr_tail: '' }],
    } as never;
    const lines = liveLines(rec, 1500, 'compiling a\ncompiling b\n').join('\n');
    expect(lines).toMatch(/running.*make/);
    expect(lines).toContain('compiling b');
    expect(lines).not.toContain('old output');
    expect(liveLines({ ...(rec as object), running_command: null } as never, 1500).join('\n')).toContain('old output');
  });
});

describe('through the daemon', () => {
  it('a long command writes its output to g/run/live/<id>.txt while it runs; the file is gone after', async () => {
    const root = tempRoot('http:\n  enabled: false\npolicy:\n  autonomy: auto\n');
    await pool.start(root);
    dropComplete(root, 'CLC', 'l.yaml', 'wo_id: WO-LIVE\ntitle: t\ntype: exec\ncommands:\n  - "echo live-marker; while [ ! -f go ]; do sleep 0.05; done"\n');
    const file = path.join(root, 'g/run/live/WO-LIVE.txt');
    await waitFor(() => fs.existsSync(file) && fs.readFileSync(file, 'utf8').includes('live-marker'), { what: 'the live output' });
    fs.writeFileSync(path.join(root, 'go'), '');
    await waitFor(() => readRecord(root, 'WO-LIVE')?.status === 'succeeded');
    expect(fs.existsSync(file)).toBe(false);
    expect(readRecord(root, 'WO-LIVE')!.commands[0].stdout_tail).toContain('live-marker');
  });
});
