/**
 * `user`: a local account — uid, primary and supplementary groups, shell,
 * home, comment, password hash — or its absence.
 *
 * State is read in one round trip (`getent passwd NAME`, `getent group`,
 * and the shadow entry compared ON THE HOST); changes use shadow-utils'
 * `useradd` / `usermod` / `userdel`, present on Debian and Slackware alike.
 *
 * The password is a crypt(3) hash (`openssl passwd -6`, `mkpasswd -m
 * sha-512`), plain or as a `Secret`. It never goes on a command line and
 * never comes back from the host: it is set with `chpasswd -e` reading
 * `name:hash` on stdin, and compared by a probe that reads the wanted hash
 * on stdin and answers only "same" or "differs". Results, diffs and events
 * never contain it.
 *
 * `groups` with `append: true` (the default, like `usermod -a -G`) adds the
 * missing groups and leaves other memberships alone; `append: false` makes
 * the supplementary groups exactly this list. Groups must exist (see
 * `h.group`). `home` on an existing user changes the passwd entry only (the
 * directory is not moved). `createHome` and `system` only apply when the
 * user is created.
 *
 * @example
 *   // reference cluster: clusteradm, uid 1050, group users, member of wheel
 *   await h.user({ name: "clusteradm", uid: 1050, group: "users", groups: ["wheel"], shell: "/bin/bash", password: h.vars.adminHash as Secret });
 *   await h.user({ name: "olduser", state: "absent", removeHome: true });
 */
import { shq } from "../runner/quote.ts";
import { Secret } from "../runner/secret.ts";
import { defineTask, type Change, type Plan } from "../runner/task.ts";
import { checkAccountName, checkId, parseGroups, type GroupEntry } from "./group.ts";
import { probeSections } from "./probe.ts";

export interface UserParams {
  name: string;
  uid?: number;
  /** Primary group, by name or gid (default on creation: the system's, e.g. a group named after the user). */
  group?: string | number;
  /** Supplementary groups (see `append`). */
  groups?: readonly string[];
  /** true (default): add missing `groups`, keep others; false: exactly `groups`. */
  append?: boolean;
  shell?: string;
  home?: string;
  /** GECOS field (full name). */
  comment?: string;
  /** Create the home directory when creating the user (default true, `useradd -m`). */
  createHome?: boolean;
  /** Create as a system account (`useradd -r`); ignored for an existing user. */
  system?: boolean;
  /** A crypt(3) hash (`$6$...`, `!` to lock), never a clear-text password. */
  password?: string | Secret;
  /** `always` (default): set the hash when it differs; `onCreate`: only for a new user. */
  updatePassword?: "always" | "onCreate";
  /** Default present. */
  state?: "present" | "absent";
  /** With state absent: remove the home directory and mail spool too (`userdel -r`). */
  removeHome?: boolean;
}

/** One passwd line. */
export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  comment: string;
  home: string;
  shell: string;
}

export function parsePasswd(line: string): PasswdEntry | undefined {
  const f = line.replace(/\n$/, "").split(":");
  if (f.length < 7 || !/^\d+$/.test(f[2] ?? "") || !/^\d+$/.test(f[3] ?? "")) return undefined;
  return { name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), comment: f[4]!, home: f[5]!, shell: f[6]! };
}

/** What the host says about the account. */
export interface UserState {
  user?: PasswdEntry;
  groups: GroupEntry[];
  /** The shadow hash compared with the wanted one (undefined: no password asked for). */
  password?: "same" | "differs";
}

/**
 * A crypt(3) hash, a lock marker, or a locked hash; rejects what looks like
 * clear text (it would be stored as is and never match a login). The value
 * is never part of the message.
 */
