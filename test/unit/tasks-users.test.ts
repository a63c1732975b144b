/**
 * The pure parts of the system tasks (user, group, authorizedKey, sysctl,
 * mount, waitFor, reboot, hostname, hostsFile, probe), data-driven: state in,
 * planned commands / new file text out. The shell snippets that can run on
 * this machine (probe sections, the waitFor loop) run for real under
 * /bin/sh; the lab tests (test/e2e/tasks-users.test.ts) prove the rest on
 * real hosts.
 */
import { spawnSync } from "node:child_process";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { RunResult } from "../../runner/connection/types.ts";
import { secret } from "../../runner/secret.ts";
import type { Plan, PlanContext } from "../../runner/task.ts";
import { mergeKeys, parseKeyLine, wantedKeys } from "../../tasks/authorizedKey.ts";
import { hostFetchScript } from "../../tasks/download.ts";
import { parseGroups, planGroup, type GroupParams } from "../../tasks/group.ts";
import { checkHostname, hostnameTargets } from "../../tasks/hostname.ts";
import { editHosts } from "../../tasks/hostsFile.ts";
import { fstabEscape, fstabUnescape, parseFstabLine, setFstabEntry } from "../../tasks/mount.ts";
import { probeSections, readScript } from "../../tasks/probe.ts";
import { planReboot, rebootCommand, waitForReboot, type Reconnectable } from "../../tasks/reboot.ts";
import { setSysctlLine } from "../../tasks/sysctl.ts";
import { checkHash, parsePasswd, planUser, type UserParams, type UserState } from "../../tasks/user.ts";
import { listeningCheck, procNetAddress, waitScript } from "../../tasks/waitFor.ts";

