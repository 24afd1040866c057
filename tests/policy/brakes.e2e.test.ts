/**
 * Issue 13, brakes through the real daemon: the breaker opens after N failures in a lane and holds the lane's next
 * WOs (naming the rule) across a restart; lane and owner levels and the lane rate limit hold with the rule named;
 * the desktop notifier (a stand-in on PATH recording its argv) gets title, outcome and the dashboard deep link.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dropComplete, readRecord, runCli, tempDir, tempRoot, waitFor, waitSettled } from '../helpers.js';
import { daemonPool } from '../reliability/common.js';

const pool = daemonPool();
afterEach(() => pool.cleanup());

const TIMEOUT = 120_000;
const WAIT = { timeout: 60_000 };

const execWo = (id: string, cmd: string, extra: Record<string, unknown> = {}) => JSON.stringify({ wo_id: id, title: `brakes ${id}`, type: 'exec', commands: [cmd], ...extra });

const statusOf = (root: string, id: string, status: string) =>
  waitFor(() => (readRecord(root, id)?.status === status ? readRecord(root, id) : undefined), { ...WAIT, what: `${id} ${status}` });

/** Stand-in notify-send and osascript recording their argv (NUL-separated, each call ended by RS 0x1e). */
function standIns(): { bin: string; out: string; calls: () => string[][] } {
  const dir = tempDir('wo-brakes-notify-');
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  const out = path.join(dir, 'calls');
  for (const name of ['notify-send', 'osascript']) {
    fs.writeFileSync(path.join(bin, name), `#!/bin/sh\n{ printf '%s' "${name}"; for a in "$@"; do printf '\\0%s' "$a"; done; printf '\\036'; } >> "${out}"\n`, { mode: 0o755 });
  }
  const calls = () => (fs.existsSync(out) ? fs.readFileSync(out, 'utf8').split('\x1e').slice(0, -1).map((c) => c.split('\0')) : []);
  return { bin, out, calls };
}

