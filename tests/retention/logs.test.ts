/** Every log the daemon writes stays bounded: rotated telemetry in count, launchd's stdout/stderr files by size. */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Telemetry } from '../../src/state/telemetry.js';
import { rotateOwnStdio } from '../../src/util/rotate.js';
import { CLI, childEnv, tempDir, tempRoot, waitFor } from '../helpers.js';

describe('bounded logs', () => {
  it('rotated telemetry files are bounded by telemetry.keep, the newest kept', () => {
    const dir = tempDir('wo-tel-');
    let clock = Date.parse('2026-01-01T00:00:00Z');
    const t = new Telemetry(path.join(dir, 'unified.jsonl'), 4096, () => new Date((clock += 1000)));
    t.keepRotated = 3;
    t.open();
    for (let i = 0; i < 400; i++) t.emit('daemon', 'wo_step', { wo_id: `WO-${i}`, pad: 'x'.repeat(100) });
    t.close();
    const rotated = fs.readdirSync(dir).filter((n) => n !== 'unified.jsonl').sort();
    expect(rotated.length).toBe(3);
    // The newest rotated file holds the lines just before the current file's first line.
    const last = fs.readFileSync(path.join(dir, rotated.at(-1)!), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const cur = fs.readFileSync(path.join(dir, 'unified.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(Number(cur[0].wo_id.slice(3))).toBe(Number(last.at(-1).wo_id.slice(3)) + 1);
    expect(cur.at(-1).wo_id).toBe('WO-399');
  });

  it('rotateOwnStdio copies and truncates an O_APPEND stdio file in g/logs, keeping `keep` copies; other files are left alone', () => {
    const logs = tempDir('wo-logs-');
    const file = path.join(logs, 'launchd.err.log');
    const fd = fs.openSync(file, 'a');
    const other = fs.openSync(path.join(logs, 'mine.log'), 'a');
    try {
      for (let round = 1; round <= 4; round++) {
        fs.writeSync(fd, `round ${round} `.padEnd(300, '.') + '\n');
        fs.writeSync(other, 'y'.repeat(300));
        expect(rotateOwnStdio(logs, { rotateBytes: 200, keep: 2 }, [fd, other])).toEqual([file]);
        expect(fs.statSync(file).size).toBe(0);
      }
      fs.writeSync(fd, 'after\n');
      expect(fs.readFileSync(file, 'utf8')).toBe('after\n'); // appended at the new end, no hole
      expect(fs.readFileSync(path.join(logs, 'launchd.err.1.log'), 'utf8')).toMatch(/^round 4 /);
      expect(fs.readFileSync(path.join(logs, 'launchd.err.2.log'), 'utf8')).toMatch(/^round 3 /);
      expect(fs.existsSync(path.join(logs, 'launchd.err.3.log'))).toBe(false);
      expect(fs.statSync(path.join(logs, 'mine.log')).size).toBe(1200);
      expect(rotateOwnStdio(logs, { rotateBytes: 200, keep: 2 }, [fd])).toEqual([]); // under the bound
    } finally {
      fs.closeSync(fd);
      fs.closeSync(other);
    }
  });

  it('the daemon rotates its own stderr file in g/logs (as launchd gives it) once it passes logs.rotate_bytes', async () => {
    const root = tempRoot('http:\n  enabled: false\nlogs:\n  rotate_bytes: 1024\n  keep: 2\n');
    const logs = path.join(root, 'g/logs');
    fs.mkdirSync(logs, { recursive: true });
    const errFile = path.join(logs, 'launchd.err.log');
    fs.writeFileSync(errFile, 'old stderr line\n'.repeat(200));
    const out = fs.openSync(path.join(logs, 'launchd.out.log'), 'a');
    const err = fs.openSync(errFile, 'a');
    const child = spawn(process.execPath, [CLI, 'daemon', '--root', root], { env: childEnv(), stdio: ['ignore', out, err] });
    fs.closeSync(out);
    fs.closeSync(err);
    const exited = new Promise((r) => child.on('exit', r));
    try {
      await waitFor(() => fs.existsSync(path.join(logs, 'launchd.err.1.log')), { timeout: 30_000, what: 'launchd.err.1.log' });
      expect(fs.readFileSync(path.join(logs, 'launchd.err.1.log'), 'utf8')).toContain('old stderr line');
      expect(fs.statSync(errFile).size).toBeLessThan(1024);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  }, 60_000);
});
