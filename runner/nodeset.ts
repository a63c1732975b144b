/**
 * Folding host names into clush-style node sets: tnode1 tnode2 tnode3 ->
 * `tnode[1-3]`, keeping zero padding (`valkyrie[01-02]`).
 */

/** Folds names into a compact node set string, in sorted order. */
export function foldNodeset(names: string[]): string {
  const groups = new Map<string, { num: string }[]>();
  const plain: string[] = [];
  for (const n of names) {
    const m = n.match(/^(.*?)(\d+)$/);
    if (!m) plain.push(n);
    else {
      const key = `${m[1]}\u0000${m[2]!.startsWith("0") && m[2]!.length > 1 ? m[2]!.length : 0}`;
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key)!.push({ num: m[2]! });
    }
  }
  const out: string[] = [...plain.sort()];
  for (const [key, nums] of groups) {
    const [prefix] = key.split("\u0000");
    const sorted = [...new Set(nums.map((n) => n.num))].sort((a, b) => Number(a) - Number(b));
    if (sorted.length === 1) {
      out.push(`${prefix}${sorted[0]}`);
      continue;
    }
    const ranges: string[] = [];
    let start = sorted[0]!;
    let prev = start;
    for (const cur of [...sorted.slice(1), null]) {
      if (cur !== null && Number(cur) === Number(prev) + 1) {
        prev = cur;
        continue;
      }
      ranges.push(start === prev ? start : `${start}-${prev}`);
      if (cur !== null) start = prev = cur;
    }
    out.push(`${prefix}[${ranges.join(",")}]`);
  }
  return out.join(",");
}
