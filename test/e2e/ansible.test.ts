/**
 * Ansible inventories move over unchanged (issue 18). Ansible itself is the
 * reference: Debian's ansible-core is installed when missing, its
 * `ansible-vault` encrypts the test's secrets and its `ansible-inventory
 * --list` reads the same files as runbook.
 *
 * 1. An inventory in Ansible's own style (INI and YAML, ranges, children,
 *    vars, ssh args, a vault-encrypted group_vars file and inline `!vault`
 *    values under two vault ids) gives the same hosts, groups and decrypted
 *    variables as `ansible-inventory --list`.
 * 2. On lab hosts: a play whose sudo password and data come from the vault
 *    works, and the decrypted values appear nowhere in its output, --json or
 *    history.
 * 3. `StrictHostKeyChecking=no` from `ansible_ssh_common_args` connects to
 *    hosts whose keys are unknown, and says so once.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { loadInventory } from "../../runner/inventory/index.ts";
import { VaultKeys } from "../../runner/inventory/vault.ts";
import { Secret } from "../../runner/secret.ts";
import { hostVars } from "../../runner/vars.ts";
import type { Lab } from "../lab/lab.ts";
import { labSuite, ssh } from "../lab/fixture.ts";
import { run } from "../lab/sh.ts";
import { ensureCommands } from "../lab/tools.ts";
import { results, runbook, stateDir, underPty } from "./harness.ts";

await ensureCommands({ "ansible-inventory": "ansible-core", "ansible-vault": "ansible-core" }, (l) => console.error(l));

/** Writes files (path -> text) under `dir`. */
function write(dir: string, files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, ".."), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
}

/** Encrypts a file in place with ansible-vault. */
async function vaultEncrypt(file: string, vaultId: string): Promise<void> {
  const r = await run("ansible-vault", ["encrypt", "--vault-id", vaultId, "--encrypt-vault-id", vaultId.split("@")[0]!, file], { allowFail: true });
  assert.is(r.code, 0, r.stderr);
}

/** `NAME: !vault |` text for a YAML file, made by ansible-vault encrypt_string. */
async function vaultString(name: string, value: string, vaultId: string): Promise<string> {
  const r = await run("ansible-vault", ["encrypt_string", "--vault-id", vaultId, "--encrypt-vault-id", vaultId.split("@")[0]!, "--name", name, value], { allowFail: true });
  assert.is(r.code, 0, r.stderr);
  return r.stdout.trimEnd() + "\n";
}

/** Replaces Ansible's `{ __ansible_vault: TEXT }` (what --list shows of an inline value) by what ansible-vault decrypts it to. */
async function ansibleDecrypted(value: unknown, vaultIds: string[], dir: string): Promise<unknown> {
  if (Array.isArray(value)) return Promise.all(value.map((v) => ansibleDecrypted(v, vaultIds, dir)));
  if (value === null || typeof value !== "object") return value;
  const o = value as Record<string, unknown>;
  if (typeof o.__ansible_vault === "string") {
    const file = join(dir, `inline-${randomBytes(4).toString("hex")}`);
    writeFileSync(file, o.__ansible_vault);
    const r = await run("ansible-vault", ["decrypt", ...vaultIds.flatMap((v) => ["--vault-id", v]), "--output", "-", file], { allowFail: true });
    assert.is(r.code, 0, r.stderr);
    return r.stdout;
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) out[k] = await ansibleDecrypted(v, vaultIds, dir);
  return out;
}

/** Secrets revealed, to compare with what Ansible decrypted. */
function revealed(value: unknown): unknown {
  if (value instanceof Secret) return value.reveal();
  if (Array.isArray(value)) return value.map(revealed);
  if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, revealed(v)]));
  return value;
}

const compare = suite("ansible: the same inventory as ansible-inventory --list");

