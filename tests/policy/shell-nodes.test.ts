import { describe, expect, it } from 'vitest';
import { analyzeCommand } from '../../src/policy/shell.js';
import { DEFAULT_ALLOW_COMMANDS } from '../../src/config/schema.js';

const ctx = { allowCommands: DEFAULT_ALLOW_COMMANDS, root: '/srv/wo', allowedRoots: [] as string[] };
const sh = (cmd: string, extra: Partial<typeof ctx & { allowSelfModify: boolean }> = {}) => analyzeCommand({ kind: 'sh', cmd }, { ...ctx, ...extra });

describe('issue 9 bypasses are held', () => {
  const cases: [string, string, string[]][] = [
    ['cat() { for i do touch /tmp/x; done; }; cat a', "program 'touch' is not on policy.allow_commands", ['touch']],
    ['echo hi | for i do sh -c id; done', "program 'sh' runs other programs", ['echo', 'sh']],
    ['for i do rm x; done', "program 'rm'", ['rm']],
    ['for i\ndo rm x\ndone', "program 'rm'", ['rm']],
    ['case a in a) rm x;; esac', "program 'rm'", ['rm']],
    ['select x in a; do rm y; done', "program 'rm'", ['rm']],
    ['cat <<EO\\\nF\n$(id)\nEOF\nls', "program 'id'", ['cat', 'id', 'ls']],
    ['cat /proc/$PPID/environ', "reads another process's memory or environment (/proc)", ['cat']],
    ['cat /proc/self/environ', '(/proc)', ['cat']],
    ['cat /pr?c/self/mem', '(/proc)', ['cat']],
    ['cat g/run/token', "argument 'g/run/token' reads/writes the daemon's internals", ['cat']],
    ['cat ./G/run/token', "the daemon's internals", ['cat']],
    ['cd g && cat run/token', "argument 'run/token'", ['cd', 'cat']],
    ['cd sub; cat ../g/run/token', "the daemon's internals", ['cd', 'cat']],
    ['cat $WO_ROOT/g/run/token', "the daemon's internals", ['cat']],
    ['cat "${WO_ROOT}/bridge/inbox/x"', "the daemon's internals", ['cat']],
    ['cat /srv/wo/g/run/token', "the daemon's internals", ['cat']],
    ['cat g*/run/token', "the daemon's internals", ['cat']],
    ['cat */run/token', "the daemon's internals", ['cat']],
    ['ls ?/followup', "the daemon's internals", ['ls']],
    ['cat {g,x}/run/token', "the daemon's internals", ['cat']],
    ['cat "$d/run/token"', "'run' after an expansion", ['cat']],
    ['grep --file=g/run/token x', "the daemon's internals", ['grep']],
    ['mkdir -p g/followup/state/WO-VICTIM.json g/run/control/x.req.json', "argument 'g/followup/state/WO-VICTIM.json'", ['mkdir']],
    ['mkdir -p .git/hooks', 'a git repository', ['mkdir']],
    ['cat wo.config.yaml', 'configuration', ['cat']],
    ['x=g/run/token; cat $x', "the assignment 'x=g/run/token'", ['cat']],
    ['for f in g/run/token; do cat $f; done', 'the loop word', ['cat']],
    ['grep -r token .', 'reads recursively through the root', ['grep']],
    ['grep -rn token', 'reads recursively through the root', ['grep']],
    ['cat < g/run/token', "the redirection '< g/run/token'", ['cat']],
    ['cat < /dev/tcp/127.0.0.1/80', 'opens a network connection', ['cat']],
    ['echo x > g/followup/state/x.json', "writes into the daemon's internals", ['echo']],
    ['echo x > .git/config', 'writes into a git repository', ['echo']],
  ];
  it.each(cases)('%s', (cmd, part, programs) => {
    const r = sh(cmd);
    expect(r.allowed).toBe(false);
    expect(r.reasons.join('\n')).toContain(part);
    for (const p of programs) expect(r.programs).toContain(p);
  });
});

