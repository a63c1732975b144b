/**
 * OpenSSH client configuration (`~/.ssh/config`, ssh_config(5)), read the
 * way ssh reads it, for the settings runbook uses: Host, Match (the common
 * criteria), HostName, User, Port, IdentityFile, IdentitiesOnly, ProxyJump,
 * ProxyCommand, UserKnownHostsFile, StrictHostKeyChecking, ConnectTimeout,
 * ServerAliveInterval, ServerAliveCountMax and Include.
 *
 * The same keywords are what `ssh -o` takes, so options given that way (an
 * inventory's `sshOptions`, Ansible's `ansible_ssh_common_args`) go through
 * this one mapping too: `sshOption` checks one, and `resolveSshConfig` applies
 * them before the file, where (as on ssh's command line) they win.
 *
 * The rules that matter: for each keyword the FIRST value obtained wins
 * (so specific Host blocks go first and `Host *` last), except IdentityFile,
 * which accumulates; a `Host` line applies when one of its patterns matches
 * the name as given and no `!negated` pattern does; `Include` reads files
 * (globs, relative to ~/.ssh) in place, and inside a Host block only when
 * that block applies.
 */
import { readdirSync, readFileSync } from "node:fs";
import { homedir, hostname as localHostname, userInfo } from "node:os";
import { isAbsolute, join } from "node:path";
import { matchPatternList } from "./hostmatch.ts";
import type { SshTarget } from "./ssh.ts";

/** What the configuration says about one host. Absent fields were not set. */
export interface SshConfigResult {
  /** The real host name or address (`%h` expanded). */
  hostName?: string;
  user?: string;
  port?: number;
  /** IdentityFile values in order, `~` and `%` tokens expanded. */
  identityFiles: string[];
  identitiesOnly?: boolean;
  /** ProxyJump as written (`[user@]host[:port]`, comma-chained); see `parseProxyJump`. */
  proxyJump?: string;
  /** ProxyCommand as written (runbook does not run it; the caller should say so). */
  proxyCommand?: string;
  /** UserKnownHostsFile values, expanded; `[]` for `none`. */
  userKnownHostsFiles?: string[];
  strictHostKeyChecking?: "yes" | "no" | "ask" | "accept-new";
  /** ConnectTimeout in seconds. */
  connectTimeout?: number;
  /** ServerAliveInterval in seconds; 0 turns keepalives off. */
  serverAliveInterval?: number;
  serverAliveCountMax?: number;
}

/** Where the configuration comes from: a file path, or text (with an optional path for messages). */
export type SshConfigSource = string | { text: string; path?: string };

export interface SshConfigOptions {
  /** Home directory for `~`, `%d` and relative Includes; default the user's. */
  home?: string;
  /** Local user name for `%u` and `Match localuser`; default the current user. */
  localUser?: string;
  /** Reads an included (or the given) file; default fs.readFileSync as UTF-8. */
  readFile?: (path: string) => string;
  /** Lists a directory for Include globs; default fs.readdirSync. */
  readDir?: (path: string) => string[];
  /**
   * Options as `ssh -o` takes them (`StrictHostKeyChecking no`), applied
   * before the file so that they win; checked with `sshOption` first.
   */
  options?: string[];
}

/**
 * Keywords that change nothing runbook does: ssh's own logging and
 * connection sharing (runbook keeps one connection per host anyway),
 * compression and batch mode (runbook never prompts while connecting).
 * Ansible's default `ansible_ssh_args` and many lab inventories carry them.
 */
const NO_EFFECT = new Set(["loglevel", "controlmaster", "controlpersist", "controlpath", "compression", "batchmode"]);

/** Keywords runbook acts on, as an option or in a file (the cases of `set`). */
const KEYWORDS = [
  "HostName",
  "User",
  "Port",
  "IdentityFile",
  "IdentitiesOnly",
  "ProxyJump",
  "ProxyCommand",
  "UserKnownHostsFile",
  "StrictHostKeyChecking",
  "ConnectTimeout",
  "ServerAliveInterval",
  "ServerAliveCountMax",
];
const KNOWN = new Set(KEYWORDS.map((k) => k.toLowerCase()));

