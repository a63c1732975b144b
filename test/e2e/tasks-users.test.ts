/**
 * The system tasks on real lab hosts (tnode1 Debian, tnode2 Slackware
 * flavour): user, group, authorizedKey, sysctl, mount, download, waitFor,
 * reboot (check mode in the lab: a lab host shares the machine's boot id; the reconnect wait is unit-tested), hostname, hostsFile.
 *
 * Every changing task is proven the same way (`prove`): check mode predicts
 * the change and leaves the host as it was (overlay upper dir byte for byte,
 * plus the live state a file snapshot cannot see), the first real run
 * changes, the second reports ok with its no-op reason, and check mode then
 * agrees. Diffs are checked where a file's content changes.
 */
import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import * as assert from "uvu/assert";
import { SshConnection } from "../../runner/connection/ssh.ts";
import { secret } from "../../runner/secret.ts";
import type { FileDiff } from "../../runner/task.ts";
import { groupTask, hostnameTask, sysctlTask, userTask } from "../../tasks/index.ts";
import { labSuite } from "../lab/fixture.ts";
import type { Lab, LabHost } from "../lab/lab.ts";
import { suiteContexts, upperSnapshot } from "./harness.ts";

// openssl passwd -6 -salt rbtestsalt1 clusteradm-pw / -salt rbtestsalt2 second-pw
const HASH1 = "$6$rbtestsalt1$CEQFnr5r.aMO0MONiZiix0h8J1EbU33jnIBBYexp/TyybKjH25eBwC2zIJqBzLpY2hmFtE39w.xFOtuDG9tXa/";
const HASH2 = "$6$rbtestsalt2$IK33.xmKI./q0icY5LGwoH8R0rQ0DFuycW5WrVJ8J7dQjaq.3UO1iOYnugU9GxVa.kb8XFO12utITj6pcZS/b/";
const OTHER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIqpyyh44Hz3gvhISaIE9yJ/ao8fBLNo7qwPJcYjQdIl root@odin.cluster.local";

const s = await labSuite("tasks: users, system, network files", { hosts: 2, slackware: [2] });

const { ctx, sh, out, prove } = suiteContexts(s, { diff: true });


const diffOf = (d: FileDiff[], path: string) => {
  const f = d.find((x) => x.path === path);
  assert.ok(f, `a diff for ${path}`);
  return f!;
};

// ---------------------------------------------------------------- groups, users

s("group: create with gid, idempotent, gid change, absent", async ({ lab }) => {
  const [t1] = lab.hosts as [LabHost];
  await prove(lab, t1, (h) => h.task(groupTask, { name: "wheel" }), { change: /^create group wheel$/, noop: /^group wheel exists \(gid \d+\)$/ });
  await prove(lab, t1, (h) => h.task(groupTask, { name: "rbops", gid: 1500 }), { change: /^create group rbops \(gid 1500\)$/, noop: /^group rbops exists \(gid 1500\)$/ });
  assert.match(await out(lab, t1, "getent group rbops"), /^rbops:x:1500:$/m);
  await prove(lab, t1, (h) => h.task(groupTask, { name: "rbops", gid: 1501 }), { change: /^group rbops: gid 1500 -> 1501$/, noop: /gid 1501/ });
  await prove(lab, t1, (h) => h.task(groupTask, { name: "rbops", state: "absent" }), { change: /^remove group rbops \(gid 1501\)$/, noop: /^group rbops is absent$/ });
});

