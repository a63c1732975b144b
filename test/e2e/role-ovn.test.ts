/**
 * Role ovn on the lab's three cluster nodes with real daemons: Open vSwitch
 * with the userspace datapath (`datapath_type=netdev`: the lab's kernel has
 * no openvswitch module), OVN central as 3-member raft clusters for NB and
 * SB, ovn-northd on every member, ovn-controller as a chassis on every host,
 * through the CLI with test/fixtures/playbooks/ovn.ts. tnode1 and tnode3 run
 * tini as PID 1 (openvswitch-switch's init script, ovn-ctl directly), tnode2
 * boots systemd (the packages' units; apt starts them standalone on install,
 * which the role turns into a cluster member).
 *
 * The chassis' tunnel endpoints are 192.168.200.N (the test inventory's
 * `encapIp`). The userspace datapath sends tunnel packets only through an
 * OVS bridge holding the endpoint address, so the ping test first builds
 * that underlay by hand (test plumbing, not the role's): a netdev bridge
 * br-phy on each host over the triangle's links (a tree: tnode1 bridges
 * eth1 and eth2, tnode2 and tnode3 their eth2; link 2-3 is left out, so
 * no loop) with 192.168.200.N on it.
 *
 * Proven here: check mode on fresh hosts predicts the bootstrap and writes
 * nothing; a --limit leaving out a member refuses to bootstrap; the first
 * run makes both clusters with 3 servers and a leader, 3 chassis with
 * Geneve encaps on the intended addresses; the second run changes nothing
 * (check mode neither); three logical ports bound to OVS internal ports in
 * network namespaces ping each other across hosts; a changed encap IP
 * changes only that chassis; a killed NB leader is replaced, writes go on,
 * and the next run brings the member back; a member whose databases are
 * wiped rejoins, and the membership has exactly 3 servers; a join while the
 * cluster has no leader fails saying what each member reports.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as assert from "uvu/assert";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { parseClusterStatus, type ClusterStatus } from "../../roles/ovn/cluster.ts";
import { labSuite, poll, ssh } from "../lab/fixture.ts";
import type { Lab, LabHost } from "../lab/lab.ts";
import { events, recap, results, runbook, stateDir, upperSnapshot } from "./harness.ts";

const PLAYBOOK = "test/fixtures/playbooks/ovn.ts";
const DBS = { nb: { ctl: "/var/run/ovn/ovnnb_db.ctl", name: "OVN_Northbound", pid: "/var/run/ovn/ovnnb_db.pid" }, sb: { ctl: "/var/run/ovn/ovnsb_db.ctl", name: "OVN_Southbound", pid: "/var/run/ovn/ovnsb_db.pid" } } as const;
type DbKey = keyof typeof DBS;

const encapIp = (h: LabHost, last = h.index) => `192.168.200.${last}`;

/** The lab inventory with each triangle host's `ovn` params (and `edit` applied), written beside it. */
function ovnInventory(lab: Lab, name: string, edit: (inv: Record<string, Record<string, any>>) => void = () => {}): string {
  const inv = parseYaml(readFileSync(lab.inventory, "utf8")) as Record<string, Record<string, any>>;
  for (const h of lab.hosts) inv[h.name]!.ovn = { datapathType: "netdev", encapIp: encapIp(h), leaderTimeout: 90 };
  edit(inv);
  const file = join(lab.dir, `inventory-${name}.yml`);
  writeFileSync(file, stringifyYaml(inv, { lineWidth: 0 }));
  return file;
}

function play(inventory: string, args: string[] = [], state = stateDir()) {
  return runbook(["play", PLAYBOOK, "-i", inventory, "--json", ...args], { stateDir: state });
}

const out = async (lab: Lab, host: LabHost | string, cmd: string) => (await ssh(lab, host, cmd)).stdout;
/** What moved on a host (not ok), for assertion messages. */
const moved = (stdout: string, host: string) =>
  results(stdout)
    .filter((e) => e.host === host && e.status !== "ok")
    .map((e) => `${e.task}: ${e.status} (${e.reason})`)
    .join("\n");

async function status(lab: Lab, host: LabHost, db: DbKey): Promise<ClusterStatus | null> {
  const r = await ssh(lab, host, `ovn-appctl -t ${DBS[db].ctl} cluster/status ${DBS[db].name}`, { allowFail: true });
  return r.code === 0 ? parseClusterStatus(r.stdout) : null;
}

