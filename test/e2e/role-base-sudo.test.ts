/**
 * Roles base-os and sudo on three real lab hosts (tnode1 Debian with tini as
 * PID 1, tnode2 Debian booted by systemd, tnode3 Slackware-flavoured), wired as the reference's triangle, through
 * the CLI with test/fixtures/playbooks/base-sudo.ts:
 *
 * - `--check --diff` on fresh hosts predicts the changes and writes nothing
 *   (overlay upper dirs byte for byte, and no live address added);
 * - the first run changes, the second reports 0 changed;
 * - afterwards clusteradm logs in with the lab key and `sudo -n true`
 *   works, sshd refuses passwords, `visudo -c` passes, and the files of
 *   each family's layout hold the reference's values;
 * - a broken sudoers rule given through params fails validation, the run
 *   reports the failure, and the sudoers files stay as they were;
 * - a sudoers that lost its `@includedir` line gets it back (validated).
 */
import { readFileSync } from "node:fs";
import * as assert from "uvu/assert";
import { labSuite, ssh } from "../lab/fixture.ts";
import type { Lab, LabHost } from "../lab/lab.ts";
import { run } from "../lab/sh.ts";
import { events, recap, results, runbook, stateDir, upperSnapshot } from "./harness.ts";

const PLAYBOOK = "test/fixtures/playbooks/base-sudo.ts";
// openssl passwd -6 -salt rbtestsalt1 clusteradm-pw
const HASH = "$6$rbtestsalt1$CEQFnr5r.aMO0MONiZiix0h8J1EbU33jnIBBYexp/TyybKjH25eBwC2zIJqBzLpY2hmFtE39w.xFOtuDG9tXa/";


/** `runbook play` of the fixture with the lab key as the admin's key; `extra` adds to the -e JSON. */
function play(lab: Lab, args: string[], extra: Record<string, unknown> = {}, state = stateDir()) {
  const vars = { admin_key: readFileSync(`${lab.key}.pub`, "utf8").trim(), admin_hash: HASH, ...extra };
  return runbook(["play", PLAYBOOK, "-i", lab.inventory, "--json", "-e", JSON.stringify(vars), ...args], { stateDir: state });
}

/** ssh as clusteradm with the lab's client config (its key, known_hosts); never prompts. */
function asAdmin(lab: Lab, host: LabHost, command: string, opts: string[] = []) {
  return run("ssh", ["-F", lab.sshConfig, "-o", "BatchMode=yes", ...opts, "-l", "clusteradm", host.name, command], { allowFail: true });
}

const out = async (lab: Lab, host: LabHost, cmd: string) => (await ssh(lab, host, cmd)).stdout;
// IPv4 only: link-local IPv6 addresses of the lab's fresh veths may still be appearing.
const liveAddrs = (lab: Lab, host: LabHost) => out(lab, host, "ip -o -4 addr show | awk '{print $2, $4}' | sort");
const sudoersSums = (lab: Lab, host: LabHost) => out(lab, host, "sha256sum /etc/sudoers /etc/sudoers.d/*; ls -la /etc/sudoers.d | awk '{print $1, $3, $4, $NF}'");

const s = await labSuite("roles: base-os and sudo", { hosts: 3, topology: "triangle", slackware: [3], systemd: [2] });
const state = stateDir();

