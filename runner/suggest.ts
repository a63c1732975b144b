/**
 * "Did you mean": the known name nearest to a mistyped one, for messages
 * about patterns, variables and template filters.
 */

/**
 * Edit distance with adjacent transpositions (optimal string alignment):
 * `defualt` is one step from `default`, as a typist would count it.
 */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The candidate closest to `word` (case-insensitively), if close enough to
 * be a typo: at most a third of the word's length in edits, at least one.
 * Ties go to the candidate listed first. A name that differs only in its
 * digits (tnode9 and tnode1) is another node, not a typo: never suggested;
 * nor is anything for a word under three letters (too little to go on).
 *
 * @example closest("defualt", ["default", "join"]) // "default"
 */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  if (word.length < 3) return undefined;
  const w = word.toLowerCase();
  const limit = Math.max(1, Math.floor(word.length / 3));
  let best: { name: string; d: number } | undefined;
  for (const c of candidates) {
    if (c === word || c.replace(/\d+/g, "#") === word.replace(/\d+/g, "#")) continue;
    const d = editDistance(w, c.toLowerCase());
    if (d <= limit && (!best || d < best.d)) best = { name: c, d };
  }
  return best?.name;
}

/**
 * ` (did you mean "x"?)` for a message, or "" when nothing is close.
 *
 * @example `pattern "tnod2" matches no host${didYouMean("tnod2", ["tnode2"])}` // ... (did you mean "tnode2"?)
 */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const c = closest(word, candidates);
  return c === undefined ? "" : ` (did you mean "${c}"?)`;
}