/** Every member sees 3 servers, is a cluster member, and all agree on one leader. */
async function healthy(lab: Lab, db: DbKey): Promise<string | false> {
  const leaders = new Set<string>();
  for (const h of lab.hosts) {
    const s = await status(lab, h, db);
    if (!s || s.status !== "cluster member" || s.servers.length !== 3 || s.leader === "unknown") return false;
    leaders.add(s.leader === "self" ? s.sid!.slice(0, 4) : s.leader);
  }
  return leaders.size === 1 ? [...leaders][0]! : false;
}

const NB_REMOTES = (lab: Lab) => lab.hosts.map((h) => `tcp:${h.address}:6641`).join(",");
const SB_REMOTES = (lab: Lab) => lab.hosts.map((h) => `tcp:${h.address}:6642`).join(",");

const s = await labSuite("role: ovn (raft NB/SB and three chassis on the triangle)", { hosts: 3, topology: "triangle", systemd: [2] });
const state = stateDir();
let inventory = "";

s("--check --diff on fresh hosts predicts the bootstrap and writes nothing", async ({ lab }) => {
  inventory = ovnInventory(lab, "ovn");
  const before = await Promise.all(lab.hosts.map(upperSnapshot));
  const r = await play(inventory, ["--check", "--diff"], stateDir());
  assert.is(r.code, 0, r.stderr + r.stdout.slice(-3000));
  assert.equal(await Promise.all(lab.hosts.map(upperSnapshot)), before, "check mode wrote nothing on any host");
  const all = results(r.stdout);
  assert.not.ok(all.some((e) => e.status === "failed"), all.filter((e) => e.status === "failed").map((e) => `${e.host} ${e.task}: ${e.reason}`).join("\n"));
  const predicted = (host: string, task: RegExp) => all.some((e) => e.host === host && task.test(e.task) && e.status === "changed" && e.predicted);
  for (const h of lab.hosts) {
    assert.ok(predicted(h.name, /^package openvswitch-switch, ovn-host, ovn-central /), `${h.name}: packages\n${moved(r.stdout, h.name)}`);
    assert.ok(predicted(h.name, /^copy \/etc\/default\/ovn-central$/), `${h.name}: ovn-central options`);
  }
  // The first member makes both clusters; the others would join them, naming the ids known after apply.
  assert.ok(predicted("tnode1", /^make ovn NB cluster id$/) && predicted("tnode1", /^make ovn SB cluster id$/), moved(r.stdout, "tnode1"));
  for (const name of ["tnode2", "tnode3"]) {
    assert.ok(predicted(name, /^OVN_Northbound: join the raft cluster at tcp:10\.88\.\d+\.\d+:6643 \(cluster \(known after apply: ovn NB cluster id\)\)$/), moved(r.stdout, name));
    assert.ok(predicted(name, /^OVN_Southbound: join the raft cluster at tcp:10\.88\.\d+\.\d+:6644 \(cluster \(known after apply: ovn SB cluster id\)\)$/), moved(r.stdout, name));
  }
  const options = all.find((e) => e.host === "tnode3" && e.task === "copy /etc/default/ovn-central")?.diffs?.[0]?.after ?? "";
  const [a1, , a3] = lab.hosts.map((h) => h.address);
  assert.match(options, `--db-nb-cluster-local-addr=${a3} `);
  assert.match(options, `--db-nb-cluster-remote-addr=${a1} `);
  assert.match(options, `--ovn-northd-sb-db=${SB_REMOTES(lab)}"`);
});

s("a --limit that leaves out a member refuses to bootstrap a new cluster", async ({ lab }) => {
  const r = await play(inventory, ["--limit", "tnode1,tnode2"]);
  assert.is(r.code, 2, r.stdout.slice(-2000));
  // The shared cluster id cannot be read or made: both hosts of the run stop there, saying why.
  const failed = events(r.stdout).flatMap((e) => (e.type === "host.failed" ? [`${e.host}: ${e.message}`] : []));
  assert.is(failed.length, 2, r.stdout.slice(-3000));
  for (const f of failed) assert.match(f, /^tnode[12]: .*no member holds a OVN_Northbound cluster yet, and tnode3 is not in this run \(--limit or serial\): refusing to bootstrap a cluster without every member/);
  assert.not.ok(results(r.stdout).some((e) => /create the raft cluster|join the raft cluster/.test(e.task)), "nothing created or joined");
  for (const h of lab.hosts) assert.is(await out(lab, h, 'for f in /var/lib/ovn/*.db; do if [ -e "$f" ] && ovsdb-tool db-is-clustered "$f" 2>/dev/null; then echo "$f"; fi; done'), "", `${h.name}: no clustered database`);
});

