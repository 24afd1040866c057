/** Pure parts of a held WO's plan: command steps in policy order, per-command verdicts, the notify summary, durations. */
import { describe, expect, it } from 'vitest';
import { commandSteps } from '../../src/processors/transaction.js';
import { withVerdicts } from '../../src/daemon/holdplan.js';
import { planSummary } from '../../src/notify.js';
import { fmtDuration } from '../../src/cli/commands/show.js';
import { DEFAULT_ALLOW_COMMANDS } from '../../src/config/schema.js';
import { sh, woOf as wo } from '../fixtures/wo.js';
import type { PlanStep } from '../../src/state/record.js';


const ctx = { allowCommands: DEFAULT_ALLOW_COMMANDS, root: '/srv/wo', allowedRoots: [] as string[] };

const w = wo({
  files: [{ path: 'a.json', mode: 0o644, content: Buffer.from('{}\n'), validate: 'jq . %s' }],
  commands: [sh('mkdir -p out'), { kind: 'argv', argv: ['node', 'build.js'] }],
  post_verify: [sh('test -d out')],
  tests: [{ name: 'built', command: sh('cat out/x'), expected: 'x' }],
});

describe('plan steps of a held WO', () => {
  it('lists every command — validate, commands, post_verify, tests — as unknown, in policy order', () => {
    expect(commandSteps(w).map((s) => s.step)).toEqual([
      'validate a.json: jq . %s',
      'commands: mkdir -p out',
      'commands: node build.js',
      'post_verify: test -d out',
      "test 'built': cat out/x",
    ]);
    expect(commandSteps(w).every((s) => s.verdict === 'unknown' && s.cmd !== undefined)).toBe(true);
  });

  it('gives each command step its own policy verdict and reasons; file steps are untouched', () => {
    const file: PlanStep = { step: 'write a.json', path: 'a.json', verdict: 'will change', diff: '+{}\n' };
    const steps = withVerdicts([file, ...commandSteps(w)], w, ctx);
    expect(steps[0]).toEqual(file);
    expect(steps.slice(1).map((s) => s.policy)).toEqual(['held', 'allowed', 'held', 'allowed', 'allowed']);
    expect(steps[1]!.why!.join()).toMatch(/^files\[0\]\.validate: .*'jq' is not on policy.allow_commands/);
    expect(steps[3]!.why!.join()).toMatch(/^commands\[1\]: .*'node'/);
    expect(steps[2]!.why).toEqual([]);
  });

  it('leaves a plan whose command steps do not line up (a route plan) as it is', () => {
    const route: PlanStep[] = [{ step: 'deliver X to CLC', path: 'bridge/inbox/CLC/X.json', verdict: 'will change' }];
    expect(withVerdicts(route, w, ctx)).toBe(route);
  });

  it('summarises a plan in one line for the held notification', () => {
    const steps = withVerdicts([{ step: 'write a.json', path: 'a.json', verdict: 'will change' }, { step: 'delete b', path: 'b', verdict: 'no change' }, ...commandSteps(w)], w, ctx);
    expect(planSummary(steps)).toBe('1 of 2 files will change (write a.json); 5 commands, 2 not allowed by policy (jq . %s; node build.js)');
    expect(planSummary([{ step: 'the plan cannot be computed: hunk 1 does not apply', verdict: 'unknown' }])).toBe('the plan cannot be computed: hunk 1 does not apply');
    expect(planSummary([])).toBe('nothing to do');
  });

  it('formats durations for the stage timeline', () => {
    expect([fmtDuration(12), fmtDuration(1450), fmtDuration(184_000), fmtDuration(7_500_000)]).toEqual(['12 ms', '1.4 s', '3m04s', '2h05m']);
  });
});
