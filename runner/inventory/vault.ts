/**
 * Ansible Vault: inline `!vault |` values and whole vault-encrypted files
 * (format 1.1, and 1.2 with a vault id; AES256), decrypted while the
 * inventory loads. The format is read by the `ansible-vault` package
 * (PBKDF2-SHA256, AES-256-CTR, HMAC-SHA256, as Ansible writes it).
 *
 * What a vault decrypts is secret from the moment it exists: an inline value
 * is a Secret, and so is every string of a decrypted file (numbers and
 * booleans stay what they are).
 *
 * Passwords come with a vault id, as in Ansible (`--vault-id dev@FILE`);
 * those given without one have the id `default`. A 1.2 vault names the id
 * it was encrypted with: that password is tried first, then every other
 * (as Ansible does unless told to match ids strictly).
 */
import { readFile } from "node:fs/promises";
import { Vault } from "ansible-vault";
import { InputError } from "../errors.ts";
import { Secret } from "../secret.ts";

const HEADER = "$ANSIBLE_VAULT;";

/** One vault password and where it came from (for messages). */
export interface VaultPassword {
  id: string;
  password: Secret;
  /** `--vault-password-file ~/.vault_pass`, `prompt`... */
  source: string;
}

/** True for text Ansible's vault wrote (a whole file or an inline value). */
export function isVaultText(text: string): boolean {
  return text.trimStart().startsWith(HEADER);
}

/** The vault passwords of a run; decrypts with them. */
export class VaultKeys {
  constructor(readonly passwords: readonly VaultPassword[]) {}

  /**
   * Decrypts vault text, or throws an Error saying why (no password given,
   * none of them fits, a damaged vault).
   *
   * @example new VaultKeys([{ id: "default", password: secret("pw"), source: "RUNBOOK_VAULT_PASSWORD" }]).decrypt(text) // "s3cret"
   */
  decrypt(text: string): string {
    const vault = text.trim().replace(/\r?\n[ \t]+/g, "\n");
    const header = vault.split("\n", 1)[0]!.split(";");
    if (header[1] !== "1.1" && header[1] !== "1.2") throw new Error(`unsupported vault format ${header.slice(1).join(";")} (runbook reads 1.1 and 1.2)`);
    if (header[2] !== "AES256") throw new Error(`unsupported vault cipher ${header[2]} (runbook reads AES256)`);
    if (this.passwords.length === 0) {
      throw new Error("vault-encrypted, and no vault password was given: use --ask-vault-pass, --vault-password-file FILE, --vault-id or RUNBOOK_VAULT_PASSWORD");
    }
    const id = header[1] === "1.2" ? header[3]?.trim() : undefined;
    const ordered = [...this.passwords.filter((p) => p.id === id), ...this.passwords.filter((p) => p.id !== id)];
    for (const p of ordered) {
      let plain: string | undefined;
      try {
        plain = new Vault({ password: p.password.reveal() }).decryptSync(vault, undefined);
      } catch (err) {
        if (/integrity/i.test((err as Error).message)) continue; // another password
        throw new Error(`damaged vault: ${(err as Error).message}`);
      }
      if (plain !== undefined) return plain;
    }
    const tried = this.passwords.map((p) => `${p.id} (${p.source})`).join(", ");
    throw new Error(`no vault password given decrypts this${id ? ` (vault id ${id})` : ""}; tried ${tried}`);
  }
}

/**
 * A file's text, decrypted first when Ansible's vault encrypted it whole.
 *
 * @example const { text, encrypted } = await readVaultFile("group_vars/db.yml", keys)
 */
export async function readVaultFile(file: string, vault: VaultKeys): Promise<{ text: string; encrypted: boolean }> {
  return decryptFile(file, await readFile(file, "utf8"), vault);
}

/**
 * A file's text as read, or decrypted when Ansible's vault encrypted it
 * whole; a failure is an InputError naming the file.
 *
 * @example decryptFile("vars.yml", text, keys) // { text: "db_password: x\n", encrypted: true }
 */
export function decryptFile(file: string, text: string, vault: VaultKeys): { text: string; encrypted: boolean } {
  if (!isVaultText(text)) return { text, encrypted: false };
  try {
    return { text: vault.decrypt(text), encrypted: true };
  } catch (e) {
    throw new InputError((e as Error).message, { file });
  }
}

/**
 * Every string inside a decrypted value made a Secret.
 *
 * @example secretStrings({ db: { password: "x", port: 5432 } }) // { db: { password: Secret, port: 5432 } }
 */
export function secretStrings(value: unknown): unknown {
  if (typeof value === "string") return new Secret(value);
  if (Array.isArray(value)) return value.map(secretStrings);
  if (value !== null && typeof value === "object" && !(value instanceof Secret)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, secretStrings(v)]));
  }
  return value;
}
