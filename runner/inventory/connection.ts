/**
 * Connection keys: the variables that say how to reach a host. They may be
 * set wherever variables are (host, group, group_vars, host_vars) and are
 * taken out of the variables into `conn`.
 *
 * runbook's own names and Ansible's map to the same fields; when one variable
 * map sets both, runbook's name wins. Across maps the usual precedence holds
 * (host over child group over parent group over `all`), whatever the spelling.
 *
 * | field      | runbook      | Ansible                                                  | Rundeck              |
 * | ---------- | ------------ | -------------------------------------------------------- | -------------------- |
 * | address    | `address`    | `ansible_host`, `ansible_ssh_host`                       | `hostname` (host:port) |
 * | port       | `port`       | `ansible_port`, `ansible_ssh_port`                       | `ssh-port`           |
 * | user       | `user`       | `ansible_user`, `ansible_ssh_user`                       | `username`           |
 * | key        | `key`        | `ansible_ssh_private_key_file`, `ansible_private_key_file` | `ssh-keypath`      |
 * | become     | `become`     | `ansible_become`                                         |                      |
 * | becomeUser | `becomeUser` | `ansible_become_user`                                    |                      |
 * | becomePassword | `becomePassword` | `ansible_become_password`, `ansible_become_pass`, `ansible_sudo_pass` |    |
 * | password   | `password`   | `ansible_password`, `ansible_ssh_pass`, `ansible_ssh_password` |                |
 * | jump       | `jump`       | `-J HOST`, `-o ProxyJump=HOST` in the ssh args below     |                      |
 * | sshConfig  | `sshConfig`  | `-F FILE` in the ssh args below                          | `ssh-config`         |
 * | sshOptions | `sshOptions` | `ansible_ssh_args`, `ansible_ssh_common_args`, `ansible_ssh_extra_args` (`-o`, `-i`, `-p`, `-l`) | |
 * | local      | `local`      | `ansible_connection` (`local`, `ssh`)                    |                      |
 *
 * `ansible_become_method` may only be `sudo`, the one runbook uses.
 * Passwords become Secrets where they are read, whether the file had them
 * in clear or vault-encrypted. Other `ansible_*` keys are Ansible's own
 * settings runbook has no use for (`ansible_python_interpreter`): they are
 * not passed on as variables, and `runbook inventory` lists them.
 *
 * A relative `sshConfig` is relative to the directory of the file that sets it.
 */

import { dirname, isAbsolute, resolve } from "node:path";
import { sshOption } from "../connection/sshconfig.ts";
import { InputError } from "../errors.ts";
import { Secret } from "../secret.ts";
import type { VarBlock } from "./builder.ts";
import { ANSIBLE_SSH_ARGS, type AnsibleSshArgs, type ConnectionDefaults, type HostConnection } from "./types.ts";
import { splitWords } from "./words.ts";

/** Sets connection fields from one variable, or throws a `FieldError`. */
type Setter = (conn: ConnectionDefaults, value: unknown, key: string) => void;

/** A bad value; the caller knows the file and line. */
class FieldError extends Error {}

const NATIVE = new Map<string, Setter>([
  ["address", (c, v, k) => (c.address = text(v, k))],
  ["port", (c, v, k) => (c.port = port(v, k))],
  ["user", (c, v, k) => (c.user = text(v, k))],
  ["key", (c, v, k) => (c.key = text(v, k))],
  ["become", (c, v, k) => (c.become = bool(v, k))],
  ["becomeUser", (c, v, k) => (c.becomeUser = text(v, k))],
  ["jump", (c, v, k) => (c.jump = text(v, k))],
  ["sshConfig", (c, v, k) => (c.sshConfig = text(v, k))],
  ["sshOptions", (c, v, k) => (c.sshOptions = (Array.isArray(v) ? v : [v]).flatMap((o) => option(text(o, k), k)))],
  ["password", (c, v, k) => (c.password = secret(v, k))],
  ["becomePassword", (c, v, k) => (c.becomePassword = secret(v, k))],
  ["local", (c, v, k) => (c.local = bool(v, k))],
]);

/** Ansible's names, accepted in every format so inventories move over unchanged. */
export const ANSIBLE_KEYS = new Map<string, Setter>([
  ["ansible_host", NATIVE.get("address")!],
  ["ansible_ssh_host", NATIVE.get("address")!],
  ["ansible_port", NATIVE.get("port")!],
  ["ansible_ssh_port", NATIVE.get("port")!],
  ["ansible_user", NATIVE.get("user")!],
  ["ansible_ssh_user", NATIVE.get("user")!],
  ["ansible_ssh_private_key_file", NATIVE.get("key")!],
  ["ansible_private_key_file", NATIVE.get("key")!],
  ["ansible_become", NATIVE.get("become")!],
  ["ansible_become_user", NATIVE.get("becomeUser")!],
  ["ansible_become_password", NATIVE.get("becomePassword")!],
  ["ansible_become_pass", NATIVE.get("becomePassword")!],
  ["ansible_sudo_pass", NATIVE.get("becomePassword")!],
  ["ansible_become_method", becomeMethod],
  ["ansible_password", NATIVE.get("password")!],
  ["ansible_ssh_pass", NATIVE.get("password")!],
  ["ansible_ssh_password", NATIVE.get("password")!],
  ["ansible_connection", (c, v, k) => (c.local = connectionType(v, k))],
  ...ANSIBLE_SSH_ARGS.map((name): [string, Setter] => [name, (c, v) => setFromSshArgs(c, v, name)]),
]);

