/**
 * Retention end to end: real WOs run by the real daemon, then aged (old `times.finished`, old mtimes), then pruned by
 * `wo prune` and by the daemon's start-time pass. Exactly the expected set goes; a live WO keeps everything; a WO
 * within the backup window can still be rolled back.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dropComplete, readEvents, readRecord, runCli, tempRoot, waitFor, waitSettled } from '../helpers.js';
import { daemonPool } from '../reliability/common.js';

const DAY = 86_400_000;
const pool = daemonPool();
afterEach(() => pool.cleanup());

const config = (intervalH: number) => `http:\n  enabled: false\nretention:\n  interval_h: ${intervalH}\n  batch: 2\n`;

const wo = (id: string, extra = '') => `wo_id: ${id}\ntitle: "retention ${id}"\ntype: apply_patch\nfiles:\n  - path: out/${id}.txt\n    content: "new ${id}\\n"\n${extra}`;

/** Give a path (and a folder's entries) an old mtime. */
function age(p: string, days: number): void {
  const t = new Date(Date.now() - days * DAY);
  if (fs.statSync(p).isDirectory()) for (const n of fs.readdirSync(p)) age(path.join(p, n), days);
  fs.utimesSync(p, t, t);
}

/** Rewrite a record's times as if it finished `days` ago, then age the record file. */
function ageRecord(root: string, id: string, days: number): void {
  const file = path.join(root, 'g/followup/state', `${id}.json`);
  const rec = JSON.parse(fs.readFileSync(file, 'utf8'));
  const t = new Date(Date.now() - days * DAY).toISOString();
  for (const k of Object.keys(rec.times)) rec.times[k] = t;
  fs.writeFileSync(file, JSON.stringify(rec));
  age(file, days);
}

const archived = (root: string, id: string) => fs.readdirSync(path.join(root, 'bridge/archive')).filter((n) => n.startsWith(`${id}.`)).map((n) => `bridge/archive/${n}`);

/**
 * OLD (finished 120 days ago): backup, archive and record go. MID (40 days): backup and archive go, the record stays.
 * NEW (2 days): everything stays. HELD (awaiting approval, 400 days old): everything stays. Plus wo's old rotated
 * files (removed) and a user's report in g/reports/ (kept).
 */
async function seed(root: string): Promise<{ expected: string[]; kept: string[] }> {
  fs.mkdirSync(path.join(root, 'out'), { recursive: true });
  for (const id of ['OLD', 'MID', 'NEW']) fs.writeFileSync(path.join(root, 'out', `${id}.txt`), `before ${id}\n`);
  const d = await pool.start(root);
  for (const id of ['OLD', 'MID', 'NEW']) dropComplete(root, 'CLC', `${id}.yaml`, wo(id));
  dropComplete(root, 'CLC', 'HELD.yaml', wo('HELD', 'commands:\n  - "touch out/held-ran"\n'));
  await waitFor(() => ['OLD', 'MID', 'NEW'].every((id) => readRecord(root, id)?.status === 'succeeded') && readRecord(root, 'HELD')?.status === 'awaiting_approval', { timeout: 60_000, what: 'WOs settled' });
  await waitSettled(root, { timeout: 60_000 });
  expect(await d.stop()).toBe(0);

  for (const [id, days] of [['OLD', 120], ['MID', 40], ['NEW', 2], ['HELD', 400]] as const) {
    ageRecord(root, id, days);
    if (fs.existsSync(path.join(root, 'g/backups', id))) age(path.join(root, 'g/backups', id), days + 0.001); // taken before it finished
    for (const a of archived(root, id)) age(path.join(root, a), days);
  }
  for (const n of fs.readdirSync(path.join(root, 'bridge/hold'), { recursive: true }) as string[]) age(path.join(root, 'bridge/hold', n), 400);
  const extra = (rel: string, days: number) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), 'x\n');
    age(path.join(root, rel), days);
  };
  extra('g/logs/daemon.1.log', 40);
  extra('g/logs/rollback_20200101.log', 40);
  extra('g/telemetry/unified.2020-01-01T00-00-00-000Z.jsonl', 40);
  extra('g/reports/wo/canary-2020-01-01.json', 40);
  extra('g/reports/users-own-report.json', 400);
  extra('g/logs/notes.txt', 400);
  extra('g/logs/daemon.2.log', 5);

  expect(fs.existsSync(path.join(root, 'g/backups/OLD'))).toBe(true);
  const expected = [
    'g/backups/OLD', 'g/backups/MID', ...archived(root, 'OLD'), ...archived(root, 'MID'), 'g/followup/state/OLD.json',
    'g/logs/daemon.1.log', 'g/logs/rollback_20200101.log', 'g/telemetry/unified.2020-01-01T00-00-00-000Z.jsonl', 'g/reports/wo/canary-2020-01-01.json',
  ].sort();
  const kept = [
    'g/followup/state/MID.json', 'g/followup/state/NEW.json', 'g/backups/NEW', ...archived(root, 'NEW'), 'g/followup/state/HELD.json',
    'g/reports/users-own-report.json', 'g/logs/notes.txt', 'g/logs/daemon.2.log',
  ];
  return { expected, kept };
}

function checkAfter(root: string, kept: string[], expected: string[]): void {
  for (const rel of expected) expect(fs.existsSync(path.join(root, rel)), rel).toBe(false);
  for (const rel of kept) expect(fs.existsSync(path.join(root, rel)), rel).toBe(true);
  // The held WO is untouched: still waiting, its file still in hold/.
  expect(readRecord(root, 'HELD')?.status).toBe('awaiting_approval');
  expect(fs.existsSync(path.join(root, readRecord(root, 'HELD')!.file))).toBe(true);
}