compare("INI + YAML, ranges, children, vars, ssh args, an encrypted group_vars file and inline !vault values under two vault ids", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rb-ansible-"));
  write(dir, { "pw-default": "default-pw-18\n", "pw-prod": "prod-pw-18\n" });
  const ids = [`default@${dir}/pw-default`, `prod@${dir}/pw-prod`];
  write(dir, {
    "inventory/01-hosts": [
      "localhost ansible_connection=local",
      "",
      "[control]",
      "ctl[01:02]",
      "",
      "[compute]",
      "cmp[1:3] ansible_user=ops",
      "",
      "[storage]",
      "stor01 ansible_port=2222 ansible_python_interpreter=/usr/bin/python3 disks=4",
      "",
      "[baremetal:children]",
      "control",
      "compute",
      "storage",
      "",
      "[compute:vars]",
      "ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR'",
      "nova_flavor=large",
      "",
      "[all:vars]",
      "ntp_server=pool.ntp.org",
      "",
    ].join("\n"),
    "inventory/02-monitoring.yml": [
      "all:",
      "  children:",
      "    monitoring:",
      "      hosts:",
      "        mon[a:b]:",
      "          ansible_ssh_extra_args: -o ServerAliveInterval=30",
      "      vars:",
      "        grafana_port: 3000",
      "        dashboards: [nodes, ceph]",
      "    baremetal:",
      "      vars:",
      "        ipmi_user: admin",
      "",
    ].join("\n"),
    "inventory/group_vars/compute.yml": "nova_db_password: nova-db-18\nrabbit:\n  login: nova\n  password: rabbit-18\nworkers: 8\n",
    "inventory/host_vars/stor01.yml": "osd_memory: 4096\n",
  });
  await vaultEncrypt(join(dir, "inventory/group_vars/compute.yml"), ids[1]!);
  write(dir, {
    "inventory/group_vars/all.yml": "region: north\n" + (await vaultString("admin_token", "admin-token-18", ids[0]!)) + (await vaultString("ipmi_password", "ipmi-18", ids[1]!)),
  });

  const list = await run("ansible-inventory", ["-i", join(dir, "inventory"), "--list", ...ids.flatMap((v) => ["--vault-id", v])], { allowFail: true });
  assert.is(list.code, 0, list.stderr);
  const ansible = JSON.parse(list.stdout) as Record<string, { hosts?: string[]; children?: string[] }> & { _meta: { hostvars: Record<string, Record<string, unknown>> } };
  const inv = await loadInventory([join(dir, "inventory")], {
    vault: new VaultKeys(["default", "prod"].map((id) => ({ id, password: new Secret(readFileSync(join(dir, `pw-${id}`), "utf8").trim()), source: "test" }))),
  });

  // Groups: the same members and children (Ansible's implicit `ungrouped` aside).
  const groups = Object.keys(ansible).filter((g) => g !== "_meta" && g !== "ungrouped");
  assert.equal(groups.sort(), [...inv.groups.keys()].sort());
  for (const g of groups) {
    assert.equal([...(ansible[g]!.hosts ?? [])].sort(), [...inv.groups.get(g)!.hosts].filter((h) => g !== "all" || !ansible.ungrouped?.hosts?.includes(h)).sort(), `hosts of ${g}`);
    assert.equal((ansible[g]!.children ?? []).filter((c) => c !== "ungrouped").sort(), [...inv.groups.get(g)!.children].sort(), `children of ${g}`);
  }
  // Hosts: every one, with Ansible's variables (inline vault values decrypted by ansible-vault).
  const hostvars = ansible._meta.hostvars;
  const allHosts = [...new Set([...Object.keys(hostvars), ...groups.flatMap((g) => ansible[g]!.hosts ?? []), ...(ansible.ungrouped?.hosts ?? [])])];
  assert.equal(allHosts.sort(), [...inv.hosts.keys()].sort());
  for (const name of allHosts) {
    const theirs = (await ansibleDecrypted(hostvars[name] ?? {}, ids, dir)) as Record<string, unknown>;
    const h = inv.hosts.get(name)!;
    const ours = hostVars(inv, name).vars;
    const plain = Object.fromEntries(Object.entries(theirs).filter(([k]) => !k.startsWith("ansible_")));
    assert.equal(revealed(ours), plain, `variables of ${name}`);
    // Ansible's own keys: each mapped to the connection, or listed as ignored.
    const mapped: Record<string, (v: unknown) => void> = {
      ansible_connection: (v) => assert.is(h.conn.local, v === "local"),
      ansible_user: (v) => assert.is(h.conn.user, v),
      ansible_port: (v) => assert.is(h.conn.port, v),
      ansible_ssh_common_args: () => assert.ok(h.conn.sshOptions?.includes("StrictHostKeyChecking no") && h.conn.sshOptions.includes("UserKnownHostsFile /dev/null")),
      ansible_ssh_extra_args: () => assert.ok(h.conn.sshOptions?.includes("ServerAliveInterval 30")),
    };
    for (const [k, v] of Object.entries(theirs).filter(([k]) => k.startsWith("ansible_"))) {
      if (mapped[k]) mapped[k]!(v);
      else assert.ok(inv.ignored.has(k), `${name}: ${k} neither mapped nor listed as ignored`);
    }
  }
  // Decrypted values are Secrets from the start: shown masked by runbook inventory.
  const shown = await runbook(["inventory", "-i", join(dir, "inventory"), "--vars", "cmp2", "--json", ...ids.flatMap((v) => ["--vault-id", v])]);
  assert.is(shown.code, 0, shown.stderr);
  const cmp2 = JSON.parse(shown.stdout) as { vars: Record<string, unknown> };
  assert.equal([cmp2.vars.nova_db_password, cmp2.vars.admin_token, (cmp2.vars.rabbit as Record<string, unknown>).password], ["********", "********", "********"]);
  assert.is(cmp2.vars.workers, 8, "numbers in an encrypted file stay numbers");
  assert.match(shown.stderr, /understood by Ansible, ignored by runbook \(not passed on as variables\):\n {2}ansible_python_interpreter {4}# .*01-hosts:10 \(host stor01\)\n/);
  for (const secret of ["nova-db-18", "rabbit-18", "admin-token-18", "ipmi-18"]) assert.not.ok(shown.stdout.includes(secret), secret);
  const none = await runbook(["inventory", "-i", join(dir, "inventory")]);
  assert.is(none.code, 1);
  assert.match(none.stderr, /group_vars\/all\.yml:2: vault-encrypted, and no vault password was given: use --ask-vault-pass/);
  const wrong = await runbook(["inventory", "-i", join(dir, "inventory"), "--vault-password-file", join(dir, "pw-prod")]);
  assert.is(wrong.code, 1);
  assert.match(wrong.stderr, /group_vars\/all\.yml:2: no vault password given decrypts this; tried default \(.*pw-prod\)/);
});

