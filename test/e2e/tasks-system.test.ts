/**
 * package, service and kernelModule on real lab hosts: tnode1 is Debian
 * (apt, init.d scripts under a tini PID 1), tnode2 the Slackware flavour
 * (pkgtools, /etc/rc.d), tnode3 Debian booted by systemd (units). Slackware's pkgtools cannot run on Debian, so
 * tnode2 carries test stand-ins for installpkg/upgradepkg/removepkg
 * (test/lab/slackware/usr/sbin) that really extract .txz packages and keep
 * /var/log/packages records.
 *
 * Every task is proven the same way (`prove`): check mode predicts the
 * change and leaves the host as it was (overlay upper dir byte for byte,
 * plus live state such as running processes), the first real run changes,
 * the second reports ok with its no-op reason.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import * as assert from "uvu/assert";
import { labSuite, until } from "../lab/fixture.ts";
import type { Lab, LabHost } from "../lab/lab.ts";
import type { Host } from "../../runner/host.ts";
import type { TaskResult } from "../../runner/task.ts";
import { suiteContexts, upperSnapshot } from "./harness.ts";

const s = await labSuite("tasks: package, service, kernelModule", { hosts: 3, slackware: [2], systemd: [3] });

const debian = (lab: Lab) => lab.hosts[0]!;
const slack = (lab: Lab) => lab.hosts[1]!;
const systemd = (lab: Lab) => lab.hosts[2]!;

const { ctx, sh, out, prove } = suiteContexts(s);


// ---------------------------------------------------------------- Debian

s("facts pick the backends: apt and init.d scripts on Debian, pkgtools and rc.d on the Slackware flavour, units under systemd", async ({ lab }) => {
  // systemd is installed on the tini host too, but is not its init.
  const d = (await ctx(lab, debian(lab), false)).h.facts;
  assert.equal([d.packageManager, d.initSystem], ["apt", "unknown"]);
  const sd = (await ctx(lab, systemd(lab), false)).h.facts;
  assert.equal([sd.packageManager, sd.initSystem], ["apt", "systemd"]);
  const sl = (await ctx(lab, slack(lab), false)).h.facts;
  assert.equal([sl.os.family, sl.packageManager, sl.initSystem], ["slackware", "pkgtools", "slackware-bsd"]);
});

s("debian: apt installs, refreshes stale lists for latest, removes", async ({ lab }) => {
  const host = debian(lab);
  await prove(lab, host, (h) => h.package({ name: "hello" }), { change: /^install hello$/, noop: /^hello \S+ installed$/ });
  assert.match(await out(lab, host, "hello"), /Hello, world!/);

  // Lists older than updateCache: `latest` refreshes them (and stamps the refresh), then is a no-op.
  await sh(lab, host, "touch -d '3 hours ago' /var/lib/apt/lists/*_Packages");
  await prove(lab, host, (h) => h.package({ name: "hello", state: "latest", updateCache: 3600 }), {
    change: /^refresh package lists \(package lists older than 3600 s \(\d+ s\)\); install or upgrade hello to the latest version$/,
    noop: /^hello \S+ at the latest version$/,
  });
  assert.match(await out(lab, host, "ls /var/lib/apt/periodic/"), /update-success-stamp/);

  await prove(lab, host, (h) => h.package({ name: ["hello", "tree"], state: "absent" }), {
    change: /^remove hello \S+$/,
    noop: /^hello, tree not installed$/,
  });
  assert.is((await sh(lab, host, "test -e /usr/bin/hello", { allowFail: true })).code, 1);
});

s("debian: an init.d service (cron) started, restarted, stopped and disabled, enabled again", async ({ lab }) => {
  const host = debian(lab);
  const h = (await ctx(lab, host, false)).h;
  // apt installs it enabled (S links) but cannot start it: invoke-rc.d finds no init system.
  assert.is((await h.package({ name: "cron" })).status, "changed");
  const pid = async () => (await sh(lab, host, "pgrep -x cron", { allowFail: true })).stdout.trim();
  assert.is(await pid(), "");

  await prove(lab, host, (h) => h.service({ name: "cron", state: "started", enabled: true }), {
    change: /^start cron$/,
    noop: /^cron is running and enabled$/,
    live: pid,
  });
  const first = await pid();
  assert.match(first, /^\d+$/);

  const restarted = await h.service({ name: "cron", state: "restarted" });
  assert.equal([restarted.status, restarted.reason], ["changed", "restart cron"]);
  const second = await pid();
  assert.match(second, /^\d+$/);
  assert.is.not(second, first);

  await prove(lab, host, (h) => h.service({ name: "cron", state: "stopped", enabled: false }), {
    change: /^stop cron; disable cron \(update-rc\.d cron disable\)$/,
    noop: /^cron is stopped and disabled$/,
    live: pid,
  });
  assert.is(await pid(), "");
  assert.match(await out(lab, host, "ls /etc/rc2.d"), /K01cron/);

  await prove(lab, host, (h) => h.service({ name: "cron", enabled: true }), {
    change: /^enable cron \(update-rc\.d cron enable\)$/,
    noop: /^cron is enabled$/,
  });
  assert.match(await out(lab, host, "ls /etc/rc2.d"), /S01cron/);
});

s("systemd: a unit enabled and started, reloaded, restarted, its templated unit file changed and daemon-reloaded, stopped and disabled; check mode predicts each", async ({ lab }) => {
  const host = systemd(lab);
  const h = (await ctx(lab, host, false)).h;
  const chk = (await ctx(lab, host, true)).h;
  // A daemon that counts its reloads (SIGHUP) in /run/rbdemo.reloads.
  await h.copy({
    dest: "/usr/local/sbin/rbdemo",
    mode: "0755",
    content: "#!/bin/sh\ntrap 'echo $GREETING >> /run/rbdemo.reloads' HUP\nwhile :; do sleep 60 & wait $!; done\n",
  });
  const unit = (greeting: string) => h.template({ src: new URL("../fixtures/units/rbdemo.service.njk", import.meta.url), dest: "/etc/systemd/system/rbdemo.service", vars: { greeting }, mode: "0644" });
  assert.is((await unit("one")).status, "changed");
  const show = async (...props: string[]) => (await out(lab, host, props.map((p) => `systemctl show --value -p ${p} rbdemo.service`).join("; "))).trim();
  const live = () => show("ActiveState", "UnitFileState", "MainPID", "NeedDaemonReload");
  const reloads = async () => (await sh(lab, host, "cat /run/rbdemo.reloads", { allowFail: true })).stdout;

  await prove(lab, host, (h) => h.service({ name: "rbdemo", state: "started", enabled: true }), {
    change: /^enable rbdemo; start rbdemo$/,
    noop: /^rbdemo is running and enabled$/,
    live,
  });
  assert.match(await live(), /^active\nenabled\n\d+\nno$/);
  assert.is(await out(lab, host, "readlink /etc/systemd/system/multi-user.target.wants/rbdemo.service"), "/etc/systemd/system/rbdemo.service\n");

  /** Check mode predicts `reason` and moves nothing; the real run does it. */
  const predictThenRun = async (task: (h: Host) => Promise<TaskResult>, reason: RegExp) => {
    const before = [await upperSnapshot(host), await live(), await reloads()];
    const predicted = await task(chk);
    assert.equal([predicted.status, predicted.predicted], ["changed", true]);
    assert.match(predicted.reason, reason);
    assert.equal([await upperSnapshot(host), await live(), await reloads()], before, "check mode changed nothing");
    const done = await task(h);
    assert.equal([done.status, done.reason], ["changed", predicted.reason]);
  };

  const pid = await show("MainPID");
  await predictThenRun((h) => h.service({ name: "rbdemo", state: "reloaded" }), /^reload rbdemo$/);
  await until("the daemon's reload signal", async () => (await reloads()) === "one\n", 10_000);
  assert.is(await show("MainPID"), pid, "a reload keeps the process");

  await predictThenRun((h) => h.service({ name: "rbdemo", state: "restarted" }), /^restart rbdemo$/);
  const restartedPid = await show("MainPID");
  assert.match(restartedPid, /^\d+$/);
  assert.is.not(restartedPid, pid);

  // The unit file changes under the running unit: systemd says so, and the task daemon-reloads first.
  assert.is((await unit("two")).status, "changed");
  assert.is(await show("NeedDaemonReload"), "yes");
  await prove(lab, host, (h) => h.service({ name: "rbdemo", state: "started" }), {
    change: /^daemon-reload \(rbdemo's unit file changed\)$/,
    noop: /^rbdemo is running$/,
    live,
  });
  assert.equal([await show("NeedDaemonReload"), await show("MainPID")], ["no", restartedPid], "a daemon-reload alone restarts nothing");
  assert.is((await unit("three")).status, "changed");
  await predictThenRun((h) => h.service({ name: "rbdemo", state: "restarted" }), /^daemon-reload \(rbdemo's unit file changed\); restart rbdemo$/);
  assert.match(await out(lab, host, `tr '\\0' '\\n' < /proc/${await show("MainPID")}/environ`), /^GREETING=three$/m);

  await prove(lab, host, (h) => h.service({ name: "rbdemo", state: "stopped", enabled: false }), {
    change: /^stop rbdemo; disable rbdemo$/,
    noop: /^rbdemo is stopped and disabled$/,
    live,
  });
  assert.equal(await live(), "inactive\ndisabled\n0\nno");
  assert.is((await sh(lab, host, "test -e /etc/systemd/system/multi-user.target.wants/rbdemo.service", { allowFail: true })).code, 1);
});

s("debian: a built-in kernel module is present; persist writes modules-load.d", async ({ lab }) => {
  const host = debian(lab);
  await prove(lab, host, (h) => h.kernelModule({ name: "bridge", persist: true }), {
    change: /^create \/etc\/modules-load\.d\/bridge\.conf$/,
    noop: /^bridge is built into the kernel; \/etc\/modules-load\.d\/bridge\.conf loads it at boot$/,
  });
  assert.is(await out(lab, host, "cat /etc/modules-load.d/bridge.conf"), "bridge\n");
  const h = (await ctx(lab, host, false)).h;
  const r = await h.kernelModule({ name: "bridge", state: "absent" }, { ignoreErrors: true });
  assert.equal([r.status, r.reason], ["failed", "bridge is built into the kernel and cannot be unloaded"]);
});

// ------------------------------------------------------------- Slackware

/** Builds NAME-VERSION-noarch-1.txz locally, as makepkg lays a package out. */
function buildPackage(version: string, files: Record<string, string>): { file: string; content: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), "rb-pkg-"));
  try {
    const tree = join(dir, "tree");
    const all: Record<string, string> = {
      "install/slack-desc": [
        "        |-----handy-ruler------------------------------------------------------|",
        `hello-rb: hello-rb (runbook test package ${version})`,
        "hello-rb:",
        "hello-rb: A shell script that says hello, packaged like a SlackBuild",
        "hello-rb: output to test runbook's package task.",
        "",
      ].join("\n"),
      // What makepkg writes for a symlink in the tree.
      "install/doinst.sh": "( cd usr/bin ; rm -rf hi-rb )\n( cd usr/bin ; ln -sf hello-rb hi-rb )\n",
      ...files,
    };
    for (const [path, text] of Object.entries(all)) {
      mkdirSync(dirname(join(tree, path)), { recursive: true });
      writeFileSync(join(tree, path), text);
    }
    chmodSync(tree, 0o755);
    chmodSync(join(tree, "usr/bin/hello-rb"), 0o755);
    const file = `hello-rb-${version}-noarch-1.txz`;
    execFileSync("tar", ["--owner=0", "--group=0", "-C", tree, "-cJf", join(dir, file), "."]);
    return { file, content: readFileSync(join(dir, file)) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

s("slackware: installpkg from a glob, upgradepkg from a directory, removepkg", async ({ lab }) => {
  const host = slack(lab);
  const h = (await ctx(lab, host, false)).h;
  const v1 = buildPackage("1.0", { "usr/bin/hello-rb": "#!/bin/sh\necho hello 1.0\n", "usr/share/hello-rb/v1-only": "old\n" });
  await h.file({ path: "/tmp/packages", state: "directory" });
  await h.copy({ dest: `/tmp/packages/${v1.file}`, content: v1.content });

  await prove(lab, host, (h) => h.package({ name: "hello-rb", src: "/tmp/packages/hello-rb-*.txz" }), {
    change: /^install hello-rb-1\.0-noarch-1$/,
    noop: /^installed: hello-rb \(hello-rb-1\.0-noarch-1\)$/,
  });
  const record = await out(lab, host, "cat /var/log/packages/hello-rb-1.0-noarch-1");
  assert.match(record, /^PACKAGE NAME: {5}hello-rb-1\.0-noarch-1\nCOMPRESSED PACKAGE SIZE: {5}\d+K\nUNCOMPRESSED PACKAGE SIZE: {5}\d+K\nPACKAGE LOCATION: \/tmp\/packages\/hello-rb-1\.0-noarch-1\.txz\nPACKAGE DESCRIPTION:\nhello-rb: hello-rb \(runbook test package 1\.0\)\nhello-rb:\n/);
  assert.match(record, /\nFILE LIST:\n\.\/\n(.*\n)*usr\/bin\/hello-rb\n/);
  assert.match(record, /\nusr\/share\/hello-rb\/v1-only\n/);
  assert.is(await out(lab, host, "hello-rb; readlink /usr/bin/hi-rb; test -e /install || echo no-install-dir"), "hello 1.0\nhello-rb\nno-install-dir\n");
  assert.match(await out(lab, host, "cat /var/log/scripts/hello-rb-1.0-noarch-1"), /ln -sf hello-rb hi-rb/);

  const v2 = buildPackage("2.0", { "usr/bin/hello-rb": "#!/bin/sh\necho hello 2.0\n", "usr/share/hello-rb/README": "two\n" });
  await h.copy({ dest: `/tmp/packages/${v2.file}`, content: v2.content });
  await prove(lab, host, (h) => h.package({ name: "hello-rb", src: "/tmp/packages", state: "latest" }), {
    change: /^upgrade hello-rb-1\.0-noarch-1 -> hello-rb-2\.0-noarch-1$/,
    noop: /^hello-rb-2\.0-noarch-1 installed, as in \/tmp\/packages$/,
  });
  assert.is(await out(lab, host, "ls /var/log/packages | grep hello-rb"), "hello-rb-2.0-noarch-1\n");
  assert.match(await out(lab, host, "ls /var/lib/pkgtools/removed_packages"), /^hello-rb-1\.0-noarch-1-upgraded-/);
  assert.is(await out(lab, host, "hello-rb; ls /usr/share/hello-rb; readlink /usr/bin/hi-rb"), "hello 2.0\nREADME\nhello-rb\n");

  await prove(lab, host, (h) => h.package({ name: "hello-rb", state: "absent" }), {
    change: /^remove hello-rb \(hello-rb-2\.0-noarch-1\)$/,
    noop: /^hello-rb not installed$/,
  });
  assert.is(await out(lab, host, "ls /var/log/packages | grep -c hello-rb; for f in /usr/bin/hello-rb /usr/bin/hi-rb /usr/share/hello-rb; do [ -e $f ] || [ -L $f ] && echo left: $f; done; true"), "0\n");
  // The other records are untouched.
  assert.match(await out(lab, host, "ls /var/log/packages"), /^aaa_base-15\.1-x86_64-1\n/);
});

/** A real daemon behind a real rc script, written as Slackware's are. */
const RC_HELLOD = `#!/bin/sh
# /etc/rc.d/rc.hellod: start/stop/restart/status the hellod test daemon.
PIDFILE=/run/hellod.pid

hellod_status() {
  if [ -f $PIDFILE ] && kill -0 "$(cat $PIDFILE)" 2>/dev/null; then
    echo "hellod is running (pid $(cat $PIDFILE))"
    return 0
  fi
  echo "hellod is stopped"
  return 3
}

hellod_start() {
  if hellod_status >/dev/null; then
    echo "hellod is already running"
    return 0
  fi
  echo "Starting hellod:  /usr/local/sbin/hellod"
  setsid /usr/local/sbin/hellod </dev/null >/dev/null 2>&1 &
  echo $! > $PIDFILE
}

hellod_stop() {
  if [ -f $PIDFILE ]; then
    echo "Stopping hellod"
    kill "$(cat $PIDFILE)" 2>/dev/null
    rm -f $PIDFILE
  fi
}

case "$1" in
'start')
  hellod_start
  ;;
'stop')
  hellod_stop
  ;;
'restart')
  hellod_stop
  hellod_start
  ;;
'status')
  hellod_status
  ;;
*)
  echo "usage $0 start|stop|restart|status"
esac
`;

s("slackware: rc.hellod enabled (chmod +x) and started, restarted, stopped and disabled", async ({ lab }) => {
  const host = slack(lab);
  const h = (await ctx(lab, host, false)).h;
  await h.copy({ dest: "/usr/local/sbin/hellod", content: "#!/bin/sh\nwhile :; do sleep 1; done\n", mode: "0755" });
  await h.copy({ dest: "/etc/rc.d/rc.hellod", content: RC_HELLOD, mode: "0644" });
  const pid = async () => (await sh(lab, host, "pgrep -f '^/bin/sh /usr/local/sbin/hellod'", { allowFail: true })).stdout.trim();
  const mode = () => out(lab, host, "stat -c %a /etc/rc.d/rc.hellod");

  await prove(lab, host, (h) => h.service({ name: "hellod", enabled: true, state: "started" }), {
    change: /^enable hellod \(chmod \+x \/etc\/rc\.d\/rc\.hellod\); start hellod$/,
    noop: /^hellod is running and enabled$/,
    live: pid,
  });
  assert.is(await mode(), "755\n");
  const first = await pid();
  assert.match(first, /^\d+$/);
  assert.is(await out(lab, host, "cat /run/hellod.pid"), `${first}\n`);

  // The pattern and pid file ways of telling (the probe must not match its own command line).
  const byPattern = await h.service({ name: "hellod", state: "started", pattern: "^/bin/sh /usr/local/sbin/hellod" });
  assert.equal([byPattern.status, byPattern.reason], ["ok", "hellod is running"]);
  const byPidfile = await h.service({ name: "hellod", state: "started", pidfile: "/run/hellod.pid" });
  assert.equal([byPidfile.status, byPidfile.reason], ["ok", "hellod is running"]);

  const restarted = await h.service({ name: "hellod", state: "restarted" });
  assert.equal([restarted.status, restarted.reason], ["changed", "restart hellod"]);
  const second = await pid();
  assert.match(second, /^\d+$/);
  assert.is.not(second, first);

  await prove(lab, host, (h) => h.service({ name: "hellod", enabled: false, state: "stopped" }), {
    change: /^stop hellod; disable hellod \(chmod -x \/etc\/rc\.d\/rc\.hellod\)$/,
    noop: /^hellod is stopped and disabled$/,
    live: pid,
  });
  assert.is(await mode(), "644\n");
  assert.is(await pid(), "");
  const stoppedByPattern = await h.service({ name: "hellod", state: "stopped", pattern: "^/bin/sh /usr/local/sbin/hellod" });
  assert.equal([stoppedByPattern.status, stoppedByPattern.reason], ["ok", "hellod is stopped"]);
});

s("slackware: a built-in kernel module is present; persist adds a line to rc.modules.local", async ({ lab }) => {
  const host = slack(lab);
  const before = await out(lab, host, "cat /etc/rc.d/rc.modules.local");
  await prove(lab, host, (h) => h.kernelModule({ name: "overlay", persist: true }), {
    change: /^update \/etc\/rc\.d\/rc\.modules\.local$/,
    noop: /^overlay is built into the kernel; \/etc\/rc\.d\/rc\.modules\.local loads it at boot$/,
  });
  assert.is(await out(lab, host, "cat /etc/rc.d/rc.modules.local"), `${before}/sbin/modprobe overlay\n`);
  assert.is(await out(lab, host, "stat -c %a /etc/rc.d/rc.modules.local"), "755\n");
});

s.run();
