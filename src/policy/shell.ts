/** Policy analysis of one command (SPEC §6, guarded mode): which programs it runs and where it writes. Pure. */
import path from 'node:path';
import { parse, type ParseEntry } from 'shell-quote';
import type { CommandSpec } from '../wo/parse.js';
import { commandText } from '../wo/parse.js';
import { prepareShell } from './shell-lex.js';
import { isInternalRel, underAny } from './roots.js';

export interface ShellPolicy {
  allowCommands: readonly string[];
  root: string;
  allowedRoots: readonly string[];
}

export interface CommandAnalysis {
  allowed: boolean;
  reasons: string[];
  programs: string[];
}

/** Builtins that change nothing: always allowed (SPEC §6). */
export const SAFE_BUILTINS: readonly string[] = ['cd', ':', 'test', '[', 'echo', 'printf', 'true', 'false'];
/** Programs that run another program we cannot see: allowed only if literally on the list. */
export const RUNS_OTHERS: readonly string[] = [
  'env', 'xargs', 'sudo', 'doas', 'su', 'sh', 'bash', 'zsh', 'dash', 'ksh', 'fish', 'eval', 'exec', 'source', '.',
  'nohup', 'nice', 'time', 'timeout', 'command', 'builtin',
];
const KEYWORDS = new Set(['if', 'then', 'else', 'elif', 'fi', 'do', 'done', 'while', 'until', '!', '{', '}', 'esac']);
/** Segments opened by these hold names and words, not a program. */
const NO_PROGRAM = new Set(['for', 'case', 'select']);
const CONTROL_OPS = new Set(['|', '|&', '||', '&&', ';', ';;', '&', '(', ')']);
const WRITE_OPS = new Set(['>', '>>', '>|', '&>', '&>>', '<>']);
const READ_OPS = new Set(['<', '<<', '<<-', '<<<']);
const DUP_OPS = new Set(['>&', '<&']);
const HARMLESS_TARGETS = new Set(['/dev/null', '/dev/stdout', '/dev/stderr']);
/** Assignments that change which program runs, or how the shell splits words. */
const DANGEROUS_VAR = /^(PATH|IFS|ENV|BASH_ENV|CDPATH|LD_[A-Z_]*|DYLD_[A-Z_]*)=/;
const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;
const SYSTEM_BIN = /^\/(usr\/(local\/)?)?s?bin\/[^/]+$|^\/opt\/homebrew\/bin\/[^/]+$/;

type Token = { word: string } | { op: string } | { bad: string };

/** Why: guarded mode runs a WO alone only if every program of every command is known and allowed. */
export function analyzeCommand(cmd: CommandSpec, ctx: ShellPolicy): CommandAnalysis {
  const shown = display(commandText(cmd));
  const problems = new Set<string>();
  const programs: string[] = [];
  if (cmd.kind === 'argv') {
    checkProgram(cmd.argv[0] ?? '', ctx, problems, programs);
  } else {
    const prepared = prepareShell(cmd.cmd);
    for (const f of prepared.findings) problems.add(f);
    const walker = new Walker(ctx, problems, programs);
    for (const line of prepared.lines) walker.line(tokenize(line, problems));
  }
  const reasons = [...problems].map((p) => `command '${shown}': ${p}`);
  return { allowed: reasons.length === 0, reasons, programs: [...new Set(programs)] };
}

function tokenize(line: string, problems: Set<string>): Token[] {
  let entries: ParseEntry[];
  try {
    entries = parse(line, (key) => `$${key}`);
  } catch (err) {
    problems.add(`it cannot be parsed (${(err as Error).message})`);
    return [];
  }
  return entries.map((e): Token => {
    if (typeof e === 'string') return { word: e };
    if ('comment' in e) return { bad: 'a comment could not be separated from the command' };
    if (e.op === 'glob') return { word: (e as { pattern: string }).pattern };
    return { op: e.op };
  });
}

/** Walks the tokens of logical lines, segment by segment, remembering the working folder (`cd`). */
class Walker {
  private cwd: string | null;
  constructor(private ctx: ShellPolicy, private problems: Set<string>, private programs: string[]) {
    this.cwd = path.resolve(ctx.root);
  }