compare.run();

/** An Ansible-style INI inventory of the lab hosts, with `vars` lines for [lab:vars]. */
function ansibleInventory(lab: Lab, dir: string, vars: string[], opts: { key?: boolean } = {}): string {
  const key = opts.key === false ? [] : [`ansible_ssh_private_key_file=${lab.key}`];
  const lines = ["[lab]", ...lab.hosts.map((h) => `${h.name} ansible_host=${h.address}`), "", "[lab:vars]", ...key, ...vars, ""];
  write(dir, { "inventory/hosts": lines.join("\n") });
  return join(dir, "inventory");
}

/** A home without ~/.ssh, so nothing is found there by accident. */
function emptyHome(): NodeJS.ProcessEnv {
  return { HOME: mkdtempSync(join(tmpdir(), "rb-home-")) };
}

const s = await labSuite("ansible: vault and ssh args on lab hosts", { hosts: 2 });

s("a play whose sudo password and data come from the vault works; the decrypted values appear nowhere in output, --json or history", async ({ lab }) => {
  const tag = randomBytes(5).toString("hex");
  const V = { sudo: `sudo-${tag}`, token: `token-${tag}`, db: `db-${tag}` };
  const setup = [
    "id vaultops >/dev/null 2>&1 || useradd -m -s /bin/sh vaultops",
    "mkdir -p /home/vaultops/.ssh && cp /root/.ssh/authorized_keys /home/vaultops/.ssh/ && chown -R vaultops: /home/vaultops/.ssh",
    `echo 'vaultops:${V.sudo}' | chpasswd`,
    "echo 'vaultops ALL=(ALL:ALL) ALL' > /etc/sudoers.d/vaultops",
  ].join(" && ");
  await Promise.all(lab.hosts.map((h) => ssh(lab, h, setup)));
  const dir = mkdtempSync(join(tmpdir(), "rb-ansible-lab-"));
  write(dir, { pw: "lab-vault-pw\n" });
  const inv = ansibleInventory(lab, dir, ["ansible_user=vaultops", "ansible_become=true", `ansible_ssh_common_args='-o UserKnownHostsFile=${lab.knownHosts}'`]);
  write(dir, { "inventory/group_vars/lab/vault.yml": `ansible_become_password: ${V.sudo}\napp_token: ${V.token}\n` });
  await vaultEncrypt(join(dir, "inventory/group_vars/lab/vault.yml"), `default@${dir}/pw`);
  write(dir, { "inventory/group_vars/lab/plain.yml": await vaultString("db_password", V.db, `default@${dir}/pw`) });

  const state = stateDir();
  const args = ["play", "test/fixtures/playbooks/vault.ts", "-i", inv, "--vault-password-file", join(dir, "pw"), "-vv", "--diff"];
  const text = await runbook(args, { env: emptyHome(), stateDir: state });
  assert.is(text.code, 0, text.stdout + text.stderr);
  const json = await runbook([...args, "--json"], { env: emptyHome(), stateDir: state });
  assert.is(json.code, 0, json.stdout + json.stderr);
  // It worked: sudo with the vault's password, the vault's data on the hosts.
  for (const h of lab.hosts) {
    assert.is((await ssh(lab, h, "stat -c '%U %a' /srv/vault/app.conf && cat /srv/vault/app.conf")).stdout, `root 600\ntoken = ${V.token}\n`);
    assert.is((await ssh(lab, h, "cat /srv/vault/db")).stdout, V.db);
  }
  assert.is(results(json.stdout).filter((e) => e.status === "changed").length, 0, "the second run changes nothing");
  // ...and none of it shows.
  const history = readdirSync(join(state, "runs")).map((f) => readFileSync(join(state, "runs", f), "utf8")).join("\n");
  for (const [where, out] of [["text output", text.stdout + text.stderr], ["--json", json.stdout + json.stderr], ["history", history]] as const) {
    for (const v of [...Object.values(V), "lab-vault-pw"]) assert.not.ok(out.includes(v), `${where} holds ${v}`);
  }
  assert.match(text.stdout, /secret content hidden/, "the diffs of files with vault data show sizes only");

  // The login password from the vault too (no key, no agent), the vault password asked on a terminal.
  const byPassword = ansibleInventory(lab, join(dir, "by-password"), ["ansible_user=vaultops", `ansible_ssh_common_args='-o UserKnownHostsFile=${lab.knownHosts}'`], { key: false });
  write(dir, { "by-password/inventory/group_vars/lab.yml": await vaultString("ansible_password", V.sudo, `default@${dir}/pw`) });
  const adhocState = stateDir();
  const asked = await underPty(["run", "all", "-i", byPassword, "--ask-vault-pass", "--", "id -un"], [[/Vault password/, "lab-vault-pw\r"]], {
    ...emptyHome(),
    SSH_AUTH_SOCK: "",
    RUNBOOK_STATE_DIR: adhocState,
  });
  assert.is(asked.code, 0, asked.out);
  assert.match(asked.out, /tnode\[1-2\] \(2\)\r?\n-+\r?\nvaultops/);
  const adhocHistory = readdirSync(join(adhocState, "runs")).map((f) => readFileSync(join(adhocState, "runs", f), "utf8")).join("\n");
  assert.match(adhocHistory, /vaultops/, "the ad-hoc run is in the history");
  for (const v of [V.sudo, "lab-vault-pw"]) {
    assert.not.ok(asked.out.includes(v), `the terminal shows ${v}`);
    assert.not.ok(adhocHistory.includes(v), `the ad-hoc history holds ${v}`);
  }
});

