/**
 * `mount`: a filesystem's /etc/fstab line and whether it is mounted, as
 * Ansible's `mount` module models it:
 *
 * - `present`: the fstab line only (nothing is mounted or unmounted);
 * - `mounted`: the fstab line, the mount point directory, and mounted;
 * - `unmounted`: unmounted, fstab left as it is;
 * - `absent`: unmounted and the fstab line removed (the mount point
 *   directory is kept: removing directories is `h.file`'s job).
 *
 * The line for `path` is found by its mount point (fstab's `\040` escapes
 * decoded); it is rewritten in place and later duplicates dropped, other
 * lines kept, and the file written atomically with a diff. Whether it is
 * mounted comes from /proc/mounts (the topmost mount at `path`). What is
 * mounted is not compared with `src` (the kernel shows `/dev/sda2` for
 * `UUID=...`): when the fstab line changes while mounted, a new `src` or
 * `fstype` unmounts and mounts again, new options remount.
 *
 * @example
 *   await h.mount({ path: "/var/lib/ceph/tmp", src: "tmpfs", fstype: "tmpfs", opts: "size=512m,mode=0755", state: "mounted" });
 *   await h.mount({ path: "/mnt/iso", state: "absent" });
 */
import { shq } from "../runner/quote.ts";
import { defineTask, type Change, type FileDiff, type Plan } from "../runner/task.ts";
import { fileContent, lines, probeSections, readScript, textFileChange, unlines } from "./probe.ts";

export type MountParams =
  | {
      path: string;
      /** Device, `UUID=...`, `LABEL=...`, `server:/export`, or `tmpfs`. */
      src: string;
      fstype: string;
      /** Mount options (default "defaults"). */
      opts?: string;
      dump?: number;
      passno?: number;
      state: "mounted" | "present";
      /** Default /etc/fstab. */
      fstab?: string;
      /** Keep a timestamped copy of the old fstab. */
      backup?: boolean;
    }
  | { path: string; state: "unmounted" | "absent"; fstab?: string; backup?: boolean };

/** One fstab (or /proc/mounts) entry, fields decoded. */
export interface FstabEntry {
  src: string;
  path: string;
  fstype: string;
  opts: string;
  dump: string;
  passno: string;
}