describe('brakes through the real daemon', () => {
  it('the breaker opens after 2 failures, holds the next WO with its rule, survives a restart; everything is told with a deep link', async () => {
    const events = path.join(tempDir('wo-brakes-events-'), 'events.jsonl');
    const root = tempRoot(
      [
        'http:\n  enabled: true\n  port: 0',
        'policy:\n  autonomy: auto\n  breaker: {failures: 2, window_s: 600}',
        `notify:\n  desktop: true\n  command: "cat >> '${events}'"\n  events: [failed, held, breaker]`,
        '',
      ].join('\n'),
    );
    const n = standIns();
    const env = { PATH: `${n.bin}:${process.env.PATH}`, WO_NOTIFY_DESKTOP: '1' };
    await pool.start(root, { env });
    const port = JSON.parse(fs.readFileSync(path.join(root, 'g/run/daemon.json'), 'utf8')).port as number;
    expect(port).toBeGreaterThan(0);

    for (const id of ['BR-F1', 'BR-F2']) {
      dropComplete(root, 'CLC', `${id}.json`, execWo(id, 'false'));
      await statusOf(root, id, 'failed');
      await waitSettled(root, WAIT);
    }
    await waitFor(() => JSON.parse(fs.readFileSync(path.join(root, 'g/run/breaker.json'), 'utf8')).lanes?.CLC?.open, { ...WAIT, what: 'breaker.json open for CLC' });
    const reason = 'breaker open for lane CLC: 2 failures in 600 s (policy.breaker); `wo resume --lane CLC` closes it';
    // The open breaker is in `wo status` (JSON and words), for /api/status and the dashboard too.
    const st = runCli(['status', '--json'], { root });
    expect(JSON.parse(st.stdout).breakers).toEqual([expect.objectContaining({ lane: 'CLC', failures: 2, window_s: 600 })]);
    expect(runCli(['status'], { root, env: { NO_COLOR: '1' } }).stdout).toMatch(/breaker\s+lane CLC open since .*wo resume --lane CLC/);

    dropComplete(root, 'CLC', 'BR-OK1.json', execWo('BR-OK1', 'true'));
    const held = await statusOf(root, 'BR-OK1', 'awaiting_approval');
    expect(held.hold_reasons).toEqual([reason]);
    // Another lane is not braked.
    dropComplete(root, 'OPS', 'BR-OPS.json', execWo('BR-OPS', 'true'));
    await statusOf(root, 'BR-OPS', 'succeeded');

    // Told: notify.command got the JSON (with the deep link), the desktop notifier got title, outcome and link.
    const program = process.platform === 'darwin' ? 'osascript' : 'notify-send';
    const link = `http://127.0.0.1:${port}/#wo=BR-OK1`;
    await waitFor(() => n.calls().length >= 4 && fs.existsSync(events) && fs.readFileSync(events, 'utf8').trimEnd().split('\n').length >= 4, { ...WAIT, what: 'four notifications' });
    const told = fs.readFileSync(events, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(told.map((e) => e.event).sort()).toEqual(['wo_breaker_open', 'wo_failed', 'wo_failed', 'wo_held']);
    expect(told.find((e) => e.event === 'wo_held')).toMatchObject({ wo_id: 'BR-OK1', lane: 'CLC', reasons: [reason], url: link });
    expect(told.find((e) => e.event === 'wo_breaker_open')).toMatchObject({ lane: 'CLC', failures: 2, window_s: 600 });
    const calls = n.calls();
    expect(calls.every((c) => c[0] === program)).toBe(true);
    const text = (c: string[]) => c.slice(-2).join('\n');
    expect(calls.map(text).filter((t) => t.startsWith('wo: BR-F')).sort()).toEqual([
      'wo: BR-F1 failed\nbrakes BR-F1\nCOMMAND_FAILED: ' + told.find((e) => e.wo_id === 'BR-F1').error.message + `\nhttp://127.0.0.1:${port}/#wo=BR-F1`,
      'wo: BR-F2 failed\nbrakes BR-F2\nCOMMAND_FAILED: ' + told.find((e) => e.wo_id === 'BR-F2').error.message + `\nhttp://127.0.0.1:${port}/#wo=BR-F2`,
    ]);
    expect(calls.map(text)).toContain(`wo: BR-OK1 waits for approval\nbrakes BR-OK1\n${reason}\n${link}`);
    expect(calls.map(text)).toContain(`wo: breaker open for lane CLC\nbreaker open for lane CLC: 2 failures in 600 s (policy.breaker)`);

    // A restart keeps the breaker open (g/run/breaker.json).
    await pool.cleanup();
    await pool.start(root, { env });
    dropComplete(root, 'CLC', 'BR-OK2.json', execWo('BR-OK2', 'true'));
    expect((await statusOf(root, 'BR-OK2', 'awaiting_approval')).hold_reasons).toEqual([reason]);
    // A person's approval still runs it.
    const r = runCli(['approve', 'BR-OK2'], { root });
    expect(r.code, r.stderr).toBe(0);
    await statusOf(root, 'BR-OK2', 'succeeded');
  }, TIMEOUT);

  it('lane and owner levels and the lane rate limit hold with the rule named; an approval runs past the rate', async () => {
    const root = tempRoot(
      [
        'http:\n  enabled: false',
        'lanes: [ENTRY, CLC, OPS]',
        'policy:\n  autonomy: auto',
        '  lanes:\n    CLC: {rate: {max: 2, per_s: 3600}}\n    OPS: {autonomy: approve}',
        '  owners:\n    bot: {autonomy: approve}\n    boss: {autonomy: auto}',
        '',
      ].join('\n'),
    );
    await pool.start(root);
    for (const id of ['RT-1', 'RT-2', 'RT-3']) dropComplete(root, 'CLC', `${id}.json`, execWo(id, 'true'));
    await waitFor(() => ['RT-1', 'RT-2', 'RT-3'].every((id) => ['succeeded', 'awaiting_approval'].includes(readRecord(root, id)?.status)), { ...WAIT, what: 'three rated WOs settled' });
    const recs = ['RT-1', 'RT-2', 'RT-3'].map((id) => readRecord(root, id)!);
    expect(recs.filter((r) => r.status === 'succeeded')).toHaveLength(2);
    const over = recs.filter((r) => r.status === 'awaiting_approval');
    expect(over).toHaveLength(1);
    expect(over[0]!.hold_reasons).toEqual(['policy.lanes.CLC.rate is 2 per 3600 s: 2 WOs of lane CLC already started in the last 3600 s']);

    dropComplete(root, 'OPS', 'LV-OPS.json', execWo('LV-OPS', 'true', { owner: 'boss' }));
    expect((await statusOf(root, 'LV-OPS', 'awaiting_approval')).hold_reasons).toEqual(['policy.lanes.OPS.autonomy is approve: every WO waits for approval']);
    dropComplete(root, 'CLC', 'LV-BOT.json', execWo('LV-BOT', 'true', { owner: 'bot' }));
    expect((await statusOf(root, 'LV-BOT', 'awaiting_approval')).hold_reasons).toEqual(['policy.owners.bot.autonomy is approve: every WO waits for approval']);

    const r = runCli(['approve', over[0]!.wo_id], { root });
    expect(r.code, r.stderr).toBe(0);
    await statusOf(root, over[0]!.wo_id, 'succeeded');
  }, TIMEOUT);
});
