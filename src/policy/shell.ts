/** Policy analysis of one command (SPEC §6, guarded mode): which programs it runs and where it writes. Pure. */
import type { CommandSpec } from '../wo/parse.js';
import { commandText } from '../wo/parse.js';
import { walkScript, programName, SAFE_BUILTINS, RUNS_OTHERS } from './shell-walk.js';

export { programName, SAFE_BUILTINS, RUNS_OTHERS };

export interface ShellPolicy {
  allowCommands: readonly string[];
  root: string;
  allowedRoots: readonly string[];
  /** `policy.allow_self_modify`: wo.config.yaml and .git/ become ordinary paths (bridge/ and g/ never do). */
  allowSelfModify?: boolean;
}

export interface CommandAnalysis {
  allowed: boolean;
  reasons: string[];
  /** Every program the command can run, as checked (a dynamic name is listed as written). */
  programs: string[];
  /** False when the shell may run programs not in `programs` (a variable as program name, eval of a variable…). */
  complete?: boolean;
}

/** Why: guarded mode runs a WO alone only if every program of every command is known and allowed. */
export function analyzeCommand(cmd: CommandSpec, ctx: ShellPolicy): CommandAnalysis {
  const shown = display(commandText(cmd));
  const policy = { allowCommands: ctx.allowCommands, root: ctx.root, allowedRoots: ctx.allowedRoots, allowSelfModify: ctx.allowSelfModify ?? false };
  // An argv runs without a shell: its words are quoted, so only its program and its path words are judged.
  const src = cmd.kind === 'argv' ? cmd.argv.map(quote).join(' ') || "''" : cmd.cmd;
  const walked = walkScript(src, policy);
  const reasons = walked.problems.map((p) => `command '${shown}': ${p}`);
  if (walked.complete) return { allowed: reasons.length === 0, reasons, programs: walked.programs };
  if (reasons.length === 0) reasons.push(`command '${shown}': it cannot be fully analysed`); // never allowed
  return { allowed: false, reasons, programs: walked.programs, complete: false };
}

function quote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

function display(text: string): string {
  const one = text.replace(/\n/g, '↵');
  return one.length > 120 ? `${one.slice(0, 117)}…` : one;
}
