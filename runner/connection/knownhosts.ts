/**
 * OpenSSH known_hosts files: parsing, lookup and recording of host keys.
 *
 * The format (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"): one key per line,
 * `[@marker] hosts keytype base64key [comment]`, where `hosts` is a comma
 * list of patterns (`name`, `addr`, `[name]:port` for ports other than 22,
 * wildcards and `!negation`) or one hashed name `|1|base64salt|base64hmac`
 * (HMAC-SHA1 of the name keyed with the salt). `@revoked` keys are never
 * accepted; `@cert-authority` lines are host CAs, which runbook does not use
 * (they are kept out of lookups, never an error). Bad lines are skipped, as
 * OpenSSH skips them.
 */
import { createHash, createHmac, randomBytes } from "node:crypto";
import { appendFileSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { matchPatternList } from "./hostmatch.ts";

/** One parsed known_hosts line. */
export interface KnownHostEntry {
  /** File and 1-based line it came from (for messages). */
  file: string;
  line: number;
  marker?: "revoked" | "cert-authority";
  /** Host patterns, or absent when the name is hashed. */
  patterns?: string[];
  hashed?: { salt: Buffer; hash: Buffer };
  /** Key type as written in the file, e.g. `ssh-ed25519`. */
  keyType: string;
  /** The public key blob (SSH wire format, the base64 field decoded). */
  key: Buffer;
}

/**
 * The name a host is looked up (and recorded) under: the address, or
 * `[address]:port` when the port is not 22, as OpenSSH does.
 *
 * @example knownHostName("10.0.0.5", 2222) // "[10.0.0.5]:2222"
 */
export function knownHostName(name: string, port = 22): string {
  return port === 22 ? name : `[${name}]:${port}`;
}

/**
 * Parses the text of a known_hosts file. Lines that cannot be parsed are
 * skipped (OpenSSH does the same), so a stray line never blocks a run.
 *
 * @example parseKnownHosts("tnode1,10.0.0.1 ssh-ed25519 AAAAC3Nza...\n", "/root/.ssh/known_hosts")
 */
export function parseKnownHosts(text: string, file: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const fields = (lines[i] ?? "").trim().split(/[ \t]+/);
    if (fields[0] === undefined || fields[0] === "" || fields[0].startsWith("#")) continue;
    let marker: KnownHostEntry["marker"];
    if (fields[0].startsWith("@")) {
      const m = fields.shift()!;
      if (m === "@revoked") marker = "revoked";
      else if (m === "@cert-authority") marker = "cert-authority";
      else continue; // unknown marker: OpenSSH ignores the line
    }
    const [hosts, keyType, b64] = fields;
    if (!hosts || !keyType || !b64) continue;
    const key = Buffer.from(b64, "base64");
    // A corrupt base64 field, or a blob whose embedded type disagrees with
    // the type field, cannot match anything: skip it.
    if (key.length === 0 || blobType(key) !== keyType) continue;
    const entry: KnownHostEntry = { file, line: i + 1, keyType, key };
    if (marker) entry.marker = marker;
    if (hosts.startsWith("|1|")) {
      const [, , salt, hash] = hosts.split("|");
      if (!salt || !hash) continue;
      entry.hashed = { salt: Buffer.from(salt, "base64"), hash: Buffer.from(hash, "base64") };
    } else {
      entry.patterns = hosts.split(",");
    }
    entries.push(entry);
  }
  return entries;
}

/**
 * Reads and parses known_hosts files in order; a missing file is empty.
 *
 * @example loadKnownHosts([`${homedir()}/.ssh/known_hosts`])
 */
export function loadKnownHosts(files: readonly string[]): KnownHostEntry[] {
  const all: KnownHostEntry[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw err;
    }
    all.push(...parseKnownHosts(text, file));
  }
  return all;
}

/**
 * Whether an entry's host field names `name` (exact form: `addr` or
 * `[addr]:port`). Hashed entries are compared by HMAC; a negated pattern
 * that matches excludes the entry.
 *
 * @example entryMatches(entry, "[10.0.0.5]:2222")
 */
export function entryMatches(entry: KnownHostEntry, name: string): boolean {
  if (entry.hashed) {
    const mac = createHmac("sha1", entry.hashed.salt).update(name).digest();
    return mac.length === entry.hashed.hash.length && mac.equals(entry.hashed.hash);
  }
  return matchPatternList(entry.patterns ?? [], name) === 1;
}

/** What the known_hosts files say about a presented host key. */
export type HostKeyVerdict =
  /** A recorded key equals the presented one. */
  | { status: "ok"; entry: KnownHostEntry }
  /** No key is recorded under any of the names. */
  | { status: "unknown" }
  /** Keys are recorded but none equals the presented one: refuse, always. */
  | { status: "changed"; expected: KnownHostEntry[] }
  /** The presented key is marked `@revoked`. */
  | { status: "revoked"; entry: KnownHostEntry };

/**
 * Checks `key` (the blob the server presented) against the entries recorded
 * for any of `names`. Keys of another type recorded for the host count as a
 * change too: the connection prefers the recorded types (see
 * `preferredHostKeyAlgorithms`), so a server presenting a different type
 * has lost the key that was known.
 *
 * @example checkHostKey(loadKnownHosts(files), ["10.0.0.5", "tnode1"], blob).status // "ok"
 */
