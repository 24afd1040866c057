/** `wo schema wo|config`: print the JSON Schema of WO files or of wo.config.yaml (as committed under schemas/). */
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { rootOf, withRoot } from '../common.js';

export function register(program: Command, name: string): void {
  withRoot(program.command(name))
    .description("print the JSON Schema (draft 2020-12) of a WO file (wo) or of wo.config.yaml (config); the WO schema states the root's limits")
    .argument('<which>', 'wo or config')
    .action(async (which: string, opts: { root?: string }) => {
      const { schemaText, woJsonSchema } = await import('../../wo/jsonschema.js');
      const { configJsonSchemaDescribed } = await import('../../config/reference.js');
      if (which === 'wo') {
        const { loadConfig } = await import('../../config/load.js');
        const { limits } = await loadConfig(rootOf(opts));
        process.stdout.write(schemaText(woJsonSchema({ file_bytes: limits.file_bytes, files: limits.files })));
      } else if (which === 'config') process.stdout.write(schemaText(configJsonSchemaDescribed()));
      else throw new UsageError(`unknown schema '${which}': expected wo or config`);
    });
}
