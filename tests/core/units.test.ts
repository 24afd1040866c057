import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { parseWo } from '../../src/wo/parse.js';
import { parseConfig } from '../../src/config/load.js';
import { moveUnique, writeFileAtomic, dropFileUnique } from '../../src/util/fsx.js';
import { Telemetry, repairTornTail, readTelemetry } from '../../src/state/telemetry.js';
import { completeness, isIgnoredName } from '../../src/daemon/intake.js';
import { acquireLock, readLock } from '../../src/daemon/lock.js';
import { takeSnapshot, restoreSnapshot } from '../../src/snapshot/backup.js';
import { planRoute, assignId, targetLane } from '../../src/processors/route.js';
import { runCommand } from '../../src/exec/run.js';
import { tempDir } from '../helpers.js';

const LIMITS = { wo_bytes: 1 << 20, file_bytes: 1 << 16, files: 5 };
const parse = (text: string, name = 'a.yaml', entry = false) => parseWo(Buffer.from(text), name, { ...LIMITS, entry });

describe('parseWo', () => {
  it('refuses an unknown top-level field with a did-you-mean, and takes x- fields', () => {
    const r = parse('wo_id: A.b-1\ntitle: t\ntype: exec\npost_verfy: ["x"]\nx-ticket: 42\n');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.code).toBe('INVALID');
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatchObject({ path: 'post_verfy' });
    expect(r.errors[0]!.message).toContain("did you mean 'post_verify'");
    const ok = parse('wo_id: A\ntitle: t\ntype: exec\nx-ticket: 42\n');
    expect(ok.ok && ok.wo.extra).toEqual({ 'x-ticket': 42 });
    expect(ok.ok && ok.warnings).toEqual([]);
  });
  it('accepts the seed format and, lenient, keeps unknown fields as warnings with a did-you-mean', () => {
    const r = parseWo(Buffer.from('wo_id: A.b-1\ntitle: t\ntype: apply_patch\npost_verfy: ["x"]\nfiles:\n  - path: a\n    mode: "0755"\n    content: hi\n'), 'a.yaml', { ...LIMITS, lenient: true });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.wo.files[0]).toMatchObject({ path: 'a', mode: 0o755 });
    expect(r.wo.extra).toEqual({ post_verfy: ['x'] });
    expect(r.warnings[0]).toContain("did you mean 'post_verify'");
  });
  it.each([
    ['unquoted mode', 'wo_id: A\ntitle: t\ntype: apply_patch\nfiles:\n  - path: a\n    mode: 0644\n    content: x\n', 'files.0.mode', /decimal number 644/],
    ['sticky bit', 'wo_id: A\ntitle: t\ntype: apply_patch\nfiles:\n  - path: a\n    mode: "1777"\n    content: x\n', 'files.0.mode', /sticky/],
    ['both contents', 'wo_id: A\ntitle: t\ntype: apply_patch\nfiles:\n  - path: a\n    content: x\n    content_base64: eA==\n', 'files.0', /exactly one/],
    ['too many files', `wo_id: A\ntitle: t\ntype: apply_patch\nfiles:\n${'  - {path: a, content: x}\n'.repeat(6)}`, 'files', /more than 5/],
    ['exec with files', 'wo_id: A\ntitle: t\ntype: exec\nfiles:\n  - {path: a, content: x}\n', 'type', /apply_patch/],
    ['missing wo_id', 'title: t\ntype: exec\n', 'wo_id', /required outside the ENTRY lane/],
    ['bad priority', 'wo_id: A\ntitle: t\ntype: exec\npriority: urgent\n', 'priority', /P0, P1, P2, P3/],
    ['unknown nested key', 'wo_id: A\ntitle: t\ntype: exec\ntests:\n  - {name: n, command: c, expect: x}\n', 'tests.0', /expect/],
  ])('refuses %s with the field and the fix', (_n, text, field, msg) => {
    const r = parse(text);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const e = r.errors.find((x) => x.path.startsWith(field));
    expect(e, JSON.stringify(r.errors)).toBeDefined();
    expect(`${e!.path}: ${e!.message}`).toMatch(msg);
  });
  it('refuses several YAML documents, a non-mapping, a wrong extension, and content over the limit', () => {
    expect(parse('a: 1\n---\nb: 2\n')).toMatchObject({ ok: false, code: 'PARSE_ERROR' });
    expect(parse('- 1\n- 2\n')).toMatchObject({ ok: false, code: 'INVALID' });
    expect(parse('{}', 'a.txt')).toMatchObject({ ok: false, code: 'PARSE_ERROR' });
    expect(parse(`wo_id: A\ntitle: t\ntype: apply_patch\nfiles:\n  - path: a\n    content: "${'x'.repeat(70_000)}"\n`)).toMatchObject({ ok: false });
  });
  it('lets ENTRY WOs omit wo_id and type (inferred)', () => {
    const r = parse('title: t\nfiles:\n  - {path: a, content: x}\n', 'a.yaml', true);
    expect(r.ok && r.wo.type).toBe('apply_patch');
  });
});

