/** `wo doctor [--json]`: preflight checks, each ok / warn / fail with its fix; exit 1 on any fail. */
import type { Command } from 'commander';
import { paint, printJson, rootOf, withRoot } from '../common.js';

export function register(program: Command, name: string): void {
  withRoot(
    program
      .command(name)
      .description('preflight: node version, folders and permissions, disk space, git, lock, service installed, port')
      .option('--json', 'print {ok, checks:[{name, level, detail, fix?}]}'),
  ).action(async (opts: { root?: string; json?: boolean }) => {
    const { runDoctor } = await import('../../service/doctor.js');
    const checks = await runDoctor(rootOf(opts));
    const ok = !checks.some((c) => c.level === 'fail');
    if (opts.json) printJson({ ok, checks });
    else {
      const tag = { ok: paint('ok  ', 'green'), warn: paint('warn', 'yellow'), fail: paint('FAIL', 'red') } as const;
      for (const c of checks) {
        process.stdout.write(`${tag[c.level]}  ${c.name.padEnd(8)} ${c.detail}\n`);
        if (c.fix && c.level !== 'ok') process.stdout.write(`      ${' '.repeat(8)} fix: ${c.fix}\n`);
      }
      const n = (l: string) => checks.filter((c) => c.level === l).length;
      process.stdout.write(`\n${ok ? paint('ready', 'green') : paint('not ready', 'red')}: ${n('fail')} failed, ${n('warn')} warnings\n`);
    }
    if (!ok) process.exitCode = 1;
  });
}
