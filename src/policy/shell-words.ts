/**
 * Shell words (unbash AST) as paths: which literal a word is, and whether it could name the daemon's internals
 * or another process's memory. Pure.
 *
 * The rule for words holding expansions we cannot resolve (`$x`, `$(…)`, `~`, `{a..z}`), documented here once:
 * - `$WO_ROOT` / `${WO_ROOT}` is the root; every other expansion is "dynamic" (any text, maybe with `/`).
 * - A word that starts with a dynamic part (or is relative after a `cd` we could not follow) has an unknown base:
 *   it is held only when one of its literal components after the expansion is a name the internals are made of
 *   (`g`, `bridge`, `run`, `token`, `followup`, `state`, `.git`, `environ`, …). `cat "$f"` and `echo "$HOME"` pass,
 *   `cat "$d/run/token"` is held.
 * - A word with a literal start and a dynamic part later (`/proc/$PPID/environ`, `g$x/run`) is matched as if each
 *   dynamic part were `*`, and its components after the first dynamic part are checked by name as above (the
 *   expansion may hold `..`).
 */
import path from 'node:path';
import type { Word, WordPart, DoubleQuotedChild } from 'unbash';
import { INTERNAL_RELS, internalReason } from './roots.js';

/** One piece of a word: literal text, a glob within a component, or a dynamic expansion. */
export type Piece = { k: 'lit'; s: string } | { k: 'glob'; re: string } | { k: 'dyn' };

const MAX_ALTERNATIVES = 64;

/** Why: the literal value of a word without expansions or globs (quotes removed), or undefined when it has any. */
export function literalOf(word: Word): string | undefined {
  const alts = piecesOf(word, '');
  if (alts.length !== 1) return undefined;
  let s = '';
  for (const p of alts[0]!) {
    if (p.k !== 'lit') return undefined;
    s += p.s;
  }
  return s;
}

/** Why: a word becomes one or more piece lists (a simple `{a,b}` brace expansion gives alternatives). */
export function piecesOf(word: Word, root: string): Piece[][] {
  const parts = word.parts;
  let alts: Piece[][] = [[]];
  if (!parts) {
    alts = [tilde(word.text, [{ k: 'lit', s: word.value }])];
    return alts;
  }
  for (const [i, part] of parts.entries()) {
    const next = partPieces(part, root, i === 0);
    const grown: Piece[][] = [];
    for (const a of alts) for (const n of next) grown.push([...a, ...n]);
    alts = grown.length > MAX_ALTERNATIVES ? [[{ k: 'dyn' }]] : grown;
  }
  return alts;
}

/** An unquoted `~` at the start of a word is the home folder of someone: dynamic up to the first `/`. */
function tilde(text: string, pieces: Piece[]): Piece[] {
  if (!text.startsWith('~')) return pieces;
  const first = pieces[0];
  if (first?.k !== 'lit') return [{ k: 'dyn' }, ...pieces];
  const slash = first.s.indexOf('/');
  return slash === -1 ? [{ k: 'dyn' }, ...pieces.slice(1)] : [{ k: 'dyn' }, { k: 'lit', s: first.s.slice(slash) }, ...pieces.slice(1)];
}

function partPieces(part: WordPart, root: string, first: boolean): Piece[][] {
  switch (part.type) {
    case 'Literal':
      return [first ? tilde(part.text, [{ k: 'lit', s: part.value }]) : [{ k: 'lit', s: part.value }]];
    case 'SingleQuoted':
    case 'AnsiCQuoted':
      return [[{ k: 'lit', s: part.value }]];
    case 'DoubleQuoted':
    case 'LocaleString':
      return [part.parts.flatMap((c) => quotedChild(c, root))];
    case 'Glob':
      return [[{ k: 'glob', re: part.kind === 'star' ? '[^/]*' : '[^/]' }]];
    case 'ExtendedGlob':
      return [[{ k: 'glob', re: '[^/]*' }]];
    case 'SimpleExpansion':
    case 'ParameterExpansion':
      return [[expansion(part.text, root)]];
    case 'BraceExpansion':
      return braceAlternatives(part.text);
    default:
      return [[{ k: 'dyn' }]];
  }
}