/**
 * Checks one option as `ssh -o` takes it (`Key=Value` or `Key Value`) and
 * returns it as a config line, or undefined for an option that changes
 * nothing runbook does (LogLevel, ControlMaster...). An option runbook does
 * not implement is an error naming it: silently dropping, say,
 * `ForwardAgent=yes` would change what the connection does.
 *
 * @example sshOption("StrictHostKeyChecking=no") // "StrictHostKeyChecking no"
 * @example sshOption("LogLevel=ERROR") // undefined
 */
export function sshOption(text: string): string | undefined {
  const words = splitLine(text, "ssh -o", 1);
  const keyword = words[0]?.toLowerCase();
  if (keyword === undefined || words.length < 2) throw new Error(`-o ${JSON.stringify(text)}: expected an option such as StrictHostKeyChecking=no`);
  if (NO_EFFECT.has(keyword)) return undefined;
  if (!KNOWN.has(keyword)) {
    throw new Error(`-o ${JSON.stringify(text)}: runbook does not support the ssh option ${words[0]} (supported: ${KEYWORDS.join(", ")}; ignored as having no effect: LogLevel, ControlMaster, ControlPersist, ControlPath, Compression, BatchMode)`);
  }
  const line = [words[0]!, ...words.slice(1).map((w) => (/\s/.test(w) ? `"${w}"` : w))].join(" ");
  set(keyword, words.slice(1), { identityFiles: [] }, "-o");
  return line;
}

/**
 * Resolves the settings for `host` (the name as the user wrote it) from an
 * ssh_config file or text. A missing file gives no settings.
 *
 * @example
 * resolveSshConfig({ text: "Host tnode*\n  User root\n  HostName %h.lab\n" }, "tnode2")
 * // { hostName: "tnode2.lab", user: "root", identityFiles: [] }
 * resolveSshConfig(`${homedir()}/.ssh/config`, "tnode2")
 */
export function resolveSshConfig(source: SshConfigSource, host: string, opts: SshConfigOptions = {}): SshConfigResult {
  const home = opts.home ?? homedir();
  const ctx: Ctx = {
    host,
    home,
    localUser: opts.localUser ?? userInfo().username,
    readFile: opts.readFile ?? ((p) => readFileSync(p, "utf8")),
    readDir: opts.readDir ?? ((p) => readdirSync(p)),
    raw: { identityFiles: [] },
  };
  if (opts.options?.length) parse(opts.options.join("\n"), "ssh -o", ctx, true, 0);
  if (typeof source === "string") {
    let text: string;
    try {
      text = ctx.readFile(source);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      text = ""; // no file: no settings from it, as ssh
    }
    parse(text, source, ctx, true, 0);
  } else {
    parse(source.text, source.path ?? "(ssh config)", ctx, true, 0);
  }
  return finish(ctx);
}

/** One hop of a ProxyJump chain. */
export interface JumpHop {
  user?: string;
  host: string;
  port?: number;
}

/**
 * Splits a ProxyJump value into hops, in the order they are connected
 * (the first hop is reached directly, the last one is next to the target).
 * Accepts `[user@]host[:port]`, `[v6addr]:port` and `ssh://[user@]host[:port]`.
 *
 * @example parseProxyJump("admin@bastion:2222,inner") // [{ user: "admin", host: "bastion", port: 2222 }, { host: "inner" }]
 */
export function parseProxyJump(spec: string): JumpHop[] {
  if (spec.trim().toLowerCase() === "none") return [];
  return spec.split(",").map((raw) => {
    const hop = raw.trim().replace(/^ssh:\/\//, "");
    const m = hop.match(/^(?:([^@]+)@)?(\[[^\]]+\]|[^:@\s]+)(?::(\d+))?$/);
    if (!m || !m[2]) throw new Error(`invalid ProxyJump hop ${JSON.stringify(raw)} (expected [user@]host[:port])`);
    const out: JumpHop = { host: m[2].replace(/^\[|\]$/g, "") };
    if (m[1]) out.user = m[1];
    if (m[3]) {
      const port = Number(m[3]);
      if (port < 1 || port > 65535) throw new Error(`invalid port in ProxyJump hop ${JSON.stringify(raw)}`);
      out.port = port;
    }
    return out;
  });
}

