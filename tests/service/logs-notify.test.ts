/** Pure and in-process pieces: rotation, the outcome line, the notify arguments, the doctor's unit program check. */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RotatingFile, appendRotated, mustRotate, rotatedName } from '../../src/util/rotate.js';
import { outcomeLine } from '../../src/daemon/outcome.js';
import { notifyArgs, sdNotify, takeNotifySocket } from '../../src/daemon/sdnotify.js';
import { checkUnitProgram } from '../../src/service/doctor.js';
import { renderSystemd } from '../../src/service/render.js';
import { readTemplate } from '../../src/service/units.js';
import type { WoRecord } from '../../src/state/record.js';
import { tempDir } from '../helpers.js';

describe('rotation', () => {
  it('names rotated files with the .log suffix kept', () => {
    expect(rotatedName('/r/g/logs/daemon.log', 1)).toBe('/r/g/logs/daemon.1.log');
    expect(rotatedName('/r/g/logs/rollback_20260101.log', 3)).toBe('/r/g/logs/rollback_20260101.3.log');
  });

  it.each([
    [0, 5000, false],
    [100, 924, false],
    [100, 925, true],
  ])('size %i + %i against 1024 ⇒ rotate %s', (size, add, want) => expect(mustRotate(size, add, { rotateBytes: 1024, keep: 2 })).toBe(want));

  it('appendRotated keeps at most `keep` rotated files, each within the bound, and loses no line but the dropped oldest', () => {
    const dir = tempDir('wo-rot-');
    const file = path.join(dir, 'rollback_20260101.log');
    const line = (i: number) => `line ${String(i).padStart(4, '0')} ${'x'.repeat(90)}\n`;
    for (let i = 0; i < 100; i++) appendRotated(file, line(i), { rotateBytes: 1024, keep: 3 });
    const names = fs.readdirSync(dir).sort();
    expect(names).toEqual(['rollback_20260101.1.log', 'rollback_20260101.2.log', 'rollback_20260101.3.log', 'rollback_20260101.log']);
    for (const n of names) expect(fs.statSync(path.join(dir, n)).size).toBeLessThanOrEqual(1024);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const kept = [3, 2, 1].map((n) => fs.readFileSync(rotatedName(file, n), 'utf8')).join('') + fs.readFileSync(file, 'utf8');
    const nums = kept.split('\n').filter(Boolean).map((l) => Number(l.split(' ')[1]));
    expect(nums.at(-1)).toBe(99);
    expect(nums).toEqual(Array.from({ length: nums.length }, (_, i) => 100 - nums.length + i));
  });

  it('RotatingFile rotates by size, follows a limit change, and reopens when someone else rotated the file', () => {
    const dir = tempDir('wo-rot-');
    const file = path.join(dir, 'daemon.log');
    const limits = { rotateBytes: 1024, keep: 2 };
    const a = new RotatingFile(file, () => limits);
    for (let i = 0; i < 40; i++) a.write(`{"i":${i},"pad":"${'p'.repeat(80)}"}\n`);
    expect(fs.existsSync(rotatedName(file, 2))).toBe(true);
    expect(fs.existsSync(rotatedName(file, 3))).toBe(false);
    limits.keep = 3;
    for (let i = 0; i < 40; i++) a.write(`{"i":${i},"pad":"${'p'.repeat(80)}"}\n`);
    expect(fs.existsSync(rotatedName(file, 3))).toBe(true);
    // A second writer rotates under the first: the first reopens the new file instead of rotating again.
    const b = new RotatingFile(file, () => limits);
    for (let i = 0; i < 20; i++) b.write(`{"b":${i},"pad":"${'p'.repeat(80)}"}\n`);
    for (let i = 0; i < 20; i++) a.write(`{"a":${i},"pad":"${'p'.repeat(80)}"}\n`);
    a.close();
    b.close();
    a.close();
    for (const n of [file, rotatedName(file, 1), rotatedName(file, 2), rotatedName(file, 3)]) {
      for (const l of fs.readFileSync(n, 'utf8').split('\n').filter(Boolean)) expect(() => JSON.parse(l)).not.toThrow();
    }
  });
});

