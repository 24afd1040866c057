/** `wo migrate`'s pure parts: shell arrays, agents, status mapping, the config merge. */
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { criticalLists } from '../../src/migrate/shell-lists.js';
import { parsePlist, parseUnit, pointsInto } from '../../src/migrate/agents.js';
import { importedRecord, mapStatus } from '../../src/migrate/state.js';
import { mergeConfig } from '../../src/migrate/apply.js';
import { plistFor } from './fixture.js';

describe('criticalLists', () => {
  it('reads quoted, unquoted, commented and continued words; expands only $HOME and ~', () => {
    const { entries } = criticalLists([
      'CRITICAL_FILES=( "a b" \'c\' d \\', '  e # f g', '  $HOME/h ${HOME}/i ~/j "$HOME/k" ~bob/l $X/m "$(id)" `id` *.zsh {a,b} )',
      'local -a CRITICAL_DIRS=(x)', 'OTHER=( no )', 'echo "CRITICAL_FILES=( no )"',
    ].join('\n'), '/home/u');
    expect(entries.map((e) => [e.list, e.value ?? `!${e.why!.split(' ').slice(0, 3).join(' ')}`])).toEqual([
      ['CRITICAL_FILES', 'a b'], ['CRITICAL_FILES', 'c'], ['CRITICAL_FILES', 'd'], ['CRITICAL_FILES', 'e'],
      ['CRITICAL_FILES', '/home/u/h'], ['CRITICAL_FILES', '/home/u/i'], ['CRITICAL_FILES', '/home/u/j'], ['CRITICAL_FILES', '/home/u/k'],
      ['CRITICAL_FILES', "!'~bob' is another"], ['CRITICAL_FILES', '!holds an expansion'], ['CRITICAL_FILES', '!holds a command'],
      ['CRITICAL_FILES', '!holds a command'], ['CRITICAL_FILES', expect.stringMatching(/^!holds/)], ['CRITICAL_FILES', expect.stringMatching(/^!holds/)],
      ['CRITICAL_DIRS', 'x'],
    ]);
  });

  it('without a home, ~ and $HOME are not importable; an unparsable script says so', () => {
    expect(criticalLists('CRITICAL_FILES=(~/a $HOME/b)', undefined).entries.map((e) => e.why)).toEqual([expect.stringContaining('no home'), expect.stringContaining('no home')]);
    expect(criticalLists('CRITICAL_FILES=( "unterminated', '/h').error).toMatch(/not parsable/);
  });
});

describe('agents', () => {
  it('plist and unit programs, pointing into a folder or not', () => {
    const a = parsePlist(plistFor('com.x.y', ['/bin/zsh', '-c', 'cd /tmp && /old/02luka/tools/run.zsh --flag']), 'x.plist').agent!;
    expect(a).toEqual({ kind: 'launchd', label: 'com.x.y', program: ['/bin/zsh', '-c', 'cd /tmp && /old/02luka/tools/run.zsh --flag'] });
    expect(pointsInto(a, '/old/02luka')).toBe('/old/02luka/tools/run.zsh');
    expect(pointsInto(a, '/old/02luk')).toBeUndefined();
    expect(pointsInto(parsePlist(plistFor('z', ['/old/02luka/../elsewhere/x']), 'z').agent!, '/old/02luka')).toBeUndefined();
    const u = parseUnit('[Service]\nExecStart=-/usr/bin/env \\\n  zsh /old/02luka/a.zsh\n', 'a.service').agent!;
    expect(u.program).toEqual(['/usr/bin/env', 'zsh', '/old/02luka/a.zsh']);
    expect(parseUnit('[Service]\n', 'b.service').why).toMatch(/ExecStart/);
    expect(parsePlist('<plist>', 'c.plist').why).toMatch(/not a readable XML plist/);
    expect(parsePlist(plistFor('a;rm -rf ~', ['/x']), 'd.plist').why).toMatch(/not a plain label/);
  });
});

describe('state mapping', () => {
  it('maps finished statuses, turns unfinished ones into cancelled with a note, refuses bad ids', () => {
    expect(mapStatus('Completed').status).toBe('succeeded');
    expect(mapStatus('error').status).toBe('failed');
    expect(mapStatus('rolled_back').status).toBe('reverted');
    expect(mapStatus('running')).toEqual({ status: 'cancelled', note: expect.stringContaining("'running'") });
    const now = new Date('2026-01-01T00:00:00Z');
    const r = importedRecord({ id: 'WO-1', status: 'done', priority: 'P0', title: 't' }, 'WO-1.json', 'abc', 'g/followup/state/WO-1.json', now).record!;
    expect(r).toMatchObject({ wo_id: 'WO-1', status: 'succeeded', stage: 'commit', priority: 'P0', imported: true, times: { imported: '2026-01-01T00:00:00.000Z' } });
    for (const id of ['../x', '..', 'a/b', '', 'x'.repeat(129)]) expect(importedRecord({ id }, 'f.json', 's', 'f', now).why ?? 'ok', id).toMatch(/not a valid wo_id|ok/);
    expect(importedRecord({ id: '../x' }, 'f.json', 's', 'f', now).why).toMatch(/not a valid wo_id/);
  });
});

describe('mergeConfig', () => {
  const g = { guardrail: { files: [{ path: 'a', executable: true }], dirs: [{ path: 'd' }], services: ['com.x'] } };
  it('adds to an empty, a commented and a flow-style config as block lists; keeps comments; idempotent', () => {
    expect(parse(mergeConfig('', g).text)).toEqual(g);
    const c = mergeConfig('# top\nhttp:\n  enabled: false # off\nguardrail:\n  files: []\n', g);
    expect(c.text).toContain('# top');
    expect(c.text).toContain('# off');
    expect(c.text).toContain('  files:\n    - path: a');
    expect(c.added).toEqual({ files: ['a'], dirs: ['d'], services: ['com.x'] });
    const again = mergeConfig(c.text, g);
    expect(again.changed).toBe(false);
    expect(again.text).toBe(c.text);
    expect(() => mergeConfig('- a list\n', g)).toThrow(/mapping/);
    expect(() => mergeConfig('guardrail:\n  files: 3\n', g)).toThrow(/not a list/);
  });
});
