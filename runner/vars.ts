/**
 * Variables and their precedence, low to high (DESIGN §4):
 *
 * 1. role defaults
 * 2. `all` group variables
 * 3. group variables: parents before children; at equal depth by name, as Ansible
 * 4. host variables
 * 5. play variables
 * 6. role parameters
 * 7. prompt answers
 * 8. extra variables (`-e`)
 *
 * Merging replaces by key, as Ansible's default `hash_behaviour=replace`: a
 * map set at a higher level replaces the whole map below it, it is not merged
 * into it. Every value keeps where it came from, so `runbook inventory --vars
 * HOST` can say why a host sees the value it sees.
 */

import { readFileSync } from "node:fs";
import { isScalar } from "yaml";
import { InputError } from "./errors.ts";
import { decryptFile, secretStrings, VaultKeys } from "./inventory/vault.ts";
import { YamlFile } from "./inventory/yaml.ts";
import type { Inventory } from "./inventory/types.ts";
import { splitWords } from "./inventory/words.ts";

/** Variables, and for each one where its value came from. */
export interface ScopedVars {
  vars: Record<string, unknown>;
  /** Key -> origin, e.g. `inventory/group_vars/clusternode.yml:2`, `play "base"`, `-e`. */
  sources: Record<string, string>;
}

/** The layers above the inventory; each is optional. Make them with `scoped()`. */
export interface VarLayers {
  roleDefaults?: ScopedVars;
  play?: ScopedVars;
  roleParams?: ScopedVars;
  prompts?: ScopedVars;
  extraVars?: ScopedVars;
}

/**
 * Wraps plain variables that all came from one place.
 *
 * @example scoped({ servers: ["pool.ntp.org"] }, "role ntp defaults")
 */
export function scoped(vars: Record<string, unknown>, source: string): ScopedVars {
  return { vars: { ...vars }, sources: Object.fromEntries(Object.keys(vars).map((k) => [k, source])) };
}

/**
 * Merges layers, lowest precedence first; a key in a later layer replaces it
 * (value and source). Missing layers are skipped.
 *
 * @example layer(scoped({ a: 1, b: 1 }, "defaults"), scoped({ b: 2 }, "-e")) // vars { a: 1, b: 2 }, sources { a: "defaults", b: "-e" }
 */
export function layer(...layers: (ScopedVars | undefined)[]): ScopedVars {
  const out: ScopedVars = { vars: {}, sources: {} };
  for (const l of layers) {
    if (!l) continue;
    Object.assign(out.vars, l.vars);
    Object.assign(out.sources, l.sources);
  }
  return out;
}

/**
 * A host's inventory variables: `all`, then its groups by depth and name,
 * then its own.
 *
 * @example hostVars(inv, "tnode2").sources.ntp_server // "inventory/group_vars/clusternode.yml:1"
 */
export function hostVars(inv: Inventory, hostName: string): ScopedVars {
  const host = inv.hosts.get(hostName);
  if (!host) throw new InputError(`host "${hostName}" is not in the inventory`);
  // host.groups is already in precedence order, `all` first.
  const groups = host.groups.map((name) => inv.groups.get(name)!);
  return layer(...groups.map((g) => ({ vars: g.vars, sources: g.varSources })), { vars: host.vars, sources: host.varSources });
}

/**
 * Every variable a host sees in a role, in DESIGN §4 order.
 *
 * @example resolveVars(inv, "tnode1", { extraVars: scoped(parseExtraVars(["ntp=off"]), "-e") })
 */
export function resolveVars(inv: Inventory, hostName: string, layers: VarLayers = {}): ScopedVars {
  const { roleDefaults, play, roleParams, prompts, extraVars } = layers;
  return layer(roleDefaults, hostVars(inv, hostName), play, roleParams, prompts, extraVars);
}

/**
 * Parses `-e`/`--extra-vars` arguments; later arguments win by key. Each is
 * `key=value ...` (shell-like quoting; values stay strings, as in Ansible),
 * a JSON object, or `@file` (JSON or YAML holding a map; `!secret` marks a
 * YAML value secret). A value named by a secret prompt is made a Secret
 * later, with the prompts.
 *
 * Error messages name the argument (`-e #2`) and never repeat its text:
 * a mistyped argument may hold a password.
 *
 * @example parseExtraVars(["ntp_server=10.0.0.1 motd='hello world'", '{"debug": true}', "@vars.yml"])
 */
