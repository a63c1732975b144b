/**
 * `runbook serve` with an Ansible Vault inventory, without a server: the
 * vault options on the command line and in serve.yml (a literal password
 * there is refused), and the start check that the passwords open every
 * vault value of the inventory (test/fixtures/serve-vault: an inventory
 * encrypted whole, vault id `serve`). The running server is in
 * test/e2e/serve.test.ts.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { command as serve, readConfig } from "../../runner/cli/serve.ts";
import { checkedVaultKeys } from "../../runner/cli/vault.ts";
import { loadInventory } from "../../runner/inventory/index.ts";
import { Secret } from "../../runner/secret.ts";

const FIXTURE = "test/fixtures/serve-vault";
const INVENTORY = `${FIXTURE}/inventory.yml`;
const PASSWORD = `${FIXTURE}/password`;
const dir = mkdtempSync(join(tmpdir(), "rb-serve-vault-"));
const wrong = join(dir, "wrong");
writeFileSync(wrong, "not-the-password\n");
const rejection = (p: Promise<unknown>) => p.then(() => "resolved", (e: Error) => e.message);

test("serve.yml: vault-password-file and vault-id as a value or a list; a literal password is refused, naming the file and key, never the value", async () => {
  const file = join(dir, "serve.yml");
  writeFileSync(file, `inventory: ${INVENTORY}\nvault-password-file: ${PASSWORD}\nvault-id: [serve@${PASSWORD}, dev@prompt]\n`);
  assert.equal(readConfig(file, true), { inventory: [INVENTORY], "vault-password-file": [PASSWORD], "vault-id": [`serve@${PASSWORD}`, "dev@prompt"] });
  for (const key of ["vault-password", "vault_pass", "admin-password"]) {
    writeFileSync(file, `${key}: hunter2-literal\n`);
    const message = await rejection(Promise.resolve().then(() => readConfig(file, true)));
    assert.match(message, `${file}: ${key}: a password does not belong in a config file`);
    assert.not.match(message, "hunter2");
  }
});

test("the start check: the right password opens the inventory (its values Secrets); a wrong or missing one names the inventory and vault id", async () => {
  const ok = await checkedVaultKeys({ "vault-id": [`serve@${PASSWORD}`] }, [INVENTORY], { interactive: false, env: {} });
  assert.is(ok.problem, undefined);
  const inv = await loadInventory([INVENTORY], { vault: ok.vault });
  assert.instance(inv.groups.get("all")!.vars.vaultToken, Secret);

  const refused = await rejection(checkedVaultKeys({ "vault-id": [`serve@${wrong}`] }, [INVENTORY], { interactive: false, env: {} }));
  assert.match(refused, `${INVENTORY}: no vault password given decrypts this (vault id serve); tried serve (${wrong})`);
  const none = await rejection(checkedVaultKeys({}, [INVENTORY], { interactive: false, env: {} }));
  assert.match(none, `${INVENTORY}: vault-encrypted, and no vault password was given`);
  const missing = await rejection(checkedVaultKeys({ "vault-id": [`serve@${dir}/nope`] }, [INVENTORY], { interactive: false, env: {} }));
  assert.match(missing, `cannot open the vault values of the inventory (${INVENTORY}): vault password file ${dir}/nope (vault id serve): no such file`);
  const env = await checkedVaultKeys({}, [INVENTORY], { interactive: false, env: { RUNBOOK_VAULT_PASSWORD: "serve-vault-fixture-pw" } });
  assert.is(env.problem, undefined, "RUNBOOK_VAULT_PASSWORD opens it (an id is a hint)");

  // Another problem of the inventory is not the vault's: returned, and the server starts as before.
  const other = await checkedVaultKeys({}, [join(dir, "no-inventory")], { interactive: false, env: {} });
  assert.match(other.problem?.message ?? "", /no such inventory file or directory/);
});

test("runbook serve: the vault options parse (repeatable --vault-id, in serve.yml too), and a refused password stops it before it listens", async () => {
  const saved = { state: process.env.RUNBOOK_STATE_DIR, pw: process.env.RUNBOOK_VAULT_PASSWORD };
  process.env.RUNBOOK_STATE_DIR = join(dir, "state");
  delete process.env.RUNBOOK_VAULT_PASSWORD;
  try {
    const args = ["-i", INVENTORY, "--playbooks", FIXTURE, "--port", "0"];
    const start = (more: string[]) => rejection(serve.run([...args, ...more]));
    assert.match(await start(["--vault-id", `dev@${wrong}`, "--vault-id", `serve@${wrong}`]), `${INVENTORY}: no vault password given decrypts this (vault id serve); tried dev (${wrong}), serve (${wrong})`);
    assert.match(await start(["--vault-password-file", wrong]), `${INVENTORY}: no vault password given decrypts this (vault id serve); tried default (${wrong})`);
    assert.match(await start(["--ask-vault-pass"]), "--ask-vault-pass needs a terminal to ask on");
    const config = join(dir, "wrong.yml");
    writeFileSync(config, `vault-id: serve@${wrong}\n`);
    assert.match(await start(["--config", config]), `tried serve (${wrong})`);
  } finally {
    for (const [k, v] of [["RUNBOOK_STATE_DIR", saved.state], ["RUNBOOK_VAULT_PASSWORD", saved.pw]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
});

test.run();
