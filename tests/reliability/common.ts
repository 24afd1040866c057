/** Shared by the reliability suite: quick vs full sizes, WO texts, and the end-of-run invariants. */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { readRecord, startDaemon, waitFor, type DaemonHandle } from '../helpers.js';
/** A small seeded PRNG (mulberry32) so a failing storm can be replayed with its seed. */
export { rng } from '../../src/util/rng.js';

/** `WO_RELIABILITY=full` runs the big sizes (npm run test:reliability); the default is the quick suite. */
export const FULL = process.env.WO_RELIABILITY === 'full';
export const size = (quick: number, full: number) => (FULL ? full : quick);

/** Per-test timeouts generous enough for a loaded 2-core machine. */
export const T = (quickMs: number, fullMs: number) => size(quickMs, fullMs);

/** auto: the storm's command WOs (mkdir runs/<id>.$$) run without approval. */
/** Why: hostile WOs end rejected, failed or succeeded; wait for the record to leave queued/running and return it. */
export async function settledRecord(root: string, id: string, timeout = T(60_000, 300_000)): Promise<Record<string, any>> {
  return (await waitFor(() => {
    const x = readRecord(root, id);
    return x && !['queued', 'running', 'pending_approval'].includes(x.status) ? x : undefined;
  }, { timeout, what: `${id} settled` }))!;
}

export const CONFIG = 'http:\n  enabled: false\nconcurrency: 4\nintake:\n  rescan_s: 2\npolicy:\n  autonomy: auto\n';


export const contentOf = (id: string) => `content of ${id}\n`;
export const beforeOf = (id: string) => `before ${id}\n`;

export type Kind = 'new' | 'overwrite' | 'verify' | 'command';

/** A WO that writes exactly one file of its own (out/<id>.txt), optionally with a check or a command. */
export function woText(id: string, kind: Kind): string {
  const rel = `out/${id}.txt`;
  const lines = [`wo_id: ${id}`, `title: "reliability ${id}"`, 'type: apply_patch', 'files:', `  - path: ${rel}`, `    content: ${JSON.stringify(contentOf(id))}`];
  if (kind === 'verify') lines.push('post_verify:', `  - "test -f ${rel}"`);
  // Each start of the command leaves its own folder: more than one means it ran twice.
  if (kind === 'command') lines.push('commands:', `  - "mkdir -p runs && mkdir runs/${id}.$$"`);
  return lines.join('\n') + '\n';
}

/** Write a file complete at once (hidden temp, u+x, rename), as `wo submit` does. */
export function dropAtomic(dir: string, name: string, text: string | Uint8Array): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = path.join(dir, `.${name}.tmp`);
  fs.writeFileSync(tmp, text, { mode: 0o700 });
  fs.renameSync(tmp, path.join(dir, name));
}

/** Every telemetry line of the current and rotated files; throws on a line that does not parse. */
export function allTelemetry(root: string): Record<string, any>[] {
  const dir = path.join(root, 'g/telemetry');
  const out: Record<string, any>[] = [];
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.jsonl')).sort()) {
    const text = fs.readFileSync(path.join(dir, f), 'utf8');
    if (text.length && !text.endsWith('\n')) throw new Error(`${f} ends in a torn line`);
    for (const [i, line] of text.split('\n').entries()) {
      if (!line) continue;
      try {
        out.push(JSON.parse(line));
      } catch {
        throw new Error(`${f}:${i + 1} does not parse: ${line.slice(0, 200)}`);
      }
    }
  }
  return out;
}

const TERMINAL = new Set(['succeeded', 'failed', 'rejected', 'cancelled', 'routed', 'reverted']);

export interface Figures {
  wos: number;
  lost: number;
  doubled: number;
  torn: number;
  succeeded: number;
  failed: number;
  other: number;
  problems: string[];
}

/** Files (not hidden) left in every lane of a bridge folder. */
export function leftIn(root: string, folder: 'inbox' | 'processing'): string[] {
  const base = path.join(root, 'bridge', folder);
  const out: string[] = [];
  for (const lane of fs.existsSync(base) ? fs.readdirSync(base) : []) {
    const d = path.join(base, lane);
    if (!fs.statSync(d).isDirectory()) continue;
    for (const n of fs.readdirSync(d)) if (!n.startsWith('.')) out.push(`${lane}/${n}`);
  }
  return out;
}

/**
 * The invariants after a run: every WO in exactly one terminal state (0 lost), applied at most once
 * (one archive file, one wo_completed per succeeded WO, never two succeeded attempts), 0 torn files
 * (succeeded ⇒ exactly its bytes; failed ⇒ exactly what was there before), inbox and processing empty.
 */
