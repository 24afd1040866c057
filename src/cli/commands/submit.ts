/** `wo submit <file|->`: validate, then drop atomically (hidden temp, fsync, u+x, rename) into a lane; `--wait` follows it (and an ENTRY bundle's children). */
import path from 'node:path';
import type { Command } from 'commander';
import { paint, rootOf, withRoot, printJson } from '../common.js';
import { checkWoFile, formatErrors, STDIN } from '../wo-file.js';
import { CheckFailed, HeldOrDown, TimedOut, UsageError } from '../../errors.js';
import { loadConfig } from '../../config/load.js';
import { StateStore } from '../../state/store.js';
import { layout } from '../../layout.js';
import { dropFileUnique, ensureDir } from '../../util/fsx.js';
import { daemonState } from '../../daemon/status.js';
import { followWo, fmtElapsed, type FollowResult } from '../follow.js';
import type { WoRecord } from '../../state/record.js';

/** One followed WO's end, in the words of the exit-code table. */
export type Outcome = 'succeeded' | 'duplicate' | 'failed' | 'held' | 'down' | 'timeout';

/** Worst first: a failure outranks a timeout, which outranks a hold (or no daemon), which outranks success. */
const SEVERITY: Outcome[] = ['failed', 'timeout', 'held', 'down', 'succeeded', 'duplicate'];

/** Why: a bundle's children end separately; the command's exit says the worst of them (pure). */
export function worst(outcomes: Outcome[]): Outcome {
  return outcomes.reduce<Outcome>((w, o) => (SEVERITY.indexOf(o) < SEVERITY.indexOf(w) ? o : w), 'duplicate');
}

/** The outcome of one follow (pure). */
export function outcomeOf(r: FollowResult): Outcome {
  if (r.duplicate) return 'duplicate';
  if (r.refused) return 'failed';
  if (r.timedOut) return r.daemonRunning ? 'timeout' : 'down';
  const s = r.rec?.status;
  if (s === 'awaiting_approval') return 'held';
  return s === 'succeeded' || s === 'routed' ? 'succeeded' : 'failed';
}

/** A sentence for one followed WO. */
function describe(id: string, r: FollowResult, root: string, timeoutS: number): string {
  const rec = r.rec;
  switch (outcomeOf(r)) {
    case 'duplicate':
      return `${id}: duplicate of a succeeded WO: nothing applied (the file is archived as a duplicate)`;
    case 'timeout':
      return `${id} did not finish within ${timeoutS} s (still ${rec?.status ?? 'waiting to be claimed'}); follow it with wo show ${id}`;
    case 'down':
      return `no daemon is running on ${root}: ${id} waits in bridge/inbox/ (start one with npm start or wo daemon)`;
    case 'held':
      return `${id} is held for approval:\n${(rec?.hold_reasons ?? []).map((h) => `  - ${h}`).join('\n')}\napprove it with: wo approve ${id}`;
    case 'failed':
      if (r.refused) return `${id} rejected (${r.refused.code}): ${r.refused.message}`;
      return `${id} ${rec!.status}${rec!.error ? ` (${rec!.error.code}): ${rec!.error.message}` : ''}${rec!.rolled_back ? ' — rolled back' : ''}`;
    case 'succeeded':
      return `${id} ${rec!.status}${rec!.dry_run ? ` (dry run: nothing applied; see wo show ${id})` : ''}${rec!.routed_ids ? `: ${rec!.routed_ids.join(', ')}` : ''}`;
  }
}

/** Would the daemon archive this as a duplicate (same id and content as a WO that succeeded or was routed)? */
function isDuplicateOf(prev: WoRecord | undefined, sha: string): boolean {
  return !!prev && prev.sha256 === sha && ((prev.status === 'succeeded' && !prev.dry_run) || prev.status === 'routed');
}