/**
 * Turns a ProxyJump value into nested targets, the form `SshTarget.jump`
 * takes: the returned target is the last hop (next to the host), its `jump`
 * the hop before, and so on. `make` builds each hop's target (resolving it
 * through the ssh config too, as ssh does).
 *
 * @example
 * const jump = proxyJumpTarget("admin@bastion:2222,inner", (hop) => ({
 *   host: hop.host, address: hop.host, user: hop.user, port: hop.port, knownHostsFiles,
 * }));
 * // jump = { host: "inner", ..., jump: { host: "bastion", user: "admin", port: 2222, ... } }
 */
export function proxyJumpTarget(spec: string, make: (hop: JumpHop) => SshTarget): SshTarget | undefined {
  let prev: SshTarget | undefined;
  for (const hop of parseProxyJump(spec)) {
    const t = make(hop);
    prev = prev ? { ...t, jump: prev } : t;
  }
  return prev;
}

interface Raw {
  hostName?: string;
  user?: string;
  port?: number;
  identityFiles: string[];
  identitiesOnly?: boolean;
  /** "none" is kept until the end so it still blocks later values. */
  proxyJump?: string;
  proxyCommand?: string;
  userKnownHostsFiles?: string[];
  strictHostKeyChecking?: SshConfigResult["strictHostKeyChecking"];
  connectTimeout?: number;
  serverAliveInterval?: number;
  serverAliveCountMax?: number;
}

interface Ctx {
  host: string;
  home: string;
  localUser: string;
  readFile: (p: string) => string;
  readDir: (p: string) => string[];
  raw: Raw;
}

/** OpenSSH's limit on nested Includes. */
const MAX_DEPTH = 16;

/**
 * Applies one file's lines. `active` is whether the lines before the first
 * Host/Match apply (the including block's state); returns nothing because
 * an included file's last block does not leak into the includer (OpenSSH
 * restores the state after an Include).
 */
function parse(text: string, file: string, ctx: Ctx, startActive: boolean, depth: number): void {
  let active = startActive;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const words = splitLine(lines[i] ?? "", file, i + 1);
    if (words.length === 0) continue;
    const keyword = words[0]!.toLowerCase();
    const args = words.slice(1);
    const where = `${file}:${i + 1}`;
    switch (keyword) {
      case "host":
        active = matchPatternList(args, ctx.host) === 1;
        continue;
      case "match":
        active = matchCriteria(args, ctx, where);
        continue;
      case "include":
        if (!active) continue;
        if (depth >= MAX_DEPTH) throw new Error(`${where}: Include nested more than ${MAX_DEPTH} deep`);
        for (const pattern of args) {
          for (const path of globFiles(includePath(pattern, ctx.home), ctx)) {
            let included: string;
            try {
              included = ctx.readFile(path);
            } catch {
              continue; // unreadable: ssh skips it too
            }
            parse(included, path, ctx, true, depth + 1);
          }
        }
        continue;
    }
    if (!active) continue;
    set(keyword, args, ctx.raw, where);
  }
}

