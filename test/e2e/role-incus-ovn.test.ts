/**
 * The ovn role, then the incus role with an OVN network, on the lab's
 * triangle with real daemons (test/fixtures/playbooks/incus-ovn.ts, through
 * the CLI). tnode1 and tnode3 run tini as PID 1, tnode2 boots systemd.
 * Open vSwitch runs with the userspace datapath (`netdev`: the lab's kernel
 * has no openvswitch module), as in test/e2e/role-ovn.test.ts.
 *
 * The inventory gives each host `ovn: { datapathType: netdev, encapIp:
 * 192.168.200.N, bridgeMappings: [UPLINK -> br-uplink] }`. The userspace
 * datapath sends Geneve packets only through an OVS bridge holding the
 * tunnel endpoint, so before the containers ping the test builds that
 * underlay by hand (test plumbing, not a role's), as role-ovn.test.ts does:
 * a netdev bridge br-phy over the triangle's links with 192.168.200.N.
 *
 * Proven here: --check on fresh hosts writes nothing and predicts the OVN
 * parts (each member's definition of the physical uplink, the Northbound
 * connection, the uplink and the OVN network made on the cluster); the
 * first run makes the OVN network on the 3-member cluster (a logical switch
 * and router in the Northbound database); the second run changes nothing;
 * two containers on different members attached to it get their addresses
 * from OVN's DHCP and ping each other through the Geneve tunnels; a run
 * after that still changes nothing; with both networks deleted and the
 * uplink defined on one member only, a rerun finishes the job. (The
 * stand-in image gets busybox, from Debian through the lab's apt proxy,
 * for its DHCP client.)
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as assert from "uvu/assert";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { labSuite, poll, ssh } from "../lab/fixture.ts";
import type { Lab } from "../lab/lab.ts";
import { recap, results, runbook, stateDir, upperSnapshot } from "./harness.ts";
import { standinImageScript } from "./incus-image.ts";

const PLAYBOOK = "test/fixtures/playbooks/incus-ovn.ts";
const encapIp = (index: number) => `192.168.200.${index}`;

const s = await labSuite("role: incus with an OVN network (ovn role first, 3 members, netdev datapath)", { hosts: 3, topology: "triangle", systemd: [2] });
const state = stateDir();
let inventory = "";

/** The lab inventory with each host's `ovn` vars, written beside it. */
function ovnInventory(lab: Lab): string {
  const inv = parseYaml(readFileSync(lab.inventory, "utf8")) as Record<string, Record<string, unknown>>;
  for (const h of lab.hosts) inv[h.name]!.ovn = { datapathType: "netdev", encapIp: encapIp(h.index), leaderTimeout: 90, bridgeMappings: [{ network: "UPLINK", bridge: "br-uplink" }] };
  const file = join(lab.dir, "inventory-incus-ovn.yml");
  writeFileSync(file, stringifyYaml(inv, { lineWidth: 0 }));
  return file;
}

const play = (args: string[] = [], st = state) => runbook(["play", PLAYBOOK, "-i", inventory, "--json", ...args], { stateDir: st, timeoutMs: 1_200_000 });
const out = async (lab: Lab, host: string, cmd: string) => (await ssh(lab, host, cmd)).stdout;
const NB = (lab: Lab) => lab.hosts.map((h) => `tcp:${h.address}:6641`).join(",");
/** What moved on a host (not ok), for assertion messages. */
const moved = (stdout: string, host?: string) =>
  results(stdout)
    .filter((e) => (host === undefined || e.host === host) && e.status !== "ok")
    .map((e) => `${e.host} ${e.task}: ${e.status} (${e.reason})`)
    .join("\n");

s("--check on fresh hosts: nothing written; the uplink's definitions, the Northbound connection and both networks predicted", async ({ lab }) => {
  inventory = ovnInventory(lab);
  const before = await Promise.all(lab.hosts.map(upperSnapshot));
  const r = await play(["--check"], stateDir());
  assert.is(r.code, 0, r.stderr + r.stdout.slice(-3000));
  assert.equal(await Promise.all(lab.hosts.map(upperSnapshot)), before, "check mode wrote nothing on any host");
  const all = results(r.stdout);
  assert.not.ok(all.some((e) => e.status === "failed"), moved(r.stdout));
  const predicted = (host: string, task: string) => all.some((e) => e.host === host && e.task === task && e.status === "changed" && e.predicted);
  for (const h of lab.hosts) assert.ok(predicted(h.name, `network UPLINK: define it on ${h.name}`), moved(r.stdout, h.name));
  assert.ok(predicted("tnode1", `network.ovn.northbound_connection=${NB(lab)}`), moved(r.stdout, "tnode1"));
  assert.ok(predicted("tnode1", "network UPLINK: create the physical network on the cluster"), moved(r.stdout, "tnode1"));
  assert.ok(predicted("tnode1", "network ovn0: create the ovn network on the cluster"), moved(r.stdout, "tnode1"));
  // The bridge is the bootstrap's (its preseed), not a network made afterwards.
  assert.not.ok(all.some((e) => /^network incusbr0/.test(e.task)), moved(r.stdout, "tnode1"));
});

