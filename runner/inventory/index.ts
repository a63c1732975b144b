/**
 * Loading inventories (`-i`). Each path is a file or a directory; the format
 * of each file is told by its extension and, for YAML, by its content:
 *
 * - `.yml` `.yaml` `.json`: Rundeck resource YAML (nodes with `nodename`,
 *   `hostname`, `tags`...) or Ansible YAML (groups with `hosts`, `children`,
 *   `vars`); see rundeck.ts and ansible-yaml.ts
 * - `.ini`: Ansible INI; see ini.ts
 * - `.ts` `.mts` `.js` `.mjs`: a module exporting an `InventorySpec`; see module.ts
 * - no or another extension (Ansible's `hosts`): YAML if it reads as a YAML
 *   map or list of maps, INI otherwise
 *
 * A file Ansible's vault encrypted whole is decrypted first (vault.ts), and
 * the strings of its variables are Secrets; so are `!vault` values in YAML.
 *
 * A directory contributes its inventory files (not subdirectories) in name
 * order. Beside each file or directory, `group_vars/` and `host_vars/` apply
 * on top (vars-files.ts); connection keys in any variables set the host's
 * connection (connection.ts).
 *
 * All files merge into one inventory: a host or group defined in several
 * files keeps its groups and children from all of them, and for variables
 * and connection fields the later file wins, key by key (paths in the order
 * given, files in a directory in name order, then group_vars and host_vars).
 */

import { readdir, stat } from "node:fs/promises";
import { dirname, extname, join } from "node:path";
import { isMap, isSeq } from "yaml";
import { InputError } from "../errors.ts";
import { GROUP_KEYS, loadAnsibleYaml } from "./ansible-yaml.ts";
import { InventoryBuilder } from "./builder.ts";
import { loadIni } from "./ini.ts";
import { loadModule } from "./module.ts";
import { RUNDECK_ATTRIBUTES, loadRundeck } from "./rundeck.ts";
import type { Inventory, InventorySpec } from "./types.ts";
import { readVaultFile, VaultKeys } from "./vault.ts";
import { loadVarsFiles } from "./vars-files.ts";
import { YamlFile } from "./yaml.ts";

export type * from "./types.ts";

const YAML_EXTENSIONS = new Set([".yml", ".yaml", ".json"]);
const MODULE_EXTENSIONS = new Set([".ts", ".mts", ".js", ".mjs"]);
const INVENTORY_EXTENSIONS = new Set([...YAML_EXTENSIONS, ...MODULE_EXTENSIONS, ".ini", ""]);

export interface LoadOptions {
  /** Passwords for vault-encrypted files and `!vault` values. */
  vault?: VaultKeys;
}

/**
 * Loads and merges inventory files and directories.
 *
 * @example const inv = await loadInventory(["inventory/"]); inv.hosts.get("tnode1")?.conn.address
 */
export async function loadInventory(paths: string[], opts: LoadOptions = {}): Promise<Inventory> {
  const vault = opts.vault ?? new VaultKeys([]);
  const b = new InventoryBuilder();
  const varDirs = new Set<string>();
  for (const path of paths) {
    const info = await stat(path).catch(() => undefined);
    if (!info) throw new InputError("no such inventory file or directory", { file: path });
    const files = info.isDirectory() ? await inventoryFiles(path) : [path];
    for (const file of files) await loadFile(file, b, vault);
    varDirs.add(info.isDirectory() ? path : dirname(path));
  }
  for (const dir of varDirs) await loadVarsFiles(dir, b, vault);
  return b.build();
}

/**
 * Types a TS inventory module's export; returns it unchanged.
 *
 * @example
 * export default defineInventory({
 *   groups: { clusternode: { user: "clusteradm", become: true } },
 *   hosts: { "tnode[1-3]": { groups: ["clusternode"] }, localhost: {} },
 * });
 */
export function defineInventory(spec: InventorySpec): InventorySpec {
  return spec;
}

async function inventoryFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && !e.name.startsWith(".") && INVENTORY_EXTENSIONS.has(extname(e.name)))
    .map((e) => e.name)
    .sort()
    .map((name) => join(dir, name));
}

async function loadFile(file: string, b: InventoryBuilder, vault: VaultKeys): Promise<void> {
  const ext = extname(file);
  if (MODULE_EXTENSIONS.has(ext)) return loadModule(file, b);
  const text = await readVaultFile(file, vault);
  b.secretStrings = text.encrypted;
  try {
    if (ext === ".ini") return loadIni(file, text.text, b);
    if (YAML_EXTENSIONS.has(ext)) return loadYaml(YamlFile.parse(file, text.text, vault), b);
    const yaml = sniffYaml(file, text.text, vault);
    return yaml ? loadYaml(yaml, b) : loadIni(file, text.text, b);
  } finally {
    b.secretStrings = false;
  }
}

/** Ansible's extension-less `hosts` file is usually INI, sometimes YAML. */
function sniffYaml(file: string, text: string, vault: VaultKeys): YamlFile | undefined {
  try {
    const y = YamlFile.parse(file, text, vault);
    const root = y.root;
    if (root !== null && (isMap(root) || (isSeq(root) && y.items(root).every((n) => n !== null && isMap(n))))) return y;
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
  }
  return undefined;
}

function loadYaml(y: YamlFile, b: InventoryBuilder): void {
  const root = y.root;
  if (root === null) return;
  if (isSeq(root) || looksLike(y, RUNDECK_ATTRIBUTES)) return loadRundeck(y, b);
  if (looksLike(y, GROUP_KEYS) || y.entries(root, "an inventory").some((e) => e.key === "all")) return loadAnsibleYaml(y, b);
  throw new InputError(
    "cannot tell the inventory format: expected Rundeck nodes (NAME: {nodename, hostname, tags}) or an Ansible inventory (all: {hosts, children, vars})",
    y.at(root),
  );
}

/** True when some top-level value is a map with one of `keys`. */
function looksLike(y: YamlFile, keys: Set<string>): boolean {
  return y.entries(y.root, "an inventory").some((e) => e.value !== null && isMap(e.value) && y.entries(e.value, e.key).some((a) => keys.has(a.key)));
}