function set(keyword: string, args: string[], raw: Raw, where: string): void {
  const value = args[0];
  if (value === undefined) return;
  switch (keyword) {
    case "hostname":
      raw.hostName ??= value;
      break;
    case "user":
      raw.user ??= value;
      break;
    case "port": {
      if (raw.port !== undefined) break;
      const port = Number(value);
      if (!/^\d+$/.test(value) || port < 1 || port > 65535) throw new Error(`${where}: Port must be 1-65535, got ${value}`);
      raw.port = port;
      break;
    }
    case "identityfile":
      raw.identityFiles.push(value);
      break;
    case "identitiesonly":
      raw.identitiesOnly ??= yes(value);
      break;
    case "proxyjump":
      // ProxyJump and ProxyCommand exclude each other; the first one set wins.
      if (raw.proxyJump === undefined && raw.proxyCommand === undefined) raw.proxyJump = value;
      break;
    case "proxycommand":
      if (raw.proxyJump === undefined && raw.proxyCommand === undefined) raw.proxyCommand = args.join(" ");
      break;
    case "userknownhostsfile":
      raw.userKnownHostsFiles ??= args;
      break;
    case "stricthostkeychecking":
      if (raw.strictHostKeyChecking === undefined) {
        const v = value.toLowerCase();
        raw.strictHostKeyChecking = v === "yes" || v === "true" ? "yes" : v === "no" || v === "off" || v === "false" ? "no" : v === "accept-new" ? "accept-new" : "ask";
      }
      break;
    case "connecttimeout":
      raw.connectTimeout ??= seconds(value, "ConnectTimeout", where);
      break;
    case "serveraliveinterval":
      raw.serverAliveInterval ??= seconds(value, "ServerAliveInterval", where);
      break;
    case "serveralivecountmax":
      raw.serverAliveCountMax ??= seconds(value, "ServerAliveCountMax", where);
      break;
  }
}

function seconds(value: string, keyword: string, where: string): number {
  if (!/^\d+$/.test(value)) throw new Error(`${where}: ${keyword} must be a whole number, got ${value}`);
  return Number(value);
}

const yes = (v: string) => ["yes", "true"].includes(v.toLowerCase());

/**
 * `Match` criteria. Supported: all, host, originalhost, user, localuser
 * (each may be negated with `!`), and final (true: its values fill what is
 * still unset, as in ssh's final pass). Criteria runbook cannot evaluate
 * (exec, canonical, localnetwork, tagged) make the block not apply.
 */
function matchCriteria(args: string[], ctx: Ctx, where: string): boolean {
  let result = true;
  for (let i = 0; i < args.length; i++) {
    const raw = args[i]!;
    const negate = raw.startsWith("!");
    const crit = (negate ? raw.slice(1) : raw).toLowerCase();
    if (crit === "all" || crit === "final") continue;
    if (crit === "canonical" || crit === "exec" || crit === "localnetwork" || crit === "tagged") {
      if (crit !== "canonical") i++; // skip its argument
      result = false;
      continue;
    }
    const arg = args[++i];
    if (arg === undefined) throw new Error(`${where}: Match ${crit} needs an argument`);
    const list = arg.split(",");
    let hit: boolean;
    switch (crit) {
      case "host":
        hit = matchPatternList(list, ctx.raw.hostName ? expandHostName(ctx.raw.hostName, ctx.host) : ctx.host) === 1;
        break;
      case "originalhost":
        hit = matchPatternList(list, ctx.host) === 1;
        break;
      case "user":
        hit = matchPatternList(list, ctx.raw.user ?? ctx.localUser) === 1;
        break;
      case "localuser":
        hit = matchPatternList(list, ctx.localUser) === 1;
        break;
      default:
        throw new Error(`${where}: unsupported Match criterion ${JSON.stringify(crit)}`);
    }
    if (hit === negate) result = false;
  }
  return result;
}

/**
 * Splits a line into words as ssh does: whitespace or one `=` after the
 * keyword, double quotes group, `#` at the start of a word ends the line.
 */
function splitLine(line: string, file: string, n: number): string[] {
  const words: string[] = [];
  let i = 0;
  const s = line.trim();
  // "Keyword=value" and "Keyword = value"
  const kw = s.match(/^([A-Za-z]+)\s*(?:=\s*|\s+|$)/);
  if (!kw || s.startsWith("#")) return [];
  words.push(kw[1]!);
  i = kw[0].length;
  while (i < s.length) {
    while (i < s.length && /\s/.test(s[i]!)) i++;
    if (i >= s.length || s[i] === "#") break;
    let word = "";
    if (s[i] === '"') {
      const end = s.indexOf('"', i + 1);
      if (end < 0) throw new Error(`${file}:${n}: unterminated quote`);
      word = s.slice(i + 1, end);
      i = end + 1;
    } else {
      while (i < s.length && !/\s/.test(s[i]!)) word += s[i++];
    }
    words.push(word);
  }
  return words;
}

