import { afterEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { dropComplete, dropWo, readEvents, readRecord, runCli, runCliAsync, startDaemon, tempDir, tempRoot, waitFor, waitSettled, type DaemonHandle } from '../helpers.js';

const CANARY = `wo_id: WO-20251113-CANARY
title: "Pipeline health check"
priority: P2
owner: auto-test
type: apply_patch
created_at: "2025-11-13T23:45:00Z"
files:
  - path: tmp/canary_test.txt
    mode: "0644"
    content: |
      canary
post_verify:
  - "test -f tmp/canary_test.txt"
tests:
  - name: "canary file exists"
    command: "test -f tmp/canary_test.txt && echo canary_ok"
    expected: "canary_ok"
`;

const REBUILD = `wo_id: WO-20251113-WO-PIPELINE-REBUILD
title: "WO Pipeline Complete Rebuild with Durability"
priority: P0
owner: mary
type: apply_patch
files:
  - path: agents/apply_patch_processor/apply_patch_processor.zsh
    mode: "0755"
    content: |
      #!/usr/bin/env zsh
      set -euo pipefail
      echo processor
  - path: tools/followup_tracker_update.zsh
    mode: "0755"
    content: |
      #!/usr/bin/env zsh
      echo tracker
post_verify:
  - "test -x agents/apply_patch_processor/apply_patch_processor.zsh"
tests:
  - name: "processor executable"
    command: "test -x agents/apply_patch_processor/apply_patch_processor.zsh && echo ok"
    expected: "ok"
  - name: "two components"
    command: "ls agents/apply_patch_processor/apply_patch_processor.zsh tools/followup_tracker_update.zsh | wc -l"
    expected: "2"
`;

let daemon: DaemonHandle | undefined;
afterEach(async () => {
  await daemon?.stop('SIGKILL');
  daemon = undefined;
});

function write(file: string, text: string): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return file;
}

