/**
 * The ntp and cgroups2 roles without a lab: their pure helpers
 * (data-driven), the files the ntp role renders, and the cgroups2 role run
 * in check mode against the captured facts of real hosts through a
 * scripted connection (a Slackware 15.0 host that runs cgroup v1 is the
 * reference "reboot needed" case the lab cannot show: lab hosts run v2).
 * The lab test test/e2e/role-ntp-cgroups.test.ts proves both roles on real
 * hosts.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { resolveParams } from "../../runner/role.ts";
import { cgroups2, cgroupSwitch, editCmdlineFile, hierarchyMatches, withKernelArg, type Cgroups2Params, type KernelArgParams } from "../../roles/cgroups2/index.ts";
import { CHRONY_LAYOUTS, checkNtpParams, NTP_TEMPLATES, ntp, ntpdAllowLines, parseNet, prefixMask, type NtpParams } from "../../roles/ntp/index.ts";
import type { Connection, RunResult } from "../../runner/connection/types.ts";
import { PlayCoordinator } from "../../runner/coordinator.ts";
import { EventBus, type RunEvent } from "../../runner/events.ts";
import type { Facts } from "../../runner/facts/index.ts";
import { Host, runnerOf } from "../../runner/host.ts";
import "../../tasks/index.ts";
import { Redactor } from "../../runner/secret.ts";
import { renderTemplate } from "../../tasks/template.ts";
import { fixtureFacts, type FactsFixture } from "./plan-helpers.ts";

// ------------------------------------------------------------------- ntp

const ntpParams = (p: Record<string, unknown> = {}): NtpParams => ntp.schema.parse(p);

test("ntp: defaults are reference 000's client of 1.pool.ntp.org, iburst, clock control on", async () => {
  assert.equal(ntpParams(), { mode: "client", servers: ["1.pool.ntp.org"], iburst: true, allow: [], clockControl: true });
});

const paramCases: [string, Record<string, unknown>, string | null][] = [
  ["a client", {}, null],
  ["reference 003's server", { mode: "server", allow: ["10.10.0.0/16"], localStratum: 12 }, null],
  ["a server with IPv6 and host entries", { mode: "server", allow: ["fd00::/8", "10.0.0.7"] }, null],
  ["allow in client mode", { allow: ["10.0.0.0/8"] }, 'allow is a server-mode setting (set mode: "server" to serve time to 10.0.0.0/8)'],
  ["localStratum in client mode", { localStratum: 8 }, 'localStratum is a server-mode setting (set mode: "server")'],
  ["a client without servers", { servers: [] }, "a client needs at least one server"],
  ["a stratum out of range", { mode: "server", localStratum: 16 }, "localStratum must be 1-15, got 16"],
  ["a server name that would break the config", { servers: ["a.example\nallow all"] }, 'servers: "a.example\\nallow all" is not a host name or address'],
  ["a malformed network", { mode: "server", allow: ["10.0.0.0/33"] }, 'allow: "10.0.0.0/33" is not an address or network (10.50.0.0/16, fd00::/8)'],
];
for (const [name, p, want] of paramCases) {
  test(`ntp params: ${name}`, () => assert.is(checkNtpParams(ntpParams(p)), want));
}

test("ntp: networks and masks for ntpd's restrict lines", async () => {
  assert.equal(parseNet("10.50.0.0/16"), { family: 4, address: "10.50.0.0", prefix: 16 });
  assert.equal(parseNet("10.0.0.7"), { family: 4, address: "10.0.0.7", prefix: 32 });
  assert.is(parseNet("tnode1"), null);
  assert.is(prefixMask(4, 16), "255.255.0.0");
  assert.is(prefixMask(4, 20), "255.255.240.0");
  assert.is(prefixMask(4, 0), "0.0.0.0");
  assert.is(prefixMask(6, 64), "ffff:ffff:ffff:ffff:0:0:0:0");
  assert.equal(ntpdAllowLines(["10.50.0.0/16", "fd00::/8"]), [
    "restrict 10.50.0.0 mask 255.255.0.0 limited kod nomodify notrap nopeer",
    "restrict -6 fd00:: mask ff00:0:0:0:0:0:0:0 limited kod nomodify notrap nopeer",
  ]);
});

/** Renders one of the role's templates exactly as the role asks for it. */
async function render(t: { src: URL; vars: object }): Promise<string> {
  const path = fileURLToPath(t.src);
  return renderTemplate("nunjucks", readFileSync(path, "utf8"), t.vars as Record<string, unknown>, { path, name: path });
}
const lines = (text: string) => text.split("\n").filter((l) => l !== "" && !l.startsWith("#"));

