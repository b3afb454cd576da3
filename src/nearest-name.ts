/**
 * The name a misspelt one most likely means, for errors that name the fix: an unknown option of
 * the API (`sesionId`), of a log call's input (`tokensUsd`) or of the command line (`--publickey`).
 */

/**
 * The one of `names` that `given` most likely means: the same letters but for case, dashes and
 * underscores; else the only name it begins (`max-age` of `max-age-days`); else the only name it
 * abbreviates, its letters in order (`params` of `parameters`); else the nearest within 2 edits
 * (and fewer than half its letters). `undefined` when none is that close.
 *
 * @example
 * nearestName("publickey", ["session", "public-key"]); // "public-key"
 * nearestName("sesionId", ["sessionId", "projectPath"]); // "sessionId"
 */
export function nearestName(given: string, names: readonly string[]): string | undefined {
  const bare = (s: string) => s.toLowerCase().replace(/[-_]/g, "");
  const g = bare(given);
  if (g.length < 2) return undefined;
  const same = names.find((n) => bare(n) === g);
  if (same !== undefined) return same;
  const prefixed = names.filter((n) => bare(n).startsWith(g));
  if (prefixed.length === 1) return prefixed[0];
  // (an abbreviation: `params` of `parameters`, `maxAge` of `maxLogAgeDays`)
  const abbreviated = g.length >= 4 ? names.filter((n) => bare(n)[0] === g[0] && isSubsequence(g, bare(n))) : [];
  if (abbreviated.length === 1) return abbreviated[0];
  let best: string | undefined;
  let bestDistance = Math.min(2, Math.floor((g.length - 1) / 2));
  for (const n of names) {
    const d = editDistance(g, bare(n));
    if (d <= bestDistance && (best === undefined || d < bestDistance)) [best, bestDistance] = [n, d];
  }
  return best;
}

/** Levenshtein distance (insertions, deletions, substitutions), for short names. */
function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next.push(Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    row = next;
  }
  return row[b.length]!;
}

/** Whether the letters of `short` appear in `long` in order. */
function isSubsequence(short: string, long: string): boolean {
  let i = 0;
  for (const c of long) if (c === short[i]) i++;
  return i === short.length;
}
