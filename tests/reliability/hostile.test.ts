/**
 * A hostile corpus through the real daemon: every file ends rejected (or failed/held) with a reason, not one
 * byte is written outside the root (a sentinel folder next to it is compared byte for byte), nothing runs
 * that the WO smuggled in, and the daemon is still up and takes the next good WO.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, tempDir, tempRoot, waitFor, readRecord } from '../helpers.js';
import { dropAtomic, daemonPool } from './common.js';

const pool = daemonPool();
const startDaemon = pool.start;
afterEach(() => pool.cleanup());

interface Case {
  name: string;
  /** File name in the inbox. */
  file: string;
  /** Bytes of the file (or a setup that creates it). */
  text?: string | Buffer;
  drop?: (inbox: string) => void;
  /** The WO id when it has a usable one (its record is checked). */
  id?: string;
}

/** Every file below `dir` with its bytes (symlinks as their target text). */
function snapshotTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isSymbolicLink()) out[path.relative(dir, p)] = `-> ${fs.readlinkSync(p)}`;
      else out[path.relative(dir, p)] = fs.readFileSync(p).toString('base64');
    }
  };
  walk(dir);
  return out;
}

function findNamed(dir: string, needle: string, depth = 6): string[] {
  const hits: string[] = [];
  const walk = (d: string, n: number) => {
    let ents: fs.Dirent[];
    try {
      ents = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of ents) {
      if (e.name.startsWith(needle)) hits.push(path.join(d, e.name));
      if (e.isDirectory() && n > 0) walk(path.join(d, e.name), n - 1);
    }
  };
  walk(dir, depth);
  return hits;
}

const wo = (id: string, body: string) => `wo_id: ${id}\ntitle: hostile ${id}\ntype: apply_patch\n${body}`;