function quotedChild(c: DoubleQuotedChild, root: string): Piece[] {
  if (c.type === 'Literal') return [{ k: 'lit', s: c.value }];
  if (c.type === 'SimpleExpansion' || c.type === 'ParameterExpansion') return [expansion(c.text, root)];
  return [{ k: 'dyn' }];
}

function expansion(text: string, root: string): Piece {
  return text === '$WO_ROOT' || text === '${WO_ROOT}' ? { k: 'lit', s: root } : { k: 'dyn' };
}

/** `{a,b}` with plain alternatives expands to them; anything else (`{1..9}`, nested, quoted) is dynamic. */
function braceAlternatives(text: string): Piece[][] {
  const inner = text.slice(1, -1);
  if (!/^[^{}$`\\'"]*$/.test(inner) || !inner.includes(',')) return [[{ k: 'dyn' }]];
  return inner.split(',').map((s) => [{ k: 'lit', s }]);
}

/** A place commands must not touch, as path components. */
interface Sensitive {
  comps: string[];
  ci: boolean;
  why: string;
  /** Set for wo's folders: a word naming a folder holding one (deeper than this many components) is held too. */
  holders?: number;
}

const PROCESS_PATHS: readonly [string, string][] = [
  ['/proc', "reads another process's memory or environment (/proc)"],
  ['/dev/fd', "reads another process's open files (/dev/fd)"],
  ['/dev/mem', "reads the machine's memory (/dev/mem)"],
  ['/dev/kmem', "reads the machine's memory (/dev/kmem)"],
  ['/dev/port', "reads the machine's I/O ports (/dev/port)"],
  ['/dev/tcp', 'opens a network connection (/dev/tcp)'],
  ['/dev/udp', 'opens a network connection (/dev/udp)'],
];

/** Component names the internals are made of (SPEC §2 layout, .git, /proc): what a dynamic word is judged by. */
const INTERNAL_NAMES = new Set([
  'g', 'bridge', 'run', 'token', 'followup', 'state', 'control', 'inbox', 'processing', 'hold', 'archive', 'rejected',
  'telemetry', 'backups', 'guardrail', 'vault', 'mls', 'ledger', 'daemon.lock', 'daemon.json', 'unified.jsonl',
  'proc', 'environ', 'mem', 'kmem', 'fd', 'tcp', 'udp',
]);
const SELF_NAMES = ['.git', 'hooks', 'wo.config.yaml', 'wo.config.yml'];

export interface PathContext {
  root: string;
  allowSelfModify: boolean;
}

function sensitives(ctx: PathContext): Sensitive[] {
  const root = path.resolve(ctx.root);
  const rc = comps(root);
  const out: Sensitive[] = [];
  // The same list as path targets (roots.ts, from layout.ts internalDirs): wo's folders, not all of g/.
  for (const d of INTERNAL_RELS) out.push({ comps: [...rc, ...d], ci: true, why: `reads/writes ${internalReason(d.join('/'))!}`, holders: rc.length });
  for (const top of ['wo.config.yaml', 'wo.config.yml', '.git']) {
    const why = internalReason(top, { allowSelfModify: ctx.allowSelfModify });
    if (why) out.push({ comps: [...rc, top], ci: true, why: `reads/writes ${why}` });
  }
  for (const [p, why] of PROCESS_PATHS) out.push({ comps: comps(p), ci: false, why });
  return out;
}

function comps(abs: string): string[] {
  return abs.split('/').filter((c) => c !== '');
}

/** A component as a matcher: literal pieces escaped, globs and dynamic parts (as `*`) kept. */
type Comp = { lit: string } | { re: RegExp; dynamic: boolean };

function split(pieces: Piece[]): Comp[] {
  const out: Comp[] = [];
  let lit = '';
  let re = '';
  let globbed = false;
  let dynamic = false;
  const flush = () => {
    out.push(globbed ? { re: new RegExp(`^${re}$`, 'i'), dynamic } : { lit });
    lit = '';
    re = '';
    globbed = false;
    dynamic = false;
  };
  for (const p of pieces) {
    if (p.k === 'lit') {
      const segs = p.s.split('/');
      segs.forEach((s, i) => {
        if (i > 0) flush();
        lit += s;
        re += s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      });
    } else {
      globbed = true;
      if (p.k === 'dyn') dynamic = true;
      re += p.k === 'glob' ? p.re : '[^/]*';
    }
  }
  flush();
  return out;
}

function matches(c: Comp, name: string, ci: boolean): boolean {
  if ('lit' in c) return ci ? c.lit.toLowerCase() === name.toLowerCase() : c.lit === name;
  if (!c.re.test(name)) return false;
  return c.dynamic || !name.startsWith('.') || c.re.source.startsWith('^\\.'); // a glob skips dot files
}

/** Resolve `.` and `..` on components (a glob followed by `..` is dropped with it). */
function normalise(cs: Comp[]): Comp[] {
  const out: Comp[] = [];
  for (const c of cs) {
    if ('lit' in c && (c.lit === '' || c.lit === '.')) continue;
    if ('lit' in c && c.lit === '..') out.pop();
    else out.push(c);
  }
  return out;
}

/**
 * Why: a command's argument or redirection target must not name the root's internals or another process's
 * memory. `cwds` are the folders the word may be resolved against (null: unknown). Returns the reason, if any.
 */
export function sensitivePath(word: Word, cwds: readonly string[] | null, ctx: PathContext): string | undefined {
  for (const alt of piecesOf(word, path.resolve(ctx.root))) {
    for (const pieces of withValueAfterEquals(alt)) {
      const why = judgePieces(pieces, cwds, ctx);
      if (why) return why;
    }
  }
  return undefined;
}

/** `--file=g/run/token` and `if=/proc/self/mem`: the text after the first `=` is a path too. */
function withValueAfterEquals(pieces: Piece[]): Piece[][] {
  const i = pieces.findIndex((p) => p.k === 'lit' && p.s.includes('='));
  if (i === -1) return [pieces];
  const p = pieces[i] as { k: 'lit'; s: string };
  return [pieces, [{ k: 'lit', s: p.s.slice(p.s.indexOf('=') + 1) }, ...pieces.slice(i + 1)]];
}

function judgePieces(pieces: Piece[], cwds: readonly string[] | null, ctx: PathContext): string | undefined {
  const firstDyn = pieces.findIndex((p) => p.k === 'dyn');
  const text = pieces[0]?.k === 'lit' ? pieces[0].s : '';
  const absolute = text.startsWith('/');
  const leadingDyn = firstDyn === 0 || (!absolute && cwds === null);
  if (!leadingDyn) {
    const targets = sensitives(ctx);
    const rel = split(pieces);
    for (const base of absolute ? ['/'] : cwds!) {
      const full = normalise([...comps(base).map((lit) => ({ lit })), ...rel]);
      for (const t of targets) {
        if (full.length < t.comps.length) {
          // `rm -rf g` or `g/*`: a folder holding wo's folder.
          if (t.holders !== undefined && full.length > t.holders && full.every((c, i) => matches(c, t.comps[i]!, t.ci))) return t.why;
          continue;
        }
        if (t.comps.every((name, i) => matches(full[i]!, name, t.ci))) return t.why;
      }
    }
  }
  if (firstDyn === -1 && !leadingDyn) return undefined;
  // The expansion may hold `..` or a whole path: judge what follows it by name.
  const after = firstDyn === -1 ? pieces : pieces.slice(firstDyn + 1);
  return byName(split(after).slice(firstDyn === -1 ? 0 : 1), ctx);
}

function byName(cs: Comp[], ctx: PathContext): string | undefined {
  const names = ctx.allowSelfModify ? [...INTERNAL_NAMES] : [...INTERNAL_NAMES, ...SELF_NAMES];
  for (const c of cs) {
    for (const n of names) {
      if (matches(c, n, true)) return `may name the daemon's internals or another process's data ('${n}' after an expansion that cannot be resolved)`;
    }
  }
  return undefined;
}

/** Why: `grep -r x .` reads the whole root, internals included; true when the word is the root or above it. */
export function coversRoot(word: Word, cwds: readonly string[] | null, root: string): boolean {
  const lit = literalOf(word);
  if (lit === undefined) return false;
  const r = path.resolve(root);
  if (path.isAbsolute(lit)) return isAncestor(path.resolve(lit), r);
  if (cwds === null) return true;
  return cwds.some((c) => isAncestor(path.resolve(c, lit), r));
}

function isAncestor(dir: string, root: string): boolean {
  return root === dir || root.startsWith(dir.endsWith('/') ? dir : dir + '/');
}
