/**
 * Hostile input of the "foreign file" classes (issue 9): state records that are links, FIFOs, empty, huge,
 * another WO's, mistyped; lane folders with odd names; control requests that are malformed, links, FIFOs or
 * too big. The CLI never crashes, the daemon is never wedged, and nothing foreign is overwritten.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { dropComplete, readRecord, runCli, runCliAsync, tempDir, tempRoot, waitFor, waitSettled } from '../helpers.js';
import { daemonPool, size, T } from './common.js';
import { record, startHarness, TOKEN } from '../http/fixtures.js';

const pool = daemonPool();
afterEach(() => pool.cleanup());

const STACK = /\n\s+at /;
const wo = (id: string) => `wo_id: ${id}\ntitle: t ${id}\ntype: apply_patch\nfiles:\n  - path: out/${id}.txt\n    content: "x"\n`;
const hasMkfifo = spawnSync('mkfifo', ['--version']).error === undefined;
const logLines = (root: string, needle: string) =>
  (fs.existsSync(path.join(root, 'g/logs/daemon.log')) ? fs.readFileSync(path.join(root, 'g/logs/daemon.log'), 'utf8') : '').split('\n').filter((l) => l.includes(needle));

/** Bytes of every regular file and link target below a folder. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isSymbolicLink()) out[path.relative(dir, p)] = `-> ${fs.readlinkSync(p)}`;
      else if (e.isDirectory()) walk(p);
      else if (e.isFile()) out[path.relative(dir, p)] = fs.readFileSync(p).toString('base64');
      else out[path.relative(dir, p)] = 'special';
    }
  };
  walk(dir);
  return out;
}

/** Plant every kind of foreign record; returns the ids. */
function plantRecords(root: string, outside: string): string[] {
  const st = path.join(root, 'g/followup/state');
  fs.mkdirSync(st, { recursive: true });
  const put = (id: string, text: string) => fs.writeFileSync(path.join(st, `${id}.json`), text);
  fs.writeFileSync(path.join(outside, 'secret.json'), JSON.stringify(record({ wo_id: 'R-LINK-OUT' })));
  fs.symlinkSync(path.join(outside, 'secret.json'), path.join(st, 'R-LINK-OUT.json'));
  put('R-REAL', JSON.stringify(record({ wo_id: 'R-REAL' })));
  fs.symlinkSync('R-REAL.json', path.join(st, 'R-LINK-IN.json'));
  fs.symlinkSync(path.join(outside, 'nowhere'), path.join(st, 'R-DANGLING.json'));
  put('R-EMPTY', '');
  put('R-SPACES', '   \n');
  put('R-OTHER', JSON.stringify(record({ wo_id: 'R-SOMEONE-ELSE' })));
  put('R-TYPES', JSON.stringify({ ...record({ wo_id: 'R-TYPES' }), files: 'x', commands: [{ cmd: 1 }] }));
  put('R-STAGE', JSON.stringify({ ...record({ wo_id: 'R-STAGE' }), stage_index: -5 }));
  put('R-STATUS', JSON.stringify({ ...record({ wo_id: 'R-STATUS' }), status: 'done' }));
  put('R-NUL', '\u0000\u0000\u0000');
  put('R-BOM', '\ufeff{"schema":1}');
  put('R-BIG', JSON.stringify({ junk: 'x'.repeat(size(1, 8) * 1024 * 1024) }));
  fs.writeFileSync(path.join(st, 'R-HUGE.json'), '');
  fs.truncateSync(path.join(st, 'R-HUGE.json'), 65 * 1024 * 1024); // sparse: over the cap, never read
  fs.mkdirSync(path.join(st, 'R-DIR.json', 'inner'), { recursive: true });
  const ids = ['R-LINK-OUT', 'R-LINK-IN', 'R-DANGLING', 'R-EMPTY', 'R-SPACES', 'R-OTHER', 'R-TYPES', 'R-STAGE', 'R-STATUS', 'R-NUL', 'R-BOM', 'R-BIG', 'R-HUGE', 'R-DIR'];
  if (hasMkfifo && spawnSync('mkfifo', [path.join(st, 'R-FIFO.json')]).status === 0) ids.push('R-FIFO');
  for (let i = 0; i < size(5, 200); i++) put(`R-MANY-${i}`, `{"legacy":${i}}`);
  return ids;
}

