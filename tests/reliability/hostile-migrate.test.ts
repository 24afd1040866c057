/**
 * Hostile inputs to `wo migrate` (issue 14), through the real CLI: state files whose ids traverse paths or are
 * links, plists pointing outside DIR or with entities, arrays holding `$(cmd)` and backquotes (never run), huge
 * scripts and state files (not read), a garbage plist, many files. Nothing outside the root is written, no
 * command runs, and only the good entries are imported.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { readRecord, runCli, tempDir } from '../helpers.js';
import { plistFor, treeHash, write } from '../migrate/fixture.js';
import { size, T } from './common.js';

describe('reliability: hostile old setups for wo migrate', () => {
  it('imports only the good entries; never runs, follows or writes outside the root', () => {
    const home = tempDir('wo-hmig-home-');
    const old = path.join(home, 'old');
    const root = path.join(home, 'root');
    const outside = tempDir('wo-hmig-outside-');
    const marker = path.join(outside, 'ran');
    fs.mkdirSync(root);
    fs.writeFileSync(path.join(root, 'wo.config.yaml'), 'http:\n  enabled: false\n');
    write(path.join(outside, 'secret.json'), JSON.stringify({ id: 'WO-SECRET', status: 'completed' }));
    const state = path.join(old, 'g/followup/state');
    write(path.join(state, 'good.json'), JSON.stringify({ id: 'WO-GOOD', status: 'done' }));
    write(path.join(state, 'trav1.json'), JSON.stringify({ id: '../../../root/wo.config', status: 'done' }));
    write(path.join(state, 'trav2.json'), JSON.stringify({ wo_id: '..', status: 'done' }));
    write(path.join(state, 'trav3.json'), JSON.stringify({ id: 'a/b', status: 'done' }));
    write(path.join(state, 'nul.json'), JSON.stringify({ id: 'x\u0000y', status: 'done' }));
    write(path.join(state, 'array.json'), '[1,2]');
    write(path.join(state, 'garbage.json'), '{not json');
    fs.symlinkSync(path.join(outside, 'secret.json'), path.join(state, 'link.json'));
    write(path.join(state, 'huge.json'), JSON.stringify({ id: 'WO-HUGE', status: 'done', pad: 'x'.repeat(size(2, 40) * 1024 * 1024) }));
    // Arrays with substitutions (never run), a huge script, a script that is not shell.
    write(path.join(old, 'tools/guard.zsh'), [
      'CRITICAL_FILES=(',
      `  "$(touch ${marker})" \`touch ${marker}\` $(touch ${marker})/x "\${x:-$(touch ${marker})}"`,
      '  ok/file.zsh',
      `  ../../${path.basename(outside)}/escape.zsh /etc/shadow ~root/x`,
      ')',
      `CRITICAL_DIRS=( <(touch ${marker}) ok/dir )`,
      '',
    ].join('\n'));
    write(path.join(old, 'tools/huge.sh'), `CRITICAL_FILES=( big/one )\n# ${'x'.repeat(size(2, 40) * 1024 * 1024)}\n`);
    write(path.join(old, 'tools/broken.sh'), 'CRITICAL_FILES=( "unterminated \n');
    for (let i = 0; i < size(200, 5000); i++) write(path.join(old, `many/f${i}.txt`), 'x');
    // Agents: one pointing outside, one into DIR through `..`, an entity-laden plist, garbage.
    const agents = path.join(home, 'LaunchAgents');
    write(path.join(agents, 'out.plist'), plistFor('com.out', [`${outside}/run.sh`]));
    write(path.join(agents, 'dotdot.plist'), plistFor('com.dotdot', [`${old}/../${path.basename(outside)}/run.sh`]));
    write(path.join(agents, 'in.plist'), plistFor('com.in', ['/bin/sh', '-c', `cd /tmp && ${old}/tools/guard.zsh`]));
    write(path.join(agents, 'xxe.plist'), `<?xml version="1.0"?>\n<!DOCTYPE plist [<!ENTITY x SYSTEM "file://${outside}/secret.json">]>\n<plist version="1.0"><dict><key>Label</key><string>&x;</string><key>ProgramArguments</key><array><string>${old}/a</string></array></dict></plist>\n`);
    write(path.join(agents, 'garbage.plist'), '<plist><dict><key>Label</key>');
    write(path.join(agents, 'evil.service'), `[Service]\nExecStart=/bin/sh -c 'touch ${marker}'\n`);
    const beforeOutside = treeHash(outside);

    const r = runCli(['migrate', '--from', old, '--agents', agents, '--home', home, '--json'], { root, timeoutMs: T(120_000, 600_000) });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(fs.existsSync(marker)).toBe(false);
    expect(treeHash(outside)).toBe(beforeOutside);
    // Only the good state file; every bad one skipped with a reason.
    expect(out.applied.imported).toEqual(['WO-GOOD']);
    expect(readRecord(root, 'WO-GOOD')).toMatchObject({ imported: true, status: 'succeeded' });
    expect(fs.readdirSync(path.join(root, 'g/followup/state')).sort()).toEqual(['WO-GOOD.json']);
    const why = Object.fromEntries(out.state.map((s: { file: string; why?: string }) => [path.basename(s.file), s.why ?? '']));
    for (const f of ['trav1.json', 'trav2.json', 'trav3.json', 'nul.json']) expect(why[f], f).toMatch(/not a valid wo_id/);
    expect(why['link.json']).toMatch(/symbolic link/);
    expect(why['huge.json']).toMatch(/over the \d+ read/);
    expect(why['array.json']).toMatch(/not a JSON object/);
    expect(why['garbage.json']).toMatch(/not JSON/);
    // Lists: only the plain relative entries... which resolve into the old setup, outside this root.
    const cfg = parse(fs.readFileSync(path.join(root, 'wo.config.yaml'), 'utf8'));
    expect(cfg.guardrail.files ?? []).toEqual([]);
    const listWhy = out.lists.map((l: { raw: string; why?: string }) => `${l.raw} :: ${l.why}`).join('\n');
    expect(listWhy).toMatch(/command substitution/);
    expect(listWhy).toMatch(/another user's home folder/);
    expect(out.lists.some((l: { raw: string }) => l.raw === 'big/one')).toBe(false);
    expect(out.skipped.map((s: { file: string }) => path.basename(s.file))).toContain('huge.sh');
    // Agents: only the one whose program is inside DIR (a `..` that leaves DIR does not count).
    expect(cfg.guardrail.services).toEqual(['com.in']);
    const adopted = out.agents.filter((a: { adopted: boolean }) => a.adopted).map((a: { label: string }) => a.label);
    expect(adopted).toEqual(['com.in']);
    expect(JSON.stringify(out)).not.toContain('WO-SECRET');
    expect(out.agents.find((a: { file: string }) => a.file.endsWith('xxe.plist')).why).toMatch(/not a plain label/);
  }, T(180_000, 900_000));

  it('an in-place migration never replaces a wo record, and a foreign file at a record path in another root is left alone', () => {
    const home = tempDir('wo-hmig2-');
    const old = path.join(home, 'old');
    const root = path.join(home, 'root');
    write(path.join(root, 'wo.config.yaml'), 'http:\n  enabled: false\n');
    write(path.join(root, 'g/followup/state/WO-A.json'), 'not wo');
    write(path.join(old, 'g/followup/state/WO-A.json'), JSON.stringify({ id: 'WO-A', status: 'done' }));
    const r = runCli(['migrate', '--from', old, '--json'], { root });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.applied.imported).toEqual([]);
    expect(out.state[0].why).toMatch(/not wo's, left alone/);
    expect(fs.readFileSync(path.join(root, 'g/followup/state/WO-A.json'), 'utf8')).toBe('not wo');
  });
});