/** Rundeck node attributes, accepted in Rundeck resource files only. */
export const RUNDECK_KEYS = new Map<string, Setter>([
  ...ANSIBLE_KEYS,
  ["hostname", setHostAndPort],
  ["username", NATIVE.get("user")!],
  ["ssh-port", NATIVE.get("port")!],
  ["ssh-keypath", NATIVE.get("key")!],
  ["ssh-config", NATIVE.get("sshConfig")!],
]);

/** A variable block split into connection settings and the remaining variables. */
export interface SplitBlock {
  conn: ConnectionDefaults;
  rest: VarBlock;
  /** Ansible's own keys that runbook has no use for (`ansible_python_interpreter`). */
  ignored: string[];
}

/**
 * Takes the connection keys out of a variable block; `aliases` are the
 * format's own names, applied before runbook's so runbook's win. `owner`
 * (`host tnode1`) names the host or group in error messages.
 *
 * @example splitConnection({ file: "h.yml", vars: { ansible_port: 2222, ntp: "x" } }, "host h").conn // { port: 2222 }
 */
export function splitConnection(block: VarBlock, owner: string, aliases = ANSIBLE_KEYS): SplitBlock {
  const conn: ConnectionDefaults = {};
  const rest: VarBlock = { ...block, vars: {} };
  const native: [Setter, string][] = [];
  const ignored: string[] = [];
  for (const [key, value] of Object.entries(block.vars)) {
    const alias = aliases.get(key);
    const own = NATIVE.get(key);
    if (own) native.push([own, key]);
    else if (alias) apply(alias, key);
    else if (key.startsWith("ansible_")) ignored.push(key);
    else rest.vars[key] = value;
  }
  for (const [set, key] of native) apply(set, key);
  if (conn.sshConfig && conn.sshConfig !== "none" && !isAbsolute(conn.sshConfig)) conn.sshConfig = resolve(dirname(block.file), conn.sshConfig);
  return { conn, rest, ignored };

  function apply(set: Setter, key: string): void {
    // A vault-encrypted address or user is used as it is; passwords become Secrets again in their setter.
    const value = block.vars[key];
    try {
      set(conn, value instanceof Secret ? value.reveal() : value, key);
    } catch (e) {
      if (!(e instanceof FieldError)) throw e;
      throw new InputError(`${owner}: ${e.message}`, { file: block.file, line: block.lines?.[key] });
    }
  }
}

const LOCAL_ADDRESSES = new Set(["localhost", "127.0.0.1", "::1"]);

/**
 * The connection of host `name`: its groups' settings (lowest precedence
 * first), then its own.
 *
 * @example resolveConnection("localhost", [{ user: "admin" }], {}) // { user: "admin", address: "localhost", local: true }
 */
export function resolveConnection(name: string, groups: ConnectionDefaults[], own: ConnectionDefaults): HostConnection {
  const { ansibleSshArgs, ...merged }: ConnectionDefaults = [...groups, own].reduce(mergeConnection, {});
  const options = [...(merged.sshOptions ?? []), ...ANSIBLE_SSH_ARGS.flatMap((k) => ansibleSshArgs?.[k] ?? [])];
  if (options.length) merged.sshOptions = options;
  const address = merged.address ?? name;
  // A port, user, key or jump host on the host itself means "really ssh here" (e.g. a
  // test sshd); a group-wide user (all: ansible_user) is meant for the remote hosts.
  const sshOnly = [own.port, own.user, own.key, own.jump].some((v) => v !== undefined);
  const local = merged.local ?? (LOCAL_ADDRESSES.has(address) && !sshOnly);
  return { ...merged, address, local };
}

/**
 * Lays `more` over `base` (a later file, a more specific group or the host
 * itself): field by field, and each Ansible ssh argument variable alone.
 *
 * @example mergeConnection({ user: "a", port: 22 }, { user: "b" }) // { user: "b", port: 22 }
 */
export function mergeConnection(base: ConnectionDefaults, more: ConnectionDefaults): ConnectionDefaults {
  const out = { ...base, ...more };
  if (base.ansibleSshArgs && more.ansibleSshArgs) out.ansibleSshArgs = { ...base.ansibleSshArgs, ...more.ansibleSshArgs };
  return out;
}