test("ntp: Slackware ntp.conf, reference 000 client", async () => {
  assert.equal(lines(await render(NTP_TEMPLATES.ntpConf(ntpParams()))), [
    "server 1.pool.ntp.org iburst",
    "driftfile /etc/ntp/drift",
    "pidfile /var/run/ntpd.pid",
    "restrict default limited kod nomodify notrap nopeer noquery",
    "restrict -6 default limited kod nomodify notrap nopeer noquery",
    "restrict 127.0.0.1",
    "restrict ::1",
  ]);
});

test("ntp: Slackware ntp.conf, a server that never steers the clock", async () => {
  const text = lines(await render(NTP_TEMPLATES.ntpConf(ntpParams({ mode: "server", allow: ["10.50.0.0/16"], localStratum: 8, clockControl: false, iburst: false }))));
  assert.equal(text.slice(0, 5), ["server 1.pool.ntp.org", "server 127.127.1.0", "fudge 127.127.1.0 stratum 8", "disable ntp", "disable kernel"]);
  assert.is(text.at(-1), "restrict 10.50.0.0 mask 255.255.0.0 limited kod nomodify notrap nopeer");
});

test("ntp: chrony.conf on Debian (reference 003 server) and on a RHEL-like client", async () => {
  const server = lines(await render(NTP_TEMPLATES.chronyConf(ntpParams({ mode: "server", allow: ["10.10.0.0/16"], localStratum: 12 }), CHRONY_LAYOUTS.debian)));
  assert.equal(server, [
    "confdir /etc/chrony/conf.d",
    "server 1.pool.ntp.org iburst",
    "sourcedir /run/chrony-dhcp",
    "sourcedir /etc/chrony/sources.d",
    "allow 10.10.0.0/16",
    "local stratum 12",
    "keyfile /etc/chrony/chrony.keys",
    "driftfile /var/lib/chrony/chrony.drift",
    "ntsdumpdir /var/lib/chrony",
    "logdir /var/log/chrony",
    "maxupdateskew 100.0",
    "rtcsync",
    "makestep 1 3",
    "leapsectz right/UTC",
  ]);
  const client = lines(await render(NTP_TEMPLATES.chronyConf(ntpParams({ servers: ["10.10.0.1"], clockControl: false }), CHRONY_LAYOUTS.redhat)));
  assert.equal(client, [
    "server 10.10.0.1 iburst",
    "keyfile /etc/chrony.keys",
    "driftfile /var/lib/chrony/drift",
    "ntsdumpdir /var/lib/chrony",
    "logdir /var/log/chrony",
    "maxupdateskew 100.0",
    "leapsectz right/UTC",
  ]);
});

test("ntp: chronyd's options get -x exactly when clockControl is false", async () => {
  const opts = async (p: Record<string, unknown>, family: "debian" | "redhat") => lines(await render(NTP_TEMPLATES.chronyOptions(ntpParams(p), CHRONY_LAYOUTS[family])));
  assert.equal(await opts({}, "debian"), ['DAEMON_OPTS="-F 1"']);
  assert.equal(await opts({ clockControl: false }, "debian"), ['DAEMON_OPTS="-F 1 -x"']);
  assert.equal(await opts({ clockControl: false }, "redhat"), ['OPTIONS="-F 2 -x"']);
  assert.is(NTP_TEMPLATES.chronyOptions(ntpParams(), CHRONY_LAYOUTS.redhat).dest, "/etc/sysconfig/chronyd");
});