describe('hostile state records', () => {
  it('status lists every one, show explains each (exit 1, no stack), a WO with such an id is rejected, nothing foreign changes', async () => {
    const root = tempRoot();
    const outside = tempDir('wo-outside-');
    const ids = plantRecords(root, outside);
    const stateDir = path.join(root, 'g/followup/state');
    const before = tree(stateDir);
    const outBefore = tree(outside);

    const st = runCli(['status', '--json'], { root, timeoutMs: 60_000 });
    expect(st.code, st.stderr).toBe(0);
    const report = JSON.parse(st.stdout);
    const files = report.unreadable.map((u: { file: string }) => u.file);
    for (const id of ids) expect(files, id).toContain(`${id}.json`);
    expect(files).not.toContain('R-REAL.json');
    expect(report.wos.map((w: { wo_id: string }) => w.wo_id)).toEqual(['R-REAL']);
    const human = runCli(['status'], { root });
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/and \d+ more \(wo status --json lists them all\)/);

    for (const id of ids) {
      const r = runCli(['show', id], { root });
      expect(r.code, `${id}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^wo: g/followup/state/${id}\\.json is not a wo record: it [^\\n]+\\n$`));
      expect(r.stderr).not.toMatch(STACK);
    }
    expect(runCli(['show', 'R-REAL'], { root }).code).toBe(0);

    await pool.start(root);
    for (const id of ids) dropComplete(root, 'CLC', `${id}.yaml`, wo(id));
    dropComplete(root, 'CLC', 'fine.yaml', wo('R-FINE'));
    await waitFor(() => readRecord(root, 'R-FINE')?.status === 'succeeded', { timeout: T(30_000, 60_000), what: 'R-FINE' });
    for (const id of ids) {
      await waitFor(() => fs.existsSync(path.join(root, 'bridge/rejected', `${id}.yaml.reason.json`)), { timeout: T(30_000, 60_000), what: `${id} rejected` });
      const reason = JSON.parse(fs.readFileSync(path.join(root, 'bridge/rejected', `${id}.yaml.reason.json`), 'utf8'));
      expect(reason, id).toMatchObject({ code: 'CONFLICT', wo_id: id });
      expect(JSON.stringify(reason.errors), id).toContain(`${id}.json is not a wo record`);
      expect(fs.existsSync(path.join(root, 'out', `${id}.txt`)), id).toBe(false);
    }
    await waitSettled(root, { timeout: T(30_000, 60_000) });
    const after = tree(stateDir);
    for (const [name, bytes] of Object.entries(before)) expect(after[name], name).toBe(bytes);
    expect(tree(outside)).toEqual(outBefore);
  }, T(120_000, 300_000));

  it('the API lists them apart (unreadable), answers 409 for one, and never mixes them into wos', async () => {
    const h = await startHarness([record({ wo_id: 'WO-OK', status: 'awaiting_approval' })]);
    try {
      const st = path.join(h.root, 'g/followup/state');
      fs.writeFileSync(path.join(st, 'OLD.json'), '{"status":"done"}');
      fs.mkdirSync(path.join(st, 'DIR.json'));
      const auth = { Authorization: `Bearer ${TOKEN}` };
      const list = await (await fetch(`${h.base}/api/wos`, { headers: auth })).json();
      expect(list.wos.map((w: { wo_id: string }) => w.wo_id)).toEqual(['WO-OK']);
      expect(list.unreadable).toEqual([
        { file: 'DIR.json', why: 'is a folder' },
        { file: 'OLD.json', why: 'has no schema or wo_id' },
      ]);
      for (const id of ['OLD', 'DIR']) {
        const one = await fetch(`${h.base}/api/wos/${id}`, { headers: auth });
        expect(one.status, id).toBe(409);
        expect((await one.json()).error).toMatch(new RegExp(`${id}\\.json is not a wo record`));
        const act = await fetch(`${h.base}/api/wos/${id}/approve`, { method: 'POST', headers: auth });
        expect(act.status, id).toBe(409);
      }
      expect(h.acted).toEqual([]);
      expect(fs.readFileSync(path.join(st, 'OLD.json'), 'utf8')).toBe('{"status":"done"}');
    } finally {
      await h.close();
    }
  });
});

