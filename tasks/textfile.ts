/**
 * The plan lineinfile, blockinfile and replace share: read a remote text
 * file (attributes and content in one round trip), edit it in memory with a
 * pure function, and write it back atomically only when the text changed —
 * with a diff, optional validation and backup.
 */
import { shq } from "../runner/quote.ts";
import type { Change, FileDiff, Plan, PlanContext } from "../runner/task.ts";
import { attrChanges, normMode, type PathState } from "./stat.ts";

/** Options every text-editing task accepts. */
export interface TextFileOptions {
  /** The file to edit. A symlink is followed: its target is edited. */
  path: string;
  /** Mode of the file (octal string such as "0644"); a new file gets 0644 unless given. */
  mode?: string;
  owner?: string;
  group?: string;
  /** Keep a timestamped copy of the old file beside it. */
  backup?: boolean;
  /** Validator run on the new content before it replaces the file; `%s` is the temp file's path. */
  validate?: string;
  /** Create the file when it does not exist (default: a missing file fails the task). */
  create?: boolean;
}

/** What an edit did: the new text, and a reason (what changed, or why nothing had to). */
export interface EditResult {
  content: string;
  reason: string;
}

/** Diffs of files larger than this show their size instead of their content. */
const DIFF_LIMIT = 256 * 1024;

/**
 * POSIX sh that prints the real path (symlinks followed), NUL, then one
 * line `absent` | `directory` | `other` | `file MODE OWNER GROUP SIZE`
 * followed by the content in base64 (`run` output is UTF-8 text).
 */
export function readTextScript(path: string): string {
  return [
    `p=${shq(path)}`,
    // The trailing x keeps $(...) from eating newlines at the end of the path.
    `if [ -L "$p" ]; then p=$(readlink -f -- "$p"; echo x) || exit 1; p=\${p%?x}; fi`,
    `printf '%s\\0' "$p"`,
    `if [ -d "$p" ]; then echo directory`,
    `elif [ -f "$p" ]; then stat -c 'file\t%a\t%U\t%G\t%s' -- "$p" && base64 < "$p"`,
    `elif [ -e "$p" ]; then echo other`,
    `else echo absent; fi`,
  ].join("\n");
}

/** Parses readTextScript's output. */
export function parseReadText(out: string): { path: string; state: PathState; content: Buffer | null } {
  const nul = out.indexOf("\0");
  if (nul < 0) throw new Error("unexpected output while reading the file");
  const path = out.slice(0, nul);
  const rest = out.slice(nul + 1);
  const eol = rest.indexOf("\n");
  const head = eol < 0 ? rest : rest.slice(0, eol);
  const [type, mode, owner, group, size] = head.split("\t");
  if (type === "file") {
    return { path, state: { type: "file", mode, owner, group, size: Number(size) }, content: Buffer.from(rest.slice(eol + 1), "base64") };
  }
  if (type === "directory" || type === "other") return { path, state: { type }, content: null };
  return { path, state: { type: "absent" }, content: null };
}

/**
 * Plans editing the text file `p.path` with `edit` (a pure function of the
 * old text). A missing file is edited as empty text: when that adds
 * nothing the task is a no-op, otherwise it needs `create: true`.
 * `mustExist` makes a missing file an error either way.
 */
export async function planTextEdit(
  ctx: PlanContext,
  p: TextFileOptions,
  edit: (text: string) => EditResult,
  opts: { /** A missing file fails the task even when the edit would add nothing. */ mustExist?: boolean } = {},
): Promise<Plan> {
  const mode = normMode(p.mode);
  const res = await ctx.probe(readTextScript(p.path));
  if (res.code !== 0) throw new Error(`cannot read ${p.path}: ${res.stderr.trim() || `exit ${res.code}`}`);
  const { path, state, content } = parseReadText(res.stdout);
  if (state.type === "directory" || state.type === "other") throw new Error(`${path} is not a regular file (${state.type})`);

  if (content === null) {
    if (opts.mustExist) throw new Error(`${p.path} does not exist`);
    const r = edit("");
    if (r.content === "") return { changes: [], reason: `${p.path} does not exist (nothing to change)` };
    if (!p.create) throw new Error(`${p.path} does not exist (set create: true to create it)`);
    const put: Change = { kind: "put", path, content: r.content, mode: mode?.padStart(4, "0"), owner: p.owner, group: p.group, validate: p.validate };
    return { changes: [put], reason: `create ${p.path}: ${r.reason}`, diffs: [diffOf(path, null, r.content)] };
  }

  const before = content.toString("utf8");
  if (!Buffer.from(before, "utf8").equals(content)) throw new Error(`${path} is not UTF-8 text; it cannot be edited line by line`);
  const r = edit(before);
  if (r.content !== before) {
    const put: Change = {
      kind: "put",
      path,
      content: r.content,
      // The old file's attributes unless new ones are asked for: with validate or
      // backup the bytes go to a temp file first, which has none of its own.
      mode: (mode ?? state.mode)?.padStart(4, "0"),
      owner: p.owner ?? state.owner,
      group: p.group ?? state.group,
      validate: p.validate,
      backup: p.backup,
    };
    return { changes: [put], reason: r.reason, diffs: [diffOf(path, before, r.content)] };
  }
  const attrs = attrChanges(path, state, { mode, owner: p.owner, group: p.group });
  if (attrs.commands.length) return { changes: [{ kind: "run", command: attrs.commands.join(" && ") }], reason: `${r.reason}; ${path}: ${attrs.what.join(", ")}` };
  return { changes: [], reason: r.reason };
}

function diffOf(path: string, before: string | null, after: string): FileDiff {
  const text = (s: string) => (s.length > DIFF_LIMIT ? `(${Buffer.byteLength(s)} bytes)\n` : s);
  return { path, before: before === null ? null : text(before), after: text(after) };
}

/** Splits text into lines without their `\n`; `trailing` tells whether the last line had one. */
export function splitLines(text: string): { lines: string[]; trailing: boolean } {
  if (text === "") return { lines: [], trailing: false };
  const lines = text.split("\n");
  const trailing = lines[lines.length - 1] === "";
  if (trailing) lines.pop();
  return { lines, trailing };
}

/** Joins lines back; every line ends with `\n` unless the file had none at its end and nothing was appended. */
export function joinLines(lines: string[], trailing = true): string {
  if (lines.length === 0) return "";
  return lines.join("\n") + (trailing ? "\n" : "");
}

/** A user's regexp: a RegExp (its flags kept, minus g/y) or a string in JS syntax. */
export function toRegExp(re: string | RegExp, what: string): RegExp {
  if (re instanceof RegExp) return new RegExp(re.source, re.flags.replace(/[gy]/g, ""));
  try {
    return new RegExp(re);
  } catch (err) {
    throw new Error(`${what}: invalid regular expression ${JSON.stringify(re)}: ${(err as Error).message}`);
  }
}

/** Shows a regexp in a message. */
export function showRe(re: string | RegExp): string {
  return re instanceof RegExp ? String(re) : `/${re}/`;
}
