/**
 * Role frr on the lab's triangle with real FRR daemons (reference 001's
 * routed cluster LAN), through the CLI with test/fixtures/playbooks/frr.ts
 * (base-os addresses, then the cluster LAN play as site.ts wires it) and the
 * lab inventory's `frr` parameters (test/lab/lab.ts `clusterFrr`: hello 1 s,
 * dead 4 s). tnode1 and tnode2 are Debian (apt frr 8.4): tnode1 with tini as
 * PID 1 (/etc/init.d/frr), tnode2 booted by systemd (frr.service); tnode3 is Slackware-flavoured (SBo layout, rc.frr) and installs FRR from
 * `packageSrc`.
 *
 * The Slackware-flavoured host is Debian underneath, with no SBo packages.
 * The first test builds a stand-in there, clearly labelled: Debian's frr
 * package repackaged in the SBo layout (rc.frr.new = frrinit.sh, daemons.new,
 * vtysh.conf.new, no frr.conf, SBo's doinst.sh `config` logic), with FRR's
 * library dependencies installed by apt first (reference 001 installs
 * protobuf-c and libyang before frr). The role then runs its whole Slackware
 * path for real: the frr user and groups with SBo's ids, installpkg from
 * `packageSrc`, `chmod +x rc.frr`, `rc.frr start`, and the stop/start
 * restart.
 *
 * Proven here: check mode predicts and writes nothing; first run converges,
 * second changes nothing; all six adjacencies Full; every loopback reaches
 * every other; a link taken down is routed around with no ping lost beyond
 * the dead interval, and the direct route returns with the link; a cost
 * change rewrites one host's frr.conf and restarts only that host's FRR (on
 * Debian and on the Slackware host); a config FRR rejects never lands; bad
 * parameters stop the run before any host is touched.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as assert from "uvu/assert";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import type { RunEvent } from "../../runner/events.ts";
import type { FileDiff } from "../../runner/task.ts";
import { labSuite, ssh } from "../lab/fixture.ts";
import type { Lab, LabHost } from "../lab/lab.ts";
import { events, recap, runbook, stateDir, upperSnapshot } from "./harness.ts";

const PLAYBOOK = "test/fixtures/playbooks/frr.ts";
/** Where the Slackware host finds the stand-in (the Debian hosts ignore packageSrc). */
const SLACK_PACKAGES = { frr: { packageSrc: "/tmp/packages/frr-*.tgz", packages: ["frr"] } };
const DEAD_INTERVAL = 4;

type TaskResultEvent = Extract<RunEvent, { type: "task.result" }>;

const results = (stdout: string, host?: string) =>
  events(stdout).filter((e): e is TaskResultEvent => e.type === "task.result" && (host === undefined || e.host === host));
function diffFor(stdout: string, host: string, path: string): FileDiff | undefined {
  return results(stdout, host)
    .flatMap((e) => e.diffs ?? [])
    .filter((d) => d.path === path)
    .pop();
}
/** What moved on a host (not ok), for assertion messages. */
const moved = (stdout: string, host: string) =>
  results(stdout, host)
    .filter((e) => e.status !== "ok")
    .map((e) => `${e.role ?? ""} › ${e.task}: ${e.status} (${e.reason})`)
    .join("\n");

/** `runbook play` of the fixture, JSON events; `inventory` defaults to the lab's. */
function play(lab: Lab, args: string[] = [], opts: { inventory?: string; extra?: object; state?: string } = {}) {
  const vars = { ...SLACK_PACKAGES, ...opts.extra };
  return runbook(["play", PLAYBOOK, "-i", opts.inventory ?? lab.inventory, "--json", "-e", JSON.stringify(vars), ...args], { stateDir: opts.state ?? state });
}