describe('outcome line', () => {
  const rec = (over: Partial<WoRecord>) => ({ wo_id: 'WO-1', lane: 'CLC', type: 'exec', status: 'failed', attempt: 1, title: 't', times: { received: '2026-01-01T00:00:00.000Z', finished: '2026-01-01T00:00:01.250Z' }, ...over }) as unknown as WoRecord;
  it('carries id, lane, type, status, code and duration', () => {
    const l = outcomeLine(rec({ error: { code: 'COMMAND_FAILED', message: 'x' } }), new Date());
    expect(l.fields).toEqual({ wo_id: 'WO-1', lane: 'CLC', type: 'exec', status: 'failed', code: 'COMMAND_FAILED', duration_ms: 1250, attempt: 1, title: 't' });
    expect(l.msg).toBe('WO WO-1 failed (COMMAND_FAILED) in 1250 ms [CLC/exec]');
  });
  it('measures to now when not finished, and says null without a start', () => {
    expect(outcomeLine(rec({ status: 'awaiting_approval', times: { received: '2026-01-01T00:00:00.000Z' } }), new Date('2026-01-01T00:00:02.000Z')).fields.duration_ms).toBe(2000);
    expect(outcomeLine(rec({ times: {} }), new Date()).fields.duration_ms).toBeNull();
  });
});

describe('sd_notify pieces', () => {
  it('takes NOTIFY_SOCKET out of the environment; only absolute or abstract sockets count', () => {
    const env: NodeJS.ProcessEnv = { NOTIFY_SOCKET: '/run/user/1000/systemd/notify', X: '1' };
    expect(takeNotifySocket(env)).toBe('/run/user/1000/systemd/notify');
    expect(env).toEqual({ X: '1' });
    expect(takeNotifySocket({ NOTIFY_SOCKET: '@abstract' })).toBe('@abstract');
    expect(takeNotifySocket({ NOTIFY_SOCKET: 'relative' })).toBeUndefined();
    expect(takeNotifySocket({})).toBeUndefined();
  });
  it('one assignment per argument, newlines flattened', () => expect(notifyArgs({ READY: '1', STATUS: 'a\nb' })).toEqual(['READY=1', 'STATUS=a b']));
  it('is a no-op without a socket and says why when the program is missing', async () => {
    expect(await sdNotify(undefined, { READY: '1' })).toEqual({ sent: false, why: 'no NOTIFY_SOCKET' });
    const r = await sdNotify('/nonexistent/sock', { READY: '1' }, { program: '/nonexistent/systemd-notify' });
    expect(r.sent).toBe(false);
  });
});

describe("doctor: the installed unit's node and entry point", () => {
  it('fails when node or main.js is gone, passes when both exist', () => {
    const dir = tempDir('wo-unitprog-');
    const main = path.join(dir, 'main.js');
    fs.writeFileSync(main, '');
    const write = (node: string, mainJs: string) => {
      const f = path.join(dir, 'wo.service');
      fs.writeFileSync(f, renderSystemd(readTemplate('systemd'), { node, mainJs, root: dir, path: '/usr/bin', label: 'x', stopTimeoutS: 15 }));
      return f;
    };
    expect(checkUnitProgram('systemd', write(process.execPath, main))).toBeUndefined();
    expect(checkUnitProgram('systemd', write('/opt/gone/v20.1.0/bin/node', main))).toMatchObject({ level: 'fail', detail: expect.stringMatching(/node \/opt\/gone\/v20\.1\.0\/bin\/node is missing/) });
    expect(checkUnitProgram('systemd', write(process.execPath, path.join(dir, 'gone.js')))).toMatchObject({ level: 'fail', detail: expect.stringMatching(/entry point .*gone\.js is missing/) });
  });
});
