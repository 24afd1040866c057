/**
 * Issue 9 (foreign input), reproduced through the real CLI and daemon: foreign or corrupt state records, a
 * folder at a WO's record path or at a control request's name, a lane folder named with a newline, and a
 * start-up failure (an explicitly configured busy port). None crashes the CLI or wedges the daemon.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dropComplete, readEvents, readRecord, runCli, runCliAsync, startDaemon, tempRoot, waitFor, waitSettled, type DaemonHandle } from '../helpers.js';

const live: DaemonHandle[] = [];
async function daemon(root: string, opts?: Parameters<typeof startDaemon>[1]): Promise<DaemonHandle> {
  const d = await startDaemon(root, opts);
  live.push(d);
  return d;
}
afterEach(async () => {
  for (const d of live.splice(0)) await d.stop();
});

const STACK = /\n\s+at /;
const wo = (id: string, body = 'files:\n  - path: out/{id}.txt\n    content: "x"\n') => `wo_id: ${id}\ntitle: t ${id}\ntype: apply_patch\n${body.replaceAll('{id}', id)}`;
const state = (root: string, name = '') => path.join(root, 'g/followup/state', name);
const reasonOf = (root: string, name: string) => JSON.parse(fs.readFileSync(path.join(root, 'bridge/rejected', `${name}.reason.json`), 'utf8'));
const logLines = (root: string, needle: string) => {
  try {
    return fs.readFileSync(path.join(root, 'g/logs/daemon.log'), 'utf8').split('\n').filter((l) => l.includes(needle));
  } catch {
    return [];
  }
};

describe('foreign records (a migrating user\'s old state files)', () => {
  const FOREIGN: Record<string, string> = { OLD: '{"status":"done"}', ARR: '[]', STR: '"x"', NUM: '{"wo_id":5}', TORN: '{"schema":1,"wo_id":"TO' };

  function seed(): string {
    const root = tempRoot();
    fs.mkdirSync(state(root), { recursive: true });
    for (const [id, text] of Object.entries(FOREIGN)) fs.writeFileSync(state(root, `${id}.json`), text);
    return root;
  }

  it('wo status lists them as unreadable (count, names; --json: unreadable [{file, why}]); wo show says what is wrong and exits 1', () => {
    const root = seed();
    const st = runCli(['status'], { root });
    expect(st.code, st.stderr).toBe(0);
    expect(st.stderr).toBe('');
    expect(st.stdout).toMatch(/unreadable 5 file\(s\) in g\/followup\/state\//);
    for (const id of Object.keys(FOREIGN)) expect(st.stdout).toContain(`- ${id}.json: `);
    const j = runCli(['status', '--json'], { root });
    expect(j.code, j.stderr).toBe(0);
    const report = JSON.parse(j.stdout);
    expect(report.unreadable.map((u: { file: string }) => u.file).sort()).toEqual(Object.keys(FOREIGN).map((id) => `${id}.json`).sort());
    expect(report.unreadable.every((u: { why: unknown }) => typeof u.why === 'string' && u.why !== '')).toBe(true);
    expect(report.wos).toEqual([]);
    for (const id of Object.keys(FOREIGN)) {
      for (const args of [['show', id], ['show', id, '--json']]) {
        const r = runCli(args, { root });
        expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(1);
        expect(r.stderr).toMatch(new RegExp(`^wo: g/followup/state/${id}\\.json is not a wo record: it .+\\n$`));
        expect(r.stderr).not.toMatch(STACK);
        expect(r.stdout).toBe('');
      }
    }
    expect(runCli(['show', 'NONE'], { root })).toMatchObject({ code: 1, stderr: 'wo: no WO with id NONE\n' });
    for (const action of ['approve', 'reject', 'retry', 'cancel', 'rollback']) {
      const r = runCli([action, 'OLD'], { root });
      expect(r.code, action).toBe(1);
      expect(r.stderr).toBe(`wo: g/followup/state/OLD.json is not a wo record: it has no schema or wo_id; there is no WO OLD to ${action}\n`);
    }
    expect(fs.readFileSync(state(root, 'OLD.json'), 'utf8')).toBe(FOREIGN.OLD);
  });

  it('a WO whose id collides with a foreign file is rejected (CONFLICT, the reason names the file) and the file is never overwritten', async () => {
    const root = seed();
    // wo submit refuses up front, naming the file
    fs.writeFileSync(path.join(root, 'old.yaml'), wo('OLD'));
    const sub = runCli(['submit', path.join(root, 'old.yaml')], { root });
    expect(sub.code).toBe(1);
    expect(sub.stderr).toMatch(/g\/followup\/state\/OLD\.json is not a wo record/);
    await daemon(root);
    for (const id of Object.keys(FOREIGN)) dropComplete(root, 'CLC', `${id.toLowerCase()}.yaml`, wo(id));
    dropComplete(root, 'CLC', 'good.yaml', wo('GOOD'));
    await waitFor(() => readRecord(root, 'GOOD')?.status === 'succeeded', { what: 'GOOD succeeded' });
    for (const id of Object.keys(FOREIGN)) {
      const name = `${id.toLowerCase()}.yaml`;
      await waitFor(() => fs.existsSync(path.join(root, 'bridge/rejected', `${name}.reason.json`)), { what: `${name} rejected` });
      const reason = reasonOf(root, name);
      expect(reason).toMatchObject({ code: 'CONFLICT', wo_id: id });
      expect(JSON.stringify(reason.errors)).toContain(`g/followup/state/${id}.json is not a wo record`);
      expect(fs.readFileSync(state(root, `${id}.json`), 'utf8'), id).toBe(FOREIGN[id]);
      expect(fs.existsSync(path.join(root, 'out', `${id}.txt`))).toBe(false);
    }
    await waitSettled(root);
    expect(readEvents(root).filter((e) => e.event === 'wo_rejected' && e.code === 'CONFLICT').length).toBe(Object.keys(FOREIGN).length);
  });
});

describe('a folder at a record path or at a control request name (mkdir -p g/followup/state/WO-VICTIM.json g/run/control/x.req.json)', () => {
  it('the victim WO is rejected with the reason, never stuck in processing/; wo show explains; the control folder is moved aside once', async () => {
    const root = tempRoot();
    const d = await daemon(root);
    fs.mkdirSync(state(root, 'WO-VICTIM.json'), { recursive: true });
    fs.mkdirSync(path.join(root, 'g/run/control/x.req.json'), { recursive: true });
    dropComplete(root, 'CLC', 'victim.yaml', wo('WO-VICTIM'));
    await waitFor(() => fs.existsSync(path.join(root, 'bridge/rejected/victim.yaml.reason.json')), { what: 'victim rejected' });
    expect(reasonOf(root, 'victim.yaml')).toMatchObject({ code: 'CONFLICT', wo_id: 'WO-VICTIM' });
    expect(JSON.stringify(reasonOf(root, 'victim.yaml').errors)).toMatch(/WO-VICTIM\.json is not a wo record \(it is a folder\)/);
    await waitSettled(root);
    expect(fs.statSync(state(root, 'WO-VICTIM.json')).isDirectory()).toBe(true);
    const show = runCli(['show', 'WO-VICTIM'], { root });
    expect(show.code).toBe(1);
    expect(show.stderr).toBe('wo: g/followup/state/WO-VICTIM.json is not a wo record: it is a folder (wo leaves it untouched; move it away if it is not needed)\n');
    const st = runCli(['status'], { root });
    expect(st.code, st.stderr).toBe(0);
    expect(st.stdout).toContain('- WO-VICTIM.json: is a folder');

    // The control folder: moved aside with one log line, not retried every second.
    const control = path.join(root, 'g/run/control');
    await waitFor(() => !fs.existsSync(path.join(control, 'x.req.json')), { what: 'x.req.json moved aside' });
    expect(fs.readdirSync(control).filter((n) => n.startsWith('x.req.json.refused-'))).toHaveLength(1);
    // Later requests go through (each is a scan after the refusal): still exactly one line about x.req.json.
    for (let i = 0; i < 3; i++) {
      const r = await runCliAsync(['approve', 'NOPE'], { root });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/no WO with id NOPE/);
    }
    expect(logLines(root, 'x.req.json')).toHaveLength(1);
    expect(d.child.exitCode).toBeNull();
  });

  it('a folder made while the WO waits in the queue: the attempt ends rejected with the reason (no record, nothing applied), the daemon goes on', async () => {
    const root = tempRoot('http:\n  enabled: false\npolicy:\n  autonomy: auto\n');
    await daemon(root);
    // An exec WO without paths runs alone: the victim waits behind it, admitted and queued.
    dropComplete(root, 'CLC', 'block.yaml', wo('BLOCK', 'commands:\n  - "while [ ! -f go ]; do sleep 0.05; done"\n').replace('type: apply_patch', 'type: exec'));
    await waitFor(() => readRecord(root, 'BLOCK')?.status === 'running', { what: 'BLOCK running' });
    dropComplete(root, 'CLC', 'victim.yaml', wo('WO-LATE'));
    await waitFor(() => readEvents(root).some((e) => e.event === 'wo_received' && e.wo_id === 'WO-LATE'), { what: 'WO-LATE queued' });
    fs.mkdirSync(state(root, 'WO-LATE.json'));
    fs.writeFileSync(path.join(root, 'go'), '');
    await waitFor(() => fs.existsSync(path.join(root, 'bridge/rejected/victim.yaml.reason.json')), { what: 'WO-LATE rejected' });
    expect(reasonOf(root, 'victim.yaml')).toMatchObject({ code: 'CONFLICT', wo_id: 'WO-LATE' });
    await waitSettled(root);
    expect(readRecord(root, 'BLOCK')?.status).toBe('succeeded');
    expect(fs.existsSync(path.join(root, 'out/WO-LATE.txt'))).toBe(false);
    expect(fs.statSync(state(root, 'WO-LATE.json')).isDirectory()).toBe(true);
    expect(logLines(root, 'WO-LATE cannot be recorded')).toHaveLength(1);
    dropComplete(root, 'CLC', 'after.yaml', wo('AFTER'));
    await waitFor(() => readRecord(root, 'AFTER')?.status === 'succeeded', { what: 'AFTER succeeded' });
  });

  it('found at start-up in processing/: recovery hands it to admission, which rejects it', async () => {
    const root = tempRoot();
    fs.mkdirSync(path.join(root, 'bridge/processing/CLC'), { recursive: true });
    fs.writeFileSync(path.join(root, 'bridge/processing/CLC/v.yaml'), wo('WO-REC'));
    fs.mkdirSync(state(root, 'WO-REC.json'), { recursive: true });
    await daemon(root);
    await waitFor(() => fs.existsSync(path.join(root, 'bridge/rejected/v.yaml.reason.json')), { what: 'recovered file rejected' });
    expect(reasonOf(root, 'v.yaml')).toMatchObject({ code: 'CONFLICT', wo_id: 'WO-REC' });
    await waitSettled(root);
  });
});

describe('lane folders', () => {
  it('a folder named with a newline is ignored with one warning (log and status on one line each); good lanes go on', async () => {
    const root = tempRoot('http:\n  enabled: false\nintake:\n  rescan_s: 1\n');
    const bad = 'bad\nlane';
    await daemon(root);
    dropComplete(root, bad, 'x.yaml', wo('IN-BAD-LANE'));
    dropComplete(root, 'CLC', 'ok.yaml', wo('OK1'));
    await waitFor(() => readRecord(root, 'OK1')?.status === 'succeeded', { what: 'OK1' });
    await waitFor(() => logLines(root, 'ignoring the folder').length > 0, { what: 'the warning' });
    // A few rescans later (each WO below is claimed by one): still one warning, the file untouched.
    for (const id of ['OK2', 'OK3']) {
      dropComplete(root, 'CLC', `${id}.yaml`, wo(id));
      await waitFor(() => readRecord(root, id)?.status === 'succeeded', { what: id });
    }
    expect(logLines(root, 'ignoring the folder')).toHaveLength(1);
    expect(logLines(root, 'ignoring the folder')[0]).toContain('bad\\\\nlane');
    expect(fs.existsSync(path.join(root, 'bridge/inbox', bad, 'x.yaml'))).toBe(true);
    expect(readRecord(root, 'IN-BAD-LANE')).toBeUndefined();
    expect(fs.existsSync(path.join(root, 'bridge/processing', bad))).toBe(false);
    const st = runCli(['status'], { root });
    expect(st.code, st.stderr).toBe(0);
    expect(st.stdout).toContain('ignored  1 folder(s) under bridge/inbox/ are not lanes');
    expect(st.stdout).toContain('- "bad\\nlane": not a lane name');
    const j = JSON.parse(runCli(['status', '--json'], { root }).stdout);
    expect(j.ignored_lanes).toEqual([{ name: bad, why: expect.stringMatching(/not a lane name/) }]);
    expect(j.pending.inbox).toBe(0);
  });
});

describe('start-up failure', () => {
  it('a busy configured http.port: one clear line, non-zero exit, the lock released; the next start works', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as net.AddressInfo).port;
    const root = tempRoot(`http:\n  enabled: true\n  port: ${port}\n`);
    try {
      const d = await daemon(root, { waitReady: false });
      const code = await d.exited;
      expect(code).not.toBe(0);
      expect(code).not.toBeNull();
      const err = d.output().split('\n').filter((l) => l.startsWith('wo: '));
      expect(err).toHaveLength(1);
      expect(err[0]).toMatch(new RegExp(`^wo: http\\.port ${port} \\(set in wo\\.config\\.yaml\\) is already in use`));
      expect(d.output()).not.toMatch(STACK);
      expect(d.output()).not.toMatch(/ at .*\.js:\d+/);
      expect(fs.existsSync(path.join(root, 'g/run/daemon.lock'))).toBe(false);
      expect(fs.existsSync(path.join(root, 'g/run/daemon.json'))).toBe(false);
      expect(runCli(['status'], { root }).stdout).toMatch(/not running(?! \(stale)/);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
    const d2 = await daemon(root);
    expect(d2.output()).not.toMatch(/took over a stale lock/);
    dropComplete(root, 'CLC', 'a.yaml', wo('AFTER-FAIL'));
    await waitFor(() => readRecord(root, 'AFTER-FAIL')?.status === 'succeeded', { what: 'AFTER-FAIL' });
  });

  it('below the disk floor from the start: ready, paused and saying why (the disk check runs only once daemon.json can be written)', async () => {
    const root = tempRoot('http:\n  enabled: false\nlimits:\n  min_free_bytes: 999999999999999\n');
    await daemon(root);
    const j = JSON.parse(runCli(['status', '--json'], { root }).stdout);
    expect(j.daemon).toMatchObject({ running: true, paused: expect.stringMatching(/below limits\.min_free_bytes/) });
    dropComplete(root, 'CLC', 'w.yaml', wo('WAITS'));
    expect(readRecord(root, 'WAITS')).toBeUndefined();
  });
});
