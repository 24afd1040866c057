/**
 * The proof of the guarded-mode analysis: a seeded grammar generates command strings, a real shell runs each one
 * with PATH = a folder of recording stubs, and every program the shell really ran must be one the analysis listed;
 * when the analysis says `allowed`, every program run must be on the allow list. Replay a failure with
 * WO_SHELL_SEED=<seed> (printed on failure).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyzeCommand } from '../../src/policy/shell.js';
import { DEFAULT_ALLOW_COMMANDS } from '../../src/config/schema.js';
import { tempDir } from '../helpers.js';
import { rng, size } from '../reliability/common.js';

const ALLOWED = ['cat', 'ls', 'grep', 'wc', 'head', 'mkdir'];
const DENIED = ['rm', 'touch', 'id', 'curl', 'tee', 'git', 'whoami', 'xargs', 'env', 'sh', 'nohup'];
const STUBS = [...ALLOWED, ...DENIED];
const SHELLS = ['/bin/sh', ...(fs.existsSync('/bin/bash') ? ['/bin/bash'] : [])];
const HAS_BASH = SHELLS.includes('/bin/bash');

/** A seeded grammar of shell text: POSIX constructs always, bash ones only when the string will run under bash. */
class Grammar {
  bashOnly = false;
  private depth = 0;
  constructor(private readonly r: () => number, private readonly bash: boolean) {}

