import { afterEach, describe, expect, it } from 'vitest';
import { cgroup2Mount, cgroupDir, cgroupV2Path, descendantsOf, environHas, parseStat, type ProcStat } from '../../src/exec/tree.js';
import { clearSecrets, redact, redactedTail, registerSecret } from '../../src/exec/redact.js';

describe('process-table parsing', () => {
  it('reads ppid, pgid and start time from a stat line, even with spaces and parentheses in the name', () => {
    const line = '4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 987654 1234 56 18446744073709551615';
    expect(parseStat(4242, line)).toEqual({ pid: 4242, ppid: 1, pgid: 4242, start: '987654' });
    expect(parseStat(7, '7 (sleep) Z 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0')).toBeUndefined();
    expect(parseStat(7, 'garbage')).toBeUndefined();
  });

  it('finds every descendant through ppid links, not the roots, and survives cycles', () => {
    const p = (pid: number, ppid: number): ProcStat => ({ pid, ppid, pgid: 0, start: '1' });
    const table = [p(10, 1), p(11, 10), p(12, 11), p(13, 12), p(20, 1), p(21, 20), p(30, 31), p(31, 30)];
    expect(descendantsOf([10], table).map((x) => x.pid).sort()).toEqual([11, 12, 13]);
    expect(descendantsOf([12, 20], table).map((x) => x.pid).sort()).toEqual([13, 21]);
    expect(descendantsOf([30], table).map((x) => x.pid)).toEqual([31]);
  });

  it('matches a whole environ entry only', () => {
    const env = (...e: string[]) => Buffer.from(e.join('\0') + '\0');
    expect(environHas(env('PATH=/bin', 'WO_RUN=abc'), 'WO_RUN=abc')).toBe(true);
    expect(environHas(env('WO_RUN=abc', 'X=1'), 'WO_RUN=abc')).toBe(true);
    expect(environHas(env('WO_RUN=abcd'), 'WO_RUN=abc')).toBe(false);
    expect(environHas(env('XWO_RUN=abc'), 'WO_RUN=abc')).toBe(false);
    expect(environHas(Buffer.from('A=1\0WO_RUN=abc'), 'WO_RUN=abc')).toBe(true);
    expect(environHas(Buffer.from('A=1\0XWO_RUN=abc'), 'WO_RUN=abc')).toBe(false);
  });

  it('locates the cgroup v2 folder from /proc/self/cgroup and mountinfo (hybrid and pure v2)', () => {
    expect(cgroupV2Path('9:name=systemd:/\n4:memory:/x\n0::/\n')).toBe('/');
    expect(cgroupV2Path('0::/user.slice/user-1000.slice/user@1000.service/app.slice/wo.service\n')).toBe('/user.slice/user-1000.slice/user@1000.service/app.slice/wo.service');
    expect(cgroupV2Path('4:memory:/x\n')).toBeUndefined();
    const hybrid = '35 25 0:30 / /sys/fs/cgroup/cpu rw,relatime shared:9 - cgroup cgroup rw,cpu\n44 25 0:39 / /sys/fs/cgroup/unified rw,relatime shared:18 - cgroup2 cgroup2 rw\n';
    const m = cgroup2Mount(hybrid)!;
    expect(m).toEqual({ root: '/', mountPoint: '/sys/fs/cgroup/unified' });
    expect(cgroupDir(m, '/')).toBe('/sys/fs/cgroup/unified');
    expect(cgroupDir(m, '/a/b')).toBe('/sys/fs/cgroup/unified/a/b');
    expect(cgroupDir({ root: '/docker/x', mountPoint: '/sys/fs/cgroup' }, '/docker/x/y')).toBe('/sys/fs/cgroup/y');
    expect(cgroupDir({ root: '/docker/x', mountPoint: '/sys/fs/cgroup' }, '/other')).toBeUndefined();
    expect(cgroup2Mount('30 1 0:26 / /sys/fs/cgroup\\040x rw - cgroup2 cgroup2 rw\n')).toEqual({ root: '/', mountPoint: '/sys/fs/cgroup x' });
    expect(cgroup2Mount('')).toBeUndefined();
  });
});

describe('redaction', () => {
  afterEach(() => clearSecrets());
  const token = 'a'.repeat(8) + '0123456789abcdef0123456789abcdef';

  it('replaces every occurrence of a registered secret', () => {
    registerSecret(token, 'token');
    expect(redact(`x ${token} y ${token}`)).toBe('x [redacted: token] y [redacted: token]');
    registerSecret('short', 'ignored'); // too short to be a secret worth matching
    expect(redact('short')).toBe('short');
  });

  it('never keeps part of a secret cut at the edge of a tail, wherever the stream was cut', () => {
    registerSecret(token, 'token');
    const L = token.length;
    const stream = Buffer.from(`head ${token} mid ${token} ${'z'.repeat(30)} ${token} end`);
    for (let max = 1; max < stream.length; max++) {
      // what Tail keeps: the last max + L bytes (cut when the stream was longer)
      const kept = stream.subarray(Math.max(0, stream.length - max - L));
      const t = redactedTail(kept, max, kept.length < stream.length);
      expect(Buffer.byteLength(t)).toBeLessThanOrEqual(max);
      for (let i = 0; i + 6 <= L; i++) expect(t, `max ${max}`).not.toContain(token.slice(i, i + 6));
    }
  });
});
