/**
 * `authorizedKey`: SSH public keys in a user's `~/.ssh/authorized_keys`.
 *
 * - `~/.ssh` is created 0700 and owned by the user and their primary group
 *   (an existing one gets that mode and owner too); `authorized_keys` is
 *   written atomically with mode 0600 and the same owner. OpenSSH's
 *   StrictModes accepts 0644 too (reference 000 sets 0644 on the file), but
 *   0600 is what ssh-copy-id does and nobody else needs to read it; give
 *   `mode: "0644"` to match the reference exactly. (The reference's
 *   `chmod 600 ~/.ssh` drops the directory's x bit; 0700 is the working form.)
 * - A key is identified by its type and base64 blob. An existing line with
 *   the same key and the same options counts as present even when its comment
 *   differs (keys get relabelled; the comment does not change who may log
 *   in). Different options replace that line with the given one.
 * - `exclusive: true` makes the file exactly the given keys (others, blank
 *   lines and comments are removed); otherwise missing keys are appended and
 *   everything else is kept. `state: "absent"` removes the given keys.
 *
 * When the user does not exist yet (check mode before the task that creates
 * it), the change is predicted; a real run fails with "user X does not exist".
 *
 * @example
 *   await h.authorizedKey({ user: "clusteradm", key: "ssh-ed25519 AAAAC3Nza... admin@laptop" });
 *   await h.authorizedKey({ user: "clusteradm", key: keys.join("\n"), exclusive: true });
 */
import { posix } from "node:path";
import { shq } from "../runner/quote.ts";
import { defineTask, type Change, type Plan } from "../runner/task.ts";
import { checkAccountName } from "./group.ts";
import { lines, probeSections, textFileChange, unlines } from "./probe.ts";
import { attrChanges, normMode, parseStat } from "./stat.ts";

export interface AuthorizedKeyParams {
  user: string;
  /** One or more public key lines (`type blob [comment]`, optionally with leading options). */
  key: string | readonly string[];
  /** Default present. */
  state?: "present" | "absent";
  /** Keep only the given keys in the file (state present). */
  exclusive?: boolean;
  /** Mode of authorized_keys; default "0600". */
  mode?: string;
  /** The file, default `~USER/.ssh/authorized_keys`; `~/.ssh` is managed only with the default. */
  path?: string;
}

/** A parsed authorized_keys line. */
export interface KeyLine {
  options: string;
  type: string;
  blob: string;
  comment: string;
}

const KEY_TYPE = /^(ssh-(rsa|dss|ed25519|ed448)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com|[a-z0-9-]+-cert-v01@openssh\.com)$/;

/**
 * Parses one authorized_keys line; undefined for blank lines, comments and
 * lines with no key. Options may contain quoted spaces (`from="a, b"`).
 */
