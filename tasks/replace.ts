/**
 * `replace`: replace every match of a regular expression in a text file,
 * like Ansible's `replace` (and `sed -i`), written atomically with a diff
 * and only when the text changes. A string `regexp` is compiled with the
 * `g` and `m` flags (`^`/`$` match at every line); a RegExp keeps its own
 * flags plus `g`. Make the replacement something the regexp no longer
 * matches, or every run will change the file again.
 *
 * Parameters (plus `mode`, `owner`, `group`, `backup`, `validate` from
 * {@link TextFileOptions}; a missing file fails the task):
 * - `path`: the file.
 * - `regexp`: what to replace (JS syntax).
 * - `replace`: the replacement, JS syntax (`$1`, `$<name>`, `$&`, `$$`);
 *   default `""` deletes the matches.
 * - `after` / `before`: only replace in the text after the first match of
 *   `after` and before the first match of `before` that follows it; with
 *   `before` alone, before its last match (Ansible's rules; both are
 *   regexps with the `m` flag).
 *
 * @example
 *   await h.replace({ path: "/etc/default/grub", regexp: /^(GRUB_CMDLINE_LINUX=")(?!.*cgroup_no_v1)/m, replace: "$1cgroup_no_v1=all " });
 *   await h.replace({ path: "/etc/apt/sources.list", regexp: "\\bmain$", replace: "main contrib non-free" });
 */
import { defineTask } from "../runner/task.ts";
import type { Pattern } from "./lineinfile.ts";
import { planTextEdit, showRe, type EditResult, type TextFileOptions } from "./textfile.ts";

export type ReplaceParams = Omit<TextFileOptions, "create"> & {
  regexp: Pattern;
  /** The replacement (JS syntax: `$1`, `$<name>`); default "" deletes the matches. */
  replace?: string;
  /** Only replace after the first match of this. */
  after?: Pattern;
  /** Only replace before the last match of this (with `after`: before its first match after `after`). */
  before?: Pattern;
};

function compile(re: Pattern, flags: string, what: string): RegExp {
  try {
    if (re instanceof RegExp) return new RegExp(re.source, [...new Set(re.flags.replace(/[y]/g, "") + flags)].join(""));
    return new RegExp(re, flags);
  } catch (err) {
    throw new Error(`${what}: invalid regular expression ${JSON.stringify(String(re))}: ${(err as Error).message}`);
  }
}

/**
 * The edit itself, pure: the file's text in, the new text and a reason out.
 *
 * @example edit("a=1\nb=1\n", { path: "/x", regexp: "=1$", replace: "=2" }) // { content: "a=2\nb=2\n", reason: "2 replacement(s) in /x" }
 */
export function edit(text: string, p: ReplaceParams): EditResult {
  const re = compile(p.regexp, p.regexp instanceof RegExp ? "g" : "gm", "regexp");
  let start = 0;
  let end = text.length;
  if (p.after !== undefined || p.before !== undefined) {
    const source = (x: Pattern) => (x instanceof RegExp ? x.source : x);
    // As Ansible: after(.*?)before, `.` matching newlines; `d` gives the section's offsets.
    const section =
      p.after !== undefined && p.before !== undefined
        ? `(?:${source(p.after)})([\\s\\S]*?)(?:${source(p.before)})`
        : p.after !== undefined
          ? `(?:${source(p.after)})([\\s\\S]*)`
          : `([\\s\\S]*)(?:${source(p.before!)})`;
    const m = compile(section, "dm", "after/before").exec(text);
    const at = m?.indices?.[1];
    if (!at) return { content: text, reason: `after/before do not match in ${p.path}` };
    [start, end] = at;
  }
  const part = text.slice(start, end);
  const count = [...part.matchAll(re)].length;
  if (count === 0) return { content: text, reason: `no match for ${showRe(p.regexp)} in ${p.path}` };
  const out = text.slice(0, start) + part.replace(re, p.replace ?? "") + text.slice(end);
  if (out === text) return { content: text, reason: `${count} match(es) in ${p.path} already as wanted` };
  return { content: out, reason: `${count} replacement(s) in ${p.path}` };
}

export const replaceTask = defineTask<ReplaceParams>({
  kind: "replace",
  describe: (p) => `replace ${showRe(p.regexp)} in ${p.path}`,
  plan: (ctx, p) => planTextEdit(ctx, p, (text) => edit(text, p), { mustExist: true }),
});