function includePath(pattern: string, home: string): string {
  if (pattern.startsWith("~/")) return join(home, pattern.slice(2));
  if (isAbsolute(pattern)) return pattern;
  return join(home, ".ssh", pattern);
}

/** Expands `*`, `?` in path segments (no leading-dot matches), sorted like glob(3). Only existing files. */
function globFiles(pattern: string, ctx: Ctx): string[] {
  const segments = pattern.split("/");
  let paths = [segments[0] === "" ? "/" : segments[0]!];
  for (const seg of segments.slice(1)) {
    if (seg === "") continue;
    const next: string[] = [];
    for (const base of paths) {
      if (!/[*?]/.test(seg)) {
        next.push(join(base, seg));
        continue;
      }
      let names: string[];
      try {
        names = ctx.readDir(base);
      } catch {
        continue;
      }
      for (const name of names.sort()) {
        if (name.startsWith(".") && !seg.startsWith(".")) continue;
        if (globSegment(seg, name)) next.push(join(base, name));
      }
    }
    paths = next;
  }
  return paths;
}

/** File names are case-sensitive, unlike host names. */
function globSegment(pattern: string, name: string): boolean {
  const re = new RegExp("^" + pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".") + "$");
  return re.test(name);
}

function expandHostName(value: string, host: string): string {
  return value.replace(/%([%h])/g, (_m, t: string) => (t === "%" ? "%" : host));
}

/** `~` and the `%` tokens ssh expands in file names. */
function expandPath(value: string, ctx: Ctx, hostName: string, port: number, user: string): string {
  const tilde = value === "~" ? ctx.home : value.startsWith("~/") ? join(ctx.home, value.slice(2)) : value;
  const local = localHostname();
  const tokens: Record<string, string> = {
    "%": "%",
    d: ctx.home,
    h: hostName,
    k: hostName,
    i: String(process.getuid?.() ?? ""),
    l: local,
    L: local.split(".")[0] ?? local,
    n: ctx.host,
    p: String(port),
    r: user,
    u: ctx.localUser,
  };
  return tilde.replace(/%(.)/g, (m, t: string) => tokens[t] ?? m);
}

function finish(ctx: Ctx): SshConfigResult {
  const raw = ctx.raw;
  const out: SshConfigResult = { identityFiles: [] };
  const hostName = raw.hostName === undefined ? ctx.host : expandHostName(raw.hostName, ctx.host);
  if (raw.hostName !== undefined) out.hostName = hostName;
  if (raw.user !== undefined) out.user = raw.user;
  if (raw.port !== undefined) out.port = raw.port;
  const port = raw.port ?? 22;
  const user = raw.user ?? ctx.localUser;
  out.identityFiles = raw.identityFiles.filter((f) => f.toLowerCase() !== "none").map((f) => expandPath(f, ctx, hostName, port, user));
  if (raw.identitiesOnly !== undefined) out.identitiesOnly = raw.identitiesOnly;
  if (raw.proxyJump !== undefined && raw.proxyJump.toLowerCase() !== "none") out.proxyJump = raw.proxyJump;
  if (raw.proxyCommand !== undefined && raw.proxyCommand.toLowerCase() !== "none") out.proxyCommand = raw.proxyCommand;
  if (raw.userKnownHostsFiles !== undefined) {
    out.userKnownHostsFiles = raw.userKnownHostsFiles.some((f) => f.toLowerCase() === "none")
      ? []
      : raw.userKnownHostsFiles.map((f) => expandPath(f, ctx, hostName, port, user));
  }
  if (raw.strictHostKeyChecking !== undefined) out.strictHostKeyChecking = raw.strictHostKeyChecking;
  if (raw.connectTimeout !== undefined) out.connectTimeout = raw.connectTimeout;
  if (raw.serverAliveInterval !== undefined) out.serverAliveInterval = raw.serverAliveInterval;
  if (raw.serverAliveCountMax !== undefined) out.serverAliveCountMax = raw.serverAliveCountMax;
  return out;
}
