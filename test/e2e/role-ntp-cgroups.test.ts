/**
 * The ntp and cgroups2 roles on real lab hosts, through the CLI
 * (test/fixtures/playbooks/ntp-cgroups.ts): tnode1 (Debian, tini as PID 1)
 * is a chrony server for the lab network with `local stratum 8`, tnode2
 * (Debian booted by systemd: chrony is a unit) a chrony client of it, tnode3
 * (Slackware flavour) an ntpd client of it; cgroups2 on all three.
 *
 * The lab shares the test machine's clock, so every daemon runs with
 * `clockControl: false`, and a watcher on the test machine records every
 * chronyd that runs in the lab's hosts for the whole suite: the last test
 * fails if one ever ran without -x.
 *
 * The Slackware-flavoured host is Debian underneath and has no ntpd. The
 * test builds a stand-in `ntp` package (clearly labelled scripts: an
 * /etc/rc.d/rc.ntpd shaped like Slackware's, and a /usr/sbin/ntpd that
 * records how it was started, writes the pid file and never touches the
 * clock) and the role installs it from `packageSrc` with the lab's pkgtools
 * stand-ins, so the whole Slackware path runs: package, ntp.conf, the
 * enable bit, start, and the restart handler.
 *
 * cgroups2: lab hosts mount cgroup2 in their own cgroup namespace, so their
 * facts say v2. With the default `version: 2` the running hierarchy already
 * matches (on the systemd host, a container, the role configures nothing:
 * the hierarchy is its manager's); the "reboot needed" path is proven on the Slackware host by
 * configuring `version: 1` (a real difference between the configured and
 * the running hierarchy), and in test/unit/role-ntp-cgroups.test.ts with the
 * captured facts of a Slackware 15.0 host that runs cgroup v1.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import * as assert from "uvu/assert";
import type { RunEvent } from "../../runner/events.ts";
import type { FileDiff } from "../../runner/task.ts";
import { labSuite, ssh } from "../lab/fixture.ts";
import type { Lab, LabHost } from "../lab/lab.ts";
import { events, recap, runbook, stateDir, upperSnapshot } from "./harness.ts";

const PLAYBOOK = "test/fixtures/playbooks/ntp-cgroups.ts";
const PACKAGE = "ntp-4.2.8p18-x86_64-1_rbtest.txz";

type TaskResultEvent = Extract<RunEvent, { type: "task.result" }>;

function results(evs: RunEvent[], host?: string): TaskResultEvent[] {
  return evs.filter((e): e is TaskResultEvent => e.type === "task.result" && (host === undefined || e.host === host));
}
/** The diff a host's run planned for `path` (the last one, if several tasks wrote it). */
function diffFor(evs: RunEvent[], host: string, path: string): FileDiff | undefined {
  return results(evs, host)
    .flatMap((e) => e.diffs ?? [])
    .filter((d) => d.path === path)
    .pop();
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const server = (lab: Lab) => lab.hosts[0]!;
const client = (lab: Lab) => lab.hosts[1]!;
const slack = (lab: Lab) => lab.hosts[2]!;

/** `runbook play` of the fixture against this lab, as JSON events. */
function playArgs(lab: Lab, ...extra: string[]): string[] {
  return ["play", PLAYBOOK, "-i", lab.inventory, "-e", `ntp_server=${server(lab).address}`, "-e", `ntp_package=/tmp/packages/ntp-*.txz`, "--json", ...extra];
}

const out = async (lab: Lab, host: LabHost, cmd: string) => (await ssh(lab, host, cmd)).stdout;

// ------------------------------------------------------------ the chronyd watch

/**
 * Every chronyd that runs in this lab's hosts, seen from the test machine:
 * /proc is scanned every 50 ms and each chronyd whose network namespace is
 * one of the lab hosts' is recorded with its command line. chronyd is a
 * daemon that stays up, so one started without -x could not slip between
 * two scans.
 */
class ChronydWatch {
  /** `PID HOST: ARGS` of every chronyd seen. */
  readonly seen = new Set<string>();
  readonly #netns = new Map<number, string>();
  #timer: NodeJS.Timeout | undefined;

  constructor(hosts: LabHost[]) {
    for (const h of hosts) this.#netns.set(statSync(`/run/netns/${h.netns}`).ino, h.name);
  }

  start(): void {
    this.#timer = setInterval(() => this.scan(), 50);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.scan();
  }

  scan(): void {
    for (const pid of readdirSync("/proc")) {
      if (!/^\d+$/.test(pid)) continue;
      try {
        if (readFileSync(`/proc/${pid}/comm`, "utf8").trim() !== "chronyd") continue;
        const ns = /^net:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/ns/net`))?.[1];
        const host = ns === undefined ? undefined : this.#netns.get(Number(ns));
        if (!host) continue;
        const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ");
        // A process that is exiting (a zombie) has no command line any more; it was seen with one before.
        if (args) this.seen.add(`${pid} ${host}: ${args}`);
      } catch {
        // The process ended while we looked.
      }
    }
  }

  /**
   * Those that ran without -x (must stay empty). `chronyd -p` (print the
   * configuration and exit, as Debian's init script does to read it) never
   * runs the clock loop, so it does not count.
   */
  withoutX(): string[] {
    return [...this.seen].filter((s) => !/: \S+( .*)? -x( |$)/.test(s) && !/: \S+ -p( |$)/.test(s));
  }
}

// ------------------------------------------------ the Slackware host's stand-in ntp package

/** The stand-in package: an rc.ntpd shaped like Slackware's and an ntpd that is not one. */
function buildNtpPackage(): Buffer {
  const dir = mkdtempSync(join(tmpdir(), "rb-ntp-pkg-"));
  try {
    const tree = join(dir, "tree");
    const files: Record<string, [string, number]> = {
      "install/slack-desc": [
        [
          "   |-----handy-ruler------------------------------------------------------|",
          "ntp: ntp (RUNBOOK TEST STAND-IN for the Network Time Protocol daemon)",
          "ntp:",
          "ntp: Built by test/e2e/role-ntp-cgroups.test.ts for the lab's",
          "ntp: Slackware-flavoured host, which has no ntpd. Not Slackware's",
          "ntp: ntp package: its ntpd never reads or sets the clock.",
          "",
        ].join("\n"),
        0o644,
      ],
      "usr/sbin/ntpd": [
        [
          "#!/bin/sh",
          "# /usr/sbin/ntpd -- RUNBOOK TEST STAND-IN. This is NOT ntpd.",
          "# Built by test/e2e/role-ntp-cgroups.test.ts for the lab's Slackware-flavoured",
          "# host (Debian underneath, no ntpd). It records how it was started",
          "# (/var/log/ntpd-standin.log, and the /etc/ntp.conf it was started with in",
          "# /run/ntpd-standin.conf), writes the pid file Slackware's rc.ntpd checks,",
          "# and waits until told to stop. It never reads or sets the clock.",
          "LOG=/var/log/ntpd-standin.log",
          'echo "start $*" >> "$LOG"',
          "cp /etc/ntp.conf /run/ntpd-standin.conf",
          "(",
          "  trap 'echo stop >> \"$LOG\"; exit 0' HUP TERM",
          "  while :; do sleep 1 & wait $!; done",
          ") </dev/null >/dev/null 2>&1 &",
          "echo $! > /var/run/ntpd.pid",
          "",
        ].join("\n"),
        0o755,
      ],
      "etc/rc.d/rc.ntpd": [
        [
          "#!/bin/sh",
          "# /etc/rc.d/rc.ntpd -- RUNBOOK TEST STAND-IN, shaped like Slackware's rc.ntpd",
          "# (start/stop/restart/status, the pid file in /var/run) but starting the",
          "# stand-in /usr/sbin/ntpd of this test package.",
          "ntpd_start() {",
          '  CMDLINE="/usr/sbin/ntpd"',
          '  echo -n "Starting NTP daemon:  $CMDLINE -g -u ntp:ntp"',
          "  $CMDLINE -g -u ntp:ntp 2> /dev/null",
          "  echo",
          "}",
          "ntpd_stop() {",
          '  echo -n "Stopping NTP daemon..."',
          "  if [ -r /var/run/ntpd.pid ]; then",
          "    kill -HUP $(cat /var/run/ntpd.pid)",
          "    rm -f /var/run/ntpd.pid",
          "  fi",
          "  echo",
          "}",
          "ntpd_status() {",
          "  if [ -e /var/run/ntpd.pid ]; then",
          '    echo "ntpd is running."',
          "  else",
          '    echo "ntpd is stopped."',
          "    exit 1",
          "  fi",
          "}",
          'case "$1" in',
          "'start') ntpd_start ;;",
          "'stop') ntpd_stop ;;",
          "'restart') ntpd_stop; sleep 1; ntpd_start ;;",
          "'status') ntpd_status ;;",
          '*) echo "usage $0 start|stop|restart|status" ;;',
          "esac",
          "",
        ].join("\n"),
        // As Slackware ships it: not executable, i.e. not enabled at boot.
        0o644,
      ],
    };
    for (const [path, [text, mode]] of Object.entries(files)) {
      mkdirSync(dirname(join(tree, path)), { recursive: true });
      writeFileSync(join(tree, path), text);
      chmodSync(join(tree, path), mode);
    }
    mkdirSync(join(tree, "etc/ntp"), { recursive: true });
    chmodSync(tree, 0o755);
    execFileSync("tar", ["--owner=0", "--group=0", "-C", tree, "-cJf", join(dir, PACKAGE), "."]);
    return readFileSync(join(dir, PACKAGE));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// --------------------------------------------------------------------- the suite

const s = await labSuite("roles: ntp (chrony server and client, Slackware ntpd) and cgroups2", { hosts: 3, slackware: [3], systemd: [2] });

let watch: ChronydWatch | undefined;
s.before(async ({ lab }) => {
  if (!lab) return; // the lab did not come up: every test reports that error
  watch = new ChronydWatch(lab.hosts);
  watch.start();
  const pkg = buildNtpPackage().toString("base64");
  await ssh(lab, slack(lab), `mkdir -p /tmp/packages && base64 -d > /tmp/packages/${PACKAGE}`, { input: pkg });
});
s.after(() => watch?.stop());

const state = stateDir();
let firstRun: RunEvent[] = [];

s("--check --diff on fresh hosts predicts every change and writes nothing", async ({ lab }) => {
  const before = await Promise.all(lab.hosts.map(upperSnapshot));
  const r = await runbook([...playArgs(lab), "--check", "--diff"], { stateDir: stateDir() });
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.equal(await Promise.all(lab.hosts.map(upperSnapshot)), before, "check mode wrote nothing on any host");
  const evs = events(r.stdout);
  for (const [host, c] of Object.entries(recap(r.stdout))) {
    assert.ok(c.changed > 0, `${host}: changes predicted`);
    assert.is(c.failed, 0, host);
  }
  assert.ok(results(evs).every((e) => e.status !== "changed" || e.predicted), "every change only predicted");

  const addr = server(lab).address;
  const serverConf = diffFor(evs, "tnode1", "/etc/chrony/chrony.conf")?.after ?? "";
  assert.match(serverConf, /^allow 10\.88\.0\.0\/16$/m);
  assert.match(serverConf, /^local stratum 8$/m);
  assert.match(serverConf, /^server 1\.pool\.ntp\.org iburst$/m);
  assert.match(diffFor(evs, "tnode2", "/etc/chrony/chrony.conf")?.after ?? "", new RegExp(`^server ${addr.replace(/\./g, "\\.")} iburst$`, "m"));
  for (const h of ["tnode1", "tnode2"]) assert.match(diffFor(evs, h, "/etc/default/chrony")?.after ?? "", /^DAEMON_OPTS="-F 1 -x"$/m);
  const ntpConf = diffFor(evs, "tnode3", "/etc/ntp.conf")?.after ?? "";
  assert.match(ntpConf, new RegExp(`^server ${addr.replace(/\./g, "\\.")} iburst$`, "m"));
  assert.match(ntpConf, /^disable ntp$/m);
  assert.is(diffFor(evs, "tnode3", "/etc/default/cgroups")?.after, "CGROUPS_VERSION=2\n");
  assert.equal([...watch!.seen], [], "no chronyd ran");
});

s("first run: every host changes; options file before the package; the client selects the server (^*)", async ({ lab }) => {
  const started = Date.now();
  const r = await runbook(playArgs(lab), { stateDir: state });
  assert.is(r.code, 0, r.stdout + r.stderr);
  const ranMs = Date.now() - started;
  firstRun = events(r.stdout);
  for (const [host, c] of Object.entries(recap(r.stdout))) {
    assert.ok(c.changed > 0, `${host} changed`);
    assert.is(c.failed, 0, host);
  }
  for (const host of ["tnode1", "tnode2"]) {
    const names = results(firstRun, host).map((e) => `${e.kind} ${e.task}`);
    const options = names.findIndex((n) => n === "template template /etc/default/chrony");
    const pkg = names.findIndex((n) => n.startsWith("package "));
    assert.ok(options >= 0 && pkg > options, `${host}: /etc/default/chrony written before the package:\n${names.join("\n")}`);
  }

  // chronyd -x still measures its sources and selects one.
  const addr = server(lab).address;
  const selected = new RegExp(`^\\^\\* ${addr.replace(/\./g, "\\.")}\\s`, "m");
  const polled = Date.now();
  let sources = "";
  while (Date.now() - polled < 60_000) {
    sources = (await ssh(lab, client(lab), "chronyc -n sources", { allowFail: true })).stdout;
    if (selected.test(sources)) break;
    await sleep(1000);
  }
  assert.match(sources, selected, `tnode2 selected tnode1 within 60 s:\n${sources}`);
  console.log(`    (first run ${(ranMs / 1000).toFixed(1)} s; tnode2 showed ^* ${addr} ${((Date.now() - polled) / 1000).toFixed(1)} s after it ended)`);
  assert.match(await out(lab, server(lab), "chronyc -n tracking"), /^Stratum\s+: 8$/m);
  const tracking = await out(lab, client(lab), "chronyc -n tracking");
  assert.match(tracking, new RegExp(`^Reference ID\\s+: \\S+ \\(${addr.replace(/\./g, "\\.")}\\)$`, "m"));
  assert.match(tracking, /^Stratum\s+: 9$/m);
});

s("the Slackware host: ntp package, ntp.conf, rc.ntpd enabled and started, restarted once by the handler; CGROUPS_VERSION=2", async ({ lab }) => {
  const host = slack(lab);
  const addr = server(lab).address;
  const conf = await out(lab, host, "cat /etc/ntp.conf");
  assert.match(conf, new RegExp(`^server ${addr.replace(/\./g, "\\.")} iburst$`, "m"));
  assert.match(conf, /^disable ntp$/m);
  assert.match(conf, /^restrict default limited kod nomodify notrap nopeer noquery$/m);
  assert.is(await out(lab, host, "ls /var/log/packages | grep '^ntp-'"), "ntp-4.2.8p18-x86_64-1_rbtest\n");
  assert.is(await out(lab, host, "test -x /etc/rc.d/rc.ntpd && echo enabled"), "enabled\n");
  // Started by the service task, then restarted by the handler the new ntp.conf notified.
  assert.is(await out(lab, host, "cat /var/log/ntpd-standin.log"), "start -g -u ntp:ntp\nstop\nstart -g -u ntp:ntp\n");
  assert.is(await out(lab, host, "cat /run/ntpd-standin.conf"), conf, "ntpd runs with the new config");
  assert.is(await out(lab, host, "kill -0 $(cat /var/run/ntpd.pid) && echo running"), "running\n");

  assert.is(await out(lab, host, "cat /etc/default/cgroups"), "CGROUPS_VERSION=2\n");
  const check = results(firstRun, host.name).find((e) => e.kind === "cgroups");
  assert.is(check?.status, "ok");
  assert.is(check?.reason, "the running hierarchy is cgroup v2, as configured");
  // The tini Debian host mounts the unified hierarchy from fstab; the systemd
  // one is a container: its hierarchy is the lab's to give, nothing to configure.
  assert.match(await out(lab, server(lab), "cat /etc/fstab"), /^cgroup2 \/sys\/fs\/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime 0 0$/m);
  assert.not.match(await out(lab, client(lab), "cat /etc/fstab"), /cgroup/);
  const sd = results(firstRun, client(lab).name).filter((e) => e.role === "cgroups2");
  assert.equal(
    sd.map((e) => [e.kind, e.status, e.reason]),
    [["cgroups", "ok", "the running hierarchy is cgroup v2, as the container manager (runbook-lab) gives it: a container has no kernel command line of its own"]],
  );
});

s("the systemd host: chrony is a unit, enabled, its main process chronyd -x, restarted by systemctl", async ({ lab }) => {
  const host = client(lab);
  const unit = await out(lab, host, "systemctl is-enabled chrony; systemctl show --value -p ActiveState chrony; systemctl show --value -p MainPID chrony; cat /run/chrony/chronyd.pid");
  const [enabled, active, mainPid, pidFile] = unit.trim().split("\n");
  assert.equal([enabled, active], ["enabled", "active"]);
  assert.is(mainPid, pidFile, "the running chronyd is the unit's");
  assert.match(await out(lab, host, `tr '\\0' ' ' < /proc/${mainPid}/cmdline`), / -x( |$)/);
  // The handler restarted the unit with systemctl, not an init script.
  const restart = results(firstRun, host.name).find((e) => e.task === "service chrony (restarted)");
  assert.equal(restart?.commands, ["systemctl restart chrony"]);
});

s("second run: 0 changed on every host, no daemon restarted", async ({ lab }) => {
  const pids = async () => [
    await out(lab, server(lab), "cat /run/chrony/chronyd.pid"),
    await out(lab, client(lab), "cat /run/chrony/chronyd.pid"),
    await out(lab, slack(lab), "cat /var/run/ntpd.pid /var/log/ntpd-standin.log"),
  ];
  const before = await pids();
  const r = await runbook(playArgs(lab), { stateDir: state });
  assert.is(r.code, 0, r.stdout + r.stderr);
  for (const [host, c] of Object.entries(recap(r.stdout))) assert.equal([host, c.changed, c.failed], [host, 0, 0]);
  assert.equal(await pids(), before);
  const reasons = results(events(r.stdout), "tnode2").map((e) => e.reason);
  assert.ok(reasons.includes("/etc/chrony/chrony.conf content and attributes match"), reasons.join("\n"));
});

s("cgroups2 version 1 on the Slackware host (running v2): reboot needed, reported not as a change, and no reboot", async ({ lab }) => {
  const host = slack(lab);
  const boot = () => out(lab, host, "cut -d' ' -f22 /proc/1/stat");
  const booted = await boot();
  const v1 = ["-l", host.name, "-e", JSON.stringify({ cgroups2: { version: 1 } })];
  const want = "reboot needed: the host runs cgroup v2, configured cgroup v1 in /etc/default/cgroups (reboot: false, not rebooting)";

  const first = await runbook(playArgs(lab, ...v1), { stateDir: state });
  assert.is(first.code, 0, first.stdout + first.stderr);
  assert.is(recap(first.stdout)[host.name]?.changed, 1, "only /etc/default/cgroups changed");
  assert.is(await out(lab, host, "cat /etc/default/cgroups"), "CGROUPS_VERSION=1\n");
  const evs = events(first.stdout);
  const check = results(evs, host.name).find((e) => e.kind === "cgroups");
  assert.equal([check?.status, check?.reason], ["ok", want]);
  assert.ok(
    evs.some((e) => e.type === "message" && e.host === host.name && e.text === `cgroups2: ${want}`),
    "the notice is logged for the host",
  );

  const second = await runbook(playArgs(lab, ...v1), { stateDir: state });
  assert.is(second.code, 0, second.stdout + second.stderr);
  assert.is(recap(second.stdout)[host.name]?.changed, 0, "a pending reboot is not a change");
  const again = results(events(second.stdout), host.name).find((e) => e.kind === "cgroups");
  assert.equal([again?.status, again?.reason], ["ok", want]);
  assert.ok(!results([...evs, ...events(second.stdout)]).some((e) => e.kind === "reboot"), "no reboot task ran");
  assert.is(await boot(), booted, "the host was not rebooted (PID 1 is the same process)");
});

s("no chronyd ever ran in the lab without -x", async ({ lab }) => {
  watch!.scan();
  const seen = [...watch!.seen];
  assert.ok(seen.some((x) => x.includes(" tnode1: ")) && seen.some((x) => x.includes(" tnode2: ")), `chronyd seen on both chrony hosts:\n${seen.join("\n")}`);
  assert.equal(watch!.withoutX(), [], "every chronyd had -x");
  for (const h of [server(lab), client(lab)]) {
    const ps = await out(lab, h, "ps -eo args | grep '[c]hronyd'");
    assert.ok(ps.trim().split("\n").every((l) => / -x( |$)/.test(l)), `${h.name}:\n${ps}`);
  }
  console.log(`    (${seen.length} chronyd processes seen, all with -x)`);
});

s.run();