export function checkHostKey(entries: readonly KnownHostEntry[], names: readonly string[], key: Buffer): HostKeyVerdict {
  const revoked = entries.find((e) => e.marker === "revoked" && e.key.equals(key));
  if (revoked) return { status: "revoked", entry: revoked };
  const recorded = hostEntries(entries, names);
  const same = recorded.find((e) => e.key.equals(key));
  if (same) return { status: "ok", entry: same };
  if (recorded.length === 0) return { status: "unknown" };
  return { status: "changed", expected: recorded };
}

/**
 * Plain host-key entries (no marker) recorded for any of `names`.
 *
 * @example hostEntries(loadKnownHosts(files), ["10.0.0.5", "tnode1"]).map((e) => e.keyType) // ["ssh-ed25519"]
 */
export function hostEntries(entries: readonly KnownHostEntry[], names: readonly string[]): KnownHostEntry[] {
  return entries.filter((e) => e.marker === undefined && names.some((n) => entryMatches(e, n)));
}

/** ssh2's host key algorithms, strongest first (its own default order). */
const HOST_KEY_ALGORITHMS = [
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "rsa-sha2-512",
  "rsa-sha2-256",
  "ssh-rsa",
];

/**
 * Host key algorithms to offer, those of the recorded key types first, as
 * OpenSSH orders them: a server with several host keys then presents the one
 * we know instead of one we would have to call unknown or changed. Returns
 * undefined (keep the library default) when nothing is recorded.
 *
 * @example preferredHostKeyAlgorithms([rsaEntry]) // ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa", "ssh-ed25519", ...]
 */
export function preferredHostKeyAlgorithms(recorded: readonly KnownHostEntry[]): string[] | undefined {
  if (recorded.length === 0) return undefined;
  const first: string[] = [];
  for (const e of recorded) {
    const algos = e.keyType === "ssh-rsa" ? ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] : [e.keyType];
    for (const a of algos) if (HOST_KEY_ALGORITHMS.includes(a) && !first.includes(a)) first.push(a);
  }
  return [...first, ...HOST_KEY_ALGORITHMS.filter((a) => !first.includes(a))];
}

/**
 * The key type embedded at the start of a public key blob.
 *
 * @example blobType(Buffer.from("AAAAC3NzaC1lZDI1NTE5AAAAI...", "base64")) // "ssh-ed25519"
 */
export function blobType(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 64 || 4 + len > blob.length) return undefined;
  return blob.subarray(4, 4 + len).toString("latin1");
}

/**
 * The key's fingerprint as OpenSSH prints it: `SHA256:` and unpadded base64.
 *
 * @example fingerprint(blob) // "SHA256:2Cv1bN0f3pVY...Qe0"
 */
export function fingerprint(blob: Buffer): string {
  return "SHA256:" + createHash("sha256").update(blob).digest("base64").replace(/=+$/, "");
}

/**
 * A key's type and fingerprint as OpenSSH words them.
 *
 * @example describeKey(blob) // "ED25519 key SHA256:2Cv1..."
 */
export function describeKey(blob: Buffer): string {
  const type = blobType(blob) ?? "unknown";
  const short =
    type === "ssh-ed25519" ? "ED25519"
    : type === "ssh-rsa" ? "RSA"
    : type.startsWith("ecdsa-") ? "ECDSA"
    : type === "ssh-dss" ? "DSA"
    : type;
  return `${short} key ${fingerprint(blob)}`;
}

/**
 * One known_hosts line recording `blob` for `names`.
 *
 * @example knownHostsLine(["tnode1", "10.0.0.1"], blob) // "tnode1,10.0.0.1 ssh-ed25519 AAAA..."
 */
export function knownHostsLine(names: readonly string[], blob: Buffer): string {
  return `${names.join(",")} ${blobType(blob)} ${blob.toString("base64")}`;
}

/**
 * A hashed host field (`|1|salt|hmac`), as `ssh-keygen -H` writes it.
 *
 * @example hashHostName("tnode1") // "|1|kq3u...=|Zl8x...="
 */
export function hashHostName(name: string, salt: Buffer = randomBytes(20)): string {
  const mac = createHmac("sha1", salt).update(name).digest();
  return `|1|${salt.toString("base64")}|${mac.toString("base64")}`;
}

/**
 * Appends a key to a known_hosts file, creating it (and its directory,
 * private like ~/.ssh) when missing, and starting on a fresh line when the
 * file does not end in one.
 *
 * @example appendKnownHost("/root/.ssh/known_hosts", ["tnode1", "10.0.0.1"], blob)
 */
export function appendKnownHost(file: string, names: readonly string[], blob: Buffer): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  let prefix = "";
  try {
    const size = statSync(file).size;
    if (size > 0 && !readFileSync(file).subarray(size - 1).equals(Buffer.from("\n"))) prefix = "\n";
  } catch {
    /* new file */
  }
  appendFileSync(file, `${prefix}${knownHostsLine(names, blob)}\n`, { mode: 0o644 });
}