s("first run: NB and SB have 3 servers and one leader on every member; 3 chassis with Geneve on their addresses; the second run changes nothing", async ({ lab }) => {
  const started = Date.now();
  const first = await play(inventory, [], state);
  assert.is(first.code, 0, first.stderr + first.stdout.slice(-4000));
  const ranMs = Date.now() - started;
  const creates = results(first.stdout).filter((e) => /create the raft cluster/.test(e.task)).map((e) => `${e.host} ${e.task.replace(/ at .*/, "")}`);
  assert.equal(creates, ["tnode1 OVN_Northbound: create the raft cluster", "tnode1 OVN_Southbound: create the raft cluster"]);
  for (const db of ["nb", "sb"] as const) {
    const leader = await poll(60, () => healthy(lab, db), `${db}: 3 servers and one leader on every member`);
    for (const h of lab.hosts) {
      const st = (await status(lab, h, db))!;
      assert.equal(st.servers.map((v) => v.address).sort(), lab.hosts.map((x) => `tcp:${x.address}:${db === "nb" ? 6643 : 6644}`).sort(), `${h.name} ${db}`);
      assert.ok(st.leader === "self" ? st.sid!.startsWith(leader) : st.leader === leader);
    }
  }
  const show = await poll(60, async () => {
    const text = await out(lab, "tnode1", `ovn-sbctl --db=${SB_REMOTES(lab)} show`);
    return (text.match(/^Chassis /gm) ?? []).length === 3 ? text : false;
  }, "3 chassis in the Southbound database");
  for (const h of lab.hosts) {
    assert.match(show, new RegExp(`^Chassis ${h.name}\\n    hostname: ${h.name}\\n    Encap geneve\\n        ip: "${encapIp(h).replace(/\./g, "\\.")}"`, "m"), show);
    assert.is((await out(lab, h, "ovs-vsctl get Bridge br-int datapath_type")).trim(), "netdev", h.name);
  }
  assert.is(await out(lab, "tnode2", "systemctl is-active ovn-ovsdb-server-nb ovn-ovsdb-server-sb ovn-northd ovn-controller ovs-vswitchd | sort -u"), "active\n", "tnode2 (systemd): the units run");
  assert.is(await out(lab, "tnode2", "ls /var/lib/ovn/ | grep -c standalone"), "2\n", "tnode2: the package's standalone databases were moved aside, not deleted");

  const second = await play(inventory, [], state);
  assert.is(second.code, 0, second.stderr);
  for (const [name, c] of Object.entries(recap(second.stdout))) assert.equal({ changed: c.changed, failed: c.failed }, { changed: 0, failed: 0 }, `${name}:\n${moved(second.stdout, name)}`);
  const check = await play(inventory, ["--check"], state);
  assert.is(check.code, 0);
  for (const [name, c] of Object.entries(recap(check.stdout))) assert.equal({ changed: c.changed, unknown: c.unknown ?? 0 }, { changed: 0, unknown: 0 }, `${name} (check on the running cluster):\n${moved(check.stdout, name)}`);
  console.log(`    (first run ${(ranMs / 1000).toFixed(1)} s)`);
});