describe('every node type is walked', () => {
  const cases: [string, string][] = [
    ['f() { rm x; }', 'rm'],
    ['function f { rm x; }', 'rm'],
    ['f() ( rm x )', 'rm'],
    ['ls() { rm x; }; ls', 'rm'],
    ['(rm x)', 'rm'],
    ['{ rm x; }', 'rm'],
    ['if rm x; then :; fi', 'rm'],
    ['if :; then :; elif rm x; then :; else :; fi', 'rm'],
    ['if :; then :; else rm x; fi', 'rm'],
    ['while rm x; do :; done', 'rm'],
    ['until false; do rm x; done', 'rm'],
    ['for ((i=0;i<1;i++)); do rm x; done', 'rm'],
    ['case x in (a|b) :;; *) rm x;; esac', 'rm'],
    ['case x in a) : ;& b) rm x ;;& esac', 'rm'],
    ['echo $(rm x)', 'rm'],
    ['echo `rm x`', 'rm'],
    ['echo "$(rm x)"', 'rm'],
    ['echo ${x:-$(rm x)}', 'rm'],
    ['echo ${x:=`rm x`}', 'rm'],
    ['echo ${x/a/$(rm x)}', 'rm'],
    ['echo $(( $(rm x) + 1 ))', 'rm'],
    ['diff <(rm x) f', 'rm'],
    ['cat <<EOF\n$(rm x)\nEOF', 'rm'],
    ['cat <<-EOF\n\t`rm x`\n\tEOF', 'rm'],
    ['cat <<< "$(rm x)"', 'rm'],
    ['x=$(rm x)', 'rm'],
    ['a=(1 $(rm x))', 'rm'],
    ['ls > "$(rm x)"', 'rm'],
    ['[[ -n $(rm x) ]]', 'rm'],
    ['! rm x', 'rm'],
    ['rm x &', 'rm'],
    ['ls && rm x || :', 'rm'],
    ['ls | rm x |& cat', 'rm'],
    ['time rm x', 'rm'],
    ['coproc rm x', 'rm'],
    ['eval rm x', 'rm'],
    ["eval 'ls; rm x'", 'rm'],
    ["trap 'rm x' EXIT", 'rm'],
    ['command rm x', 'rm'],
    ['exec rm x', 'rm'],
    ['builtin cd x; exec 3>&- rm', 'rm'],
    ['echo a \\\n; rm x', 'rm'],
    ['echo a # c\nrm x', 'rm'],
    ['ls; r\\m x', 'rm'],
    ["'rm' x", 'rm'],
    ['"r"m x', 'rm'],
    ['/usr/bin/rm x', 'rm'],
  ];
  it.each(cases)('%s', (cmd, program) => {
    const r = sh(cmd);
    expect(r.programs).toContain(program);
    expect(r.allowed).toBe(false);
  });
});

describe('opaque constructs are held and marked incomplete', () => {
  it.each([
    '$CMD x', '"$x" y', '${x} y', '$(echo ls) y', '{rm,x} y', 'r* x', 'eval "$x"', 'trap "$x" EXIT', 'command "$x"',
    '. ./env.sh', 'source x', 'alias ls=rm', 'x=1; echo $((x))', 'echo $((a[$i]))', '((x++))', 'echo ${!x}', 'echo ${a[i]}',
    'echo ${x:$o:1}', 'echo ${x@P}', 'printf -v x %s 1', 'test -v "a[$i]"', '[ -v a[1] ]', '[[ $x -eq 1 ]]', '[[ -v a[1] ]]',
    'let x=1', 'cat <<EOF\nunterminated', 'echo "unterminated', 'if true; then', 'echo $(',
  ])('%s', (cmd) => {
    const r = sh(cmd, { allowCommands: [...DEFAULT_ALLOW_COMMANDS, 'eval', 'trap', 'command', 'source', '.', 'alias', 'let'] });
    expect(r.allowed).toBe(false);
    expect(r.complete).toBe(false);
    expect(r.reasons.length).toBeGreaterThan(0);
  });
});