export function checkHash(hash: string): void {
  if (/[:\n\r]/.test(hash)) throw new Error("user password: a hash cannot contain ':' or a newline");
  const ok = /^[!*]*$/.test(hash) || /^!*\$[0-9A-Za-z]+\$/.test(hash) || /^!*[./0-9A-Za-z]{13}$/.test(hash);
  if (!ok) throw new Error("user password: expected a crypt(3) hash such as the output of `openssl passwd -6` (got something that looks like clear text)");
}

/** The `-G` list, or null when the supplementary groups already match. */
export function groupsChange(want: readonly string[], have: readonly string[], append: boolean, primary: string | undefined): { list: string[]; what: string } | null {
  const haveSet = new Set(have.filter((g) => g !== primary));
  const wantSet = new Set(want.filter((g) => g !== primary));
  const missing = [...wantSet].filter((g) => !haveSet.has(g));
  if (append) return missing.length ? { list: missing, what: `groups +${missing.join(",+")}` } : null;
  const extra = [...haveSet].filter((g) => !wantSet.has(g));
  if (!missing.length && !extra.length) return null;
  const what = [...missing.map((g) => `+${g}`), ...extra.map((g) => `-${g}`)].join(",");
  return { list: [...wantSet], what: `groups ${what}` };
}

/** Plans the account from its state (pure: unit-tested with captured states). */
export function planUser(p: UserParams, s: UserState): Plan {
  const name = shq(p.name);
  const cur = s.user;
  if (p.state === "absent") {
    if (!cur) return { changes: [], reason: `user ${p.name} is absent` };
    return { changes: [{ kind: "run", command: `userdel ${p.removeHome ? "-r " : ""}${name}` }], reason: `remove user ${p.name} (uid ${cur.uid})${p.removeHome ? " and its home" : ""}` };
  }
  const hash = p.password instanceof Secret ? p.password.reveal() : p.password;
  const setPassword = (): Change => ({ kind: "run", command: "chpasswd -e", stdin: `${p.name}:${hash}\n`, label: `chpasswd -e (${p.name}'s hash on stdin)` });
  const groupName = (g: string | number) => (typeof g === "number" ? s.groups.find((e) => e.gid === g)?.name ?? String(g) : g);

  if (!cur) {
    const args = [
      p.uid !== undefined && `-u ${p.uid}`,
      p.group !== undefined && `-g ${shq(String(p.group))}`,
      p.groups?.length && `-G ${shq(p.groups.join(","))}`,
      p.shell && `-s ${shq(p.shell)}`,
      p.home && `-d ${shq(p.home)}`,
      p.comment !== undefined && `-c ${shq(p.comment)}`,
      p.createHome === false ? "-M" : "-m",
      p.system && "-r",
    ].filter(Boolean);
    const changes: Change[] = [{ kind: "run", command: `useradd ${args.join(" ")} ${name}` }];
    if (hash !== undefined) changes.push(setPassword());
    const what = [
      p.uid !== undefined && `uid ${p.uid}`,
      p.group !== undefined && `group ${groupName(p.group)}`,
      p.groups?.length && `groups ${p.groups.join(",")}`,
      p.system && "system",
      hash !== undefined && "password set",
    ].filter(Boolean);
    return { changes, reason: `create user ${p.name}${what.length ? ` (${what.join(", ")})` : ""}` };
  }

  const args: string[] = [];
  const what: string[] = [];
  if (p.uid !== undefined && cur.uid !== p.uid) {
    args.push(`-u ${p.uid}`);
    what.push(`uid ${cur.uid} -> ${p.uid}`);
  }
  const primary = s.groups.find((g) => g.gid === cur.gid)?.name;
  if (p.group !== undefined) {
    const wantGid = typeof p.group === "number" ? p.group : s.groups.find((g) => g.name === p.group)?.gid;
    if (wantGid !== cur.gid) {
      args.push(`-g ${shq(String(p.group))}`);
      what.push(`group ${primary ?? cur.gid} -> ${groupName(p.group)}`);
    }
  }
  if (p.groups) {
    const have = s.groups.filter((g) => g.members.includes(p.name)).map((g) => g.name);
    const wantPrimary = p.group === undefined ? primary : groupName(p.group);
    const g = groupsChange(p.groups, have, p.append ?? true, wantPrimary);
    if (g) {
      args.push(`${p.append ?? true ? "-a " : ""}-G ${shq(g.list.join(","))}`);
      what.push(g.what);
    }
  }
  if (p.shell !== undefined && cur.shell !== p.shell) {
    args.push(`-s ${shq(p.shell)}`);
    what.push(`shell ${cur.shell} -> ${p.shell}`);
  }
  if (p.home !== undefined && cur.home !== p.home) {
    args.push(`-d ${shq(p.home)}`);
    what.push(`home ${cur.home} -> ${p.home}`);
  }
  if (p.comment !== undefined && cur.comment !== p.comment) {
    args.push(`-c ${shq(p.comment)}`);
    what.push("comment");
  }
  const changes: Change[] = args.length ? [{ kind: "run", command: `usermod ${args.join(" ")} ${name}` }] : [];
  if (hash !== undefined && (p.updatePassword ?? "always") === "always" && s.password === "differs") {
    changes.push(setPassword());
    what.push("password changed");
  }
  if (changes.length) return { changes, reason: `user ${p.name}: ${what.join(", ")}` };
  const facts = [`uid ${cur.uid}`, `group ${primary ?? cur.gid}`, p.groups?.length && `groups ${p.groups.join(",")}`, hash !== undefined && "password matches"].filter(Boolean);
  return { changes: [], reason: `user ${p.name} matches (${facts.join(", ")})` };
}