  line(tokens: Token[]): void {
    let words: string[] = [];
    const outer: string[][] = []; // the words around a process substitution <(…)
    for (let i = 0; i < tokens.length; i += 1) {
      const t = tokens[i]!;
      if ('bad' in t) {
        this.problems.add(t.bad);
      } else if ('word' in t) {
        const n = tokens[i + 1];
        const fd = /^\d+$/.test(t.word) && n !== undefined && 'op' in n && isRedirect(n.op);
        if (!fd) words.push(t.word);
      } else if (t.op === '<(' || t.op === '>(') {
        outer.push(words);
        words = [];
      } else if (t.op === ')' && outer.length) {
        this.segment(words);
        words = outer.pop()!;
      } else if (CONTROL_OPS.has(t.op)) {
        this.segment(words);
        words = [];
      } else if (isRedirect(t.op)) {
        const target = tokens[i + 1];
        i += 1;
        this.redirect(t.op, target && 'word' in target ? target.word : undefined);
      } else {
        this.problems.add(`the shell operator '${t.op}' is not understood`);
      }
    }
    this.segment(words);
  }

  private segment(words: string[]): void {
    let k = 0;
    while (k < words.length && KEYWORDS.has(words[k]!)) k += 1;
    if (k < words.length && NO_PROGRAM.has(words[k]!)) return;
    for (; k < words.length && ASSIGNMENT.test(words[k]!); k += 1) {
      const name = words[k]!.slice(0, words[k]!.indexOf('='));
      if (DANGEROUS_VAR.test(words[k]!)) this.problems.add(`the assignment to ${name} changes which program runs`);
    }
    const program = words[k];
    if (program === undefined) return;
    if (program === 'cd') this.cd(words.slice(k + 1));
    checkProgram(program, this.ctx, this.problems, this.programs);
  }

  private cd(args: string[]): void {
    const dest = args.find((a) => !/^-[LPe@]+$/.test(a));
    if (dest === undefined || dest === '-' || /[$~*?[]/.test(dest) || this.cwd === null) this.cwd = null;
    else this.cwd = path.resolve(this.cwd, dest);
  }

  private redirect(op: string, target: string | undefined): void {
    if (target === undefined) {
      this.problems.add(`the redirection '${op}' has no target`);
      return;
    }
    if (READ_OPS.has(op)) return;
    if (DUP_OPS.has(op)) {
      if (!/^(\d+|-)$/.test(target)) this.problems.add(`the redirection '${op} ${target}' writes to a file: write '> ${target} 2>&1' instead`);
      return;
    }
    if (!WRITE_OPS.has(op) || HARMLESS_TARGETS.has(target)) return;
    const why = this.writeProblem(target);
    if (why) this.problems.add(`the redirection '${op} ${target}' ${why}`);
  }

  private writeProblem(target: string): string | undefined {
    if (target === '' || /[$~`]/.test(target)) return 'writes to a place that depends on the environment and cannot be checked';
    const base = path.isAbsolute(target) ? '/' : this.cwd;
    if (base === null) return "writes to a relative path after a 'cd' whose destination cannot be checked";
    const abs = path.resolve(base, target);
    const root = path.resolve(this.ctx.root);
    if (!underAny(abs, [root, ...this.ctx.allowedRoots.map((r) => path.resolve(r))])) {
      return 'writes outside the root and policy.allowed_roots';
    }
    if (abs.startsWith(root + path.sep) && isInternalRel(path.relative(root, abs))) return "writes into the daemon's internals (bridge/ or g/)";
    return undefined;
  }
}

function isRedirect(op: string): boolean {
  return WRITE_OPS.has(op) || READ_OPS.has(op) || DUP_OPS.has(op);
}

/** Record a program and say why it is not allowed, if it is not. */
function checkProgram(word: string, ctx: ShellPolicy, problems: Set<string>, programs: string[]): void {
  const name = programName(word);
  programs.push(name);
  const listed = ctx.allowCommands.includes(word) || ctx.allowCommands.includes(name);
  if (listed || SAFE_BUILTINS.includes(name)) return;
  if (word === '') problems.add('an empty program name cannot be checked');
  else if (/[$`]/.test(word)) problems.add(`program '${word}' comes from a variable and cannot be checked`);
  else if (RUNS_OTHERS.includes(name)) problems.add(`program '${name}' runs other programs, which cannot be checked, and is not on policy.allow_commands`);
  else problems.add(`program '${name}' is not on policy.allow_commands`);
}

/**
 * The name a program is checked under: a system binary path (`/bin/rm`) counts as its basename;
 * any other path (`./cat`, `tools/x.sh`) is checked as written (normalised), so a file a WO wrote
 * cannot pass for an allowed tool.
 */
export function programName(word: string): string {
  if (!word.includes('/')) return word;
  const norm = path.posix.normalize(word);
  if (SYSTEM_BIN.test(norm)) return path.posix.basename(norm);
  return norm.includes('/') ? norm : `./${norm}`;
}

function display(text: string): string {
  const one = text.replace(/\n/g, '↵');
  return one.length > 120 ? `${one.slice(0, 117)}…` : one;
}
