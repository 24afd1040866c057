/** `wo completion bash|zsh|fish`: a completion script (commands, options, WO ids); `wo __complete-ids`: the ids it asks for. */
import fsp from 'node:fs/promises';
import { Command } from 'commander';
import { rootOf, withRoot } from '../common.js';
import { layout } from '../../layout.js';
import { UsageError } from '../../errors.js';
import { WO_ID_RE } from '../../wo/schema.js';

type Table = Record<string, { module: string; summary: string; hidden?: boolean }>;

/** What a script needs to know about one command. */
export interface CommandSpec {
  name: string;
  summary: string;
  /** Long and short flags; `takesValue` when the option needs an argument. */
  options: { long?: string; short?: string; takesValue: boolean; description: string }[];
  /** Sub-subcommands (guardrail check|protect, service install|…, mls add|list). */
  subcommands: string[];
  /** Its argument is a WO id (approve, reject, show, …). */
  takesId: boolean;
  /** Its argument is a file. */
  takesFile: boolean;
}

/** Commands whose argument is a wo_id: completed from g/followup/state. */
export const ID_COMMANDS = ['approve', 'reject', 'retry', 'cancel', 'rollback', 'show'];

/** Collect every visible command's options by registering each module on a throwaway program. */
export async function collectSpecs(table: Table): Promise<CommandSpec[]> {
  const out: CommandSpec[] = [];
  for (const [name, entry] of Object.entries(table)) {
    if (entry.hidden) continue;
    const p = new Command('wo');
    const mod = (await import(new URL(entry.module, new URL('../main.js', import.meta.url)).href)) as { register: (p: Command, name: string, table: Table) => void };
    mod.register(p, name, table);
    const cmd = p.commands[0];
    const options = (cmd?.options ?? []).map((o) => ({ ...(o.long ? { long: o.long } : {}), ...(o.short ? { short: o.short } : {}), takesValue: o.required || o.optional, description: o.description }));
    options.push({ long: '--help', short: '-h', takesValue: false, description: 'show help' });
    const firstArg = (cmd as unknown as { registeredArguments?: { name(): string }[] } | undefined)?.registeredArguments?.[0]?.name() ?? '';
    out.push({
      name,
      summary: entry.summary,
      options,
      subcommands: (cmd?.commands ?? []).map((c) => c.name()),
      takesId: ID_COMMANDS.includes(name),
      takesFile: /file|path/.test(firstArg),
    });
  }
  return out;
}

const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const flags = (c: CommandSpec) => c.options.flatMap((o) => [o.long, o.short].filter((x): x is string => !!x));

/** Why: bash completes from one function; unknown words fall back to file names (`complete -o default`). */
export function bashScript(specs: CommandSpec[]): string {
  const cases = specs.map((c) => `    ${c.name}) opts=${sq([...c.subcommands, ...flags(c)].join(' '))} ;;`).join('\n');
  const ids = specs.filter((c) => c.takesId).map((c) => c.name).join('|');
  return `# wo bash completion: source <(wo completion bash)   (or save it to ~/.local/share/bash-completion/completions/wo)
_wo() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" opts=""
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W ${sq(specs.map((c) => c.name).join(' '))} -- "$cur") )
    return 0
  fi
  if [ "$prev" = "--root" ]; then COMPREPLY=( $(compgen -d -- "$cur") ); return 0; fi
  case "\${COMP_WORDS[1]}" in
${ids ? `    ${ids}) if [[ "$cur" != -* ]]; then COMPREPLY=( $(compgen -W "$(wo __complete-ids 2>/dev/null)" -- "$cur") ); return 0; fi ;;\n` : ''}  esac
  case "\${COMP_WORDS[1]}" in
${cases}
  esac
  if [[ "$cur" == -* || "$COMP_CWORD" -eq 2 ]]; then COMPREPLY=( $(compgen -W "$opts" -- "$cur") ); fi
  return 0
}
complete -o default -F _wo wo
`;
}