/** Runs a POSIX sh script on this machine, as a probe would on a host. */
function localSh(script: string, stdin?: string | Buffer): RunResult {
  const r = spawnSync("/bin/sh", ["-c", script], { input: stdin, encoding: "utf8" });
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

const localCtx = { probe: async (cmd: string, o?: { stdin?: string | Buffer }) => localSh(cmd, o?.stdin) } as unknown as PlanContext;
const cmds = (p: Plan) => p.changes.map((c) => (c.kind === "run" ? c.label ?? c.command : c.kind === "put" ? `put ${c.path}` : c.kind === "local" ? c.describe : `reconnect until ${c.probe} changes`));

// ---------------------------------------------------------------- probe

test("probeSections: one round trip, output byte for byte, exit codes apart", async () => {
  let calls = 0;
  const ctx = { probe: async (c: string, o?: { stdin?: string | Buffer }) => (calls++, localSh(c, o?.stdin)) } as unknown as PlanContext;
  const s = await probeSections(ctx, {
    a: "printf 'no newline'",
    b: "printf 'two\\n\\nlines\\n'; exit 3",
    c: "cat", // reads the stdin
    d: "printf '\\n--runbook-fake-- 0\\n'", // cannot forge a boundary
    e: readScript("/nonexistent/file"),
    f: readScript("/"),
  }, "in\n");
  assert.is(calls, 1);
  assert.equal(s.a, { out: "no newline", code: 0 });
  assert.equal(s.b, { out: "two\n\nlines\n", code: 3 });
  assert.equal(s.c, { out: "in\n", code: 0 });
  assert.equal(s.d, { out: "\n--runbook-fake-- 0\n", code: 0 });
  assert.is(s.e.code, 3);
  assert.is(s.f.code, 4);
});

// ---------------------------------------------------------------- user, group

const GROUPS = parseGroups("root:x:0:\nusers:x:100:\nwheel:x:10:clusteradm,other\nrbextra:x:1501:clusteradm\nbroken line\n");
const ADMIN = parsePasswd("clusteradm:x:1050:100:Cluster Admin:/home/clusteradm:/bin/bash\n")!;

test("parsePasswd, parseGroups", () => {
  assert.equal(ADMIN, { name: "clusteradm", uid: 1050, gid: 100, comment: "Cluster Admin", home: "/home/clusteradm", shell: "/bin/bash" });
  assert.is(parsePasswd("bad:x:notanumber:1::/:/bin/sh"), undefined);
  assert.equal(GROUPS.map((g) => `${g.name}:${g.gid}:${g.members.join(",")}`), ["root:0:", "users:100:", "wheel:10:clusteradm,other", "rbextra:1501:clusteradm"]);
});

const userCases: { name: string; p: UserParams; s: UserState; changes: string[]; reason: string }[] = [
  {
    name: "create as in reference 000",
    p: { name: "clusteradm", uid: 1050, group: "users", groups: ["wheel"], shell: "/bin/bash", password: secret("$6$s$h") },
    s: { groups: GROUPS, password: "differs" },
    changes: ["useradd -u 1050 -g users -G wheel -s /bin/bash -m clusteradm", "chpasswd -e (clusteradm's hash on stdin)"],
    reason: "create user clusteradm (uid 1050, group users, groups wheel, password set)",
  },
  {
    name: "create a system user without home, quoting",
    p: { name: "ceph", system: true, createHome: false, home: "/var/lib/ceph dir", comment: "Ceph daemons", group: 167 },
    s: { groups: GROUPS },
    changes: ["useradd -g 167 -d '/var/lib/ceph dir' -c 'Ceph daemons' -M -r ceph"],
    reason: "create user ceph (group 167, system)",
  },
  {
    name: "matches",
    p: { name: "clusteradm", uid: 1050, group: "users", groups: ["wheel"], shell: "/bin/bash", password: "$6$s$h" },
    s: { user: ADMIN, groups: GROUPS, password: "same" },
    changes: [],
    reason: "user clusteradm matches (uid 1050, group users, groups wheel, password matches)",
  },
  {
    name: "primary group given by gid matches",
    p: { name: "clusteradm", group: 100 },
    s: { user: ADMIN, groups: GROUPS },
    changes: [],
    reason: "user clusteradm matches (uid 1050, group users)",
  },
  {
    name: "append adds only what is missing",
    p: { name: "clusteradm", groups: ["wheel", "root"] },
    s: { user: ADMIN, groups: GROUPS },
    changes: ["usermod -a -G root clusteradm"],
    reason: "user clusteradm: groups +root",
  },
  {
    name: "exact set removes the others (the primary group is not a supplementary one)",
    p: { name: "clusteradm", groups: ["wheel", "users"], append: false },
    s: { user: ADMIN, groups: GROUPS },
    changes: ["usermod -G wheel clusteradm"],
    reason: "user clusteradm: groups -rbextra",
  },
  {
    name: "exact empty set",
    p: { name: "clusteradm", groups: [], append: false },
    s: { user: ADMIN, groups: GROUPS },
    changes: ["usermod -G '' clusteradm"],
    reason: "user clusteradm: groups -wheel,-rbextra",
  },
  {
    name: "several attributes in one usermod, then the password",
    p: { name: "clusteradm", uid: 1051, group: "wheel", shell: "/bin/sh", home: "/srv/adm", comment: "x", password: "$6$s$new" },
    s: { user: ADMIN, groups: GROUPS, password: "differs" },
    changes: ["usermod -u 1051 -g wheel -s /bin/sh -d /srv/adm -c x clusteradm", "chpasswd -e (clusteradm's hash on stdin)"],
    reason: "user clusteradm: uid 1050 -> 1051, group users -> wheel, shell /bin/bash -> /bin/sh, home /home/clusteradm -> /srv/adm, comment, password changed",
  },
  {
    name: "updatePassword onCreate leaves an existing hash",
    p: { name: "clusteradm", password: "$6$s$new", updatePassword: "onCreate" },
    s: { user: ADMIN, groups: GROUPS, password: "differs" },
    changes: [],
    reason: "user clusteradm matches (uid 1050, group users, password matches)",
  },
  { name: "absent", p: { name: "clusteradm", state: "absent", removeHome: true }, s: { user: ADMIN, groups: GROUPS }, changes: ["userdel -r clusteradm"], reason: "remove user clusteradm (uid 1050) and its home" },
  { name: "already absent", p: { name: "gone", state: "absent" }, s: { groups: GROUPS }, changes: [], reason: "user gone is absent" },
];

for (const c of userCases) {
  test(`planUser: ${c.name}`, () => {
    const plan = planUser(c.p, c.s);
    assert.equal(cmds(plan), c.changes);
    assert.is(plan.reason, c.reason);
    const hash = c.p.password === undefined ? undefined : typeof c.p.password === "string" ? c.p.password : c.p.password.reveal();
    for (const ch of plan.changes) {
      if (ch.kind !== "run") continue;
      if (hash) assert.not.ok(ch.command.includes(hash) || ch.label?.includes(hash), "the hash is never on a command line or label");
      if (ch.command === "chpasswd -e") assert.is(ch.stdin, `${c.p.name}:${hash}\n`);
    }
  });
}

test("checkHash: hashes and lock markers pass; clear text and separators fail without echoing the value", () => {
  for (const ok of ["$6$salt$hash", "$y$j9T$abc$def", "!", "*", "!!", "!$6$salt$hash", "abcdefghijklm"]) checkHash(ok);
  for (const bad of ["hunter2", "$6$a:b", "line\nbreak", "correct horse battery staple"]) {
    try {
      checkHash(bad);
      assert.unreachable(`accepted ${bad}`);
    } catch (e) {
      assert.not.ok((e as Error).message.includes(bad), "the value is not in the message");
    }
  }
});

const groupCases: { p: GroupParams; gid?: number; changes: string[]; reason: string }[] = [
  { p: { name: "wheel" }, changes: ["groupadd wheel"], reason: "create group wheel" },
  { p: { name: "ceph", gid: 167, system: true }, changes: ["groupadd -g 167 -r ceph"], reason: "create group ceph (gid 167)" },
  { p: { name: "ceph", system: true }, changes: ["groupadd -r ceph"], reason: "create group ceph (system)" },
  { p: { name: "wheel", gid: 10 }, gid: 10, changes: [], reason: "group wheel exists (gid 10)" },
  { p: { name: "wheel", gid: 11 }, gid: 10, changes: ["groupmod -g 11 wheel"], reason: "group wheel: gid 10 -> 11" },
  { p: { name: "wheel", state: "absent" }, gid: 10, changes: ["groupdel wheel"], reason: "remove group wheel (gid 10)" },
  { p: { name: "wheel", state: "absent" }, changes: [], reason: "group wheel is absent" },
];
for (const c of groupCases) {
  test(`planGroup: ${c.reason}`, () => {
    const plan = planGroup(c.p, c.gid === undefined ? undefined : { name: c.p.name, gid: c.gid, members: [] });
    assert.equal(cmds(plan), c.changes);
    assert.is(plan.reason, c.reason);
  });
}

// ---------------------------------------------------------------- authorized keys

const K1 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIqpyyh44Hz3gvhISaIE9yJ/ao8fBLNo7qwPJcYjQdIl root@odin";
const K2 = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTY= admin@laptop";

test("parseKeyLine: options with quoted spaces, comments, non-keys", () => {
  assert.equal(parseKeyLine(`from="10.0.0.1, 10.0.0.2",no-pty ${K1}`), {
    options: 'from="10.0.0.1, 10.0.0.2",no-pty',
    type: "ssh-ed25519",
    blob: "AAAAC3NzaC1lZDI1NTE5AAAAIIqpyyh44Hz3gvhISaIE9yJ/ao8fBLNo7qwPJcYjQdIl",
    comment: "root@odin",
  });
  assert.equal(parseKeyLine("ssh-rsa AAAAB3 two words"), { options: "", type: "ssh-rsa", blob: "AAAAB3", comment: "two words" });
  assert.is(parseKeyLine("# a comment"), undefined);
  assert.is(parseKeyLine("   "), undefined);
  assert.is(parseKeyLine("not a key"), undefined);
  assert.throws(() => wantedKeys("hello"), /not a public key line/);
  assert.equal(wantedKeys([`${K1}\n\n# note\n${K2}`]).map((w) => w.key.type), ["ssh-ed25519", "ecdsa-sha2-nistp256"]);
});

const keyCases: { name: string; before: string | null; key: string[]; state?: "present" | "absent"; exclusive?: boolean; after: string | null; what?: string[] }[] = [
  { name: "new file", before: null, key: [K1], after: `${K1}\n`, what: ["add ssh-ed25519 key (root@odin)"] },
  { name: "present with another comment", before: `${K1.replace("root@odin", "renamed")}\n`, key: [K1], after: null },
  { name: "append, keeping comments and other keys", before: `# mine\n${K2}\n`, key: [K1], after: `# mine\n${K2}\n${K1}\n` },
  { name: "a file without a final newline", before: K2, key: [K1], after: `${K2}\n${K1}\n` },
  { name: "options changed", before: `no-pty ${K1}\n`, key: [K1], after: `${K1}\n`, what: ["update options of ssh-ed25519 key (root@odin)"] },
  { name: "duplicates dropped", before: `${K1}\n${K1}\n`, key: [K1], after: `${K1}\n`, what: ["drop duplicate ssh-ed25519 key"] },
  { name: "exclusive", before: `# mine\n${K2}\n${K1}\n`, key: [K1], exclusive: true, after: `${K1}\n`, what: ["remove ecdsa-sha2-nistp256 key (admin@laptop) (exclusive)"] },
  { name: "exclusive order", before: `${K1}\n${K2}\n`, key: [K2, K1], exclusive: true, after: `${K2}\n${K1}\n`, what: ["reorder keys (exclusive)"] },
  { name: "exclusive already", before: `${K2}\n${K1}\n`, key: [K2, K1], exclusive: true, after: null },
  { name: "absent", before: `${K2}\n${K1}\n`, key: [K1], state: "absent", after: `${K2}\n`, what: ["remove ssh-ed25519 key (root@odin)"] },
  { name: "absent already", before: `${K2}\n`, key: [K1], state: "absent", after: null },
  { name: "absent, no file", before: null, key: [K1], state: "absent", after: null },
];
for (const c of keyCases) {
  test(`mergeKeys: ${c.name}`, () => {
    const r = mergeKeys(c.before, wantedKeys(c.key), { state: c.state ?? "present", exclusive: !!c.exclusive });
    assert.is(r?.after ?? null, c.after);
    if (c.what) assert.equal(r?.what, c.what);
  });
}

// ---------------------------------------------------------------- sysctl

const sysctlCases: { name: string; before: string | null; key: string; value?: string; after: string | null; current?: string }[] = [
  { name: "new file", before: null, key: "net.ipv4.ip_forward", value: "1", after: "net.ipv4.ip_forward = 1\n" },
  { name: "matching, any spacing", before: "# forward\nnet.ipv4.ip_forward=1\n", key: "net.ipv4.ip_forward", value: "1", after: null },
  { name: "slash form is the same key", before: "net/ipv4/ip_forward = 1\n", key: "net.ipv4.ip_forward", value: "1", after: null },
  { name: "rewrite in place", before: "a = 1\nnet.ipv4.ip_forward = 0\nb = 2\n", key: "net.ipv4.ip_forward", value: "1", after: "a = 1\nnet.ipv4.ip_forward = 1\nb = 2\n", current: "0" },
  { name: "duplicates dropped", before: "net.ipv4.ip_forward = 1\nnet.ipv4.ip_forward = 0\n", key: "net.ipv4.ip_forward", value: "1", after: "net.ipv4.ip_forward = 1\n" },
  { name: "ignore-errors prefix", before: "-net.ipv4.ip_forward = 0\n", key: "net.ipv4.ip_forward", value: "1", after: "net.ipv4.ip_forward = 1\n" },
  { name: "commented line is not the key", before: "#net.ipv4.ip_forward = 1\n", key: "net.ipv4.ip_forward", value: "1", after: "#net.ipv4.ip_forward = 1\nnet.ipv4.ip_forward = 1\n" },
  { name: "multi-value", before: "net.ipv4.ip_local_port_range = 20000\t60999\n", key: "net.ipv4.ip_local_port_range", value: "20000 60999", after: null },
  { name: "remove", before: "a = 1\nnet.ipv4.ip_forward = 1\n", key: "net.ipv4.ip_forward", after: "a = 1\n" },
  { name: "remove absent", before: "a = 1\n", key: "net.ipv4.ip_forward", after: null },
];
for (const c of sysctlCases) {
  test(`setSysctlLine: ${c.name}`, () => {
    const r = setSysctlLine(c.before, c.key, c.value);
    assert.is(r?.after ?? null, c.after);
    if (c.current) assert.is(r?.current, c.current);
  });
}

// ---------------------------------------------------------------- mount

test("fstab escapes round-trip; parse", () => {
  assert.is(fstabEscape("/mnt/a b\\c\td"), "/mnt/a\\040b\\134c\\011d");
  assert.is(fstabUnescape("/mnt/a\\040b\\134c\\011d"), "/mnt/a b\\c\td");
  assert.equal(parseFstabLine("UUID=abc  /   ext4 defaults,noatime 0 1"), { src: "UUID=abc", path: "/", fstype: "ext4", opts: "defaults,noatime", dump: "0", passno: "1" });
  assert.equal(parseFstabLine("tmpfs /tmp tmpfs"), { src: "tmpfs", path: "/tmp", fstype: "tmpfs", opts: "defaults", dump: "0", passno: "0" });
  assert.is(parseFstabLine("# UNCONFIGURED FSTAB"), undefined);
});

const tmpfs = { src: "tmpfs", path: "/mnt/t", fstype: "tmpfs", opts: "size=1m", dump: "0", passno: "0" };
const fstabCases: { name: string; before: string | null; want?: typeof tmpfs; after: string | null; old?: boolean }[] = [
  { name: "add to a missing file", before: null, want: tmpfs, after: "tmpfs\t/mnt/t\ttmpfs\tsize=1m\t0\t0\n" },
  { name: "add, keep others", before: "# x\n/dev/sda1 / ext4 defaults 0 1\n", want: tmpfs, after: "# x\n/dev/sda1 / ext4 defaults 0 1\ntmpfs\t/mnt/t\ttmpfs\tsize=1m\t0\t0\n" },
  { name: "same fields, other spacing, trailing slash", before: "tmpfs  /mnt/t/  tmpfs  size=1m\n", want: tmpfs, after: null },
  { name: "options changed, in place", before: "a b c d 0 0\ntmpfs /mnt/t tmpfs size=2m 0 0\nz y x w 0 0\n", want: tmpfs, after: "a b c d 0 0\ntmpfs\t/mnt/t\ttmpfs\tsize=1m\t0\t0\nz y x w 0 0\n", old: true },
  { name: "duplicate dropped", before: "tmpfs /mnt/t tmpfs size=1m 0 0\nother /mnt/t ext4 defaults 0 0\n", want: tmpfs, after: "tmpfs /mnt/t tmpfs size=1m 0 0\n" },
  { name: "remove", before: "/dev/sda1 / ext4 defaults 0 1\ntmpfs /mnt/t tmpfs size=1m 0 0\n", after: "/dev/sda1 / ext4 defaults 0 1\n", old: true },
  { name: "remove absent", before: "/dev/sda1 / ext4 defaults 0 1\n", after: null },
];
for (const c of fstabCases) {
  test(`setFstabEntry: ${c.name}`, () => {
    const r = setFstabEntry(c.before, "/mnt/t", c.want);
    assert.is(r?.after ?? null, c.after);
    if (c.old) assert.ok(r?.old);
  });
}

// ---------------------------------------------------------------- hosts file

const HOSTS = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n# cluster\n10.0.0.1\tn1\n10.0.0.2 n2 # old\n10.0.0.2\tn2-dup\n";
const hostsCases: { name: string; entries: { ip: string; names?: string[] }[]; state?: "present" | "absent"; after: string | null; what?: string[] }[] = [
  { name: "matches (spacing and comment ignored)", entries: [{ ip: "10.0.0.1", names: ["n1"] }], after: null },
  {
    name: "rewrite in place, drop a duplicate, append new",
    entries: [{ ip: "10.0.0.2", names: ["n2.lab", "n2"] }, { ip: "10.0.0.9", names: ["n9"] }],
    after: "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n# cluster\n10.0.0.1\tn1\n10.0.0.2\tn2.lab n2\n10.0.0.9\tn9\n",
    what: ["10.0.0.2: n2 -> n2.lab n2", "drop duplicate line for 10.0.0.2", "add 10.0.0.9 n9"],
  },
  { name: "IPv6 compared as an address", entries: [{ ip: "0:0::1", names: ["localhost", "ip6-localhost"] }], after: null },
  { name: "absent", entries: [{ ip: "10.0.0.1" }], state: "absent", after: "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n# cluster\n10.0.0.2 n2 # old\n10.0.0.2\tn2-dup\n" },
  { name: "absent already", entries: [{ ip: "10.9.9.9" }], state: "absent", after: null },
];
for (const c of hostsCases) {
  test(`editHosts: ${c.name}`, () => {
    const r = editHosts(HOSTS, c.entries, c.state ?? "present");
    assert.is(r?.after ?? null, c.after);
    if (c.what) assert.equal(r?.what, c.what);
  });
}
test("editHosts: a missing file", () => {
  assert.equal(editHosts(null, [{ ip: "10.0.0.1", names: ["n1"] }], "present"), { after: "10.0.0.1\tn1\n", what: ["add 10.0.0.1 n1"] });
});

// ---------------------------------------------------------------- hostname

test("hostname: targets per family; validation", () => {
  assert.equal(hostnameTargets("tnode1.i131.net", "debian"), { files: ["/etc/hostname"], live: "tnode1.i131.net" });
  assert.equal(hostnameTargets("tnode1.i131.net", "slackware"), { files: ["/etc/HOSTNAME", "/etc/hostname"], live: "tnode1" });
  checkHostname("valkyrie01.cluster.local");
  for (const bad of ["-x", "a..b", "a_b", "x".repeat(64), "a b", "$(reboot)"]) assert.throws(() => checkHostname(bad), /invalid name/);
});

// ---------------------------------------------------------------- waitFor

test("procNetAddress: /proc/net/tcp's little-endian hex", () => {
  assert.equal(procNetAddress("127.0.0.1"), ["0100007F", "0000000000000000FFFF00000100007F"]);
  assert.equal(procNetAddress("10.88.192.11"), ["0BC0580A", "0000000000000000FFFF00000BC0580A"]);
  assert.equal(procNetAddress("::1"), ["00000000000000000000000001000000"]);
  assert.equal(procNetAddress("fe80::1"), ["000080FE000000000000000001000000"]);
  assert.equal(procNetAddress("::ffff:127.0.0.1"), ["0000000000000000FFFF00000100007F"]);
  assert.throws(() => procNetAddress("localhost"), /local IP address/);
});

test("waitScript: runs under /bin/sh here — a listening port, a stopped one, paths, commands, giving up", async () => {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  try {
    const run = (p: Parameters<typeof waitScript>[0]) => localSh(waitScript(p));
    assert.is(run({ port }).code, 0);
    assert.match(run({ port }).stdout, /^ready after 0 s$/m);
    assert.is(run({ port, host: "127.0.0.1" }).code, 0);
    const listening = (host?: string) => localSh(`${listeningCheck(port, host)}\nlistening`).code;
    assert.is(listening("127.0.0.2"), 1, "bound to another address");
    assert.is(listening("::1"), 1);
    assert.is(listening(), 0);
    assert.is(run({ path: "/etc/passwd" }).code, 0);
    assert.is(run({ path: "/no/such/thing", state: "absent" }).code, 0);
    assert.is(run({ command: "true" }).code, 0);
    const t0 = Date.now();
    const gave = run({ command: "false", maxWait: 1, interval: 0.2 });
    assert.is(gave.code, 1);
    assert.is(gave.stderr, "gave up after 1 s\n");
    assert.ok(Date.now() - t0 >= 1000, "never gives up before maxWait");
  } finally {
    server.close();
  }
  const closed = localSh(waitScript({ port, state: "stopped" }));
  assert.is(closed.code, 0, "stopped once the server closed");
  assert.throws(() => waitScript({ port: 70000 }), /invalid port/);
});

// ---------------------------------------------------------------- reboot

const BOOT = "37991973-8b73-4440-a4c7-e5182ca5fc72";

test("reboot: plan, detached command with a guard, the wait spec", () => {
  const { plan, wait } = planReboot(BOOT, { msg: "kernel update", maxWait: 900 });
  assert.equal(cmds(plan), ["reboot (shutdown -r now)"]);
  assert.is(plan.reason, "reboot (boot id 37991973…), then wait up to 900 s for a new boot id");
  assert.equal(wait, { bootId: BOOT, probe: "cat /proc/sys/kernel/random/boot_id", maxWaitMs: 900_000, intervalMs: 2000 });
  const run = plan.changes[0]!;
  assert.ok(run.kind === "run" && run.command.includes("nohup /bin/sh -c 'sleep 1; if command -v shutdown"));
  assert.match(rebootCommand({}), /^command -v shutdown .* \|\| \{ echo 'neither shutdown nor reboot found' >&2; exit 1; \}\n/);
  assert.match(rebootCommand({ command: "/sbin/reboot -f" }), /^nohup \/bin\/sh -c 'sleep 1; \/sbin\/reboot -f' >\/dev\/null 2>&1 <\/dev\/null &/);
  assert.throws(() => planReboot("garbage", {}), /cannot read the boot id/);
  // The detached command really returns at once here (with a harmless command).
  const t0 = Date.now();
  assert.is(localSh(rebootCommand({ command: "true" })).stdout, "reboot started\n");
  assert.ok(Date.now() - t0 < 900);
});

test("waitForReboot: retries through refusals and the old boot id until a new one", async () => {
  let now = 0;
  const clock = { now: () => now, sleep: async (ms: number) => void (now += ms) };
  const script: (string | Error)[] = [BOOT, new Error("connect ECONNREFUSED"), new Error("timed out"), "new-boot-id-0000"];
  const conn: Reconnectable = {
    reconnect: async () => {
      const next = script[0];
      if (next instanceof Error) {
        script.shift();
        throw next;
      }
    },
    run: async () => ({ code: 0, stdout: `${script.shift()}\n`, stderr: "" }),
  };
  const wait = planReboot(BOOT, { interval: 5 }).wait;
  assert.equal(await waitForReboot(conn, wait, clock), { bootId: "new-boot-id-0000", ms: 20_000, attempts: 4 });

  now = 0;
  const never: Reconnectable = { reconnect: async () => Promise.reject(new Error("no route to host")), run: async () => ({ code: 0, stdout: "", stderr: "" }) };
  try {
    await waitForReboot(never, { ...wait, maxWaitMs: 12_000 }, clock);
    assert.unreachable();
  } catch (e) {
    assert.is((e as Error).message, "host did not come back with a new boot id within 12 s (last: no route to host)");
  }
});

// ---------------------------------------------------------------- download

test("download: the host-side script checks the sum before the rename and quotes the URL", () => {
  const s = hostFetchScript({ url: "https://example.org/a b?x=1&y='2'", dest: "/opt/pkgs/a.tgz", sha256: "a".repeat(64), mode: "0640", owner: "root" });
  assert.match(s, /curl -fsSL --max-time 300 -o "\$t" -- 'https:\/\/example\.org\/a b\?x=1&y='\\''2'\\'''/);
  const at = (re: RegExp) => s.search(re);
  assert.ok(at(/sha256sum/) < at(/chown/) && at(/chown/) < at(/chmod 0640/) && at(/chmod/) < at(/mv -f/), "verify, own, chmod, then rename");
});

test.run();