function text(v: unknown, key: string): string {
  if (typeof v === "string" && v.trim() !== "") return v.trim();
  if (typeof v === "number") return String(v);
  throw new FieldError(`${key} must be a non-empty string, got ${show(v)}`);
}

function port(v: unknown, key: string): number {
  const n = typeof v === "string" && /^\d+$/.test(v.trim()) ? Number(v) : v;
  if (typeof n === "number" && Number.isInteger(n) && n >= 1 && n <= 65535) return n;
  throw new FieldError(`${key} must be a port number from 1 to 65535, got ${show(v)}`);
}

const TRUE = new Set(["true", "yes", "on", "1"]);
const FALSE = new Set(["false", "no", "off", "0"]);

function bool(v: unknown, key: string): boolean {
  if (typeof v === "boolean") return v;
  const s = String(v).toLowerCase();
  if ((typeof v === "string" || typeof v === "number") && TRUE.has(s)) return true;
  if ((typeof v === "string" || typeof v === "number") && FALSE.has(s)) return false;
  throw new FieldError(`${key} must be true or false, got ${show(v)}`);
}

/** A password, secret from here on whether it was written in clear or vault-encrypted. */
function secret(v: unknown, key: string): Secret {
  if (v instanceof Secret) return v;
  if (typeof v === "string" || typeof v === "number") return new Secret(String(v));
  throw new FieldError(`${key} must be a string, got ${show(v)}`);
}

function becomeMethod(_c: ConnectionDefaults, v: unknown, key: string): void {
  const method = text(v, key);
  if (method !== "sudo") throw new FieldError(`${key} ${show(v)} is not supported: runbook becomes another user with sudo only`);
}

function connectionType(v: unknown, key: string): boolean {
  const type = text(v, key);
  if (type === "local") return true;
  if (["ssh", "smart", "paramiko"].includes(type)) return false;
  throw new FieldError(`${key} ${show(v)} is not supported (use ssh or local)`);
}

/** Rundeck's `hostname` may carry a port: `host:port`, or `[v6addr]:port`. */
function setHostAndPort(c: ConnectionDefaults, v: unknown, key: string): void {
  const s = text(v, key);
  const m = /^\[(.+)\](?::(.*))?$/.exec(s) ?? /^([^:]+):(.*)$/.exec(s);
  c.address = m ? m[1]! : s;
  if (m?.[2] === undefined) return;
  if (!/^\d+$/.test(m[2])) throw new FieldError(`${key} ${show(v)} has a port that is not a number`);
  c.port = port(m[2], key);
}

/**
 * Ansible's extra ssh arguments, read as ssh would read them: `-F FILE` is
 * the config file, `-J HOST` (or `-o ProxyJump=HOST`) the jump host, and
 * `-o OPTION`, `-i FILE`, `-p PORT` and `-l USER` ssh options, checked by
 * the same mapping as an ssh config file's (sshconfig.ts). `-C` and `-q`
 * change nothing here. Anything else is an error naming it: runbook speaks
 * SSH itself, so silently dropping an option would change what the
 * connection does.
 */
function setFromSshArgs(c: ConnectionDefaults, v: unknown, key: AnsibleSshArgs): void {
  const words = sshWords(text(v, key), key);
  const options: string[] = [];
  const FLAGS: Record<string, string> = { "-o": "", "-i": "IdentityFile ", "-p": "Port ", "-l": "User " };
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const flag = w.slice(0, 2);
    const arg = () => {
      const a = w.length > 2 ? w.slice(2) : words[++i];
      if (!a) throw new FieldError(`${key}: ${flag} needs a value`);
      return a;
    };
    if (flag === "-F") c.sshConfig = arg();
    else if (flag === "-J") c.jump = arg();
    else if (w === "-C" || w === "-q") continue;
    else if (flag in FLAGS) {
      const line = `${FLAGS[flag]}${arg()}`;
      const jump = /^ProxyJump[=\s]\s*(.+)$/i.exec(line)?.[1];
      if (jump) c.jump = jump;
      else options.push(...option(line, key));
    } else {
      throw new FieldError(`${key}: runbook does not support the ssh argument ${JSON.stringify(w)} (supported: -o OPTION, -F FILE, -J HOST, -i FILE, -p PORT, -l USER; -C and -q have no effect)`);
    }
  }
  c.ansibleSshArgs = { ...c.ansibleSshArgs, [key]: options };
}

/** One ssh option checked, as a config line; none for one with no effect (LogLevel). */
function option(line: string, key: string): string[] {
  try {
    const checked = sshOption(line);
    return checked === undefined ? [] : [checked];
  } catch (e) {
    throw new FieldError(`${key}: ${(e as Error).message}`);
  }
}

function sshWords(args: string, key: string): string[] {
  try {
    return splitWords(args, {}).map((w) => w.text);
  } catch (e) {
    throw new FieldError(`${key}: ${(e as Error).message}`);
  }
}

function show(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (Array.isArray(v)) return "a list";
  if (v !== null && typeof v === "object") return "a map";
  return String(v);
}
