/**
 * `fetch`: copy a file from the host to the runner's machine, byte for
 * byte, only when the local copy differs (sha256).
 *
 * Nothing on the host changes, but the local file does, so the write is a
 * `local` change the runner applies like any other: check mode predicts it
 * (with a diff) and writes nothing. The plan reads the remote file (a read,
 * fine in check mode) and the change writes those exact bytes, checked
 * against the checksum it compared, atomically (temp file, rename).
 *
 * Parameters:
 * - `src`: the remote file (a symlink is followed).
 * - `dest`: the local file: relative to the playbook's directory, absolute,
 *   or a `file:` URL; its directory is created. Several hosts fetching the
 *   same `src` need a `dest` per host, e.g. with `h.name` in it.
 * - `failOnMissing`: a missing `src` fails the task (default `true`);
 *   `false` makes it a no-op.
 *
 * @example
 *   await h.fetch({ src: "/etc/ceph/ceph.client.admin.keyring", dest: `fetched/${h.name}/admin.keyring`, become: true });
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { shq } from "../runner/quote.ts";
import { defineTask, type Plan } from "../runner/task.ts";
import { localName, localPath, writeLocalAtomic, type LocalSrc } from "./local.ts";

export interface FetchParams {
  /** The remote file. */
  src: string;
  /** The local file (relative to the playbook's directory, absolute, or a file: URL). */
  dest: LocalSrc;
  /** A missing `src` fails the task (default); false: nothing to fetch, ok. */
  failOnMissing?: boolean;
}

const DIFF_LIMIT = 256 * 1024;
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const text = (b: Buffer) => (b.includes(0) ? "(binary content)\n" : b.length > DIFF_LIMIT ? `(${b.length} bytes)\n` : b.toString("utf8"));

export const fetchTask = defineTask<FetchParams>({
  kind: "fetch",
  describe: (p) => `fetch ${p.src}`,
  async plan(ctx, p): Promise<Plan> {
    const res = await ctx.probe(`p=${shq(p.src)}; if [ -f "$p" ]; then sha256sum < "$p"; elif [ -e "$p" ]; then echo other; else echo absent; fi`);
    if (res.code !== 0) throw new Error(`cannot read ${p.src}: ${res.stderr.trim() || `exit ${res.code}`}`);
    const remote = res.stdout.trim().split(/\s/)[0] ?? "";
    if (remote === "absent") {
      if (p.failOnMissing === false) return { changes: [], reason: `${p.src} does not exist on ${ctx.host} (failOnMissing: false)` };
      throw new Error(`${p.src} does not exist on ${ctx.host}`);
    }
    if (remote === "other") throw new Error(`${p.src} is not a regular file`);

    const dest = localPath(ctx.baseDir, p.dest);
    const name = localName(p.dest, dest);
    const local = await readFile(dest).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return null;
      throw new Error(`local ${name}: ${err.code === "EISDIR" ? "is a directory" : err.message}`);
    });
    if (local && sha256(local) === remote) return { changes: [], reason: `${name} matches ${ctx.host}:${p.src}` };

    const bytes = await ctx.read(p.src);
    if (!bytes) throw new Error(`${p.src} disappeared from ${ctx.host} while being fetched`);
    if (sha256(bytes) !== remote) throw new Error(`${p.src} changed on ${ctx.host} while being fetched; run again`);
    return {
      changes: [{ kind: "local", describe: `write ${name} (${bytes.length} bytes from ${ctx.host}:${p.src})`, apply: () => writeLocalAtomic(dest, bytes) }],
      reason: `${local ? "update" : "create"} ${name} from ${ctx.host}:${p.src}`,
      diffs: [{ path: name, before: local ? text(local) : null, after: text(bytes) }],
    };
  },
});
