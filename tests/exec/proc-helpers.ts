/** Finding a test's own processes by a unique token in their argv (/proc, which we control), never by name. */
import fs from 'node:fs';
import crypto from 'node:crypto';

/** A unique sleep length around `seconds` (e.g. `2.418273645`): the token that names the escapee in its argv. */
export function sleepToken(seconds: number): string {
  return `${seconds}.${crypto.randomInt(100_000_000, 999_999_999)}`;
}

/** Live (not zombie) processes whose argv holds `token`. */
export function liveWith(token: string): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8');
      if (!cmd.includes(token)) continue;
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z') out.push(Number(name));
    } catch {
      /* gone */
    }
  }
  return out;
}

/** Fail if `pred` becomes true within `ms` (watching that something never happens: not a synchronisation sleep). */
export async function neverWithin(pred: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (pred()) throw new Error(`${what} happened`);
    await new Promise((r) => setTimeout(r, 50));
  }
  if (pred()) throw new Error(`${what} happened`);
}

/** Kill (by pid) whatever a failed test left behind. */
export function killAll(pids: number[]): void {
  for (const p of pids) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/** How a command escapes its process group, as a shell snippet around the escapee's script. */
export const ESCAPES: Record<string, (script: string) => string> = {
  setsid: (s) => `(setsid sh -c '${s}' &)`,
  nohup: (s) => `nohup sh -c '${s}' >/dev/null 2>&1 &`,
  'double fork': (s) => `sh -c '( sh -c "${s.replaceAll('"', '\\"')}" & ) &'`,
  'setsid + nohup + double fork': (s) => `( setsid nohup sh -c '${s}' >/dev/null 2>&1 & ) &`,
};
