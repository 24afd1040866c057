/**
 * kill -9 at every transition point of the journal (record written, event written, file moved; link/intent for
 * retry and rollback): the daemon is started with WO_TEST_CRASH_AT=<transition>:<point>, the transition is
 * triggered, the daemon dies there, a fresh daemon recovers, and record and files agree.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dropComplete, readEvents, readRecord, runCli, runCliAsync, tempRoot, waitFor, waitSettled } from '../helpers.js';
import { daemonPool } from '../reliability/common.js';

const pool = daemonPool();
afterEach(() => pool.cleanup());

const GUARDED = 'http:\n  enabled: false\nintake:\n  rescan_s: 1\n';
const AUTO = `${GUARDED}policy:\n  autonomy: auto\n`;

const okWo = (id: string, out = `out/${id}.txt`) => `wo_id: ${id}\ntitle: t\ntype: apply_patch\nfiles:\n  - path: ${out}\n    content: "new ${id}\\n"\n`;
const heldWo = (id: string) => `wo_id: ${id}\ntitle: t\ntype: exec\ncommands:\n  - "touch out/${id}.ran"\n`;
const failingWo = (id: string) => `${okWo(id)}tests:\n  - name: flag\n    command: "cat out/flag"\n    expected: "go"\n`;
const refusedWo = (id: string) => `wo_id: ${id}\ntitle: t\ntype: apply_patch\nfiles:\n  - path: g/run/evil.txt\n    content: "x"\n`;

const WHERE: Record<string, string> = {
  awaiting_approval: 'bridge/hold/',
  rejected: 'bridge/rejected/',
  succeeded: 'bridge/archive/',
  failed: 'bridge/archive/',
  cancelled: 'bridge/archive/',
  reverted: 'bridge/archive/',
  routed: 'bridge/archive/',
};

/** Every record's file exists where its status says; nothing is left claimed; no intent is pending. */
function expectAgreement(root: string): void {
  const stateDir = path.join(root, 'g/followup/state');
  for (const n of fs.readdirSync(stateDir).filter((x) => x.endsWith('.json'))) {
    const rec = JSON.parse(fs.readFileSync(path.join(stateDir, n), 'utf8'));
    const where = WHERE[rec.status];
    expect(where, `${rec.wo_id} is ${rec.status}`).toBeDefined();
    expect(rec.file.startsWith(where!), `${rec.wo_id} (${rec.status}) names ${rec.file}`).toBe(true);
    expect(fs.existsSync(path.join(root, rec.file)), `${rec.wo_id}: ${rec.file} exists`).toBe(true);
    if (rec.status === 'rejected') expect(fs.existsSync(path.join(root, `${rec.file}.reason.json`))).toBe(true);
  }
  for (const lane of fs.readdirSync(path.join(root, 'bridge/processing'))) {
    expect(fs.readdirSync(path.join(root, 'bridge/processing', lane)).filter((x) => !x.startsWith('.'))).toEqual([]);
  }
  const intents = path.join(root, 'g/followup/intents');
  expect(fs.existsSync(intents) ? fs.readdirSync(intents) : []).toEqual([]);
}

/** Start a daemon that dies at `point`, trigger the transition, and wait for the kill. */
async function crashAt(root: string, point: string, trigger: () => unknown): Promise<void> {
  const d = await pool.start(root, { env: { WO_TEST_CRASH_AT: point } });
  const pending = trigger();
  await waitFor(() => d.child.exitCode !== null || d.child.signalCode !== null, { timeout: 30_000, what: `the daemon to die at ${point}` });
  expect(d.child.signalCode, d.output()).toBe('SIGKILL');
  await pending;
  // A control request the dead daemon never answered must not act twice on the next start.
  fs.rmSync(path.join(root, 'g/run/control'), { recursive: true, force: true });
}

async function recoverAndSettle(root: string): Promise<void> {
  await pool.start(root);
  await waitSettled(root, { timeout: 30_000 });
}

async function prepared(config: string, prep?: (root: string) => Promise<void>): Promise<string> {
  const root = tempRoot(config);
  fs.mkdirSync(path.join(root, 'out'), { recursive: true });
  if (prep) {
    const d = await pool.start(root);
    await prep(root);
    await waitSettled(root);
    await d.stop();
  }
  return root;
}

const status = (root: string, id: string) => readRecord(root, id)?.status;