export function checkInvariants(root: string, wos: { id: string; kind: Kind; pre: boolean }[]): Figures {
  const f: Figures = { wos: wos.length, lost: 0, doubled: 0, torn: 0, succeeded: 0, failed: 0, other: 0, problems: [] };
  const events = allTelemetry(root);
  const completed = new Map<string, number>();
  for (const e of events) if (e.event === 'wo_completed' && e.wo_id && !e.dry_run) completed.set(e.wo_id, (completed.get(e.wo_id) ?? 0) + 1);
  const archived = new Map<string, number>();
  for (const n of fs.readdirSync(path.join(root, 'bridge/archive'))) {
    const id = n.split('.')[0]!;
    archived.set(id, (archived.get(id) ?? 0) + 1);
  }
  const problem = (s: string) => { if (f.problems.length < 20) f.problems.push(s); };
  const runs = new Map<string, number>();
  for (const n of fs.existsSync(path.join(root, 'runs')) ? fs.readdirSync(path.join(root, 'runs')) : []) runs.set(n.split('.')[0]!, (runs.get(n.split('.')[0]!) ?? 0) + 1);
  for (const w of wos) {
    const rec = readRecord(root, w.id);
    if (!rec || !TERMINAL.has(rec.status)) {
      f.lost++;
      problem(`${w.id}: ${rec ? `status ${rec.status}` : 'no record'}`);
      continue;
    }
    const succeededAttempts = (rec.attempts ?? []).filter((a: { status: string }) => a.status === 'succeeded').length + (rec.status === 'succeeded' ? 1 : 0);
    const nCompleted = completed.get(w.id) ?? 0;
    const nArchived = archived.get(w.id) ?? 0;
    const nRuns = runs.get(w.id) ?? 0;
    const runsBad = w.kind === 'command' && (nRuns > 1 || (rec.status === 'succeeded' && nRuns !== 1));
    if (succeededAttempts > 1 || nCompleted > 1 || (rec.status === 'succeeded' && nCompleted !== 1) || nArchived !== 1 || runsBad) {
      f.doubled++;
      problem(`${w.id}: ${rec.status}, ${succeededAttempts} succeeded attempts, ${nCompleted} wo_completed, ${nArchived} archive files${w.kind === 'command' ? `, command started ${nRuns}×` : ''}`);
    }
    let bytes: string | null = null;
    try {
      bytes = fs.readFileSync(path.join(root, 'out', `${w.id}.txt`), 'utf8');
    } catch {
      bytes = null;
    }
    const before = w.pre ? beforeOf(w.id) : null;
    if (rec.status === 'succeeded') {
      f.succeeded++;
      if (bytes !== contentOf(w.id)) { f.torn++; problem(`${w.id}: succeeded but holds ${JSON.stringify(bytes)}`); }
    } else {
      if (rec.status === 'failed') f.failed++;
      else f.other++;
      if (bytes !== before) { f.torn++; problem(`${w.id}: ${rec.status} (${rec.error?.code}) but holds ${JSON.stringify(bytes)}, not ${JSON.stringify(before)}`); }
    }
  }
  const inbox = leftIn(root, 'inbox');
  const proc = leftIn(root, 'processing');
  if (inbox.length) problem(`inbox not empty: ${inbox.slice(0, 5).join(', ')}`);
  if (proc.length) problem(`processing not empty: ${proc.slice(0, 5).join(', ')}`);
  return f;
}

/** Live (not zombie: a zombie is dead, only not yet reaped by init) processes whose pgid or pid is in `pgids`. */
export function processesIn(pgids: number[]): { pid: number; pgid: number; args: string }[] {
  const r = spawnSync('ps', ['-eo', 'pid=,pgid=,stat=,args='], { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .map((l) => /^\s*(\d+)\s+(\d+)\s+(\S+)\s+(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null && !m[3]!.startsWith('Z'))
    .map((m) => ({ pid: Number(m[1]), pgid: Number(m[2]), args: m[4]! }))
    .filter((p) => pgids.includes(p.pgid) || pgids.includes(p.pid));
}

/** Try a mount; the reason when it fails (not root, no CAP_SYS_ADMIN, …). */
export function tryMount(args: string[]): string | null {
  const r = spawnSync('mount', args, { encoding: 'utf8' });
  return r.status === 0 ? null : (r.stderr || r.error?.message || `mount exited ${r.status}`).trim();
}

export function umount(dir: string): void {
  spawnSync('umount', ['-l', dir]);
}

/**
 * Daemons a test file started, killed (by pid) after each test even when an assertion failed first:
 * vitest may end a worker without running the helpers' exit hook, which would leave a daemon behind.
 */
export function daemonPool(): { start: typeof startDaemon; cleanup: () => Promise<void> } {
  const live: DaemonHandle[] = [];
  return {
    start: async (root, opts) => {
      const d = await startDaemon(root, opts);
      live.push(d);
      return d;
    },
    cleanup: async () => {
      for (const d of live.splice(0)) {
        if (d.child.exitCode === null && d.child.signalCode === null) {
          d.child.kill('SIGKILL');
          await d.exited;
        }
      }
    },
  };
}
