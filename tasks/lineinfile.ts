/**
 * `lineinfile`: make sure one line is in a text file (or is not), the
 * Ansible way: a `regexp` finds the line to replace (the last match, or
 * the first with `firstmatch`); when nothing matches and the exact line is
 * not there either, the line is inserted at the end, or after/before the
 * last line matching `insertafter`/`insertbefore`. Written atomically, only
 * when the text changes, with a diff.
 *
 * Parameters (plus `mode`, `owner`, `group`, `backup`, `validate`, `create`
 * from {@link TextFileOptions}):
 * - `path`: the file.
 * - `line`: the whole line wanted (one line, without `\n`).
 * - `regexp`: JS regular expression (string or RegExp) tested against each
 *   line; with `state: "absent"` every matching line is removed.
 * - `backrefs`: `line` is a replacement template for the regexp's match
 *   (`$1`, `$<name>`, `$&`, `$$`); when nothing matches, nothing is inserted.
 * - `insertafter` (`"EOF"` or a regexp) / `insertbefore` (`"BOF"` or a
 *   regexp): where a new line goes; one of them at most.
 * - `firstmatch`: use the first matching line instead of the last.
 * - `state`: `"present"` (default) or `"absent"`.
 *
 * @example
 *   await h.lineinfile({ path: "/etc/ssh/sshd_config", regexp: "^#?PermitRootLogin ", line: "PermitRootLogin prohibit-password", notify: restartSshd });
 *   await h.lineinfile({ path: "/etc/hosts", line: "10.0.0.2 tnode2", insertafter: /^127\.0\.0\.1/ });
 *   await h.lineinfile({ path: "/etc/fstab", regexp: /\s\/mnt\/old\s/, state: "absent" });
 */
import { defineTask } from "../runner/task.ts";
import { joinLines, planTextEdit, showRe, splitLines, toRegExp, type EditResult, type TextFileOptions } from "./textfile.ts";

/** A regular expression: a RegExp, or a string in JS syntax. */
export type Pattern = string | RegExp;

/** Where a line goes when no line matches (default: the end of the file). */
export type LinePlacement =
  | { /** After the last line matching this, or at the end (`"EOF"`). */ insertafter?: Pattern | "EOF"; insertbefore?: never }
  | { /** Before the last line matching this, or at the beginning (`"BOF"`). */ insertbefore: Pattern | "BOF"; insertafter?: never };

interface Present {
  state?: "present";
  /** Use the first line matching `regexp` / `insertafter` / `insertbefore` instead of the last. */
  firstmatch?: boolean;
}

export type LineInFileParams = TextFileOptions &
  (
    | (Present & LinePlacement & { regexp: Pattern; line: string; /** `line` is a template over the match: `$1`, `$<name>`. */ backrefs?: boolean })
    | (Present & LinePlacement & { line: string; regexp?: never; backrefs?: never })
    | { state: "absent"; regexp: Pattern; line?: never }
    | { state: "absent"; line: string; regexp?: never }
  );

/** A line's text without a trailing `\r` (CRLF files compare like LF ones). */
const bare = (l: string) => (l.endsWith("\r") ? l.slice(0, -1) : l);

/**
 * The edit itself, pure: the file's text in, the new text and a reason out.
 *
 * @example edit("a\nb\n", { path: "/x", regexp: "^b", line: "B" }) // { content: "a\nB\n", reason: "line 2 replaced in /x" }
 */
export function edit(text: string, p: LineInFileParams): EditResult {
  const { lines, trailing } = splitLines(text);
  const re = p.regexp === undefined ? undefined : toRegExp(p.regexp, "regexp");

  if (p.state === "absent") {
    const keep = lines.filter((l) => (re ? !re.test(bare(l)) : bare(l) !== p.line));
    const removed = lines.length - keep.length;
    if (removed === 0) return { content: text, reason: `no line ${re ? `matching ${showRe(p.regexp!)}` : "to remove"} in ${p.path}` };
    return { content: finish(lines, keep, trailing), reason: `${removed} line(s) removed from ${p.path}` };
  }

  if (p.line.includes("\n")) throw new Error("line: must be a single line (use blockinfile for several)");
  let index = -1;
  let match: RegExpExecArray | null = null;
  if (re) {
    for (let i = 0; i < lines.length; i++) {
      const m = re.exec(bare(lines[i]!));
      if (!m) continue;
      index = i;
      match = m;
      if (p.firstmatch) break;
    }
  }
  let exact = false;
  let anchor = -1;
  const where = p.insertafter ?? p.insertbefore;
  const insRe = where === undefined || where === "EOF" || where === "BOF" ? undefined : toRegExp(where, p.insertafter !== undefined ? "insertafter" : "insertbefore");
  if (!match) {
    for (let i = 0; i < lines.length; i++) {
      if (bare(lines[i]!) === p.line) {
        index = i;
        exact = true;
      } else if (insRe?.test(lines[i]!) && !(p.firstmatch && anchor >= 0)) {
        anchor = p.insertafter !== undefined ? i + 1 : i;
      }
    }
  }

  if (index >= 0) {
    const wanted = p.backrefs && match ? expand(p.line, match) : p.line;
    if (bare(lines[index]!) === wanted) {
      return { content: text, reason: exact ? `line present in ${p.path}` : `line ${index + 1} of ${p.path} is as wanted` };
    }
    const next = [...lines];
    next[index] = wanted;
    return { content: finish(lines, next, trailing), reason: `line ${index + 1} replaced in ${p.path}` };
  }
  if (p.backrefs) return { content: text, reason: `no line matches ${showRe(p.regexp!)} in ${p.path} (backrefs: nothing inserted)` };

  const next = [...lines];
  let at: number;
  if (where === "BOF") at = 0;
  else if (where === "EOF" || anchor < 0) at = next.length;
  else at = anchor;
  next.splice(at, 0, p.line);
  return { content: finish(lines, next, trailing), reason: `line added to ${p.path}${at === next.length - 1 ? "" : ` at line ${at + 1}`}` };
}

/**
 * Joins edited lines. The file keeps a missing final newline unless its
 * last line changed (an appended line always ends with one).
 */
export function finish(before: string[], after: string[], trailing: boolean): string {
  return joinLines(after, trailing || after[after.length - 1] !== before[before.length - 1]);
}

/**
 * Expands a JS replacement template (`$1`, `$<name>`, `$&`, `$$`) with a match,
 * as String.prototype.replace would.
 *
 * @example expand("x=$1", /^#?x=(\d+)/.exec("#x=3")!) // "x=3"
 */
export function expand(template: string, m: RegExpExecArray): string {
  return template.replace(/\$(\$|&|<([^>]*)>|(\d\d?))/g, (all, tok: string, name: string | undefined, num: string | undefined) => {
    if (tok === "$") return "$";
    if (tok === "&") return m[0];
    if (name !== undefined) return m.groups?.[name] ?? "";
    const n = Number(num);
    if (n >= 1 && n < m.length) return m[n] ?? "";
    const one = Number(num![0]);
    if (num!.length === 2 && one >= 1 && one < m.length) return (m[one] ?? "") + num![1];
    return all;
  });
}

export const lineinfileTask = defineTask<LineInFileParams>({
  kind: "lineinfile",
  describe: (p) => `lineinfile ${p.path}`,
  plan: (ctx, p) => planTextEdit(ctx, p, (text) => edit(text, p)),
});
