/**
 * A quote-aware pre-pass over a `/bin/sh -c` string, for what shell-quote does not model:
 * command/process substitution, newlines as separators, comments, line continuations and
 * here-document bodies. It splits the string into logical lines shell-quote can parse.
 */

export interface Prepared {
  /** Logical command lines (comments and here-doc bodies removed, mid-word `#` escaped). */
  lines: string[];
  /** Problems found on the raw text (each makes the command "needs approval"). */
  findings: string[];
}

interface Heredoc {
  delim: string;
  quoted: boolean;
  stripTabs: boolean;
}

const OPERATOR_CHARS = new Set([';', '&', '|', '(', ')', '<', '>']);
const BLANKS = new Set([' ', '\t']);

/** Why: shell-quote treats newlines as blanks, `a#b` as a comment and ignores `$(…)`; we must not. */
export function prepareShell(src: string): Prepared {
  const lines: string[] = [];
  const findings = new Set<string>();
  const pending: Heredoc[] = [];
  let out = '';
  let state: 'n' | 's' | 'd' = 'n';
  let wordStart = true;
  let i = 0;

  const substitutionAt = (j: number): void => {
    if (src[j] === '`') findings.add('backticks `…` (command substitution) run a program that cannot be checked');
    else if (src[j] === '$' && src[j + 1] === '(' && src[j + 2] === '(') findings.add('arithmetic expansion $((…)) is not analysed (it may hold a command substitution)');
    else if (src[j] === '$' && src[j + 1] === '(') findings.add('command substitution $(…) runs a program that cannot be checked');
  };

  while (i < src.length) {
    const c = src[i]!;
    const next = src[i + 1];
    if (state === 's') {
      out += c;
      if (c === "'") state = 'n';
      i += 1;
      continue;
    }
    if (state === 'd') {
      if (c === '\\') {
        if (next === '\n') i += 2;
        else {
          out += c + (next ?? '');
          i += 2;
        }
        continue;
      }
      substitutionAt(i);
      if (c === '"') state = 'n';
      out += c;
      i += 1;
      continue;
    }
    // state 'n': unquoted
    if (c === '\\') {
      if (next === '\n') i += 2;
      else {
        out += c + (next ?? '');
        i += 2;
        wordStart = false;
      }
      continue;
    }
    substitutionAt(i);
    if ((c === '<' || c === '>') && next === '(') findings.add(`process substitution ${c}(…) runs a program that cannot be checked`);
    if (c === "'" || c === '"') {
      state = c === "'" ? 's' : 'd';
      out += c;
      wordStart = false;
      i += 1;
      continue;
    }
    if (c === '#') {
      if (wordStart) {
        while (i < src.length && src[i] !== '\n') i += 1;
      } else {
        out += '\\#';
        i += 1;
      }
      continue;
    }
    if (c === '\n') {
      lines.push(out);
      out = '';
      wordStart = true;
      i = readHeredocBodies(src, i + 1, pending, findings);
      continue;
    }
    if (c === '<' && next === '<' && src[i + 2] === '<') {
      out += '<<<'; // a here-string: its word is on this line
      i += 3;
      wordStart = true;
      continue;
    }
    if (c === '<' && next === '<') {
      const h = readHeredocHead(src, i);
      out += src.slice(i, h.end);
      pending.push(h.doc);
      i = h.end;
      wordStart = true;
      continue;
    }
    out += c;
    wordStart = BLANKS.has(c) || OPERATOR_CHARS.has(c);
    i += 1;
  }
  if (state !== 'n') findings.add('an unterminated quote: the command cannot be analysed');
  if (out.trim() !== '') lines.push(out);
  if (pending.length) findings.add('a here-document without its body: the command cannot be analysed');
  return { lines: lines.filter((l) => l.trim() !== ''), findings: [...findings] };
}

/** Read `<<[-] DELIM` starting at `i` (which points at the first `<`). */
function readHeredocHead(src: string, i: number): { end: number; doc: Heredoc } {
  let j = i + 2;
  const stripTabs = src[j] === '-';
  if (stripTabs) j += 1;
  while (j < src.length && BLANKS.has(src[j]!)) j += 1;
  let delim = '';
  let quoted = false;
  let q: string | null = null;
  for (; j < src.length; j += 1) {
    const ch = src[j]!;
    if (q) {
      if (ch === q) q = null;
      else delim += ch;
      continue;
    }
    if (ch === "'" || ch === '"') {
      q = ch;
      quoted = true;
      continue;
    }
    if (ch === '\\') {
      quoted = true;
      j += 1;
      delim += src[j] ?? '';
      continue;
    }
    if (BLANKS.has(ch) || ch === '\n' || OPERATOR_CHARS.has(ch)) break;
    delim += ch;
  }
  return { end: j, doc: { delim, quoted, stripTabs } };
}

/** Skip the bodies of pending here-documents from `i`; an unquoted body may hold substitutions. */
function readHeredocBodies(src: string, i: number, pending: Heredoc[], findings: Set<string>): number {
  while (pending.length) {
    const doc = pending.shift()!;
    for (;;) {
      if (i >= src.length) {
        findings.add(`here-document '${doc.delim}' is not terminated: the command cannot be analysed`);
        return i;
      }
      const nl = src.indexOf('\n', i);
      const end = nl === -1 ? src.length : nl;
      const raw = src.slice(i, end);
      i = nl === -1 ? src.length : nl + 1;
      const line = doc.stripTabs ? raw.replace(/^\t+/, '') : raw;
      if (line === doc.delim) break;
      if (!doc.quoted && /(^|[^\\])(`|\$\()/.test(line)) {
        findings.add(`command substitution inside here-document '${doc.delim}' runs a program that cannot be checked`);
      }
    }
  }
  return i;
}