s("a logical switch with a port per host: OVS internal ports in network namespaces ping each other through the Geneve tunnels", async ({ lab }) => {
  // The underlay for the userspace datapath (see the module doc).
  const phyPorts: Record<string, string[]> = { tnode1: ["eth1", "eth2"], tnode2: ["eth2"], tnode3: ["eth2"] };
  for (const h of lab.hosts) {
    const ports = phyPorts[h.name]!.map((p) => `-- add-port br-phy ${p}`).join(" ");
    await ssh(lab, h, `ovs-vsctl --may-exist add-br br-phy -- set Bridge br-phy datapath_type=netdev ${ports} && ip addr add ${encapIp(h)}/24 dev br-phy && ip link set br-phy up`);
  }
  const nb = `ovn-nbctl --db=${NB_REMOTES(lab)}`;
  await ssh(lab, "tnode1", `${nb} ls-add ls0` + lab.hosts.map((h) => ` -- lsp-add ls0 lp${h.index} -- lsp-set-addresses lp${h.index} "02:00:00:00:01:0${h.index} 172.16.0.${h.index}"`).join(""));
  for (const h of lab.hosts) {
    const i = h.index;
    await ssh(lab, h, [
      `ip netns add vm${i}`,
      `ovs-vsctl add-port br-int vif${i} -- set Interface vif${i} type=internal external_ids:iface-id=lp${i}`,
      `ip link set vif${i} netns vm${i}`,
      `ip -n vm${i} link set vif${i} address 02:00:00:00:01:0${i}`,
      `ip -n vm${i} addr add 172.16.0.${i}/24 dev vif${i}`,
      `ip -n vm${i} link set vif${i} up`,
    ].join(" && "));
  }
  await poll(60, async () => (await out(lab, "tnode1", `ovn-sbctl --db=${SB_REMOTES(lab)} --bare --columns=logical_port find Port_Binding 'chassis!=[]' | grep -c '^lp'`)).trim() === "3", "three port bindings");
  for (const h of lab.hosts) {
    for (const o of lab.hosts.filter((x) => x !== h)) {
      await poll(30, async () => /[1-9] received/.test((await ssh(lab, h, `ip netns exec vm${h.index} ping -c 2 -i 0.3 -W 1 172.16.0.${o.index}`, { allowFail: true })).stdout), `vm${h.index} on ${h.name} pings vm${o.index} on ${o.name}`);
    }
  }
  // Across hosts for real: the packets left through the tunnel ports.
  const tunnels = await out(lab, "tnode1", "ovs-vsctl --bare --columns=name,options find Interface type=geneve");
  assert.match(tunnels, /remote_ip="?192\.168\.200\.2/);
  assert.match(tunnels, /remote_ip="?192\.168\.200\.3/);
});

s("a changed encap IP on one host changes only that chassis", async ({ lab }) => {
  const moved3 = ovnInventory(lab, "encap", (inv) => {
    inv.tnode3!.ovn.encapIp = "192.168.200.33";
  });
  const r = await play(moved3, [], state);
  assert.is(r.code, 0, r.stderr + r.stdout.slice(-3000));
  assert.equal(results(r.stdout).filter((e) => e.status === "changed").map((e) => `${e.host} ${e.task}`), ["tnode3 chassis tnode3: external_ids"]);
  assert.match(await out(lab, "tnode1", `ovn-sbctl --db=${SB_REMOTES(lab)} --bare --columns=ip find Encap chassis_name=tnode3`), /^192\.168\.200\.33$/m);
  const back = await play(inventory, [], state);
  assert.is(back.code, 0);
  assert.equal(results(back.stdout).filter((e) => e.status === "changed").map((e) => `${e.host} ${e.task}`), ["tnode3 chassis tnode3: external_ids"]);
});

s("the NB leader's ovsdb-server is killed: a new leader is elected, a write succeeds, and the next run restores the member", async ({ lab }) => {
  const leaderSid = await poll(30, () => healthy(lab, "nb"), "a healthy NB cluster");
  let leaderHost: LabHost | undefined;
  for (const h of lab.hosts) if ((await status(lab, h, "nb"))!.role === "leader") leaderHost = h;
  assert.ok(leaderHost, `a member leads ${leaderSid}`);
  // systemd would restart a killed unit at once (Restart=on-failure): there the member is stopped instead.
  if (leaderHost.init === "systemd") await ssh(lab, leaderHost, "systemctl stop ovn-ovsdb-server-nb");
  else await ssh(lab, leaderHost, `kill -9 $(cat ${DBS.nb.pid})`);
  const others = lab.hosts.filter((h) => h !== leaderHost);
  const newLeader = await poll(60, async () => {
    for (const h of others) {
      const st = await status(lab, h, "nb");
      if (st?.role === "leader") return h.name;
    }
    return false;
  }, "a new NB leader among the other two");
  assert.ok(others.some((h) => h.name === newLeader));
  await ssh(lab, others[0]!, `ovn-nbctl --db=${NB_REMOTES(lab)} --timeout=30 ls-add after-the-kill`);
  assert.match(await out(lab, others[1]!, `ovn-nbctl --db=${NB_REMOTES(lab)} ls-list`), /after-the-kill/);

  const r = await play(inventory, [], state);
  assert.is(r.code, 0, r.stderr + r.stdout.slice(-3000));
  const changed = results(r.stdout).filter((e) => e.status === "changed").map((e) => `${e.host} ${e.task}`);
  assert.equal(changed, [`${leaderHost.name} ${leaderHost.init === "systemd" ? "service ovn-ovsdb-server-nb (started)" : "ovsdb-server OVN_Northbound (started, ovn-ctl)"}`]);
  await poll(60, () => healthy(lab, "nb"), "3 NB servers and one leader again");
  assert.match(await out(lab, leaderHost, `ovn-nbctl --db=tcp:${leaderHost.address}:6641 --no-leader-only ls-list`), /after-the-kill/, "the member caught up");
});

s("a member's databases wiped (the first member, rebuilt): the rerun joins it to the existing clusters with exactly 3 servers", async ({ lab }) => {
  const t1 = lab.hosts[0]!;
  const oldSids = { nb: (await status(lab, t1, "nb"))!.sid!, sb: (await status(lab, t1, "sb"))!.sid! };
  await ssh(lab, t1, "/usr/share/ovn/scripts/ovn-ctl stop_northd --ovn-manage-ovsdb=no; /usr/share/ovn/scripts/ovn-ctl stop_nb_ovsdb; /usr/share/ovn/scripts/ovn-ctl stop_sb_ovsdb; rm -f /var/lib/ovn/ovnnb_db.db /var/lib/ovn/ovnsb_db.db");
  await poll(60, async () => {
    const st = await status(lab, lab.hosts[1]!, "nb");
    return st && st.leader !== "unknown" && st.role !== "candidate";
  }, "the other two keep an NB leader");

  const r = await play(inventory, [], state);
  assert.is(r.code, 0, r.stderr + r.stdout.slice(-4000));
  const tasks = results(r.stdout).filter((e) => e.status === "changed").map((e) => `${e.host} ${e.task}`);
  assert.not.ok(tasks.some((t) => /create the raft cluster/.test(t)), `no new cluster:\n${tasks.join("\n")}`);
  for (const db of ["nb", "sb"] as const) {
    const name = DBS[db].name;
    assert.ok(tasks.some((t) => new RegExp(`^tnode[23] ${name}: kick tnode1's stale server ${oldSids[db].slice(0, 4)} `).test(t)), `${db}: the old server kicked\n${tasks.join("\n")}`);
    assert.ok(tasks.includes(`tnode1 ${name}: join the raft cluster at tcp:${t1.address}:${db === "nb" ? 6643 : 6644} (cluster ${(await status(lab, lab.hosts[2]!, db))!.cid})`), tasks.join("\n"));
    await poll(60, () => healthy(lab, db), `${db}: 3 servers and one leader`);
    for (const h of lab.hosts) {
      const st = (await status(lab, h, db))!;
      assert.is(st.servers.length, 3, `${h.name} ${db}: exactly 3 servers`);
      assert.not.ok(st.servers.some((v) => oldSids[db].startsWith(v.sid)), `${h.name} ${db}: the old server is gone`);
    }
  }
  assert.match(await out(lab, t1, `ovn-nbctl --db=tcp:${t1.address}:6641 --no-leader-only ls-list`), /ls0[^]*after-the-kill|after-the-kill[^]*ls0/, "tnode1 has the cluster's data again");
  const again = await play(inventory, [], state);
  for (const [name, c] of Object.entries(recap(again.stdout))) assert.is(c.changed, 0, `${name}:\n${moved(again.stdout, name)}`);
});

s("a member to join a cluster that has no leader fails clearly, saying what each member reports; once quorum is back it joins", async ({ lab }) => {
  const [, t2, t3] = lab.hosts as [LabHost, LabHost, LabHost];
  // tnode2's NB server stopped, tnode3's NB database wiped: tnode1 alone has no majority.
  await ssh(lab, t2, "systemctl stop ovn-ovsdb-server-nb");
  await ssh(lab, t3, "/usr/share/ovn/scripts/ovn-ctl stop_nb_ovsdb; rm -f /var/lib/ovn/ovnnb_db.db");
  await poll(30, async () => (await status(lab, lab.hosts[0]!, "nb"))?.leader === "unknown", "tnode1 alone loses the leader");
  const short = ovnInventory(lab, "short-wait", (inv) => {
    inv.tnode3!.ovn.leaderTimeout = 8;
  });
  const r = await play(short, ["--limit", "tnode3"], state);
  assert.is(r.code, 2, r.stdout.slice(-3000));
  const failed = results(r.stdout).filter((e) => e.status === "failed");
  assert.equal(failed.map((e) => `${e.host} ${e.task}`), ["tnode3 wait until the OVN_Northbound cluster has a leader"]);
  assert.match(failed[0]!.reason, /^timed out after \d+ s; still missing: tnode1: [^;]*leader unknown; tnode2: .*(cannot connect|No such file)/);
  assert.not.ok(results(r.stdout).some((e) => /join the raft cluster/.test(e.task)), "it did not join");
  assert.is(await out(lab, t3, "test -e /var/lib/ovn/ovnnb_db.db || echo none"), "none\n", "no database made while there is no leader");

  const back = await play(inventory, [], state);
  assert.is(back.code, 0, back.stderr + back.stdout.slice(-3000));
  await poll(60, () => healthy(lab, "nb"), "3 NB servers and one leader again");
  for (const h of lab.hosts) assert.is((await status(lab, h, "nb"))!.servers.length, 3, `${h.name}: exactly 3 servers`);
});

s.run();
