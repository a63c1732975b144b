/**
 * `service` plans, data-driven (STYLE lesson 12): facts, params and the
 * service's state in; commands out. Slackware rc.d and Debian init.d are
 * also proven on lab hosts (test/e2e/tasks-system.test.ts); systemd only
 * here, as no lab host runs it.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { hiddenWord, planService, type ServiceParams } from "../../tasks/service.ts";
import { runPlanCase, type PlanCase } from "./plan-helpers.ts";

const RC = "/etc/rc.d/rc.ntpd";
const NOT_RUNNING = { out: "", code: 3 };
const RUNNING = { out: "", code: 0 };
const NO_STATUS = { out: "", code: 125 };
const unit = (active: string, file: string, extra = "") => `LoadState=loaded\nActiveState=${active}\nUnitFileState=${file}\nNeedDaemonReload=no\n${extra}`;
const initd = (links: string[], tools = ["update-rc.d"]) =>
  ["script /etc/init.d/cron", ...links.map((l) => `link ${l}`), ...tools.map((t) => `tool ${t}`)].join("\n") + "\n";

const cases: PlanCase<ServiceParams>[] = [
  // -------------------------------------------------------- slackware-bsd
  {
    name: "slackware: enable and start",
    facts: "slackware-15.0",
    params: { name: "ntpd", enabled: true, state: "started" },
    state: { script: "exists\n", running: NOT_RUNNING },
    changes: [`chmod +x -- ${RC}`, `${RC} start`],
    reason: `enable ntpd (chmod +x ${RC}); start ntpd`,
  },
  {
    name: "slackware: running and enabled",
    facts: "slackware-15.0",
    params: { name: "ntpd", enabled: true, state: "started" },
    state: { script: "exists\nexecutable\n", running: RUNNING },
    changes: [],
    reason: "ntpd is running and enabled",
  },
  {
    name: "slackware: stop, then disable",
    facts: "slackware-15.0",
    params: { name: "ntpd", enabled: false, state: "stopped" },
    state: { script: "exists\nexecutable\n", running: RUNNING },
    changes: [`${RC} stop`, `chmod -x -- ${RC}`],
  },
  {
    name: "slackware: start a disabled service through sh",
    facts: "slackware-15.0",
    params: { name: "ntpd", enabled: false, state: "started" },
    state: { script: "exists\n", running: NOT_RUNNING },
    changes: [`sh ${RC} start`],
  },
  {
    name: "slackware: only enabled (no status read)",
    facts: "slackware-current",
    params: { name: "ntpd", enabled: true },
    state: { script: "exists\nexecutable\n" },
    changes: [],
    reason: "ntpd is enabled",
    check: (_p, parts) => assert.equal(Object.keys(parts), ["script"]),
  },
  {
    name: "slackware: restarted always changes",
    facts: "slackware-15.0",
    params: { name: "ntpd", state: "restarted" },
    state: { script: "exists\nexecutable\n" },
    changes: [`${RC} restart`],
    reason: "restart ntpd",
  },
  {
    name: "slackware: reloaded always changes",
    facts: "slackware-15.0",
    params: { name: "ntpd", state: "reloaded" },
    state: { script: "exists\nexecutable\n" },
    changes: [`${RC} reload`],
  },
  {
    name: "slackware: a script without status needs pattern or pidfile",
    facts: "slackware-15.0",
    params: { name: "ntpd", state: "started" },
    state: { script: "exists\nexecutable\n", running: NO_STATUS },
    error: /cannot tell whether ntpd is running: its script has no status action; set `pattern` or `pidfile`/,
  },
  {
    name: "slackware: pattern, hidden from the probe's own command line",
    facts: "slackware-15.0",
    params: { name: "ntpd", state: "started", pattern: "^/usr/sbin/ntpd -g" },
    state: { script: "exists\nexecutable\n", running: NOT_RUNNING },
    changes: [`${RC} start`],
    check: (_p, parts) => {
      assert.match(parts.running ?? "", /^pgrep -f -- "\$\(printf '(\\\d{3})+'\)" >\/dev\/null$/);
      assert.not.ok(parts.running?.includes("usr/sbin/ntpd"));
    },
  },
  {
    name: "slackware: pidfile",
    facts: "slackware-15.0",
    params: { name: "ntpd", state: "stopped", pidfile: "/var/run/ntpd.pid" },
    state: { script: "exists\nexecutable\n", running: RUNNING },
    changes: [`${RC} stop`],
    check: (_p, parts) => assert.match(parts.running ?? "", /kill -0 "\$pid"/),
  },
  {
    name: "slackware: no rc script",
    facts: "slackware-15.0",
    params: { name: "ntpd", state: "started" },
    state: { script: "missing\n", running: NO_STATUS },
    error: /\/etc\/rc\.d\/rc\.ntpd not found/,
  },
  {
    name: "neither state nor enabled",
    facts: "slackware-15.0",
    params: { name: "ntpd" },
    state: {},
    error: /give state and\/or enabled/,
  },
  {
    name: "names are validated",
    facts: "debian-12-vm",
    params: { name: "ssh; reboot", state: "started" },
    state: {},
    error: /invalid service name/,
  },
  // ------------------------------------------------------------- systemd
  {
    name: "systemd: enable and start",
    facts: "debian-12-vm",
    params: { name: "chrony", enabled: true, state: "started" },
    state: { unit: unit("inactive", "disabled") },
    changes: ["systemctl enable chrony", "systemctl start chrony"],
    check: (_p, parts) => assert.is(parts.unit, "systemctl show -p LoadState -p ActiveState -p UnitFileState -p NeedDaemonReload -- chrony"),
  },
  {
    name: "systemd: active and enabled",
    facts: "almalinux-9",
    params: { name: "chronyd", enabled: true, state: "started" },
    state: { unit: unit("active", "enabled") },
    changes: [],
    reason: "chronyd is running and enabled",
  },
  {
    name: "systemd: a changed unit file is reloaded first",
    facts: "almalinux-9",
    params: { name: "chronyd", state: "restarted" },
    state: { unit: unit("active", "enabled").replace("NeedDaemonReload=no", "NeedDaemonReload=yes") },
    changes: ["systemctl daemon-reload", "systemctl restart chronyd"],
  },
  {
    name: "systemd: stop and disable",
    facts: "debian-12-vm",
    params: { name: "chrony", enabled: false, state: "stopped" },
    state: { unit: unit("active", "enabled") },
    changes: ["systemctl stop chrony", "systemctl disable chrony"],
  },
  {
    name: "systemd: a static unit needs no enable",
    facts: "debian-12-vm",
    params: { name: "systemd-tmpfiles-clean.timer", enabled: true },
    state: { unit: unit("active", "static") },
    changes: [],
    reason: "systemd-tmpfiles-clean.timer is enabled",
  },
  {
    name: "systemd: reloaded",
    facts: "raspios-12-arm64",
    params: { name: "nginx", state: "reloaded" },
    state: { unit: unit("active", "enabled") },
    changes: ["systemctl reload nginx"],
  },
  {
    name: "systemd: masked",
    facts: "debian-12-vm",
    params: { name: "chrony", state: "started" },
    state: { unit: unit("inactive", "masked") },
    error: /unit chrony is masked/,
  },
  {
    name: "systemd: unit not found",
    facts: "debian-12-vm",
    params: { name: "nosuch", state: "started" },
    state: { unit: "LoadState=not-found\nActiveState=inactive\nUnitFileState=\n" },
    error: /unit nosuch not found/,
  },
  // ------------------------------------------------------------ sysvinit
  {
    name: "sysvinit (container, no init): start",
    facts: "debian-12-container",
    params: { name: "cron", enabled: true, state: "started" },
    state: { script: initd(["/etc/rc2.d/S01cron", "/etc/rc3.d/S01cron"]), running: NOT_RUNNING },
    changes: ["/etc/init.d/cron start"],
    reason: "start cron",
  },
  {
    name: "sysvinit: running and enabled",
    facts: "debian-12-container",
    params: { name: "cron", enabled: true, state: "started" },
    state: { script: initd(["/etc/rc2.d/S01cron"]), running: RUNNING },
    changes: [],
    reason: "cron is running and enabled",
  },
  {
    name: "sysvinit: no links yet -> update-rc.d defaults",
    facts: "debian-12-container",
    params: { name: "cron", enabled: true },
    state: { script: initd([]) },
    changes: ["update-rc.d cron defaults"],
  },
  {
    name: "sysvinit: K links (disabled) -> update-rc.d enable",
    facts: "debian-12-container",
    params: { name: "cron", enabled: true },
    state: { script: initd(["/etc/rc2.d/K01cron", "/etc/rc3.d/K01cron"]) },
    changes: ["update-rc.d cron enable"],
  },
  {
    name: "sysvinit: stop, then disable",
    facts: "debian-12-container",
    params: { name: "cron", enabled: false, state: "stopped" },
    state: { script: initd(["/etc/rc2.d/S01cron"]), running: RUNNING },
    changes: ["/etc/init.d/cron stop", "update-rc.d cron disable"],
  },
  {
    name: "sysvinit: chkconfig where there is no update-rc.d",
    facts: "debian-12-container",
    params: { name: "cron", enabled: true, manager: "sysvinit" },
    state: { script: initd([], ["chkconfig"]) },
    changes: ["chkconfig cron on"],
  },
  {
    name: "sysvinit: no init script",
    facts: "debian-12-container",
    params: { name: "cron", state: "started" },
    state: { script: "tool update-rc.d\n", running: NO_STATUS },
    error: /no init script for cron/,
  },
  {
    name: "manager overrides facts",
    facts: "debian-12-container",
    params: { name: "cron", state: "started", manager: "systemd" },
    state: { unit: unit("inactive", "enabled") },
    changes: ["systemctl start cron"],
  },
];

for (const c of cases) test(c.name, () => runPlanCase(c, planService));

test("hiddenWord round-trips through dash's printf", async () => {
  const { execFileSync } = await import("node:child_process");
  const text = "^/usr/sbin/ntpd -g -p '%s' \\ \"x\" é";
  assert.is(execFileSync("/bin/sh", ["-c", `printf '%s' ${hiddenWord(text)}`]).toString(), text);
});

test.run();
