/** Human output of a history report: verdict first, then summary, then evidence newest first. */
import { paint, type ColorName } from '../cli/common.js';
import type { EvidenceItem, HistoryReport, Verdict } from './types.js';

const VERDICT_COLOR: Record<Verdict, ColorName> = { healthy: 'green', 'never-existed': 'yellow', vanished: 'red', broken: 'red' };

/** One evidence line: time, source tag, detail. */
export function evidenceLine(e: EvidenceItem): string {
  return `  ${paint(e.ts.replace('T', ' ').replace(/\.\d+Z$/, 'Z'), 'gray')}  ${paint(`[${e.source}]`.padEnd(11), 'cyan')} ${e.detail}`;
}

/** The whole report as text. */
export function renderReport(r: HistoryReport, opts: { hours: number; hidden: number }): string {
  const lines = [`${paint(r.verdict.toUpperCase(), VERDICT_COLOR[r.verdict])}  ${paint(r.path, 'bold')}`, r.summary];
  if (r.last_seen) lines.push(`  last seen:     ${r.last_seen.ts}  [${r.last_seen.source}] ${r.last_seen.detail}`);
  if (r.first_missing) lines.push(`  first missing: ${r.first_missing.ts}  [${r.first_missing.source}] ${r.first_missing.detail}`);
  if (r.cause) lines.push(`  cause:         ${r.cause}`);
  lines.push('', `Evidence (last ${opts.hours} h, newest first):`);
  lines.push(...r.evidence.map(evidenceLine));
  if (opts.hidden > 0) lines.push(paint(`  (${opts.hidden} older line${opts.hidden === 1 ? '' : 's'} not shown; pass a larger hours to see them)`, 'gray'));
  return lines.join('\n') + '\n';
}
