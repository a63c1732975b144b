/**
 * Role linstor on the lab, through the CLI with
 * test/fixtures/playbooks/linstor.ts: tnode1 is Slackware-flavoured (tini,
 * rc.d) and the controller; tnode2 is Debian booted by systemd, a satellite
 * with an LVM thin pool.
 *
 * What cannot run here, and is not pretended: LINSTOR itself. It is not in
 * Debian's archive (the lab reaches only Debian's mirror), the lab's kernel
 * has no DRBD module, and the lab hosts' /dev has no loop or device-mapper
 * nodes, so no LVM physical volume, volume group or logical volume can be
 * made. The cluster decisions (node create, storage-pool create, resource
 * and volume groups, an offline satellite) are proven by
 * test/unit/role-linstor.test.ts over LINSTOR's documented `-m` format.
 *
 * What runs for real:
 * - tnode1 (Slackware flavour): the role's whole Slackware path with
 *   **stand-in packages, clearly labelled** (built by the first test: SBo-
 *   style .tgz files whose `Satellite` and `Controller` are shell scripts that
 *   only stay alive until SIGTERM, and whose `linstor` client fails the way
 *   the real one does when no controller answers): installpkg from
 *   `packageSrc` (the lab's pkgtools stand-ins), rc.linstor-satellite /
 *   rc.linstor-controller / rc.drbd written and started, rc.local hooks,
 *   /etc/default files, LINSTOR's TOML files. It stops where a real
 *   controller is needed: *wait until the LINSTOR controller on tnode1
 *   answers* fails after `controllerTimeout` with the client's error.
 * - tnode2 (systemd): LINSTOR's TOML, the units' drop-ins, DRBD's utilities
 *   and LVM from Debian, then the thin pool's steps up to where the lab
 *   refuses: `pvcreate` on the file /var/tmp/linstor-pv0.img fails (LVM
 *   needs a block device; a file becomes one only through the kernel's loop
 *   driver, which the lab's /dev does not expose), and the host fails there
 *   with LVM's message. Without pools it goes on and fails naming
 *   `linbitRepo` (LINSTOR is not in Debian's archive).
 * - check mode on fresh hosts writes nothing and predicts, on the
 *   controller, the exact `linstor` commands a fresh cluster gets; the
 *   second run changes nothing and restarts nothing.
 */
import * as assert from "uvu/assert";
import type { RunEvent } from "../../runner/events.ts";
import { labSuite, ssh } from "../lab/fixture.ts";
import type { Lab, LabHost } from "../lab/lab.ts";
import { events, recap, runbook, stateDir, upperSnapshot } from "./harness.ts";

const PLAYBOOK = "test/fixtures/playbooks/linstor.ts";
const PV_FILE = "/var/tmp/linstor-pv0.img";

/** The lab's parameters: no kernel modules (the lab has no drbd module; one test asks for it), short waits. */
const PARAMS = {
  packageSrc: "/tmp/packages",
  modules: [],
  controllerTimeout: 8,
  onlineTimeout: 8,
  storagePools: { tnode2: [{ type: "lvmthin", name: "linstor-pool", vg: "linstor", thinpool: "thin", devices: [PV_FILE] }] },
  resourceGroups: [{ name: "incus", placeCount: 2, storagePool: "linstor-pool" }],
};

type TaskResultEvent = Extract<RunEvent, { type: "task.result" }>;
const results = (stdout: string, host?: string) => events(stdout).filter((e): e is TaskResultEvent => e.type === "task.result" && (host === undefined || e.host === host));
const moved = (stdout: string, host: string) =>
  results(stdout, host)
    .filter((e) => e.status !== "ok")
    .map((e) => `${e.task}: ${e.status} (${e.reason})`)
    .join("\n");
const failedOn = (stdout: string, host: string) => results(stdout, host).filter((e) => e.status === "failed");

function play(lab: Lab, args: string[] = [], params: object = PARAMS, state = stateDir()) {
  return runbook(["play", PLAYBOOK, "-i", lab.inventory, "--json", "-e", JSON.stringify({ linstor: params }), ...args], { stateDir: state });
}
const out = async (lab: Lab, host: LabHost | string, cmd: string) => (await ssh(lab, host, cmd)).stdout;