describe('config', () => {
  it('resolves every default and applies WO_DRY_RUN', () => {
    const c = parseConfig('', '/r', { WO_DRY_RUN: '1' });
    expect(c).toMatchObject({ lanes: ['ENTRY', 'CLC'], concurrency: 2, attempts: 3, intake: { settle_ms: 200, rescan_s: 30 }, http: { enabled: true, port: 8765 }, dryRun: true, portExplicit: false });
    expect(c.policy.allow_commands).toContain('mkdir');
    expect(parseConfig('http:\n  port: 9000\n', '/r', {}).portExplicit).toBe(true);
  });
  it('names unknown keys with a did-you-mean, and wrong types', () => {
    expect(() => parseConfig('concurency: 3\n', '/r', {})).toThrow(/concurency: unknown key \(did you mean 'concurrency'\?\)/);
    expect(() => parseConfig('guardrail:\n  sweepp_s: 3\n', '/r', {})).toThrow(/guardrail.sweepp_s: unknown key \(did you mean 'sweep_s'\?\)/);
    expect(() => parseConfig('policy:\n  autonomy: yolo\n', '/r', {})).toThrow(/policy.autonomy/);
    expect(() => parseConfig('lanes: [ok, "../x"]\n', '/r', {})).toThrow(/lanes.1/);
  });
});

describe('durable file primitives', () => {
  it('moveUnique never replaces an existing file (owned and shared destinations)', async () => {
    const d = tempDir();
    for (const mode of ['owned', 'shared'] as const) {
      const dest = path.join(d, mode);
      fs.mkdirSync(dest);
      fs.writeFileSync(path.join(dest, 'x.yaml'), 'existing');
      fs.writeFileSync(path.join(d, 'src1'), 'one');
      fs.writeFileSync(path.join(d, 'src2'), 'two');
      const a = await moveUnique(path.join(d, 'src1'), dest, 'x.yaml', { dest: mode });
      const b = await moveUnique(path.join(d, 'src2'), dest, 'x.yaml', { dest: mode });
      expect([path.basename(a), path.basename(b)]).toEqual(['x.1.yaml', 'x.2.yaml']);
      expect(fs.readFileSync(path.join(dest, 'x.yaml'), 'utf8')).toBe('existing');
      expect(fs.readFileSync(b, 'utf8')).toBe('two');
    }
  });
  it('writeFileAtomic applies the mode despite the umask and leaves no temp on failure', async () => {
    const d = tempDir();
    const f = path.join(d, 'a.txt');
    await writeFileAtomic(f, 'x', { mode: 0o755 });
    expect(fs.statSync(f).mode & 0o777).toBe(0o755);
    await expect(writeFileAtomic(path.join(d, 'missing/dir/b'), 'x')).rejects.toThrow();
    expect(fs.readdirSync(d)).toEqual(['a.txt']);
  });
  it('dropFileUnique makes a complete (u+x) file under a free name', async () => {
    const d = tempDir();
    const p1 = await dropFileUnique(d, 'w.yaml', 'a', 0o700);
    const p2 = await dropFileUnique(d, 'w.yaml', 'b', 0o700);
    expect(path.basename(p2)).toBe('w.1.yaml');
    expect(fs.statSync(p1).mode & 0o100).toBe(0o100);
    expect(fs.readdirSync(d).sort()).toEqual(['w.1.yaml', 'w.yaml']);
  });
});

