/**
 * The pure parts of role bridge-stp (roles/bridge-stp/bridge.ts) and of the
 * cluster-LAN mode switch (playbooks/cluster-lan.ts): parameter checks, the
 * probe's parser on captured output, the management interfaces, the live
 * steps, the persisted forms. test/e2e/role-bridge-stp.test.ts proves the
 * role on the lab's triangle.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { play } from "../../runner/playbook.ts";
import { prepareParams, SKIPPED } from "../../runner/scheduler.ts";
import {
  checkParams,
  ifopts,
  liveSteps,
  managementInterfaces,
  parseProbe,
  portAddressRegexp,
  portAddressSettings,
  rcInet1Block,
  rcInet1Clashes,
  type BridgeSpec,
} from "../../roles/bridge-stp/bridge.ts";
import { edit as replace } from "../../tasks/replace.ts";
import { clusterLanMode, clusterLanProblem, forClusterLan } from "../../playbooks/cluster-lan.ts";
import { bridgeStp } from "../../roles/index.ts";

const SPEC: BridgeSpec = { bridge: "br0", ports: ["eth1", "eth2"], priority: 32768, forwardDelay: 15, helloTime: 2, maxAge: 20, address: "192.168.100.1/24", rcInet1Index: 5 };

/** A lab host before the role, as the probe prints it (Debian flavour, ifupdown not installed). */
const FRESH = [
  "== ssh 10.88.128.1 39504 10.88.128.11 22",
  "== route-to-client 10.88.128.1 dev eth0 src 10.88.128.11 uid 0 \\    cache ",
  "== links",
  "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000\\    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00",
  "2: eth0@if895: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000\\    link/ether 5e:65:c1:05:20:ef brd ff:ff:ff:ff:ff:ff link-netnsid 0",
  // A veth whose peer index happens to name a local interface: not a lower device.
  "3: eth1@eth2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000\\    link/ether e6:0f:3a:65:64:98 brd ff:ff:ff:ff:ff:ff link-netnsid 1",
  "4: eth2@if4: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN mode DEFAULT group default qlen 1000\\    link/ether 92:6d:65:65:4c:50 brd ff:ff:ff:ff:ff:ff link-netnsid 2",
  "== addresses",
  "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever",
  "2: eth0    inet 10.88.128.11/20 scope global eth0\\       valid_lft forever preferred_lft forever",
  "2: eth0    inet6 fe80::5c65:c1ff:fe05:20ef/64 scope link \\       valid_lft forever preferred_lft forever",
  "3: eth1    inet 192.168.11.1/30 brd 192.168.11.3 scope global eth1\\       valid_lft forever preferred_lft forever",
  "3: eth1    inet6 fd00:0:0:11::1/64 scope global \\       valid_lft forever preferred_lft forever",
  "3: eth1    inet6 fe80::e40f:3aff:fe65:6498/64 scope link \\       valid_lft forever preferred_lft forever",
  "== default routes",
  "default via 10.88.128.1 dev eth0 ",
  "== bridge",
  "== ifupdown",
  "no-ifupdown",
  "",
].join("\n");

/** The same host once the role ran (tnode1 of the e2e test). */
const DONE = [
  "== ssh 10.88.128.1 39504 10.88.128.11 22",
  "== route-to-client 10.88.128.1 dev eth0 src 10.88.128.11 uid 0 \\    cache ",
  "== links",
  "2: eth0@if895: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000\\    link/ether 5e:65:c1:05:20:ef brd ff:ff:ff:ff:ff:ff link-netnsid 0",
  "3: eth1@if3: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue master br0 state UP mode DEFAULT group default qlen 1000\\    link/ether e6:0f:3a:65:64:98 brd ff:ff:ff:ff:ff:ff link-netnsid 1",
  "4: eth2@if4: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue master br0 state UP mode DEFAULT group default qlen 1000\\    link/ether 92:6d:65:65:4c:50 brd ff:ff:ff:ff:ff:ff link-netnsid 2",
  "5: br0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000\\    link/ether 92:6d:65:65:4c:50 brd ff:ff:ff:ff:ff:ff",
  "== addresses",
  "2: eth0    inet 10.88.128.11/20 scope global eth0\\       valid_lft forever preferred_lft forever",
  "5: br0    inet 192.168.100.1/24 scope global br0\\       valid_lft forever preferred_lft forever",
  "5: br0    inet6 fe80::906d:65ff:fe65:4c50/64 scope link \\       valid_lft forever preferred_lft forever",
  "== default routes",
  "default via 10.88.128.1 dev eth0 ",
  "== bridge",
  "stp_state 1",
  "priority 32768",
  "forward_delay 1500",
  "hello_time 200",
  "max_age 2000",
  "== ifupdown",
  "sourced",
  "package ifupdown",
  "iface /etc/network/interfaces:9:iface eth1 inet static",
  "iface /etc/network/interfaces.d/runbook-br0:7:iface br0 inet static",
  "",
].join("\n");

