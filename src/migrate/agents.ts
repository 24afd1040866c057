/** The old pipeline's agents: launchd plists and systemd units, and whether their program points into a folder. Pure. */
import path from 'node:path';
import { parse as parsePlistText } from 'plist';

export interface Agent {
  kind: 'launchd' | 'systemd';
  /** The plist's Label, or the unit file's name. */
  label: string;
  /** The program and its arguments (plist ProgramArguments/Program; unit ExecStart lines, split on blanks). */
  program: string[];
}

/** A label or unit name safe to store and to print in a command (no shell metacharacters, no `/`). */
export const LABEL_RE = /^[A-Za-z0-9][A-Za-z0-9._@:-]{0,254}$/;

/** Why: read a launchd plist (XML) into its label and program; undefined with a reason when it is not one. */
export function parsePlist(text: string, fileName: string): { agent?: Agent; why?: string } {
  let v: unknown;
  try {
    v = parsePlistText(text);
  } catch (err) {
    return { why: `not a readable XML plist (${err instanceof Error ? err.message.split('\n')[0] : String(err)})` };
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return { why: 'its top level is not a dictionary' };
  const d = v as Record<string, unknown>;
  const label = typeof d.Label === 'string' && d.Label !== '' ? d.Label : undefined;
  if (!label) return { why: `has no Label (${fileName})` };
  if (!LABEL_RE.test(label)) return { why: `its Label ${JSON.stringify(label.slice(0, 80))} is not a plain label (letters, digits, . _ @ : -)` };
  const args = Array.isArray(d.ProgramArguments) ? d.ProgramArguments.filter((a): a is string => typeof a === 'string') : [];
  const program = typeof d.Program === 'string' ? [d.Program, ...args.slice(1)] : args;
  return { agent: { kind: 'launchd', label, program } };
}

/** Why: read a systemd unit's ExecStart= lines (prefixes `-@:+!` dropped) into a program; the label is its file name. */
export function parseUnit(text: string, fileName: string): { agent?: Agent; why?: string } {
  const program: string[] = [];
  for (const line of text.replace(/\\\r?\n/g, ' ').split(/\r?\n/)) {
    const m = /^\s*ExecStart\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    program.push(...m[1]!.replace(/^[-@:+!]+/, '').split(/\s+/).filter(Boolean));
  }
  if (program.length === 0) return { why: 'has no ExecStart=' };
  if (!LABEL_RE.test(fileName)) return { why: `its name ${JSON.stringify(fileName.slice(0, 80))} is not a plain unit name` };
  return { agent: { kind: 'systemd', label: fileName, program } };
}

/** Why: an agent belongs to the old setup when any word of its program (a `-c` string's words too) is a path inside `dir`. */
export function pointsInto(agent: Agent, dir: string): string | undefined {
  const d = path.resolve(dir);
  for (const arg of agent.program) {
    for (const w of arg.split(/[\s;&|'"=]+/)) {
      if (!w.startsWith('/')) continue;
      const abs = path.resolve(w);
      if (abs === d || abs.startsWith(d + path.sep)) return w;
    }
  }
  return undefined;
}

/** The commands that stop an old agent for good, printed (never run) in favour of wo's own service. */
export function bootOutCommand(a: Agent): string {
  return a.kind === 'launchd' ? `launchctl bootout gui/$(id -u)/${a.label}` : `systemctl --user disable --now ${a.label}`;
}