describe('telemetry', () => {
  it('repairs a torn last line, appends whole lines and rotates by size', () => {
    const d = tempDir();
    const f = path.join(d, 'unified.jsonl');
    fs.writeFileSync(f, '{"a":1}\n{"b":2}\n{"tor');
    expect(repairTornTail(f)).toBe(5);
    expect(fs.readFileSync(f, 'utf8')).toBe('{"a":1}\n{"b":2}\n');
    const t = new Telemetry(f, 4096);
    t.open();
    for (let i = 0; i < 100; i++) t.emit('daemon', 'wo_step', { wo_id: `W${i}`, pad: 'x'.repeat(50) });
    t.close();
    const rotated = fs.readdirSync(d).filter((n) => n !== 'unified.jsonl');
    expect(rotated.length).toBeGreaterThan(0);
    expect(fs.statSync(f).size).toBeLessThanOrEqual(4096);
    const all = [f, ...rotated.map((n) => path.join(d, n))].flatMap((p) => fs.readFileSync(p, 'utf8').split('\n').filter(Boolean));
    expect(all.length).toBe(102);
    for (const l of all) JSON.parse(l);
    expect(readTelemetry(f).every((e) => typeof e.ts === 'string')).toBe(true);
  });
});

describe('intake rules', () => {
  it('ignores hidden files and writer leftovers', () => {
    expect(['.DS_Store', '.x.yaml', 'a.tmp', 'a.part', 'a.yaml~'].map(isIgnoredName)).toEqual([true, true, true, true, true]);
    expect(isIgnoredName('WO-1.yaml')).toBe(false);
  });
  it('owner-execute means complete; otherwise size and mtime must be stable for settle_ms', () => {
    expect(completeness({ mode: 0o700, size: 1, mtimeMs: 1 }, undefined, 0, 200)).toBe('complete');
    expect(completeness({ mode: 0o600, size: 1, mtimeMs: 1 }, undefined, 0, 200)).toBe('settling');
    expect(completeness({ mode: 0o600, size: 1, mtimeMs: 1 }, { size: 1, mtimeMs: 1, since: 0 }, 150, 200)).toBe('settling');
    expect(completeness({ mode: 0o600, size: 1, mtimeMs: 1 }, { size: 1, mtimeMs: 1, since: 0 }, 250, 200)).toBe('complete');
    expect(completeness({ mode: 0o600, size: 2, mtimeMs: 1 }, { size: 1, mtimeMs: 1, since: 0 }, 250, 200)).toBe('settling');
  });
});

describe('lock', () => {
  it('one holder at a time; a dead holder is stale and taken over', async () => {
    const d = tempDir();
    const lockFile = path.join(d, 'daemon.lock');
    const a = await acquireLock(lockFile, d);
    expect('release' in a).toBe(true);
    const b = await acquireLock(lockFile, d);
    expect(b).toEqual({ held: expect.objectContaining({ pid: process.pid }) });
    if ('release' in a) await a.release();
    fs.writeFileSync(lockFile, JSON.stringify({ pid: 2 ** 22 + 17, started_at: 'x', root: d }));
    expect((await readLock(lockFile)).stale).toBe(true);
    const c = await acquireLock(lockFile, d);
    expect('release' in c && c.tookOver?.pid).toBe(2 ** 22 + 17);
  });
});

describe('snapshot', () => {
  it('restores bytes, modes, absence and folder contents exactly', async () => {
    const root = tempDir();
    const backups = tempDir();
    fs.writeFileSync(path.join(root, 'a'), 'A', { mode: 0o640 });
    fs.mkdirSync(path.join(root, 'dir'));
    fs.writeFileSync(path.join(root, 'dir/keep'), 'K');
    const targets = ['a', 'new/deep/b', 'dir'].map((rel) => ({ abs: path.join(root, rel), rel, base: root }));
    const m = await takeSnapshot(backups, 'WO-S', 1, targets);
    fs.writeFileSync(path.join(root, 'a'), 'changed');
    fs.chmodSync(path.join(root, 'a'), 0o777);
    fs.mkdirSync(path.join(root, 'new/deep'), { recursive: true });
    fs.writeFileSync(path.join(root, 'new/deep/b'), 'B');
    fs.writeFileSync(path.join(root, 'dir/junk'), 'J');
    fs.rmSync(path.join(root, 'dir/keep'));
    await restoreSnapshot(backups, m);
    expect(fs.readFileSync(path.join(root, 'a'), 'utf8')).toBe('A');
    expect(fs.statSync(path.join(root, 'a')).mode & 0o777).toBe(0o640);
    expect(fs.existsSync(path.join(root, 'new'))).toBe(false);
    expect(fs.readdirSync(path.join(root, 'dir'))).toEqual(['keep']);
  });
});