s("--check --diff on fresh hosts predicts every change and writes nothing", async ({ lab }) => {
  const before = await Promise.all(lab.hosts.map(upperSnapshot));
  const liveBefore = await Promise.all(lab.hosts.map((h) => liveAddrs(lab, h)));
  const r = await play(lab, ["--check", "--diff"]);
  assert.is(r.code, 0, r.stderr + r.stdout.slice(-3000));
  assert.equal(await Promise.all(lab.hosts.map(upperSnapshot)), before, "no file changed on any host");
  assert.equal(await Promise.all(lab.hosts.map((h) => liveAddrs(lab, h))), liveBefore, "no address added live");

  const res = results(r.stdout);
  const changed = res.filter((e) => e.status === "changed");
  assert.ok(changed.length > 0 && changed.every((e) => e.predicted), "changes are predicted, not made");
  assert.not.ok(res.some((e) => e.status === "failed"), "nothing fails in check mode");
  for (const [host, c] of Object.entries(recap(r.stdout))) assert.ok(c.changed >= 14, `${host}: ${c.changed} changes predicted`);

  // The diffs say what would land: the drop-in with the family's group, sshd without passwords, the addresses.
  const diff = (host: string, path: string) => res.find((e) => e.host === host && e.diffs?.some((d) => d.path === path))?.diffs?.find((d) => d.path === path);
  assert.match(diff("tnode1", "/etc/sudoers.d/runbook")?.after ?? "", /^%sudo ALL=\(ALL:ALL\) NOPASSWD: ALL$/m);
  assert.match(diff("tnode3", "/etc/sudoers.d/runbook")?.after ?? "", /^%wheel ALL=\(ALL:ALL\) NOPASSWD: ALL$/m);
  assert.match(diff("tnode3", "/etc/sudoers.d/runbook")?.after ?? "", /^Defaults secure_path="\/usr\/local\/sbin:\/usr\/local\/bin:\/usr\/sbin:\/usr\/bin:\/sbin:\/bin:\/opt\/java17\/bin:\/opt\/go\/bin"$/m);
  assert.match(diff("tnode2", "/etc/ssh/sshd_config")?.after ?? "", /^PasswordAuthentication no$/m);
  assert.match(diff("tnode3", "/etc/rc.d/rc.inet1.conf")?.after ?? "", /^IPADDRS\[1\]="192\.168\.33\.1\/30"$/m);
  assert.match(diff("tnode1", "/etc/network/interfaces.d/runbook")?.after ?? "", /^iface eth1 inet static\n {4}address 192\.168\.11\.1\/30$/m);
  // The handler is reported, not run.
  assert.ok(res.some((e) => e.host === "tnode1" && e.role === "handler: reload sshd" && e.status === "changed" && e.predicted));
  assert.not.ok(r.stdout.includes(HASH.slice(20)), "the password hash is not in the output");
});

s("the first run changes, the second reports 0 changed (and check mode agrees)", async ({ lab }) => {
  const first = await play(lab, [], {}, state);
  assert.is(first.code, 0, first.stderr + first.stdout.slice(-3000));
  for (const [host, c] of Object.entries(recap(first.stdout))) {
    assert.is(c.failed, 0, host);
    assert.ok(c.changed >= 14, `${host}: ${c.changed} changed`);
  }
  assert.not.ok(first.stdout.includes(HASH.slice(20)), "the password hash is not in the output");
  // On the systemd host sshd is a unit: the handler reloads it through systemd, and it stays up.
  const reload = results(first.stdout).find((e) => e.host === "tnode2" && e.role === "handler: reload sshd");
  assert.equal(reload?.commands, ["systemctl reload ssh"]);
  assert.is((await ssh(lab, lab.hosts[1]!, "systemctl is-active ssh")).stdout, "active\n");

  const second = await play(lab, [], {}, state);
  assert.is(second.code, 0, second.stderr);
  const r2 = recap(second.stdout);
  assert.equal(Object.keys(r2).sort(), ["tnode1", "tnode2", "tnode3"]);
  for (const [host, c] of Object.entries(r2)) {
    const moved = results(second.stdout).filter((e) => e.host === host && e.status !== "ok").map((e) => `${e.task}: ${e.status} (${e.reason})`);
    assert.equal({ changed: c.changed, failed: c.failed, skipped: c.skipped }, { changed: 0, failed: 0, skipped: 0 }, `${host}: ${moved.join("; ")}`);
  }
  const reasons = results(second.stdout).filter((e) => e.host === "tnode3").map((e) => e.reason);
  assert.ok(reasons.includes("/etc/sudoers.d/runbook content and attributes match"), reasons.join("\n"));
  assert.ok(reasons.includes("user clusteradm matches (uid 1050, group users, groups wheel, password matches)"), reasons.join("\n"));

  const check = await play(lab, ["--check"], {}, state);
  assert.is(check.code, 0);
  for (const c of Object.values(recap(check.stdout))) assert.is(c.changed, 0);
});