describe('reliability: hostile corpus', () => {
  it('every hostile WO ends rejected, failed or held with a reason; 0 bytes outside the root; the daemon stays up', async () => {
    const root = tempRoot('http:\n  enabled: false\n');
    const sentinel = tempDir('wo-sentinel-');
    fs.writeFileSync(path.join(sentinel, 's.txt'), 'sentinel\n');
    fs.writeFileSync(path.join(sentinel, 'h.txt'), 'hard-linked sentinel\n');
    fs.mkdirSync(path.join(sentinel, 'sub'));
    const rel = path.relative(root, sentinel); // ../wo-sentinel-XXXX
    // Escape hatches planted inside the root.
    fs.symlinkSync(sentinel, path.join(root, 'link'));
    fs.symlinkSync(path.join(sentinel, 's.txt'), path.join(root, 'lf.txt'));
    fs.linkSync(path.join(sentinel, 'h.txt'), path.join(root, 'hl.txt'));
    fs.mkdirSync(path.join(root, 'tools'));
    fs.writeFileSync(path.join(root, 'tools/x.sh'), 'echo hi\n');
    const before = snapshotTree(sentinel);
    const pwned = `pwned${process.pid}`;

    const bomb = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]', ...'bcdefghi'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(',')}]`), 'wo_id: BOMB', 'title: bomb', 'type: apply_patch', 'files: []'].join('\n') + '\n';
    const cases: Case[] = [
      { name: 'relative traversal', file: 'trav.yaml', id: 'TRAV', text: wo('TRAV', `files:\n  - path: ${rel}/evil.txt\n    content: "x"\n`) },
      { name: 'traversal inside a path', file: 'trav2.yaml', id: 'TRAV2', text: wo('TRAV2', `files:\n  - path: tools/../../${path.basename(sentinel)}/evil.txt\n    content: "x"\n`) },
      { name: 'absolute path outside', file: 'abs.yaml', id: 'ABS', text: wo('ABS', `files:\n  - path: ${sentinel}/abs.txt\n    content: "x"\n`) },
      { name: 'symlinked folder escape', file: 'symdir.yaml', id: 'SYMDIR', text: wo('SYMDIR', 'files:\n  - path: link/evil.txt\n    content: "x"\n') },
      { name: 'symlinked file escape', file: 'symfile.yaml', id: 'SYMFILE', text: wo('SYMFILE', 'files:\n  - path: lf.txt\n    content: "overwritten"\n') },
      { name: 'hard-linked target', file: 'hard.yaml', id: 'HARD', text: wo('HARD', 'files:\n  - path: hl.txt\n    content: "overwritten"\n') },
      { name: 'delete outside', file: 'del.yaml', id: 'DEL', text: wo('DEL', `delete: [${rel}/s.txt]\n`) },
      { name: 'delete through a symlink', file: 'del2.yaml', id: 'DEL2', text: wo('DEL2', 'delete: [link/s.txt]\n') },
      { name: 'patch outside', file: 'patch.yaml', id: 'PATCH', text: wo('PATCH', `patches:\n  - path: ${rel}/s.txt\n    diff: |\n      @@ -1 +1 @@\n      -sentinel\n      +patched\n`) },
      { name: 'exec paths outside', file: 'execp.yaml', id: 'EXECP', text: `wo_id: EXECP\ntitle: x\ntype: exec\npaths: [${rel}]\ncommands:\n  - "true"\n` },
      { name: 'write into g/', file: 'g.yaml', id: 'GWRITE', text: wo('GWRITE', 'files:\n  - path: g/followup/state/VICTIM.json\n    content: "{}"\n') },
      { name: 'write into bridge/', file: 'bridge.yaml', id: 'BWRITE', text: wo('BWRITE', 'files:\n  - path: bridge/inbox/CLC/sneaky.yaml\n    content: "wo_id: SNEAKY"\n') },
      { name: 'alias bomb', file: 'bomb.yaml', text: bomb },
      { name: 'oversized (> 16 MiB)', file: 'huge.yaml', text: `wo_id: HUGE\ntitle: huge\ntype: apply_patch\n# ${'x'.repeat(17 * 1024 * 1024)}\n` },
      { name: 'content over 10 MiB', file: 'bigcontent.yaml', id: 'BIGC', text: wo('BIGC', `files:\n  - path: big.bin\n    content_base64: ${Buffer.alloc(11 * 1024 * 1024, 1).toString('base64')}\n`) },
      { name: 'binary file', file: 'binary.yaml', text: Buffer.concat([Buffer.from('wo_id: BIN\ntitle: b\n'), Buffer.from([0, 1, 2, 255, 0])]) },
      { name: 'not UTF-8 garbage', file: 'garbage.yaml', text: Buffer.from([0xff, 0xfe, 0x3a, 0x3a, 0x5b, 0x7b, 0x0a]) },
      { name: 'duplicate keys (YAML)', file: 'dupy.yaml', text: 'wo_id: DUPY\nwo_id: DUPY2\ntitle: d\ntype: apply_patch\n' },
      { name: 'duplicate keys (JSON)', file: 'dupj.json', text: '{"wo_id":"DUPJ","title":"d","type":"apply_patch","type":"exec"}' },
      { name: 'unquoted mode', file: 'mode.yaml', id: 'MODE', text: wo('MODE', 'files:\n  - path: m.txt\n    mode: 0644\n    content: "m"\n') },
      { name: 'setuid mode', file: 'suid.yaml', id: 'SUID', text: wo('SUID', 'files:\n  - path: s.sh\n    mode: "4755"\n    content: "#!/bin/sh\\n"\n') },
      { name: 'id with traversal', file: 'badid1.yaml', text: 'wo_id: ../../g/run/daemon\ntitle: x\ntype: apply_patch\nfiles: []\n' },
      { name: 'id with a space', file: 'badid2.yaml', text: 'wo_id: "a b"\ntitle: x\ntype: apply_patch\nfiles: []\n' },
      { name: 'id too long', file: 'badid3.yaml', text: `wo_id: ${'A'.repeat(200)}\ntitle: x\ntype: apply_patch\nfiles: []\n` },
      { name: 'id that is a dot', file: 'badid4.yaml', text: 'wo_id: "."\ntitle: x\ntype: apply_patch\nfiles: []\n' },
      { name: 'path over 4096 bytes', file: 'longpath.yaml', id: 'LONGP', text: wo('LONGP', `files:\n  - path: ${'d/'.repeat(2100)}x.txt\n    content: "x"\n`) },
      { name: 'route outside ENTRY', file: 'route.yaml', id: 'ROUTE', text: 'wo_id: ROUTE\ntitle: r\ntype: route\n' },
      { name: 'validate injection (held: sh not allowed)', file: 'inj1.yaml', id: 'INJ1', text: wo('INJ1', `files:\n  - path: "x;touch ${pwned}"\n    content: "echo hi\\n"\n    validate: "sh -n %s"\n`) },
      { name: 'validate injection (runs, fails)', file: 'inj2.yaml', id: 'INJ2', text: wo('INJ2', `files:\n  - path: "y$(touch ${pwned}2);touch ${pwned}3"\n    content: "z\\n"\n    validate: "test ! -s %s"\n`) },
      { name: 'command injection held', file: 'inj3.yaml', id: 'INJ3', text: wo('INJ3', `files:\n  - path: ok3.txt\n    content: "z"\npost_verify:\n  - "test -f ok3.txt; touch ${sentinel}/${pwned}4"\n`) },
      { name: 'redirect outside held', file: 'inj4.yaml', id: 'INJ4', text: wo('INJ4', `files:\n  - path: ok4.txt\n    content: "z"\npost_verify:\n  - "echo x > ${sentinel}/${pwned}5"\n`) },
      { name: 'substitution held', file: 'inj5.yaml', id: 'INJ5', text: wo('INJ5', `files:\n  - path: ok5.txt\n    content: "z"\npost_verify:\n  - "echo $(touch ${sentinel}/${pwned}6)"\n`) },
      { name: 'symlink dropped in the inbox', file: 'sym.yaml', drop: (inbox) => fs.symlinkSync(path.join(sentinel, 's.txt'), path.join(inbox, 'sym.yaml')) },
      { name: 'fifo dropped in the inbox', file: 'fifo.yaml', drop: (inbox) => { spawnSync('mkfifo', [path.join(inbox, 'fifo.yaml')]); } },
      { name: 'unknown type', file: 'type.yaml', id: 'TYPE', text: 'wo_id: TYPE\ntitle: t\ntype: rm_rf\n' },
      { name: 'too many files', file: 'many.yaml', id: 'MANY', text: wo('MANY', `files:\n${Array.from({ length: 1001 }, (_, i) => `  - path: m/${i}.txt\n    content: "x"\n`).join('')}`) },
    ];

    const d = await startDaemon(root);
    const inbox = path.join(root, 'bridge/inbox/CLC');
    for (const c of cases) {
      if (c.drop) c.drop(inbox);
      else dropAtomic(inbox, c.file, c.text!);
    }
    const outcome = (c: Case): { where: string; code?: string; reason?: string } | undefined => {
      const rej = path.join(root, 'bridge/rejected', `${c.file}.reason.json`);
      if (fs.existsSync(rej)) {
        const r = JSON.parse(fs.readFileSync(rej, 'utf8'));
        return { where: 'rejected', code: r.code, reason: r.errors?.map((e: { path: string; message: string }) => `${e.path}: ${e.message}`).join('; ') };
      }
      const rec = c.id ? readRecord(root, c.id) : undefined;
      if (rec && ['failed', 'rejected', 'awaiting_approval', 'succeeded', 'cancelled'].includes(rec.status)) {
        return { where: rec.status, code: rec.error?.code, reason: rec.error?.message ?? rec.hold_reasons?.join('; ') };
      }
      return undefined;
    };
    await waitFor(() => cases.every((c) => outcome(c)), { timeout: 90_000, interval: 100, what: `every hostile case ended (${cases.filter((c) => !outcome(c)).map((c) => c.name).join(', ')})` });

    const rows = cases.map((c) => ({ name: c.name, ...outcome(c)! }));
    for (const r of rows) console.log(`[hostile] ${r.name.padEnd(42)} ${r.where.padEnd(18)} ${(r.code ?? '').padEnd(15)} ${(r.reason ?? '').slice(0, 110)}`);
    const bad = rows.filter((r) => !['rejected', 'failed', 'awaiting_approval'].includes(r.where) || !r.reason);
    expect(bad).toEqual([]);
    // Not one byte outside the root, nothing smuggled ran.
    expect(snapshotTree(sentinel)).toEqual(before);
    expect(findNamed(root, pwned)).toEqual([]);
    expect(findNamed(path.dirname(root), pwned, 1)).toEqual([]);
    expect(fs.readlinkSync(path.join(root, 'lf.txt'))).toBe(path.join(sentinel, 's.txt'));
    expect(fs.existsSync(path.join(root, 'g/followup/state/VICTIM.json'))).toBe(false);
    expect(fs.existsSync(path.join(root, 'bridge/inbox/CLC/sneaky.yaml'))).toBe(false);
    // A person approves the held validate-injection WO: its hostile file name is only ever an argument.
    expect(runCli(['approve', 'INJ1'], { root }).code).toBe(0);
    await waitFor(() => ['succeeded', 'failed'].includes(readRecord(root, 'INJ1')?.status), { timeout: 30_000, what: 'INJ1 after approval' });
    console.log(`[hostile] INJ1 after approval: ${readRecord(root, 'INJ1')!.status}`);
    expect(readRecord(root, 'INJ1')!.status).toBe('succeeded');
    expect(fs.readFileSync(path.join(root, `x;touch ${pwned}`), 'utf8')).toBe('echo hi\n');
    expect(findNamed(root, pwned)).toEqual([]);
    expect(findNamed(path.dirname(root), pwned, 1)).toEqual([]);
    expect(snapshotTree(sentinel)).toEqual(before);
    // Still up, and the next good WO succeeds.
    expect(d.child.exitCode).toBeNull();
    dropAtomic(inbox, 'good.yaml', wo('GOOD', 'files:\n  - path: good.txt\n    content: "good\\n"\n'));
    await waitFor(() => readRecord(root, 'GOOD')?.status === 'succeeded', { timeout: 30_000, what: 'the good WO after the corpus' });
    expect(fs.readFileSync(path.join(root, 'good.txt'), 'utf8')).toBe('good\n');
    expect(await d.stop()).toBe(0);
  }, 150_000);
});