describe('the durable core, through the CLI and the real daemon', () => {
  it('runs the canary and a rebuild WO: state, telemetry and archive as SPEC says', async () => {
    const root = tempRoot();
    daemon = await startDaemon(root);
    const src = tempDir();
    const canary = await runCliAsync(['submit', write(path.join(src, 'canary.yaml'), CANARY), '--wait', '--timeout', '30'], { root });
    expect(canary.code, canary.stderr).toBe(0);
    expect(canary.stdout.trim()).toBe('WO-20251113-CANARY');
    expect(fs.readFileSync(path.join(root, 'tmp/canary_test.txt'), 'utf8')).toBe('canary\n');

    const rebuild = await runCliAsync(['submit', write(path.join(src, 'rebuild.yaml'), REBUILD), '--wait'], { root });
    expect(rebuild.code, rebuild.stderr).toBe(0);
    const proc = path.join(root, 'agents/apply_patch_processor/apply_patch_processor.zsh');
    expect(fs.statSync(proc).mode & 0o777).toBe(0o755);
    expect(fs.statSync(path.join(root, 'tools/followup_tracker_update.zsh')).mode & 0o777).toBe(0o755);

    const rec = readRecord(root, 'WO-20251113-WO-PIPELINE-REBUILD')!;
    expect(rec).toMatchObject({ schema: 1, status: 'succeeded', stage: 'commit', lane: 'CLC', type: 'apply_patch', priority: 'P0', attempt: 1, rolled_back: false, dry_run: false });
    expect(rec.tests).toEqual([
      { name: 'processor executable', expected: 'ok', actual: 'ok', passed: true },
      { name: 'two components', expected: '2', actual: '2', passed: true },
    ]);
    expect(rec.files.map((f: { path: string; action: string; mode: string; before_sha256: null }) => [f.path, f.action, f.mode, f.before_sha256])).toEqual([
      ['agents/apply_patch_processor/apply_patch_processor.zsh', 'write', '0755', null],
      ['tools/followup_tracker_update.zsh', 'write', '0755', null],
    ]);
    expect(rec.commands.map((c: { phase: string; exit_code: number }) => [c.phase, c.exit_code])).toEqual([['post_verify', 0], ['tests', 0], ['tests', 0]]);
    expect(rec.file).toBe('bridge/archive/WO-20251113-WO-PIPELINE-REBUILD.1.yaml');
    await waitSettled(root);
    expect(fs.existsSync(path.join(root, rec.file))).toBe(true);
    // Every target was new: the snapshot (all absent) travels in the record, written before the first change.
    expect(rec.snapshot).toMatchObject({ attempt: 1, in_record: true });
    expect(rec.snapshot.entries.map((e: { rel: string; existed: boolean }) => [e.rel, e.existed])).toEqual([
      ['agents/apply_patch_processor/apply_patch_processor.zsh', false],
      ['tools/followup_tracker_update.zsh', false],
    ]);

    const events = readEvents(root).filter((e) => e.wo_id === 'WO-20251113-CANARY').map((e) => e.event);
    expect(events).toEqual(expect.arrayContaining(['wo_received', 'wo_started', 'wo_completed']));
    expect(events.indexOf('wo_started')).toBeLessThan(events.indexOf('wo_completed'));
    expect(fs.readdirSync(path.join(root, 'bridge/inbox/CLC')).filter((n) => !n.startsWith('.'))).toEqual([]);
    expect(fs.readdirSync(path.join(root, 'bridge/processing/CLC'))).toEqual([]);

    const show = runCli(['show', 'WO-20251113-CANARY', '--json'], { root });
    expect(JSON.parse(show.stdout).status).toBe('succeeded');
    const status = JSON.parse(runCli(['status', '--json'], { root }).stdout);
    expect(status.daemon.running).toBe(true);
    expect(status.counts.succeeded).toBe(2);
  });

  it('a WO whose test fails leaves the previous bytes and mode of every file it touched', async () => {
    const root = tempRoot();
    write(path.join(root, 'conf/app.conf'), 'old contents\n');
    fs.chmodSync(path.join(root, 'conf/app.conf'), 0o600);
    daemon = await startDaemon(root);
    const wo = `wo_id: WO-FAILS
title: failing test
type: apply_patch
files:
  - path: conf/app.conf
    mode: "0644"
    content: "new contents\\n"
  - path: conf/new.conf
    content: "brand new\\n"
tests:
  - name: "All agents running"
    command: "echo 3"
    expected: "4"
`;
    const r = await runCliAsync(['submit', write(path.join(tempDir(), 'f.yaml'), wo), '--wait'], { root });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('TEST_FAILED');
    expect(fs.readFileSync(path.join(root, 'conf/app.conf'), 'utf8')).toBe('old contents\n');
    expect(fs.statSync(path.join(root, 'conf/app.conf')).mode & 0o777).toBe(0o600);
    expect(fs.existsSync(path.join(root, 'conf/new.conf'))).toBe(false);
    const manifest = JSON.parse(fs.readFileSync(path.join(root, 'g/backups/WO-FAILS/manifest.json'), 'utf8'));
    expect(manifest.entries.map((e: { rel: string; existed: boolean }) => [e.rel, e.existed])).toEqual([['conf/app.conf', true], ['conf/new.conf', false]]);
    const rec = readRecord(root, 'WO-FAILS')!;
    expect(rec).toMatchObject({ status: 'failed', rolled_back: true, error: { code: 'TEST_FAILED', message: `test 'All agents running': expected "4", got "3"` } });
    expect(rec.tests[0]).toEqual({ name: 'All agents running', expected: '4', actual: '3', passed: false });
    const logs = fs.readdirSync(path.join(root, 'g/logs')).filter((n) => n.startsWith('rollback_'));
    expect(logs.length).toBe(1);
    expect(fs.readFileSync(path.join(root, 'g/logs', logs[0]!), 'utf8')).toContain('WO-FAILS');
    await waitSettled(root);
    expect(readEvents(root).map((e) => e.event)).toEqual(expect.arrayContaining(['wo_failed', 'wo_rolled_back']));
  });

  it('a duplicate is archived without re-applying; same id with other content is a conflict; a failed id gets a new attempt', async () => {
    const root = tempRoot();
    daemon = await startDaemon(root);
    const one = 'wo_id: WO-ID\ntitle: t\ntype: apply_patch\nfiles:\n  - path: out/a.txt\n    content: "one\\n"\n';
    dropComplete(root, 'CLC', 'a.yaml', one);
    await waitFor(() => readRecord(root, 'WO-ID')?.status === 'succeeded');
    fs.writeFileSync(path.join(root, 'out/a.txt'), 'changed by a person\n');
    dropComplete(root, 'CLC', 'b.yaml', one);
    await waitFor(() => readEvents(root).some((e) => e.event === 'wo_duplicate'));
    await waitSettled(root);
    expect(fs.readFileSync(path.join(root, 'out/a.txt'), 'utf8')).toBe('changed by a person\n');
    expect(fs.readdirSync(path.join(root, 'bridge/archive'))).toEqual(expect.arrayContaining(['WO-ID.1.yaml', 'WO-ID.dup-1.yaml']));
    // The next duplicate is the second: `<id>.dup-2`, not a numbered variant of the first's name.
    dropComplete(root, 'CLC', 'b2.yaml', one);
    await waitFor(() => readEvents(root).filter((e) => e.event === 'wo_duplicate').length === 2);
    await waitSettled(root);
    expect(fs.readdirSync(path.join(root, 'bridge/archive')).filter((n) => n.startsWith('WO-ID.')).sort()).toEqual(['WO-ID.1.yaml', 'WO-ID.dup-1.yaml', 'WO-ID.dup-2.yaml']);
    dropComplete(root, 'CLC', 'c.yaml', one.replace('one', 'two'));
    await waitFor(() => fs.existsSync(path.join(root, 'bridge/rejected/c.yaml.reason.json')));
    expect(JSON.parse(fs.readFileSync(path.join(root, 'bridge/rejected/c.yaml.reason.json'), 'utf8'))).toMatchObject({ file: 'c.yaml', wo_id: 'WO-ID', code: 'CONFLICT' });
    expect(readRecord(root, 'WO-ID')).toMatchObject({ status: 'succeeded', attempt: 1 });

    const bad = 'wo_id: WO-RETRY\ntitle: t\ntype: apply_patch\nfiles:\n  - path: out/r.txt\n    content: "x"\ntests:\n  - name: t\n    command: "cat out/flag"\n    expected: "go"\n';
    dropComplete(root, 'CLC', 'r1.yaml', bad);
    await waitFor(() => readRecord(root, 'WO-RETRY')?.status === 'failed');
    write(path.join(root, 'out/flag'), 'go\n');
    const retry = runCli(['retry', 'WO-RETRY'], { root });
    expect(retry.code, retry.stderr).toBe(0);
    await waitFor(() => readRecord(root, 'WO-RETRY')?.status === 'succeeded');
    await waitSettled(root);
    const rec = readRecord(root, 'WO-RETRY')!;
    expect(rec.attempt).toBe(2);
    expect(rec.attempts).toHaveLength(1);
    expect(rec.attempts[0]).toMatchObject({ attempt: 1, status: 'failed' });
    expect(fs.readdirSync(path.join(root, 'bridge/archive'))).toEqual(expect.arrayContaining(['WO-RETRY.2.yaml']));
  });

  it('bad input ends in bridge/rejected/ with a reason a person can act on; the next good WO runs', async () => {
    const root = tempRoot();
    daemon = await startDaemon(root);
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (const l of 'bcdefgh') bomb.push(`${l}: &${l} [${Array(9).fill(`*${String.fromCharCode(l.charCodeAt(0) - 1)}`).join(',')}]`);
    const cases: Record<string, string | Buffer> = {
      'malformed.yaml': 'wo_id: X\ntitle: [unclosed\n',
      'garbage.yaml': Buffer.from([0x00, 0xff, 0x13, 0x37, 0x00, 0x42]),
      'bomb.yaml': bomb.join('\n') + '\n',
      'type.yaml': 'wo_id: WO-T\ntitle: t\ntype: launch_rockets\n',
      'badid.yaml': 'wo_id: "../../etc"\ntitle: t\ntype: exec\n',
      'missing.yaml': 'wo_id: WO-M\ntype: exec\n',
      'mode.yaml': 'wo_id: WO-MODE\ntitle: t\ntype: apply_patch\nfiles:\n  - path: x\n    mode: 0644\n    content: x\n',
      'setuid.yaml': 'wo_id: WO-SUID\ntitle: t\ntype: apply_patch\nfiles:\n  - path: x\n    mode: "4755"\n    content: x\n',
      'dupkey.json': '{"wo_id":"WO-D","wo_id":"WO-E","title":"t","type":"exec"}',
    };
    for (const [name, body] of Object.entries(cases)) dropComplete(root, 'CLC', name, body as string);
    const big = path.join(root, 'bridge/inbox/CLC/.big.tmp');
    fs.writeFileSync(big, 'wo_id: WO-BIG\ntitle: t\ntype: exec\n# ' + 'x'.repeat(20 * 1024 * 1024) + '\n', { mode: 0o700 });
    fs.renameSync(big, path.join(root, 'bridge/inbox/CLC/big.yaml'));
    const names = [...Object.keys(cases), 'big.yaml'];
    await waitFor(() => names.every((n) => fs.existsSync(path.join(root, 'bridge/rejected', `${n}.reason.json`))), { timeout: 20_000, what: 'all rejected' });
    const reason = (n: string) => JSON.parse(fs.readFileSync(path.join(root, 'bridge/rejected', `${n}.reason.json`), 'utf8'));
    expect(reason('malformed.yaml')).toMatchObject({ code: 'PARSE_ERROR' });
    expect(reason('garbage.yaml').errors[0].message).toMatch(/binary/);
    expect(reason('bomb.yaml').errors[0].message).toMatch(/alias/i);
    expect(reason('type.yaml')).toMatchObject({ code: 'INVALID', errors: [{ path: 'type', message: expect.stringContaining('apply_patch, exec, route') }] });
    expect(reason('badid.yaml').errors[0]).toMatchObject({ path: 'wo_id' });
    expect(reason('missing.yaml').errors[0]).toMatchObject({ path: 'title', message: expect.stringContaining('required') });
    expect(reason('mode.yaml').errors[0].message).toMatch(/decimal number 644/);
    expect(reason('setuid.yaml').errors[0].message).toMatch(/setuid/);
    expect(reason('dupkey.json').errors[0].message).toMatch(/duplicate/i);
    expect(reason('big.yaml').errors[0].message).toMatch(/over the limit/);
    expect(daemon.child.exitCode).toBeNull();
    dropWo(root, 'CLC', 'good.yaml', 'wo_id: WO-GOOD\ntitle: t\ntype: apply_patch\nfiles:\n  - path: ok.txt\n    content: ok\n');
    await waitFor(() => readRecord(root, 'WO-GOOD')?.status === 'succeeded');
  });

  it('150 WOs at once, kill -9 mid-batch, restart: all succeed exactly once with exactly their content', async () => {
    const root = tempRoot('http:\n  enabled: false\nconcurrency: 4\n');
    daemon = await startDaemon(root);
    const N = 150;
    for (let i = 0; i < N; i++) {
      dropComplete(root, 'CLC', `wo-${i}.yaml`, `wo_id: WO-B-${i}\ntitle: batch ${i}\ntype: apply_patch\nfiles:\n  - path: out/f${i}.txt\n    content: "content of ${i}\\n"\n`);
    }
    await waitFor(() => fs.readdirSync(path.join(root, 'g/followup/state')).filter((n) => n.startsWith('WO-B-')).length >= 20, { timeout: 20_000 });
    daemon.child.kill('SIGKILL');
    await daemon.exited;
    daemon = await startDaemon(root);
    await waitFor(() => {
      for (let i = 0; i < N; i++) if (readRecord(root, `WO-B-${i}`)?.status !== 'succeeded') return false;
      return true;
    }, { timeout: 60_000, what: 'all 150 succeeded' });
    await waitSettled(root);
    for (let i = 0; i < N; i++) {
      expect(fs.readFileSync(path.join(root, `out/f${i}.txt`), 'utf8')).toBe(`content of ${i}\n`);
      expect(readRecord(root, `WO-B-${i}`)!.attempts.length).toBeLessThanOrEqual(1);
    }
    const completed = readEvents(root).filter((e) => e.event === 'wo_completed');
    expect(new Set(completed.map((e) => e.wo_id)).size).toBe(N);
    expect(completed.length).toBe(N);
    const archived = fs.readdirSync(path.join(root, 'bridge/archive'));
    expect(archived.filter((n) => /^WO-B-\d+\.\d+\.yaml$/.test(n)).length).toBe(N);
    expect(fs.readdirSync(path.join(root, 'bridge/inbox/CLC')).filter((n) => !n.startsWith('.'))).toEqual([]);
    expect(fs.readdirSync(path.join(root, 'bridge/processing/CLC'))).toEqual([]);
  });

  it('SIGTERM: exits 0, releases the lock, and wo status says not running', async () => {
    const root = tempRoot();
    daemon = await startDaemon(root);
    const code = await daemon.stop('SIGTERM');
    expect(code).toBe(0);
    expect(fs.existsSync(path.join(root, 'g/run/daemon.lock'))).toBe(false);
    const st = runCli(['status', '--json'], { root });
    expect(st.code).toBe(0);
    expect(JSON.parse(st.stdout).daemon.running).toBe(false);
    expect(runCli(['status'], { root }).stdout).toMatch(/not running/);
    expect(readEvents(root).map((e) => e.event)).toEqual(expect.arrayContaining(['daemon_started', 'daemon_stopped']));
  });

  it('a second daemon on the same root refuses to start; a stale lock is taken over and said so', async () => {
    const root = tempRoot();
    daemon = await startDaemon(root);
    const second = runCli(['daemon'], { root, timeoutMs: 20_000 });
    expect(second.code).toBe(1);
    expect(second.stderr + second.stdout).toMatch(/another daemon \(pid \d+\) already runs/);
    daemon.child.kill('SIGKILL');
    await daemon.exited;
    expect(fs.existsSync(path.join(root, 'g/run/daemon.lock'))).toBe(true);
    expect(JSON.parse(runCli(['status', '--json'], { root }).stdout).daemon).toMatchObject({ running: false, stale_lock: true });
    daemon = await startDaemon(root);
    await waitFor(() => /took over a stale lock/.test(daemon!.output()), { what: 'the takeover said in the log' });
  });

  it('files written in place are taken only once they settle; writer leftovers and hidden files are ignored', async () => {
    const root = tempRoot('http:\n  enabled: false\nintake:\n  settle_ms: 300\n');
    daemon = await startDaemon(root);
    const p = path.join(root, 'bridge/inbox/CLC/slow.yaml');
    fs.writeFileSync(p, 'wo_id: WO-SLOW\ntitle: t\n');
    fs.appendFileSync(p, 'type: apply_patch\nfiles:\n  - path: slow.txt\n    content: done\n');
    fs.writeFileSync(path.join(root, 'bridge/inbox/CLC/.hidden.yaml'), 'garbage: [');
    fs.writeFileSync(path.join(root, 'bridge/inbox/CLC/x.yaml.part'), 'garbage: [');
    await waitFor(() => readRecord(root, 'WO-SLOW')?.status === 'succeeded');
    expect(fs.existsSync(path.join(root, 'bridge/inbox/CLC/.hidden.yaml'))).toBe(true);
    expect(fs.existsSync(path.join(root, 'bridge/inbox/CLC/x.yaml.part'))).toBe(true);
  });

  it('wo submit --wait with no daemon exits 3 after the timeout and says so', () => {
    const root = tempRoot();
    const f = write(path.join(tempDir(), 'c.yaml'), CANARY);
    const r = runCli(['submit', f, '--wait', '--timeout', '1'], { root });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/no daemon is running/);
    expect(fs.readdirSync(path.join(root, 'bridge/inbox/CLC'))).toEqual(['WO-20251113-CANARY.yaml']);
    expect(fs.statSync(path.join(root, 'bridge/inbox/CLC/WO-20251113-CANARY.yaml')).mode & 0o100).toBe(0o100);
  });
});
