/**
 * `group`: a local group with an optional fixed gid, or its absence.
 *
 * State comes from `getent group NAME`; changes use shadow-utils'
 * `groupadd` / `groupmod -g` / `groupdel` (on Debian and Slackware alike).
 * `system` only matters when the group is created (`groupadd -r`: a gid
 * from the system range).
 *
 * @example
 *   await h.group({ name: "wheel", gid: 10 });
 *   await h.group({ name: "ceph", system: true });
 *   await h.group({ name: "games", state: "absent" });
 */
import { shq } from "../runner/quote.ts";
import { defineTask, type Plan } from "../runner/task.ts";

export interface GroupParams {
  name: string;
  /** Numeric group id; changed with `groupmod -g` when it differs. */
  gid?: number;
  /** Create as a system group (`groupadd -r`); ignored for an existing group. */
  system?: boolean;
  /** Default present. */
  state?: "present" | "absent";
}

/** One /etc/group line: `name:x:gid:member1,member2`. */
export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/** Parses `getent group` / /etc/group lines (blank and malformed lines are skipped). */
export function parseGroups(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f.length < 4 || !f[0] || !/^\d+$/.test(f[2] ?? "")) continue;
    out.push({ name: f[0], gid: Number(f[2]), members: (f[3] ?? "").split(",").filter(Boolean) });
  }
  return out;
}

/** User and group names as shadow-utils accepts them (and never an option). */
export function checkAccountName(what: string, name: string): void {
  if (typeof name !== "string") throw new Error(`${what}: a name is required`);
  if (!/^[A-Za-z_][A-Za-z0-9_.-]*\$?$/.test(name) || name.length > 32) {
    throw new Error(`${what}: invalid name ${JSON.stringify(name)} (letters, digits, _ . -; not starting with - or a digit; at most 32)`);
  }
}

export function checkId(what: string, id: number | undefined): void {
  if (id !== undefined && (!Number.isInteger(id) || id < 0 || id > 4294967294)) throw new Error(`${what}: invalid id ${id}`);
}

/** The plan for a group, given its current entry (or undefined when it does not exist). */
export function planGroup(p: GroupParams, current: GroupEntry | undefined): Plan {
  const name = shq(p.name);
  if (p.state === "absent") {
    if (!current) return { changes: [], reason: `group ${p.name} is absent` };
    return { changes: [{ kind: "run", command: `groupdel ${name}` }], reason: `remove group ${p.name} (gid ${current.gid})` };
  }
  if (!current) {
    const args = [p.gid !== undefined && `-g ${p.gid}`, p.system && "-r"].filter(Boolean).join(" ");
    return {
      changes: [{ kind: "run", command: `groupadd ${args ? `${args} ` : ""}${name}` }],
      reason: `create group ${p.name}${p.gid !== undefined ? ` (gid ${p.gid})` : p.system ? " (system)" : ""}`,
    };
  }
  if (p.gid !== undefined && current.gid !== p.gid) {
    return { changes: [{ kind: "run", command: `groupmod -g ${p.gid} ${name}` }], reason: `group ${p.name}: gid ${current.gid} -> ${p.gid}` };
  }
  return { changes: [], reason: `group ${p.name} exists (gid ${current.gid})` };
}

export const groupTask = defineTask<GroupParams>({
  kind: "group",
  describe: (p) => `group ${p.name}${p.state === "absent" ? " (absent)" : ""}`,
  async plan(ctx, p) {
    checkAccountName("group", p.name);
    checkId("group gid", p.gid);
    // getent exits 2 for "no such group": that is an answer, not a failure.
    const res = await ctx.probe(`getent group ${shq(p.name)}; rc=$?; [ $rc -eq 2 ] && exit 0; exit $rc`);
    if (res.code !== 0) throw new Error(`cannot read group ${p.name}: ${res.stderr.trim() || `exit ${res.code}`}`);
    return planGroup(p, parseGroups(res.stdout).find((g) => g.name === p.name));
  },
});