export function register(program: Command, name: string): void {
  withRoot(program.command(name))
    .description('validate a WO file (or - for standard input) and drop it atomically into a lane; prints its id')
    .argument('<file>', 'the WO file (YAML or JSON), or - to read it from standard input (YAML or JSON sniffed; named from its wo_id)')
    .option('--lane <lane>', 'the lane (default: submit_lane from the config, CLC)')
    .option('--wait', 'follow it to the end (an ENTRY bundle: every routed WO); the exit code says how it ended')
    .option('--timeout <s>', 'with --wait: give up after this many seconds', '60')
    .option('--lenient', 'unknown top-level fields are warnings (kept), not errors')
    .option('--json', 'print the outcome as JSON')
    .addHelpText('after', `
Examples:
  wo submit examples/canary.yaml --wait
  cat fix.yaml | wo submit - --lane CLC
  wo submit bundle.json --lane ENTRY --wait   # routed: ids assigned where missing; follows every routed WO

With --wait the exit code is 0 succeeded (or a duplicate of a succeeded WO: nothing applied),
1 failed, rejected or cancelled, 3 held for approval (its reasons are printed; it stays held:
wo approve <id>) or no daemon running, 4 timed out. An ENTRY bundle exits with its worst WO
(failed, then timed out, then held). On a terminal it shows the elapsed time, the running
command and the tail of the last command's output.`)
    .action(async (file: string, opts: { root?: string; lane?: string; wait?: boolean; timeout: string; json?: boolean; lenient?: boolean }) => {
      const root = rootOf(opts);
      const config = await loadConfig(root);
      const lane = opts.lane ?? config.submit_lane;
      if (!/^[A-Za-z0-9._-]{1,64}$/.test(lane)) throw new UsageError(`--lane ${lane}: a lane is a folder name (letters, digits, . _ -)`);
      const timeoutS = Number(opts.timeout);
      if (!Number.isFinite(timeoutS) || timeoutS <= 0) throw new UsageError(`--timeout ${opts.timeout}: give a number of seconds`);
      const c = await checkWoFile(file, root, lane, opts.lenient ? { lenient: true } : {});
      const shown = file === STDIN ? 'standard input' : file;
      if (c.errors.length) throw new UsageError(`${shown} is not a valid WO:\n${formatErrors(c.errors)}`);
      for (const w of c.warnings) process.stderr.write(`${paint('warning', 'yellow')}: ${w}\n`);
      const L = layout(root);
      const id = c.id!;
      const store = new StateStore(L.state);
      // The daemon rejects a WO whose record path holds something wo did not write: say so before dropping it.
      const seen = await store.inspect(id);
      if (seen.kind === 'foreign') throw new CheckFailed(`${seen.file} is not a wo record (it ${seen.why}), so a WO with id ${id} would be rejected; move it away or use a new wo_id`);
      const duplicate = seen.kind === 'ok' && isDuplicateOf(seen.record, c.sha256);
      const ext = path.extname(c.name).toLowerCase() || '.yaml';
      const dir = path.join(L.inbox, lane);
      await ensureDir(dir);
      const startedAt = Date.now();
      const since = new Date(startedAt).toISOString();
      const dest = await dropFileUnique(dir, `${id}${ext}`, c.bytes, 0o700);
      if (!opts.wait) {
        if (opts.json) printJson({ wo_id: id, lane, file: path.relative(root, dest), ...(duplicate ? { duplicate: true } : {}) });
        else process.stdout.write(`${id}\n`);
        if (duplicate) process.stderr.write(`note: ${id} is a duplicate of a succeeded WO (same id, same content): the daemon archives it and applies nothing\n`);
        if (!(await daemonState(L)).running) process.stderr.write(`note: no daemon is running on ${root}; the WO waits in ${path.relative(root, dir)}/ until one starts (npm start)\n`);
        return;
      }
      if (!opts.json) process.stdout.write(`${id}\n`);
      const deadline = startedAt + timeoutS * 1000;
      const follow = (wid: string, sha?: string) => followWo(root, wid, { timeoutMs: Math.max(0, deadline - Date.now()), since, startedAt, quiet: !!opts.json, ...(sha ? { sha256: sha } : {}) });
      const top = await follow(id, c.sha256);
      const results: { id: string; r: FollowResult }[] = [{ id, r: top }];
      // An ENTRY bundle ends `routed`: what the user asked for is what its children do, so follow each.
      if (top.rec?.status === 'routed' && outcomeOf(top) === 'succeeded' && !top.duplicate) {
        for (const child of top.rec.routed_ids ?? []) results.push({ id: child, r: await follow(child) });
      }
      const outcome = worst(results.map((x) => outcomeOf(x.r)));
      if (opts.json) {
        printJson({
          wo_id: id, lane, outcome, status: top.rec?.status ?? null, record: top.rec ?? null, timed_out: top.timedOut, elapsed_ms: Date.now() - startedAt,
          ...(top.duplicate ? { duplicate: true } : {}),
          ...(results.length > 1 ? { routed: results.slice(1).map((x) => ({ wo_id: x.id, outcome: outcomeOf(x.r), status: x.r.rec?.status ?? null, ...(x.r.rec?.error ? { error: x.r.rec.error } : {}) })) } : {}),
        });
      } else {
        for (const x of results) {
          const o = outcomeOf(x.r);
          if (o === outcome && o !== 'succeeded' && o !== 'duplicate') continue; // said once, as the error below
          process.stderr.write(`${paint(describe(x.id, x.r, root, timeoutS), o === 'succeeded' || o === 'duplicate' ? 'green' : 'yellow')}\n`);
        }
        process.stderr.write(`${paint(`elapsed ${fmtElapsed(Date.now() - startedAt)}`, 'gray')}\n`);
      }
      if (outcome === 'succeeded' || outcome === 'duplicate') return;
      const bad = results.filter((x) => outcomeOf(x.r) === outcome).map((x) => describe(x.id, x.r, root, timeoutS)).join('\n');
      if (outcome === 'failed') throw new CheckFailed(bad);
      if (outcome === 'timeout') throw new TimedOut(bad);
      throw new HeldOrDown(bad);
    });
}