test("checkParams: the defaults and the lab's fast timers pass", () => {
  assert.is(checkParams(SPEC), undefined);
  assert.is(checkParams({ ...SPEC, forwardDelay: 4, helloTime: 1, maxAge: 6 }), undefined);
  assert.is(checkParams({ ...SPEC, address: "fd00:100::1/64" }), undefined);
});

test("checkParams: names the field and says what is wrong", () => {
  const bad = (p: Partial<BridgeSpec>) => checkParams({ ...SPEC, ...p });
  assert.equal(bad({ ports: [] }), { field: "ports", message: "a bridge needs at least one port" });
  assert.equal(bad({ ports: ["eth1", "eth1"] }), { field: "ports", message: "eth1 is listed twice" });
  assert.equal(bad({ ports: ["br0"] })?.message, "the bridge br0 cannot be its own port");
  assert.equal(bad({ ports: ["eth1; reboot"] })?.field, "ports");
  assert.equal(bad({ bridge: "bridge-for-the-cluster" })?.field, "bridge");
  assert.equal(bad({ priority: 70000 })?.field, "priority");
  assert.equal(bad({ forwardDelay: 1 }), { field: "forwardDelay", message: "1 s is outside the kernel's STP range 2-30 s" });
  assert.equal(bad({ helloTime: 0 })?.field, "helloTime");
  assert.match(bad({ forwardDelay: 4, maxAge: 20 })?.message ?? "", /maxAge 20 s must be at most 2 × \(forwardDelay − 1\) = 6 s/);
  assert.match(bad({ helloTime: 4, maxAge: 8 })?.message ?? "", /at least 2 × \(helloTime \+ 1\) = 10 s/);
  assert.equal(bad({ address: "192.168.100.1" })?.field, "address");
  assert.match(bad({ rcInet1Index: 1 })?.message ?? "", /index 1 is eth1's own/);
});

test("parseProbe: links (master, UP, lower devices only in this namespace), global addresses, routes, bridge, ifupdown", () => {
  const fresh = parseProbe(FRESH);
  assert.equal(fresh.ssh, { client: "10.88.128.1", server: "10.88.128.11" });
  assert.is(fresh.routeToClient, "eth0");
  assert.equal(fresh.defaultRoutes, ["eth0"]);
  assert.equal(fresh.links.get("eth1"), { name: "eth1", up: true, addresses: ["192.168.11.1/30", "fd00:0:0:11::1/64"] });
  assert.equal(fresh.links.get("eth2"), { name: "eth2", up: false, addresses: [] });
  assert.is(fresh.bridge, undefined);
  assert.equal(fresh.debian, { ifupdown: "no-ifupdown", packages: [], stanzas: [] });

  const done = parseProbe(DONE);
  assert.is(done.links.get("eth1")!.master, "br0");
  assert.equal(done.links.get("br0")!.addresses, ["192.168.100.1/24"]);
  assert.equal(done.bridge, { stpState: 1, priority: 32768, forwardDelay: 1500, helloTime: 200, maxAge: 2000 });
  assert.equal(done.debian, {
    ifupdown: "sourced",
    packages: ["ifupdown"],
    stanzas: [
      { file: "/etc/network/interfaces", line: 9, iface: "eth1" },
      { file: "/etc/network/interfaces.d/runbook-br0", line: 7, iface: "br0" },
    ],
  });
});

test("parseProbe: rc.inet1.conf assignments outside the role's block, MAXNICS", () => {
  const live = parseProbe(["== links", "== rc.inet1.conf", 'assign IPADDRS[1]="192.168.11.1/30"', 'assign USE_DHCP[2]=""', "assign IFNAME[5]='wlan0' # mine", "maxnics MAXNICS=\"8\"", ""].join("\n"));
  assert.equal(live.slackware, {
    exists: true,
    assigns: [
      { key: "IPADDRS", index: 1, value: "192.168.11.1/30", line: 'IPADDRS[1]="192.168.11.1/30"' },
      { key: "USE_DHCP", index: 2, value: "", line: 'USE_DHCP[2]=""' },
      { key: "IFNAME", index: 5, value: "wlan0", line: "IFNAME[5]='wlan0' # mine" },
    ],
    maxNics: 8,
  });
  assert.equal(rcInet1Clashes(SPEC, live.slackware!), ["IFNAME[5]='wlan0' # mine (index 5 belongs to the bridge; set rcInet1Index to a free one)"]);
  assert.equal(rcInet1Clashes({ ...SPEC, rcInet1Index: 9 }, live.slackware!), ["index 9 is not below MAXNICS=8: rc.inet1 would never bring br0 up"]);
  assert.equal(portAddressSettings(SPEC, live.slackware!), [{ key: "IPADDRS", index: 1, value: "192.168.11.1/30", line: 'IPADDRS[1]="192.168.11.1/30"' }]);
  assert.equal(parseProbe("== rc.inet1.conf\nmissing\n").slackware, { exists: false, assigns: [], maxNics: 6 });
});

test("managementInterfaces: default routes, the route to the SSH client, the SSH address, and what they sit on", () => {
  assert.equal([...managementInterfaces(parseProbe(FRESH))], ["eth0"]);
  // Management over a VLAN on a bridge: the bridge's ports and the VLAN's parent are management too.
  const live = parseProbe(
    [
      "== ssh 10.0.0.5 4000 10.0.10.11 22",
      "== links",
      "2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 master brm state UP",
      "3: brm: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP",
      "4: brm.10@brm: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP",
      "5: eth1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP",
      "== addresses",
      "4: brm.10    inet 10.0.10.11/24 scope global brm.10",
      "== default routes",
      "",
    ].join("\n"),
  );
  assert.equal([...managementInterfaces(live)].sort(), ["brm", "brm.10", "eth0"]);
});

test("liveSteps: a fresh host gets the bridge, its ports freed of addresses and joined, the address, link up", () => {
  assert.equal(liveSteps(SPEC, parseProbe(FRESH)), [
    { title: "br0: create bridge (STP on, priority 32768, forward delay 15 s, hello 2 s, max age 20 s)", cmd: "ip link add name br0 type bridge stp_state 1 priority 32768 forward_delay 1500 hello_time 200 max_age 2000" },
    { title: "eth1: remove 192.168.11.1/30, fd00:0:0:11::1/64, join br0", cmd: "ip addr flush dev eth1 scope global && ip link set dev eth1 master br0" },
    { title: "eth2: join br0, link up", cmd: "ip link set dev eth2 master br0 && ip link set dev eth2 up" },
    { title: "br0: add 192.168.100.1/24", cmd: "ip addr add 192.168.100.1/24 dev br0" },
    { title: "br0: link up", cmd: "ip link set dev br0 up" },
  ]);
});

test("liveSteps: nothing on a converged host; only the settings that differ otherwise; user-space STP counts as on", () => {
  const done = parseProbe(DONE);
  assert.equal(liveSteps(SPEC, done), []);
  assert.equal(liveSteps({ ...SPEC, priority: 4096, forwardDelay: 4, helloTime: 1, maxAge: 6 }, done), [
    { title: "br0: set priority 4096, forward_delay 400 (4 s), hello_time 100 (1 s), max_age 600 (6 s)", cmd: "ip link set dev br0 type bridge priority 4096 forward_delay 400 hello_time 100 max_age 600" },
  ]);
  assert.equal(liveSteps(SPEC, { ...done, bridge: { ...done.bridge!, stpState: 2 } }), []);
  assert.equal(liveSteps(SPEC, { ...done, bridge: { ...done.bridge!, stpState: 0 } }), [{ title: "br0: set stp_state 1", cmd: "ip link set dev br0 type bridge stp_state 1" }]);
  // A port missing now is left for the next boot.
  assert.equal(liveSteps({ ...SPEC, ports: ["eth1", "eth2", "eth9"] }, done), []);
});

test("liveSteps: an address dropped from the params leaves the bridge now, unless the run's SSH connection arrives on it", () => {
  const done = parseProbe(DONE);
  assert.equal(liveSteps({ ...SPEC, address: "192.168.100.9/24" }, done), [
    { title: "br0: remove 192.168.100.1/24", cmd: "ip addr del 192.168.100.1/24 dev br0" },
    { title: "br0: add 192.168.100.9/24", cmd: "ip addr add 192.168.100.9/24 dev br0" },
  ]);
  assert.equal(liveSteps({ ...SPEC, address: undefined }, done), [{ title: "br0: remove 192.168.100.1/24", cmd: "ip addr del 192.168.100.1/24 dev br0" }]);
  // The wanted address already there as a secondary of the stale one: put back after the delete (which takes secondaries with it).
  const both = { ...done, links: new Map(done.links) };
  both.links.set("br0", { ...done.links.get("br0")!, addresses: ["192.168.100.1/24", "192.168.100.9/24"] });
  assert.equal(liveSteps({ ...SPEC, address: "192.168.100.9/24" }, both), [
    { title: "br0: remove 192.168.100.1/24", cmd: "ip addr del 192.168.100.1/24 dev br0 && ip addr replace 192.168.100.9/24 dev br0" },
  ]);
  assert.equal(liveSteps({ ...SPEC, address: undefined }, { ...done, ssh: { client: "192.168.100.2", server: "192.168.100.1" } }), []);
});

test("rc.inet1.conf: the block 15.0's rc.inet1 reads, and the ports' own addresses emptied once", () => {
  assert.is(ifopts({ priority: 32768, forwardDelay: 15, helloTime: 2, maxAge: 20 }), "stp_state 1 | priority 32768 | forward_delay 1500 | hello_time 200 | max_age 2000");
  assert.is(
    rcInet1Block(SPEC),
    [
      '# Bridge br0 over eth1 eth2 with STP (role bridge-stp; rc.inet1.conf(5), "bridge creation").',
      'IFNAME[5]="br0"',
      'BRNICS[5]="eth1 eth2"',
      'IFOPTS[5]="stp_state 1 | priority 32768 | forward_delay 1500 | hello_time 200 | max_age 2000"',
      'IPADDRS[5]="192.168.100.1/24"',
      'IP6ADDRS[5]=""',
    ].join("\n"),
  );
  assert.match(rcInet1Block({ ...SPEC, address: "fd00:100:0::1/64" }), /\nIPADDRS\[5\]=""\nIP6ADDRS\[5\]="fd00:100::1\/64"$/);

  const conf = 'IPADDRS[0]="10.0.0.5/24"\nIPADDRS[1]="192.168.11.1/30"\nUSE_DHCP[1]=""\nIP6ADDRS[2]="fd00::1/64"\nUSE_DHCP[2]="yes"\nIPADDRS[3]="10.3.0.1/24"\n';
  const p = { path: "/etc/rc.d/rc.inet1.conf", regexp: portAddressRegexp(SPEC)!, replace: '$1""' };
  const once = replace(conf, p);
  assert.is(once.content, 'IPADDRS[0]="10.0.0.5/24"\nIPADDRS[1]=""\nUSE_DHCP[1]=""\nIP6ADDRS[2]=""\nUSE_DHCP[2]=""\nIPADDRS[3]="10.3.0.1/24"\n');
  assert.is(replace(once.content, p).content, once.content, "a second run finds nothing to replace");
  assert.is(portAddressRegexp({ ...SPEC, ports: ["enp1s0"] }), undefined);
});

test("cluster_lan: the mode, a bad value, and bridge ports base-os would address", () => {
  assert.is(clusterLanMode({ name: "tnode1", vars: {} }), undefined);
  assert.is(clusterLanMode({ name: "tnode1", vars: { cluster_lan: "bridge-stp" } }), "bridge-stp");
  assert.throws(() => clusterLanMode({ name: "tnode1", vars: { cluster_lan: "bridge" } }), /host tnode1: cluster_lan must be one of bridge-stp, frr, got "bridge"/);
  const vars = { "base-os": { addresses: { eth1: ["192.168.11.1/30"], eth2: [], lo: ["10.50.1.1/32"] } } };
  assert.is(clusterLanProblem({ name: "tnode1", vars: { ...vars, cluster_lan: "frr" } }), undefined);
  assert.match(clusterLanProblem({ name: "tnode1", vars: { ...vars, cluster_lan: "bridge-stp" } }) ?? "", /gives the bridge port eth1 an address/);
  assert.is(clusterLanProblem({ name: "tnode1", vars: { ...vars, cluster_lan: "bridge-stp", "bridge-stp": { ports: ["eth2", "eth3"] } } }), undefined);
});

test("forClusterLan: the role runs only on hosts of its mode; a bad mode or a conflict stops the run at its start", () => {
  const inst = forClusterLan("bridge-stp", bridgeStp({ address: "10.50.0.1/24" }));
  const when = inst.when!;
  assert.is(when({ name: "tnode1", vars: { cluster_lan: "frr" } }), false);
  assert.is(when({ name: "tnode1", vars: { cluster_lan: "bridge-stp" } }), true);
  assert.is(when({ name: "tnode1", vars: {} }), false);
  assert.throws(() => when({ name: "tnode1", vars: { cluster_lan: "bridge-stp", "base-os": { addresses: { eth2: ["192.168.33.2/30"] } } } }), /host tnode1: cluster_lan is bridge-stp/);
  assert.throws(() => when({ name: "tnode1", vars: { cluster_lan: "bridge" } }), /cluster_lan must be one of bridge-stp, frr/);
  // Skipped hosts need no parameters: a host in frr mode is never asked for bridge-stp's.
  assert.equal(prepareParams(play({ name: "p", hosts: "all", roles: [inst] }), "tnode1", { low: { cluster_lan: "frr" }, high: {} }), [SKIPPED]);
});

test.run();