describe('hostile lane folders', () => {
  it('names outside the lane pattern are ignored with one warning each; -rf is a lane like any other', async () => {
    const root = tempRoot('http:\n  enabled: false\nintake:\n  rescan_s: 1\n');
    const bad = ['my lane', 'lané', 'x'.repeat(65), '\u001b[31mred', 'tab\there', 'a\u202eb', '*'];
    await pool.start(root);
    for (const b of bad) dropComplete(root, b, 'w.yaml', wo(`IN-${bad.indexOf(b)}`));
    dropComplete(root, '-rf', 'w.yaml', wo('DASH-RF'));
    await waitFor(() => readRecord(root, 'DASH-RF')?.status === 'succeeded', { what: 'DASH-RF' });
    await waitFor(() => logLines(root, 'ignoring the folder').length >= bad.length, { what: 'warnings' });
    for (let i = 0; i < size(2, 6); i++) {
      dropComplete(root, 'CLC', `ok${i}.yaml`, wo(`OK-${i}`));
      await waitFor(() => readRecord(root, `OK-${i}`)?.status === 'succeeded', { what: `OK-${i}` });
    }
    expect(logLines(root, 'ignoring the folder')).toHaveLength(bad.length);
    expect(fs.readFileSync(path.join(root, 'out/DASH-RF.txt'), 'utf8')).toBe('x');
    for (const b of bad) {
      expect(fs.existsSync(path.join(root, 'bridge/inbox', b, 'w.yaml')), b).toBe(true);
      expect(readRecord(root, `IN-${bad.indexOf(b)}`), b).toBeUndefined();
    }
    const st = runCli(['status'], { root });
    expect(st.code, st.stderr).toBe(0);
    expect(st.stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u202e]/); // no raw control or bidi characters
    const ignoredBlock = st.stdout.split('\n').filter((l) => l.startsWith('         - '));
    expect(ignoredBlock).toHaveLength(bad.length);
    const j = JSON.parse(runCli(['status', '--json'], { root }).stdout);
    expect(j.ignored_lanes.map((x: { name: string }) => x.name).sort()).toEqual([...bad].sort());
    await waitSettled(root);
  }, T(90_000, 180_000));
});

describe('hostile control requests', () => {
  it('malformed, links, FIFOs and oversize requests are answered or moved aside once, one log line each; the channel keeps working', async () => {
    const root = tempRoot();
    const outside = tempDir('wo-outside-');
    await pool.start(root);
    const control = path.join(root, 'g/run/control');
    fs.writeFileSync(path.join(outside, 'target.json'), '{"action":"approve","wo_id":"X"}');
    const outBefore = tree(outside);
    const files: Record<string, string> = {
      'c-notjson.req.json': '{nope',
      'c-array.req.json': '[]',
      'c-action.req.json': '{"action":"destroy","wo_id":"A"}',
      'c-id.req.json': '{"action":"approve","wo_id":"../../etc/passwd"}',
      'c-force.req.json': '{"action":"rollback","wo_id":"A","force":"yes"}',
      'c-big.req.json': JSON.stringify({ action: 'approve', wo_id: 'A', pad: 'x'.repeat(70 * 1024) }),
    };
    const bad = Object.keys(files);
    for (const [n, text] of Object.entries(files)) {
      fs.writeFileSync(path.join(control, `.${n}.tmp`), text);
      fs.renameSync(path.join(control, `.${n}.tmp`), path.join(control, n));
    }
    fs.symlinkSync(path.join(outside, 'target.json'), path.join(control, 'c-link.req.json'));
    fs.mkdirSync(path.join(control, 'c-dir.req.json'));
    const aside = ['c-link.req.json', 'c-dir.req.json'];
    if (hasMkfifo && spawnSync('mkfifo', [path.join(control, 'c-fifo.req.json')]).status === 0) aside.push('c-fifo.req.json');
    // Unknown id: a well-formed request the daemon answers (a check failure), not a refusal.
    fs.writeFileSync(path.join(control, 'c-unknown.req.json'), '{"action":"cancel","wo_id":"NOPE"}');

    for (const n of bad) {
      await waitFor(() => fs.existsSync(path.join(control, n.replace('.req.json', '.reply.json'))), { what: `${n} answered` });
      const reply = JSON.parse(fs.readFileSync(path.join(control, n.replace('.req.json', '.reply.json')), 'utf8'));
      expect(reply, n).toMatchObject({ ok: false, error: { kind: 'usage', message: expect.stringMatching(/^malformed control request/) } });
      await waitFor(() => !fs.existsSync(path.join(control, n)), { what: `${n} removed` });
    }
    for (const n of aside) await waitFor(() => !fs.existsSync(path.join(control, n)) && fs.readdirSync(control).some((x) => x.startsWith(`${n}.refused-`)), { what: `${n} moved aside` });
    await waitFor(() => fs.existsSync(path.join(control, 'c-unknown.reply.json')), { what: 'unknown id answered' });
    expect(JSON.parse(fs.readFileSync(path.join(control, 'c-unknown.reply.json'), 'utf8'))).toMatchObject({ ok: false, error: { kind: 'check' } });

    // The channel still works, and several scans later each refusal was said once.
    for (let i = 0; i < size(3, 10); i++) {
      const r = await runCliAsync(['approve', 'NOPE'], { root });
      expect(r.code, r.stderr).toBe(1);
    }
    for (const n of [...bad, ...aside]) expect(logLines(root, JSON.stringify(n).slice(1, -1)), n).toHaveLength(1);
    expect(logLines(root, 'c-unknown')).toHaveLength(0);
    expect(tree(outside)).toEqual(outBefore);
  }, T(90_000, 180_000));
});
