/**
 * The incus role without a lab: parameter defaults and the typed pool
 * variants, the bootstrap and join preseeds, and parsing what a host's
 * Incus says (captured from Incus 6.0.4 on the lab). test/e2e/role-incus.test.ts
 * proves the role with real daemons.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { bootstrapPreseed, hostPort, incus, joinPreseed, networkConfig, networkDrift, networkMemberConfig, parseNetworks, parseProbe, parseTokens, perMember, unhealthy, type IncusParams } from "../../roles/incus/index.ts";

const params = (p: Record<string, unknown>): IncusParams => incus.schema.parse(p);

test("incus: defaults: a dir pool `local`, a bridge incusbr0 with auto IPv4 and NAT, port 8443, tokens live 3 h", () => {
  const p = params({});
  assert.equal(p.storagePools, [{ name: "local", driver: "dir" }]);
  assert.equal(p.networks, [{ type: "bridge", name: "incusbr0", ipv4: "auto", ipv6: "none", nat: true }]);
  assert.is(p.port, 8443);
  assert.is(p.tokenExpiry, "3H");
  assert.is(p.allowWipeOnJoin, false);
});

test("incus: a ceph pool is typed (osdPoolName required, cluster and user default), an unknown driver or key is refused", () => {
  assert.equal(params({ storagePools: [{ driver: "ceph", osdPoolName: "incus" }] }).storagePools, [{ name: "remote", driver: "ceph", osdPoolName: "incus", clusterName: "ceph", userName: "admin" }]);
  assert.not.ok(incus.schema.safeParse({ storagePools: [{ driver: "ceph" }] }).success, "osdPoolName is required");
  assert.not.ok(incus.schema.safeParse({ storagePools: [{ driver: "zfs" }] }).success, "zfs is not a variant yet");
  assert.not.ok(incus.schema.safeParse({ storagePools: [{ driver: "dir", sorce: "/srv" }] }).success, "a typo'd key");
});

test("incus: the bootstrap preseed: address, clustering, pools, bridges, default profile on the first of each", () => {
  const p = params({ storagePools: [{ driver: "dir" }, { driver: "ceph", osdPoolName: "incus", pgNum: 32 }], networks: [{ ipv4: "10.201.0.1/24", nat: false }], profileConfig: { "security.privileged": "true" } });
  assert.equal(JSON.parse(bootstrapPreseed(p, "tnode1", "10.50.1.1")), {
    config: { "core.https_address": "10.50.1.1:8443", "cluster.join_token_expiry": "3H" },
    cluster: { server_name: "tnode1", enabled: true },
    storage_pools: [
      { name: "local", driver: "dir", config: {} },
      { name: "remote", driver: "ceph", config: { "ceph.osd.pool_name": "incus", "ceph.cluster_name": "ceph", "ceph.user.name": "admin", "ceph.osd.pg_num": "32" } },
    ],
    networks: [{ name: "incusbr0", type: "bridge", config: { "ipv4.address": "10.201.0.1/24", "ipv4.nat": "false", "ipv6.address": "none" } }],
    profiles: [{ name: "default", config: { "security.privileged": "true" }, devices: { root: { type: "disk", path: "/", pool: "local" }, eth0: { type: "nic", name: "eth0", network: "incusbr0" } } }],
  });
  assert.equal(JSON.parse(bootstrapPreseed(params({ storagePools: [], networks: [] }), "n", "::1")).profiles, [{ name: "default", config: {}, devices: {} }]);
  assert.is(hostPort("fd00::1", 8443), "[fd00::1]:8443");
});

test("incus: the join preseed: own and cluster address, token, member_config for dir pools only", () => {
  const p = params({ storagePools: [{ driver: "dir", source: "/srv/incus" }, { driver: "ceph", osdPoolName: "incus" }] });
  assert.equal(JSON.parse(joinPreseed(p, "tnode2", "10.50.1.2", "10.50.1.1", "TOKEN")), {
    cluster: {
      enabled: true,
      server_name: "tnode2",
      server_address: "10.50.1.2:8443",
      cluster_address: "10.50.1.1:8443",
      cluster_token: "TOKEN",
      member_config: [{ entity: "storage-pool", name: "local", key: "source", value: "/srv/incus" }],
    },
  });
});

const M = "=== runbook-incus ";
test("incus: the probe's output: absent, down, standalone with instances, clustered member", () => {
  assert.equal(parseProbe(`${M}absent\n`), { installed: false, running: false, clustered: false, serverName: "", members: [], instances: 0 });
  assert.equal(parseProbe(`${M}down\n`).installed, true);
  const standalone = parseProbe(`${M}cluster\n{\n\t"enabled": false,\n\t"member_config": [],\n\t"server_name": ""\n}\n\n${M}members\n${M}instances\nweb\ndb\n`);
  assert.equal({ ...standalone }, { installed: true, running: true, clustered: false, serverName: "", members: [], instances: 2 });
  const member = parseProbe(
    `${M}cluster\n{"enabled": true, "member_config": [], "server_name": "tnode2"}\n${M}members\n` +
      `[{"server_name":"tnode1","url":"https://10.88.224.11:8443","status":"Online","message":"Fully operational"},{"server_name":"tnode2","url":"https://10.88.224.12:8443","status":"Offline","message":"No heartbeat for 21s"}]\n` +
      `${M}instances\nc-tnode1,tnode1\nc-tnode2,tnode2\n`,
  );
  assert.is(member.clustered, true);
  assert.is(member.serverName, "tnode2");
  assert.is(member.instances, 1, "only this member's");
  assert.equal(unhealthy(member.members, ["tnode1", "tnode2", "tnode3"]), ["tnode2 is Offline (No heartbeat for 21s)", "tnode3 is not a member"]);
  assert.equal(unhealthy(member.members, ["tnode1"]), []);
});

test("incus: pending tokens from list-tokens csv", () => {
  assert.equal(parseTokens("tnode2,eyJabc,2026/12/05 09:07 UTC\ntnode3,eyJdef,2026/12/05 09:08 UTC\n"), { tnode2: "eyJabc", tnode3: "eyJdef" });
  assert.equal(parseTokens(""), {});
});

const OVN_NETS = [
  { name: "incusbr0", ipv4: "10.201.0.1/24", nat: false },
  { type: "physical", name: "UPLINK", parent: "br-uplink", gateway: "10.202.0.1/24", ovnRanges: "10.202.0.100-10.202.0.150" },
  { type: "ovn", name: "ovn0", uplink: "UPLINK", ipv4: "10.210.0.1/24" },
];

test("incus: typed networks: bridge (the default type), physical uplink, OVN; their global and member-specific config", () => {
  const [br, up, net] = params({ networks: OVN_NETS }).networks;
  assert.equal(net, { type: "ovn", name: "ovn0", uplink: "UPLINK", ipv4: "10.210.0.1/24", ipv6: "none", nat: true });
  assert.equal(networkConfig(br!), { "ipv4.address": "10.201.0.1/24", "ipv4.nat": "false", "ipv6.address": "none" });
  assert.equal(networkConfig(up!), { "ipv4.gateway": "10.202.0.1/24", "ipv4.ovn.ranges": "10.202.0.100-10.202.0.150" });
  assert.equal(networkConfig(net!), { network: "UPLINK", "ipv4.address": "10.210.0.1/24", "ipv4.nat": "true", "ipv6.address": "none" });
  assert.equal([br, up, net].map((n) => networkMemberConfig(n!)), [{}, { parent: "br-uplink" }, {}]);
  assert.equal([br, up, net].map((n) => perMember(n!)), [true, true, false]);
  assert.equal(networkConfig(params({ networks: [{ name: "br1", ovnRanges: "10.0.0.10-10.0.0.20" }] }).networks[0]!)["ipv4.ovn.ranges"], "10.0.0.10-10.0.0.20");
  assert.not.ok(incus.schema.safeParse({ networks: [{ type: "ovn", name: "x" }] }).success, "an OVN network names its uplink");
  assert.not.ok(incus.schema.safeParse({ networks: [{ type: "physical", name: "UPLINK" }] }).success, "a physical network names its parent");
});

test("incus: validate: an OVN network's uplink is listed before it, is no OVN network, and a bridge uplink has ovnRanges", () => {
  const check = (networks: unknown[]) => incus.spec.validate!(params({ networks }));
  assert.is(check(OVN_NETS), undefined);
  assert.is(check([{ type: "ovn", name: "iso", uplink: "none" }]), undefined, "isolated");
  assert.is(check([{ type: "ovn", name: "o", uplink: "elsewhere" }]), undefined, "an uplink already in the cluster");
  assert.equal(check([OVN_NETS[2], OVN_NETS[1]]), { field: "networks[0].uplink", message: "UPLINK is listed after ovn0: list the uplink first (it is made first)" });
  assert.equal(check([{ name: "incusbr0" }, { type: "ovn", name: "o", uplink: "incusbr0" }]), { field: "networks[1].uplink", message: "bridge incusbr0 has no ovnRanges (ipv4.ovn.ranges): OVN routers need addresses on their uplink" });
  assert.equal(check([{ type: "ovn", name: "a", uplink: "none" }, { type: "ovn", name: "b", uplink: "a" }]), { field: "networks[1].uplink", message: "a is an OVN network: an uplink is a bridge or a physical network" });
  assert.equal(check([{ name: "x" }, { name: "x" }]), { field: "networks[1].name", message: "network x is listed twice" });
});

test("incus: preseeds with an OVN network: the bootstrap holds the bridges only; a joiner sends the physical uplink's parent", () => {
  const p = params({ networks: OVN_NETS });
  const boot = JSON.parse(bootstrapPreseed(p, "tnode1", "10.50.1.1"));
  assert.equal(boot.networks, [{ name: "incusbr0", type: "bridge", config: { "ipv4.address": "10.201.0.1/24", "ipv4.nat": "false", "ipv6.address": "none" } }]);
  assert.equal(boot.profiles[0].devices.eth0, { type: "nic", name: "eth0", network: "incusbr0" });
  assert.equal(JSON.parse(joinPreseed(p, "tnode2", "10.50.1.2", "10.50.1.1", "T")).cluster.member_config, [
    { entity: "storage-pool", name: "local", key: "source", value: "" },
    { entity: "network", name: "UPLINK", key: "parent", value: "br-uplink" },
  ]);
});

test("incus: networks from /1.0/networks?recursion=1 (managed only), and drift of the keys the role sets", () => {
  const nets = parseNetworks(
    JSON.stringify([
      { name: "eth0", type: "physical", managed: false, status: "", locations: null, config: {} },
      { name: "UPLINK", type: "physical", managed: true, status: "Pending", locations: ["tnode1", "tnode2"], config: {} },
      { name: "ovn0", type: "ovn", managed: true, status: "Created", locations: ["tnode1", "tnode2", "tnode3"], config: { network: "UPLINK", "ipv4.address": "10.210.0.1/24", "ipv4.nat": "true", "ipv6.address": "none", "volatile.network.ipv4.address": "10.202.0.100" } },
      { name: "incusbr0", type: "bridge", managed: true, status: "Created", locations: ["tnode1"], config: { "ipv4.address": "10.33.7.1/24", "ipv4.nat": "true", "ipv6.address": "none" } },
    ]),
  );
  assert.equal([...nets.keys()], ["UPLINK", "ovn0", "incusbr0"]);
  assert.equal(nets.get("UPLINK")!.locations, ["tnode1", "tnode2"]);
  const [br, up, net] = params({ networks: [{ ipv4: "auto" }, OVN_NETS[1], { ...OVN_NETS[2], nat: false }] }).networks;
  assert.equal(networkDrift(br!, nets.get("incusbr0")!), {}, "auto: what Incus chose stays");
  assert.equal(networkDrift(net!, nets.get("ovn0")!), { "ipv4.nat": "false" });
  assert.equal(networkDrift(up!, { ...nets.get("UPLINK")!, config: {} }), { "ipv4.gateway": "10.202.0.1/24", "ipv4.ovn.ranges": "10.202.0.100-10.202.0.150" });
  assert.equal(parseNetworks(""), new Map());
  assert.equal(parseNetworks("Error: not found"), new Map());
});

test.run();