s("clusteradm logs in with the lab key and sudo -n works; sshd refuses passwords; visudo -c passes", async ({ lab }) => {
  await Promise.all(lab.hosts.map(async (host) => {
    const sudo = await asAdmin(lab, host, "sudo -n true && echo sudo-ok && id -un && id -Gn && sudo -n printenv PATH");
    assert.is(sudo.code, 0, `${host.name}: ${sudo.stderr}`);
    // Debian: also in sudo, the group the sudo role grants there (wheel is created for the reference's consistency).
    const groups = host.flavour === "debian" ? "users sudo wheel" : "users wheel";
    assert.is(sudo.stdout, `sudo-ok\nclusteradm\n${groups}\n/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/opt/java17/bin:/opt/go/bin\n`, host.name);

    const pw = await asAdmin(lab, host, "true", ["-o", "PreferredAuthentications=password,keyboard-interactive", "-o", "PubkeyAuthentication=no"]);
    assert.is.not(pw.code, 0);
    assert.match(pw.stderr, /Permission denied \(publickey\)/, `${host.name}: the server offers publickey only`);

    const root = await out(
      lab,
      host,
      [
        "sshd -T | grep -E '^(passwordauthentication|kbdinteractiveauthentication) '",
        "visudo -c | grep '^/etc/sudoers:'",
        "stat -c '%a %U %G %n' /etc/sudoers.d/runbook /home/clusteradm/.ssh /home/clusteradm/.ssh/authorized_keys",
        "getent passwd clusteradm",
        "getent shadow clusteradm | cut -d: -f2",
      ].join("; "),
    );
    assert.is(
      root,
      [
        "passwordauthentication no",
        "kbdinteractiveauthentication no",
        "/etc/sudoers: parsed OK",
        "440 root root /etc/sudoers.d/runbook",
        "700 clusteradm users /home/clusteradm/.ssh",
        "644 clusteradm users /home/clusteradm/.ssh/authorized_keys",
        "clusteradm:x:1050:100::/home/clusteradm:/bin/bash",
        HASH,
        "",
      ].join("\n"),
      host.name,
    );
  }));
});

