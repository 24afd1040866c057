/** `wo mls add|list`: write to and read the lessons ledger (g/mls/ledger/*.jsonl, plus the legacy mls/ledger/). */
import path from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { paint, printJson, rootOf, withRoot } from '../common.js';

/** The entry types the ledger knows. */
export const MLS_TYPES = ['pattern', 'incident', 'lesson', 'decision', 'solution', 'note'] as const;

const list = (s: string | undefined): string[] => (s ? s.split(',').map((x) => x.trim()).filter(Boolean) : []);

/** Register `mls` with its `add` and `list` subcommands. */
export function register(program: Command, name: string): void {
  const mls = program.command(name).description('write or read the lessons ledger (MLS)');
  withRoot(
    mls
      .command('add')
      .description('append an entry to the ledger')
      .requiredOption('--type <type>', `entry type: ${MLS_TYPES.join(', ')}`)
      .requiredOption('--title <text>', 'one-line title')
      .option('--body <text>', 'details', '')
      .option('--tags <a,b>', 'comma-separated tags')
      .option('--paths <p,q>', 'comma-separated paths the entry is about (relative to the root)')
      .option('--json', 'print the entry as JSON'),
  ).action(async (opts: { type: string; title: string; body: string; tags?: string; paths?: string; json?: boolean; root?: string }) => {
    const { didYouMean } = await import('../../util/suggest.js');
    const { appendMls } = await import('../../mls/ledger.js');
    const { layout } = await import('../../layout.js');
    const type = opts.type.trim().toLowerCase();
    if (!(MLS_TYPES as readonly string[]).includes(type)) {
      const near = didYouMean(type, MLS_TYPES);
      throw new UsageError(`unknown --type ${JSON.stringify(opts.type)}${near ? ` (did you mean '${near}'?)` : ''}; one of ${MLS_TYPES.join(', ')}`);
    }
    if (!opts.title.trim()) throw new UsageError('--title must not be empty');
    const root = rootOf(opts);
    const paths = list(opts.paths).map((p) => {
      const rel = path.isAbsolute(p) ? path.relative(root, p) : path.normalize(p);
      return rel.startsWith('..') || path.isAbsolute(rel) ? p : rel.split(path.sep).join('/');
    });
    const entry = appendMls(layout(root).ledger, { type, title: opts.title.trim(), body: opts.body, tags: list(opts.tags), paths });
    if (opts.json) printJson(entry);
    else process.stdout.write(`added ${entry.type}: ${entry.title} (${path.join('g/mls/ledger', `${entry.ts.slice(0, 7)}.jsonl`)})\n`);
  });
  withRoot(
    mls
      .command('list')
      .description('show ledger entries, newest first')
      .option('--type <type>', 'only entries of this type')
      .option('--limit <n>', 'at most n entries', '20')
      .option('--json', 'print {"entries":[…],"warnings":[…]}'),
  ).action(async (opts: { type?: string; limit: string; json?: boolean; root?: string }) => {
    const limit = Number(opts.limit);
    if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a positive whole number, got ${JSON.stringify(opts.limit)}`);
    const { readMls } = await import('../../mls/ledger.js');
    const { layout } = await import('../../layout.js');
    const root = rootOf(opts);
    const { entries, bad } = await readMls([layout(root).ledger, path.join(root, 'mls', 'ledger')]);
    const warnings = bad.map((b) => `skipped unreadable line ${b.line} of ${path.relative(root, b.file)}`);
    for (const w of warnings) process.stderr.write(`wo: warning: ${w}\n`);
    const want = opts.type?.toLowerCase();
    const shown = entries.filter((e) => !want || String(e.type).toLowerCase() === want).reverse().slice(0, limit);
    if (opts.json) {
      printJson({ entries: shown, warnings });
      return;
    }
    if (!shown.length) process.stdout.write(want ? `no ${want} entries in the ledger\n` : 'the ledger is empty\n');
    for (const e of shown) {
      const tags = Array.isArray(e.tags) && e.tags.length ? paint(` #${e.tags.join(' #')}`, 'gray') : '';
      process.stdout.write(`${paint(e.ts, 'gray')}  ${paint(String(e.type).padEnd(9), 'cyan')} ${e.title}${tags}\n`);
      if (e.body) process.stdout.write(`    ${String(e.body).split('\n').join('\n    ')}\n`);
      if (Array.isArray(e.paths) && e.paths.length) process.stdout.write(`    paths: ${e.paths.join(', ')}\n`);
    }
  });
}
