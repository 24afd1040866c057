/**
 * The upgrade's shadow run (issue 11, step 5): the last `limit` archived WOs of the live root are planned by the
 * active release and by the candidate (`<bin> plan <copy> --root <view> --json`, each in its own copy-on-read view,
 * see shadow-view.ts), their plans normalised (shadow-normalise.ts) and every difference reported as a unified diff.
 * Nothing under the live root is written: it is only listed and read.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { loadConfig, type Config } from '../config/load.js';
import { layout } from '../layout.js';
import { parseWo, type WorkOrder } from '../wo/parse.js';
import { StateStore } from '../state/store.js';
import type { ShadowDiff, ShadowRequest, ShadowResult, ShadowRunner } from './shadow-contract.js';
import { buildView, readNoFollow } from './shadow-view.js';
import { normalisePlan, planDiff } from './shadow-normalise.js';
import { runBin, type BinResult } from './shadow-exec.js';

/** An archived WO picked for replay, or why it is not replayed. */
export type Archived = { file: string; name: string; id: string; lane: string } | { file: string; skip: string };

/** `<id>.<attempt>[.<ext>]` and `<id>.dup-<n>[.<ext>]` (journal.ts placeOf). */
const ARCHIVE_NAME = /^(.+?)\.(\d+|dup-\d+)(\.[A-Za-z0-9]+)?$/;

/** Why: the newest `limit` files of bridge/archive/ (by mtime, then name), each with its lane from its record, or why it is skipped. */
export async function pickArchived(liveRoot: string, limit: number): Promise<Archived[]> {
  const L = layout(liveRoot);
  const names = await fsp.readdir(L.archive).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? [] : Promise.reject(err)));
  const entries: { name: string; mtime: number; st: fs.Stats }[] = [];
  for (const name of names) {
    const st = await fsp.lstat(path.join(L.archive, name)).catch(() => undefined);
    if (st) entries.push({ name, mtime: st.mtimeMs, st });
  }
  entries.sort((a, b) => b.mtime - a.mtime || a.name.localeCompare(b.name));
  const store = new StateStore(L.state);
  const out: Archived[] = [];
  for (const { name, st } of entries.slice(0, Math.max(0, limit))) {
    const file = path.join('bridge', 'archive', name);
    if (!st.isFile()) {
      out.push({ file, skip: `not a regular file (${st.isSymbolicLink() ? 'a symbolic link' : st.isDirectory() ? 'a folder' : 'a special file'})` });
      continue;
    }
    const m = name.startsWith('.') ? null : ARCHIVE_NAME.exec(name);
    if (!m) {
      out.push({ file, skip: 'not an archived WO name (<wo_id>.<attempt>.<ext>): a file wo did not archive' });
      continue;
    }
    const id = m[1]!;
    if (m[2]!.startsWith('dup-')) {
      out.push({ file, skip: `a duplicate of ${id} (the same bytes as its archived WO, never run)` });
      continue;
    }
    const rec = await store.read(id).catch(() => undefined);
    if (!rec) {
      out.push({ file, skip: `no valid state record for ${id}: a file wo did not archive` });
      continue;
    }
    if (rec.status === 'rejected' && !rec.plan && !rec.times?.started) {
      out.push({ file, skip: `${id} was rejected at admission (never planned)` });
      continue;
    }
    out.push({ file, name, id, lane: rec.lane });
  }
  return out;
}

/** The WO's document for the view (which paths to copy), parsed as the live config reads it; undefined if it does not parse. */
function woOf(bytes: Buffer, name: string, cfg: Config): WorkOrder | undefined {
  const parsed = parseWo(bytes, name, { ...cfg.limits, lenient: true });
  return parsed.ok ? parsed.wo : undefined;
}

type PlanOutcome = { ok: true; plan: Record<string, unknown>; view: string } | { ok: false; why: string };

/** A plan document on stdout (exit 0, or 2 for a WO the release rejects), else why there is none. */
function outcomeOf(who: string, r: BinResult, view: string, timeoutMs: number): PlanOutcome {
  if (r.timedOut) return { ok: false, why: `${who}: wo plan did not finish within ${timeoutMs} ms` };
  if (r.overflow) return { ok: false, why: `${who}: wo plan printed more than the output limit` };
  if (r.code === 0 || r.code === 2) {
    try {
      const doc = JSON.parse(r.stdout) as unknown;
      if (doc && typeof doc === 'object' && 'wo_plan' in doc) return { ok: true, plan: doc as Record<string, unknown>, view };
    } catch {
      // not a plan document: said below
    }
  }
  const tail = r.stderrTail.trim().split('\n').slice(-3).join(' | ');
  return { ok: false, why: `${who}: wo plan exited ${r.code ?? r.signal} without a plan${tail ? `: ${tail}` : ''}` };
}

