import { describe, expect, it } from 'vitest';
import { analyzeCommand, programName } from '../../src/policy/shell.js';
import { DEFAULT_ALLOW_COMMANDS } from '../../src/config/schema.js';

const ctx = { allowCommands: DEFAULT_ALLOW_COMMANDS, root: '/srv/wo', allowedRoots: ['/home/u/Library/LaunchAgents'] };
const sh = (cmd: string) => analyzeCommand({ kind: 'sh', cmd }, ctx);

describe('analyzeCommand: allowed', () => {
  const cases: [string, string[]][] = [
    ['cat a | grep b', ['cat', 'grep']],
    ['mkdir -p tmp/cache && ls tmp', ['mkdir', 'ls']],
    ['test -f tmp/canary_test.txt && echo canary_ok', ['test', 'echo']],
    ['[ -f x ] || echo missing', ['[', 'echo']],
    ['(cd sub; ls) | wc -l', ['cd', 'ls', 'wc']],
    ['FOO=bar BAZ="q r" ls -l', ['ls']],
    ['ls 2>/dev/null', ['ls']],
    ['ls >/dev/null 2>&1', ['ls']],
    ['2>/dev/null ls', ['ls']],
    ['echo ok > tmp/out.txt', ['echo']],
    ['echo ok >> /srv/wo/tmp/log.txt', ['echo']],
    ['echo x > /home/u/Library/LaunchAgents/a.plist', ['echo']],
    ['cd sub && echo x > y.txt', ['cd', 'echo']],
    ['cat < /etc/hosts', ['cat']],
    ['cat <<< hello', ['cat']],
    ["echo '$(not run)' '`neither`'", ['echo']],
    ['echo "\\$(literal)"', ['echo']],
    ['echo a#b', ['echo']],
    ['echo ok # ; rm -rf x', ['echo']],
    ['if test -f x; then echo yes; else echo no; fi', ['test', 'echo']],
    ['for f in a b; do cat "$f"; done', ['cat']],
    ['! grep -q x f', ['grep']],
    ['{ ls; pwd; }', ['ls', 'pwd']],
    [':', [':']],
    ['true; false', ['true', 'false']],
    ['/bin/cat f', ['cat']],
    ['/usr/bin/sha256sum f | cut -d" " -f1', ['sha256sum', 'cut']],
    ["cat <<'EOF'\n$(not run)\nEOF\nls", ['cat', 'ls']],
    ['ls \\\n  -l', ['ls']],
    ['printf "%s\\n" a', ['printf']],
  ];
  it.each(cases)('%s', (cmd, programs) => {
    const r = sh(cmd);
    expect(r.reasons).toEqual([]);
    expect(r.allowed).toBe(true);
    expect(r.programs).toEqual(programs);
  });
});

describe('analyzeCommand: needs approval', () => {
  // [command, substring every listed reason set must contain]
  const cases: [string, string[]][] = [
    ['rm -rf x', ["command 'rm -rf x': program 'rm' is not on policy.allow_commands"]],
    ['mkdir x && rm y', ["program 'rm' is not on policy.allow_commands"]],
    ['cat a | tee b', ["program 'tee' is not on policy.allow_commands"]],
    ['(ls; git status)', ["program 'git' is not on policy.allow_commands"]],
    ['ls; launchctl load x.plist', ["program 'launchctl' is not on policy.allow_commands"]],
    ['ls\nrm x', ["program 'rm' is not on policy.allow_commands"]],
    ['echo a#b; rm x', ["program 'rm' is not on policy.allow_commands"]],
    ['echo $(whoami)', ['command substitution $(…)', "program 'whoami'"]],
    ['echo "$(id)"', ['command substitution $(…)']],
    ['echo `id`', ['backticks']],
    ['FOO=$(curl x) ls', ['command substitution $(…)']],
    ['diff <(ls) f', ['process substitution <(…)']],
    ['ls > >(cat)', ['process substitution >(…)']],
    ['cat <<EOF\n$(id)\nEOF', ["command substitution inside here-document 'EOF'"]],
    ['ls > /etc/x', ["the redirection '> /etc/x' writes outside the root and policy.allowed_roots"]],
    ['ls > ../x', ["the redirection '> ../x' writes outside the root"]],
    ['ls >> sub/../../x', ["the redirection '>> sub/../../x' writes outside the root"]],
    ['ls &> /tmp/log', ["the redirection '&> /tmp/log' writes outside the root"]],
    ['ls >& out.txt', ["the redirection '>& out.txt' writes to a file"]],
    ['ls > ~/x', ["the redirection '> ~/x' writes to a place that depends on the environment"]],
    ['ls > $HOME/x', ["the redirection '> $HOME/x' writes to a place that depends on the environment"]],
    ['cd /tmp && echo x > y', ["the redirection '> y' writes outside the root"]],
    ['cd && echo x > y', ["the redirection '> y' writes to a relative path after a 'cd'"]],
    ['echo x > g/followup/state/x.json', ["writes into the daemon's internals"]],
    ['echo x > bridge/inbox/CLC/x.yaml', ["writes into the daemon's internals"]],
    ['PATH=. ls', ['the assignment to PATH changes which program runs']],
    ['$CMD x', ["program '$CMD' comes from a variable"]],
    ['./cat x', ["program './cat' is not on policy.allow_commands"]],
    ['env rm x', ["program 'env' runs other programs"]],
    ['xargs rm < list', ["program 'xargs' runs other programs"]],
    ['sudo ls', ["program 'sudo' runs other programs"]],
    ['sh -c "ls"', ["program 'sh' runs other programs"]],
    ['bash -c ls', ["program 'bash' runs other programs"]],
    ['eval ls', ["program 'eval' runs other programs"]],
    ['exec ls', ["program 'exec' runs other programs"]],
    ['. ./env.sh', ["program '.' runs other programs"]],
    ['source env.sh', ["program 'source' runs other programs"]],
    ["echo 'unterminated", ['it cannot be parsed (unterminated single quote)']],
  ];
  it.each(cases)('%s', (cmd, parts) => {
    const r = sh(cmd);
    expect(r.allowed).toBe(false);
    const all = r.reasons.join('\n');
    for (const p of parts) expect(all).toContain(p);
    for (const reason of r.reasons) expect(reason.startsWith(`command '`)).toBe(true);
  });
});