describe('retention end to end', () => {
  it('wo prune applies the config: exactly the expected set, dry run first; rollback within the window still works', async () => {
    const root = tempRoot(config(0));
    const { expected, kept } = await seed(root);

    const dry = runCli(['prune', '--dry-run', '--json'], { root });
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout).removed.sort()).toEqual(expected);
    for (const rel of expected) expect(fs.existsSync(path.join(root, rel)), rel).toBe(true);

    const r = runCli(['prune', '--json'], { root });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.removed.sort()).toEqual(expected);
    expect(out.skipped).toEqual([]);
    expect(out.counts).toMatchObject({ backup: 2, record: 1 });
    checkAfter(root, kept, expected);
    expect(runCli(['prune', '--json'], { root }).stdout).toContain('"removed": []');

    // NEW is within backups_days: its backup and record are both there, so `wo rollback` restores the file.
    const rb = runCli(['rollback', 'NEW'], { root });
    expect(rb.code, rb.stdout + rb.stderr).toBe(0);
    expect(readRecord(root, 'NEW')?.status).toBe('reverted');
    expect(fs.readFileSync(path.join(root, 'out/NEW.txt'), 'utf8')).toBe('before NEW\n');
  }, 120_000);

  it('the daemon prunes the same set at start, in the background, and says so in telemetry', async () => {
    const root = tempRoot(config(24));
    const { expected, kept } = await seed(root);
    const d = await pool.start(root);
    // The pass after this start (the seeding daemon's own start-time pass found nothing old).
    const afterStart = () => {
      const evs = readEvents(root);
      const start = evs.map((e) => e.event === 'daemon_started' && e.pid === d.pid).lastIndexOf(true);
      return start >= 0 ? evs.slice(start).find((e) => e.event === 'retention_pruned') : undefined;
    };
    const ev = await waitFor(afterStart, { timeout: 30_000, what: 'retention_pruned' });
    expect(ev).toMatchObject({ ok: true, removed: expected.length, counts: { backup: 2, record: 1 } });
    checkAfter(root, kept, expected);
    // The daemon still works after its pass, and stops cleanly (the timer is released).
    dropComplete(root, 'CLC', 'AFTER.yaml', wo('AFTER'));
    await waitFor(() => readRecord(root, 'AFTER')?.status === 'succeeded', { timeout: 30_000, what: 'AFTER' });
    expect(await d.stop()).toBe(0);
  }, 120_000);

  it('the daemon passes again every interval_h, and removes what aged since', async () => {
    const root = tempRoot('http:\n  enabled: false\nretention:\n  interval_h: 0.0003\n'); // about a second
    const d = await pool.start(root);
    await waitFor(() => readEvents(root).filter((e) => e.event === 'retention_pruned').length >= 1, { timeout: 30_000, what: 'first pass' });
    const log = path.join(root, 'g/logs/daemon.1.log');
    fs.writeFileSync(log, 'x\n');
    age(log, 40);
    await waitFor(() => readEvents(root).some((e) => e.event === 'retention_pruned' && e.counts?.log === 1), { timeout: 30_000, what: 'a later pass' });
    expect(fs.existsSync(log)).toBe(false);
    expect(await d.stop()).toBe(0);
  }, 60_000);

  it('wo prune --older-than keeps records and removes only wo\'s own files', async () => {
    const root = tempRoot(config(0));
    const { expected } = await seed(root);
    const r = runCli(['prune', '--older-than', '30d', '--json'], { root });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).removed.sort()).toEqual(expected.filter((p) => !p.startsWith('g/followup/state/')));
    expect(readRecord(root, 'OLD')?.status).toBe('succeeded');
    expect(fs.existsSync(path.join(root, 'g/reports/users-own-report.json'))).toBe(true);
  }, 120_000);

  it('wo prune while the daemon runs is done by the daemon: its index drops the pruned records at once', async () => {
    const root = tempRoot(config(0));
    const { expected, kept } = await seed(root);
    const d = await pool.start(root);
    const before = JSON.parse(runCli(['ls', '--json', '--limit', '50'], { root }).stdout);
    expect(before.items.map((i: { wo_id: string }) => i.wo_id)).toContain('OLD');
    const r = runCli(['prune', '--json'], { root });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.via).toBe('daemon');
    expect(out.removed.sort()).toEqual(expected);
    checkAfter(root, kept, expected);
    const after = JSON.parse(runCli(['ls', '--json', '--limit', '50'], { root }).stdout);
    expect(after.items.map((i: { wo_id: string }) => i.wo_id).sort()).toEqual(before.items.map((i: { wo_id: string }) => i.wo_id).filter((id: string) => id !== 'OLD').sort());
    expect(after.total).toBe(before.total - 1);
    // The id is free again: a new WO of that id runs and is listed.
    dropComplete(root, 'CLC', 'OLD.yaml', wo('OLD'));
    await waitFor(() => readRecord(root, 'OLD')?.status === 'succeeded', { timeout: 30_000, what: 'OLD again' });
    await waitFor(() => JSON.parse(runCli(['ls', '--json'], { root }).stdout).items.some((i: { wo_id: string }) => i.wo_id === 'OLD'), { timeout: 10_000, what: 'OLD listed again' });
    expect(await d.stop()).toBe(0);
  }, 120_000);
});