/**
 * RUNBOOK TEST STAND-INS, not LINSTOR: SBo-style packages (reference 000's
 * names) built on the Slackware-flavoured host, so that installpkg, the rc
 * scripts and the readiness check run for real. The daemons are shell
 * scripts that stay alive until SIGTERM and log how they were started; the
 * client fails as the real one does when no controller answers.
 */
const STANDINS = String.raw`
set -e
rm -rf /tmp/standin && mkdir -p /tmp/standin /tmp/packages
mk() { # NAME VERSION: a package from /tmp/standin/NAME
  d=/tmp/standin/$1; mkdir -p "$d/install" "$d/usr/doc/$1-$2"
  printf '%s: %s (RUNBOOK TEST STAND-IN, not the real package)\n' "$1" "$1" > "$d/install/slack-desc"
  printf 'RUNBOOK TEST STAND-IN for the SBo package %s, built by test/e2e/role-linstor.test.ts.\n' "$1" > "$d/usr/doc/$1-$2/README.standin"
  (cd "$d" && tar -czf "/tmp/packages/$1-$2-x86_64-1_rbtest.tgz" --owner=0 --group=0 .)
}
daemon() { # PROGRAM
  cat <<EOF
#!/bin/sh
# RUNBOOK TEST STAND-IN for linstor-server's bin/$1 (the JVM start script). Not LINSTOR:
# it only stays alive until SIGTERM, so the rc script's start, status, stop and restart run for real.
echo "RUNBOOK TEST STAND-IN $1 started: JAVA_HOME=\$JAVA_HOME args: \$*"
trap 'echo "RUNBOOK TEST STAND-IN $1 stopping"; exit 0' TERM
while :; do sleep 1 & wait \$!; done
EOF
}
mkdir -p /tmp/standin/jdk/opt/java17/bin /tmp/standin/linstor-server/usr/share/linstor-server/bin /tmp/standin/linstor_client/usr/bin
printf '#!/bin/sh\necho "RUNBOOK TEST STAND-IN java" >&2; exit 1\n' > /tmp/standin/jdk/opt/java17/bin/java
daemon Satellite > /tmp/standin/linstor-server/usr/share/linstor-server/bin/Satellite
daemon Controller > /tmp/standin/linstor-server/usr/share/linstor-server/bin/Controller
cat > /tmp/standin/linstor_client/usr/bin/linstor <<'EOF'
#!/bin/sh
# RUNBOOK TEST STAND-IN for linstor-client's linstor: no controller can run in this lab, so it
# fails as the client does when none answers (an error on stderr, exit 20).
echo "Error: RUNBOOK TEST STAND-IN client: no LINSTOR controller can run in this lab (linstor $*)" >&2
exit 20
EOF
chmod 755 /tmp/standin/jdk/opt/java17/bin/java /tmp/standin/linstor-server/usr/share/linstor-server/bin/* /tmp/standin/linstor_client/usr/bin/linstor
mk jdk 17.0.16+8; mk linstor-server 1.31.3; mk python_linstor 1.25.3; mk linstor_client 1.25.4
mk drbd 9.2.14; mk drbd-utils 9.32.0; mk thin-provisioning-tools 1.2.0
rm -rf /tmp/standin
ls /tmp/packages
`;

const s = await labSuite("role: linstor (Slackware controller, systemd satellite; no LINSTOR daemons)", { hosts: 2, slackware: [1], systemd: [2] });
const host = (lab: Lab, name: string) => lab.hosts.find((h) => h.name === name)!;
const state = stateDir();
/** The stand-in daemons' pids on tnode1, from the rc scripts' pid files. */
const pids = (lab: Lab) => out(lab, "tnode1", "cat /var/run/linstor-satellite.pid /var/run/linstor-controller.pid");

s("tnode1 gets stand-in packages (labelled RUNBOOK TEST STAND-IN); tnode2 gets a file to offer LVM as a device", async ({ lab }) => {
  assert.is(host(lab, "tnode1").flavour, "slackware");
  assert.is(host(lab, "tnode2").init, "systemd");
  const r = await ssh(lab, "tnode1", "sh -s", { input: STANDINS });
  assert.equal(r.stdout.trim().split("\n").length, 7, r.stdout + r.stderr);
  await ssh(lab, "tnode2", `truncate -s 64M ${PV_FILE}`);
});

