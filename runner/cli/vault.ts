/**
 * Vault passwords from the command line and the environment, for every
 * command that loads the inventory: as Ansible takes them, so an Ansible
 * user's habits and scripts move over unchanged.
 *
 * - `--ask-vault-pass`: a hidden prompt (needs a terminal)
 * - `--vault-password-file FILE`: the file's first line; an executable file
 *   is run and its output used (a `*-client` script gets `--vault-id ID`)
 * - `--vault-id [ID@]SOURCE`: SOURCE is `prompt` or a file as above
 * - `RUNBOOK_VAULT_PASSWORD`: the password itself; Ansible's
 *   `ANSIBLE_VAULT_PASSWORD_FILE` and `ANSIBLE_VAULT_IDENTITY_LIST` too
 */
import { execFileSync } from "node:child_process";
import { accessSync, constants, readFileSync } from "node:fs";
import { basename } from "node:path";
import { InputError } from "../errors.ts";
import { loadInventory } from "../inventory/index.ts";
import { VaultKeys, type VaultPassword } from "../inventory/vault.ts";
import { inquirerAsk, type Ask } from "../prompts.ts";
import { Secret } from "../secret.ts";

export const VAULT_OPTIONS = {
  "ask-vault-pass": { type: "boolean" },
  "vault-password-file": { type: "string", multiple: true },
  "vault-id": { type: "string", multiple: true },
} as const;

const VAULT_HELP: [string, string][] = [
  ["--ask-vault-pass", "ask for the vault password (or set RUNBOOK_VAULT_PASSWORD)"],
  ["--vault-password-file FILE", "the vault password's file (an executable one is run)"],
  ["--vault-id [ID@]SOURCE", 'a password for vault id ID from FILE or "prompt" (repeatable)'],
];

/** The vault options' lines of a command's usage, descriptions at column `col` as that command's other options (a long name gets its own line). */
export function vaultUsage(col: number): string {
  return VAULT_HELP.map(([name, text]) => {
    const head = `      ${name}`;
    return head.length + 2 <= col ? `${head.padEnd(col)}${text}` : `${head}\n${" ".repeat(col)}${text}`;
  }).join("\n");
}

export interface VaultValues {
  "ask-vault-pass"?: boolean;
  "vault-password-file"?: string[];
  "vault-id"?: string[];
}

/**
 * The vault passwords the options and the environment give, read now (a
 * prompt asked once, before anything else happens).
 *
 * @example const vault = await vaultKeys(values, { interactive: !!process.stdin.isTTY });
 */
export async function vaultKeys(values: VaultValues, opts: { interactive: boolean; ask?: Ask; env?: NodeJS.ProcessEnv }): Promise<VaultKeys> {
  const env = opts.env ?? process.env;
  const ids: string[] = [];
  if (env.ANSIBLE_VAULT_IDENTITY_LIST) ids.push(...env.ANSIBLE_VAULT_IDENTITY_LIST.split(",").map((s) => s.trim()).filter(Boolean));
  if (env.ANSIBLE_VAULT_PASSWORD_FILE) ids.push(`@${env.ANSIBLE_VAULT_PASSWORD_FILE}`);
  ids.push(...(values["vault-password-file"] ?? []).map((f) => `@${f}`), ...(values["vault-id"] ?? []));
  if (values["ask-vault-pass"]) ids.push("@prompt");
  const passwords: VaultPassword[] = [];
  if (env.RUNBOOK_VAULT_PASSWORD !== undefined) passwords.push({ id: "default", password: new Secret(env.RUNBOOK_VAULT_PASSWORD), source: "RUNBOOK_VAULT_PASSWORD" });
  for (const spec of ids) {
    const at = spec.indexOf("@");
    const id = at > 0 ? spec.slice(0, at) : "default";
    const source = at >= 0 ? spec.slice(at + 1) : spec;
    if (source === "prompt") {
      if (!opts.interactive) throw new InputError("--ask-vault-pass needs a terminal to ask on; use --vault-password-file FILE or set RUNBOOK_VAULT_PASSWORD instead");
      const answer = await (opts.ask ?? inquirerAsk)({ message: id === "default" ? "Vault password" : `Vault password (${id})`, secret: true });
      passwords.push({ id, password: new Secret(answer), source: "prompt" });
    } else {
      passwords.push({ id, password: new Secret(passwordFile(source, id)), source });
    }
  }
  return new VaultKeys(passwords);
}

/**
 * The vault passwords of a long-lived command (`runbook serve`), checked
 * at its start: they must open every vault value of the inventory now,
 * not at the first run hours later. A password that cannot be read, or a
 * vault value none opens, is an InputError naming the inventory file (and
 * the vault id). Any other problem of the inventory is returned, not
 * thrown: the inventory is read again for each page and run, and may be
 * fixed meanwhile.
 *
 * @example const { vault, problem } = await checkedVaultKeys(values, ["inventory"], { interactive: true });
 */
export async function checkedVaultKeys(values: VaultValues, inventory: string[], opts: { interactive: boolean; ask?: Ask; env?: NodeJS.ProcessEnv }): Promise<{ vault: VaultKeys; problem?: Error }> {
  let vault: VaultKeys;
  try {
    vault = await vaultKeys(values, opts);
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    throw new InputError(`cannot open the vault values of the inventory (${inventory.join(", ")}): ${e.message}`);
  }
  // The passwords as given, watched: did a vault value refuse them?
  let refused = false;
  const watched = new (class extends VaultKeys {
    override decrypt(text: string): string {
      try {
        return super.decrypt(text);
      } catch (e) {
        refused = true;
        throw e;
      }
    }
  })(vault.passwords);
  try {
    await loadInventory(inventory, { vault: watched });
    return { vault };
  } catch (e) {
    // The load's error names the file and line of the value (or the encrypted file).
    if (refused) throw e;
    return { vault, problem: e as Error };
  }
}

/** A vault password file's password: its content, or an executable's output; surrounding white space dropped, as Ansible does. */
function passwordFile(file: string, id: string): string {
  let text: string;
  try {
    if (!isExecutable(file)) text = readFileSync(file, "utf8");
    else text = execFileSync(file, /-client(\.\w+)?$/.test(basename(file)) ? ["--vault-id", id] : [], { encoding: "utf8", stdio: ["inherit", "pipe", "inherit"] });
  } catch (e) {
    throw new InputError(`vault password file ${file}${id === "default" ? "" : ` (vault id ${id})`}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`);
  }
  const password = text.trim();
  if (password === "") throw new InputError(`vault password file ${file} is empty`);
  return password;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