describe('the transition journal survives kill -9 at every point', () => {
  for (const point of ['record', 'event', 'move']) {
    it(`hold:${point} → held, file in hold/`, async () => {
      const root = await prepared(GUARDED);
      await crashAt(root, `hold:${point}`, () => dropComplete(root, 'CLC', 'h.yaml', heldWo('WO-H')));
      await recoverAndSettle(root);
      await waitFor(() => status(root, 'WO-H') === 'awaiting_approval');
      expectAgreement(root);
      expect(readEvents(root).filter((e) => e.event === 'wo_held' && e.wo_id === 'WO-H')).toHaveLength(1);
      expect(fs.existsSync(path.join(root, 'out/WO-H.ran'))).toBe(false);
    });

    it(`archive-succeeded:${point} → succeeded once, archived`, async () => {
      const root = await prepared(AUTO);
      await crashAt(root, `archive-succeeded:${point}`, () => dropComplete(root, 'CLC', 's.yaml', okWo('WO-S')));
      await recoverAndSettle(root);
      await waitFor(() => status(root, 'WO-S') === 'succeeded');
      expectAgreement(root);
      expect(fs.readFileSync(path.join(root, 'out/WO-S.txt'), 'utf8')).toBe('new WO-S\n');
    });

    it(`archive-failed:${point} → failed and rolled back`, async () => {
      const root = await prepared(AUTO);
      await crashAt(root, `archive-failed:${point}`, () => dropComplete(root, 'CLC', 'f.yaml', failingWo('WO-F')));
      await recoverAndSettle(root);
      await waitFor(() => status(root, 'WO-F') === 'failed');
      expectAgreement(root);
      expect(fs.existsSync(path.join(root, 'out/WO-F.txt'))).toBe(false);
    });

    it(`operator-reject:${point} → rejected with its reason`, async () => {
      const root = await prepared(GUARDED, async (r) => {
        dropComplete(r, 'CLC', 'h.yaml', heldWo('WO-R'));
        await waitFor(() => status(r, 'WO-R') === 'awaiting_approval');
      });
      await crashAt(root, `operator-reject:${point}`, () => runCliAsync(['reject', 'WO-R', '--timeout', '30'], { root }));
      await recoverAndSettle(root);
      expect(status(root, 'WO-R')).toBe('rejected');
      expectAgreement(root);
    });

    it(`operator-cancel:${point} → cancelled, archived`, async () => {
      const root = await prepared(GUARDED, async (r) => {
        dropComplete(r, 'CLC', 'h.yaml', heldWo('WO-C'));
        await waitFor(() => status(r, 'WO-C') === 'awaiting_approval');
      });
      await crashAt(root, `operator-cancel:${point}`, () => runCliAsync(['cancel', 'WO-C', '--timeout', '30'], { root }));
      await recoverAndSettle(root);
      expect(status(root, 'WO-C')).toBe('cancelled');
      expectAgreement(root);
    });
  }

  for (const point of ['record', 'move']) {
    it(`reject:${point} → refused at admission, with and without a record`, async () => {
      const root = await prepared(GUARDED);
      await crashAt(root, `reject:${point}`, () => dropComplete(root, 'CLC', 'r.yaml', refusedWo('WO-REF')));
      dropComplete(root, 'CLC', 'bad.yaml', 'title: [unclosed\n');
      await recoverAndSettle(root);
      await waitFor(() => status(root, 'WO-REF') === 'rejected' && fs.readdirSync(path.join(root, 'bridge/rejected')).some((n) => n.startsWith('bad')));
      expectAgreement(root);
      expect(fs.existsSync(path.join(root, 'g/run/evil.txt'))).toBe(false);
    });

    it(`duplicate:${point} → archived as a duplicate, record unchanged`, async () => {
      const root = await prepared(AUTO, async (r) => {
        dropComplete(r, 'CLC', 'a.yaml', okWo('WO-D'));
        await waitFor(() => status(r, 'WO-D') === 'succeeded');
      });
      await crashAt(root, `duplicate:${point}`, () => dropComplete(root, 'CLC', 'again.yaml', okWo('WO-D')));
      await recoverAndSettle(root);
      await waitFor(() => fs.readdirSync(path.join(root, 'bridge/archive')).some((n) => n.startsWith('WO-D.dup-')));
      expect(readRecord(root, 'WO-D')).toMatchObject({ status: 'succeeded', attempt: 1 });
      expectAgreement(root);
    });
  }

  for (const point of ['record', 'event', 'move']) {
    it(`approve:${point} → the approved WO runs once after recovery`, async () => {
      const root = await prepared(GUARDED, async (r) => {
        dropComplete(r, 'CLC', 'h.yaml', heldWo('WO-A'));
        await waitFor(() => status(r, 'WO-A') === 'awaiting_approval');
      });
      await crashAt(root, `approve:${point}`, () => runCliAsync(['approve', 'WO-A', '--timeout', '30'], { root }));
      await recoverAndSettle(root);
      await waitFor(() => status(root, 'WO-A') === 'succeeded', { timeout: 30_000 });
      expectAgreement(root);
      expect(fs.existsSync(path.join(root, 'out/WO-A.ran'))).toBe(true);
    });
  }

  for (const point of ['link', 'record', 'move']) {
    it(`retry:${point} → the retried WO runs as a new attempt`, async () => {
      const root = await prepared(AUTO, async (r) => {
        dropComplete(r, 'CLC', 'f.yaml', failingWo('WO-T'));
        await waitFor(() => status(r, 'WO-T') === 'failed');
      });
      fs.writeFileSync(path.join(root, 'out/flag'), 'go\n');
      await crashAt(root, `retry:${point}`, () => runCliAsync(['retry', 'WO-T', '--timeout', '30'], { root }));
      await recoverAndSettle(root);
      await waitFor(() => status(root, 'WO-T') === 'succeeded', { timeout: 30_000 });
      const rec = readRecord(root, 'WO-T')!;
      expect(rec.attempts.map((a: { status: string }) => a.status)).toContain('failed');
      expectAgreement(root);
    });
  }

  for (const point of ['intent', 'restore', 'record']) {
    it(`revert:${point} → the rollback is finished by recovery`, async () => {
      const root = await prepared(AUTO, async (r) => {
        fs.writeFileSync(path.join(r, 'out/WO-V.txt'), 'before\n');
        dropComplete(r, 'CLC', 'v.yaml', okWo('WO-V'));
        await waitFor(() => status(r, 'WO-V') === 'succeeded');
      });
      expect(fs.readFileSync(path.join(root, 'out/WO-V.txt'), 'utf8')).toBe('new WO-V\n');
      await crashAt(root, `revert:${point}`, () => runCliAsync(['rollback', 'WO-V', '--timeout', '30'], { root }));
      await recoverAndSettle(root);
      await waitFor(() => status(root, 'WO-V') === 'reverted');
      expect(fs.readFileSync(path.join(root, 'out/WO-V.txt'), 'utf8')).toBe('before\n');
      expectAgreement(root);
    });
  }

  it('a transition the table does not allow is refused (a succeeded WO cannot be cancelled or rejected)', async () => {
    const root = await prepared(AUTO, async (r) => {
      dropComplete(r, 'CLC', 'a.yaml', okWo('WO-X'));
      await waitFor(() => status(r, 'WO-X') === 'succeeded');
    });
    for (const action of ['cancel', 'reject', 'approve']) {
      const res = runCli([action, 'WO-X'], { root });
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(/it is succeeded/);
    }
    expect(status(root, 'WO-X')).toBe('succeeded');
  });
});

describe('work after a commit', () => {
  for (const what of ['guardrail accept', 'terminal hook']) {
    it(`a failing ${what} is logged and never rolls back a committed WO`, async () => {
      const root = await prepared(`${AUTO}guardrail:\n  files:\n    - path: out/WO-P.txt\n`);
      fs.writeFileSync(path.join(root, 'out/WO-P.txt'), 'before\n');
      const d = await pool.start(root, { env: { WO_TEST_FAIL_AT: `after-commit:${what}` } });
      dropComplete(root, 'CLC', 'p.yaml', okWo('WO-P'));
      await waitFor(() => status(root, 'WO-P') === 'succeeded');
      await waitSettled(root);
      await waitFor(() => /post-commit work failed/.test(d.output()), { what: 'the failure to be logged' });
      expect(readRecord(root, 'WO-P')).toMatchObject({ status: 'succeeded', rolled_back: false });
      expect(fs.readFileSync(path.join(root, 'out/WO-P.txt'), 'utf8')).toBe('new WO-P\n');
      expectAgreement(root);
    });
  }
});
