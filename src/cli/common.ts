/** Shared CLI pieces: the --root/--json options, colour rules, and printing. */
import type { Command } from 'commander';
import { resolveRoot } from '../layout.js';

/** Add --root to a command. */
export function withRoot(cmd: Command): Command {
  return cmd.option('--root <dir>', 'the root folder (default $WO_ROOT, else the current folder)');
}

/** The resolved root from parsed options. */
export function rootOf(opts: { root?: string }): string {
  return resolveRoot(opts.root);
}

/** Colour only on a TTY and never with NO_COLOR. */
export function useColor(stream: NodeJS.WriteStream = process.stdout): boolean {
  return Boolean(stream.isTTY) && !('NO_COLOR' in process.env);
}

const CODES = { red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, gray: 90, bold: 1 } as const;
export type ColorName = keyof typeof CODES;

/** Wrap text in an ANSI colour when colour is on. */
export function paint(text: string, color: ColorName, on = useColor()): string {
  return on ? `\x1b[${CODES[color]}m${text}\x1b[0m` : text;
}

/** Print JSON to stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** Colour for a WO status. */
export function statusColor(status: string): ColorName {
  switch (status) {
    case 'succeeded':
    case 'routed':
      return 'green';
    case 'failed':
    case 'rejected':
      return 'red';
    case 'awaiting_approval':
    case 'queued':
      return 'yellow';
    case 'running':
      return 'cyan';
    default:
      return 'gray';
  }
}

/** Why: a name from disk (a folder, a file, a title) can hold newlines or escapes; shown quoted so one item stays one line. */
export function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/.test(s) ? JSON.stringify(s).replace(/[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : s;
}