export function parseKeyLine(line: string): KeyLine | undefined {
  const t = line.trim();
  if (!t || t.startsWith("#")) return undefined;
  // Split on whitespace outside double quotes.
  const words: string[] = [];
  let cur = "";
  let quoted = false;
  for (let i = 0; i < t.length; i++) {
    const c = t[i]!;
    if (c === "\\" && quoted && i + 1 < t.length) {
      cur += c + t[++i];
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (!quoted && /\s/.test(c)) {
      if (cur) words.push(cur);
      cur = "";
      continue;
    }
    cur += c;
  }
  if (cur) words.push(cur);
  const at = words.findIndex((w) => KEY_TYPE.test(w));
  if (at < 0 || at > 1 || !words[at + 1]) return undefined;
  return { options: at === 1 ? words[0]! : "", type: words[at]!, blob: words[at + 1]!, comment: words.slice(at + 2).join(" ") };
}

/** stat.ts's one-line state of a path held in a shell variable (known only on the host). */
function statOf(v: string): string {
  const q = `"${v}"`;
  return [
    `if [ -L ${q} ]; then printf 'link\\t%s\\n' "$(readlink -- ${q})"`,
    `elif [ -d ${q} ]; then stat -c 'directory\t%a\t%U\t%G\t%s' -- ${q}`,
    `elif [ -f ${q} ]; then stat -c 'file\t%a\t%U\t%G\t%s' -- ${q}`,
    `elif [ -e ${q} ]; then stat -c 'other\t%a\t%U\t%G\t%s' -- ${q}`,
    "else echo absent; fi",
  ].join("\n");
}

const identity = (k: KeyLine) => `${k.type} ${k.blob}`;

/** The given keys as lines; every one must parse. */
export function wantedKeys(key: string | readonly string[]): { line: string; key: KeyLine }[] {
  const input = (typeof key === "string" ? [key] : key).flatMap((k) => k.split("\n")).map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  if (!input.length) throw new Error("authorizedKey: no key given");
  return input.map((line) => {
    const k = parseKeyLine(line);
    if (!k) throw new Error(`authorizedKey: not a public key line: ${JSON.stringify(line.slice(0, 60))}`);
    return { line, key: k };
  });
}

/**
 * The new file text for `before` (null: no file), or null when nothing
 * changes; `what` says what changed. Pure: unit-tested.
 */
export function mergeKeys(before: string | null, want: { line: string; key: KeyLine }[], mode: { state: "present" | "absent"; exclusive: boolean }): { after: string; what: string[] } | null {
  const have = lines(before);
  const wantById = new Map(want.map((w) => [identity(w.key), w]));
  const what: string[] = [];
  let out: string[];
  if (mode.state === "absent") {
    out = have.filter((l) => {
      const k = parseKeyLine(l);
      const drop = !!k && wantById.has(identity(k));
      if (drop) what.push(`remove ${k!.type} key${k!.comment ? ` (${k!.comment})` : ""}`);
      return !drop;
    });
  } else {
    const seen = new Set<string>();
    out = [];
    for (const l of have) {
      const k = parseKeyLine(l);
      const w = k && wantById.get(identity(k));
      if (k && w) {
        if (seen.has(identity(k))) {
          what.push(`drop duplicate ${k.type} key`);
          continue;
        }
        seen.add(identity(k));
        if (k.options !== w.key.options) {
          what.push(`update options of ${k.type} key${w.key.comment ? ` (${w.key.comment})` : ""}`);
          out.push(w.line);
        } else out.push(l);
      } else if (mode.exclusive) {
        if (k) what.push(`remove ${k.type} key${k.comment ? ` (${k.comment})` : ""} (exclusive)`);
      } else out.push(l);
    }
    for (const w of want) {
      if (seen.has(identity(w.key))) continue;
      seen.add(identity(w.key));
      out.push(w.line);
      what.push(`add ${w.key.type} key${w.key.comment ? ` (${w.key.comment})` : ""}`);
    }
    if (mode.exclusive) {
      // Exactly the given keys, in the given order.
      const byId = new Map(out.map((l) => [identity(parseKeyLine(l)!), l]));
      const ordered = want.filter((w, i) => want.findIndex((x) => identity(x.key) === identity(w.key)) === i).map((w) => byId.get(identity(w.key))!);
      if (!what.length && ordered.join("\n") !== out.join("\n")) what.push("reorder keys (exclusive)");
      out = ordered;
    }
  }
  const after = unlines(out);
  if (after === (before ?? "") && before !== null) return null;
  if (before === null && mode.state === "absent") return null;
  if (!what.length) what.push(before === null ? "create" : "normalize");
  return { after, what };
}

export const authorizedKeyTask = defineTask<AuthorizedKeyParams>({
  kind: "authorizedKey",
  describe: (p) => `authorized key${typeof p.key !== "string" && p.key.length > 1 ? "s" : ""} for ${p.user}${p.state === "absent" ? " (absent)" : ""}`,
  async plan(ctx, p): Promise<Plan> {
    checkAccountName("authorizedKey user", p.user);
    const want = wantedKeys(p.key);
    const mode = normMode(p.mode ?? "0600")!.padStart(4, "0");
    const state = p.state ?? "present";
    const u = shq(p.user);
    // One round trip: the user's home and primary group, then (on the host,
    // from that home) the .ssh directory's and the file's state.
    const locate = p.path ? `d=${shq(posix.dirname(p.path))}; f=${shq(p.path)}` : `d="$h/.ssh"; f="$d/authorized_keys"`;
    const s = await probeSections(ctx, {
      who: [
        `e=$(getent passwd ${u}) || { echo nouser; exit 0; }`,
        `h=$(printf '%s' "$e" | cut -d: -f6); g=$(id -gn ${u}) || exit 1`,
        locate,
        `printf 'user\\t%s\\t%s\\t%s\\n' "$g" "$d" "$f"`,
        statOf("$d"),
        statOf("$f"),
        `if [ -f "$f" ]; then cat -- "$f"; fi`,
      ].join("\n"),
    });
    if (s.who.code !== 0) throw new Error(`cannot read user ${p.user}'s ssh directory (exit ${s.who.code})`);
    const out = s.who.out;
    if (out.trim() === "nouser") {
      if (state === "absent") return { changes: [], reason: `user ${p.user} does not exist (no keys to remove)` };
      return {
        changes: [{ kind: "run", command: `getent passwd ${u} >/dev/null || { echo ${shq(`user ${p.user} does not exist`)} >&2; exit 1; }` }],
        reason: `user ${p.user} does not exist yet: would add ${want.length} key(s) to its authorized_keys`,
      };
    }
    const [head = "", dirLine = "", fileLine = "", ...rest] = out.split("\n");
    const [, group = "", dir = "", file = ""] = head.split("\t");
    const dirState = parseStat(dirLine);
    const fileState = parseStat(fileLine);
    if (fileState.type === "directory" || fileState.type === "other") throw new Error(`${file} exists and is not a regular file`);
    const before = fileState.type === "absent" ? null : rest.join("\n");

    const merged = mergeKeys(before, want, { state, exclusive: !!p.exclusive });
    const changes: Change[] = [];
    const what: string[] = [];
    if (state === "present" && !p.path) {
      if (dirState.type === "absent") {
        changes.push({ kind: "run", command: `mkdir -m 0700 -- ${shq(dir)} && chown ${shq(`${p.user}:${group}`)} -- ${shq(dir)}` });
        what.push(`create ${dir}`);
      } else if (dirState.type !== "directory") {
        throw new Error(`${dir} exists and is not a directory (${dirState.type})`);
      } else {
        const a = attrChanges(dir, dirState, { mode: "700", owner: p.user, group });
        if (a.commands.length) {
          changes.push({ kind: "run", command: a.commands.join(" && ") });
          what.push(`${dir}: ${a.what.join(", ")}`);
        }
      }
    }
    const diffs = [];
    if (merged) {
      const put = textFileChange(file, before, merged.after, { mode, owner: p.user, group })!;
      changes.push(put.change);
      diffs.push(put.diff);
      what.push(`${file}: ${merged.what.join(", ")}`);
    } else if (before !== null && state === "present") {
      // Content is right: only the file's attributes may need fixing.
      const a = attrChanges(file, fileState, { mode: normMode(mode), owner: p.user, group });
      if (a.commands.length) {
        changes.push({ kind: "run", command: a.commands.join(" && ") });
        what.push(`${file}: ${a.what.join(", ")}`);
      }
    }
    if (!changes.length) {
      const n = want.length;
      return { changes: [], reason: state === "absent" ? `${file}: key(s) already absent` : `${file}: ${n} key${n > 1 ? "s" : ""} present${p.exclusive ? " (exclusive)" : ""}` };
    }
    return { changes, reason: what.join("; "), diffs: diffs.length ? diffs : undefined };
  },
});
