/**
 * Ansible-style variable files beside an inventory: `group_vars/NAME.yml`
 * (or `.yaml`, `.json`, no extension, or a `group_vars/NAME/` directory of
 * such files, read in name order) and the same under `host_vars/`. They are
 * applied after every inventory file, so they win over variables written
 * inside inventory files, as in Ansible. Files for a group or host the
 * inventory does not define are ignored, as in Ansible, so one `group_vars/`
 * can serve several inventories. A file Ansible's vault encrypted whole
 * is decrypted, and its strings are Secrets.
 */

import { readdir } from "node:fs/promises";
import { extname, join } from "node:path";
import type { InventoryBuilder } from "./builder.ts";
import { readVaultFile, secretStrings, type VaultKeys } from "./vault.ts";
import { YamlFile } from "./yaml.ts";

const VAR_FILE_EXTENSIONS = new Set([".yml", ".yaml", ".json", ""]);

/**
 * Applies `dir/group_vars` and `dir/host_vars`, when they exist.
 *
 * @example await loadVarsFiles("inventory", builder)
 */
export async function loadVarsFiles(dir: string, b: InventoryBuilder, vault: VaultKeys): Promise<void> {
  for (const [sub, kind] of [["group_vars", "group"], ["host_vars", "host"]] as const) {
    for (const [name, files] of await varFiles(join(dir, sub))) {
      if (kind === "group" ? !b.hasGroup(name) : !b.hasHost(name)) continue;
      for (const file of files) {
        const { text, encrypted } = await readVaultFile(file, vault);
        const y = YamlFile.parse(file, text, vault);
        const block = y.varBlock(y.root, `${kind} variables`, false);
        // A vault-encrypted file: every string in it is secret.
        if (encrypted) block.vars = secretStrings(block.vars) as Record<string, unknown>;
        if (kind === "group") b.groupVars(name, block);
        else b.hostVars(name, block);
      }
    }
  }
}

/** Group or host name -> its files, in name order. */
async function varFiles(dir: string): Promise<Map<string, string[]>> {
  const found = new Map<string, string[]>();
  for (const entry of await listDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      const inside = (await listDir(path)).filter((e) => e.isFile() && isVarFile(e.name));
      found.set(entry.name, inside.map((e) => join(path, e.name)));
    } else if (entry.isFile() && isVarFile(entry.name)) {
      const name = entry.name.slice(0, entry.name.length - extname(entry.name).length);
      found.set(name, [...(found.get(name) ?? []), path]);
    }
  }
  return found;
}

function isVarFile(name: string): boolean {
  return !name.startsWith(".") && VAR_FILE_EXTENSIONS.has(extname(name));
}

async function listDir(dir: string) {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
}
