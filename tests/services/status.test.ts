/** The pure parsers of launchctl print / systemctl show output, the health judgement and the manager argv. */
import { describe, expect, it } from 'vitest';
import { parseLaunchctlPrint, parseSystemctlShow, problemOf, exitMeaning } from '../../src/services/status.js';
import { actionCall, statusCall } from '../../src/services/argv.js';
import { afterProblem, compensationOf } from '../../src/services/step.js';
import { serviceReasons } from '../../src/policy/verdict.js';
import { kindOfName, serviceWhy } from '../../src/guardrail/services.js';

// The shape of `launchctl print gui/<uid>/<label>` (macOS 13/14): one-tab keys, nested blocks deeper.
const PRINT_127 = `gui/501/com.acme.poller = {
\tactive count = 0
\tpath = /Users/me/Library/LaunchAgents/com.acme.poller.plist
\ttype = LaunchAgent
\tstate = not running

\tprogram = /bin/zsh
\targuments = {
\t\t/bin/zsh
\t\t/Users/me/02luka/tools/poller.zsh
\t}

\tinherited environment = {
\t\tSSH_AUTH_SOCK => /private/tmp/com.apple.launchd.x/Listeners
\t}

\tdomain = gui/501 [100005]
\tminimum runtime = 10
\texit timeout = 5
\truns = 12
\tlast exit code = 127

\tspawn type = daemon (3)
\trun interval = 15 seconds
\tevent triggers = {
\t\tcom.apple.notifyd.matching => {
\t\t\tstate = 1
\t\t}
\t}
\tproperties = runatload | inferred program
}
`;
const PRINT_RUNNING = PRINT_127.replace('state = not running', 'state = running').replace('\tlast exit code = 127', '\tpid = 4711\n\tlast exit code = (never exited)');

describe('launchctl print', () => {
  it('not running, last exit 127: named, with its plist', () => {
    const s = parseLaunchctlPrint(PRINT_127, 0)!;
    expect(s).toEqual({ loaded: true, running: false, pid: null, last_exit: 127, exit_meaning: 'command not found: the program the service runs is missing', plist: '/Users/me/Library/LaunchAgents/com.acme.poller.plist' });
    expect(problemOf(s)).toBe('exited 127');
  });
  it('running with a pid, never exited', () => {
    expect(parseLaunchctlPrint(PRINT_RUNNING, 0)).toMatchObject({ loaded: true, running: true, pid: 4711, last_exit: null });
  });
  it('newer macOS: "78: EX_CONFIG"', () => {
    expect(parseLaunchctlPrint(PRINT_127.replace('= 127', '= 78: EX_CONFIG'), 0)).toMatchObject({ last_exit: 78, exit_meaning: 'EX_CONFIG: the service is misconfigured' });
  });
  it('113 "Could not find service" is not loaded; another failure is unknown (null)', () => {
    expect(parseLaunchctlPrint('Could not find service "x" in domain for port', 113)).toMatchObject({ loaded: false });
    expect(parseLaunchctlPrint('Unrecognized target specifier.', 1)).toBeNull();
  });
});

describe('systemctl --user show', () => {
  it('a failed unit whose program is missing (ExecMainStatus=127), properties in systemd order', () => {
    const s = parseSystemctlShow('MainPID=0\nExecMainStatus=127\nLoadState=loaded\nActiveState=failed\nSubState=failed\nUnitFileState=enabled\n');
    expect(s).toMatchObject({ loaded: true, running: false, pid: null, last_exit: 127 });
    expect(problemOf(s)).toBe('exited 127');
  });
  it('active running; disabled inactive is not loaded; not-found is not loaded', () => {
    expect(parseSystemctlShow('MainPID=4343\nExecMainStatus=0\nLoadState=loaded\nActiveState=active\nSubState=running\nUnitFileState=enabled\n')).toMatchObject({ loaded: true, running: true, pid: 4343 });
    expect(parseSystemctlShow('MainPID=0\nExecMainStatus=0\nLoadState=loaded\nActiveState=inactive\nSubState=dead\nUnitFileState=disabled\n').loaded).toBe(false);
    expect(parseSystemctlShow('MainPID=0\nExecMainStatus=0\nLoadState=not-found\nActiveState=inactive\nSubState=dead\nUnitFileState=\n').loaded).toBe(false);
  });
});

describe('judgement, argv, compensation, policy', () => {
  it('exit meanings', () => {
    expect(exitMeaning(0)).toBeUndefined();
    expect(exitMeaning(127)).toMatch(/^command not found/);
    expect(exitMeaning(-9)).toBe('killed by signal 9');
  });
  it('after an action: load wants it up (an interval agent between runs is fine), unload wants it gone', () => {
    expect(afterProblem('load', { loaded: true, running: false, pid: null, last_exit: null })).toBeNull();
    expect(afterProblem('load', { loaded: true, running: false, pid: null, last_exit: 127, exit_meaning: 'x' })).toBe('exited 127 (x)');
    expect(afterProblem('unload', { loaded: true, running: true, pid: 1, last_exit: null })).toBe('still loaded');
    expect(afterProblem('load', null)).toMatch(/could not be read/);
  });
  it('argv: gui/<uid> domain verbs and systemctl --user, never a shell', () => {
    const a = { kind: 'launchd' as const, name: 'com.x', plistAbs: '/r/com.x.plist' };
    expect(actionCall(a, 'load', 501)).toEqual({ program: 'launchctl', args: ['bootstrap', 'gui/501', '/r/com.x.plist'] });
    expect(actionCall(a, 'unload', 501).args).toEqual(['bootout', 'gui/501/com.x']);
    expect(actionCall(a, 'restart', 501).args).toEqual(['kickstart', '-k', 'gui/501/com.x']);
    expect(statusCall({ kind: 'systemd', name: 'x.service' }, 1).args).toEqual(['--user', 'show', '-p', 'LoadState,ActiveState,SubState,MainPID,ExecMainStatus,UnitFileState', 'x.service']);
  });
  it('compensation: a load is booted out (or restarted if it was loaded before), an unload re-bootstrapped', () => {
    const loaded = { loaded: true, running: true, pid: 1, last_exit: null };
    expect(compensationOf({ action: 'load', status_before: null })).toBe('unload');
    expect(compensationOf({ action: 'load', status_before: loaded })).toBe('restart');
    expect(compensationOf({ action: 'unload', status_before: loaded })).toBe('load');
    expect(compensationOf({ action: 'unload', status_before: { ...loaded, loaded: false } })).toBeNull();
    expect(compensationOf({ action: 'restart', status_before: loaded })).toBe('restart');
  });
  it('policy: a service not in policy.allow_services is a hold reason', () => {
    const wo = { services: [{ kind: 'launchd' as const, plist: 'a/com.x.plist', label: 'com.x', action: 'load' as const }, { kind: 'systemd' as const, unit: 'y.service', action: 'restart' as const }] };
    expect(serviceReasons(wo, ['com.x'])).toEqual(['services[1]: restart of systemd y.service: not in policy.allow_services']);
  });
  it('guardrail: names by kind, the manager failing is said as such', () => {
    expect(kindOfName('acme.service')).toBe('systemd');
    expect(kindOfName('com.acme.poller')).toBe('launchd');
    expect(serviceWhy(null, { error: 'launchctl not found in exec.path (/x)', exit_code: null, output_tail: '' })).toBe('status unknown: launchctl not found in exec.path (/x)');
  });
});