/** Why: a release without `wo plan` (older than it) is not a failure: its WOs are skipped, said once per release. */
async function lacksPlan(bin: string, workDir: string, timeoutMs: number): Promise<string | undefined> {
  const r = await runBin(bin, ['plan', '--help'], { cwd: workDir, timeoutMs, maxBytes: 1024 * 1024 });
  if (r.code === 0 && /--json/.test(r.stdout)) return undefined;
  return r.timedOut ? `wo plan --help did not answer within ${timeoutMs} ms` : `it has no wo plan command (wo plan --help exited ${r.code ?? r.signal})`;
}

/** Replay one archived WO with both releases, each in its own view; a diff, a skip, or nothing when the plans agree. */
async function replay(req: ShadowRequest, cfg: Config, p: Extract<Archived, { lane: string }>, n: number): Promise<{ diff?: ShadowDiff; skip?: string }> {
  const bytes = await readNoFollow(path.join(req.liveRoot, p.file));
  const wo = woOf(bytes, p.name, cfg);
  const dir = path.join(req.workDir, `wo-${n}`);
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  const copy = path.join(dir, p.name);
  await fsp.writeFile(copy, bytes, { mode: 0o600 });
  const run = async (who: string, bin: string, side: string): Promise<PlanOutcome> => {
    const view = path.join(dir, side);
    await buildView(req.liveRoot, view, cfg, wo);
    const r = await runBin(bin, ['plan', copy, '--root', view, '--lane', p.lane, '--json'], { cwd: view, timeoutMs: req.timeoutMs });
    return outcomeOf(who, r, view, req.timeoutMs);
  };
  const [a, b] = await Promise.all([run('active release', req.oldBin, 'old'), run('candidate', req.newBin, 'new')]);
  if (!a.ok || !b.ok) return { skip: [a, b].flatMap((o) => (o.ok ? [] : [o.why])).join('; ') };
  const scrub = (view: string) => ({ paths: [{ from: fs.realpathSync(view), to: '<root>' }, { from: view, to: '<root>' }, { from: copy, to: `<file>` }, { from: fs.realpathSync(copy), to: '<file>' }] });
  const diff = planDiff(p.file, normalisePlan(a.plan, scrub(a.view)), normalisePlan(b.plan, scrub(b.view)));
  return diff === undefined ? {} : { diff: { wo_id: p.id, file: p.file, diff } };
}

/** Why: the gate of `wo upgrade` that shows, before the switch, every archived WO the candidate would treat differently. */
export const shadowCompare: ShadowRunner = async (req: ShadowRequest): Promise<ShadowResult> => {
  const result: ShadowResult = { compared: 0, skipped: [], diffs: [] };
  const picks = await pickArchived(req.liveRoot, req.limit);
  if (!picks.length) return result;
  await fsp.mkdir(req.workDir, { recursive: true, mode: 0o700 });
  const [oldLacks, newLacks] = await Promise.all([lacksPlan(req.oldBin, req.workDir, req.timeoutMs), lacksPlan(req.newBin, req.workDir, req.timeoutMs)]);
  const cfg = await loadConfig(path.resolve(req.liveRoot), {});
  let n = 0;
  for (const p of picks) {
    if ('skip' in p) result.skipped.push({ file: p.file, why: p.skip });
    else if (oldLacks || newLacks) result.skipped.push({ file: p.file, why: oldLacks ? `the active release cannot plan: ${oldLacks}` : `the candidate cannot plan: ${newLacks}` });
    else {
      const r = await replay(req, cfg, p, ++n).catch((err: unknown) => ({ skip: `cannot replay: ${(err as Error).message}` }) as { diff?: ShadowDiff; skip?: string });
      if (r.skip) result.skipped.push({ file: p.file, why: r.skip });
      else {
        result.compared++;
        if (r.diff) result.diffs.push(r.diff);
      }
    }
  }
  return result;
};