s("names, timezone and the cluster LAN: each family's files, and live addresses that answer", async ({ lab }) => {
  const [t1, t2, t3] = lab.hosts as [LabHost, LabHost, LabHost];
  await Promise.all(lab.hosts.map(async (host) => {
    const n = host.index;
    const got = await out(lab, host, "grep -F 10.50.1.2 /etc/hosts; readlink /etc/localtime; cat /etc/timezone; ip -o addr show dev lo | grep -c ' 10\\.50\\.1\\.'; ip -o addr show dev eth0 | grep -c -e ' 192\\.168\\.' -e ' 10\\.50\\.'; true");
    assert.match(got, new RegExp(`^10\\.50\\.1\\.2\ttnode2-lo\\.cluster\\.local tnode2-lo\n/usr/share/zoneinfo/America/Chicago\n(Etc/UTC|America/Chicago)\n1\n0\n$`), host.name);
    // /etc/timezone is Debian's: the Slackware host keeps the lab rootfs's copy.
    if (host.flavour === "debian") assert.match(got, /\nAmerica\/Chicago\n1\n0\n$/, host.name);
    assert.match(await out(lab, host, "ip -o addr show dev lo"), new RegExp(`inet 10\\.50\\.1\\.${n}/32 `));
  }));
  assert.is(
    await out(lab, t1, "grep -v '^#' /etc/network/interfaces.d/runbook"),
    "\nauto eth1\niface eth1 inet static\n    address 192.168.11.1/30\n\nauto eth2\niface eth2 inet static\n    address 192.168.33.2/24\n\niface lo inet static\n    address 10.50.1.1/32\n",
  );
  // Slackware: hostname file, rc.inet1.conf, rc.inet3 run by rc.local, rc.local_shutdown.
  const slack = await out(lab, t3, "cat /etc/HOSTNAME; stat -c %a /etc/rc.d/rc.inet3 /etc/rc.d/rc.local /etc/rc.d/rc.local_shutdown; cat /etc/rc.d/rc.inet1.conf");
  assert.match(slack, /^tnode3\n755\n755\n755\n/);
  assert.match(slack, /# IPv4 config options for eth1:\nIPADDRS\[1\]="192\.168\.33\.1\/30"\n/);
  assert.match(slack, /^IPADDRS\[2\]="192\.168\.22\.2\/24"$/m);
  assert.match(await out(lab, t3, "cat /etc/rc.d/rc.inet3"), /^#!\/bin\/sh\n[^]*\nip addr replace 10\.50\.1\.3\/32 dev lo\n# more network commands go here\n$/);
  assert.match(await out(lab, t3, "cat /etc/rc.d/rc.local"), /\nif \[ -x \/etc\/rc\.d\/rc\.inet3 \]; then\n {2}\/etc\/rc\.d\/rc\.inet3\nfi\n/);
  assert.is(await out(lab, t3, "sh /etc/rc.d/rc.local && echo boot-ok"), "boot-ok\n", "rc.local runs rc.inet3 cleanly again");
  // Link 1 of the triangle (tnode1 eth1 <-> tnode2 eth2) carries the new addresses.
  assert.match(await out(lab, t1, "ping -c 1 -W 2 192.168.11.2"), /1 received/);
  assert.match(await out(lab, t2, "ip -o addr show dev eth2"), /inet 192\.168\.11\.2\/24 /);
});

s("an address dropped from the params: named in a warning and left, or removed with pruneAddresses", async ({ lab }) => {
  const t1 = lab.hosts[0]!;
  const eth2 = () => out(lab, t1, "ip -o -4 addr show dev eth2 scope global | awk '{print $4}'");
  const lan = { eth1: ["192.168.11.1/30"], eth2: ["192.168.33.9/24"], lo: ["10.50.1.1/32"] };
  const warned = await play(lab, ["--limit", "tnode1"], { lan }, state);
  assert.is(warned.code, 0, warned.stderr);
  assert.ok(
    events(warned.stdout).some((e) => e.type === "message" && e.level === "warn" && e.text === "base-os: eth2 also carries 192.168.33.2/24, not in addresses (left as is; pruneAddresses: true removes it)"),
    "the extra address is named",
  );
  // The README promises "the run says so" when ifupdown is missing (the lab's Debian): a warning, not a -v note.
  assert.ok(
    events(warned.stdout).some((e) => e.type === "message" && e.level === "warn" && e.text.startsWith("base-os: /etc/network/interfaces does not exist (ifupdown not installed)")),
    "no ifupdown: said without -v",
  );
  assert.is(await eth2(), "192.168.33.2/24\n192.168.33.9/24\n");

  const pruned = await play(lab, ["--limit", "tnode1"], { lan, prune: true }, state);
  assert.is(pruned.code, 0, pruned.stderr);
  assert.ok(results(pruned.stdout).some((e) => e.task === "eth2: remove 192.168.33.2/24" && e.status === "changed"));
  assert.is(await eth2(), "192.168.33.9/24\n");

  // Back to the playbook's own addresses, and converged.
  assert.is((await play(lab, ["--limit", "tnode1"], { prune: true }, state)).code, 0);
  assert.is(await eth2(), "192.168.33.2/24\n");
  const again = await play(lab, ["--limit", "tnode1"], { prune: true }, state);
  assert.is(recap(again.stdout).tnode1?.changed, 0);
});

s("a broken sudoers rule from params fails validation; the run says so and sudoers stays as it was", async ({ lab }) => {
  const before = await Promise.all(lab.hosts.map((h) => sudoersSums(lab, h)));
  const upper = await upperSnapshot(lab.hosts[2]!);
  const r = await play(lab, [], { sudo: { rules: ["this is not sudoers syntax"] } }, state);
  assert.is(r.code, 2, "a host failed");
  for (const [host, c] of Object.entries(recap(r.stdout))) {
    assert.is(c.failed, 1, host);
    assert.is(c.changed, 0, host);
  }
  const failed = results(r.stdout).filter((e) => e.status === "failed");
  assert.is(failed.length, 3);
  for (const f of failed) {
    assert.is(f.task, "template /etc/sudoers.d/runbook");
    assert.match(f.reason, /validated by: visudo -cf %s: .*syntax error/);
  }
  assert.equal(await Promise.all(lab.hosts.map((h) => sudoersSums(lab, h))), before, "sudoers files unchanged, no temp file left");
  assert.is(await upperSnapshot(lab.hosts[2]!), upper, "nothing at all changed on tnode3");
  const still = await Promise.all(lab.hosts.map((host) => asAdmin(lab, host, "sudo -n true")));
  assert.equal(still.map((x) => x.code), [0, 0, 0], "clusteradm still has sudo");
});

s("a sudoers without the drop-in directory gets it back, validated, and sudo works again", async ({ lab }) => {
  const t2 = lab.hosts[1]!;
  await ssh(lab, t2, "sed -i '/^[#@]includedir/d' /etc/sudoers");
  assert.is.not((await asAdmin(lab, t2, "sudo -n true")).code, 0, "without the drop-in clusteradm has no NOPASSWD rule");
  const r = await play(lab, ["--limit", "tnode2"], {}, state);
  assert.is(r.code, 0, r.stderr + r.stdout.slice(-2000));
  const changed = results(r.stdout).filter((e) => e.status === "changed");
  assert.equal(changed.map((e) => e.task), ["include /etc/sudoers.d from /etc/sudoers"]);
  assert.match(await out(lab, t2, "tail -n 1 /etc/sudoers; stat -c '%a %U %G' /etc/sudoers"), /^@includedir \/etc\/sudoers\.d\n440 root root\n$/);
  assert.is((await asAdmin(lab, t2, "sudo -n true")).code, 0);
});

s.run();
