/**
 * The ovn role without a lab: parameter defaults and checks, the options
 * ovn-ctl gets, and the parsers for cluster/status, the database file probe
 * and ovs-vsctl's JSON (on output captured from OVN 23.03 / OVS 3.1 on
 * Debian 12). test/e2e/role-ovn.test.ts proves the role with real daemons.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  checkOvnParams,
  externalIdsChange,
  hasLeader,
  mergeBridgeMappings,
  ovn,
  ovnCentralDefaults,
  ovnCtlOpts,
  parseClusterStatus,
  parseDbFileState,
  parseExternalIds,
  remotes,
  staleServers,
  type OvnParams,
} from "../../roles/ovn/index.ts";

const params = (p: Record<string, unknown> = {}): OvnParams => ovn.schema.parse(p);

test("ovn: defaults: members are the clusternode group, Geneve, kernel datapath, ovn-ctl's ports", () => {
  assert.equal(params(), {
    members: "clusternode",
    addresses: {},
    encapType: "geneve",
    datapathType: "system",
    integrationBridge: "br-int",
    bridgeMappings: [],
    nbPort: 6641,
    sbPort: 6642,
    nbRaftPort: 6643,
    sbRaftPort: 6644,
    leaderTimeout: 120,
  });
});

const cases: [string, Record<string, unknown>, string | null][] = [
  ["reference-like values", { members: ["tnode1", "tnode2", "tnode3"], encapIp: "10.50.1.1", datapathType: "system", bridgeMappings: [{ network: "uplink", bridge: "br-ex", ports: ["usb0"] }] }, null],
  ["an address that is not one", { addresses: { tnode1: "10.50.1.300" } }, 'addresses.tnode1: "10.50.1.300" is not an IP address'],
  ["an encap IP with a prefix", { encapIp: "10.50.1.1/32" }, 'encapIp: "10.50.1.1/32" is not an IP address'],
  ["two ports the same", { sbRaftPort: 6643 }, "sbRaftPort: 6643 is also nbRaftPort"],
  ["a port out of range", { nbPort: 70000 }, "nbPort: must be a port 1-65535, got 70000"],
  ["a mapping onto the integration bridge", { bridgeMappings: [{ network: "uplink", bridge: "br-int" }] }, 'bridgeMappings[0].bridge: "br-int" is not a bridge name other than the integration bridge'],
  ["a network mapped twice", { bridgeMappings: [{ network: "uplink", bridge: "br-ex" }, { network: "uplink", bridge: "br-ex2" }] }, "bridgeMappings[1].network: uplink is mapped twice"],
  ["a chassis name with a space", { systemId: "node 1" }, 'systemId: "node 1" is not a chassis name (letters, digits, _ . -)'],
];
for (const [name, p, want] of cases) {
  test(`ovn params: ${name}`, () => {
    const problem = checkOvnParams(params(p));
    assert.is(problem ? `${problem.field}: ${problem.message}` : null, want);
  });
}

test("ovn: OVN_CTL_OPTS: local address for clients and raft, a remote on every member, northd on all", () => {
  const p = params();
  const opts = ovnCtlOpts({ address: "10.0.0.1", remote: "10.0.0.2", memberAddresses: ["10.0.0.1", "10.0.0.2", "10.0.0.3"], ...p });
  assert.is(
    opts,
    "--db-nb-addr=10.0.0.1 --db-nb-port=6641 --db-nb-create-insecure-remote=yes --db-sb-addr=10.0.0.1 --db-sb-port=6642 --db-sb-create-insecure-remote=yes " +
      "--db-nb-cluster-local-addr=10.0.0.1 --db-nb-cluster-local-port=6643 --db-sb-cluster-local-addr=10.0.0.1 --db-sb-cluster-local-port=6644 " +
      "--db-nb-cluster-remote-addr=10.0.0.2 --db-nb-cluster-remote-port=6643 --db-sb-cluster-remote-addr=10.0.0.2 --db-sb-cluster-remote-port=6644 " +
      "--ovn-northd-nb-db=tcp:10.0.0.1:6641,tcp:10.0.0.2:6641,tcp:10.0.0.3:6641 --ovn-northd-sb-db=tcp:10.0.0.1:6642,tcp:10.0.0.2:6642,tcp:10.0.0.3:6642",
  );
  assert.not.match(ovnCtlOpts({ address: "10.0.0.1", memberAddresses: ["10.0.0.1"], ...p }), /remote-addr/);
  assert.match(ovnCentralDefaults(opts), /^OVN_CTL_OPTS="--db-nb-addr=10\.0\.0\.1 .*"\n$/m);
  assert.is(remotes(["a", "b"], 6642), "tcp:a:6642,tcp:b:6642");
});

const LEADER = `8c5d
Name: OVN_Northbound
Cluster ID: 9e7b (9e7bbf88-30df-4279-8f38-5b03b747171a)
Server ID: 8c5d (8c5dc3a8-6035-41bb-94fe-3954161c43cd)
Address: tcp:10.88.96.11:6643
Status: cluster member
Role: leader
Term: 1
Leader: self
Vote: self

Election timer: 1000
Log: [2, 5]
Entries not yet committed: 0
Entries not yet applied: 0
Connections: ->ebaa <-ebaa
Disconnections: 0
Servers:
    8c5d (8c5d at tcp:10.88.96.11:6643) (self) next_index=2 match_index=4
    ebaa (ebaa at tcp:10.88.96.12:6643) next_index=5 match_index=4 last msg 332 ms ago
    1f00 (1f00 at tcp:10.88.96.13:6643) next_index=5 match_index=0 last msg 9000 ms ago
`;

test("ovn: cluster/status parsed: ids, role, leader, servers", () => {
  const s = parseClusterStatus(LEADER);
  assert.equal({ cid: s.cid, sid: s.sid, address: s.address, status: s.status, role: s.role, leader: s.leader }, {
    cid: "9e7bbf88-30df-4279-8f38-5b03b747171a",
    sid: "8c5dc3a8-6035-41bb-94fe-3954161c43cd",
    address: "tcp:10.88.96.11:6643",
    status: "cluster member",
    role: "leader",
    leader: "self",
  });
  assert.equal(s.servers, [
    { sid: "8c5d", address: "tcp:10.88.96.11:6643", self: true },
    { sid: "ebaa", address: "tcp:10.88.96.12:6643", self: false },
    { sid: "1f00", address: "tcp:10.88.96.13:6643", self: false },
  ]);
  assert.ok(hasLeader(s));
  const follower = parseClusterStatus(LEADER.replace("Role: leader", "Role: follower").replace("Leader: self", "Leader: ebaa"));
  assert.ok(hasLeader(follower));
  const lost = parseClusterStatus(LEADER.replace("Role: leader", "Role: candidate").replace("Leader: self", "Leader: unknown"));
  assert.not.ok(hasLeader(lost));
  const joining = parseClusterStatus(LEADER.replace("Status: cluster member", "Status: joining cluster"));
  assert.not.ok(hasLeader(joining));
});

test("ovn: a rebuilt member's old server is stale; its new one is not", () => {
  const s = parseClusterStatus(LEADER);
  assert.equal(staleServers(s, "tcp:10.88.96.13:6643", null).map((x) => x.sid), ["1f00"]);
  assert.equal(staleServers(s, "tcp:10.88.96.13:6643", "1f00aaaa-0000-0000-0000-000000000000"), []);
  assert.equal(staleServers(s, "tcp:10.88.96.14:6643", null), []);
});

test("ovn: database file probe output", () => {
  assert.equal(parseDbFileState("missing\n"), { kind: "missing" });
  assert.equal(parseDbFileState("standalone\n"), { kind: "standalone" });
  assert.equal(parseDbFileState("clustered 9e7bbf88-30df-4279-8f38-5b03b747171a 8c5dc3a8-6035-41bb-94fe-3954161c43cd tcp:10.88.96.11:6643\n"), {
    kind: "clustered",
    cid: "9e7bbf88-30df-4279-8f38-5b03b747171a",
    sid: "8c5dc3a8-6035-41bb-94fe-3954161c43cd",
    address: "tcp:10.88.96.11:6643",
  });
  assert.equal(parseDbFileState("clustered - 8c5d tcp:a:1\n"), { kind: "clustered", cid: null, sid: "8c5d", address: "tcp:a:1" });
  assert.throws(() => parseDbFileState("ovsdb-tool: not found\n"), /unexpected database probe output/);
});

test("ovn: external_ids from ovs-vsctl's JSON, and what to change", () => {
  const json = '{"data":[[["map",[["hostname","tnode2"],["ovn-remote","tcp:10.0.0.1:6642,tcp:10.0.0.2:6642"],["system-id","56c4e672"]]]]],"headings":["external_ids"]}';
  const ids = parseExternalIds(json);
  assert.equal(ids, { hostname: "tnode2", "ovn-remote": "tcp:10.0.0.1:6642,tcp:10.0.0.2:6642", "system-id": "56c4e672" });
  assert.equal(externalIdsChange(ids, { "system-id": "tnode2", "ovn-remote": "tcp:10.0.0.1:6642,tcp:10.0.0.2:6642", "ovn-bridge-mappings": undefined, hostname: undefined }), {
    set: [["system-id", "tnode2"]],
    remove: ["hostname"],
  });
  assert.equal(externalIdsChange(ids, { "system-id": "56c4e672" }), { set: [], remove: [] });
});

test("ovn: bridge mappings keep other networks' entries (Incus' uplinks) and set ours", () => {
  assert.is(mergeBridgeMappings(undefined, {}), undefined);
  assert.is(mergeBridgeMappings("", { UPLINK: "br-uplink" }), "UPLINK:br-uplink");
  assert.is(mergeBridgeMappings("incusbr0:incusovn1", {}), "incusbr0:incusovn1");
  assert.is(mergeBridgeMappings("incusbr0:incusovn1,phy:br-old", { phy: "br-ex" }), "incusbr0:incusovn1,phy:br-ex");
  assert.is(mergeBridgeMappings("UPLINK:br-uplink", { UPLINK: "br-uplink" }), "UPLINK:br-uplink");
});

test.run();
