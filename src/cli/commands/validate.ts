/** `wo validate <file>`: validate only, with precise errors (exit 2 when invalid). */
import type { Command } from 'commander';
import { printJson, rootOf, withRoot, paint } from '../common.js';
import { checkWoFile, formatErrors } from '../wo-file.js';
import { UsageError } from '../../errors.js';

export function register(program: Command, name: string): void {
  withRoot(program.command(name))
    .description('validate a WO file (YAML or JSON) exactly as the daemon would, without submitting it')
    .argument('<file>', 'the WO file, or - for standard input')
    .option('--lane <lane>', 'validate for this lane (ENTRY accepts bundles and WOs without wo_id)', 'CLC')
    .option('--lenient', 'unknown top-level fields are warnings (kept), not errors')
    .option('--json', 'print the result as JSON')
    .action(async (file: string, opts: { root?: string; lane: string; json?: boolean; lenient?: boolean }) => {
      const c = await checkWoFile(file, rootOf(opts), opts.lane, opts.lenient ? { lenient: true } : {});
      if (opts.json) {
        printJson({ file, valid: c.errors.length === 0, wo_id: c.id ?? null, type: c.type ?? null, ...(c.routes !== undefined ? { routes: c.routes } : {}), errors: c.errors, warnings: c.warnings });
        if (c.errors.length) process.exitCode = 2;
        return;
      }
      for (const w of c.warnings) process.stderr.write(`${paint('warning', 'yellow')}: ${w}\n`);
      if (c.errors.length) throw new UsageError(`${file} is not a valid WO:\n${formatErrors(c.errors)}`);
      const what = c.routes !== undefined ? `routes ${c.routes} WO${c.routes === 1 ? '' : 's'}` : `${c.id}, ${c.type}`;
      process.stdout.write(`${paint('valid', 'green')}: ${file} (${what})\n`);
    });
}
