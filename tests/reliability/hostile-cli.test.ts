/** Hostile input to the CLI: oversized, binary and empty stdin; state file names built to run code in a completion; fake roots. */
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { CLI, childEnv, runCli, tempDir, tempRoot } from '../helpers.js';
import { size } from './common.js';

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

describe('hostile stdin to wo submit -', () => {
  it('over limits.wo_bytes, binary, empty or not a mapping: exit 2, nothing dropped', () => {
    const root = tempRoot('http:\n  enabled: false\nlimits:\n  wo_bytes: 4096\n');
    const big = `wo_id: BIG\ntitle: t\ntype: exec\ndescription: "${'x'.repeat(size(10_000, 5_000_000))}"\n`;
    const cases: [string, string | Buffer, RegExp][] = [
      ['oversized', big, /over the limit of 4096/],
      ['binary', Buffer.from([0x77, 0x6f, 0x00, 0x01, 0xff]), /binary data/],
      ['empty', '', /empty|mapping/],
      ['a list', '- a\n- b\n', /mapping/],
      ['JSON with a duplicate key', '{"wo_id":"A","wo_id":"B","title":"t","type":"exec"}', /duplicate/],
    ];
    for (const [what, input, msg] of cases) {
      const r = spawnSync(process.execPath, [CLI, 'submit', '-', '--root', root], { input, env: childEnv(), encoding: 'utf8', timeout: 60_000 });
      expect(r.status, `${what}: ${r.stderr}`).toBe(2);
      expect(r.stderr, what).toMatch(msg);
    }
    expect(fs.existsSync(path.join(root, 'bridge/inbox/CLC'))).toBe(false);
  });
});

describe('hostile names in g/followup/state', () => {
  it('are never offered as completions, so a completion cannot run them', () => {
    const root = tempRoot();
    const state = path.join(root, 'g/followup/state');
    fs.mkdirSync(state, { recursive: true });
    const marker = path.join(tempDir(), 'PWNED');
    const evil = [`$(touch ${marker}).json`, '`touch x`.json', 'a b.json', 'line\nbreak.json', '..json', `${'A'.repeat(129)}.json`];
    for (const n of [...evil, 'WO-GOOD.json']) fs.writeFileSync(path.join(state, n.replace(/\//g, '_')), '{}');
    const ids = runCli(['__complete-ids'], { root });
    expect(ids.code).toBe(0);
    expect(ids.stdout).toBe('WO-GOOD\n');
    const bin = tempDir();
    fs.writeFileSync(path.join(bin, 'wo'), `#!/bin/sh\nexec ${q(process.execPath)} ${q(CLI)} "$@"\n`, { mode: 0o755 });
    const r = spawnSync('bash', ['-c', `source <(wo completion bash) && COMP_WORDS=(wo show '') && COMP_CWORD=2 && _wo && printf '%s\\n' "\${COMPREPLY[@]}"`], { env: { ...childEnv(), PATH: `${bin}:${process.env.PATH}`, WO_ROOT: root }, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('WO-GOOD\n');
    expect(fs.existsSync(marker)).toBe(false);
  });
});

describe('fake roots on the way up', () => {
  it('a wo.config.yaml folder or a lone bridge/ does not make a root', () => {
    const top = fs.realpathSync(tempDir());
    fs.mkdirSync(path.join(top, 'wo.config.yaml'));
    fs.mkdirSync(path.join(top, 'bridge'));
    fs.mkdirSync(path.join(top, 'sub'));
    const r = spawnSync(process.execPath, [CLI, 'status', '--json'], { cwd: path.join(top, 'sub'), env: childEnv(), encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).daemon.root).toBe(path.join(top, 'sub'));
  });
});
