/** "Did you mean" suggestions for misspelt keys (config and WO fields). */

/** Levenshtein distance, small strings only. */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** The closest candidate within a third of the word's length (at least 2 edits), if any. */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  return best;
}

/** Format zod issues as `field.path: message` lines, adding did-you-mean for unknown keys. */
export function formatIssues(
  issues: readonly { path: PropertyKey[]; message: string; code?: string; keys?: string[] }[],
  knownKeysAt: (path: PropertyKey[]) => readonly string[],
): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys' && issue.keys) {
      for (const key of issue.keys) {
        const hint = didYouMean(key, knownKeysAt(issue.path));
        out.push({ path: [...issue.path, key].join('.'), message: `unknown key${hint ? ` (did you mean '${hint}'?)` : ''}` });
      }
      continue;
    }
    out.push({ path: issue.path.length ? issue.path.join('.') : '(top level)', message: issue.message });
  }
  return out;
}