  private pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.r() * xs.length)]!;
  }
  private chance(p: number): boolean {
    return this.r() < p;
  }

  script(): string {
    this.depth = 0;
    const n = 1 + Math.floor(this.r() * 3);
    const parts: string[] = [];
    for (let i = 0; i < n; i += 1) parts.push(this.list());
    return parts.join(this.pick(['; ', '\n', ' && ', ' || ', '\n\n']));
  }

  private list(): string {
    if (this.depth > 3) return this.simple();
    this.depth += 1;
    try {
      const k = this.r();
      if (k < 0.3) return this.simple();
      if (k < 0.4) return `${this.simple()} | ${this.command()}`;
      if (k < 0.47) return `${this.command()} ${this.pick(['&&', '||', ';'])} ${this.command()}`;
      return this.command();
    } finally {
      this.depth -= 1;
    }
  }

  private command(): string {
    const body = () => this.list();
    const forms: (() => string)[] = [
      () => this.simple(),
      () => `( ${body()} )`,
      () => `{ ${body()}; }`,
      () => `if ${this.cond()}; then ${body()}; else ${body()}; fi`,
      () => `if ${this.cond()}; then ${body()}; elif ${this.cond()}; then ${body()}; fi`,
      () => `for i in 1 2; do ${body()}; done`,
      () => `for i do ${body()}; done`,
      () => `for i\ndo ${body()}\ndone`,
      () => `for i in; do ${body()}; done`,
      () => `while ${this.pick(['false', '! true', 'test -f nope', `${this.prog()} && false`])}; do ${body()}; done`,
      () => `until ${this.pick(['true', ':', this.prog()])}; do ${body()}; done`,
      () => `case ${this.pick(['a', 'b', '"$1"', 'x'])} in a) ${body()};; b|"$1") ${body()};; *) ${body()};; esac`,
      () => this.functionDef(),
      () => `${this.prog()} "$(${body()})"`,
      () => `echo $(${body()})`,
      () => `echo \`${this.simple()}\``,
      () => `echo \${x:-$(${body()})}`,
      () => `x=$(${body()}); echo "$x"`,
      () => this.heredoc(),
      () => `! ${this.simple()}`,
      () => `${this.simple()} & wait`,
      () => `eval ${this.pick([`'${this.simplePlain()}'`, `"${this.simplePlain()}"`, this.simplePlain()])}`,
      () => `v=${this.pick(STUBS)}; $v ${this.word()}`,
      () => `v="${this.pick(STUBS)} a"; eval "$v"`,
      () => `${this.pick(['command', 'exec', 'command -p'])} ${this.simplePlain()}`,
      () => `trap '${this.simplePlain()}' EXIT; ${this.simple()}`,
      () => `echo $((${this.pick(['1+2', 'x+1', '$(( 2*3 ))'])}))`,
      () => `${this.simple()} # ; ${this.simple()}`,
      () => `${this.simple()} \\\n && ${this.simple()}`,
      () => `cd ${this.pick(['sub', '.', 'nope'])} && ${body()}`,
      () => `{ ${body()}; } ${this.pick(['> out.txt', '2>/dev/null', '< /dev/null'])}`,
      () => `( ${body()} ) | ${this.simple()}`,
      () => `alias ${this.pick(ALLOWED)}=${this.pick(DENIED)}\n${this.simple()}`,
      () => `v=${this.pick(STUBS)}; "$v" a; \${v} b`,
      () => `x=1; echo $((x + 1)); ${body()}`,
      () => `command -v ${this.pick(STUBS)}; ${body()}`,
      () => `${this.prog()} ${this.pick(['"$(', '$('])}${this.simplePlain()})`,
      () => `exec 3>&1; ${body()}`,
    ];
    if (this.bash) {
      forms.push(
        () => this.bashify(`function ${this.pick(['f', 'cat', 'g1'])} { ${body()}; }; ${this.pick(['f', 'cat', 'g1'])}`),
        () => this.bashify(`cat <<< "$(${body()})"`),
        () => this.bashify(`cat <(${this.simple()}); wait`),
        () => this.bashify(`[[ -n $(${this.simple()}) ]]`),
        () => this.bashify(`((x=1)); ${body()}`),
        () => this.bashify(`for ((i=0;i<2;i++)); do ${body()}; done`),
        () => this.bashify(`time ${this.simple()}`),
        () => this.bashify(`x='a[$(${this.pick(STUBS)})]'; echo $((x))`),
        () => this.bashify(`x='a[$(${this.pick(STUBS)})]'; ${this.pick(['test -v "$x"', 'printf -v "$x" %s 1', 'echo ${!x}'])}`),
        () => this.bashify(`case a in a) ${body()} ;& b) ${body()} ;; esac`),
        () => this.bashify(`${this.simple()} |& ${this.simple()}`),
        () => this.bashify(`{${this.pick(STUBS)},${this.pick(STUBS)}} a`),
        () => this.bashify(`select x in a; do ${body()}; done`),
        () => this.bashify(`coproc ${this.simple()}; wait`),
        () => this.bashify(`f() { ${body()}; }; declare -f f >/dev/null; f`),
      );
    }
    return this.pick(forms)();
  }

  private bashify(s: string): string {
    this.bashOnly = true;
    return s;
  }

  private functionDef(): string {
    const name = this.pick(['f', 'cat', 'ls', 'g1']);
    const body = this.pick([`{ ${this.list()}; }`, `( ${this.list()} )`, `{ for i do ${this.list()}; done; }`]);
    const call = this.chance(0.8) ? `; ${this.pick([name, 'f', 'cat'])} ${this.word()}` : '';
    return `${name}() ${body}${call}`;
  }

  private heredoc(): string {
    const inner = this.simplePlain();
    const form = this.pick(['plain', 'quoted', 'dash', 'split', 'splitbody']);
    const next = this.simple();
    if (form === 'plain') return `cat <<EOF\nline $(${inner})\nEOF\n${next}`;
    if (form === 'quoted') return `cat <<'EOF'\n$(${inner})\nEOF\n${next}`;
    if (form === 'dash') return `cat <<-EOF\n\t\`${inner}\`\n\tEOF\n${next}`;
    if (form === 'split') return `cat <<EO\\\nF\n$(${inner})\nEOF\n${next}`;
    return `cat <<EOF\nEO\\\nF\n${inner}\nEOF\n${next}`;
  }

  private cond(): string {
    return this.pick(['true', 'false', 'test -f nope', '[ -n "" ]', this.simple(), `! ${this.simple()}`]);
  }

  private prog(): string {
    const p = this.chance(0.65) ? this.pick(ALLOWED) : this.pick(DENIED);
    if (this.chance(0.1)) return `'${p}'`;
    if (this.chance(0.1)) return `"${p.slice(0, 1)}"${p.slice(1)}`;
    if (this.chance(0.05)) return `\\${p}`;
    if (this.chance(0.05) && p.length > 1) return `${p.slice(0, 1)}\\\n${p.slice(1)}`;
    return p;
  }

  private simplePlain(): string {
    return `${this.pick(STUBS)} ${this.pick(['a', 'b', '-l', 'x'])}`;
  }

  private word(): string {
    return this.pick(['a', '"b c"', "'d'", '"$i"', '$1', 'for', 'do', 'done', 'in', 'esac', '}', '{', 'then', '*.none', 'a#b', '\\#c', '-r']);
  }

  private simple(): string {
    const k = this.r();
    const pre = this.chance(0.1) ? `${this.pick(['A=1', 'B="x y"', 'C=$(id)'])} ` : '';
    const redir = this.chance(0.15) ? ` ${this.pick(['> out.txt', '2>/dev/null', '>> sub/log', '< /dev/null', '2>&1'])}` : '';
    const name = k < 0.75 ? this.prog() : this.pick(['echo', ':', 'true', 'false', 'test -n x', 'printf x', 'cd sub', 'f', 'cat']);
    const n = Math.floor(this.r() * 3);
    const args: string[] = [];
    for (let i = 0; i < n; i += 1) args.push(this.word());
    return `${pre}${name}${args.length ? ' ' + args.join(' ') : ''}${redir}`;
  }
}

