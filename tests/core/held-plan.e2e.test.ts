/** Held WOs carry their plan; approval is for what runs; failed WOs keep what they attempted — through the real daemon. */
import { afterEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { dropComplete, readEvents, readRecord, runCli, runCliAsync, startDaemon, tempDir, tempRoot, waitFor, waitSettled, type DaemonHandle } from '../helpers.js';

let daemon: DaemonHandle | undefined;
afterEach(async () => {
  await daemon?.stop('SIGKILL');
  daemon = undefined;
});

const CHANGED = 'the files changed since it was held; review the new plan and approve again';

function put(root: string, rel: string, text: string, mode = 0o644): void {
  const p = path.join(root, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, text, { mode });
}

type Step = { step: string; path?: string; cmd?: string; verdict: string; diff?: string; policy?: string; why?: string[] };

const HELD_WO = [
  'wo_id: WO-PLAN',
  'title: change cfg and run node',
  'type: apply_patch',
  'files:',
  '  - path: cfg.txt',
  '    content: "beta\\n"',
  '    mode: "0755"',
  '  - path: fresh/new.txt',
  '    content: "new\\n"',
  'delete: [old.txt]',
  'commands:',
  '  - "mkdir -p made"',
  '  - "node -e 1"',
  '',
].join('\n');

describe('held WOs carry their plan', () => {
  it('the record of a held WO has the diffs, mode change, delete and per-command verdicts; wo show and the notification show them', async () => {
    const out = tempDir('wo-notify-');
    const root = tempRoot(`http:\n  enabled: false\nnotify:\n  command: "cat > ${out}/held.json"\n`);
    put(root, 'cfg.txt', 'alpha\n');
    put(root, 'old.txt', 'gone soon\n');
    daemon = await startDaemon(root);
    dropComplete(root, 'CLC', 'plan.yaml', HELD_WO);
    await waitFor(() => readRecord(root, 'WO-PLAN')?.status === 'awaiting_approval', { timeout: 30_000, what: 'held' });
    const rec = readRecord(root, 'WO-PLAN')!;
    const plan = rec.plan as Step[];
    expect(rec.plan_sha256).toMatch(/^[0-9a-f]{64}$/);
    const cfg = plan.find((s) => s.path === 'cfg.txt')!;
    expect(cfg.verdict).toBe('will change');
    expect(cfg.diff).toContain('mode 0644 → 0755');
    expect(cfg.diff).toContain('-alpha');
    expect(cfg.diff).toContain('+beta');
    expect(plan.find((s) => s.path === 'fresh/new.txt')!.diff).toContain('+new');
    const del = plan.find((s) => s.path === 'old.txt')!;
    expect(del.step).toBe('delete old.txt');
    expect(del.diff).toContain('-gone soon');
    const mk = plan.find((s) => s.cmd === 'mkdir -p made')!;
    expect(mk).toMatchObject({ verdict: 'unknown', policy: 'allowed', why: [] });
    const node = plan.find((s) => s.cmd === 'node -e 1')!;
    expect(node.policy).toBe('held');
    expect(node.why!.join('\n')).toMatch(/commands\[1\].*'node' is not on policy.allow_commands/);
    // Nothing ran.
    expect(fs.readFileSync(path.join(root, 'cfg.txt'), 'utf8')).toBe('alpha\n');
    expect(fs.existsSync(path.join(root, 'made'))).toBe(false);

    const shown = runCli(['show', 'WO-PLAN'], { root });
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain('plan (what approving runs):');
    expect(shown.stdout).toContain('+beta');
    expect(shown.stdout).toContain('mode 0644 → 0755');
    expect(shown.stdout).toMatch(/commands: node -e 1 {2}\[held by policy\]/);
    expect(shown.stdout).toMatch(/commands: mkdir -p made {2}\[allowed\]/);
    expect(shown.stdout).toMatch(/timeline .*so far/);
    expect(shown.stdout).toMatch(/ held +\+\S+.* \(waiting for approval\)/);
    expect(shown.stdout).not.toMatch(/^ {2}validated +\d{4}-\d\d-\d\dT/m); // durations, not ISO stamps

    const note = await waitFor(() => {
      try {
        return JSON.parse(fs.readFileSync(path.join(out, 'held.json'), 'utf8')) as { event: string; plan_summary: string; plan: Step[] };
      } catch {
        return undefined;
      }
    }, { timeout: 20_000, what: 'the held notification' });
    expect(note.event).toBe('wo_held');
    expect(note.plan_summary).toContain('3 of 3 files will change');
    expect(note.plan_summary).toContain('1 not allowed by policy (node -e 1)');
    expect(note.plan.find((s) => s.cmd === 'node -e 1')!.policy).toBe('held');
  });

  it('a plan that cannot be computed is stored as a step saying so, and the WO is still held', async () => {
    const root = tempRoot('http:\n  enabled: false\npolicy:\n  autonomy: approve\n');
    put(root, 'p.txt', 'one\ntwo\n');
    daemon = await startDaemon(root);
    const diff = '--- a/p.txt\n+++ b/p.txt\n@@ -1,2 +1,2 @@\n-uno\n+one!\n two\n';
    dropComplete(root, 'CLC', 'bad.json', JSON.stringify({ wo_id: 'WO-NOPLAN', title: 't', type: 'apply_patch', patches: [{ path: 'p.txt', diff }], commands: ['true'] }));
    await waitFor(() => readRecord(root, 'WO-NOPLAN')?.status === 'awaiting_approval', { timeout: 30_000, what: 'held' });
    const plan = readRecord(root, 'WO-NOPLAN')!.plan as Step[];
    expect(plan[0]!.step).toMatch(/^the plan cannot be computed: /);
    expect(plan[1]).toMatchObject({ cmd: 'true', policy: 'allowed' });
    expect(runCli(['show', 'WO-NOPLAN'], { root }).stdout).toContain('the plan cannot be computed');
  });

  it('approval is for what runs: a target changed since the hold re-holds with a new plan (exit 3); approve --wait then follows the run to success', async () => {
    const root = tempRoot('http:\n  enabled: false\npolicy:\n  autonomy: approve\n');
    put(root, 'cfg.txt', 'alpha\n');
    daemon = await startDaemon(root);
    dropComplete(root, 'CLC', 'a.yaml', 'wo_id: WO-APPR\ntitle: t\ntype: apply_patch\nfiles:\n  - path: cfg.txt\n    content: "beta\\n"\ncommands: ["cat cfg.txt"]\n');
    await waitFor(() => readRecord(root, 'WO-APPR')?.status === 'awaiting_approval' && fs.existsSync(path.join(root, 'bridge/hold/WO-APPR.yaml')), { timeout: 30_000, what: 'held' });
    const first = readRecord(root, 'WO-APPR')!;
    expect((first.plan as Step[])[0]!.diff).toContain('-alpha');

    put(root, 'cfg.txt', 'gamma\n'); // someone edits the target meanwhile
    const again = runCli(['approve', 'WO-APPR'], { root });
    expect(again.code, again.stderr).toBe(3);
    expect(again.stderr).toContain(CHANGED);
    expect(again.stdout).toContain('-gamma');
    const re = readRecord(root, 'WO-APPR')!;
    expect(re.status).toBe('awaiting_approval');
    expect(re.approved).toBeUndefined();
    expect(re.hold_reasons[0]).toBe(CHANGED);
    expect(re.plan_sha256).not.toBe(first.plan_sha256);
    expect((re.plan as Step[])[0]!.diff).toContain('-gamma');
    expect(fs.readFileSync(path.join(root, 'cfg.txt'), 'utf8')).toBe('gamma\n');
    expect(readEvents(root).filter((e) => e.wo_id === 'WO-APPR' && e.event === 'wo_held').length).toBe(2);

    const ok = await runCliAsync(['approve', 'WO-APPR', '--wait', '--timeout', '90'], { root });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toContain('WO-APPR succeeded');
    const done = readRecord(root, 'WO-APPR')!;
    expect(done.status).toBe('succeeded');
    expect(fs.readFileSync(path.join(root, 'cfg.txt'), 'utf8')).toBe('beta\n');
    const shown = runCli(['show', 'WO-APPR'], { root }).stdout;
    expect(shown).toContain('plan (what it changed):');
    expect(shown).toMatch(/ commands +\+\S+ +\S+/);
  });

  it('a failed WO keeps the diff it attempted and names the snapshot it was rolled back to', async () => {
    const root = tempRoot('http:\n  enabled: false\npolicy:\n  autonomy: auto\n');
    put(root, 'cfg.txt', 'alpha\n');
    daemon = await startDaemon(root);
    dropComplete(root, 'CLC', 'f.yaml', 'wo_id: WO-FAIL\ntitle: t\ntype: apply_patch\nfiles:\n  - path: cfg.txt\n    content: "beta\\n"\ncommands: ["false"]\n');
    dropComplete(root, 'CLC', 'g.yaml', 'wo_id: WO-FAIL2\ntitle: t\ntype: apply_patch\nfiles:\n  - path: brand/new.txt\n    content: "hello\\n"\ncommands: ["false"]\n');
    await waitFor(() => readRecord(root, 'WO-FAIL')?.status === 'failed' && readRecord(root, 'WO-FAIL2')?.status === 'failed', { timeout: 30_000, what: 'both failed' });
    await waitSettled(root);
    const rec = readRecord(root, 'WO-FAIL')!;
    expect(rec.rolled_back).toBe(true);
    expect(rec.rolled_back_to).toBe('g/backups/WO-FAIL/');
    const step = (rec.plan as Step[]).find((s) => s.path === 'cfg.txt')!;
    expect(step.diff).toContain('-alpha');
    expect(step.diff).toContain('+beta');
    expect(fs.readFileSync(path.join(root, 'cfg.txt'), 'utf8')).toBe('alpha\n');
    const rec2 = readRecord(root, 'WO-FAIL2')!;
    expect(rec2.rolled_back_to).toBe('record');
    expect((rec2.plan as Step[])[0]!.diff).toContain('+hello');
    const shown = runCli(['show', 'WO-FAIL'], { root }).stdout;
    expect(shown).toContain('plan (what it attempted; rolled back to g/backups/WO-FAIL/):');
    expect(shown).toContain('+beta');
    expect(shown).toMatch(/ commands +\+\S+/);
  });
});
