/**
 * Issue 13, brakes: the level per lane and per owner, the breaker and the rate limit in the one verdict (pure), the
 * breaker state on disk (real temp dirs), the config shapes, and `notify.desktop`/`notify.events` with stand-in
 * notifier programs on PATH that record their argv.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { APPROVE_REASON, effectiveLevel, policyVerdict, type Autonomy, type VerdictContext } from '../../src/policy/verdict.js';
import { Brakes, brakesAt, breakerReason, closeBreakers, noteFailure, parseBreakerState, rateReason, rateWindow, resetBreaker, type BreakerState } from '../../src/policy/brakes.js';
import { DEFAULT_ALLOW_COMMANDS } from '../../src/config/schema.js';
import { parseConfig } from '../../src/config/load.js';
import { deepLink, desktopCommand, desktopMessage, tell } from '../../src/notify.js';
import type { WorkOrder } from '../../src/wo/parse.js';
import { sh, woOf } from '../fixtures/wo.js';
import { tempDir } from '../helpers.js';

const wo = (over: Partial<WorkOrder> = {}): WorkOrder => woOf({ wo_id: 'WO-B', type: 'exec', commands: [sh('echo hi')], ...over });
const risky = wo({ commands: [{ kind: 'argv', argv: ['git', 'status'] }] });
const ctx = (over: Partial<VerdictContext> = {}): VerdictContext => ({ autonomy: 'guarded', allowCommands: DEFAULT_ALLOW_COMMANDS, root: '/srv/wo', allowedRoots: [], dryRunEnv: false, lane: 'CLC', ...over });
const lanes = (m: Record<string, Autonomy>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, { autonomy: v }]));

describe('the level: the lane replaces the global one, the owner only tightens, the breaker drops to approve', () => {
  const table: [string, Partial<VerdictContext>, string | undefined, { autonomy: Autonomy; rule: string }][] = [
    ['no override: the global level', {}, undefined, { autonomy: 'guarded', rule: 'policy.autonomy' }],
    ['a lane tightens', { lanes: lanes({ CLC: 'approve' }) }, undefined, { autonomy: 'approve', rule: 'policy.lanes.CLC.autonomy' }],
    ['a lane loosens', { lanes: lanes({ CLC: 'auto' }) }, undefined, { autonomy: 'auto', rule: 'policy.lanes.CLC.autonomy' }],
    ['another lane does not apply', { lanes: lanes({ OPS: 'approve' }) }, undefined, { autonomy: 'guarded', rule: 'policy.autonomy' }],
    ['an owner tightens', { owners: lanes({ bot: 'approve' }) }, 'bot', { autonomy: 'approve', rule: 'policy.owners.bot.autonomy' }],
    ['an owner never loosens', { owners: lanes({ boss: 'auto' }) }, 'boss', { autonomy: 'guarded', rule: 'policy.autonomy' }],
    ['owner over a loose lane', { lanes: lanes({ CLC: 'auto' }), owners: lanes({ bot: 'guarded' }) }, 'bot', { autonomy: 'guarded', rule: 'policy.owners.bot.autonomy' }],
    ['a strict lane over a loose owner', { lanes: lanes({ CLC: 'approve' }), owners: lanes({ bot: 'auto' }) }, 'bot', { autonomy: 'approve', rule: 'policy.lanes.CLC.autonomy' }],
    ['owner observe wins', { owners: lanes({ bot: 'observe' }) }, 'bot', { autonomy: 'observe', rule: 'policy.owners.bot.autonomy' }],
    ['the breaker drops auto to approve', { lanes: lanes({ CLC: 'auto' }), breaker: 'breaker open' }, undefined, { autonomy: 'approve', rule: 'breaker open' }],
    ['the breaker leaves observe', { lanes: lanes({ CLC: 'observe' }), breaker: 'breaker open' }, undefined, { autonomy: 'observe', rule: 'policy.lanes.CLC.autonomy' }],
    ['a lane named __proto__ is a name, not a prototype', { lane: '__proto__', lanes: lanes({ CLC: 'approve' }) }, 'constructor', { autonomy: 'guarded', rule: 'policy.autonomy' }],
  ];
  it.each(table)('%s', (_n, c, owner, want) => {
    expect(effectiveLevel({ owner }, ctx(c))).toEqual(want);
  });
});

describe('the verdict names the rule that decided', () => {
  it('approve by global, lane, owner and breaker', () => {
    expect(policyVerdict(wo(), ctx({ autonomy: 'approve' })).hold_reasons).toEqual([APPROVE_REASON]);
    expect(policyVerdict(wo(), ctx({ lanes: lanes({ CLC: 'approve' }) })).hold_reasons).toEqual(['policy.lanes.CLC.autonomy is approve: every WO waits for approval']);
    expect(policyVerdict(wo({ owner: 'bot' }), ctx({ owners: lanes({ bot: 'approve' }) })).hold_reasons).toEqual(['policy.owners.bot.autonomy is approve: every WO waits for approval']);
    const why = breakerReason('CLC', { since: '2026-01-01T00:00:00.000Z', failures: 5, window_s: 600 });
    expect(why).toBe('breaker open for lane CLC: 5 failures in 600 s (policy.breaker); `wo resume --lane CLC` closes it');
    expect(policyVerdict(wo(), ctx({ breaker: why }))).toEqual({ decision: 'hold', hold_reasons: [why] });
  });

  it('guarded by a lane: each command reason says which rule made it guarded', () => {
    expect(policyVerdict(risky, ctx({ autonomy: 'auto', lanes: lanes({ CLC: 'guarded' }) })).hold_reasons).toEqual([
      "commands[0]: command 'git status': program 'git' is not on policy.allow_commands (policy.lanes.CLC.autonomy is guarded)",
    ]);
    expect(policyVerdict(risky, ctx()).hold_reasons).toEqual(["commands[0]: command 'git status': program 'git' is not on policy.allow_commands"]);
  });

  it('a lane at auto runs what guarded would hold; a lane at observe only plans; a global observe is a master switch', () => {
    expect(policyVerdict(risky, ctx({ lanes: lanes({ CLC: 'auto' }) }))).toEqual({ decision: 'run', hold_reasons: [] });
    expect(policyVerdict(risky, ctx({ lanes: lanes({ CLC: 'observe' }) }))).toEqual({ decision: 'dry_run', hold_reasons: [] });
    expect(policyVerdict(risky, ctx({ autonomy: 'observe', lanes: lanes({ CLC: 'auto' }) }))).toEqual({ decision: 'dry_run', hold_reasons: [] });
  });

  it('the rate holds only a WO that would run; WO_DRY_RUN and dry_run WOs are not held', () => {
    const full = rateReason('CLC', { max: 2, per_s: 60 }, 2);
    expect(full).toBe('policy.lanes.CLC.rate is 2 per 60 s: 2 WOs of lane CLC already started in the last 60 s');
    expect(policyVerdict(wo(), ctx({ rateFull: full }))).toEqual({ decision: 'hold', hold_reasons: [full] });
    expect(policyVerdict(risky, ctx({ rateFull: full })).hold_reasons).toEqual(["commands[0]: command 'git status': program 'git' is not on policy.allow_commands"]);
    expect(policyVerdict(wo(), ctx({ rateFull: full, dryRunEnv: true })).decision).toBe('dry_run');
    expect(policyVerdict(wo({ dry_run: true }), ctx({ rateFull: full, breaker: 'open' })).decision).toBe('dry_run');
  });
});

describe('breaker and rate state (pure)', () => {
  const rule = { failures: 3, window_s: 60 };
  const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));

  it('opens on the Nth failure within the window, not on failures spread wider; stays open; a reset forgets', () => {
    let st: BreakerState = { lanes: {} };
    let r = noteFailure(st, 'CLC', t(0), rule);
    r = noteFailure(r.state, 'CLC', t(30), rule);
    r = noteFailure(r.state, 'CLC', t(61), rule); // the first one left the window
    expect(r.opened).toBeUndefined();
    r = noteFailure(r.state, 'OPS', t(62), rule); // another lane counts apart
    r = noteFailure(r.state, 'CLC', t(62), rule);
    expect(r.opened).toEqual({ since: t(62).toISOString(), failures: 3, window_s: 60 });
    st = r.state;
    const again = noteFailure(st, 'CLC', t(63), rule);
    expect(again.opened).toBeUndefined();
    expect(again.state.lanes.CLC!.open).toEqual(r.opened);
    const closed = closeBreakers(again.state, 'CLC');
    expect(closed.closed).toEqual(['CLC']);
    expect(closed.state.lanes.CLC).toBeUndefined();
    expect(closed.state.lanes.OPS!.failures).toHaveLength(1);
    expect(closeBreakers(closed.state).closed).toEqual([]);
  });

  it('off at failures 0: nothing is counted', () => {
    const st: BreakerState = { lanes: {} };
    expect(noteFailure(st, 'CLC', t(0), { failures: 0, window_s: 60 }).state).toBe(st);
  });

  it('the rate window slides', () => {
    expect(rateWindow([1000, 2000], 3000, { max: 2, per_s: 10 })).toEqual({ times: [1000, 2000], full: true });
    expect(rateWindow([1000, 2000], 11_500, { max: 2, per_s: 10 })).toEqual({ times: [2000], full: false });
  });

  it('a hand-edited or foreign breaker file keeps only what reads as breaker state', () => {
    expect(parseBreakerState(null)).toEqual({ lanes: {} });
    expect(parseBreakerState({ lanes: [] })).toEqual({ lanes: {} });
    const st = parseBreakerState(JSON.parse('{"lanes":{"__proto__":{"failures":["2026-01-01T00:00:00Z","nope",3],"open":{"since":"x","failures":2,"window_s":9}},"B":7}}'));
    expect(Object.keys(st.lanes)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(st.lanes)).toBe(Object.prototype);
    expect(st.lanes['__proto__']).toEqual({ failures: ['2026-01-01T00:00:00Z'], open: { since: 'x', failures: 2, window_s: 9 } });
  });
});

describe('Brakes on disk: g/run/breaker.json survives a restart and a reset', () => {
  it('persists an open breaker, reloads it, and resetBreaker closes it in memory and on disk', async () => {
    const run = tempDir('wo-brakes-');
    const rule = { failures: 2, window_s: 600 };
    const logs: string[] = [];
    const a = new Brakes(path.join(run, 'breaker.json'), (m) => logs.push(m));
    await a.ready;
    expect(a.failed('CLC', new Date(), rule).opened).toBeUndefined();
    const second = a.failed('CLC', new Date(), rule);
    expect(second.opened?.failures).toBe(2);
    await second.saved;
    expect(a.breakerFor('CLC', rule)).toMatch(/^breaker open for lane CLC: 2 failures in 600 s/);
    expect(a.breakerFor('CLC', { failures: 0, window_s: 600 })).toBeUndefined(); // off means off
    const onDisk = JSON.parse(fs.readFileSync(path.join(run, 'breaker.json'), 'utf8'));
    expect(onDisk.lanes.CLC.open.failures).toBe(2);
    expect(fs.statSync(path.join(run, 'breaker.json')).mode & 0o777).toBe(0o600);

    // "Restart": a new instance reads the file.
    const b = brakesAt(run);
    await b.ready;
    expect(b.openLanes().map((l) => l.lane)).toEqual(['CLC']);
    expect(await resetBreaker('OPS', run)).toEqual([]);
    expect(await resetBreaker('CLC')).toEqual(['CLC']);
    expect(b.breakerFor('CLC', rule)).toBeUndefined();
    expect(JSON.parse(fs.readFileSync(path.join(run, 'breaker.json'), 'utf8'))).toEqual({ lanes: {} });
    expect(logs).toEqual([]);
  });

  it('an unreadable file is said and no breaker is open', async () => {
    const run = tempDir('wo-brakes-');
    fs.writeFileSync(path.join(run, 'breaker.json'), '{not json');
    const logs: string[] = [];
    const b = new Brakes(path.join(run, 'breaker.json'), (m) => logs.push(m));
    await b.ready;
    expect(b.openLanes()).toEqual([]);
    expect(logs.join('\n')).toMatch(/breaker\.json is not valid JSON.*no breaker is open/);
  });

  it('the rate counts admitted WOs per lane', () => {
    const b = new Brakes(path.join(tempDir('wo-brakes-'), 'breaker.json'), () => {});
    const now = new Date();
    const rule = { max: 2, per_s: 60 };
    expect(b.rateFull('CLC', rule, now)).toBeUndefined();
    b.admitted('CLC', now);
    b.admitted('CLC', now);
    b.admitted('OPS', now);
    expect(b.rateFull('CLC', rule, now)).toBe(rateReason('CLC', rule, 2));
    expect(b.rateFull('OPS', rule, now)).toBeUndefined();
    expect(b.rateFull('CLC', undefined, now)).toBeUndefined();
  });
});

describe('config: policy.lanes, policy.owners, policy.breaker, notify', () => {
  it('defaults: no lane or owner level, breaker off, desktop on, events failed/held/drift', () => {
    const c = parseConfig('', '/r', {});
    expect(c.policy.lanes).toEqual({});
    expect(c.policy.owners).toEqual({});
    expect(c.policy.breaker).toEqual({ failures: 0, window_s: 600 });
    expect(c.notify).toEqual({ command: null, desktop: true, events: ['failed', 'held', 'drift'] });
    expect(parseConfig('', '/r', { WO_NOTIFY_DESKTOP: '0' }).notify.desktop).toBe(false);
  });

  it('the old notify.command shapes still load', () => {
    expect(parseConfig('notify:\n  command: "cat >> /tmp/x"\n', '/r', {}).notify.command).toBe('cat >> /tmp/x');
    expect(parseConfig('notify:\n  command: null\n', '/r', {}).notify.command).toBeNull();
  });

  it('lanes, owners and breaker as written', () => {
    const c = parseConfig('policy:\n  lanes:\n    OPS: {autonomy: approve, rate: {max: 3, per_s: 60}}\n  owners:\n    bot: {autonomy: approve}\n  breaker: {failures: 5}\n', '/r', {});
    expect(c.policy.lanes).toEqual({ OPS: { autonomy: 'approve', rate: { max: 3, per_s: 60 } } });
    expect(c.policy.owners).toEqual({ bot: { autonomy: 'approve' } });
    expect(c.policy.breaker).toEqual({ failures: 5, window_s: 600 });
  });

  it('mistakes name the key, with a did-you-mean inside a lane', () => {
    expect(() => parseConfig('policy:\n  lanes:\n    OPS: {autonomyy: approve}\n', '/r', {})).toThrow(/policy\.lanes\.OPS[\s\S]*autonomy/);
    expect(() => parseConfig('policy:\n  lanes:\n    "a/b": {autonomy: approve}\n', '/r', {})).toThrow(/policy\.lanes/);
    expect(() => parseConfig('policy:\n  lanes:\n    OPS: {rate: {max: 0, per_s: 1}}\n', '/r', {})).toThrow(/policy\.lanes\.OPS\.rate\.max/);
    expect(() => parseConfig('policy:\n  owners:\n    bot: {autonomy: yolo}\n', '/r', {})).toThrow(/policy\.owners\.bot\.autonomy/);
    expect(() => parseConfig('notify:\n  events: [failed, exploded]\n', '/r', {})).toThrow(/notify\.events/);
  });
});

describe('notify.desktop: the platform notifier, given the text as arguments', () => {
  const held = { event: 'wo_held', wo_id: 'WO-1', title: `it's "quoted" $(touch pwned)`, reasons: ["program 'rm' is not on policy.allow_commands"], url: deepLink(8765, 'WO-1') };

  it('title, outcome and the deep link', () => {
    expect(deepLink(8765, 'WO-1')).toBe('http://127.0.0.1:8765/#wo=WO-1');
    expect(deepLink(null, 'WO-1')).toBeUndefined();
    expect(desktopMessage('held', held)).toEqual({ title: 'wo: WO-1 waits for approval', body: `${held.title}\nprogram 'rm' is not on policy.allow_commands\nhttp://127.0.0.1:8765/#wo=WO-1` });
    expect(desktopMessage('failed', { wo_id: 'WO-2', title: 't', error: { code: 'COMMAND_FAILED', message: 'boom' } })).toEqual({ title: 'wo: WO-2 failed', body: 't\nCOMMAND_FAILED: boom' });
    expect(desktopMessage('drift', { broken: 'tools/x.sh', why: 'not executable' })).toEqual({ title: 'wo: guardrail drift', body: 'tools/x.sh: not executable' });
    expect(desktopMessage('breaker', { lane: 'CLC', reason: 'r' })).toEqual({ title: 'wo: breaker open for lane CLC', body: 'r' });
    expect(desktopMessage('held', { wo_id: 'W', title: 'x'.repeat(1000) }).body.length).toBeLessThanOrEqual(300);
  });

  it('macOS: osascript with an `on run argv` handler (the text never enters the script); Linux: notify-send after --', () => {
    const msg = { title: 'wo: WO-1 failed', body: '-x "y"' };
    expect(desktopCommand('darwin', msg)).toEqual({ program: 'osascript', args: ['-e', 'on run argv', '-e', 'display notification (item 2 of argv) with title (item 1 of argv)', '-e', 'end run', msg.title, msg.body] });
    expect(desktopCommand('linux', msg)).toEqual({ program: 'notify-send', args: ['--app-name=wo', '--', msg.title, msg.body] });
  });

  const saved = { PATH: process.env.PATH, WO_TEST_OUT: process.env.WO_TEST_OUT };
  afterEach(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  /** Stand-in notify-send and osascript first on PATH, each appending its argv (NUL-separated, each call ended by RS 0x1e). */
  function standIns(): string {
    const dir = tempDir('wo-notify-');
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    const out = path.join(dir, 'calls');
    for (const name of ['notify-send', 'osascript']) {
      fs.writeFileSync(path.join(bin, name), `#!/bin/sh\n{ printf '%s' "${name}"; for a in "$@"; do printf '\\0%s' "$a"; done; printf '\\036'; } >> "$WO_TEST_OUT"\n`, { mode: 0o755 });
    }
    process.env.PATH = `${bin}:${process.env.PATH}`;
    process.env.WO_TEST_OUT = out;
    return out;
  }
  const calls = (out: string) => (fs.existsSync(out) ? fs.readFileSync(out, 'utf8').split('\x1e').slice(0, -1).map((l) => l.split('\0')) : []);

  it('tell runs the notifier for listed events only, and the command beside it', async () => {
    const out = standIns();
    const jsonl = path.join(tempDir('wo-notify-'), 'events.jsonl');
    const logs: string[] = [];
    const cfg = { command: `cat >> '${jsonl}'`, desktop: true, events: ['held', 'failed'] as const };
    await tell(cfg, 'held', held, { log: (m) => logs.push(m), platform: 'linux' });
    await tell(cfg, 'drift', { broken: 'x' }, { log: (m) => logs.push(m), platform: 'linux' });
    await tell(cfg, 'failed', { wo_id: 'WO-2', title: 't' }, { log: (m) => logs.push(m), platform: 'darwin' });
    expect(logs).toEqual([]);
    expect(calls(out)).toEqual([
      ['notify-send', '--app-name=wo', '--', 'wo: WO-1 waits for approval', desktopMessage('held', held).body],
      ['osascript', ...desktopCommand('darwin', { title: 'wo: WO-2 failed', body: 't' }).args],
    ]);
    expect(fs.readFileSync(jsonl, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l).event)).toEqual(['wo_held', undefined]);
    expect(fs.existsSync('pwned')).toBe(false);
  });

  it('desktop off: no notifier; a missing notifier is said once', async () => {
    const out = standIns();
    await tell({ command: null, desktop: false, events: ['held'] }, 'held', held, { platform: 'linux' });
    expect(calls(out)).toEqual([]);
    process.env.PATH = tempDir('wo-empty-path-');
    const logs: string[] = [];
    await tell({ command: null, desktop: true, events: ['held'] }, 'held', held, { log: (m) => logs.push(m), platform: 'linux' });
    await tell({ command: null, desktop: true, events: ['held'] }, 'held', held, { log: (m) => logs.push(m), platform: 'linux' });
    expect(logs).toEqual(['notify.desktop: notify-send is not on PATH; no desktop notifications (install it, or set notify.desktop: false)']);
  });
});