interface Run {
  ran: string[];
}

/** Run one string under a shell in `cwd`; resolve when the shell and everything it started in its group are gone. */
function runUnder(shell: string, cmd: string, cwd: string, bin: string, log: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(shell, ['-c', cmd, 'sh', 'p1', 'p2'], {
      cwd,
      detached: true,
      stdio: 'ignore',
      env: { PATH: bin, HOME: cwd, WO_DIFF_LOG: log, LC_ALL: 'C' },
    });
    const timer = setTimeout(() => kill(child.pid), 5000);
    child.on('exit', () => {
      clearTimeout(timer);
      waitGroupGone(child.pid!).then(() => resolve({ ran: readLog(log) }));
    });
  });
}

function kill(pid: number | undefined): void {
  try {
    if (pid) process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Poll (a condition, not a sleep for synchronisation) until no process of the group is left; kill stragglers late. */
async function waitGroupGone(pgid: number): Promise<void> {
  const start = Date.now();
  for (;;) {
    try {
      process.kill(-pgid, 0);
    } catch {
      return;
    }
    if (Date.now() - start > 5000) kill(pgid);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function readLog(log: string): string[] {
  try {
    return fs.readFileSync(log, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

function makeStubs(bin: string): void {
  fs.mkdirSync(bin, { recursive: true });
  for (const name of STUBS) {
    const p = path.join(bin, name);
    fs.writeFileSync(p, `#!/bin/sh\nprintf '%s\\n' ${name} >> "$WO_DIFF_LOG"\nprintf '%s\\n' ${name}\nexit 0\n`, { mode: 0o755 });
  }
}

async function pool<T>(items: T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: limit }, worker));
}

describe('differential: the analysis against a real shell', () => {
  const seed = Number(process.env.WO_SHELL_SEED ?? Math.floor(Math.random() * 2 ** 31));
  const count = size(2000, 20000);

  it(`every program a shell runs is listed; allowed means all are allowed (seed ${seed}, ${count} strings)`, async () => {
    const dir = tempDir('wo-shell-diff-');
    const bin = path.join(dir, 'bin');
    const root = path.join(dir, 'root');
    makeStubs(bin);
    fs.mkdirSync(path.join(root, 'sub', 'sub'), { recursive: true });
    const r = rng(seed);
    const cases: { i: number; shell: string; cmd: string }[] = [];
    for (let i = 0; i < count; i += 1) {
      const useBash = HAS_BASH && r() < 0.5;
      const g = new Grammar(r, useBash);
      const cmd = g.script();
      cases.push({ i, shell: useBash || g.bashOnly ? '/bin/bash' : '/bin/sh', cmd });
    }
    const ctx = { allowCommands: DEFAULT_ALLOW_COMMANDS, root, allowedRoots: [] as string[] };
    const failures: string[] = [];
    let ranSomething = 0;
    let allowedRan = 0;
    await pool(cases, 6, async ({ i, shell, cmd }) => {
      const log = path.join(dir, `log-${i}`);
      const { ran } = await runUnder(shell, cmd, root, bin, log);
      if (ran.length) ranSomething += 1;
      const a = analyzeCommand({ kind: 'sh', cmd }, ctx);
      const where = `seed ${seed} case ${i} under ${shell}: ${JSON.stringify(cmd)}`;
      if (a.complete !== false) {
        const missed = ran.filter((p) => !a.programs.includes(p));
        if (missed.length) failures.push(`${where}: ran ${missed.join(',')} not in programs ${JSON.stringify(a.programs)}`);
      } else if (a.allowed) {
        failures.push(`${where}: incomplete analysis but allowed`);
      }
      if (a.allowed) {
        if (ran.length) allowedRan += 1;
        const bad = ran.filter((p) => !DEFAULT_ALLOW_COMMANDS.includes(p));
        if (bad.length) failures.push(`${where}: allowed, yet ran ${bad.join(',')}`);
      }
    });
    fs.rmSync(dir, { recursive: true, force: true });
    expect(failures.slice(0, 10), `${failures.length} failures; replay with WO_SHELL_SEED=${seed}`).toEqual([]);
    expect(ranSomething).toBeGreaterThan(count / 4); // the stubs really ran
    expect(allowedRan).toBeGreaterThan(count / 20); // and allowed strings ran programs too
    console.log(`shell-diff seed ${seed}: ${count} strings, ${ranSomething} ran stubs, ${allowedRan} allowed and ran`);
  }, size(180_000, 1_800_000));
});
