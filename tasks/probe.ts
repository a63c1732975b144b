/**
 * State reads shared by the system tasks (user, sysctl, mount, hosts...):
 * several read-only shell snippets in ONE round trip, each one's output and
 * exit status kept apart, and the "rewrite a small text file" plan most of
 * them end with (an atomic put plus its diff).
 */
import { randomBytes } from "node:crypto";
import { shq } from "../runner/quote.ts";
import type { FileDiff, PlanContext, PutChange } from "../runner/task.ts";

/** One snippet's result. */
export interface Section {
  out: string;
  code: number;
}

/**
 * Runs each snippet (POSIX sh) in its own subshell, all in one probe, and
 * returns each one's stdout and exit status by key. A per-call random
 * marker separates them, so no file content can forge a boundary.
 *
 * @example
 *   const s = await probeSections(ctx, { live: "sysctl -n net.ipv4.ip_forward", file: readScript("/etc/sysctl.conf") });
 *   s.live.out // "1\n"
 */
export async function probeSections<K extends string>(ctx: PlanContext, parts: Record<K, string>, stdin?: string | Buffer): Promise<Record<K, Section>> {
  const marker = `--runbook-${randomBytes(8).toString("hex")}--`;
  const keys = Object.keys(parts) as K[];
  // `\n` before each marker: a snippet's output need not end with a newline;
  // parsing drops exactly that one byte again.
  const script = keys.map((k) => `(\n${parts[k]}\n)\nprintf '\\n%s %s\\n' ${marker} $?`).join("\n");
  const res = await ctx.probe(script, stdin === undefined ? undefined : { stdin });
  if (res.code !== 0) throw new Error(`state probe failed: ${res.stderr.trim() || `exit ${res.code}`}`);
  const out = {} as Record<K, Section>;
  let rest = res.stdout;
  for (const k of keys) {
    const at = rest.indexOf(`\n${marker} `);
    if (at < 0) throw new Error(`state probe output cut short (no result for ${k}): ${res.stderr.trim()}`);
    const end = rest.indexOf("\n", at + marker.length + 2);
    out[k] = { out: rest.slice(0, at), code: Number(rest.slice(at + marker.length + 2, end < 0 ? undefined : end)) };
    rest = end < 0 ? "" : rest.slice(end + 1);
  }
  return out;
}

/** Prints a regular file's content, or exits 3 when it does not exist (see `fileContent`). */
export function readScript(path: string): string {
  const p = shq(path);
  return `if [ -f ${p} ]; then cat -- ${p}; elif [ -e ${p} ]; then printf '%s is not a regular file\\n' ${p} >&2; exit 4; else exit 3; fi`;
}

/** A `readScript` section's content; null when the file does not exist. */
export function fileContent(s: Section, path: string): string | null {
  if (s.code === 3) return null;
  if (s.code === 4) throw new Error(`${path} exists and is not a regular file`);
  if (s.code !== 0) throw new Error(`cannot read ${path} (exit ${s.code})`);
  return s.out;
}

/**
 * The plan for a text file the task rewrites whole (fstab, hosts,
 * authorized_keys...): an atomic put and a diff, or nothing when the content
 * is already right. A new file gets `mode` (default 0644) and root; an
 * existing one keeps its mode and owner unless they are given.
 */
export function textFileChange(
  path: string,
  before: string | null,
  after: string,
  attrs: { mode?: string; owner?: string; group?: string; backup?: boolean } = {},
): { change: PutChange; diff: FileDiff } | null {
  if (before === after) return null;
  const change: PutChange = { kind: "put", path, content: after };
  const mode = attrs.mode ?? (before === null ? "0644" : undefined);
  if (mode) change.mode = mode;
  const owner = attrs.owner ?? (before === null ? "root" : undefined);
  if (owner) change.owner = owner;
  if (attrs.group) change.group = attrs.group;
  if (attrs.backup && before !== null) change.backup = true;
  return { change, diff: { path, before, after } };
}

/** Splits file text into lines, without the empty string a final newline leaves. */
export function lines(text: string | null): string[] {
  if (!text) return [];
  const out = text.split("\n");
  if (out[out.length - 1] === "") out.pop();
  return out;
}

/** Joins lines back into file text ending in a newline (empty for no lines). */
export function unlines(ls: readonly string[]): string {
  return ls.length ? `${ls.join("\n")}\n` : "";
}
