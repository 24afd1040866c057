/** `wo ls`: one page of WOs from the record index, filtered, newest first, with the cursor of the next page. */
import type { Command } from 'commander';
import { paint, printable, printJson, rootOf, statusColor, withRoot } from '../common.js';
import { layout } from '../../layout.js';
import { UsageError } from '../../errors.js';
import { parseQuery, QueryError, MAX_LIMIT, type WoSummary } from '../../state/index-query.js';
import { daemonState } from '../../daemon/status.js';

interface LsOpts {
  root?: string;
  status?: string;
  lane?: string;
  type?: string;
  owner?: string;
  q?: string;
  since?: string;
  limit: string;
  cursor?: string;
  json?: boolean;
}

/** Render one page as a table (one WO a line). */
export function renderPage(items: WoSummary[], total: number, next: string | null): string {
  const lines = items.map((w) => `${paint(w.status.padEnd(17), statusColor(w.status))} ${(w.received ?? '').slice(0, 19).padEnd(19)} ${w.lane.padEnd(8)} ${w.type.padEnd(11)} ${w.wo_id}  ${printable(w.title.slice(0, 60))}${w.error ? paint(`  ${w.error.code}`, 'red') : ''}`);
  if (!items.length) lines.push(total ? 'no more WOs on this page' : 'no WOs match');
  lines.push(`${items.length} shown of ${total}${next ? `; next page: --cursor ${next}` : ''}`);
  return lines.join('\n') + '\n';
}

export function register(program: Command, name: string): void {
  withRoot(program.command(name))
    .description('list WOs from the record index, newest first, one page at a time')
    .option('--status <s>', 'only these statuses (comma-separated)')
    .option('--lane <lane>', 'only this lane')
    .option('--type <type>', 'only this type (apply_patch, exec, route)')
    .option('--owner <owner>', 'only this owner')
    .option('-q, --q <text>', 'title (case-insensitive) or wo_id containing this text')
    .option('--since <t>', 'received at or after: an ISO date/time or an age (30m, 2h, 7d)')
    .option('--limit <n>', `page size (1 to ${MAX_LIMIT})`, '50')
    .option('--cursor <c>', 'the cursor printed by the previous page')
    .option('--json', 'print {items, next_cursor, total}')
    .action(async (opts: LsOpts) => {
      let q;
      try {
        q = parseQuery({ status: opts.status, lane: opts.lane, type: opts.type, owner: opts.owner, q: opts.q, since: opts.since, limit: opts.limit, cursor: opts.cursor }, { now: new Date() });
      } catch (err) {
        if (err instanceof QueryError) throw new UsageError(err.message.replace(/^(status|since|limit|cursor)\b/, '--$1'));
        throw err;
      }
      const L = layout(rootOf(opts));
      const { readIndex } = await import('../../daemon/listing.js');
      const { index } = await readIndex(L, (await daemonState(L)).running);
      let page;
      try {
        page = index.query(q);
      } finally {
        index.close();
      }
      if (opts.json) printJson(page);
      else process.stdout.write(renderPage(page.items, page.total, page.next_cursor));
    });
}