// -------------------------------------------------------------- cgroups2

test("cgroups2: where the setting lives, from facts", async () => {
  const where = (f: FactsFixture) => {
    const s = cgroupSwitch(fixtureFacts(f));
    return `${s.kind}${"file" in s ? ` ${s.file}` : "manager" in s ? ` ${s.manager}` : ""}`;
  };
  assert.is(where("slackware-15.0"), "slackware /etc/default/cgroups");
  assert.is(where("slackware-current"), "slackware /etc/default/cgroups");
  assert.is(where("debian-12-vm"), "grub /etc/default/grub");
  assert.is(where("almalinux-9"), "grub /etc/default/grub");
  assert.is(where("raspios-12-arm64"), "rpi-cmdline /boot/firmware/cmdline.txt");
  assert.is(where("debian-12-container"), "fstab /etc/fstab");
  // systemd booted in a container: its manager sets the hierarchy.
  assert.is(cgroupSwitch({ ...fixtureFacts("debian-12-vm"), container: "lxc" }).kind, "container");
  assert.equal(cgroupSwitch({ ...fixtureFacts("debian-12-vm"), container: "runbook-lab" }), { kind: "container", manager: "runbook-lab" });
});

test("cgroups2: which running hierarchies match", async () => {
  const table = ([1, 2, "hybrid", null] as const).map((r) => [r, hierarchyMatches(r, 1), hierarchyMatches(r, 2)]);
  assert.equal(table, [
    [1, true, false],
    [2, false, true],
    ["hybrid", true, false],
    [null, false, false],
  ]);
});

const ARG = "systemd.unified_cgroup_hierarchy";
test("cgroups2: a kernel argument set on a command line", async () => {
  assert.is(withKernelArg("", ARG, "1"), `${ARG}=1`);
  assert.is(withKernelArg("quiet  splash", ARG, "1"), `quiet splash ${ARG}=1`);
  assert.is(withKernelArg(`ro ${ARG}=0 quiet ${ARG}=0`, ARG, "1"), `ro ${ARG}=1 quiet`);
  assert.is(withKernelArg(`ro ${ARG}`, ARG, "1"), `ro ${ARG}=1`);
  assert.is(withKernelArg(`ro ${ARG}_x=0`, ARG, "1"), `ro ${ARG}_x=0 ${ARG}=1`);
});

const grub = (text: string) => editCmdlineFile(text, { path: "/etc/default/grub", style: "grub", key: ARG, value: "1" } satisfies KernelArgParams);
test("cgroups2: /etc/default/grub edits", async () => {
  assert.equal(grub('GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\nGRUB_CMDLINE_LINUX=""\n'), {
    content: `GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\nGRUB_CMDLINE_LINUX="${ARG}=1"\n`,
    reason: `set ${ARG}=1 in /etc/default/grub`,
  });
  assert.is(grub("GRUB_CMDLINE_LINUX='crashkernel=auto rhgb'\n").content, `GRUB_CMDLINE_LINUX='crashkernel=auto rhgb ${ARG}=1'\n`);
  assert.is(grub(`GRUB_CMDLINE_LINUX="a"\nGRUB_CMDLINE_LINUX="b ${ARG}=0"\n`).content, `GRUB_CMDLINE_LINUX="a"\nGRUB_CMDLINE_LINUX="b ${ARG}=1"\n`);
  assert.is(grub("GRUB_DEFAULT=0\n").content, `GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX="${ARG}=1"\n`);
  assert.equal(grub(`GRUB_CMDLINE_LINUX="quiet ${ARG}=1"\n`), { content: `GRUB_CMDLINE_LINUX="quiet ${ARG}=1"\n`, reason: `${ARG}=1 already set in /etc/default/grub` });
  assert.is(grub("GRUB_CMDLINE_LINUX=quiet\n").content, `GRUB_CMDLINE_LINUX="quiet ${ARG}=1"\n`);
  assert.throws(() => grub('GRUB_CMDLINE_LINUX="a" # comment\n'), /cannot parse line 1/);
  assert.throws(() => grub('GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX a"\n'), /cannot parse line 1/);
});

