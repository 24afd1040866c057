/** `wo config [--defaults] [--json] [--reference]`: the effective config, or the generated config reference. */
import type { Command } from 'commander';
import { printJson, rootOf, withRoot } from '../common.js';

export function register(program: Command, name: string): void {
  withRoot(program.command(name))
    .description("print the effective config (the defaults merged with the root's wo.config.yaml), or the reference")
    .option('--defaults', 'print every key with its effective value, defaults filled in (the default action)')
    .option('--json', 'print it as JSON instead of YAML')
    .option('--reference', 'print the config reference (Markdown, as docs/config.md)')
    .action(async (opts: { root?: string; defaults?: boolean; json?: boolean; reference?: boolean }) => {
      const ref = await import('../../config/reference.js');
      if (opts.reference) {
        process.stdout.write(ref.configReferenceMarkdown());
        return;
      }
      const { loadConfig } = await import('../../config/load.js');
      const effective = ref.configKeysOf(await loadConfig(rootOf(opts)));
      if (opts.json) printJson(effective);
      else {
        const YAML = (await import('yaml')).default;
        process.stdout.write(YAML.stringify(effective, { lineWidth: 0 }));
      }
    });
}