for (const i of [0, 1]) {
  s(`user: clusteradm as in reference 000 (uid 1050, group users, wheel) with a password hash (${i ? "slackware" : "debian"})`, async ({ lab }) => {
    const host = lab.hosts[i]!;
    const real = await ctx(lab, host, false);
    if (i === 1) await real.h.task(groupTask, { name: "wheel" });
    const admin = { name: "clusteradm", uid: 1050, group: "users", groups: ["wheel"], shell: "/bin/bash" } as const;
    await prove(lab, host, (h) => h.task(userTask, { ...admin, password: secret(HASH1) }), {
      change: /^create user clusteradm \(uid 1050, group users, groups wheel, password set\)$/,
      noop: /^user clusteradm matches \(uid 1050, group users, groups wheel, password matches\)$/,
    });
    assert.match(await out(lab, host, "getent passwd clusteradm"), /^clusteradm:x:1050:100::\/home\/clusteradm:\/bin\/bash$/m);
    assert.match(await out(lab, host, "id -Gn clusteradm"), /^users wheel$/m);
    assert.is((await out(lab, host, "getent shadow clusteradm")).split(":")[1], HASH1);
    assert.match(await out(lab, host, "stat -c '%U %G' /home/clusteradm"), /^clusteradm users$/m);

    // A new hash (plain string this time): only the password changes.
    await prove(lab, host, (h) => h.task(userTask, { ...admin, password: HASH2 }), { change: /^user clusteradm: password changed$/, noop: /password matches/ });
    assert.is((await out(lab, host, "getent shadow clusteradm")).split(":")[1], HASH2);
    // updatePassword: onCreate leaves an existing user's hash alone.
    const keep = await real.h.task(userTask, { ...admin, password: HASH1, updatePassword: "onCreate" });
    assert.is(keep.status, "ok");

    // The hash never left the host or went into any event, in either mode.
    const all = JSON.stringify([real.events, (await ctx(lab, host, true)).events]);
    for (const hash of [HASH1, HASH2]) {
      assert.not.ok(all.includes(hash), "hash not in events");
      assert.not.ok(all.includes(hash.slice(20)), "no part of the hash in events");
    }
    assert.match(all, /chpasswd -e \(clusteradm's hash on stdin\)/);
  });
}

s("user: shell, groups (append and exact), uid; absent with its home", async ({ lab }) => {
  const [t1] = lab.hosts as [LabHost];
  const real = await ctx(lab, t1, false);
  await real.h.task(groupTask, { name: "rbextra" });
  await prove(lab, t1, (h) => h.task(userTask, { name: "clusteradm", shell: "/bin/sh", groups: ["rbextra"] }), {
    change: /^user clusteradm: groups \+rbextra, shell \/bin\/bash -> \/bin\/sh$/,
    noop: /^user clusteradm matches \(uid 1050, group users, groups rbextra\)$/,
  });
  assert.match(await out(lab, t1, "id -Gn clusteradm"), /^users wheel rbextra$/m, "append keeps wheel");
  await prove(lab, t1, (h) => h.task(userTask, { name: "clusteradm", groups: ["wheel"], append: false }), {
    change: /^user clusteradm: groups -rbextra$/,
    noop: /groups wheel/,
  });
  assert.match(await out(lab, t1, "id -Gn clusteradm"), /^users wheel$/m, "exact set");

  await prove(lab, t1, (h) => h.task(userTask, { name: "rbsvc", system: true, createHome: false, shell: "/usr/sbin/nologin" }), {
    change: /^create user rbsvc \(system\)$/,
    noop: /^user rbsvc matches/,
  });
  await prove(lab, t1, (h) => h.task(userTask, { name: "rbsvc", uid: 1777 }), { change: /^user rbsvc: uid \d+ -> 1777$/, noop: /uid 1777/ });
  await real.h.task(userTask, { name: "rbgone", createHome: true });
  assert.match(await out(lab, t1, "ls -d /home/rbgone"), /rbgone/);
  await prove(lab, t1, (h) => h.task(userTask, { name: "rbgone", state: "absent", removeHome: true }), {
    change: /^remove user rbgone \(uid \d+\) and its home$/,
    noop: /^user rbgone is absent$/,
  });
  assert.is((await sh(lab, t1, "ls -d /home/rbgone", { allowFail: true })).code, 2);
});

s("user: clear text instead of a hash is refused, and not echoed", async ({ lab }) => {
  const [t1] = lab.hosts as [LabHost];
  const real = await ctx(lab, t1, false);
  const r = await real.h.task(userTask, { name: "clusteradm", password: "hunter2-cleartext" }, { ignoreErrors: true });
  assert.is(r.status, "failed");
  assert.match(r.reason, /expected a crypt\(3\) hash/);
  assert.not.ok(JSON.stringify(real.events).includes("hunter2-cleartext"));
});

// ---------------------------------------------------------------- authorized keys

s("authorizedKey: ~/.ssh 0700 and authorized_keys 0600 owned by the user; the key logs in", async ({ lab }) => {
  const [t1] = lab.hosts as [LabHost];
  const labKey = (await out(lab, t1, "cat /root/.ssh/authorized_keys")).trim();
  await prove(lab, t1, (h) => h.authorizedKey({ user: "clusteradm", key: labKey }), {
    change: /^create \/home\/clusteradm\/\.ssh; \/home\/clusteradm\/\.ssh\/authorized_keys: add ssh-ed25519 key \(runbook-lab-\d+\)$/,
    noop: /^\/home\/clusteradm\/\.ssh\/authorized_keys: 1 key present$/,
    diff: (d) => {
      const f = diffOf(d, "/home/clusteradm/.ssh/authorized_keys");
      assert.is(f.before, null);
      assert.is(f.after, `${labKey}\n`);
    },
  });
  assert.is(await out(lab, t1, "stat -c '%a %U %G' /home/clusteradm/.ssh /home/clusteradm/.ssh/authorized_keys"), "700 clusteradm users\n600 clusteradm users\n");
  // sshd (StrictModes) accepts what we wrote: log in as clusteradm with the lab key.
  const conn = await SshConnection.open({ host: t1.name, address: t1.address, user: "clusteradm", keyFiles: [lab.key], agent: "", knownHostsFiles: [lab.knownHosts] });
  assert.is((await conn.run("id -un")).stdout, "clusteradm\n");
  await conn.close();

  // Another comment on the same key is the same key.
  const relabelled = labKey.replace(/runbook-lab-\d+$/, "someone@else");
  const same = await (await ctx(lab, t1, false)).h.authorizedKey({ user: "clusteradm", key: relabelled });
  assert.is(same.status, "ok");

  // A second key is appended, the first kept.
  await prove(lab, t1, (h) => h.authorizedKey({ user: "clusteradm", key: [labKey, OTHER_KEY] }), {
    change: /^\/home\/clusteradm\/\.ssh\/authorized_keys: add ssh-ed25519 key \(root@odin\.cluster\.local\)$/,
    noop: /2 keys present/,
    diff: (d) => assert.is(diffOf(d, "/home/clusteradm/.ssh/authorized_keys").after, `${labKey}\n${OTHER_KEY}\n`),
  });
  // Options on a key replace its line.
  await prove(lab, t1, (h) => h.authorizedKey({ user: "clusteradm", key: `from="10.88.0.0/16" ${OTHER_KEY}` }), {
    change: /update options of ssh-ed25519 key/,
    noop: /1 key present/,
  });
  // Exclusive: only the lab key stays.
  await prove(lab, t1, (h) => h.authorizedKey({ user: "clusteradm", key: labKey, exclusive: true }), {
    change: /remove ssh-ed25519 key \(root@odin\.cluster\.local\) \(exclusive\)/,
    noop: /1 key present \(exclusive\)/,
    diff: (d) => assert.is(diffOf(d, "/home/clusteradm/.ssh/authorized_keys").after, `${labKey}\n`),
  });
  // Wrong modes are repaired without rewriting the file.
  await sh(lab, t1, "chmod 0755 /home/clusteradm/.ssh && chmod 0644 /home/clusteradm/.ssh/authorized_keys");
  await prove(lab, t1, (h) => h.authorizedKey({ user: "clusteradm", key: labKey }), {
    change: /^\/home\/clusteradm\/\.ssh: mode 755 -> 700; \/home\/clusteradm\/\.ssh\/authorized_keys: mode 644 -> 600$/,
    noop: /1 key present/,
  });
  // The reference's 0644 on request.
  await prove(lab, t1, (h) => h.authorizedKey({ user: "clusteradm", key: labKey, mode: "0644" }), { change: /mode 600 -> 644/, noop: /1 key present/ });
  await prove(lab, t1, (h) => h.authorizedKey({ user: "clusteradm", key: labKey, state: "absent" }), {
    change: /remove ssh-ed25519 key/,
    noop: /key\(s\) already absent/,
    diff: (d) => assert.is(diffOf(d, "/home/clusteradm/.ssh/authorized_keys").after, ""),
  });
});

s("authorizedKey: a user that does not exist yet is predicted in check mode, fails for real", async ({ lab }) => {
  const [t1] = lab.hosts as [LabHost];
  const before = await upperSnapshot(t1);
  const p = await (await ctx(lab, t1, true)).h.authorizedKey({ user: "nobody-yet", key: OTHER_KEY });
  assert.is(p.status, "changed");
  assert.match(p.reason, /^user nobody-yet does not exist yet/);
  const r = await (await ctx(lab, t1, false)).h.authorizedKey({ user: "nobody-yet", key: OTHER_KEY }, { ignoreErrors: true });
  assert.is(r.status, "failed");
  assert.match(r.reason, /user nobody-yet does not exist/);
  assert.is(await upperSnapshot(t1), before);
});

// ---------------------------------------------------------------- sysctl, mount

s("sysctl: file line and live value, each only when it differs", async ({ lab }) => {
  const [t1] = lab.hosts as [LabHost];
  const live = () => out(lab, t1, "sysctl -n net.ipv4.ip_default_ttl");
  const file = "/etc/sysctl.d/99-runbook.conf";
  await prove(lab, t1, (h) => h.task(sysctlTask, { name: "net.ipv4.ip_default_ttl", value: 65 }), {
    change: /^\/etc\/sysctl\.d\/99-runbook\.conf: add net\.ipv4\.ip_default_ttl = 65; live net\.ipv4\.ip_default_ttl: 64 -> 65$/,
    noop: /^net\.ipv4\.ip_default_ttl = 65 \(live and in \/etc\/sysctl\.d\/99-runbook\.conf\)$/,
    live,
    diff: (d) => {
      assert.is(diffOf(d, file).before, null);
      assert.is(diffOf(d, file).after, "net.ipv4.ip_default_ttl = 65\n");
    },
  });
  assert.is(await live(), "65\n");
  // A second key shares the file.
  await prove(lab, t1, (h) => h.task(sysctlTask, { name: "net.ipv4.ip_local_port_range", value: "20000   60999" }), {
    change: /add net\.ipv4\.ip_local_port_range = 20000 60999; live net\.ipv4\.ip_local_port_range: 32768 60999 -> 20000 60999$/,
    noop: /= 20000 60999/,
  });
  assert.is(await out(lab, t1, `cat ${file}`), "net.ipv4.ip_default_ttl = 65\nnet.ipv4.ip_local_port_range = 20000 60999\n");
  // Live drift alone is repaired alone.
  await sh(lab, t1, "sysctl -qw net.ipv4.ip_default_ttl=70");
  await prove(lab, t1, (h) => h.task(sysctlTask, { name: "net.ipv4.ip_default_ttl", value: 65 }), { change: /^live net\.ipv4\.ip_default_ttl: 70 -> 65$/, noop: /= 65/, live });
  // A new value rewrites the line in place; reload: false leaves the live value.
  await prove(lab, t1, (h) => h.task(sysctlTask, { name: "net/ipv4/ip_default_ttl", value: 66, reload: false }), {
    change: /^\/etc\/sysctl\.d\/99-runbook\.conf: set net\/ipv4\/ip_default_ttl = 66$/,
    noop: /^net\/ipv4\/ip_default_ttl = 66 \(in /,
    diff: (d) => assert.is(diffOf(d, file).after, "net/ipv4/ip_default_ttl = 66\nnet.ipv4.ip_local_port_range = 20000 60999\n"),
  });
  assert.is(await live(), "65\n");
  await prove(lab, t1, (h) => h.task(sysctlTask, { name: "net.ipv4.ip_default_ttl", state: "absent" }), {
    change: /^remove net\.ipv4\.ip_default_ttl from /,
    noop: /^net\.ipv4\.ip_default_ttl not in /,
  });
  const bad = await (await ctx(lab, t1, false)).h.task(sysctlTask, { name: "net.ipv4.no_such_key", value: 1 }, { ignoreErrors: true });
  assert.is(bad.status, "failed");
  assert.match(bad.reason, /no_such_key.*No such file/);
});

s("mount: tmpfs with an fstab line: mounted, remount on new options, unmounted, absent", async ({ lab }) => {
  const [t1] = lab.hosts as [LabHost];
  const live = () => out(lab, t1, "grep -F ' /mnt/rb\\040tmp ' /proc/mounts || true");
  const path = "/mnt/rb tmp"; // a space: fstab's \040
  const line = (size: string) => `tmpfs\t/mnt/rb\\040tmp\ttmpfs\tsize=${size},mode=0750\t0\t0`;
  const fstabBefore = await out(lab, t1, "cat /etc/fstab");
  await prove(lab, t1, (h) => h.mount({ path, src: "tmpfs", fstype: "tmpfs", opts: "size=1m,mode=0750", state: "mounted" }), {
    change: /^\/etc\/fstab: add \/mnt\/rb tmp; mount \/mnt\/rb tmp$/,
    noop: /^\/mnt\/rb tmp in \/etc\/fstab and mounted$/,
    live,
    diff: (d) => assert.is(diffOf(d, "/etc/fstab").after, `${fstabBefore}${line("1m")}\n`),
  });
  assert.match(await live(), /^tmpfs \/mnt\/rb\\040tmp tmpfs rw,relatime,size=1024k,mode=750/);
  await prove(lab, t1, (h) => h.mount({ path, src: "tmpfs", fstype: "tmpfs", opts: "size=2m,mode=0750", state: "mounted" }), {
    change: /^\/etc\/fstab: update \/mnt\/rb tmp; remount \/mnt\/rb tmp \(options changed\)$/,
    noop: /and mounted/,
    live,
  });
  assert.match(await live(), /size=2048k/);
  await prove(lab, t1, (h) => h.mount({ path, state: "unmounted" }), { change: /^unmount \/mnt\/rb tmp \(tmpfs from tmpfs\)$/, noop: /^\/mnt\/rb tmp is not mounted$/, live });
  assert.is(await live(), "");
  assert.is(await out(lab, t1, "cat /etc/fstab"), `${fstabBefore}${line("2m")}\n`, "unmounted keeps the fstab line");
  const real = (await ctx(lab, t1, false)).h;
  const present = await real.mount({ path, src: "tmpfs", fstype: "tmpfs", opts: "size=2m,mode=0750", state: "present" });
  assert.is(present.status, "ok", "present: the line is there, mounted or not");
  assert.is(present.reason, "/mnt/rb tmp in /etc/fstab");
  assert.is((await real.mount({ path, src: "tmpfs", fstype: "tmpfs", opts: "size=2m,mode=0750", state: "mounted" })).reason, "mount /mnt/rb tmp");
  await prove(lab, t1, (h) => h.mount({ path, state: "absent" }), {
    change: /^unmount \/mnt\/rb tmp \(tmpfs from tmpfs\); remove \/mnt\/rb tmp from \/etc\/fstab$/,
    noop: /^\/mnt\/rb tmp is not mounted and not in \/etc\/fstab$/,
    live,
    diff: (d) => assert.is(diffOf(d, "/etc/fstab").after, fstabBefore),
  });
});

// ---------------------------------------------------------------- download

s("download: fetched by the runner from a local HTTP server, idempotent by sha256", async ({ lab }) => {
  const [t1] = lab.hosts as [LabHost];
  const body = Buffer.from("#!/bin/sh\necho fetched\n");
  const sha = createHash("sha256").update(body).digest("hex");
  let hits = 0;
  const server: Server = createServer((req, res) => {
    hits++;
    if (req.url === "/tool.sh") res.end(body);
    else res.writeHead(404).end("no");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    await prove(lab, t1, (h) => h.download({ url: `${url}/tool.sh`, dest: "/usr/local/bin/tool.sh", sha256: sha, mode: "0755" }), {
      change: new RegExp(`^download ${url}/tool\\.sh: create /usr/local/bin/tool\\.sh, 23 bytes, sha256 ${sha.slice(0, 12)}…$`),
      noop: new RegExp(`^/usr/local/bin/tool\\.sh exists with sha256 ${sha.slice(0, 12)}…$`),
      diff: (d) => assert.is(diffOf(d, "/usr/local/bin/tool.sh").after, body.toString()),
    });
    assert.is(await out(lab, t1, "/usr/local/bin/tool.sh"), "fetched\n");
    assert.is(await out(lab, t1, "stat -c %a /usr/local/bin/tool.sh"), "755\n");
    assert.is(hits, 2, "fetched for the check-mode and the first run only: no-op runs do not fetch");

    const real = (await ctx(lab, t1, false)).h;
    const wrong = await real.download({ url: `${url}/tool.sh`, dest: "/tmp/tool2", sha256: "0".repeat(64) }, { ignoreErrors: true });
    assert.is(wrong.status, "failed");
    assert.match(wrong.reason, /sha256 mismatch \(expected 0{64}, got [0-9a-f]{64}\)/);
    const missing = await real.download({ url: `${url}/nope`, dest: "/tmp/nope" }, { ignoreErrors: true });
    assert.match(missing.reason, /HTTP 404/);
    assert.is((await sh(lab, t1, "ls /tmp/tool2 /tmp/nope", { allowFail: true })).code, 2, "nothing written on failure");
    // Without sha256 an existing file is kept (no fetch); force fetches and compares.
    const n = hits;
    assert.match((await real.download({ url: `${url}/tool.sh`, dest: "/usr/local/bin/tool.sh" })).reason, /exists \(no sha256 given/);
    assert.is(hits, n);
    const forced = await real.download({ url: `${url}/tool.sh`, dest: "/usr/local/bin/tool.sh", force: true });
    assert.is(forced.status, "ok");
    assert.is(hits, n + 1);
    // On the host: the lab rootfs has neither curl nor wget, and says so.
    const onHost = await real.download({ url: `${url}/tool.sh`, dest: "/tmp/tool3", via: "host" }, { ignoreErrors: true });
    assert.is(onHost.status, "failed");
    assert.match(onHost.reason, /neither curl nor wget on the host/);
  } finally {
    server.close();
  }
});

// ---------------------------------------------------------------- waitFor, reboot

s("waitFor: port (from /proc/net/tcp), path, command; read-only in check mode; gives up", async ({ lab }) => {
  const [t1] = lab.hosts as [LabHost];
  const before = await upperSnapshot(t1);
  for (const check of [true, false]) {
    const { h } = await ctx(lab, t1, check);
    const sshd = await h.waitFor({ port: 22 });
    assert.is(sshd.status, "ok", sshd.reason);
    assert.is(sshd.reason, "waited for port 22 to listen");
    assert.match(sshd.stdout ?? "", /^ready after 0 s$/m);
    assert.is((await h.waitFor({ port: 22, host: t1.address })).status, "ok", "a wildcard socket matches any local address");
    assert.is((await h.waitFor({ port: 2222, state: "stopped" })).status, "ok");
    assert.is((await h.waitFor({ command: "test -d /etc" })).status, "ok");
  }
  assert.is(await upperSnapshot(t1), before, "waitFor writes nothing");
  const { h } = await ctx(lab, t1, false);
  const gone = await h.waitFor({ port: 2222, maxWait: 1, interval: 0.2 }, { ignoreErrors: true });
  assert.is(gone.status, "failed");
  assert.is(gone.reason, "wait for port 2222 to listen: gave up after 1 s");
  await sh(lab, t1, "rm -f /tmp/rb-ready; (sleep 1; touch /tmp/rb-ready) >/dev/null 2>&1 &");
  const t0 = Date.now();
  const ready = await h.waitFor({ path: "/tmp/rb-ready", interval: 0.2 });
  assert.is(ready.status, "ok");
  assert.ok(Date.now() - t0 >= 700, "it waited for the file");
  assert.is((await h.waitFor({ path: "/tmp/rb-never", state: "absent" })).status, "ok");
});

s("reboot: check mode predicts the reboot and the wait for the host, and changes nothing", async ({ lab }) => {
  const [t1] = lab.hosts as [LabHost];
  const before = await upperSnapshot(t1);
  const { h, events } = await ctx(lab, t1, true);
  const r = await h.reboot({ msg: "kernel update" });
  assert.is(r.status, "changed");
  assert.ok(r.predicted);
  assert.match(r.reason, /^reboot \(boot id [0-9a-f]{8}…\), then wait up to 600 s for a new boot id$/);
  const ev = events.at(-1) as { commands?: string[] };
  assert.equal(ev.commands, ["reboot (shutdown -r now)", "wait up to 600 s for the host to come back"]);
  assert.is(await upperSnapshot(t1), before);
  assert.ok(await out(lab, t1, "echo alive"), "host still up");
});

// ---------------------------------------------------------------- hostname, hosts file

s("hostname: /etc/hostname and live (debian); /etc/HOSTNAME too, live short name (slackware)", async ({ lab }) => {
  const [t1, t2] = lab.hosts as [LabHost, LabHost];
  const live1 = () => out(lab, t1, "hostname");
  await prove(lab, t1, (h) => h.task(hostnameTask, { name: "rbnode1" }), {
    change: /^\/etc\/hostname: tnode1 -> rbnode1; live tnode1 -> rbnode1$/,
    noop: /^hostname is rbnode1 \(\/etc\/hostname: rbnode1\)$/,
    live: live1,
    diff: (d) => assert.equal(diffOf(d, "/etc/hostname"), { path: "/etc/hostname", before: "tnode1\n", after: "rbnode1\n" }),
  });
  assert.is(await live1(), "rbnode1\n");
  // The context's facts were gathered before the change; refreshFacts gathers them again.
  const { h, events } = await ctx(lab, t1, false);
  assert.is(h.facts.hostname, "tnode1");
  assert.is((await h.refreshFacts()).hostname, "rbnode1");
  assert.is(h.facts.hostname, "rbnode1");
  assert.equal(events.at(-1), { ...(events.at(-1) as object), task: "gather facts again", kind: "facts", status: "ok", reason: "facts of rbnode1" });
  await h.task(hostnameTask, { name: "tnode1" });
  assert.is((await h.refreshFacts()).hostname, "tnode1");

  const live2 = () => out(lab, t2, "hostname");
  await prove(lab, t2, (h) => h.task(hostnameTask, { name: "tnode2.i131.net" }), {
    change: /^\/etc\/HOSTNAME: \(none\) -> tnode2\.i131\.net; \/etc\/hostname: tnode2 -> tnode2\.i131\.net$/,
    noop: /^hostname is tnode2 \(\/etc\/HOSTNAME, \/etc\/hostname: tnode2\.i131\.net\)$/,
    live: live2,
    diff: (d) => assert.equal(diffOf(d, "/etc/HOSTNAME"), { path: "/etc/HOSTNAME", before: null, after: "tnode2.i131.net\n" }),
  });
  assert.is(await live2(), "tnode2\n");
  assert.is(await out(lab, t2, "stat -c '%a %U' /etc/HOSTNAME"), "644 root\n");
});

s("hostsFile: rewrite a line in place, append new addresses, keep the rest; absent", async ({ lab }) => {
  const [t1] = lab.hosts as [LabHost];
  const before = await out(lab, t1, "cat /etc/hosts");
  const entries = [
    { ip: t1.address, names: ["tnode1.i131.net", "tnode1"] },
    { ip: "10.10.0.1", names: ["odin.cluster.local", "odin"] },
  ];
  const expected = before.replace(`${t1.address}\ttnode1\n`, `${t1.address}\ttnode1.i131.net tnode1\n`) + "10.10.0.1\todin.cluster.local odin\n";
  await prove(lab, t1, (h) => h.hostsFile({ entries }), {
    change: new RegExp(`^/etc/hosts: ${t1.address.replace(/\./g, "\\.")}: tnode1 -> tnode1\\.i131\\.net tnode1, add 10\\.10\\.0\\.1 odin\\.cluster\\.local odin$`),
    noop: /^\/etc\/hosts has 2 entries as given$/,
    diff: (d) => assert.equal(diffOf(d, "/etc/hosts"), { path: "/etc/hosts", before, after: expected }),
  });
  assert.is(await out(lab, t1, "cat /etc/hosts"), expected);
  assert.is(await out(lab, t1, "stat -c '%a %U' /etc/hosts"), "644 root\n");
  // Spacing and a comment are not a difference.
  await sh(lab, t1, `sed -i 's/^10.10.0.1\t.*/10.10.0.1   odin.cluster.local  odin  # head node/' /etc/hosts`);
  assert.is((await (await ctx(lab, t1, false)).h.hostsFile({ entries })).status, "ok");
  await prove(lab, t1, (h) => h.hostsFile({ entries: [{ ip: "10.10.0.1" }], state: "absent", backup: true }), {
    change: /^\/etc\/hosts: remove 10\.10\.0\.1 \(odin\.cluster\.local odin\)$/,
    noop: /^\/etc\/hosts has no lines for 10\.10\.0\.1$/,
  });
  assert.is(await out(lab, t1, "cat /etc/hosts"), expected.replace("10.10.0.1\todin.cluster.local odin\n", ""));
  assert.match(await out(lab, t1, "cat /etc/hosts.*~"), /10\.10\.0\.1   odin\.cluster\.local  odin  # head node/, "backup: the old file beside it");
});

s.run();
