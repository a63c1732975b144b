/** Unified diffs for `--diff` (content is already redacted by the event bus). */
import { createTwoFilesPatch } from "diff";
import type { FileDiff } from "../task.ts";

export function unifiedDiff(d: FileDiff): string {
  const patch = createTwoFilesPatch(
    d.before === null ? "/dev/null" : `a${d.path}`,
    d.after === null ? "/dev/null" : `b${d.path}`,
    d.before ?? "",
    d.after ?? "",
    undefined,
    undefined,
    { context: 3 },
  );
  // Drop jsdiff's "Index:"/"=====" preamble: keep what `diff -u` prints.
  return patch.replace(/^(Index:.*\n)?=+\n/, "");
}

/** Colors a unified diff for a terminal. */
export function colorDiff(text: string): string {
  return text
    .split("\n")
    .map((l) => (l.startsWith("+") && !l.startsWith("+++") ? `\x1b[32m${l}\x1b[0m` : l.startsWith("-") && !l.startsWith("---") ? `\x1b[31m${l}\x1b[0m` : l.startsWith("@@") ? `\x1b[36m${l}\x1b[0m` : l))
    .join("\n");
}
