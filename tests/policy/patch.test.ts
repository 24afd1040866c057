import { describe, expect, it } from 'vitest';
import { applyUnifiedDiff, isProbablyText, planDiff, unifiedDiff } from '../../src/processors/patch.js';
import { WoError } from '../../src/errors.js';

const twenty = Array.from({ length: 20 }, (_, i) => `line${i + 1}`).join('\n') + '\n';

function patchError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(WoError);
    expect((err as WoError).code).toBe('PATCH_FAILED');
    return (err as WoError).message;
  }
  throw new Error('expected PATCH_FAILED');
}

describe('applyUnifiedDiff', () => {
  it('applies a diff with ---/+++ headers and two hunks', () => {
    const d = '--- a/tools/x.sh\n+++ b/tools/x.sh\n@@ -1,3 +1,3 @@\n line1\n-line2\n+LINE2\n line3\n@@ -10,3 +10,4 @@\n line10\n-line11\n+eleven\n+eleven-b\n line12\n';
    const out = applyUnifiedDiff(twenty, d, 'tools/x.sh').split('\n');
    expect(out.slice(0, 3)).toEqual(['line1', 'LINE2', 'line3']);
    expect(out.slice(9, 13)).toEqual(['line10', 'eleven', 'eleven-b', 'line12']);
    expect(out).toHaveLength(22); // 21 lines + the final ''
  });

  it('applies a bare single hunk without headers (and the short @@ -2 +2 @@ form)', () => {
    expect(applyUnifiedDiff('a\nb\nc\n', '@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n', 'f')).toBe('a\nB\nc\n');
    expect(applyUnifiedDiff('a\nb\nc\n', '@@ -2 +2 @@\n-b\n+B\n', 'f')).toBe('a\nB\nc\n');
  });

  it('creates a file from an empty original with @@ -0,0 +1,N @@', () => {
    expect(applyUnifiedDiff('', '@@ -0,0 +1,2 @@\n+hello\n+world\n', 'new.txt')).toBe('hello\nworld\n');
    expect(applyUnifiedDiff('', '--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1 @@\n+hi\n', 'new.txt')).toBe('hi\n');
  });

  it('names the hunk that does not apply, with the expected and found line', () => {
    const d = '--- a/tools/x.sh\n+++ b/tools/x.sh\n@@ -1,3 +1,3 @@\n line1\n-line2\n+LINE2\n line3\n@@ -10,3 +10,4 @@\n line10\n-foo\n+bar\n+baz\n line12\n';
    expect(patchError(() => applyUnifiedDiff(twenty, d, 'tools/x.sh'))).toBe(
      "patch for tools/x.sh: hunk #2 (@@ -10,3 +10,4 @@) does not apply: expected line 11 'foo', found 'line11'",
    );
  });

  it('names hunk #1 and the end of file when the file is too short', () => {
    expect(patchError(() => applyUnifiedDiff('a\n', '@@ -1,2 +1,2 @@\n a\n-b\n+c\n', 'short.txt'))).toBe(
      "patch for short.txt: hunk #1 (@@ -1,2 +1,2 @@) does not apply: expected line 2 'b', found the end of the file (it has 1 lines)",
    );
  });

  it('is strict: a changed context line fails even when the removed line matches', () => {
    const msg = patchError(() => applyUnifiedDiff('a\nb\nc\n', '@@ -1,3 +1,3 @@\n x\n-b\n+B\n c\n', 'f'));
    expect(msg).toBe("patch for f: hunk #1 (@@ -1,3 +1,3 @@) does not apply: expected line 1 'x', found 'a'");
  });

  it('refuses text that is not a diff, a malformed hunk, and several files in one entry', () => {
    expect(patchError(() => applyUnifiedDiff('a\n', 'just some text\n', 'f'))).toContain('patch for f: holds no hunk');
    expect(patchError(() => applyUnifiedDiff('a\n', '@@ -1,2 +1,2 @@\n a\n', 'f'))).toContain('patch for f: is not a valid unified diff');
    const two = '--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n--- a/y\n+++ b/y\n@@ -1 +1 @@\n-a\n+b\n';
    expect(patchError(() => applyUnifiedDiff('a\n', two, 'x'))).toContain('holds changes for 2 files');
  });
});

describe('unifiedDiff / planDiff / isProbablyText', () => {
  it('writes a/ b/ headers and /dev/null for absent sides', () => {
    expect(unifiedDiff('tools/x.sh', 'a\nb\n', 'a\nc\n')).toBe('--- a/tools/x.sh\n+++ b/tools/x.sh\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n');
    expect(unifiedDiff('n.txt', null, 'hi\n')).toBe('--- /dev/null\n+++ b/n.txt\n@@ -0,0 +1,1 @@\n+hi\n');
    expect(unifiedDiff('old.txt', 'bye\n', null)).toBe('--- a/old.txt\n+++ /dev/null\n@@ -1,1 +0,0 @@\n-bye\n');
    expect(unifiedDiff('same.txt', 'x\n', 'x\n')).toBe('');
  });

  it('round-trips: a plan diff applies to the original', () => {
    const after = twenty.replace('line7\n', 'seven\n').replace('line19\n', '');
    expect(applyUnifiedDiff(twenty, unifiedDiff('f', twenty, after), 'f')).toBe(after);
  });

  it('says "binary file changed" for binary content', () => {
    expect(isProbablyText(Buffer.from('plain text\n'))).toBe(true);
    expect(isProbablyText(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01]))).toBe(false);
    expect(isProbablyText(Buffer.concat([Buffer.alloc(9000, 'a'), Buffer.from([0])]))).toBe(true);
    expect(planDiff('logo.png', null, Buffer.from([0x89, 0x00]))).toBe('binary file changed: logo.png (absent → 2 bytes)\n');
    expect(planDiff('t.txt', Buffer.from('a\n'), Buffer.from('b\n'))).toBe('--- a/t.txt\n+++ b/t.txt\n@@ -1,1 +1,1 @@\n-a\n+b\n');
    expect(planDiff('t.txt', Buffer.from('a\n'), Buffer.from('a\n'))).toBe('');
  });
});

describe('unifiedDiff with one side empty', () => {
  it('writes the same hunk jsdiff would, without running Myers over every added line', async () => {
    const { createTwoFilesPatch, FILE_HEADERS_ONLY } = await import('diff');
    const { unifiedDiff } = await import('../../src/processors/patch.js');
    const cases: [string | null, string | null][] = [[null, 'a\nb\n'], [null, 'a\nb'], ['a\nb\n', null], ['a', null], ['', 'x\n'], ['x\n', ''], [null, ''], ['', null], [null, '\n'], [null, '\n\n'], ['a\n\nb', '']];
    for (const [b, a] of cases) {
      const ref = createTwoFilesPatch(b === null ? '/dev/null' : 'a/x', a === null ? '/dev/null' : 'b/x', b ?? '', a ?? '', undefined, undefined, { context: 3, headerOptions: FILE_HEADERS_ONLY });
      expect(unifiedDiff('x', b, a), JSON.stringify([b, a])).toBe(ref);
    }
    const big = unifiedDiff('x', null, 'line\n'.repeat(50_000));
    expect(big.split('\n').filter((l) => l === '+line')).toHaveLength(50_000);
    expect(big).toMatch(/^--- \/dev\/null\n\+\+\+ b\/x\n@@ -0,0 \+1,50000 @@\n/);
  });
});
