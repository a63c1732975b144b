/**
 * `copy`: a file with given content (inline or from a local file), written
 * atomically and only when its checksum differs.
 *
 * @example
 *   await h.copy({ dest: "/etc/motd", content: "welcome\n", mode: "0644", notify: restart });
 *   await h.copy({ dest: "/etc/rc.d/rc.local", src: "files/rc.local", mode: "0755" });
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { isAbsolute, resolve } from "node:path";
import { Secret } from "../runner/secret.ts";
import { defineTask, LocalInputError, type Change, type FileDiff, type PlanContext } from "../runner/task.ts";
import { attrChanges, normMode, statPath } from "./stat.ts";

interface CopyCommon {
  dest: string;
  mode?: string;
  owner?: string;
  group?: string;
  backup?: boolean;
  /** Validator run on the new file before it replaces the old one; `%s` is its path. */
  validate?: string;
}

/**
 * Content inline (a Secret stays out of output and diffs: they show only
 * sizes) or from a local file (add the task option `secret: true` when the
 * file holds a secret).
 */
export type CopyParams = CopyCommon & ({ content: string | Buffer | Secret; src?: never } | { src: string; content?: never });

const DIFF_LIMIT = 256 * 1024;

/** Plans writing `content` to `dest` with attributes: shared by copy and template. */
export async function planFile(ctx: PlanContext, p: CopyCommon, content: Buffer, secret: boolean) {
  const mode = normMode(p.mode);
  const state = await statPath(ctx, p.dest);
  if (state.type === "directory" || state.type === "other") throw new Error(`${p.dest} exists and is not a regular file (${state.type})`);
  const sha = createHash("sha256").update(content).digest("hex");
  const put: Change = { kind: "put", path: p.dest, content, mode: mode?.padStart(4, "0"), owner: p.owner, group: p.group, validate: p.validate, backup: p.backup };
  if (state.type === "absent" || state.type === "link") {
    return { changes: [put], reason: `create ${p.dest}`, diffs: [diffOf(p.dest, null, content, secret)] };
  }
  if (state.sha256 !== sha) {
    const before = (state.size ?? 0) <= DIFF_LIMIT ? await ctx.read(p.dest) : null;
    // Keep the file's current attributes unless new ones are asked for.
    const keep = { ...put, mode: put.mode ?? state.mode?.padStart(4, "0"), owner: p.owner ?? state.owner, group: p.group ?? state.group };
    return { changes: [keep], reason: `update ${p.dest} (content differs)`, diffs: [diffOf(p.dest, before, content, secret)] };
  }
  const attrs = attrChanges(p.dest, state, { mode, owner: p.owner, group: p.group });
  if (attrs.commands.length) {
    return { changes: [{ kind: "run" as const, command: attrs.commands.join(" && ") }], reason: `${p.dest}: ${attrs.what.join(", ")}` };
  }
  return { changes: [], reason: `${p.dest} content and attributes match` };
}

function diffOf(path: string, before: Buffer | null, after: Buffer, secret: boolean): FileDiff {
  const text = (b: Buffer) => (b.includes(0) ? "(binary content)\n" : b.length > DIFF_LIMIT ? `(${b.length} bytes)\n` : b.toString("utf8"));
  // A secret file's diff is concealed by the runner (sizes only); it keeps the real text to measure.
  if (secret) return { path, before: before?.toString("utf8") ?? null, after: after.toString("utf8"), secret: true };
  return { path, before: before ? text(before) : null, after: text(after) };
}

export const copyTask = defineTask<CopyParams>({
  kind: "copy",
  describe: (p) => `copy ${p.dest}`,
  async plan(ctx, p) {
    let content: Buffer;
    let secret = false;
    if (p.src !== undefined) {
      const file = isAbsolute(p.src) ? p.src : resolve(ctx.baseDir, p.src);
      content = await readFile(file).catch(() => {
        throw new LocalInputError(`copy: local file ${file} not found`);
      });
    } else if (p.content instanceof Secret) {
      content = Buffer.from(p.content.reveal());
      secret = true;
    } else {
      content = Buffer.isBuffer(p.content) ? p.content : Buffer.from(p.content);
    }
    return planFile(ctx, p, content, secret);
  },
});