describe('analyzeCommand: argv form and the list', () => {
  it('takes argv[0] (basename of a system path) as the program', () => {
    expect(analyzeCommand({ kind: 'argv', argv: ['ls', '-l', '$(rm x)'] }, ctx)).toEqual({ allowed: true, reasons: [], programs: ['ls'] });
    expect(analyzeCommand({ kind: 'argv', argv: ['/usr/bin/grep', 'x'] }, ctx).allowed).toBe(true);
    const r = analyzeCommand({ kind: 'argv', argv: ['git', 'status', '--short'] }, ctx);
    expect(r).toEqual({ allowed: false, reasons: ["command 'git status --short': program 'git' is not on policy.allow_commands"], programs: ['git'] });
  });
  it('refuses an empty argv[0] and a relative-path program', () => {
    expect(analyzeCommand({ kind: 'argv', argv: [''] }, ctx).allowed).toBe(false);
    expect(analyzeCommand({ kind: 'argv', argv: ['tools/x.sh'] }, ctx).reasons[0]).toContain("program 'tools/x.sh'");
  });
  it('allows what the user added, including wrappers named literally', () => {
    const c = { ...ctx, allowCommands: [...DEFAULT_ALLOW_COMMANDS, 'git', 'xargs', 'tools/x.sh'] };
    expect(analyzeCommand({ kind: 'sh', cmd: 'git status && git diff | xargs echo' }, c).allowed).toBe(true);
    expect(analyzeCommand({ kind: 'sh', cmd: './tools/x.sh --check' }, c).allowed).toBe(true);
    expect(analyzeCommand({ kind: 'sh', cmd: 'xargs rm' }, c).allowed).toBe(true); // the user's choice
  });
  it('builtins are allowed even on an empty list', () => {
    const c = { ...ctx, allowCommands: [] };
    expect(analyzeCommand({ kind: 'sh', cmd: 'cd x && test -f y && echo ok; printf x; [ 1 ]; :; true; false' }, c).allowed).toBe(true);
    expect(analyzeCommand({ kind: 'sh', cmd: 'cat x' }, c).allowed).toBe(false);
  });
  it('lists one reason per offending program', () => {
    const r = sh('rm a; curl b | rm c');
    expect(r.reasons).toEqual([
      "command 'rm a; curl b | rm c': program 'rm' is not on policy.allow_commands",
      "command 'rm a; curl b | rm c': program 'curl' is not on policy.allow_commands",
    ]);
  });
});

describe('programName', () => {
  it.each([
    ['rm', 'rm'], ['/bin/rm', 'rm'], ['/usr/local/bin/git', 'git'], ['/opt/homebrew/bin/jq', 'jq'],
    ['./cat', './cat'], ['a/../echo', './echo'], ['tools/x.sh', 'tools/x.sh'], ['/srv/wo/cat', '/srv/wo/cat'],
  ])('%s → %s', (word, name) => expect(programName(word)).toBe(name));
});

describe('analyzeCommand: arithmetic and here-documents', () => {
  it('allows arithmetic on numbers, holds arithmetic on variables (bash evaluates subscripts in their values)', () => {
    expect(sh('echo $((1+2*3))').allowed).toBe(true);
    const r = sh('echo $((i+1))');
    expect(r.allowed).toBe(false);
    expect(r.reasons[0]).toBe("command 'echo $((i+1))': arithmetic on variables is not analysed (bash evaluates array subscripts in it, which can run commands)");
  });
  it('skips a quoted here-document body but checks the lines after it', () => {
    const r = sh("cat <<-'EOF' > tmp/out\n\trm -rf /\n\tEOF\nrm x");
    expect(r.programs).toEqual(['cat', 'rm']);
    expect(r.reasons).toEqual(["command 'cat <<-'EOF' > tmp/out↵\trm -rf /↵\tEOF↵rm x': program 'rm' is not on policy.allow_commands"]);
  });
});