s("first run: ovn, then the Incus cluster with UPLINK and the OVN network ovn0 on every member; second run 0 changed", async ({ lab }) => {
  const started = Date.now();
  const r = await play();
  assert.is(r.code, 0, r.stderr + r.stdout.slice(-5000));
  const secs = (Date.now() - started) / 1000;
  const made = results(r.stdout).filter((e) => e.status === "changed" && /^network |northbound/.test(e.task)).map((e) => `${e.host} ${e.task}`);
  assert.equal(made.sort(), [
    "tnode1 network UPLINK: create the physical network on the cluster",
    "tnode1 network UPLINK: define it on tnode1",
    "tnode1 network ovn0: create the ovn network on the cluster",
    `tnode1 network.ovn.northbound_connection=${NB(lab)}`,
    "tnode2 network UPLINK: define it on tnode2",
    "tnode3 network UPLINK: define it on tnode3",
  ]);
  for (const h of lab.hosts) {
    const nets = JSON.parse(await out(lab, h.name, "incus network list -f json")) as { name: string; type: string; status: string; managed: boolean }[];
    const managed = nets.filter((n) => n.managed).map((n) => `${n.name} ${n.type} ${n.status}`).sort();
    assert.equal(managed, ["UPLINK physical Created", "incusbr0 bridge Created", "ovn0 ovn Created"], `incus network list on ${h.name}`);
    assert.match(await out(lab, h.name, "ovs-vsctl get Open_vSwitch . external_ids:ovn-bridge-mappings"), /^"?UPLINK:br-uplink"?$/m, `${h.name}: the ovn role's mapping is Incus' uplink`);
  }
  assert.is((await out(lab, "tnode2", "incus config get network.ovn.northbound_connection")).trim(), NB(lab));
  // The OVN network in the Northbound database: Incus' logical switch and router for ovn0.
  const nb = await out(lab, "tnode1", `ovn-nbctl --db=${NB(lab)} show`);
  assert.match(nb, /^switch [0-9a-f-]+ \(incus-net\d+-ls-int\)$/m, nb);
  assert.match(nb, /^router [0-9a-f-]+ \(incus-net\d+-lr\)$/m, nb);
  assert.match(nb, /networks: \["10\.210\.0\.1\/24"\]/, nb);

  const second = await play();
  assert.is(second.code, 0, second.stderr);
  for (const [name, c] of Object.entries(recap(second.stdout))) assert.equal({ changed: c.changed, failed: c.failed }, { changed: 0, failed: 0 }, `${name}:\n${moved(second.stdout, name)}`);
  const check = await play(["--check"], stateDir());
  assert.is(check.code, 0);
  for (const [name, c] of Object.entries(recap(check.stdout))) assert.equal({ changed: c.changed, unknown: c.unknown ?? 0 }, { changed: 0, unknown: 0 }, `${name} (check on the running cluster):\n${moved(check.stdout, name)}`);
  console.log(`    (first run ${secs.toFixed(1)} s)`);
});

