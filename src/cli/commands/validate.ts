/** `wo validate <file>`: validate only, with precise errors (exit 2 when invalid). */
import type { Command } from 'commander';
import { printJson, rootOf, withRoot, paint } from '../common.js';
import { checkWoFile, formatErrors } from '../wo-file.js';
import { UsageError } from '../../errors.js';

export function register(program: Command, name: string): void {
  withRoot(program.command(name))
    .description('validate a WO file (YAML or JSON) exactly as the daemon would, without submitting it')
    .argument('<file>', 'the WO file')
    .option('--lane <lane>', 'validate for this lane (ENTRY accepts bundles and WOs without wo_id)', 'CLC')
    .option('--json', 'print the result as JSON')
    .action(async (file: string, opts: { root?: string; lane: string; json?: boolean }) => {
      const c = await checkWoFile(file, rootOf(opts), opts.lane);
      const errors = c.result.ok ? c.pathErrors : c.result.errors;
      const warnings = c.result.ok ? c.result.warnings : [];
      if (opts.json) {
        printJson({ file, valid: errors.length === 0, ...(c.result.ok ? { wo_id: c.result.wo.wo_id, type: c.result.wo.type } : { code: c.result.code }), errors, warnings });
        if (errors.length) process.exitCode = 2;
        return;
      }
      for (const w of warnings) process.stderr.write(`${paint('warning', 'yellow')}: ${w}\n`);
      if (errors.length) throw new UsageError(`${file} is not a valid WO:\n${formatErrors(errors)}`);
      const wo = c.result.ok ? c.result.wo : undefined;
      process.stdout.write(`${paint('valid', 'green')}: ${file}${wo?.wo_id ? ` (${wo.wo_id}, ${wo.type})` : ''}\n`);
    });
}