describe('route planning', () => {
  const cfg = parseConfig('route:\n  rules:\n    - when: { type: exec }\n      lane: OPS\n', '/r', {});
  it('assigns ids, picks lanes by lane, rule, default', () => {
    expect(assignId('Fix the Thing!', new Date('2025-11-13T23:45:01Z'))).toMatch(/^WO-20251113-234501-fix-the-thing-[0-9a-f]{4}$/);
    expect(targetLane({ lane: 'X' }, cfg)).toBe('X');
    expect(targetLane({ type: 'exec' }, cfg)).toBe('OPS');
    expect(targetLane({ type: 'apply_patch' }, cfg)).toBe('CLC');
    // when.lane matches the lane a WO asks for (it was in the schema and the docs but ignored)
    const byLane = parseConfig(
      'route:\n  rules:\n    - when: { lane: FAST, owner: bot }\n      lane: SLOW\n    - when: { lane: OLD }\n      lane: NEW\n    - when: { owner: bot }\n      lane: BOT\n',
      '/r',
      {},
    );
    expect(targetLane({ lane: 'OLD' }, byLane)).toBe('NEW');
    expect(targetLane({ lane: 'FAST', owner: 'bot' }, byLane)).toBe('SLOW');
    expect(targetLane({ lane: 'FAST', owner: 'amy' }, byLane)).toBe('FAST');
    expect(targetLane({ owner: 'bot' }, byLane)).toBe('BOT');
    expect(targetLane({ lane: 'X', owner: 'bot' }, byLane)).toBe('X');
    const d = planRoute({ wos: [{ title: 'a', commands: ['true'] }, { wo_id: 'KEEP', title: 'b', files: [{ path: 'x', content: 'y' }] }] }, cfg, new Date());
    expect(d.map((x) => [x.lane, JSON.parse(x.text).type])).toEqual([['OPS', 'exec'], ['CLC', 'apply_patch']]);
    expect(d[1]!.wo_id).toBe('KEEP');
    expect(planRoute({ title: 'a', commands: ['true'] }, cfg, new Date(), ['WO-REUSED'])[0]!.wo_id).toBe('WO-REUSED');
  });
  it('refuses the whole bundle when one WO is invalid', () => {
    expect(() => planRoute({ wos: [{ title: 'ok' }, { type: 'exec' }] }, cfg, new Date())).toThrow(/wos.1.title/);
    expect(() => planRoute({ wos: [] }, cfg, new Date())).toThrow(/no WOs/);
  });
});

describe('runCommand', () => {
  const base = { cwd: '/', env: { PATH: '/usr/bin:/bin' }, timeoutMs: 5000, killGraceMs: 500, tailBytes: 16, phase: 'commands' as const };
  it('keeps only the tail of the output, reports exit codes and spawn failures as data', async () => {
    const r = await runCommand({ kind: 'sh', cmd: 'seq 1 1000; exit 3' }, base);
    expect(r.exit_code).toBe(3);
    expect(r.stdout_tail.length).toBeLessThanOrEqual(16);
    expect(r.stdout_tail.endsWith('1000\n')).toBe(true);
    const missing = await runCommand({ kind: 'argv', argv: ['/no/such/program'] }, base);
    expect(missing.exit_code).not.toBe(0);
    expect(missing.stderr_tail).toMatch(/ENOENT|no such/i);
  });
  it('passes a validate argument as $1, never spliced into the string', async () => {
    const cwd = tempDir();
    const r = await runCommand({ kind: 'sh', cmd: 'echo %s' }, { ...base, cwd, tailBytes: 1000, arg: 'a b; touch pwned' });
    expect(r.stdout_tail).toBe('a b; touch pwned\n');
    expect(fs.existsSync(path.join(cwd, 'pwned'))).toBe(false);
  });
});
