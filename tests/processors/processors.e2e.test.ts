import { afterEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { dropComplete, readEvents, readRecord, runCli, runCliAsync, startDaemon, tempDir, tempRoot, waitFor, waitSettled, type DaemonHandle } from '../helpers.js';

let daemon: DaemonHandle | undefined;
afterEach(async () => {
  await daemon?.stop('SIGKILL');
  daemon = undefined;
});

const AUTO = 'http:\n  enabled: false\npolicy:\n  autonomy: auto\n';

function put(root: string, rel: string, text: string, mode = 0o644): string {
  const p = path.join(root, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, text, { mode });
  return p;
}

/** Every process whose process group is `pgid` (ps reads the whole table). */
function groupMembers(pgid: number): string[] {
  const out = spawnSync('ps', ['-eo', 'pid=,pgid=,args='], { encoding: 'utf8' }).stdout;
  return out.split('\n').filter((l) => l.trim() && Number(l.trim().split(/\s+/)[1]) === pgid);
}

describe('processors and policy through the real daemon', () => {
  it('an off-list command is held with its reasons and runs only after wo approve', async () => {
    const root = tempRoot();
    daemon = await startDaemon(root);
    const wo = put(tempDir(), 'held.yaml', 'wo_id: WO-HELD\ntitle: needs rm\ntype: exec\npaths: [scratch]\ncommands:\n  - "mkdir -p scratch && touch scratch/ran && rm -f scratch/nothing"\n');
    const sub = await runCliAsync(['submit', wo, '--wait'], { root });
    expect(sub.code).toBe(3); // exit 3: held
    expect(sub.stderr).toMatch(/held for approval/);
    expect(sub.stderr).toMatch(/'rm' is not on policy.allow_commands/);
    const rec = readRecord(root, 'WO-HELD')!;
    expect(rec.status).toBe('awaiting_approval');
    expect(rec.hold_reasons.join('\n')).toMatch(/rm/);
    expect(fs.existsSync(path.join(root, 'scratch/ran'))).toBe(false);
    await waitFor(() => fs.readdirSync(path.join(root, 'bridge/hold')).join() === 'WO-HELD.yaml');
    const ok = runCli(['approve', 'WO-HELD'], { root });
    expect(ok.code, ok.stderr).toBe(0);
    await waitFor(() => readRecord(root, 'WO-HELD')?.status === 'succeeded');
    expect(fs.existsSync(path.join(root, 'scratch/ran'))).toBe(true);
    await waitSettled(root);
    expect(readEvents(root).map((e) => e.event)).toEqual(expect.arrayContaining(['wo_held', 'wo_approved', 'wo_completed']));
  });

  it('wo reject ends a held WO rejected without running it', async () => {
    const root = tempRoot();
    daemon = await startDaemon(root);
    dropComplete(root, 'CLC', 'r.yaml', 'wo_id: WO-REJ\ntitle: t\ntype: exec\npaths: [x]\ncommands: ["touch x"]\n');
    await waitFor(() => readRecord(root, 'WO-REJ')?.status === 'awaiting_approval');
    expect(runCli(['reject', 'WO-REJ'], { root }).code).toBe(0);
    expect(readRecord(root, 'WO-REJ')).toMatchObject({ status: 'rejected' });
    expect(fs.existsSync(path.join(root, 'x'))).toBe(false);
    expect(fs.existsSync(path.join(root, 'bridge/rejected/r.yaml.reason.json'))).toBe(true);
    const again = runCli(['approve', 'WO-REJ'], { root });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/it is rejected/);
    expect(runCli(['approve', 'WO-NOPE'], { root }).code).toBe(1);
  });

  it('a unified diff applies; a hunk that does not apply leaves every file as it was', async () => {
    const root = tempRoot();
    put(root, 'tools/x.sh', 'line1\nline2\nline3\n');
    put(root, 'tools/y.txt', 'keep me\n');
    daemon = await startDaemon(root);
    dropComplete(root, 'CLC', 'p.yaml', 'wo_id: WO-PATCH\ntitle: t\ntype: apply_patch\npatches:\n  - path: tools/x.sh\n    diff: |\n      @@ -1,3 +1,3 @@\n       line1\n      -line2\n      +line two\n       line3\n');
    await waitFor(() => readRecord(root, 'WO-PATCH')?.status === 'succeeded');
    expect(fs.readFileSync(path.join(root, 'tools/x.sh'), 'utf8')).toBe('line1\nline two\nline3\n');
    expect(readRecord(root, 'WO-PATCH')!.files[0]).toMatchObject({ path: 'tools/x.sh', action: 'patch' });

    dropComplete(root, 'CLC', 'q.yaml', 'wo_id: WO-BADHUNK\ntitle: t\ntype: apply_patch\nfiles:\n  - path: tools/y.txt\n    content: "overwritten\\n"\npatches:\n  - path: tools/x.sh\n    diff: |\n      @@ -1,3 +1,3 @@\n       line1\n      -no such line\n      +whatever\n       line3\n');
    await waitFor(() => readRecord(root, 'WO-BADHUNK')?.status === 'failed');
    const rec = readRecord(root, 'WO-BADHUNK')!;
    expect(rec.error.code).toBe('PATCH_FAILED');
    expect(rec.error.message).toMatch(/hunk #1/);
    expect(fs.readFileSync(path.join(root, 'tools/x.sh'), 'utf8')).toBe('line1\nline two\nline3\n');
    expect(fs.readFileSync(path.join(root, 'tools/y.txt'), 'utf8')).toBe('keep me\n');
  });

  it('a delete is snapshotted and wo rollback brings the file back; rollback refuses when files changed, unless --force', async () => {
    const root = tempRoot();
    put(root, 'old/file.txt', 'precious\n', 0o640);
    put(root, 'keep/a.txt', 'a\n');
    daemon = await startDaemon(root);
    dropComplete(root, 'CLC', 'd.yaml', 'wo_id: WO-DEL\ntitle: t\ntype: apply_patch\ndelete: [old/file.txt]\n');
    await waitFor(() => readRecord(root, 'WO-DEL')?.status === 'succeeded');
    expect(fs.existsSync(path.join(root, 'old/file.txt'))).toBe(false);
    const rb = runCli(['rollback', 'WO-DEL'], { root });
    expect(rb.code, rb.stderr).toBe(0);
    expect(fs.readFileSync(path.join(root, 'old/file.txt'), 'utf8')).toBe('precious\n');
    expect(fs.statSync(path.join(root, 'old/file.txt')).mode & 0o777).toBe(0o640);
    expect(readRecord(root, 'WO-DEL')).toMatchObject({ status: 'reverted', rolled_back: true });

    dropComplete(root, 'CLC', 'w.yaml', 'wo_id: WO-W\ntitle: t\ntype: apply_patch\nfiles:\n  - path: keep/a.txt\n    content: "b\\n"\n');
    await waitFor(() => readRecord(root, 'WO-W')?.status === 'succeeded');
    fs.writeFileSync(path.join(root, 'keep/a.txt'), 'edited later\n');
    const refused = runCli(['rollback', 'WO-W'], { root });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/changed since.*--force/);
    expect(fs.readFileSync(path.join(root, 'keep/a.txt'), 'utf8')).toBe('edited later\n');
    expect(runCli(['rollback', 'WO-W', '--force'], { root }).code).toBe(0);
    expect(fs.readFileSync(path.join(root, 'keep/a.txt'), 'utf8')).toBe('a\n');
  });

  it('a dry run writes nothing and shows the diff; commands are listed as unknown', async () => {
    const root = tempRoot();
    put(root, 'cfg.txt', 'alpha\n');
    daemon = await startDaemon(root);
    dropComplete(root, 'CLC', 'dry.yaml', 'wo_id: WO-DRY\ntitle: t\ntype: apply_patch\ndry_run: true\nfiles:\n  - path: cfg.txt\n    content: "beta\\n"\n  - path: same.txt\n    content: ""\ncommands: ["mkdir -p built"]\n');
    await waitFor(() => readRecord(root, 'WO-DRY')?.status === 'succeeded');
    const rec = readRecord(root, 'WO-DRY')!;
    expect(rec.dry_run).toBe(true);
    expect(fs.readFileSync(path.join(root, 'cfg.txt'), 'utf8')).toBe('alpha\n');
    expect(fs.existsSync(path.join(root, 'same.txt'))).toBe(false);
    expect(fs.existsSync(path.join(root, 'built'))).toBe(false);
    const cfg = rec.plan.find((s: { path?: string }) => s.path === 'cfg.txt');
    expect(cfg.verdict).toBe('will change');
    expect(cfg.diff).toContain('-alpha');
    expect(cfg.diff).toContain('+beta');
    expect(rec.plan.find((s: { cmd?: string }) => s.cmd === 'mkdir -p built').verdict).toBe('unknown');
    const shown = runCli(['show', 'WO-DRY'], { root }).stdout;
    expect(shown).toContain('will change');
    expect(shown).toContain('+beta');
    // A dry run does not count as applied: the same WO for real runs.
    dropComplete(root, 'CLC', 'dry2.yaml', fs.readFileSync(path.join(root, rec.file), 'utf8').replace('dry_run: true', 'dry_run: false'));
    await waitFor(() => readRecord(root, 'WO-DRY')?.dry_run === false && readRecord(root, 'WO-DRY')?.status === 'succeeded');
  });

  it('traversal, absolute paths, symlinked folders and writes into g/ write nothing outside the root', async () => {
    const root = tempRoot();
    const outside = tempDir('wo-outside-');
    fs.symlinkSync(outside, path.join(root, 'link'));
    daemon = await startDaemon(root);
    const cases = {
      'trav.yaml': '../escape.txt',
      'abs.yaml': path.join(outside, 'abs.txt'),
      'sym.yaml': 'link/through.txt',
      'g.yaml': 'g/followup/state/evil.json',
    };
    let i = 0;
    for (const [name, p] of Object.entries(cases)) dropComplete(root, 'CLC', name, `wo_id: WO-ESC-${i++}\ntitle: t\ntype: apply_patch\nfiles:\n  - path: ${JSON.stringify(p)}\n    content: pwned\n`);
    await waitFor(() => Object.keys(cases).every((n) => fs.existsSync(path.join(root, 'bridge/rejected', `${n}.reason.json`))));
    for (const n of Object.keys(cases)) expect(JSON.parse(fs.readFileSync(path.join(root, 'bridge/rejected', `${n}.reason.json`), 'utf8')).code).toBe('POLICY_REFUSED');
    expect(fs.readdirSync(outside)).toEqual([]);
    expect(fs.existsSync(path.join(path.dirname(root), 'escape.txt'))).toBe(false);
    expect(fs.existsSync(path.join(root, 'g/followup/state/evil.json'))).toBe(false);
  });

  it('a JSON WO without an id dropped in ENTRY is routed to CLC and applied; bundles are all-or-nothing', async () => {
    const root = tempRoot();
    daemon = await startDaemon(root);
    dropComplete(root, 'ENTRY', 'new.json', JSON.stringify({ title: 'Routed Thing', type: 'apply_patch', files: [{ path: 'routed.txt', content: 'via entry\n' }] }));
    await waitFor(() => readEvents(root).some((e) => e.event === 'wo_routed'));
    const routed = readEvents(root).find((e) => e.event === 'wo_routed')!;
    expect(routed.wo_id).toMatch(/^WO-\d{8}-\d{6}-routed-thing-[0-9a-f]{4}$/);
    expect(routed.lane).toBe('CLC');
    await waitFor(() => readRecord(root, routed.wo_id)?.status === 'succeeded');
    expect(fs.readFileSync(path.join(root, 'routed.txt'), 'utf8')).toBe('via entry\n');
    const entryRec = readRecord(root, routed.from)!;
    expect(entryRec).toMatchObject({ status: 'routed', type: 'route', routed_ids: [routed.wo_id] });

    dropComplete(root, 'ENTRY', 'bundle.json', JSON.stringify({ wos: [{ title: 'ok one', type: 'apply_patch', files: [{ path: 'b1.txt', content: 'x' }] }, { title: 'bad', type: 'nope' }] }));
    await waitFor(() => fs.existsSync(path.join(root, 'bridge/rejected/bundle.json.reason.json')));
    expect(JSON.parse(fs.readFileSync(path.join(root, 'bridge/rejected/bundle.json.reason.json'), 'utf8')).errors[0].path).toBe('wos.1.type');
    expect(fs.readdirSync(path.join(root, 'bridge/inbox/CLC')).filter((n) => !n.startsWith('.'))).toEqual([]);
    expect(fs.existsSync(path.join(root, 'b1.txt'))).toBe(false);
  });

  it('a WO over its timeout_s fails, is rolled back, and leaves no descendant process', async () => {
    const root = tempRoot(AUTO);
    daemon = await startDaemon(root);
    dropComplete(root, 'CLC', 't.yaml', 'wo_id: WO-SLOWPOKE\ntitle: t\ntype: apply_patch\ntimeout_s: 1\nfiles:\n  - path: out/t.txt\n    content: x\ncommands:\n  - "sh -c \'sleep 1000 & sleep 1000\'"\n');
    await waitFor(() => readRecord(root, 'WO-SLOWPOKE')?.status === 'failed', { timeout: 20_000 });
    const rec = readRecord(root, 'WO-SLOWPOKE')!;
    expect(rec.error.code).toBe('TIMEOUT');
    expect(rec.rolled_back).toBe(true);
    expect(fs.existsSync(path.join(root, 'out/t.txt'))).toBe(false);
    const pid = rec.commands[0].pid as number;
    await waitFor(() => groupMembers(pid).length === 0, { what: 'no process left in the group' });
  });

  it('wo cancel stops a running WO, rolls it back and leaves no descendant', async () => {
    const root = tempRoot(AUTO);
    daemon = await startDaemon(root);
    dropComplete(root, 'CLC', 'c.yaml', 'wo_id: WO-CANCEL\ntitle: t\ntype: exec\npaths: [work]\ncommands:\n  - "mkdir -p work && echo started > work/state && sleep 1000 & sleep 1000"\n');
    await waitFor(() => readRecord(root, 'WO-CANCEL')?.running_command?.pid);
    const pid = readRecord(root, 'WO-CANCEL')!.running_command.pid as number;
    const r = runCli(['cancel', 'WO-CANCEL'], { root });
    expect(r.code, r.stderr).toBe(0);
    expect(readRecord(root, 'WO-CANCEL')).toMatchObject({ status: 'cancelled', rolled_back: true, error: { code: 'CANCELLED' } });
    expect(fs.existsSync(path.join(root, 'work'))).toBe(false);
    await waitFor(() => groupMembers(pid).length === 0, { what: 'no process left in the group' });
  });

  it('exec: the environment is built, not inherited; validate gets the temp file as $1; binary content and kept modes work', async () => {
    const root = tempRoot(AUTO);
    put(root, 'bin/tool.sh', '#!/bin/sh\necho old\n', 0o750);
    daemon = await startDaemon(root, { env: { NODE_OPTIONS: '--no-warnings', LD_PRELOAD: '/nope.so', GIT_DIR: '/nope', SECRET_TOKEN: 's3cret' } });
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01, 0x02]);
    dropComplete(root, 'CLC', 'e.yaml', [
      'wo_id: WO-ENV', 'title: t', 'type: apply_patch', 'files:',
      '  - path: bin/tool.sh', '    content: "#!/bin/sh\\necho new\\n"', '    validate: "sh -n %s"',
      '  - path: "assets/a file;touch pwned.png"', `    content_base64: ${png.toString('base64')}`,
      'paths: [env.txt]', 'commands:', '  - "env > env.txt"',
    ].join('\n') + '\n');
    await waitFor(() => ['succeeded', 'failed'].includes(readRecord(root, 'WO-ENV')?.status));
    const rec = readRecord(root, 'WO-ENV')!;
    expect(rec.status, JSON.stringify(rec.error)).toBe('succeeded');
    expect(fs.statSync(path.join(root, 'bin/tool.sh')).mode & 0o777).toBe(0o750);
    expect(fs.readFileSync(path.join(root, 'assets/a file;touch pwned.png'))).toEqual(png);
    expect(fs.existsSync(path.join(root, 'pwned'))).toBe(false);
    expect(rec.commands.find((c: { phase: string }) => c.phase === 'validate').exit_code).toBe(0);
    const env = fs.readFileSync(path.join(root, 'env.txt'), 'utf8');
    expect(env).toContain('WO_ID=WO-ENV');
    expect(env).toContain(`WO_ROOT=${root}`);
    expect(env).toMatch(/^PATH=\/usr\/local\/bin:/m);
    for (const bad of ['NODE_OPTIONS', 'LD_PRELOAD', 'GIT_DIR', 'SECRET_TOKEN']) expect(env).not.toContain(bad);

    dropComplete(root, 'CLC', 'v.yaml', 'wo_id: WO-VALFAIL\ntitle: t\ntype: apply_patch\nfiles:\n  - path: bin/tool.sh\n    content: "if then fi (\\n"\n    validate: "sh -n %s"\n');
    await waitFor(() => readRecord(root, 'WO-VALFAIL')?.status === 'failed');
    expect(readRecord(root, 'WO-VALFAIL')!.error.code).toBe('VALIDATE_FAILED');
    expect(fs.readFileSync(path.join(root, 'bin/tool.sh'), 'utf8')).toBe('#!/bin/sh\necho new\n');
  });

  it('an exec WO with paths is rolled back on failure; without paths its record says it cannot be', async () => {
    const root = tempRoot(AUTO);
    put(root, 'build/out/keep.txt', 'v1\n');
    daemon = await startDaemon(root);
    dropComplete(root, 'CLC', 'x.yaml', 'wo_id: WO-EXEC-RB\ntitle: t\ntype: exec\npaths: [build/out]\ncommands:\n  - "echo v2 > build/out/keep.txt && echo junk > build/out/new.txt && false"\n');
    await waitFor(() => readRecord(root, 'WO-EXEC-RB')?.status === 'failed');
    expect(readRecord(root, 'WO-EXEC-RB')).toMatchObject({ rolled_back: true, error: { code: 'COMMAND_FAILED' } });
    expect(fs.readFileSync(path.join(root, 'build/out/keep.txt'), 'utf8')).toBe('v1\n');
    expect(fs.existsSync(path.join(root, 'build/out/new.txt'))).toBe(false);
    dropComplete(root, 'CLC', 'y.yaml', 'wo_id: WO-EXEC-ALONE\ntitle: t\ntype: exec\ncommands: ["true"]\n');
    await waitFor(() => readRecord(root, 'WO-EXEC-ALONE')?.status === 'succeeded');
    expect(readRecord(root, 'WO-EXEC-ALONE')!.unrollbackable).toBe(true);
  });

  it('wo cancel and wo reject also work on a WO still waiting in the queue', async () => {
    const root = tempRoot('http:\n  enabled: false\nconcurrency: 1\nio_concurrency: 0\npolicy:\n  autonomy: auto\n');
    daemon = await startDaemon(root);
    dropComplete(root, 'CLC', 'block.yaml', 'wo_id: WO-BLOCKER\ntitle: t\ntype: exec\npaths: [b]\ncommands: ["sleep 3"]\n');
    await waitFor(() => readRecord(root, 'WO-BLOCKER')?.status === 'running');
    dropComplete(root, 'CLC', 'q1.yaml', 'wo_id: WO-Q1\ntitle: t\ntype: apply_patch\nfiles:\n  - {path: q1.txt, content: x}\n');
    dropComplete(root, 'CLC', 'q2.yaml', 'wo_id: WO-Q2\ntitle: t\ntype: apply_patch\nfiles:\n  - {path: q2.txt, content: x}\n');
    await waitFor(() => readEvents(root).filter((e) => e.event === 'wo_received' && /WO-Q/.test(e.wo_id)).length === 2);
    const c = runCli(['cancel', 'WO-Q1'], { root });
    expect(c.code, c.stderr).toBe(0);
    const r = runCli(['reject', 'WO-Q2'], { root });
    expect(r.code, r.stderr).toBe(0);
    await waitFor(() => readRecord(root, 'WO-BLOCKER')?.status === 'succeeded', { timeout: 20_000 });
    expect(readRecord(root, 'WO-Q1')).toMatchObject({ status: 'cancelled' });
    expect(readRecord(root, 'WO-Q2')).toMatchObject({ status: 'rejected' });
    expect(fs.existsSync(path.join(root, 'q1.txt'))).toBe(false);
    expect(fs.existsSync(path.join(root, 'q2.txt'))).toBe(false);
    await waitSettled(root);
  });

  it('wo rollback of a WO that only created files removes them and the folders it made', async () => {
    const root = tempRoot();
    daemon = await startDaemon(root);
    dropComplete(root, 'CLC', 'n.yaml', 'wo_id: WO-NEWONLY\ntitle: t\ntype: apply_patch\nfiles:\n  - {path: fresh/deep/a.txt, content: a}\n  - {path: fresh/b.txt, content: b}\n');
    await waitFor(() => readRecord(root, 'WO-NEWONLY')?.status === 'succeeded');
    expect(readRecord(root, 'WO-NEWONLY')!.snapshot.in_record).toBe(true);
    const rb = runCli(['rollback', 'WO-NEWONLY'], { root });
    expect(rb.code, rb.stderr).toBe(0);
    expect(fs.existsSync(path.join(root, 'fresh'))).toBe(false);
    expect(readRecord(root, 'WO-NEWONLY')!.status).toBe('reverted');
  });
});