s("StrictHostKeyChecking=no from ansible_ssh_common_args connects to hosts whose keys are unknown, and says so once", async ({ lab }) => {
  const dir = mkdtempSync(join(tmpdir(), "rb-ansible-hk-"));
  const strict = ansibleInventory(lab, join(dir, "strict"), ["ansible_user=root", "ansible_ssh_common_args='-o UserKnownHostsFile=/dev/null'"]);
  const refused = await runbook(["run", "all", "-i", strict, "--", "hostname"], { env: emptyHome() });
  assert.is(refused.code, 4, refused.stdout + refused.stderr);
  assert.match(refused.stdout, /host key unknown/);
  const off = ansibleInventory(lab, join(dir, "off"), ["ansible_user=root", "ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR'"]);
  const ran = await runbook(["run", "all", "-i", off, "--", "hostname"], { env: emptyHome() });
  assert.is(ran.code, 0, ran.stdout + ran.stderr);
  assert.match(ran.stdout, /tnode1/);
  const warning = /host key checking is off for tnode\[1-2\] \(StrictHostKeyChecking no in the inventory's ssh options or the ssh config\): their identity is not verified/g;
  assert.is((ran.stderr.match(warning) ?? []).length, 1, ran.stderr);
  const played = await runbook(["play", "test/fixtures/playbooks/tiny.ts", "-i", off], { env: emptyHome(), stateDir: stateDir() });
  assert.is(played.code, 0, played.stdout + played.stderr);
  assert.is((played.stdout.match(warning) ?? []).length, 1, played.stdout);
});

s("ProxyCommand from ansible_ssh_common_args carries the connection (here: ssh -W through the other host)", async ({ lab }) => {
  const dir = mkdtempSync(join(tmpdir(), "rb-ansible-pc-"));
  const used = join(dir, "used");
  const proxy = `echo %n >> ${used}; exec ssh -F ${lab.sshConfig} -o BatchMode=yes -W %h:%p tnode2`;
  const inv = ansibleInventory(lab, dir, ["ansible_user=root", `ansible_ssh_common_args='-o UserKnownHostsFile=${lab.knownHosts} -o ProxyCommand="${proxy}"'`]);
  const r = await runbook(["run", "tnode1", "-i", inv, "--", "hostname"], { env: emptyHome() });
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /\ntnode1\n/);
  assert.is(readFileSync(used, "utf8"), "tnode1\n", "the command ran, once, with %n expanded");
  const broken = ansibleInventory(lab, join(dir, "broken"), ["ansible_user=root", `ansible_ssh_common_args='-o ProxyCommand="echo no way >&2; exit 3"'`]);
  const failed = await runbook(["run", "tnode1", "-i", broken, "--", "hostname"], { env: emptyHome() });
  assert.is(failed.code, 4, failed.stdout + failed.stderr);
  assert.match(failed.stdout, /ProxyCommand "echo no way >&2; exit 3" exited with 3: no way/);
});

s.run();
