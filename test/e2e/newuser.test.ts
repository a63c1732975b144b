/**
 * Issue 15 on lab hosts: the lab's generated OpenSSH config used as it is
 * (`-F`, the inventory's `sshConfig`, `~/.ssh/config`), so an inventory of
 * bare names needs no key or known_hosts paths; and `runbook run` with
 * `-u`, `--become`, `--become-user` and `-K`.
 */
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as assert from "uvu/assert";
import type { Lab } from "../lab/lab.ts";
import { labSuite, ssh } from "../lab/fixture.ts";
import { runbook, underPty } from "./harness.ts";

/** An inventory of bare host names: no address, user, key or known_hosts file. */
function bareInventory(lab: Lab, extra = ""): string {
  const dir = mkdtempSync(join(tmpdir(), "rb-bare-"));
  writeFileSync(join(dir, "hosts.ini"), `[clusternode]\n${lab.hosts.map((h) => h.name).join("\n")}\n${extra}`);
  return join(dir, "hosts.ini");
}

/** A home without ~/.ssh (so nothing is found there by accident), or with a given ~/.ssh/config. */
function home(config?: string): NodeJS.ProcessEnv {
  const dir = mkdtempSync(join(tmpdir(), "rb-home-"));
  if (config !== undefined) {
    mkdirSync(join(dir, ".ssh"));
    writeFileSync(join(dir, ".ssh", "config"), config);
  }
  return { HOME: dir, SSH_AUTH_SOCK: "" };
}

const s = await labSuite("issue 15: the lab's ssh_config, run -u/--become/-K", { hosts: 2 });

s("-F with the lab's ssh_config: bare names reach the hosts for run, facts and play; without it they do not", async ({ lab }) => {
  const inv = bareInventory(lab);
  const env = home();
  const run = await runbook(["run", "all", "-i", inv, "-F", lab.sshConfig, "--", "hostname"], { env });
  assert.is(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /^tnode1 \(1\)\n-+\ntnode1\n/m);
  assert.match(run.stdout, /^tnode2 \(1\)\n-+\ntnode2\n/m);
  const facts = await runbook(["facts", "tnode2", "-i", inv, "-F", lab.sshConfig, "--json"], { env });
  assert.is(facts.code, 0, facts.stderr);
  assert.is(JSON.parse(facts.stdout).facts.hostname, "tnode2");
  const play = await runbook(["play", "test/fixtures/playbooks/tiny.ts", "-i", inv, "-F", lab.sshConfig], { env });
  assert.is(play.code, 0, play.stdout + play.stderr);
  const without = await runbook(["run", "tnode1", "-i", inv, "--", "true"], { env });
  assert.is(without.code, 4, "no config: the bare name does not resolve to the lab host");
});

s("the inventory's sshConfig and ~/.ssh/config (as OpenSSH reads by default) do the same without -F", async ({ lab }) => {
  const viaInventory = await runbook(["run", "all", "-i", bareInventory(lab, `[all:vars]\nsshConfig=${lab.sshConfig}\n`), "--", "hostname"], { env: home() });
  assert.is(viaInventory.code, 0, viaInventory.stdout + viaInventory.stderr);
  assert.match(viaInventory.stdout, /^tnode2$/m);
  const viaHome = await runbook(["run", "tnode1", "-i", bareInventory(lab), "--", "hostname"], { env: home(`Include ${lab.sshConfig}\n`) });
  assert.is(viaHome.code, 0, viaHome.stdout + viaHome.stderr);
  assert.match(viaHome.stdout, /^tnode1$/m);
});

s("run -u USER logs in as USER; --become, --become-user and -K (asked once on a terminal) go through sudo", async ({ lab }) => {
  const setup = [
    "useradd -m -s /bin/sh ops; mkdir -p /home/ops/.ssh; cp /root/.ssh/authorized_keys /home/ops/.ssh/; chown -R ops: /home/ops/.ssh",
    "echo 'ops:opspw-15' | chpasswd",
    "echo 'ops ALL=(ALL:ALL) ALL' > /etc/sudoers.d/ops",
  ].join(" && ");
  await Promise.all(lab.hosts.map((h) => ssh(lab, h, setup)));
  const inv = bareInventory(lab);
  const env = home();
  const as = await runbook(["run", "all", "-i", inv, "-F", lab.sshConfig, "-u", "ops", "--", "id -un"], { env });
  assert.is(as.code, 0, as.stderr);
  assert.match(as.stdout, /^tnode\[1-2\] \(2\)\n-+\nops\n$/m);
  const become = await runbook(["run", "all", "-i", inv, "-F", lab.sshConfig, "-u", "ops", "-b", "--", "id -un"], { env: { ...env, RUNBOOK_BECOME_PASSWORD: "opspw-15" } });
  assert.is(become.code, 0, become.stdout + become.stderr);
  assert.match(become.stdout, /\nroot\n/);
  const other = await runbook(["run", "tnode1", "-i", inv, "-F", lab.sshConfig, "--become-user", "nobody", "--", "id -un"], { env });
  assert.is(other.code, 0, other.stdout + other.stderr);
  assert.match(other.stdout, /\nnobody\n/);
  const noTerminal = await runbook(["run", "all", "-i", inv, "-F", lab.sshConfig, "-u", "ops", "-K", "--", "id -un"], { env });
  assert.is(noTerminal.code, 1);
  assert.match(noTerminal.stderr, /-K needs a terminal/);
  const asked = await underPty(["run", "all", "-i", inv, "-F", lab.sshConfig, "-u", "ops", "-K", "--", "id -un"], [[/BECOME \(sudo\) password/, "opspw-15\r"]], env);
  assert.is(asked.code, 0, asked.out);
  assert.ok((asked.out.match(/BECOME \(sudo\) password/g) ?? []).length >= 1);
  assert.match(asked.out, /tnode\[1-2\] \(2\)\r?\n-+\r?\nroot/);
  assert.not.ok(asked.out.includes("opspw-15"));
});

s.run();