/** Why: zsh has its own completion system; a small native function (descriptions for commands). */
export function zshScript(specs: CommandSpec[]): string {
  const cmds = specs.map((c) => `    ${sq(`${c.name}:${c.summary.replace(/:/g, '\\:')}`)}`).join('\n');
  const cases = specs.map((c) => `    ${c.name}) opts=(${[...c.subcommands, ...flags(c)].map(sq).join(' ')}) ;;`).join('\n');
  const ids = specs.filter((c) => c.takesId).map((c) => c.name).join('|');
  return `#compdef wo
# wo zsh completion: source <(wo completion zsh)   (or save it as _wo in a folder of your $fpath)
_wo() {
  local -a cmds opts ids
  cmds=(
${cmds}
  )
  if (( CURRENT == 2 )); then _describe 'command' cmds; return; fi
  if [[ $words[CURRENT-1] == --root ]]; then _files -/; return; fi
  case $words[2] in
${ids ? `    ${ids}) if [[ $words[CURRENT] != -* ]]; then ids=(\${(f)"$(wo __complete-ids 2>/dev/null)"}); compadd -a ids; return; fi ;;\n` : ''}  esac
  case $words[2] in
${cases}
  esac
  compadd -a opts
  _files
}
if [[ $zsh_eval_context[-1] == loadautoload ]]; then _wo "$@"; else compdef _wo wo; fi
`;
}

/** Why: fish completions are declarative, one `complete` line per item. */
export function fishScript(specs: CommandSpec[]): string {
  const esc = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  const lines = ['# wo fish completion: wo completion fish | source   (or save it to ~/.config/fish/completions/wo.fish)', 'complete -c wo -f'];
  for (const c of specs) lines.push(`complete -c wo -n __fish_use_subcommand -a ${c.name} -d ${esc(c.summary)}`);
  for (const c of specs) {
    const when = `-n ${esc(`__fish_seen_subcommand_from ${c.name}`)}`;
    for (const s of c.subcommands) lines.push(`complete -c wo ${when} -a ${s}`);
    for (const o of c.options) {
      const parts = [o.long ? `-l ${o.long.replace(/^--/, '')}` : '', o.short ? `-s ${o.short.replace(/^-/, '')}` : '', o.takesValue ? '-r' : ''].filter(Boolean).join(' ');
      lines.push(`complete -c wo ${when} ${parts} -d ${esc(o.description)}`);
    }
    if (c.takesId) lines.push(`complete -c wo ${when} -a '(wo __complete-ids 2>/dev/null)'`);
    if (c.takesFile) lines.push(`complete -c wo ${when} -F`);
  }
  return lines.join('\n') + '\n';
}

/** What a wo_id may be (SPEC §3); anything else in the folder is not a record of ours. */
const ID_RE = WO_ID_RE;

/** Why: the shells expand completion words (`compgen -W` runs `$(…)`), so only names that are valid ids are listed. */
export async function listIds(root: string): Promise<string[]> {
  const names = await fsp.readdir(layout(root).state).catch(() => [] as string[]);
  return names.filter((n) => n.endsWith('.json') && !n.startsWith('.')).map((n) => n.slice(0, -'.json'.length)).filter((id) => ID_RE.test(id) && id !== '.' && id !== '..').sort();
}

export function register(program: Command, name: string, table: Table = {}): void {
  if (name === '__complete-ids') {
    withRoot(program.command(name, { hidden: true }))
      .description('print the WO ids, one a line (for completion scripts)')
      .action(async (opts: { root?: string }) => {
        const ids = await listIds(rootOf(opts));
        if (ids.length) process.stdout.write(ids.join('\n') + '\n');
      });
    return;
  }
  program
    .command(name)
    .description('print a shell completion script (commands, options, and WO ids for approve/reject/retry/cancel/rollback/show)')
    .argument('<shell>', 'bash, zsh or fish')
    .addHelpText('after', `
Install:
  bash:  source <(wo completion bash)        # in ~/.bashrc
  zsh:   source <(wo completion zsh)         # in ~/.zshrc, after compinit
  fish:  wo completion fish > ~/.config/fish/completions/wo.fish`)
    .action(async (shell: string) => {
      const render = { bash: bashScript, zsh: zshScript, fish: fishScript }[shell];
      if (!render) throw new UsageError(`completion ${shell}: give bash, zsh or fish`);
      process.stdout.write(render(await collectSpecs(table)));
    });
}