const out = async (lab: Lab, host: LabHost | string, cmd: string) => (await ssh(lab, host, cmd)).stdout;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value or `seconds` pass; returns the value and how long it took. */
async function poll<T>(seconds: number, fn: () => Promise<T | undefined | false>, what: string): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  let last: unknown;
  while (Date.now() - started < seconds * 1000) {
    try {
      const v = await fn();
      if (v) return { value: v, ms: Date.now() - started };
      last = v;
    } catch (err) {
      last = err;
    }
    await sleep(250);
  }
  throw new Error(`${what}: not within ${seconds} s (last: ${last instanceof Error ? last.message : String(last)})`);
}

/** OSPF neighbours in state Full, as `Neighbor-ID interface` lines. */
async function fullNeighbours(lab: Lab, host: LabHost): Promise<string[]> {
  const text = await out(lab, host, "vtysh -c 'show ip ospf neighbor'");
  return text
    .split("\n")
    .filter((l) => /\bFull\//.test(l))
    .map((l) => {
      const f = l.trim().split(/\s+/);
      return `${f[0]} ${l.match(/\b(eth\d+):/)?.[1] ?? "?"}`;
    })
    .sort();
}

/** The next hop and device the kernel uses from `host`'s loopback to `dest`. */
async function routeTo(lab: Lab, host: LabHost, dest: string): Promise<string> {
  const text = await out(lab, host, `ip route get ${dest} from 10.50.1.${host.index}`);
  const via = text.match(/ via (\S+)/)?.[1] ?? "direct";
  return `${via} ${text.match(/ dev (\S+)/)?.[1] ?? "?"}`;
}

/** The routes every host should use on the intact triangle: each other loopback over its direct link. */
const DIRECT: Record<string, Record<string, string>> = {
  tnode1: { "10.50.1.2": "192.168.11.2 eth1", "10.50.1.3": "192.168.33.1 eth2" },
  tnode2: { "10.50.1.1": "192.168.11.1 eth2", "10.50.1.3": "192.168.22.2 eth1" },
  tnode3: { "10.50.1.1": "192.168.33.2 eth2", "10.50.1.2": "192.168.22.1 eth1" },
};

async function converged(lab: Lab): Promise<boolean> {
  for (const h of lab.hosts) {
    if ((await fullNeighbours(lab, h)).length !== 2) return false;
    for (const [dest, want] of Object.entries(DIRECT[h.name]!)) if ((await routeTo(lab, h, dest)) !== want) return false;
  }
  return true;
}

/** PIDs of FRR's daemons on a host (watchfrr, zebra, ospfd, staticd), sorted. */
const frrPids = (lab: Lab, host: LabHost) => out(lab, host, "pgrep -f '^/usr/lib/frr/(watchfrr|zebra|ospfd|staticd)( |$)' | sort -n | tr '\\n' ' '");

/** The lab inventory with `edit` applied to a copy, written beside it; returns its path. */
function editedInventory(lab: Lab, name: string, edit: (inv: Record<string, Record<string, any>>) => void): string {
  const inv = parseYaml(readFileSync(lab.inventory, "utf8")) as Record<string, Record<string, any>>;
  edit(inv);
  const file = join(lab.dir, `inventory-${name}.yml`);
  writeFileSync(file, stringifyYaml(inv, { lineWidth: 0 }));
  return file;
}

/**
 * RUNBOOK TEST STAND-IN, not an SBo package: Debian's frr repackaged in the
 * layout of SBo's frr.SlackBuild, built on the Slackware-flavoured lab host
 * (Debian underneath) at /tmp/packages/frr-VERSION-x86_64-1_rbtest.tgz.
 */
const STANDIN = String.raw`
set -e
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
rm -rf /tmp/frr-standin && mkdir -p /tmp/frr-standin/root /tmp/packages && cd /tmp/frr-standin
apt-get download -q frr >/dev/null 2>&1
deb=$(ls frr_*.deb)
# FRR's libraries (SBo: protobuf-c, libyang), from Debian: the stand-in has only frr itself.
deps=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed -e 's/|.*//' -e 's/(.*)//' -e 's/:any//' | tr -d ' ' | grep -v '^$')
apt-get install -y -q --no-install-recommends $deps >/dev/null 2>&1
dpkg-deb -x "$deb" root
ver=$(dpkg-deb -f "$deb" Version | sed 's/-.*//')
cd root
mkdir -p etc/rc.d install
# SBo: install -D -m 644 frrinit.sh etc/rc.d/rc.frr.new; daemons and vtysh.conf as .new; no frr.conf.
cp usr/lib/frr/frrinit.sh etc/rc.d/rc.frr.new && chmod 644 etc/rc.d/rc.frr.new
mv etc/frr/daemons etc/frr/daemons.new && mv etc/frr/vtysh.conf etc/frr/vtysh.conf.new && rm -f etc/frr/frr.conf
# No systemd or init.d on Slackware; and Debian 12 merges /lib into /usr/lib, so a ./lib directory would replace the /lib link.
rm -rf etc/init.d lib/systemd usr/lib/systemd && rmdir lib
cat > install/doinst.sh <<'DOINST'
config() {
  NEW="$1"
  OLD="$(dirname $NEW)/$(basename $NEW .new)"
  if [ ! -r $OLD ]; then
    mv $NEW $OLD
  elif [ "$(cat $OLD | md5sum)" = "$(cat $NEW | md5sum)" ]; then
    rm $NEW
  fi
}
config etc/rc.d/rc.frr.new
config etc/frr/daemons.new
config etc/frr/vtysh.conf.new
DOINST
printf 'frr: frr (RUNBOOK TEST STAND-IN: Debian frr %s in the SBo layout)\n' "$ver" > install/slack-desc
tar -czf "/tmp/packages/frr-$ver-x86_64-1_rbtest.tgz" --owner=0 --group=0 .
cd / && rm -rf /tmp/frr-standin
ls /tmp/packages
`;

const s = await labSuite("role: frr (OSPF on the triangle)", { hosts: 3, topology: "triangle", slackware: [3], systemd: [2] });
const state = stateDir();
const host = (lab: Lab, name: string) => lab.hosts.find((h) => h.name === name)!;

s("the Slackware host gets a stand-in FRR package in the SBo layout", async ({ lab }) => {
  const slack = host(lab, "tnode3");
  assert.is(slack.flavour, "slackware");
  const r = await ssh(lab, slack, "sh -s", { input: STANDIN });
  assert.match(r.stdout, /^frr-\d+\.\d+\.\d+-x86_64-1_rbtest\.tgz$/m, r.stderr);
  assert.is((await ssh(lab, slack, "test -e /etc/rc.d/rc.frr || test -e /var/lib/pkgtools/packages/frr-* || echo not-installed")).stdout, "not-installed\n");
});

s("--check --diff on fresh hosts predicts the FRR changes and writes nothing", async ({ lab }) => {
  const before = await Promise.all(lab.hosts.map(upperSnapshot));
  const r = await play(lab, ["--check", "--diff"], { state: stateDir() });
  assert.is(r.code, 0, r.stderr + r.stdout.slice(-3000));
  assert.equal(await Promise.all(lab.hosts.map(upperSnapshot)), before, "check mode wrote nothing on any host");
  assert.not.ok(results(r.stdout).some((e) => e.status === "failed"), "nothing fails in check mode");
  const notes = events(r.stdout).flatMap((e) => (e.type === "message" ? [e.text] : []));
  assert.ok(notes.some((t) => /FRR would be started in this run/.test(t)), notes.join("\n"));
  assert.not.ok(notes.some((t) => /FRR started in this run/.test(t)), "check mode does not claim FRR started");

  for (const h of lab.hosts) {
    const frr = results(r.stdout, h.name).filter((e) => e.role === "frr");
    const changed = (task: RegExp) => frr.some((e) => task.test(e.task) && e.status === "changed" && e.predicted);
    assert.ok(changed(/^package frr /), `${h.name}: the package install is predicted\n${moved(r.stdout, h.name)}`);
    assert.ok(changed(/^sysctl net\.ipv4\.ip_forward = 1$/), `${h.name}: ip_forward`);
    assert.ok(changed(/^template \/etc\/frr\/frr\.conf$/), `${h.name}: frr.conf`);
    const conf = diffFor(r.stdout, h.name, "/etc/frr/frr.conf")?.after ?? "";
    assert.match(conf, new RegExp(`^router ospf\\n ospf router-id 10\\.50\\.1\\.${h.index}\\n`, "m"), h.name);
    assert.match(conf, /^interface eth1\n ip ospf network point-to-point\n ip ospf hello-interval 1\n ip ospf dead-interval 4\nexit$/m, h.name);
    assert.match(conf, new RegExp(`^ network 10\\.50\\.1\\.${h.index}/32 area 0$`, "m"), h.name);
  }
  // The Slackware host: SBo's user and groups, the package from packageSrc.
  const slack = results(r.stdout, "tnode3").filter((e) => e.status === "changed").map((e) => `${e.task}: ${e.reason}`);
  assert.ok(slack.includes("user frr: create user frr (uid 357, group frr, groups frrvty, system)"), slack.join("\n"));
  assert.ok(slack.some((l) => /^package frr \(present\): install frr-[\d.]+-x86_64-1_rbtest$/.test(l)), slack.join("\n"));
});

s("first run converges every host; the second changes nothing and restarts nothing", async ({ lab }) => {
  const started = Date.now();
  const first = await play(lab);
  assert.is(first.code, 0, first.stderr + first.stdout.slice(-3000));
  const ranMs = Date.now() - started;
  for (const [name, c] of Object.entries(recap(first.stdout))) {
    assert.is(c.failed, 0, `${name}:\n${moved(first.stdout, name)}`);
    const frr = results(first.stdout, name).filter((e) => e.role === "frr" && e.status === "changed").map((e) => e.task);
    for (const t of ["sysctl net.ipv4.ip_forward = 1", "/etc/frr/daemons: ospfd=yes", "template /etc/frr/frr.conf", "service frr (started)"]) {
      assert.ok(frr.includes(t), `${name}: ${t} changed\n${frr.join("\n")}`);
    }
    // FRR was started with the new files: the restart handler had nothing to do.
    assert.not.ok(results(first.stdout, name).some((e) => e.role === "handler: restart frr"), `${name}: no restart right after the start`);
  }
  const pids = await Promise.all(lab.hosts.map((h) => frrPids(lab, h)));
  for (const [i, p] of pids.entries()) assert.ok(p.trim().split(" ").length >= 3, `${lab.hosts[i]!.name}: FRR daemons run (${p})`);
  assert.is(await out(lab, host(lab, "tnode2"), "systemctl is-active frr; systemctl is-enabled frr"), "active\nenabled\n", "tnode2 (systemd): FRR runs as its unit");

  const second = await play(lab);
  assert.is(second.code, 0, second.stderr);
  for (const [name, c] of Object.entries(recap(second.stdout))) {
    assert.equal({ changed: c.changed, failed: c.failed }, { changed: 0, failed: 0 }, `${name}:\n${moved(second.stdout, name)}`);
  }
  const reasons = results(second.stdout, "tnode1").map((e) => e.reason);
  assert.ok(reasons.includes("/etc/frr/frr.conf content and attributes match"), reasons.join("\n"));
  assert.equal(await Promise.all(lab.hosts.map((h) => frrPids(lab, h))), pids, "no FRR daemon restarted");

  const check = await play(lab, ["--check"]);
  for (const c of Object.values(recap(check.stdout))) assert.is(c.changed, 0);
  console.log(`    (first run ${(ranMs / 1000).toFixed(1)} s)`);
});

s("the Slackware host: frr user and groups with SBo's ids, rc.frr executable, files owned by frr, ip_forward on", async ({ lab }) => {
  const slack = host(lab, "tnode3");
  const got = await out(
    lab,
    slack,
    [
      "getent passwd frr | cut -d: -f3,4,6,7",
      "getent group frrvty | cut -d: -f3,4",
      "stat -c '%a %U:%G %n' /etc/rc.d/rc.frr /etc/frr /etc/frr/frr.conf",
      "ls /var/lib/pkgtools/packages | grep '^frr-'",
      "cat /etc/sysctl.d/99-runbook.conf; sysctl -n net.ipv4.ip_forward",
      "grep '^ospfd=' /etc/frr/daemons",
    ].join("; "),
  );
  assert.match(
    got,
    /^357:357:\/var\/lib\/frr:\/bin\/false\n358:frr\n755 root:root \/etc\/rc\.d\/rc\.frr\n750 frr:frr \/etc\/frr\n640 frr:frr \/etc\/frr\/frr\.conf\nfrr-[\d.]+-x86_64-1_rbtest\nnet\.ipv4\.ip_forward = 1\n1\nospfd=yes\n$/,
  );
});

s("all six adjacencies reach Full; every loopback reaches every other over its direct link", async ({ lab }) => {
  const { ms } = await poll(60, () => converged(lab), "six Full adjacencies and direct routes");
  for (const h of lab.hosts) {
    const others = lab.hosts.filter((o) => o !== h);
    assert.equal(await fullNeighbours(lab, h), others.map((o) => `10.50.1.${o.index} ${DIRECT[h.name]![`10.50.1.${o.index}`]!.split(" ")[1]}`).sort(), h.name);
    for (const o of others) {
      const ping = await out(lab, h, `ping -c 2 -i 0.2 -W 1 -I 10.50.1.${h.index} 10.50.1.${o.index} | grep -o '[0-9]* received'`);
      assert.is(ping, "2 received\n", `${h.name} -> ${o.name}'s loopback`);
    }
  }
  console.log(`    (converged ${(ms / 1000).toFixed(1)} s after the second run)`);
});

s("a link goes down: tnode2's loopback is reached via tnode3 within the dead interval, no ping lost beyond it; it comes back direct", async ({ lab }) => {
  const [t1, t2] = [host(lab, "tnode1"), host(lab, "tnode2")];
  await poll(30, () => converged(lab), "converged before the test");
  assert.is(await routeTo(lab, t1, "10.50.1.2"), "192.168.11.2 eth1");

  // 75 pings, one every 0.2 s (15 s) from tnode1's loopback to tnode2's; the link tnode1 eth1 - tnode2 eth2 goes down 3 s in.
  const pinging = ssh(lab, t1, "ping -n -i 0.2 -c 75 -W 1 -I 10.50.1.1 10.50.1.2 | tail -n 2", { allowFail: true });
  await sleep(3000);
  const down = Date.now();
  await ssh(lab, t1, "ip link set eth1 down");
  const around = await poll(DEAD_INTERVAL + 1, async () => (await routeTo(lab, t1, "10.50.1.2")) === "192.168.33.1 eth2" && (await routeTo(lab, t2, "10.50.1.1")) === "192.168.22.2 eth1", "both ways via tnode3");
  const switched = Date.now() - down;
  const summary = (await pinging).stdout;
  const m = /(\d+) packets transmitted, (\d+) received/.exec(summary);
  assert.ok(m, summary);
  const lost = Number(m[1]) - Number(m[2]);
  const outage = lost * 0.2;
  assert.ok(outage <= DEAD_INTERVAL + 1, `${lost} pings lost (${outage.toFixed(1)} s), more than the dead interval (${DEAD_INTERVAL} s) + 1 s`);
  assert.is(Number(m[2]) > 0, true);
  // Still reachable while the link is down, and tnode1 has one neighbour left.
  assert.equal(await fullNeighbours(lab, t1), ["10.50.1.3 eth2"]);
  assert.match(await out(lab, t1, "ping -c 2 -i 0.2 -W 1 -I 10.50.1.1 10.50.1.2"), /2 received/);

  await ssh(lab, t1, "ip link set eth1 up");
  const back = await poll(30, async () => (await routeTo(lab, t1, "10.50.1.2")) === "192.168.11.2 eth1" && (await routeTo(lab, t2, "10.50.1.1")) === "192.168.11.1 eth2", "the direct route back");
  await poll(15, () => converged(lab), "all six adjacencies again");
  console.log(`    (routed around in ${(switched / 1000).toFixed(1)} s [poll ${around.ms} ms], ${lost} of ${m[1]} pings lost; direct again ${(back.ms / 1000).toFixed(1)} s after the link came up)`);
});

s("a cost change on one Debian host rewrites only its frr.conf and restarts only its FRR", async ({ lab }) => {
  const [t1, t2, t3] = [host(lab, "tnode1"), host(lab, "tnode2"), host(lab, "tnode3")];
  await poll(30, () => converged(lab), "converged before the test");
  const before = await Promise.all([t1, t2, t3].map((h) => frrPids(lab, h)));
  // tnode2's eth1 (to tnode3) costs 50: tnode2 then reaches tnode3 through tnode1 (10 + 10).
  const inv = editedInventory(lab, "cost", (i) => {
    i.tnode2!.frr.interfaces[0].cost = 50;
  });
  const r = await play(lab, [], { inventory: inv });
  assert.is(r.code, 0, r.stderr + r.stdout.slice(-3000));
  const changed = (name: string) => results(r.stdout, name).filter((e) => e.status === "changed").map((e) => `${e.role} › ${e.task}`);
  assert.equal(changed("tnode2"), ["frr › template /etc/frr/frr.conf", "handler: restart frr › service frr (restarted)"]);
  // tnode2 boots systemd: FRR is its unit, restarted by systemd.
  assert.equal(results(r.stdout, "tnode2").find((e) => e.task === "service frr (restarted)")?.commands, ["systemctl restart frr"]);
  assert.equal(changed("tnode1"), []);
  assert.equal(changed("tnode3"), []);
  assert.match(diffFor(r.stdout, "tnode2", "/etc/frr/frr.conf")?.after ?? "", /^interface eth1\n ip ospf network point-to-point\n ip ospf cost 50\n/m);

  const after = await Promise.all([t1, t2, t3].map((h) => frrPids(lab, h)));
  assert.is(after[0], before[0], "tnode1's FRR untouched");
  assert.is(after[2], before[2], "tnode3's FRR untouched");
  assert.is.not(after[1], before[1], "tnode2's FRR restarted");
  await poll(30, async () => (await fullNeighbours(lab, t2)).length === 2 && (await routeTo(lab, t2, "10.50.1.3")) === "192.168.11.1 eth2", "tnode2 -> tnode3 via tnode1");
  assert.match(await out(lab, t2, "vtysh -c 'show ip ospf interface eth1' | grep -o 'Cost: [0-9]*'"), /Cost: 50/);

  // Back to the lab's values: again only tnode2.
  const back = await play(lab);
  assert.is(back.code, 0);
  assert.equal(results(back.stdout).filter((e) => e.status === "changed").map((e) => `${e.host} ${e.task}`), ["tnode2 template /etc/frr/frr.conf", "tnode2 service frr (restarted)"]);
});

s("on the Slackware host a change restarts FRR through rc.frr stop + start; the others are untouched", async ({ lab }) => {
  const [t1, t2, t3] = [host(lab, "tnode1"), host(lab, "tnode2"), host(lab, "tnode3")];
  await poll(30, () => converged(lab), "converged before the test");
  const before = await Promise.all([t1, t2, t3].map((h) => frrPids(lab, h)));
  const inv = editedInventory(lab, "slack-cost", (i) => {
    i.tnode3!.frr.interfaces[0].cost = 50; // tnode3 eth1, to tnode2
  });
  const r = await play(lab, [], { inventory: inv });
  assert.is(r.code, 0, r.stderr + r.stdout.slice(-3000));
  assert.equal(results(r.stdout).filter((e) => e.status === "changed").map((e) => `${e.host} ${e.role} › ${e.task}`), [
    "tnode3 frr › template /etc/frr/frr.conf",
    "tnode3 handler: restart frr › rc.frr stop, then start",
  ]);
  const after = await Promise.all([t1, t2, t3].map((h) => frrPids(lab, h)));
  assert.equal([after[0], after[1]], [before[0], before[1]], "the Debian hosts' FRR untouched");
  assert.is.not(after[2], before[2], "tnode3's FRR restarted");
  assert.ok(after[2]!.trim().split(" ").length >= 3, `tnode3's daemons run again: ${after[2]}`);
  await poll(30, async () => (await fullNeighbours(lab, t3)).length === 2 && (await routeTo(lab, t3, "10.50.1.2")) === "192.168.33.2 eth2", "tnode3 -> tnode2 via tnode1");

  const back = await play(lab);
  assert.is(back.code, 0);
  assert.equal(results(back.stdout).filter((e) => e.status === "changed").map((e) => `${e.host} ${e.task}`), ["tnode3 template /etc/frr/frr.conf", "tnode3 rc.frr stop, then start"]);
  await poll(30, () => converged(lab), "converged again");
});

s("a configuration FRR rejects never lands: vtysh -C fails the task, frr.conf and the daemons stay", async ({ lab }) => {
  const sums = () => Promise.all(lab.hosts.map((h) => out(lab, h, "sha256sum /etc/frr/frr.conf; ls /etc/frr")));
  const before = await sums();
  const pids = await Promise.all(lab.hosts.map((h) => frrPids(lab, h)));
  const r = await play(lab, [], { extra: { frr: { ...SLACK_PACKAGES.frr, extraConfig: "router ospf\n no-such-command 1\nexit\n" } } });
  assert.is(r.code, 2, r.stdout.slice(-2000));
  const failed = results(r.stdout).filter((e) => e.status === "failed");
  assert.equal(failed.map((e) => `${e.host} ${e.task}`).sort(), ["tnode1 template /etc/frr/frr.conf", "tnode2 template /etc/frr/frr.conf", "tnode3 template /etc/frr/frr.conf"]);
  for (const f of failed) assert.match(`${f.reason}\n${f.stderr ?? ""}`, /validated by: vtysh -C -f %s[^]*Unknown command.*no-such-command/);
  assert.equal(await sums(), before, "frr.conf unchanged, no temp file left in /etc/frr");
  assert.equal(await Promise.all(lab.hosts.map((h) => frrPids(lab, h))), pids, "FRR not restarted");
});

s("bad parameters stop the run before any host is touched, naming host, role and field", async ({ lab }) => {
  const before = await upperSnapshot(lab.hosts[0]!);
  const bad = await play(lab, [], { extra: { frr: { ...SLACK_PACKAGES.frr, routerId: "10.50.1.300" } } });
  assert.is(bad.code, 1);
  assert.match(bad.stderr, /host tnode1, role frr, field routerId: "10\.50\.1\.300" is not an IPv4 address/);
  const mode = editedInventory(lab, "bad-mode", (i) => {
    i.tnode2!.cluster_lan = "ospf";
  });
  const typo = await play(lab, [], { inventory: mode });
  assert.is(typo.code, 1);
  assert.match(typo.stderr, /host tnode2: cluster_lan must be one of bridge-stp, frr, got "ospf"/);
  assert.is(await upperSnapshot(lab.hosts[0]!), before);
});

s.run();