s("--check on fresh hosts writes nothing; the controller's plan is a fresh cluster's exact linstor commands; tnode2 foresees the missing linbitRepo", async ({ lab }) => {
  const before = await Promise.all(lab.hosts.map(upperSnapshot));
  const r = await play(lab, ["--check", "--diff"]);
  assert.equal(await Promise.all(lab.hosts.map(upperSnapshot)), before, "check mode wrote nothing on any host");
  const t1 = results(r.stdout, "tnode1");
  const predicted = t1.filter((e) => e.status === "changed" && e.predicted).map((e) => e.task);
  for (const t of ["copy /etc/rc.d/rc.linstor-satellite", "copy /etc/rc.d/rc.linstor-controller", "copy /etc/default/linstor-satellite", "copy /etc/linstor/linstor.toml", "blockinfile /etc/rc.d/rc.local"]) {
    assert.ok(predicted.includes(t), `tnode1 predicts ${t}\n${moved(r.stdout, "tnode1")}`);
  }
  assert.ok(t1.some((e) => /^package jdk, linstor-server/.test(e.task) && e.predicted), moved(r.stdout, "tnode1"));
  assert.equal(
    t1.filter((e) => e.task.startsWith("linstor: ")).map((e) => `${e.status} ${e.task}`),
    [
      "changed linstor: register tnode1 at " + lab.hosts[0]!.address + " (satellite)",
      "changed linstor: register tnode2 at " + lab.hosts[1]!.address + " (satellite)",
      "changed linstor: storage pool linstor-pool on tnode2: lvmthin linstor/thin",
      "changed linstor: resource group incus (place count 2, pool linstor-pool)",
      "changed linstor: volume group 0 of incus",
    ],
  );
  const cmd = t1.find((e) => e.task.startsWith("linstor: register tnode2"))?.commands?.[0] ?? "";
  assert.is(cmd, `linstor --controllers ${lab.hosts[0]!.address}:3370 node create tnode2 ${lab.hosts[1]!.address} --node-type satellite`);
  assert.ok(t1.some((e) => e.task === "wait until the LINSTOR controller on tnode1 answers" && e.status === "unknown"), moved(r.stdout, "tnode1"));
  assert.equal(failedOn(r.stdout, "tnode1"), [], "nothing fails on tnode1 in check mode");
  // tnode2: the thin pool's steps are predicted (lvm2 is still to be installed), then the LINSTOR packages cannot come from anywhere.
  const t2 = results(r.stdout, "tnode2");
  for (const t of [`pvcreate ${PV_FILE}`, `vgcreate linstor ${PV_FILE}`, "lvcreate thin pool linstor/thin (100%FREE)"]) assert.ok(t2.some((e) => e.task === t && e.predicted), `tnode2 predicts ${t}\n${moved(r.stdout, "tnode2")}`);
  assert.match(failedOn(r.stdout, "tnode2").map((e) => e.reason).join("\n"), /set the parameter `linbitRepo`/);
});

s("first run: tnode1 runs the Slackware path with the stand-ins and fails clearly where a real controller is needed; tnode2 stops where LVM needs a block device", async ({ lab }) => {
  const r = await play(lab, [], PARAMS, state);
  assert.is(r.code, 2, r.stderr + r.stdout.slice(-2000));
  const f1 = failedOn(r.stdout, "tnode1");
  assert.equal(f1.map((e) => e.task), ["wait until the LINSTOR controller on tnode1 answers"], moved(r.stdout, "tnode1"));
  assert.match(f1[0]!.reason, /timed out after \d+ s; still missing: linstor -m node list: not JSON: Error: RUNBOOK TEST STAND-IN client/);
  // Where tnode2 stops: pvcreate, with LVM's own words, after the files and Debian's packages.
  const f2 = failedOn(r.stdout, "tnode2");
  assert.equal(f2.map((e) => e.task), [`pvcreate ${PV_FILE}`], moved(r.stdout, "tnode2"));
  assert.match(`${f2[0]!.reason}\n${f2[0]!.stderr ?? ""}`, /No device found for \/var\/tmp\/linstor-pv0\.img|Cannot use \/var\/tmp\/linstor-pv0\.img|not a block device/);
  console.log(`    (tnode2 stops at: ${(f2[0]!.stderr ?? f2[0]!.reason).trim().split("\n").pop()})`);
  assert.match(await out(lab, "tnode2", "vgs linstor 2>&1 || true"), /Volume group "linstor" not found/, "no volume group was made");
});

