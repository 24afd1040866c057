/**
 * `wo index rebuild|status`: the derived record index (g/followup/index/wo.sqlite). Rebuild goes through the
 * running daemon (its control channel: it owns the file), else rebuilds here holding the root's lock.
 */
import type { Command } from 'commander';
import { printJson, rootOf, withRoot } from '../common.js';
import { layout } from '../../layout.js';
import { CheckFailed } from '../../errors.js';

export function register(program: Command, name: string): void {
  const cmd = program.command(name).description('the record index (g/followup/index/wo.sqlite): rebuild it from the records, or show it');
  withRoot(cmd.command('rebuild'))
    .description('rebuild the index from g/followup/state/ (through the daemon when it runs)')
    .option('--json', 'print {rows, unreadable, ms, via}')
    .option('--timeout <s>', 'seconds to wait for the daemon', '600')
    .action(async (opts: { root?: string; json?: boolean; timeout: string }) => {
      const root = rootOf(opts);
      const L = layout(root);
      const { sendOrRun } = await import('./act.js');
      const { value, running } = await sendOrRun(
        root,
        { action: 'index-rebuild' },
        opts.timeout,
        async () => {
          const { withOfflineRuntime } = await import('./act.js');
          return withOfflineRuntime(root, async (rt) => {
            const { WoIndex } = await import('../../state/index.js');
            const t0 = Date.now();
            if (rt.index) {
              const r = await rt.index.rebuild(rt.store);
              return { ...r, ms: Date.now() - t0 };
            }
            const { index } = await WoIndex.openWriter(L.index, rt.store, { force: true });
            const s = index.status();
            index.close();
            return { rows: s.rows, unreadable: s.unreadable, ms: Date.now() - t0 };
          });
        },
        (r) => {
          const got = (r as { index?: { rows: number; unreadable: number; ms: number } }).index;
          if (!got) throw new CheckFailed('the daemon did not say what it rebuilt');
          return got;
        },
      );
      const out = { ...value, via: running ? 'daemon' : 'offline' };
      if (opts.json) printJson(out);
      else process.stdout.write(`record index rebuilt ${running ? 'by the daemon' : 'here (daemon down)'}: ${out.rows} records, ${out.unreadable} unreadable file(s), ${out.ms} ms\n`);
    });
  withRoot(cmd.command('status'))
    .description('rows, high-water mark and whether the index matches the records')
    .option('--json', 'print it as JSON')
    .action(async (opts: { root?: string; json?: boolean }) => {
      const L = layout(rootOf(opts));
      const { WoIndex } = await import('../../state/index.js');
      const { daemonState } = await import('../../daemon/status.js');
      const running = (await daemonState(L)).running;
      const ix = WoIndex.openReader(L.index, L.state, true);
      const s = ix ? { ...ix.status(), daemon: running } : { file: L.index, exists: false, ok: false, rows: 0, unreadable: 0, high_water: null, current: null, built_at: null, daemon: running, why: 'missing or unreadable (rebuilt at the next start or wo index rebuild)' };
      ix?.close();
      // While the daemon runs, it keeps the index current (the stored mark is refreshed whenever it is idle).
      const ok = s.ok || (running && s.exists);
      const out = { ...s, ok };
      if (opts.json) printJson(out);
      else process.stdout.write(`${out.file}\n  ${out.exists ? `${out.rows} records, ${out.unreadable} unreadable file(s), built ${out.built_at ?? '?'}` : 'missing'}\n  ${ok ? 'ok' : 'stale or missing: rebuilt at the next start (or wo index rebuild)'}\n`);
      if (!ok) process.exitCode = 1;
    });
}