export function parseExtraVars(args: string[], vault = new VaultKeys([])): Record<string, unknown> {
  const vars: Record<string, unknown> = {};
  args.forEach((arg, i) => Object.assign(vars, parseExtraVar(arg, `-e #${i + 1}`, vault)));
  return vars;
}

function parseExtraVar(arg: string, which: string, vault: VaultKeys): Record<string, unknown> {
  const text = arg.trim();
  if (text.startsWith("@")) return varsFile(text.slice(1), vault);
  if (text.startsWith("{") || text.startsWith("[")) return jsonObject(arg, which);
  const vars: Record<string, unknown> = {};
  const words = extraVarWords(arg, which);
  if (words.length === 0) throw new InputError(`${which}: expected key=value, a JSON object or @file`);
  words.forEach((word, i) => {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(word);
    if (!m) throw new InputError(`${which}: expected key=value, a JSON object or @file; word ${i + 1} is not key=value (not shown: it may be a secret)`);
    vars[m[1]!] = m[2];
  });
  return vars;
}

function extraVarWords(arg: string, which: string): string[] {
  try {
    return splitWords(arg, {}).map((w) => w.text);
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    throw new InputError(`${which}: ${e.message}`);
  }
}

function jsonObject(arg: string, which: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(arg);
  } catch (e) {
    // Only the position: newer Node versions quote the text in the message.
    const at = /position \d+/.exec((e as Error).message);
    throw new InputError(`${which}: invalid JSON${at ? ` at ${at[0]}` : ""}`);
  }
  if (!isPlainObject(value)) throw new InputError(`${which}: expected a JSON object`);
  return value;
}

/** A YAML or JSON file of variables; one Ansible's vault encrypted is decrypted, its strings Secrets. */
function varsFile(file: string, vault: VaultKeys): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new InputError(`-e @${file}: cannot read the file (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  const plain = decryptFile(file, text, vault);
  const y = YamlFile.parse(file, plain.text, vault);
  // A file holding just a value (a password saved alone) must not be printed back.
  if (isScalar(y.root) && typeof y.root.value === "string") throw new InputError("an extra vars file must be a map, got a string (not shown: it may be a secret)", y.at(y.root));
  const vars = y.varBlock(y.root, "an extra vars file", false).vars;
  return plain.encrypted ? (secretStrings(vars) as Record<string, unknown>) : vars;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Ansible's magic variables, for templates and `h.vars`: `inventory_hostname`
 * (the host's inventory name), `groups` (every group, `all` included, with
 * its hosts in inventory order) and `hostvars` (host -> its variables: the
 * play's merged ones for a host in the play, the inventory's for any other).
 * They are set over everything else, as in Ansible. `hostvars` holds no
 * facts: facts are gathered per host as the play reaches it.
 *
 * @example withMagicVars(inv, new Map([["tnode1", { ntp: "x" }]])).get("tnode1")!.groups // { all: ["tnode1", ...], clusternode: [...] }
 */
export function withMagicVars(inv: Inventory, vars: Map<string, Record<string, unknown>>): Map<string, Record<string, unknown>> {
  const groups = inventoryGroups(inv);
  const hostvars: Record<string, Record<string, unknown>> = {};
  for (const name of inv.hosts.keys()) hostvars[name] = vars.get(name) ?? hostVars(inv, name).vars;
  return new Map([...vars].map(([host, v]) => [host, { ...v, inventory_hostname: host, groups, hostvars }]));
}

/** Every group's hosts, in inventory order (Ansible's `groups`; `all` holds every host). */
export function inventoryGroups(inv: Inventory): Record<string, string[]> {
  const groups: Record<string, string[]> = { all: [...inv.hosts.keys()] };
  for (const host of inv.hosts.values()) for (const g of host.groups) if (g !== "all") (groups[g] ??= []).push(host.name);
  return groups;
}