describe('assignments that change which program runs', () => {
  it.each(['PATH=. ls', 'PATH+=:. ls', 'export PATH=/tmp', 'IFS=/ ls', 'BASH_ENV=x ls', 'LD_PRELOAD=x.so ls', 'declare -x PATH=.', ': ${PATH:=/tmp}', 'CDPATH=/tmp; cd x'])('%s', (cmd) => {
    const r = sh(cmd, { allowCommands: [...DEFAULT_ALLOW_COMMANDS, 'export', 'declare'] });
    expect(r.allowed).toBe(false);
    expect(r.reasons.join('\n')).toMatch(/the assignment to [A-Z_]+ changes which program runs/);
  });
});

describe('ordinary commands stay allowed', () => {
  it.each([
    'echo "$HOME"', 'cat "$f"', 'for f in a b; do cat "$f"; done', 'for i do echo "$i"; done', 'x=hello; echo "$x"',
    'f() { ls; }; f', 'f() { cat "$1"; }; f a', 'case "$1" in a) echo a;; *) ls;; esac', 'ls src/*.ts', 'cat src/$f',
    'echo $((1 + 2))', 'test -f x && echo y', '[[ -f x && $a == b ]]', 'grep -r todo src', 'sort -r list.txt', 'ls g.txt',
    'cat ~/notes.txt', 'mkdir -p out && echo x > out/y', 'echo x > $WO_ROOT/out/y', 'cat /etc/hosts', 'ls "${x:-default}"',
    'while read -r l; do echo "$l"; done < list.txt', 'cd sub && ls', 'cat <<EOF\nhello $USER\nEOF', "printf '%s\\n' a",
  ])('%s', (cmd) => {
    const r = sh(cmd, { allowCommands: [...DEFAULT_ALLOW_COMMANDS, 'read'] });
    expect(r.reasons).toEqual([]);
    expect(r.allowed).toBe(true);
  });
});

describe('allow_self_modify', () => {
  it('makes wo.config.yaml and .git/ ordinary arguments, never g/ or bridge/', () => {
    expect(sh('cat wo.config.yaml', { allowSelfModify: true }).allowed).toBe(true);
    expect(sh('mkdir -p .git/x', { allowSelfModify: true }).allowed).toBe(true);
    expect(sh('echo x > .git/config', { allowSelfModify: true }).allowed).toBe(true);
    expect(sh('cat g/run/token', { allowSelfModify: true }).allowed).toBe(false);
  });
});

describe('argv form', () => {
  it('judges argument words as paths too', () => {
    const r = analyzeCommand({ kind: 'argv', argv: ['cat', 'g/run/token'] }, ctx);
    expect(r.allowed).toBe(false);
    expect(r.reasons[0]).toContain("the daemon's internals");
  });
});

describe("issue 14: command arguments judged by the same list of wo's folders as path targets", () => {
  const held: [string, string][] = [
    ['cat g/Run/token', "the daemon's internals"],
    ['cat g/./run/token', "the daemon's internals"],
    ['cat g/reports/../run/token', "the daemon's internals"],
    ['ls g/followup/index', "the daemon's internals"],
    ['cat g/reports/upgrade/x.json', "the daemon's internals"],
    ['cat g/reports/wo/forensic.json', "the daemon's internals"],
    ['ls g/releases', "the daemon's internals"],
    ['cat /srv/wo/g/mls/ledger/x.jsonl', "the daemon's internals"],
    ['cat g/logs/daemon.log', "the daemon's internals"],
    ['ls g', "the daemon's internals"], // a folder holding wo's folders
    ['ls g/*', "the daemon's internals"],
    ['ls g/followup', "the daemon's internals"],
    ['echo x > g/run/x', "writes into the daemon's internals"],
  ];
  it.each(held)('holds %s', (cmd, part) => {
    const r = sh(cmd);
    expect(r.allowed).toBe(false);
    expect(r.reasons.join('\n')).toContain(part);
  });

  const allowed = [
    'cat g/reports/deploy_20251113.md',
    'test -f g/tools/x.zsh && echo ok',
    'echo done > g/reports/deploy.md',
    'mkdir -p g/tools/sub',
    'ls g/followup/notes',
    'ls /srv/wo',
    'ls /',
  ];
  it.each(allowed)('allows %s', (cmd) => {
    const r = sh(cmd);
    expect(r.reasons).toEqual([]);
    expect(r.allowed).toBe(true);
  });
});