s("two containers on different members on ovn0 get addresses from OVN's DHCP and ping each other through the Geneve tunnels", async ({ lab }) => {
  // The underlay for the userspace datapath (see the module doc): tnode1 bridges eth1 and eth2, the others their eth2 (a tree, no loop).
  const phyPorts: Record<string, string[]> = { tnode1: ["eth1", "eth2"], tnode2: ["eth2"], tnode3: ["eth2"] };
  for (const h of lab.hosts) {
    const ports = phyPorts[h.name]!.map((p) => `-- add-port br-phy ${p}`).join(" ");
    await ssh(lab, h, `ovs-vsctl --may-exist add-br br-phy -- set Bridge br-phy datapath_type=netdev ${ports} && ip addr add ${encapIp(h.index)}/24 dev br-phy && ip link set br-phy up`);
  }
  // busybox for its DHCP client (udhcpc): the stand-in image has none. From Debian through the lab's apt proxy.
  const bb = await ssh(lab, "tnode1", "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends busybox-static 2>&1", { allowFail: true });
  assert.is(bb.code, 0, bb.stdout);
  const built = await ssh(lab, "tnode1", "sh -s", { input: standinImageScript(["ip", "ping", "busybox"]) });
  assert.is(built.code, 0, built.stderr);
  await ssh(lab, "tnode1", "incus image import /tmp/rb-image.tar.gz --alias rb-standin && rm /tmp/rb-image.tar.gz");
  const vms = [
    { name: "o1", on: "tnode1" },
    { name: "o2", on: "tnode2" },
  ];
  for (const v of vms) {
    const r = await ssh(lab, "tnode1", `incus init rb-standin ${v.name} --target ${v.on} -c security.privileged=true </dev/null 2>&1 && incus config device add ${v.name} eth1 nic network=ovn0 name=eth1 2>&1 && incus start ${v.name} 2>&1`, { allowFail: true });
    if (r.code !== 0) assert.unreachable(`${v.name}: ${r.stdout}${r.stderr}\n${(await ssh(lab, "tnode1", `incus info --show-log ${v.name} 2>&1 | tail -30`, { allowFail: true })).stdout}`);
  }
  // Each container asks OVN's DHCP (served by ovn0's logical router, 10.210.0.1) for its address.
  const DHCP = String.raw`printf '#!/bin/sh
[ "$1" = bound ] && ip addr add $ip/$mask dev $interface
exit 0
' > /bin/dhcp-bound && busybox chmod 755 /bin/dhcp-bound && ip link set eth1 up && busybox udhcpc -i eth1 -n -q -t 10 -T 3 -s /bin/dhcp-bound 2>&1 && ip -4 -o addr show dev eth1`;
  const ips: Record<string, string> = {};
  for (const v of vms) {
    const got = await poll(120, async () => {
      const r = await ssh(lab, "tnode3", `incus exec ${v.name} -- /bin/sh -c '${DHCP.replace(/'/g, `'"'"'`)}'`, { allowFail: true });
      return /lease of 10\.210\.0\.\d+ obtained from 10\.210\.0\.1/.test(r.stdout) ? r.stdout : false;
    }, `${v.name} on ${v.on}: a DHCP lease on ovn0`);
    ips[v.name] = /inet (10\.210\.0\.\d+)\/24/.exec(got)![1]!;
  }
  assert.not.equal(ips.o1, ips.o2);
  // The ports Incus made: one per container in ovn0's logical switch with its MAC and (OVN-assigned) address, up on its member's chassis.
  const nb = await out(lab, "tnode1", `ovn-nbctl --db=${NB(lab)} show`);
  assert.is((nb.match(/port incus-net\d+-instance-[0-9a-f-]+-eth1\n/g) ?? []).length, 2, nb);
  const sb = lab.hosts.map((h) => `tcp:${h.address}:6642`).join(",");
  const bound = await out(lab, "tnode1", `for c in $(ovn-sbctl --db=${sb} --bare --columns=chassis find Port_Binding type='""' up=true); do ovn-sbctl --db=${sb} --bare --columns=name list Chassis $c; done | sort -u`);
  assert.equal(bound.trim().split("\n"), ["tnode1", "tnode2"], "the containers' ports are up on tnode1's and tnode2's chassis");
  for (const [a, b] of [[vms[0]!, vms[1]!], [vms[1]!, vms[0]!]] as const) {
    const seen = await poll(120, async () => {
      const r = await ssh(lab, "tnode3", `incus exec ${a.name} -- ping -c 3 -i 0.5 -W 2 ${ips[b.name]}`, { allowFail: true });
      return /[1-9]\d* received/.test(r.stdout) ? r.stdout : false;
    }, `${a.name} on ${a.on} pings ${b.name} on ${b.on} (${ips[b.name]}) over ovn0`);
    assert.match(seen, /bytes from/);
  }
  // Across hosts for real: Geneve tunnel ports to the other chassis exist on br-int.
  assert.match(await out(lab, "tnode1", "ovs-vsctl --bare --columns=options find Interface type=geneve"), /remote_ip="?192\.168\.200\.2/);
  // The roles do not touch instances: a rerun is still 0 changed.
  const again = await play();
  assert.is(again.code, 0, again.stderr);
  for (const [name, c] of Object.entries(recap(again.stdout))) assert.is(c.changed, 0, `${name}:\n${moved(again.stdout, name)}`);
});

s("a network made part-way (UPLINK defined on tnode1 only, ovn0 missing): the rerun defines it on the others and creates both; Incus' removed mapping is put back", async ({ lab }) => {
  const r0 = await ssh(lab, "tnode1", "incus delete -f o1 o2 && incus network delete ovn0 && incus network delete UPLINK && incus network create UPLINK --type=physical --target=tnode1 parent=br-uplink 2>&1", { allowFail: true });
  assert.is(r0.code, 0, r0.stdout + r0.stderr);
  const r = await play();
  assert.is(r.code, 0, r.stderr + r.stdout.slice(-4000));
  const changed = results(r.stdout).filter((e) => e.status === "changed").map((e) => `${e.host} ${e.task}`).sort();
  assert.equal(changed, [
    // Incus took its uplink's mapping away with the network on every member; the ovn role's entry comes back.
    "tnode1 chassis tnode1: external_ids",
    "tnode1 network UPLINK: create the physical network on the cluster",
    "tnode1 network ovn0: create the ovn network on the cluster",
    "tnode2 chassis tnode2: external_ids",
    "tnode2 network UPLINK: define it on tnode2",
    "tnode3 chassis tnode3: external_ids",
    "tnode3 network UPLINK: define it on tnode3",
  ]);
  for (const h of lab.hosts) assert.match(await out(lab, h.name, "incus network list -f csv -c nts"), /^ovn0,ovn,.*CREATED$/im, h.name);
  const again = await play();
  for (const [name, c] of Object.entries(recap(again.stdout))) assert.is(c.changed, 0, `${name}:\n${moved(again.stdout, name)}`);
});

s.run();
