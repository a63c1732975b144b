/**
 * `sysctl`: a kernel parameter, both persistent (a `key = value` line in a
 * sysctl.d file) and live (`sysctl -w`), each changed only when it differs.
 *
 * The file defaults to `/etc/sysctl.d/99-runbook.conf`, one file shared by
 * every key runbook manages: `sysctl --system` reads sysctl.d on Debian,
 * RHEL-likes and Slackware 15 (rc.S runs `sysctl -e --system`), and one
 * well-named file shows at a glance what runbook set, while `99-` makes it
 * win over distribution defaults. Pass `file: "/etc/sysctl.conf"` for older
 * systems. In the file, `net/ipv4/ip_forward` and `net.ipv4.ip_forward` are
 * the same key; the first line for the key is rewritten in place, later
 * duplicates are dropped, other lines are kept.
 *
 * Values compare with whitespace collapsed (`sysctl -n` prints tabs between
 * the parts of a multi-value key). `reload: false` manages the file only
 * (the value applies at next boot). `state: "absent"` removes the key from
 * the file and leaves the live value alone.
 *
 * @example
 *   await h.sysctl({ name: "net.ipv4.ip_forward", value: 1 });
 *   await h.sysctl({ name: "net.ipv4.ip_local_port_range", value: "32768 60999", file: "/etc/sysctl.d/60-ports.conf" });
 */
import { posix } from "node:path";
import { shq } from "../runner/quote.ts";
import { defineTask, type Change, type FileDiff, type Plan } from "../runner/task.ts";
import { fileContent, lines, probeSections, readScript, textFileChange, unlines } from "./probe.ts";

export const SYSCTL_FILE = "/etc/sysctl.d/99-runbook.conf";

export type SysctlParams =
  | {
      /** Dotted key, e.g. `net.ipv4.ip_forward`. */
      name: string;
      value: string | number;
      file?: string;
      /** Also set the live value (default true). */
      reload?: boolean;
      state?: "present";
      /** Keep a timestamped copy of the old file. */
      backup?: boolean;
    }
  | { name: string; state: "absent"; file?: string; backup?: boolean };

/** `net/ipv4/ip_forward` and `net.ipv4.ip_forward` name the same key. */
export const normKey = (k: string) => k.trim().replace(/\//g, ".");
export const normValue = (v: string | number) => String(v).trim().split(/\s+/).join(" ");

/** The key of a sysctl.conf line, or undefined for comments and blank lines. */
function lineKey(line: string): string | undefined {
  const t = line.trim();
  if (!t || t.startsWith("#") || t.startsWith(";")) return undefined;
  const eq = t.indexOf("=");
  if (eq < 0) return undefined;
  // A leading `-` tells sysctl to ignore errors for that key.
  return normKey(t.slice(0, eq).replace(/^-/, ""));
}

/**
 * The file with `name = value` (or without the key when value is
 * undefined); null when the file already says so. Pure: unit-tested.
 */
export function setSysctlLine(before: string | null, name: string, value: string | undefined): { after: string; current: string | undefined } | null {
  const key = normKey(name);
  const have = lines(before);
  const out: string[] = [];
  let current: string | undefined;
  let found = false;
  let same = true;
  for (const l of have) {
    if (lineKey(l) !== key) {
      out.push(l);
      continue;
    }
    const v = normValue(l.slice(l.indexOf("=") + 1));
    if (!found) current = v;
    if (value === undefined || found) {
      same = false; // a line to remove, or a duplicate
      continue;
    }
    found = true;
    if (v === value) out.push(l);
    else {
      same = false;
      out.push(`${name} = ${value}`);
    }
  }
  if (value !== undefined && !found) {
    same = false;
    out.push(`${name} = ${value}`);
  }
  if (same) return null;
  return { after: unlines(out), current };
}

export const sysctlTask = defineTask<SysctlParams>({
  kind: "sysctl",
  describe: (p) => (p.state === "absent" ? `sysctl ${p.name} (absent)` : `sysctl ${p.name} = ${p.value}`),
  async plan(ctx, p): Promise<Plan> {
    if (typeof p.name !== "string") throw new Error("sysctl: a key name is required");
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.\/:-]*$/.test(p.name)) throw new Error(`sysctl: invalid key ${JSON.stringify(p.name)}`);
    const file = p.file ?? SYSCTL_FILE;
    const value = p.state === "absent" ? undefined : normValue(p.value);
    if (value !== undefined && (value === "" || /[\n#;]/.test(value))) throw new Error(`sysctl ${p.name}: invalid value ${JSON.stringify(String(p.state === "absent" ? "" : p.value))}`);
    const live = p.state !== "absent" && p.reload !== false;
    const s = await probeSections(ctx, {
      live: live ? `sysctl -n ${shq(normKey(p.name))} 2>&1` : "true",
      file: readScript(file),
    });
    if (live && s.live.code !== 0) throw new Error(`sysctl ${p.name}: ${s.live.out.trim().replace(/^sysctl: /, "") || "unknown key"}`);
    const before = fileContent(s.file, file);

    const changes: Change[] = [];
    const what: string[] = [];
    const diffs: FileDiff[] = [];
    const edit = setSysctlLine(before, p.name, value);
    if (edit) {
      const put = textFileChange(file, before, edit.after, { backup: p.backup })!;
      // sysctl.d may not exist yet on a minimal system.
      if (before === null) changes.push({ kind: "run", command: `mkdir -p -- ${shq(posix.dirname(file))}` });
      changes.push(put.change);
      diffs.push(put.diff);
      what.push(value === undefined ? `remove ${p.name} from ${file}` : `${file}: ${edit.current === undefined ? "add" : "set"} ${p.name} = ${value}`);
    }
    const now = normValue(s.live.out);
    if (live && now !== value) {
      changes.push({ kind: "run", command: `sysctl -w ${shq(`${normKey(p.name)}=${value}`)}` });
      what.push(`live ${p.name}: ${now} -> ${value}`);
    }
    if (!changes.length) {
      if (value === undefined) return { changes, reason: `${p.name} not in ${file}` };
      return { changes, reason: `${p.name} = ${value} (${live ? "live and " : ""}in ${file})` };
    }
    return { changes, reason: what.join("; "), diffs: diffs.length ? diffs : undefined };
  },
});
