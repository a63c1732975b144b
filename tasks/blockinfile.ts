/**
 * `blockinfile`: a block of lines between marker lines in a text file,
 * kept as given (or removed), the Ansible way. The markers are
 * `# BEGIN RUNBOOK MANAGED BLOCK` / `# END RUNBOOK MANAGED BLOCK` unless
 * `marker` says otherwise; give each block in a file its own marker. A
 * new block goes at the end, or after/before the last line matching
 * `insertafter`/`insertbefore`; an existing block is updated in place.
 *
 * Parameters (plus `mode`, `owner`, `group`, `backup`, `validate`, `create`
 * from {@link TextFileOptions}):
 * - `path`: the file.
 * - `block`: the lines (a final `\n` is optional). An empty block removes
 *   the block and its markers, as Ansible does.
 * - `marker`: the marker line template; `{mark}` becomes `markerBegin`
 *   (default `BEGIN`) or `markerEnd` (default `END`). Use the file's
 *   comment syntax, e.g. `<!-- {mark} ntp -->`.
 * - `insertafter` (`"EOF"` or a regexp) / `insertbefore` (`"BOF"` or a
 *   regexp): where a new block goes; one of them at most.
 * - `state`: `"present"` (default) or `"absent"`.
 *
 * @example
 *   await h.blockinfile({
 *     path: "/etc/hosts",
 *     marker: "# {mark} cluster nodes",
 *     block: ["10.0.0.1 tnode1", "10.0.0.2 tnode2", "10.0.0.3 tnode3"].join("\n"),
 *   });
 */
import { defineTask } from "../runner/task.ts";
import { finish, type LinePlacement } from "./lineinfile.ts";
import { planTextEdit, splitLines, toRegExp, type EditResult, type TextFileOptions } from "./textfile.ts";

interface Markers {
  /** Marker line template; `{mark}` becomes markerBegin / markerEnd. Default `# {mark} RUNBOOK MANAGED BLOCK`. */
  marker?: string;
  /** Default `BEGIN`. */
  markerBegin?: string;
  /** Default `END`. */
  markerEnd?: string;
}

export type BlockInFileParams = TextFileOptions &
  Markers &
  ((LinePlacement & { state?: "present"; /** The block's lines; empty removes the block. */ block: string }) | { state: "absent"; block?: never });

export const DEFAULT_MARKER = "# {mark} RUNBOOK MANAGED BLOCK";

/** The begin and end marker lines of a block. */
export function markers(p: Markers): [string, string] {
  const marker = p.marker ?? DEFAULT_MARKER;
  if (!marker.includes("{mark}")) throw new Error(`marker ${JSON.stringify(marker)} must contain {mark}`);
  const begin = marker.split("{mark}").join(p.markerBegin ?? "BEGIN");
  const end = marker.split("{mark}").join(p.markerEnd ?? "END");
  if (begin === end) throw new Error("markerBegin and markerEnd must differ");
  if (begin.includes("\n") || end.includes("\n")) throw new Error("marker lines must be single lines");
  return [begin, end];
}

/**
 * The edit itself, pure: the file's text in, the new text and a reason out.
 *
 * @example edit("a\n", { path: "/x", block: "b" }) // { content: "a\n# BEGIN RUNBOOK MANAGED BLOCK\nb\n# END RUNBOOK MANAGED BLOCK\n", reason: "block inserted in /x" }
 */
export function edit(text: string, p: BlockInFileParams): EditResult {
  const [begin, end] = markers(p);
  const { lines, trailing } = splitLines(text);
  const bare = (l: string) => (l.endsWith("\r") ? l.slice(0, -1) : l);
  let b = -1;
  let e = -1;
  lines.forEach((l, i) => {
    if (bare(l) === begin) b = i;
    if (bare(l) === end) e = i;
  });
  const found = b >= 0 && e >= 0;
  const content = p.state === "absent" ? "" : p.block.replace(/\r?\n$/, "");
  const blockLines = content === "" ? [] : [begin, ...content.split(/\r?\n/), end];

  const next = [...lines];
  let at: number;
  if (found) {
    at = Math.min(b, e);
    next.splice(at, Math.abs(e - b) + 1);
  } else if (blockLines.length === 0) {
    return { content: text, reason: `no block in ${p.path}` };
  } else {
    const where = p.state === "absent" ? undefined : (p.insertafter ?? p.insertbefore);
    at = next.length;
    if (where === "BOF") at = 0;
    else if (where !== undefined && where !== "EOF") {
      const re = toRegExp(where, p.state !== "absent" && p.insertafter !== undefined ? "insertafter" : "insertbefore");
      let last = -1;
      next.forEach((l, i) => {
        if (re.test(l)) last = i;
      });
      if (last >= 0) at = p.state !== "absent" && p.insertafter !== undefined ? last + 1 : last;
    }
  }
  next.splice(at, 0, ...blockLines);
  const out = finish(lines, next, trailing);
  if (out === text) return { content: text, reason: `block up to date in ${p.path}` };
  const what = !found ? "inserted in" : blockLines.length === 0 ? "removed from" : "updated in";
  return { content: out, reason: `block ${what} ${p.path}` };
}

export const blockinfileTask = defineTask<BlockInFileParams>({
  kind: "blockinfile",
  describe: (p) => `blockinfile ${p.path}`,
  plan: (ctx, p) => planTextEdit(ctx, p, (text) => edit(text, p)),
});