/**
 * Answers "same", "differs" or "unreadable" for NAME's shadow hash against
 * the hash on stdin. The hash travels on stdin and is compared on the host:
 * it is never in argv and never in the output.
 */
function passwordProbe(name: string): string {
  return [
    "IFS= read -r want || want=",
    `cur=$(getent shadow ${shq(name)}) || { [ -r /etc/shadow ] && echo differs || echo unreadable; exit 0; }`,
    `cur=\${cur#*:}; cur=\${cur%%:*}`,
    `[ "$cur" = "$want" ] && echo same || echo differs`,
  ].join("\n");
}

export const userTask = defineTask<UserParams>({
  kind: "user",
  describe: (p) => `user ${p.name}${p.state === "absent" ? " (absent)" : ""}`,
  async plan(ctx, p) {
    checkAccountName("user", p.name);
    checkId("user uid", p.uid);
    for (const g of p.groups ?? []) checkAccountName("user groups", g);
    if (typeof p.group === "string") checkAccountName("user group", p.group);
    else checkId("user group", p.group);
    const hash = p.password instanceof Secret ? p.password.reveal() : p.password;
    if (hash !== undefined) checkHash(hash);

    const ask = hash !== undefined && p.state !== "absent";
    const parts = {
      // getent exits 2 for "not found": an answer, not a failure.
      passwd: `getent passwd ${shq(p.name)}; rc=$?; [ $rc -eq 2 ] && exit 0; exit $rc`,
      groups: "getent group",
      password: ask ? passwordProbe(p.name) : "true",
    };
    const s = await probeSections(ctx, parts, ask ? `${hash}\n` : undefined);
    if (s.passwd.code !== 0) throw new Error(`cannot read user ${p.name} (getent passwd: exit ${s.passwd.code})`);
    if (s.groups.code !== 0) throw new Error(`cannot read groups (getent group: exit ${s.groups.code})`);
    const answer = s.password.out.trim();
    if (ask && answer === "unreadable") throw new Error("user password: /etc/shadow is not readable (run the task with become)");
    const user = s.passwd.out.split("\n").map(parsePasswd).find((u) => u?.name === p.name);
    return planUser(p, { user, groups: parseGroups(s.groups.out), password: ask ? (answer === "same" ? "same" : "differs") : undefined });
  },
});
