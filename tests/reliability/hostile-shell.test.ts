/**
 * Guarded-mode bypasses through the real daemon (issue 9 items 1, 5, 6 and cases of the same classes): every WO
 * ends awaiting_approval with reasons, and no marker file the commands would create appears.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readRecord, tempDir, tempRoot, waitFor } from '../helpers.js';
import { daemonPool, dropAtomic, T } from './common.js';

const pool = daemonPool();
afterEach(() => pool.cleanup());

/** Commands of the hostile WOs; MARK is a temp folder outside the root that must stay empty. */
const CASES: [string, string][] = [
  ['FOR-NO-IN-FN', 'cat() { for i do touch MARK/for-no-in; done; }; cat a'],
  ['FOR-NO-IN-PIPE', "echo hi | for i do sh -c 'touch MARK/pipe'; done"],
  ['HEREDOC-SPLIT', 'cat <<EO\\\nF\n$(touch MARK/heredoc)\nEOF\nls'],
  ['PROC-ENVIRON', 'cat /proc/$PPID/environ'],
  ['PROC-SELF', 'head -c 100 /proc/self/environ'],
  ['TOKEN', 'cat g/run/token'],
  ['TOKEN-GLOB', 'cat */run/token'],
  ['TOKEN-CD', 'cd g && cat run/token'],
  ['TOKEN-VAR', 'x=g/run/token; cat "$x"'],
  ['TOKEN-GREP-R', 'grep -r . .'],
  ['MKDIR-STATE', 'mkdir -p g/followup/state/WO-VICTIM.json g/run/control/x.req.json'],
  ['MKDIR-GIT', 'mkdir -p .git/hooks/pre-commit'],
  ['CASE-IN-FN', 'f() { case x in x) touch MARK/case;; esac; }; f'],
  ['SUBST-DEFAULT', 'echo ${x:-$(touch MARK/default)}'],
  ['EVAL', "eval 'touch MARK/eval'"],
  ['LS-FN', 'ls() { touch MARK/ls-fn; }; ls'],
  ['WHILE-BODY', 'n=0; while test "$n" = 0; do touch MARK/while; n=1; done'],
];

const wo = (id: string, cmd: string) => `wo_id: ${id}\ntitle: hostile shell ${id}\ntype: apply_patch\ncommands:\n  - ${JSON.stringify(cmd)}\n`;

describe('reliability: hostile shell commands in guarded mode', () => {
  it('every bypass is held for approval with reasons and runs nothing', async () => {
    const root = tempRoot('http:\n  enabled: false\n'); // default policy: guarded
    const mark = tempDir('wo-mark-');
    fs.mkdirSync(path.join(root, '.git'), { recursive: true });
    await pool.start(root);
    const inbox = path.join(root, 'bridge/inbox/CLC');
    for (const [id, cmd] of CASES) dropAtomic(inbox, `${id}.yaml`, wo(id, cmd.replaceAll('MARK', mark)));
    const records = await waitFor(() => {
      const recs = CASES.map(([id]) => readRecord(root, id));
      return recs.every((r) => r && r.status !== 'queued' && r.status !== 'running') ? recs : undefined;
    }, { timeout: T(60_000, 120_000), what: 'every hostile shell WO settled' });
    const bad = records
      .map((r, i) => ({ id: CASES[i]![0], status: r!.status as string, reasons: (r!.hold_reasons ?? []) as string[] }))
      .filter((r) => r.status !== 'awaiting_approval' || r.reasons.length === 0);
    expect(bad).toEqual([]);
    const held = Object.fromEntries(records.map((r, i) => [CASES[i]![0], (r!.hold_reasons as string[]).join('\n')]));
    expect(held['FOR-NO-IN-FN']).toContain("program 'touch' is not on policy.allow_commands");
    expect(held['PROC-ENVIRON']).toContain("reads another process's memory or environment");
    expect(held['TOKEN']).toContain("the daemon's internals");
    expect(held['MKDIR-STATE']).toContain("the daemon's internals");
    expect(held['LS-FN']).toContain("program 'touch'");
    expect(fs.readdirSync(mark)).toEqual([]);
    expect(fs.existsSync(path.join(root, 'g/followup/state/WO-VICTIM.json'))).toBe(false);
    expect(fs.existsSync(path.join(root, 'g/run/control/x.req.json'))).toBe(false);
    expect(fs.existsSync(path.join(root, '.git/hooks'))).toBe(false);
  }, T(120_000, 240_000));
});
