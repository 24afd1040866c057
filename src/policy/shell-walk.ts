/**
 * The walk over one parsed `/bin/sh -c` string (unbash AST): every command of every node, the programs it names,
 * and what makes it need approval. Tracks the folders `cd` may have led to. Pure.
 */
import path from 'node:path';
import { forEachChild, parse } from 'unbash';
import type {
  ArithmeticExpression, Assignment, Command, CompoundList, ParsedScript, Redirection, Statement, SyntaxNode,
  TestExpression, Word, WordPart, DoubleQuotedChild, CommandNode, PipelineNode, AndOr,
} from 'unbash';
import { literalOf, sensitivePath, coversRoot, piecesOf, type PathContext } from './shell-words.js';
import { internalReason, underAny } from './roots.js';

export interface WalkPolicy {
  allowCommands: readonly string[];
  root: string;
  allowedRoots: readonly string[];
  allowSelfModify: boolean;
}

export interface WalkResult {
  problems: string[];
  programs: string[];
  /** False when the shell may run programs the walk could not name (dynamic names, eval of variables, …). */
  complete: boolean;
}

/** Builtins that change nothing: always allowed (SPEC §6). */
export const SAFE_BUILTINS: readonly string[] = ['cd', ':', 'test', '[', 'echo', 'printf', 'true', 'false'];
/** Programs that run another program we cannot see: allowed only if literally on the list. */
export const RUNS_OTHERS: readonly string[] = [
  'env', 'xargs', 'sudo', 'doas', 'su', 'sh', 'bash', 'zsh', 'dash', 'ksh', 'fish', 'eval', 'exec', 'source', '.',
  'nohup', 'nice', 'time', 'timeout', 'command', 'builtin', 'trap', 'coproc', 'setsid', 'stdbuf', 'chroot', 'flock',
];
/** Shell builtins that run their first operand in this shell (so the shell, not a stub, runs it). */
const RUNS_OPERAND = new Set(['command', 'exec', 'builtin']);
/** Variables whose value changes which program runs, how words split, or what the shell evaluates. */
const DANGEROUS_VAR = /^(PATH|IFS|ENV|BASH_ENV|CDPATH|SHELLOPTS|BASHOPTS|PS4|PROMPT_COMMAND|GLOBIGNORE|BASH_XTRACEFD|BASH_FUNC_.*|LD_[A-Z_]*|DYLD_[A-Z_]*)$/;
const HARMLESS_TARGETS = new Set(['/dev/null', '/dev/stdout', '/dev/stderr']);
const WRITE_OPS = new Set(['>', '>>', '>|', '&>', '&>>', '<>']);
const SYSTEM_BIN = /^\/(usr\/(local\/)?)?s?bin\/[^/]+$|^\/opt\/homebrew\/bin\/[^/]+$/;
const NUMBER = /^(0[xX][0-9a-fA-F]+|[0-9]+(#[0-9a-zA-Z@_]+)?)$/;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ARITH_TEST_OPS = new Set(['-eq', '-ne', '-lt', '-le', '-gt', '-ge']);
const GREP_FAMILY = new Set(['grep', 'egrep', 'fgrep', 'rgrep', 'rg', 'ag']);
const RECURSIVE = /^(-[A-Za-z]*[rR][A-Za-z]*|--recursive|--dereference-recursive)$/;
const MAX_CWDS = 16;
const MAX_EVAL_DEPTH = 4;
/** SPEC §6: a substitution counts as not allowed, whatever it runs (its programs are still listed and judged). */
const SUBST_WHY = 'command substitution $(…) runs a program that cannot be checked';
const ARITH_WHY = 'arithmetic on variables is not analysed (bash evaluates array subscripts in it, which can run commands)';

type Cwds = string[] | null;

/** Why: guarded mode needs the programs of the whole AST, loop bodies, functions and substitutions included. */
export function walkScript(src: string, policy: WalkPolicy): WalkResult {
  const w = new Walker(policy);
  w.top(parse(src));
  return { problems: [...w.problems], programs: [...new Set(w.programs)], complete: w.complete };
}

/**
 * Why: the name a program is checked under: a system binary path (`/bin/rm`) counts as its basename; any other
 * path (`./cat`, `tools/x.sh`) is checked as written (normalised), so a file a WO wrote cannot pass for a tool.
 */
export function programName(word: string): string {
  if (!word.includes('/')) return word;
  const norm = path.posix.normalize(word);
  if (SYSTEM_BIN.test(norm)) return path.posix.basename(norm);
  return norm.includes('/') ? norm : `./${norm}`;
}

class Walker {
  readonly problems = new Set<string>();
  readonly programs: string[] = [];
  complete = true;
  private cwds: Cwds;
  private readonly visited = new Set<SyntaxNode>();
  /** Functions defined unconditionally at the top level, with where their definition ends. */
  private readonly topFunctions = new Map<string, number>();
  private readonly allFunctions = new Set<string>();
  private functionsMoveCwd = false;
  private evalDepth = 0;
  private readonly pctx: PathContext;

  constructor(private readonly policy: WalkPolicy) {
    this.cwds = [path.resolve(policy.root)];
    this.pctx = { root: policy.root, allowSelfModify: policy.allowSelfModify };
  }

  top(script: ParsedScript): void {
    for (const st of script.commands) {
      if (st.command.type === 'Function' && !st.background) {
        const name = literalOf(st.command.name);
        if (name !== undefined && !this.topFunctions.has(name)) this.topFunctions.set(name, st.command.end);
      }
    }
    this.prepass(script);
    this.list(script.commands);
    this.safetyNet(script);
  }

  private hold(problem: string, incomplete = false): void {
    this.problems.add(problem);
    if (incomplete) this.complete = false;
  }

  /** Function names, and whether calling one may change the folder (a `cd` or anything opaque in a body). */
  private prepass(root: SyntaxNode): void {
    const scan = (n: SyntaxNode, inFunction: boolean): void => {
      if (n.type === 'Function') {
        const name = literalOf(n.name);
        if (name !== undefined) this.allFunctions.add(name);
        forEachChild(n, (c) => scan(c, true));
        return;
      }
      if (inFunction && n.type === 'Command') {
        const name = n.name && literalOf(n.name);
        if (name === undefined || ['cd', 'pushd', 'popd', 'eval', '.', 'source', 'trap'].includes(name) || RUNS_OPERAND.has(name)) {
          this.functionsMoveCwd = true;
        }
      }
      forEachChild(n, (c) => scan(c, inFunction));
    };
    scan(root, false);
    if (this.allFunctions.size && [...this.allFunctions].some((f) => this.calledInFunction(root, f))) this.functionsMoveCwd = true;
  }

  /** A function calling another function: its folder effect is not followed, so calling it makes the folder unknown. */
  private calledInFunction(root: SyntaxNode, name: string): boolean {
    let found = false;
    const scan = (n: SyntaxNode, inFunction: boolean): void => {
      if (found) return;
      if (inFunction && n.type === 'Command' && n.name && literalOf(n.name) === name) found = true;
      forEachChild(n, (c) => scan(c, inFunction || n.type === 'Function'));
    };
    scan(root, false);
    return found;
  }

  /** Every Command node the generic traversal finds must have been walked; every script must parse. */
  private safetyNet(root: SyntaxNode): void {
    const scan = (n: SyntaxNode): void => {
      if (n.type === 'Script' && n.errors?.length) {
        for (const e of n.errors) this.hold(`it cannot be parsed (${e.message})`, true);
      }
      if (n.type === 'Command' && !this.visited.has(n)) this.hold('a command inside it could not be analysed', true);
      forEachChild(n, scan);
    };
    scan(root);
  }

  // ---- control flow, with the folders `cd` may have led to ----

  private from(cwds: Cwds, fn: () => void): Cwds {
    const saved = this.cwds;
    this.cwds = cwds;
    try {
      fn();
      return this.cwds;
    } finally {
      this.cwds = saved;
    }
  }

  private list(statements: readonly Statement[]): void {
    for (const st of statements) this.node(st.command);
  }

  private compound(l: CompoundList): void {
    this.list(l.commands);
  }

  private node(n: PipelineNode | AndOr | CompoundList): void {
    switch (n.type) {
      case 'AndOr': {
        n.commands.forEach((c, i) => {
          if (i === 0) this.node(c);
          else this.cwds = union(this.cwds, this.from(this.cwds, () => this.node(c)));
        });
        return;
      }
      case 'Pipeline': {
        for (const p of n.prefixes) if (p.type === 'Time') this.program('time');
        if (n.commands.length === 1) return this.node(n.commands[0]!);
        const before = this.cwds;
        let out = before;
        for (const c of n.commands) out = union(out, this.from(before, () => this.node(c)));
        this.cwds = out;
        return;
      }
      case 'CompoundList':
        return this.compound(n);
      default:
        return this.commandNode(n);
    }
  }

  private commandNode(n: CommandNode): void {
    switch (n.type) {
      case 'Command':
        return this.command(n);
      case 'Redirected':
        for (const r of n.redirects) this.redirect(r);
        return this.node(n.command);
      case 'Subshell':
        this.from(this.cwds, () => this.compound(n.body));
        return;
      case 'BraceGroup':
        return this.compound(n.body);
      case 'If': {
        this.compound(n.clause);
        let cur = this.cwds;
        const ends: Cwds[] = [this.from(cur, () => this.compound(n.then))];
        for (const e of n.elif) {
          cur = this.from(cur, () => this.compound(e.clause));
          ends.push(this.from(cur, () => this.compound(e.then)));
        }
        ends.push(n.else ? this.from(cur, () => this.compound(n.else!)) : cur);
        this.cwds = ends.reduce(union);
        return;
      }
      case 'While':
        return this.loop(() => this.compound(n.clause), n.body);
      case 'For':
      case 'Select':
        for (const w of n.wordlist ?? []) this.dataWord(w, 'the loop word');
        if (n.type === 'Select') this.program('select');
        return this.loop(() => undefined, n.body);
      case 'ArithmeticFor':
        for (const e of [n.initialize, n.test, n.update]) if (e) this.arith(e);
        return this.loop(() => undefined, n.body);
      case 'Case': {
        this.word(n.word);
        const before = this.cwds;
        let out = before;
        for (const item of n.items) {
          for (const p of item.pattern) this.word(p);
          out = union(out, this.from(before, () => this.compound(item.body)));
        }
        this.cwds = out;
        return;
      }
      case 'TestCommand':
        return this.test(n.expression);
      case 'ArithmeticCommand':
        if (n.expression) this.arith(n.expression);
        else this.hold(`the arithmetic command ((${n.body})) cannot be parsed`, true);
        return;
      case 'Function':
        // The body is judged where it is written; calls are judged where they are (see command()).
        this.from(this.cwds, () => (n.body.type === 'CompoundList' ? this.compound(n.body) : this.commandNode(n.body)));
        return;
      case 'Coproc':
        this.program('coproc');
        this.from(this.cwds, () => (n.body.type === 'CompoundList' ? this.compound(n.body) : this.commandNode(n.body)));
        return;
      default:
        this.hold(`the shell construct '${(n as { type: string }).type}' is not understood`, true);
    }
  }

  /** A loop body runs zero or more times: iterate until the folders it may leave are stable. */
  private loop(clause: () => void, body: CompoundList): void {
    let s = this.cwds;
    let afterClause = s;
    for (let i = 0; i < 4; i += 1) {
      afterClause = this.from(s, clause);
      const afterBody = this.from(afterClause, () => this.compound(body));
      const next = union(union(s, afterClause), afterBody);
      if (same(next, s)) break;
      s = i === 3 ? null : next;
    }
    this.cwds = union(s, afterClause);
  }

  // ---- one simple command ----

  private command(c: Command): void {
    this.visited.add(c);
    for (const p of c.prefix) {
      if (p.type === 'Assignment') this.assignment(p);
      else this.redirect(p);
    }
    if (c.name) this.word(c.name);
    const args: Word[] = [];
    for (const s of c.suffix) {
      if (s.type === 'Word') {
        this.word(s);
        args.push(s);
      } else if (s.type === 'Assignment') {
        this.assignment(s);
      } else {
        this.redirect(s);
      }
    }
    if (!c.name) return;
    const name = literalOf(c.name);
    if (name === undefined) {
      this.programs.push(c.name.text);
      this.hold(`program '${c.name.text}' comes from a variable and cannot be checked`, true);
      return;
    }
    const defined = this.topFunctions.get(name);
    if (defined !== undefined && defined <= c.pos) {
      if (this.functionsMoveCwd) this.cwds = null; // a function's own `cd` is not followed
      return;
    }
    this.simple(name, args);
  }

  /** The meaning of a command by its (literal) name, with its argument words. */
  private simple(name: string, args: readonly Word[]): void {
    this.program(name);
    if (this.allFunctions.has(name) && this.functionsMoveCwd) this.cwds = null;
    if (name === 'cd') return this.cd(args);
    if (RUNS_OPERAND.has(name)) return this.operand(name, args);
    if (name === 'eval') return this.evalWords(args);
    if (name === 'trap') return this.trap(args);
    if (name === '.' || name === 'source') return this.hold(`'${name}' runs the commands of a file, which cannot be checked`, true);
    if (name === 'alias' || name === 'unalias') return this.hold(`'${name}' changes what a command name runs`, true);
    if (name === 'hash' && args.some((a) => literalOf(a)?.startsWith('-p'))) this.hold("'hash -p' changes which program a name runs", true);
    if (name === 'let') this.hold(ARITH_WHY, true);
    if (name === 'printf' && this.optionBeforeOperands(args, '-v')) this.hold("'printf -v' assigns a variable (bash evaluates its subscript, which can run commands)", true);
    if ((name === 'test' || name === '[') && this.testV(args)) this.hold("'-v' with an array subscript is evaluated by bash, which can run commands", true);
    if (!SAFE_BUILTINS.includes(name)) this.arguments(name, args);
  }

  private optionBeforeOperands(args: readonly Word[], opt: string): boolean {
    for (const a of args) {
      const v = literalOf(a);
      if (v === undefined) return true;
      if (v === opt || v.startsWith(opt)) return true;
      if (v === '--' || !v.startsWith('-')) return false;
    }
    return false;
  }

  private testV(args: readonly Word[]): boolean {
    return args.some((a, i) => literalOf(a) === '-v' && !NAME.test(literalOf(args[i + 1] ?? a) ?? ''));
  }

  /** `command x`, `exec x`, `builtin x`: the shell runs x itself. */
  private operand(name: string, args: readonly Word[]): void {
    const i = args.findIndex((a) => !(literalOf(a) ?? '').startsWith('-'));
    if (i === -1) return;
    const inner = literalOf(args[i]!);
    if (inner === undefined) {
      this.programs.push(args[i]!.text);
      this.hold(`'${name}' runs a program that comes from a variable and cannot be checked`, true);
      return;
    }
    this.simple(inner, args.slice(i + 1));
  }

  private evalWords(args: readonly Word[]): void {
    const texts = args.map(literalOf);
    if (texts.some((t) => t === undefined)) return this.hold("'eval' runs text that comes from a variable and cannot be checked", true);
    this.nested(texts.join(' '), this.cwds, (cwds) => (this.cwds = cwds));
  }

  private trap(args: readonly Word[]): void {
    const first = args[0] && literalOf(args[0]);
    if (args.length < 2 || first === '-' || first?.startsWith('-')) return;
    if (first === undefined) return this.hold("'trap' runs text that comes from a variable and cannot be checked", true);
    this.nested(first, null, () => undefined); // runs later, wherever the shell then is
  }

  /** Text the shell parses again (eval, trap): parsed and walked like the command itself. */
  private nested(src: string, cwds: Cwds, after: (cwds: Cwds) => void): void {
    if (this.evalDepth >= MAX_EVAL_DEPTH) return this.hold('commands nested in eval/trap too deeply cannot be checked', true);
    this.evalDepth += 1;
    try {
      const script = parse(src);
      after(this.from(cwds, () => this.list(script.commands)));
      this.safetyNet(script);
    } finally {
      this.evalDepth -= 1;
    }
  }

  private cd(args: readonly Word[]): void {
    const dest = args.find((a) => !/^-[LPe@]+$|^--$/.test(literalOf(a) ?? ''));
    const d = dest && literalOf(dest);
    if (d === undefined || d === '' || d === '-' || d.startsWith('~')) this.cwds = null;
    else if (path.isAbsolute(d)) this.cwds = [path.resolve(d)];
    else this.cwds = this.cwds && this.cwds.map((c) => path.resolve(c, d));
  }

  /** Arguments of a program (not a safe builtin): internals, process memory, recursive reads of the root. */
  private arguments(name: string, args: readonly Word[]): void {
    for (const a of args) {
      const why = sensitivePath(a, this.cwds, this.pctx);
      if (why) this.hold(`argument '${a.text}' ${why}`);
    }
    const opts = args.map(literalOf);
    if (!opts.some((o) => o !== undefined && RECURSIVE.test(o))) return;
    const operands = args.filter((a, i) => !(opts[i] ?? '').startsWith('-'));
    const implicit = GREP_FAMILY.has(path.posix.basename(name)) && operands.length <= 1;
    if (operands.some((a) => coversRoot(a, this.cwds, this.policy.root)) || (implicit && coversCwd(this.cwds, this.policy.root))) {
      this.hold("it reads recursively through the root, the daemon's internals included");
    }
  }

  /** Record a program and say why it is not allowed, if it is not. */
  private program(word: string): void {
    const name = programName(word);
    this.programs.push(name);
    const listed = this.policy.allowCommands.includes(word) || this.policy.allowCommands.includes(name);
    if (listed || SAFE_BUILTINS.includes(name)) return;
    if (word === '') this.hold('an empty program name cannot be checked');
    else if (RUNS_OTHERS.includes(name)) this.hold(`program '${name}' runs other programs, which cannot be checked, and is not on policy.allow_commands`, true);
    else this.hold(`program '${name}' is not on policy.allow_commands`);
  }

  // ---- assignments, redirections, words ----

  private assignment(a: Assignment): void {
    if (DANGEROUS_VAR.test(a.name)) this.hold(`the assignment to ${a.name} changes which program runs`);
    if (a.index) this.subscript(a.index);
    const values = a.value.type === 'ArrayValue' ? a.value.elements : [a.value];
    for (const v of values) this.dataWord(v, `the assignment '${a.text}'`);
  }

  /** A word kept as data (assignment value, loop list): it may be used as a path later, wherever the shell is. */
  private dataWord(w: Word, what: string): void {
    this.word(w);
    const why = sensitivePath(w, this.cwds, this.pctx) ?? sensitivePath(w, null, this.pctx);
    if (why) this.hold(`${what} ${why}`);
  }

  private redirect(r: Redirection): void {
    if (r.type === 'HereDoc') {
      const delim = r.delimiter?.value ?? '';
      if (!r.closing) this.hold(`here-document '${delim}' is not terminated: the command cannot be analysed`, true);
      if (r.delimiter && !r.delimiter.quoted) {
        const parts = r.body.parts ?? [];
        if (parts.some((p) => p.type === 'CommandExpansion')) this.hold(`command substitution inside here-document '${delim}' runs a program that cannot be checked`);
        this.parts(parts);
      }
      return;
    }
    if (r.type === 'HereString') {
      if (r.target) this.word(r.target);
      return;
    }
    const op = r.operator;
    const t = r.target;
    if (!t) return this.hold(`the redirection '${op}' has no target`);
    this.word(t);
    const lit = literalOf(t);
    if (op === '>&' || op === '<&') {
      if (lit === undefined || !/^(\d+-?|-)$/.test(lit)) this.hold(`the redirection '${op} ${t.text}' writes to a file: write '> ${t.text} 2>&1' instead`);
      return;
    }
    if (lit !== undefined && HARMLESS_TARGETS.has(lit)) return;
    const why = sensitivePath(t, this.cwds, this.pctx);
    if (why) this.hold(`the redirection '${op} ${t.text}' ${why}`);
    if (!WRITE_OPS.has(op)) return;
    const bad = this.writeProblem(t);
    if (bad) this.hold(`the redirection '${op} ${t.text}' ${bad}`);
  }

  private writeProblem(t: Word): string | undefined {
    const root = path.resolve(this.policy.root);
    const alts = piecesOf(t, root);
    const target = alts.length === 1 && alts[0]!.every((p) => p.k === 'lit') ? alts[0]!.map((p) => (p as { s: string }).s).join('') : undefined;
    if (target === undefined || target === '') return 'writes to a place that depends on the environment and cannot be checked';
    const bases = path.isAbsolute(target) ? ['/'] : this.cwds;
    if (bases === null) return "writes to a relative path after a 'cd' whose destination cannot be checked";
    for (const base of bases) {
      const abs = path.resolve(base, target);
      if (!underAny(abs, [root, ...this.policy.allowedRoots.map((r) => path.resolve(r))])) return 'writes outside the root and policy.allowed_roots';
      if (abs.startsWith(root + path.sep)) {
        const why = internalReason(path.relative(root, abs), { allowSelfModify: this.policy.allowSelfModify });
        if (why) return `writes into ${why}`;
      }
    }
    return undefined;
  }

  /** The expansions inside a word: substitutions are walked (and count as not allowed), arithmetic is judged. */
  private word(w: Word): void {
    this.parts(w.parts ?? []);
  }

  private parts(parts: readonly (WordPart | DoubleQuotedChild)[]): void {
    for (const p of parts) this.part(p);
  }

  private part(p: WordPart | DoubleQuotedChild): void {
    switch (p.type) {
      case 'Literal':
      case 'SingleQuoted':
      case 'AnsiCQuoted':
      case 'SimpleExpansion':
        return;
      case 'DoubleQuoted':
      case 'LocaleString':
        return this.parts(p.parts);
      case 'Glob':
      case 'ExtendedGlob':
      case 'BraceExpansion':
        return this.parts(p.parts ?? []);
      case 'CommandExpansion':
        this.hold(p.text.startsWith('`') ? 'backticks `…` (command substitution) run a program that cannot be checked' : SUBST_WHY);
        return this.substitution(p.script);
      case 'ProcessSubstitution':
        this.hold(`process substitution ${p.operator}(…) runs a program that cannot be checked`);
        return this.substitution(p.script);
      case 'ArithmeticExpansion':
        if (p.expression) this.arith(p.expression);
        else this.hold(`the arithmetic ${p.text} cannot be parsed`, true);
        return;
      case 'ParameterExpansion':
        return this.parameter(p);
      default:
        this.hold(`the word part '${(p as { type: string }).type}' is not understood`, true);
    }
  }

  private substitution(script: ParsedScript | undefined): void {
    if (!script) return this.hold('a substitution cannot be parsed', true);
    this.from(this.cwds, () => this.list(script.commands));
  }

  private parameter(p: Extract<WordPart, { type: 'ParameterExpansion' }>): void {
    if (p.prefix === '!' && !/[*@]\}$/.test(p.text)) this.hold(`the indirect expansion ${p.text} is not analysed (bash evaluates what it names, which can run commands)`, true);
    if (p.index) this.subscript(p.index);
    const op = p.operation;
    if (!op) return;
    switch (op.type) {
      case 'Default':
        if ((op.operator === '=' || op.operator === ':=') && DANGEROUS_VAR.test(p.parameter)) this.hold(`the assignment to ${p.parameter} changes which program runs`);
        return this.word(op.operand);
      case 'Remove':
        return this.word(op.operand);
      case 'Replace':
        this.word(op.pattern);
        return this.word(op.replacement);
      case 'Slice':
        this.subscript(op.offset);
        if (op.length) this.subscript(op.length);
        return;
      case 'CaseModification':
        if (op.operand) this.word(op.operand);
        return;
      case 'Transform':
        if (literalOf(op.operand) !== 'Q' && literalOf(op.operand) !== 'E' && literalOf(op.operand) !== 'a') {
          this.hold(`the transformation ${p.text} is not analysed (prompt expansion can run commands)`, true);
        }
        return this.word(op.operand);
      case 'Names':
        return;
      default:
        this.hold(`the expansion ${p.text} is not understood`, true);
    }
  }

  /** An array subscript or slice bound is arithmetic: only a number (or `@`/`*`) is judged safe. */
  private subscript(w: Word): void {
    this.word(w);
    const v = literalOf(w)?.trim();
    if (v === undefined || !(NUMBER.test(v) || v === '@' || v === '*' || /^-[0-9]+$/.test(v))) this.hold(ARITH_WHY, true);
  }

  private arith(e: ArithmeticExpression): void {
    switch (e.type) {
      case 'ArithmeticBinary':
        this.arith(e.left);
        return this.arith(e.right);
      case 'ArithmeticUnary':
        return this.arith(e.operand);
      case 'ArithmeticTernary':
        this.arith(e.test);
        this.arith(e.consequent);
        return this.arith(e.alternate);
      case 'ArithmeticGroup':
        return this.arith(e.expression);
      case 'ArithmeticWord':
        this.parts(e.parts ?? []);
        if (e.parts?.length || !NUMBER.test(e.value)) this.hold(ARITH_WHY, true);
        return;
      case 'ArithmeticCommandExpansion':
        this.hold(SUBST_WHY);
        return this.substitution(e.script);
      default:
        this.hold(`the arithmetic node '${(e as { type: string }).type}' is not understood`, true);
    }
  }

  private test(e: TestExpression): void {
    switch (e.type) {
      case 'TestUnary':
        this.word(e.operand);
        if (e.operator === '-v' && !NAME.test(literalOf(e.operand) ?? '')) this.hold("'-v' with an array subscript is evaluated by bash, which can run commands", true);
        return;
      case 'TestBinary':
        this.word(e.left);
        this.word(e.right);
        if (ARITH_TEST_OPS.has(e.operator)) {
          for (const side of [e.left, e.right]) {
            const v = literalOf(side)?.trim();
            if (v === undefined || !/^-?[0-9]+$/.test(v)) this.hold(`an arithmetic comparison in [[ ]] evaluates '${side.text}' as an expression, which can run commands`, true);
          }
        }
        return;
      case 'TestLogical':
        for (const o of e.operands) this.test(o);
        return;
      case 'TestNot':
        return this.test(e.operand);
      case 'TestGroup':
        return this.test(e.expression);
      default:
        this.hold(`the test '${(e as { type: string }).type}' is not understood`, true);
    }
  }
}

function union(a: Cwds, b: Cwds): Cwds {
  if (a === null || b === null) return null;
  const out = [...new Set([...a, ...b])];
  return out.length > MAX_CWDS ? null : out;
}

function same(a: Cwds, b: Cwds): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((x) => b.includes(x));
}

function coversCwd(cwds: Cwds, root: string): boolean {
  if (cwds === null) return true;
  const r = path.resolve(root);
  return cwds.some((c) => r === c || r.startsWith(c.endsWith('/') ? c : c + '/'));
}
