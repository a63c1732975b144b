/**
 * OpenSSH's host pattern lists, shared by ssh_config `Host` lines and
 * known_hosts host fields: `*` and `?` wildcards, `!` negation, several
 * patterns separated by commas or spaces. Host names compare without regard
 * to case, as ssh lowercases the name it connects to.
 */

/**
 * Matches one wildcard pattern (`*` any run, `?` one character) against a
 * whole name, case-insensitively.
 *
 * @example matchPattern("tnode*", "TNode2") // true
 */
export function matchPattern(pattern: string, name: string): boolean {
  const p = pattern.toLowerCase();
  const s = name.toLowerCase();
  // Iterative glob with single-star backtracking: linear enough for host
  // names, and no regex built from user text.
  let pi = 0;
  let si = 0;
  let starP = -1;
  let starS = 0;
  while (si < s.length) {
    const c = p[pi];
    if (c === "*") {
      starP = pi++;
      starS = si;
    } else if (c !== undefined && (c === "?" || c === s[si])) {
      pi++;
      si++;
    } else if (starP >= 0) {
      pi = starP + 1;
      si = ++starS;
    } else {
      return false;
    }
  }
  while (p[pi] === "*") pi++;
  return pi === p.length;
}

/**
 * OpenSSH's `match_pattern_list`: 1 when a positive pattern matches and no
 * negated one does, -1 when a negated pattern matches (a negation always
 * wins, whatever its position), 0 when nothing matches.
 *
 * @example matchPatternList(["tnode*", "!tnode3"], "tnode3") // -1
 */
export function matchPatternList(patterns: readonly string[], name: string): 1 | 0 | -1 {
  let found: 1 | 0 = 0;
  for (const raw of patterns) {
    if (raw === "") continue;
    const negated = raw.startsWith("!");
    const pattern = negated ? raw.slice(1) : raw;
    if (matchPattern(pattern, name)) {
      if (negated) return -1;
      found = 1;
    }
  }
  return found;
}