s("tnode1 (Slackware): packages recorded by pkgtools, rc scripts and default files, rc.local hooks, the stand-in daemons running as the rc scripts started them", async ({ lab }) => {
  const got = await out(
    lab,
    "tnode1",
    [
      "ls /var/lib/pkgtools/packages | grep _rbtest | sed 's/-[^-]*-x86_64-1_rbtest$//' | sort | tr '\\n' ' '; echo",
      "stat -c '%a %n' /etc/rc.d/rc.linstor-satellite /etc/rc.d/rc.linstor-controller /etc/rc.d/rc.drbd /etc/default/linstor-satellite /etc/default/linstor-controller",
      "cat /etc/default/linstor-satellite",
      "/etc/rc.d/rc.linstor-satellite status; /etc/rc.d/rc.linstor-controller status",
    ].join("; "),
  );
  assert.match(got, /^drbd drbd-utils jdk linstor-server linstor_client python_linstor thin-provisioning-tools \n/);
  assert.match(got, /755 \/etc\/rc\.d\/rc\.linstor-satellite\n755 \/etc\/rc\.d\/rc\.linstor-controller\n755 \/etc\/rc\.d\/rc\.drbd\n644 \/etc\/default\/linstor-satellite\n644 \/etc\/default\/linstor-controller\n/);
  assert.match(got, /^SATELLITE_OPTS='--logs=\/var\/log\/linstor-satellite --config-directory=\/etc\/linstor'\nJAVA_HOME=\/opt\/java17$/m);
  assert.match(got, /LINSTOR satellite is running \(pid \d+\)\.\nLINSTOR controller is running \(pid \d+\)\.\n$/);
  // The rc script started the program with the default file's options and JAVA_HOME.
  assert.match(await out(lab, "tnode1", "cat /var/log/linstor/satellite"), /RUNBOOK TEST STAND-IN Satellite started: JAVA_HOME=\/opt\/java17 args: --logs=\/var\/log\/linstor-satellite --config-directory=\/etc\/linstor/);
  const rcLocal = await out(lab, "tnode1", "cat /etc/rc.d/rc.local; echo ---; cat /etc/rc.d/rc.local_shutdown; stat -c %a /etc/rc.d/rc.local_shutdown");
  assert.match(rcLocal, /# BEGIN runbook linstor\nif \[ -x \/etc\/rc\.d\/rc\.drbd \]; then\n  \/etc\/rc\.d\/rc\.drbd start\nfi\nif \[ -x \/etc\/rc\.d\/rc\.linstor-satellite \]; then\n  \/etc\/rc\.d\/rc\.linstor-satellite start\nfi\nif \[ -x \/etc\/rc\.d\/rc\.linstor-controller \]; then\n  \/etc\/rc\.d\/rc\.linstor-controller start\nfi\n# END runbook linstor/);
  assert.match(rcLocal, /---\n[^]*rc\.linstor-controller stop\nfi\nif \[ -x \/etc\/rc\.d\/rc\.linstor-satellite \]; then\n  \/etc\/rc\.d\/rc\.linstor-satellite stop\nfi\nif \[ -x \/etc\/rc\.d\/rc\.drbd \]; then\n  \/etc\/rc\.d\/rc\.drbd stop\nfi\n# END runbook linstor\n755\n$/);
  assert.match(await out(lab, "tnode1", "cat /etc/linstor/linstor.toml /etc/linstor/linstor_satellite.toml"), new RegExp(`\\[http\\]\\n  enabled = true\\n  listen_addr = "0\\.0\\.0\\.0"\\n  port = 3370\\n[^]*\\[netcom\\]\\n  type = "plain"\\n  bind_address = "${lab.hosts[0]!.address.replace(/\./g, "\\.")}"\\n  port = 3366\\n`));
});

s("tnode2 (systemd): the units' drop-ins and LINSTOR's TOML, DRBD's utilities and LVM from Debian; no volume group", async ({ lab }) => {
  const got = await out(lab, "tnode2", "cat /etc/systemd/system/linstor-satellite.service.d/runbook.conf; test -e /etc/systemd/system/linstor-controller.service.d || echo no-controller-dropin; dpkg-query -W -f='${Package} ${Status}\\n' drbd-utils lvm2 thin-provisioning-tools");
  assert.match(got, /^# Managed by runbook \(role linstor\)\.\n\[Service\]\nRestart=on-failure\nRestartSec=5s\nno-controller-dropin\ndrbd-utils install ok installed\nlvm2 install ok installed\nthin-provisioning-tools install ok installed\n$/);
  assert.match(await out(lab, "tnode2", "cat /etc/linstor/linstor_satellite.toml"), new RegExp(`bind_address = "${lab.hosts[1]!.address.replace(/\./g, "\\.")}"`));
});

s("second run: 0 changed on both hosts, the same two failures, no daemon restarted; --check then 0 changed too", async ({ lab }) => {
  const before = await pids(lab);
  const r = await play(lab, [], PARAMS, state);
  assert.is(r.code, 2);
  for (const [name, c] of Object.entries(recap(r.stdout))) assert.equal({ changed: c.changed, failed: c.failed }, { changed: 0, failed: 1 }, `${name}:\n${moved(r.stdout, name)}`);
  assert.equal(failedOn(r.stdout, "tnode1").map((e) => e.task), ["wait until the LINSTOR controller on tnode1 answers"]);
  assert.equal(failedOn(r.stdout, "tnode2").map((e) => e.task), [`pvcreate ${PV_FILE}`]);
  assert.is(await pids(lab), before, "the stand-in daemons were not restarted");
  // --check: nothing on tnode1; on tnode2 the three LVM steps the real run cannot take are still predicted.
  const check = await play(lab, ["--check"], PARAMS, state);
  assert.is(recap(check.stdout).tnode1!.changed, 0, moved(check.stdout, "tnode1"));
  assert.equal(
    results(check.stdout, "tnode2").filter((e) => e.status === "changed").map((e) => e.task),
    [`pvcreate ${PV_FILE}`, `vgcreate linstor ${PV_FILE}`, "lvcreate thin pool linstor/thin (100%FREE)"],
  );
});

s("a changed SATELLITE_OPTS on tnode1 restarts only its satellite, through the rc script (--force-handlers: the host still fails at the controller wait)", async ({ lab }) => {
  const [sat, ctl] = (await pids(lab)).trim().split("\n");
  const r = await play(lab, ["--limit", "tnode1", "--force-handlers"], { ...PARAMS, satelliteOpts: "--logs=/var/log/linstor-satellite --config-directory=/etc/linstor --skip-hostname-check" }, state);
  const changed = results(r.stdout, "tnode1").filter((e) => e.status === "changed").map((e) => `${e.role} › ${e.task}`);
  assert.equal(changed, ["linstor › copy /etc/default/linstor-satellite", "handler: restart linstor satellite › service linstor-satellite (restarted)"], moved(r.stdout, "tnode1"));
  const [sat2, ctl2] = (await pids(lab)).trim().split("\n");
  assert.is.not(sat2, sat, "the satellite restarted");
  assert.is(ctl2, ctl, "the controller did not");
  assert.match(await out(lab, "tnode1", "/etc/rc.d/rc.linstor-satellite status; tail -n 1 /var/log/linstor/satellite"), /is running[^]*--skip-hostname-check\n$/);
  const back = await play(lab, ["--limit", "tnode1", "--force-handlers"], PARAMS, state);
  assert.equal(results(back.stdout, "tnode1").filter((e) => e.status === "changed").map((e) => e.task), ["copy /etc/default/linstor-satellite", "service linstor-satellite (restarted)"]);
});

s("tnode2 without pools goes on and fails naming linbitRepo: LINSTOR is not in Debian's archive", async ({ lab }) => {
  const r = await play(lab, ["--limit", "tnode2"], { ...PARAMS, storagePools: {}, resourceGroups: [] }, state);
  assert.is(r.code, 2);
  const f = failedOn(r.stdout, "tnode2");
  assert.equal(f.length, 1, moved(r.stdout, "tnode2"));
  assert.match(f[0]!.reason, /linstor-satellite, drbd-dkms are not installed and not in Debian GNU\/Linux 12 \(bookworm\)'s archive: set the parameter `linbitRepo` \(url, suite, key\)/);
});

s("tnode2 with linbitRepo, in check mode: predicts the key, the source, apt-get update and LINBIT's packages, and writes nothing", async ({ lab }) => {
  // A stand-in repository (no LINBIT repository is reachable from the lab): check mode only reads.
  const repo = { url: "http://linbit.invalid/public", suite: "bookworm", key: "-----BEGIN PGP PUBLIC KEY BLOCK-----\nRUNBOOK TEST STAND-IN\n-----END PGP PUBLIC KEY BLOCK-----" };
  const before = await upperSnapshot(host(lab, "tnode2"));
  const r = await play(lab, ["--limit", "tnode2", "--check", "--diff"], { ...PARAMS, storagePools: {}, resourceGroups: [], linbitRepo: repo }, state);
  assert.is(await upperSnapshot(host(lab, "tnode2")), before, "check mode wrote nothing");
  assert.equal(failedOn(r.stdout, "tnode2"), [], moved(r.stdout, "tnode2"));
  const changed = results(r.stdout, "tnode2").filter((e) => e.status === "changed").map((e) => e.task);
  assert.equal(changed, ["/etc/apt/keyrings/linbit.asc (LINBIT's signing key)", "/etc/apt/sources.list.d/linbit.list", "apt-get update (LINBIT's repository)", "package linstor-satellite, drbd-dkms (present)"], moved(r.stdout, "tnode2"));
  const list = results(r.stdout, "tnode2").flatMap((e) => e.diffs ?? []).find((d) => d.path === "/etc/apt/sources.list.d/linbit.list");
  assert.is(list?.after, "deb [signed-by=/etc/apt/keyrings/linbit.asc] http://linbit.invalid/public bookworm drbd-9\n");
});

s("a satellite running without the rc script's pid file (started by the reference's own script) is found by LINSTOR's class: not started twice, and stopped", async ({ lab }) => {
  assert.is(await out(lab, "tnode1", "/etc/rc.d/rc.linstor-satellite stop >/dev/null; test -e /var/run/linstor-satellite.pid || echo stopped"), "stopped\n");
  // RUNBOOK TEST STAND-IN for a JVM whose command line ends in LINSTOR's main class.
  await ssh(lab, "tnode1", "nohup sh -c 'trap \"exit 0\" TERM; while :; do sleep 1 & wait $!; done' com.linbit.linstor.core.Satellite >/dev/null 2>&1 </dev/null &");
  assert.match(await out(lab, "tnode1", "/etc/rc.d/rc.linstor-satellite status"), /^LINSTOR satellite is running \(pid \d+\)\.\n$/);
  const r = await play(lab, ["--limit", "tnode1"], PARAMS, state);
  assert.is(recap(r.stdout).tnode1!.changed, 0, moved(r.stdout, "tnode1"));
  const count = "pgrep -f 'com[.]linbit[.]linstor[.]core[.]Satellite$|^/bin/sh /usr/share/linstor-server/bin/Satellite' | wc -l";
  assert.is(await out(lab, "tnode1", count), "1\n", "one satellite, not two");
  assert.is(await out(lab, "tnode1", `/etc/rc.d/rc.linstor-satellite stop >/dev/null; ${count}`), "0\n", "rc stop found and stopped it");
  const back = await play(lab, ["--limit", "tnode1"], PARAMS, state);
  assert.equal(results(back.stdout, "tnode1").filter((e) => e.status === "changed").map((e) => e.task), ["service linstor-satellite (started, enabled)"]);
});

s("with the default modules the role loads drbd, and the lab's kernel has none: the host fails there, saying so", async ({ lab }) => {
  // Slackware's base (the A series) has kmod; the lab's Debian rootfs under the flavour does not: installed for this test.
  await ssh(lab, "tnode1", "DEBIAN_FRONTEND=noninteractive apt-get install -y -q kmod >/dev/null 2>&1 || (apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q kmod >/dev/null)");
  const { modules: _, ...withDefaults } = PARAMS;
  const r = await play(lab, ["--limit", "tnode1"], withDefaults, state);
  const f = failedOn(r.stdout, "tnode1");
  assert.equal(f.map((e) => e.task), ["kernel module drbd (present, at boot)"], moved(r.stdout, "tnode1"));
  assert.match(`${f[0]!.reason}\n${f[0]!.stderr ?? ""}`, /modprobe: FATAL: Module drbd not found/);
  console.log(`    (modprobe drbd: ${(f[0]!.stderr ?? f[0]!.reason).trim().split("\n").pop()})`);
});

s.run();
