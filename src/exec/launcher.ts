/**
 * The environment-clean launcher between the daemon and a command. It starts with the command's built
 * environment only, so a command's parent (`/proc/$PPID/environ`) holds nothing the command was not given.
 * It waits for one byte on fd 3 (the daemon has moved it into the command's cgroup and recorded it; EOF means
 * the daemon is gone: nothing is run), reports a command it cannot start back on fd 3 (exit 127), runs the command as its child with stdin/stdout/stderr inherited, ignores
 * the signals sent to the whole tree (the command gets them), and ends as the command did: same exit code, or
 * killed by the same signal. Perl starts in ~2 ms; Node (~70 ms) is the fallback where there is no Perl.
 */
import fs from 'node:fs';

const PERL = [
  'open(G, "+<&=3") or exit 125; my $n = sysread(G, my $b, 1); exit 125 unless $n; fcntl(G, 2, 1);', // F_SETFD, FD_CLOEXEC
  'my $p = fork(); if (!defined $p) { syswrite(G, "cannot fork: $!"); exit 126 }',
  'if (!$p) { exec { $ARGV[0] } @ARGV; syswrite(G, "cannot run $ARGV[0]: $!"); exit 127 }',
  'close(G); $SIG{$_} = "IGNORE" for qw(TERM INT HUP QUIT);',
  'waitpid($p, 0); my $s = $?;',
  'if ($s & 127) { $SIG{$_} = "DEFAULT" for qw(TERM INT HUP QUIT); kill($s & 127, $$); exit(128 + ($s & 127)) }',
  'exit($s >> 8);',
].join('\n');

const NODE = [
  "const fs = require('fs'), cp = require('child_process'), os = require('os');",
  'const b = Buffer.alloc(1); let n = 0;',
  "for (;;) { try { n = fs.readSync(3, b, 0, 1, null); break; } catch (e) { if (e.code !== 'EAGAIN') break; } }",
  'if (!n) process.exit(125);',
  'const [file, ...args] = process.argv.slice(1);',
  "const sigs = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT'];",
  "const c = cp.spawn(file, args, { stdio: ['inherit', 'inherit', 'inherit', 'ignore'] });",
  "c.on('spawn', () => { try { fs.closeSync(3); } catch {} });",
  'for (const s of sigs) process.on(s, () => {});',
  "c.on('error', (e) => { try { fs.writeSync(3, `cannot run ${file}: ${e.message}`); } catch {} process.exit(127); });",
  "c.on('exit', (code, sig) => {",
  '  if (!sig) process.exit(code ?? 1);',
  '  for (const s of sigs) process.removeAllListeners(s);',
  '  try { process.kill(process.pid, sig); } catch {}',
  '  setTimeout(() => process.exit(128 + (os.constants.signals[sig] ?? 0)), 100);',
  '});',
].join('\n');

const PERLS = ['/usr/bin/perl', '/bin/perl', '/usr/local/bin/perl', '/opt/homebrew/bin/perl'];
let perl: string | null | undefined;

function findPerl(): string | undefined {
  if (perl === undefined) {
    perl = null;
    {
      for (const p of PERLS) {
        try {
          fs.accessSync(p, fs.constants.X_OK);
          perl = p;
          break;
        } catch {
          /* next */
        }
      }
    }
  }
  return process.env.WO_LAUNCHER === 'node' ? undefined : (perl ?? undefined);
}

/** Which launcher runs commands here: `perl` or `node` (`WO_LAUNCHER=node` forces Node, for tests). */
export function launcherKind(): 'perl' | 'node' {
  return findPerl() ? 'perl' : 'node';
}

/** The argv that runs `file args` through the launcher. */
export function launcherArgv(file: string, args: readonly string[]): [string, string[]] {
  const p = findPerl();
  if (p) return [p, ['-e', PERL, '--', file, ...args]];
  return [process.execPath, ['-e', NODE, '--', file, ...args]];
}
