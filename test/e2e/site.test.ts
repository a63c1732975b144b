/**
 * playbooks/site.ts, the reference cluster's playbook, on a 3-host triangle
 * lab: a dry run that writes nothing, --limit by lab name, convergence, and
 * the admin account it leaves behind.
 */
import * as assert from "uvu/assert";
import { labSuite, ssh } from "../lab/fixture.ts";
import { run } from "../lab/sh.ts";
import { recap, runbook, stateDir, upperSnapshot } from "./harness.ts";


const s = await labSuite("site.ts on the triangle", { hosts: 3, topology: "triangle" });

s("--check --diff on fresh hosts predicts the changes and writes nothing; the admin's hash given with -e stays secret", async ({ lab }) => {
  const before = await Promise.all(lab.hosts.map(upperSnapshot));
  // The secret prompt's value given with -e (issue 11: it lost its Secret wrapper and the run crashed).
  const hash = "$6$rbsalt$site-check-hash-4711";
  const r = await runbook(["play", "playbooks/site.ts", "-i", lab.inventory, "--check", "--diff", "-v", "-e", `adminPasswordHash=${hash}`]);
  assert.is(r.code, 0, r.stdout.slice(-3000) + r.stderr);
  assert.not.ok(r.stdout.includes("site-check-hash-4711"), "the hash is in the output");
  assert.match(r.stdout, /would change\s+base-os › user clusteradm\s+\(create user clusteradm \(.*password set\)\)/);
  assert.equal(await Promise.all(lab.hosts.map(upperSnapshot)), before);
  assert.match(r.stdout, /would change\s+base-os › user clusteradm/);
  assert.match(r.stdout, /\+\+\+ b\/etc\/sudoers\.d\/runbook/);
  assert.match(r.stdout, /RECAP \(check mode: changes predicted, none made\)/);
});

s("--limit tnode2 changes only tnode2; the full run then converges everything; a second run changes nothing", async ({ lab }) => {
  const state = stateDir();
  const one = await runbook(["play", "playbooks/site.ts", "-i", lab.inventory, "--limit", "tnode2", "--json"], { stateDir: state });
  assert.is(one.code, 0, one.stdout.slice(-3000));
  assert.equal(Object.keys(recap(one.stdout)), ["tnode2"]);
  assert.ok(recap(one.stdout).tnode2!.changed > 10);
  assert.is((await ssh(lab, "tnode1", "id clusteradm", { allowFail: true })).code, 1, "tnode1 untouched");

  const all = await runbook(["play", "playbooks/site.ts", "-i", lab.inventory, "--json"], { stateDir: state });
  assert.is(all.code, 0);
  const r = recap(all.stdout);
  assert.is(r.tnode2!.changed, 0);
  assert.ok(r.tnode1!.changed > 10 && r.tnode3!.changed > 10);

  const again = await runbook(["play", "playbooks/site.ts", "-i", lab.inventory, "--json"], { stateDir: state });
  for (const [host, c] of Object.entries(recap(again.stdout))) assert.is(c.changed, 0, `${host} changed on the second run`);
});

s("the admin logs in with the lab key and has passwordless sudo; password logins are refused; sudoers is valid", async ({ lab }) => {
  for (const h of lab.hosts) {
    const r = await run("ssh", ["-F", lab.sshConfig, "-o", "BatchMode=yes", "-l", "clusteradm", h.name, "sudo -n true && id -nG"]);
    assert.match(r.stdout, /\busers\b.*\bwheel\b|\bwheel\b/);
    const pw = await run("ssh", ["-F", lab.sshConfig, "-o", "BatchMode=yes", "-o", "PreferredAuthentications=password", "-o", "IdentitiesOnly=yes", "-l", "clusteradm", h.name, "true"], { allowFail: true });
    assert.is.not(pw.code, 0);
    assert.match(pw.stderr, /Permission denied \(publickey\)/);
    assert.is((await ssh(lab, h, "visudo -c >/dev/null && echo valid")).stdout, "valid\n");
  }
  // The cluster LAN of the triangle is up: tnode1 reaches tnode2 over link 1.
  assert.is((await ssh(lab, "tnode1", "ping -c1 -W2 192.168.11.2 >/dev/null && echo up")).stdout, "up\n");
});

s.run();
