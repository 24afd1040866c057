/** `wo submit <file>`: validate, then drop atomically (hidden temp, fsync, u+x, rename) into a lane. */
import path from 'node:path';
import type { Command } from 'commander';
import { paint, rootOf, withRoot, printJson } from '../common.js';
import { checkWoFile, formatErrors } from '../wo-file.js';
import { CheckFailed, UsageError } from '../../errors.js';
import { loadConfig } from '../../config/load.js';
import { StateStore } from '../../state/store.js';
import { layout } from '../../layout.js';
import { dropFileUnique, ensureDir } from '../../util/fsx.js';
import { daemonState } from '../../daemon/status.js';
import { followWo } from '../follow.js';

export function register(program: Command, name: string): void {
  withRoot(program.command(name))
    .description('validate a WO file and drop it atomically into a lane; prints its id')
    .argument('<file>', 'the WO file (YAML or JSON)')
    .option('--lane <lane>', 'the lane (default: submit_lane from the config, CLC)')
    .option('--wait', 'follow it to the end: exit 0 only when it succeeded')
    .option('--timeout <s>', 'with --wait: give up after this many seconds', '60')
    .option('--json', 'print the outcome as JSON')
    .addHelpText('after', `
Examples:
  wo submit examples/canary.yaml --wait
  wo submit fix.yaml --lane CLC
  wo submit bundle.json --lane ENTRY     # routed: ids assigned where missing

With --wait: a held WO prints its reasons and exits 1 (it stays held: wo approve <id>);
with no daemon running it exits 1 after the timeout, saying so.`)
    .action(async (file: string, opts: { root?: string; lane?: string; wait?: boolean; timeout: string; json?: boolean }) => {
      const root = rootOf(opts);
      const config = await loadConfig(root);
      const lane = opts.lane ?? config.submit_lane;
      if (!/^[A-Za-z0-9._-]{1,64}$/.test(lane)) throw new UsageError(`--lane ${lane}: a lane is a folder name (letters, digits, . _ -)`);
      const timeoutS = Number(opts.timeout);
      if (!Number.isFinite(timeoutS) || timeoutS <= 0) throw new UsageError(`--timeout ${opts.timeout}: give a number of seconds`);
      const c = await checkWoFile(file, root, lane);
      if (c.errors.length) throw new UsageError(`${file} is not a valid WO:\n${formatErrors(c.errors)}`);
      for (const w of c.warnings) process.stderr.write(`${paint('warning', 'yellow')}: ${w}\n`);
      const L = layout(root);
      const id = c.id!;
      // The daemon rejects a WO whose record path holds something wo did not write: say so before dropping it.
      const seen = await new StateStore(L.state).inspect(id);
      if (seen.kind === 'foreign') throw new CheckFailed(`${seen.file} is not a wo record (it ${seen.why}), so a WO with id ${id} would be rejected; move it away or use a new wo_id`);
      const ext = path.extname(file).toLowerCase() || '.yaml';
      const dir = path.join(L.inbox, lane);
      await ensureDir(dir);
      const dest = await dropFileUnique(dir, `${id}${ext}`, c.bytes, 0o700);
      if (!opts.wait) {
        if (opts.json) printJson({ wo_id: id, lane, file: path.relative(root, dest) });
        else process.stdout.write(`${id}\n`);
        if (!(await daemonState(L)).running) process.stderr.write(`note: no daemon is running on ${root}; the WO waits in ${path.relative(root, dir)}/ until one starts (npm start)\n`);
        return;
      }
      if (!opts.json) process.stdout.write(`${id}\n`);
      const r = await followWo(root, id, { timeoutMs: timeoutS * 1000, sha256: c.sha256, quiet: !!opts.json });
      if (opts.json) printJson({ wo_id: id, lane, status: r.rec?.status ?? null, record: r.rec ?? null, timed_out: r.timedOut });
      if (r.timedOut) {
        throw new CheckFailed(r.daemonRunning ? `${id} did not finish within ${timeoutS} s (still ${r.rec?.status ?? 'waiting to be claimed'}); follow it with wo show ${id}` : `no daemon is running on ${root}: ${id} waits in ${path.relative(root, dir)}/ (start one with npm start or wo daemon)`);
      }
      const rec = r.rec!;
      if (rec.status === 'awaiting_approval') {
        throw new CheckFailed(`${id} is held for approval:\n${(rec.hold_reasons ?? []).map((h) => `  - ${h}`).join('\n')}\napprove it with: wo approve ${id}`);
      }
      if (rec.status !== 'succeeded' && rec.status !== 'routed') {
        throw new CheckFailed(`${id} ${rec.status}${rec.error ? ` (${rec.error.code}): ${rec.error.message}` : ''}${rec.rolled_back ? ' — rolled back' : ''}`);
      }
      if (!opts.json) process.stderr.write(`${paint(rec.status, 'green')}${rec.dry_run ? ' (dry run: nothing applied; see wo show ' + id + ')' : ''}${rec.routed_ids ? `: ${rec.routed_ids.join(', ')}` : ''}\n`);
    });
}
