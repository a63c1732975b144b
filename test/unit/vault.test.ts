/**
 * Ansible Vault: decrypting text ansible-vault wrote (fixtures made by
 * `ansible-vault encrypt`, 1.1 and 1.2 with a vault id), and the ways a
 * password comes in. The whole path against Ansible itself is in
 * test/e2e/ansible.test.ts.
 */
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { vaultKeys } from "../../runner/cli/vault.ts";
import { isVaultText, secretStrings, VaultKeys } from "../../runner/inventory/vault.ts";
import { Secret } from "../../runner/secret.ts";
import { parseExtraVars } from "../../runner/vars.ts";
import { loadInventory } from "../../runner/inventory/index.ts";

const fixture = (name: string) => readFileSync(new URL(`../fixtures/vault/${name}.vault`, import.meta.url), "utf8");
const keys = (...pws: [string, string][]) => new VaultKeys(pws.map(([id, pw]) => ({ id, password: new Secret(pw), source: `${id}-file` })));

test("decrypts 1.1 and 1.2 vaults; the vault id's password first, any other after; indented text too", () => {
  assert.ok(isVaultText(fixture("default-pw-one")));
  assert.is(keys(["default", "pw-one"]).decrypt(fixture("default-pw-one")), "hello vault\n");
  assert.is(keys(["default", "pw-one"], ["prod", "pw-two"]).decrypt(fixture("prod-pw-two")), "hello vault\n");
  assert.is(keys(["other", "pw-two"]).decrypt(fixture("prod-pw-two")), "hello vault\n", "a label is a hint, as in Ansible");
  assert.is(keys(["default", "pw-one"]).decrypt(fixture("default-pw-one").replace(/^/gm, "    ")), "hello vault\n");
});

test("no password, a wrong one, a damaged vault: said plainly", () => {
  assert.throws(() => keys().decrypt(fixture("default-pw-one")), /vault-encrypted, and no vault password was given: use --ask-vault-pass, --vault-password-file FILE, --vault-id or RUNBOOK_VAULT_PASSWORD/);
  assert.throws(() => keys(["default", "nope"]).decrypt(fixture("prod-pw-two")), /no vault password given decrypts this \(vault id prod\); tried default \(default-file\)/);
  assert.throws(() => keys(["default", "pw-one"]).decrypt("$ANSIBLE_VAULT;1.0;AES\nxx"), /unsupported vault format 1.0;AES/);
  assert.throws(() => keys(["default", "pw-one"]).decrypt(fixture("default-pw-one").replace(/\n3162\n?$/, "\n31\n")), /damaged vault|no vault password/);
});

test("-e @file: a vault-encrypted extra vars file is decrypted, its strings Secrets", () => {
  const file = fileURLToPath(new URL("../fixtures/vault/extra-vars.yml", import.meta.url));
  const vars = parseExtraVars([`@${file}`], keys(["default", "pw-one"]));
  assert.instance(vars.extra_secret, Secret);
  assert.is((vars.extra_secret as Secret).reveal(), "from-extra-vars");
  assert.is(vars.retries, 3);
  assert.throws(() => parseExtraVars([`@${file}`]), /extra-vars.yml: vault-encrypted, and no vault password was given/);
});

test("a vault-encrypted inventory file: read as usual, its variables Secrets, its connection settings used", async () => {
  const inv = await loadInventory([fileURLToPath(new URL("../fixtures/vault/inventory.ini", import.meta.url))], { vault: keys(["default", "pw-one"]) });
  const db1 = inv.hosts.get("db1")!;
  assert.equal([db1.conn.address, db1.conn.becomePassword?.reveal()], ["10.9.0.1", "sudo-9"]);
  assert.instance(db1.vars.motd, Secret);
});

test("what a vault decrypts is secret: every string, numbers and booleans as they are", () => {
  const v = secretStrings({ a: "x", n: 3, b: true, list: ["y"], deep: { s: "z" } }) as Record<string, unknown>;
  assert.instance(v.a, Secret);
  assert.is(v.n, 3);
  assert.is(v.b, true);
  assert.instance((v.list as unknown[])[0], Secret);
  assert.instance((v.deep as Record<string, unknown>).s, Secret);
});

test("passwords: environment, files, executables (a -client script gets --vault-id), vault ids, no terminal for a prompt", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rb-vault-"));
  writeFileSync(join(dir, "pw"), "  from-file\n");
  writeFileSync(join(dir, "script"), "#!/bin/sh\necho from-script\n");
  writeFileSync(join(dir, "vault-client"), '#!/bin/sh\necho "client-$2"\n');
  chmodSync(join(dir, "script"), 0o755);
  chmodSync(join(dir, "vault-client"), 0o755);
  const k = await vaultKeys(
    { "vault-password-file": [join(dir, "pw")], "vault-id": [`dev@${join(dir, "script")}`, `prod@${join(dir, "vault-client")}`] },
    { interactive: false, env: { RUNBOOK_VAULT_PASSWORD: "from-env", ANSIBLE_VAULT_PASSWORD_FILE: join(dir, "pw") } },
  );
  assert.equal(
    k.passwords.map((p) => [p.id, p.password.reveal()]),
    [
      ["default", "from-env"],
      ["default", "from-file"],
      ["default", "from-file"],
      ["dev", "from-script"],
      ["prod", "client-prod"],
    ],
  );
  const asked = await vaultKeys({ "ask-vault-pass": true, "vault-id": ["ops@prompt"] }, { interactive: true, env: {}, ask: async (q) => `answer to ${q.message}` });
  assert.equal(asked.passwords.map((p) => [p.id, p.password.reveal()]), [["ops", "answer to Vault password (ops)"], ["default", "answer to Vault password"]]);
  await vaultKeys({ "ask-vault-pass": true }, { interactive: false, env: {} }).then(
    () => assert.unreachable(),
    (e: Error) => assert.match(e.message, /--ask-vault-pass needs a terminal to ask on; use --vault-password-file FILE or set RUNBOOK_VAULT_PASSWORD instead/),
  );
  await vaultKeys({ "vault-password-file": [join(dir, "missing")] }, { interactive: false, env: {} }).then(
    () => assert.unreachable(),
    (e: Error) => assert.match(e.message, /vault password file .*missing: no such file/),
  );
});

test.run();