/** fstab and /proc/mounts escape space, tab, newline and backslash as octal. */
export const fstabEscape = (s: string) => s.replace(/[\\ \t\n]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, "0")}`);
export const fstabUnescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** Parses an fstab or /proc/mounts line; undefined for comments and blank lines. */
export function parseFstabLine(line: string): FstabEntry | undefined {
  const t = line.trim();
  if (!t || t.startsWith("#")) return undefined;
  const f = t.split(/\s+/);
  if (f.length < 2) return undefined;
  return { src: fstabUnescape(f[0]!), path: fstabUnescape(f[1]!), fstype: f[2] ?? "auto", opts: f[3] ?? "defaults", dump: f[4] ?? "0", passno: f[5] ?? "0" };
}

export function formatFstab(e: FstabEntry): string {
  return [fstabEscape(e.src), fstabEscape(e.path), e.fstype, e.opts, e.dump, e.passno].join("\t");
}

/** Strips a trailing slash (but not from "/"): `/mnt/x/` and `/mnt/x` are one mount point. */
const normPath = (p: string) => (p.length > 1 ? p.replace(/\/+$/, "") : p);

/**
 * fstab with `want` as the line for its mount point (or without any line
 * for `path` when `want` is undefined); null when nothing changes. `old` is
 * the first line that was there. Pure: unit-tested.
 */
export function setFstabEntry(before: string | null, path: string, want: FstabEntry | undefined): { after: string; old: FstabEntry | undefined } | null {
  const out: string[] = [];
  let old: FstabEntry | undefined;
  let changed = false;
  for (const l of lines(before)) {
    const e = parseFstabLine(l);
    if (!e || normPath(e.path) !== normPath(path)) {
      out.push(l);
      continue;
    }
    if (old || !want) {
      if (!old) old = e;
      changed = true;
      continue;
    }
    old = e;
    const same = e.src === want.src && e.fstype === want.fstype && e.opts === want.opts && e.dump === want.dump && e.passno === want.passno;
    if (same) out.push(l);
    else {
      changed = true;
      out.push(formatFstab(want));
    }
  }
  if (want && !old) {
    changed = true;
    out.push(formatFstab(want));
  }
  return changed ? { after: unlines(out), old } : null;
}

export const mountTask = defineTask<MountParams>({
  kind: "mount",
  describe: (p) => `mount ${p.path} (${p.state})`,
  async plan(ctx, p): Promise<Plan> {
    if (!p.path.startsWith("/")) throw new Error(`mount: path must be absolute, got ${JSON.stringify(p.path)}`);
    const fstab = p.fstab ?? "/etc/fstab";
    const s = await probeSections(ctx, { mounts: "cat /proc/mounts", fstab: readScript(fstab) });
    if (s.mounts.code !== 0) throw new Error("mount: cannot read /proc/mounts");
    const before = fileContent(s.fstab, fstab);
    const mounted = lines(s.mounts.out)
      .map(parseFstabLine)
      .filter((e): e is FstabEntry => !!e && normPath(e.path) === normPath(p.path))
      .pop();
    const path = shq(p.path);
    const changes: Change[] = [];
    const what: string[] = [];
    const diffs: FileDiff[] = [];

    if (p.state !== "mounted" && p.state !== "present") {
      if (mounted) {
        changes.push({ kind: "run", command: `umount -- ${path}` });
        what.push(`unmount ${p.path} (${mounted.fstype} from ${mounted.src})`);
      }
      if (p.state === "absent") {
        const edit = setFstabEntry(before, p.path, undefined);
        if (edit) {
          const put = textFileChange(fstab, before, edit.after, { backup: p.backup })!;
          changes.push(put.change);
          diffs.push(put.diff);
          what.push(`remove ${p.path} from ${fstab}`);
        }
      }
      if (!changes.length) return { changes, reason: p.state === "absent" ? `${p.path} is not mounted and not in ${fstab}` : `${p.path} is not mounted` };
      return { changes, reason: what.join("; "), diffs: diffs.length ? diffs : undefined };
    }

    if (/\s/.test(p.fstype) || !p.fstype) throw new Error(`mount: invalid fstype ${JSON.stringify(p.fstype)}`);
    const opts = p.opts ?? "defaults";
    if (/\s/.test(opts) || !opts) throw new Error(`mount: options cannot contain spaces: ${JSON.stringify(opts)}`);
    const want: FstabEntry = { src: p.src, path: p.path, fstype: p.fstype, opts, dump: String(p.dump ?? 0), passno: String(p.passno ?? 0) };
    const edit = setFstabEntry(before, p.path, want);
    if (edit) {
      const put = textFileChange(fstab, before, edit.after, { backup: p.backup })!;
      changes.push(put.change);
      diffs.push(put.diff);
      what.push(`${fstab}: ${edit.old ? "update" : "add"} ${p.path}`);
    }
    if (p.state === "mounted") {
      const mount = `mount -t ${shq(p.fstype)} -o ${shq(opts)} -- ${shq(p.src)} ${path}`;
      if (!mounted) {
        changes.push({ kind: "run", command: `mkdir -p -- ${path} && ${mount}` });
        what.push(`mount ${p.path}`);
      } else if (edit?.old && (edit.old.src !== want.src || edit.old.fstype !== want.fstype)) {
        changes.push({ kind: "run", command: `umount -- ${path} && ${mount}` });
        what.push(`mount ${p.path} again (source or type changed)`);
      } else if (edit?.old && edit.old.opts !== want.opts) {
        changes.push({ kind: "run", command: `mount -o ${shq(`remount,${opts}`)} -- ${path}` });
        what.push(`remount ${p.path} (options changed)`);
      }
    }
    if (!changes.length) return { changes, reason: `${p.path} in ${fstab}${p.state === "mounted" ? " and mounted" : ""}` };
    return { changes, reason: what.join("; "), diffs: diffs.length ? diffs : undefined };
  },
});