test("cgroups2: a Raspberry Pi's cmdline.txt keeps its one line (and its missing newline)", async () => {
  const r = editCmdlineFile("console=tty1 root=PARTUUID=8a438930-02 rootwait", { path: "/boot/firmware/cmdline.txt", style: "cmdline", key: ARG, value: "1" });
  assert.is(r.content, `console=tty1 root=PARTUUID=8a438930-02 rootwait ${ARG}=1`);
});

/**
 * A connection that answers the reads the cgroups2 role makes (files via
 * the text tasks' read script, the boot id) and refuses anything else, so a
 * check-mode run can prove the role only reads.
 */
function scriptedConnection(files: Record<string, string>): { conn: Connection; commands: string[] } {
  const commands: string[] = [];
  const ok = (stdout: string): RunResult => ({ code: 0, stdout, stderr: "" });
  const conn: Connection = {
    host: "t1",
    async run(command) {
      commands.push(command);
      const read = /^p='?([^'\n]*)'?\n/.exec(command);
      if (read) {
        const path = read[1]!;
        const c = files[path];
        return ok(c === undefined ? `${path}\0absent\n` : `${path}\0file\t644\troot\troot\t${Buffer.byteLength(c)}\n${Buffer.from(c).toString("base64")}\n`);
      }
      if (command === "cat /proc/sys/kernel/random/boot_id") return ok("6f1c1c58-3b0a-4d7e-9a51-2f8f0c2b9d11\n");
      return { code: 99, stdout: "", stderr: `unexpected command: ${command}` };
    },
    put: () => Promise.reject(new Error("put in check mode")),
    get: () => Promise.reject(new Error("get in check mode")),
    close: () => Promise.resolve(),
  };
  return { conn, commands };
}

/** The cgroups2 role in check mode on a host with captured facts: its events. */
async function checkRun(facts: Facts, params: Partial<Cgroups2Params>, files: Record<string, string> = {}): Promise<RunEvent[]> {
  const { conn } = scriptedConnection(files);
  const bus = new EventBus(new Redactor());
  const events: RunEvent[] = [];
  bus.subscribe((e) => events.push(e));
  const h = new Host("t1", facts, {}, "test", {
    conn,
    bus,
    settings: { check: true, diff: true, tags: [], skipTags: [], verbose: 0, baseDir: process.cwd() },
    coord: new PlayCoordinator(["t1"]),
    startAt: { found: true },
  });
  runnerOf(h).enterRole("cgroups2");
  await cgroups2.spec.run(h, cgroups2.schema.parse(params));
  await h.flushHandlers();
  return events;
}
const taskLines = (events: RunEvent[]) =>
  events.flatMap((e) => (e.type === "task.result" ? [`${e.status}${e.predicted ? " (predicted)" : ""}: ${e.task}: ${e.reason}`] : e.type === "message" ? [`message: ${e.text}`] : []));

test("cgroups2 on Slackware 15.0 running cgroup v1 (captured facts): CGROUPS_VERSION=2, reboot needed, no reboot", async () => {
  const facts = fixtureFacts("slackware-15.0");
  assert.is(facts.cgroup.version, 1);
  const events = await checkRun(facts, {});
  const need = "reboot needed: the host runs cgroup v1, configured cgroup v2 in /etc/default/cgroups (reboot: false, not rebooting)";
  assert.equal(taskLines(events), [
    "changed (predicted): lineinfile /etc/default/cgroups: create /etc/default/cgroups: line added to /etc/default/cgroups",
    `ok: running cgroup hierarchy (want v2): ${need}`,
    `message: cgroups2: ${need}`,
  ]);
  const diff = events.flatMap((e) => (e.type === "task.result" ? (e.diffs ?? []) : []))[0];
  assert.equal(diff, { path: "/etc/default/cgroups", before: null, after: "CGROUPS_VERSION=2\n" });
});

