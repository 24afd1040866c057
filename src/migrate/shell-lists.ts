/**
 * The old pipeline's critical-file lists: `CRITICAL_FILES=( … )` / `CRITICAL_DIRS=( … )` shell arrays, read with
 * the unbash parser (quotes, comments, line continuations; `typeset -a X=( … )` too). Nothing is ever run.
 * Expansion, stated once: `$HOME`, `${HOME}` and a leading unquoted `~` or `~/` are the given home folder; any
 * other expansion (`$BASE`, `$(cmd)`, `` `cmd` ``, globs, braces) makes the entry not importable, with the reason. Pure.
 */
import { parse } from 'unbash';
import type { Word } from 'unbash';

export const LIST_NAMES = ['CRITICAL_FILES', 'CRITICAL_DIRS'] as const;
export type ListName = (typeof LIST_NAMES)[number];

/** One array element: its source text and either the path it names or why it cannot be imported. */
export interface ListEntry {
  list: ListName;
  raw: string;
  value?: string;
  why?: string;
}

/** Why: find every critical-list array in a script; a script unbash cannot parse gives no entries and a reason. */
export function criticalLists(script: string, home: string | undefined): { entries: ListEntry[]; error?: string } {
  let ast: unknown;
  try {
    ast = parse(script);
  } catch (err) {
    return { entries: [], error: `not parsable as shell (${err instanceof Error ? err.message.split('\n')[0] : String(err)})` };
  }
  const errors = (ast as { errors?: { message: string }[] }).errors ?? [];
  if (errors.length) return { entries: [], error: `not parsable as shell (${errors[0]!.message})` };
  const entries: ListEntry[] = [];
  walk(ast, (node) => {
    if (node.type !== 'Assignment') return;
    const a = node as unknown as { name: string; value: { type: string; elements?: Word[] } };
    if (!(LIST_NAMES as readonly string[]).includes(a.name) || a.value.type !== 'ArrayValue') return;
    for (const w of a.value.elements ?? []) entries.push({ list: a.name as ListName, raw: w.text, ...wordValue(w, home) });
  });
  return { entries };
}

/** Every object node below `v` (depth-first, source order), without following anything twice. */
function walk(v: unknown, visit: (node: { type: string }) => void, seen = new Set<unknown>()): void {
  if (v === null || typeof v !== 'object' || seen.has(v)) return;
  seen.add(v);
  if (Array.isArray(v)) {
    for (const x of v) walk(x, visit, seen);
    return;
  }
  const o = v as Record<string, unknown>;
  if (typeof o.type === 'string') visit(o as { type: string });
  for (const [k, x] of Object.entries(o)) if (k !== 'parent') walk(x, visit, seen);
}

const HOME_VARS = new Set(['$HOME', '${HOME}']);

/** A word's literal value with only the home folder expanded, or why it has none. */
export function wordValue(w: Word, home: string | undefined): { value?: string; why?: string } {
  const needHome = (): string | undefined => home;
  let out = '';
  const parts = w.parts ?? [{ type: 'Literal', value: w.value, text: w.text }];
  for (const [i, p] of parts.entries()) {
    const part = p as { type: string; value?: string; text: string; parts?: { type: string; value?: string; text: string }[] };
    if (part.type === 'Literal') {
      let s = part.value ?? '';
      if (i === 0 && part.text.startsWith('~')) {
        if (!(part.text === '~' || part.text.startsWith('~/'))) return { why: `'${part.text.split('/')[0]}' is another user's home folder` };
        const h = needHome();
        if (h === undefined) return { why: 'uses ~ and no home folder is known' };
        s = h + s.slice(1);
      }
      out += s;
    } else if (part.type === 'SingleQuoted' || part.type === 'AnsiCQuoted') out += part.value ?? '';
    else if (part.type === 'DoubleQuoted') {
      for (const c of part.parts ?? []) {
        if (c.type === 'Literal') out += c.value ?? '';
        else if ((c.type === 'SimpleExpansion' || c.type === 'ParameterExpansion') && HOME_VARS.has(c.text)) {
          const h = needHome();
          if (h === undefined) return { why: `uses ${c.text} and no home folder is known` };
          out += h;
        } else return { why: dynamicWhy(c.type, c.text) };
      }
    } else if ((part.type === 'SimpleExpansion' || part.type === 'ParameterExpansion') && HOME_VARS.has(part.text)) {
      const h = needHome();
      if (h === undefined) return { why: `uses ${part.text} and no home folder is known` };
      out += h;
    } else return { why: dynamicWhy(part.type, part.text) };
  }
  if (out === '') return { why: 'is empty' };
  return { value: out };
}

function dynamicWhy(type: string, text: string): string {
  const shown = text.length > 60 ? `${text.slice(0, 57)}…` : text;
  if (type === 'CommandExpansion' || type === 'BackQuotedCommandExpansion' || type === 'ProcessSubstitution') return `holds a command substitution (${shown}), never run`;
  if (type === 'SimpleExpansion' || type === 'ParameterExpansion') return `holds an expansion that cannot be resolved (${shown}); only $HOME and ~ are`;
  return `holds ${type} (${shown}), which is not a plain path`;
}