test("cgroups2 with reboot: true reboots only when the hierarchy differs", async () => {
  const needs = await checkRun(fixtureFacts("slackware-15.0"), { reboot: true }, { "/etc/default/cgroups": "#CGROUPS_VERSION=2\n" });
  assert.equal(taskLines(needs).map((l) => l.replace(/\(boot id [0-9a-f]+…\)/, "(boot id …)")), [
    "changed (predicted): lineinfile /etc/default/cgroups: line 1 replaced in /etc/default/cgroups",
    "ok: running cgroup hierarchy (want v2): reboot needed: the host runs cgroup v1, configured cgroup v2 in /etc/default/cgroups",
    "message: cgroups2: reboot needed: the host runs cgroup v1, configured cgroup v2 in /etc/default/cgroups",
    "changed (predicted): reboot (runbook cgroups2: booting with cgroup v2): reboot (boot id …), then wait up to 600 s for a new boot id",
  ]);
  const current = await checkRun(fixtureFacts("slackware-current"), { reboot: true }, { "/etc/default/cgroups": "CGROUPS_VERSION=2\n" });
  assert.equal(taskLines(current), [
    "ok: lineinfile /etc/default/cgroups: line 1 of /etc/default/cgroups is as wanted",
    "ok: running cgroup hierarchy (want v2): the running hierarchy is cgroup v2, as configured",
  ]);
});

test("cgroups2 on a systemd host: GRUB_CMDLINE_LINUX, then update-grub (a handler)", async () => {
  const events = await checkRun(fixtureFacts("debian-12-vm"), {}, { "/etc/default/grub": 'GRUB_CMDLINE_LINUX_DEFAULT="quiet"\nGRUB_CMDLINE_LINUX=""\n' });
  assert.equal(taskLines(events), [
    `changed (predicted): kernel argument ${ARG}=1 in /etc/default/grub: set ${ARG}=1 in /etc/default/grub`,
    "ok: running cgroup hierarchy (want v2): the running hierarchy is cgroup v2, as configured",
    "changed (predicted): update grub.cfg: command run",
  ]);
  const missing = await checkRun(fixtureFacts("almalinux-9"), {}).catch((err: Error) => err.message);
  assert.match(String(missing), /\/etc\/default\/grub does not exist/);
});

test("cgroups2: a version other than 1 or 2 (from inventory or -e) stops the run at its start", async () => {
  assert.throws(
    () => resolveParams(cgroups2(), { name: "tnode3", vars: {} }, { low: { cgroups2: { version: 3 } }, high: {} }),
    (err: Error) => err.message === "host tnode3, role cgroups2, field version: expected one of 1, 2, got number 3",
  );
});

test("types: a playbook that misuses the roles fails tsc (the @ts-expect-error lines)", async () => {
  // @ts-expect-error cgroups2's version is 1 or 2
  cgroups2({ version: 3 });
  // @ts-expect-error ntp's mode is "client" or "server"
  ntp({ mode: "peer" });
  // @ts-expect-error servers is a list
  ntp({ servers: "pool.ntp.org" });
  // @ts-expect-error a typo is an unknown parameter
  ntp({ localStatum: 8 });
  const fine = [ntp({ mode: "server", allow: ["10.50.0.0/16"], localStratum: 8, clockControl: false }), cgroups2({ reboot: true })];
  assert.equal(fine.map((r) => r.spec.name), ["ntp", "cgroups2"]);
});

test.run();
