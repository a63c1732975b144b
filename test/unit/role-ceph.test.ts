/**
 * The ceph role without a lab: parameter checks, networks, ceph.conf and
 * keyring texts. test/e2e/role-ceph.test.ts proves the role with real Ceph
 * daemons on lab hosts.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ceph, cephConf, checkCephParams, fsidFromConf, inNetwork, keyFromKeyring, keyringText, networkOf, parseCidr, type CephParams } from "../../roles/ceph/index.ts";

const params = (p: Record<string, unknown>): CephParams => ceph.schema.parse(p);
const FSID = "994c4b32-bbc1-4cf6-93ee-a1a5ce6d1dea";
const MONS = [
  { name: "tnode1", address: "10.50.1.1" },
  { name: "tnode2", address: "10.50.1.2" },
  { name: "tnode3", address: "10.50.1.3" },
];

test("ceph: defaults: no OSDs or pools, pool size 3 / min 2, admin keyring everywhere", () => {
  assert.equal(params({}), { osds: [], pools: [], poolDefaults: { size: 3, minSize: 2 }, config: {}, adminKeyring: true, quorumTimeout: 300 });
  assert.equal(params({ osds: [{ file: "/srv/osd.img" }], pools: [{ name: "rbd" }] }).osds, [{ file: "/srv/osd.img", size: "10G" }]);
  assert.equal(params({ pools: [{ name: "rbd" }] }).pools, [{ name: "rbd", size: 3, minSize: 2, pgNum: 32, application: "rbd" }]);
});

const cases: [string, Record<string, unknown>, string | null][] = [
  ["the lab's", { publicNetwork: "10.88.128.0/20", osds: [{ file: "/var/lib/ceph/osd-data/osd0.img" }], pools: [{ name: "rbd" }], config: { mon: { mon_data_avail_warn: 1 } } }, null],
  ["a bad network", { publicNetwork: "10.50.1.0/33" }, "publicNetwork"],
  ["a relative OSD file", { osds: [{ file: "osd.img" }] }, "osds[0].file"],
  ["an OSD listed twice", { osds: [{ device: "/dev/sdb" }, { device: "/dev/sdb" }] }, "osds[1].device"],
  ["a bad size", { osds: [{ file: "/srv/a", size: "10 GB" }] }, "osds[0].size"],
  ["min size above size", { pools: [{ name: "rbd", size: 2, minSize: 3 }] }, "pools[0].minSize"],
  ["a pool twice", { pools: [{ name: "rbd" }, { name: "rbd" }] }, "pools[1].name"],
  ["an unknown section", { config: { mons: { a: 1 } } }, "config.mons"],
  ["a bad setting name", { config: { osd: { "osd memory=1": 1 } } }, "config.osd.osd memory=1"],
];
for (const [what, input, field] of cases) {
  test(`ceph: checkCephParams: ${what}`, () => {
    assert.is(checkCephParams(params(input))?.field ?? null, field);
  });
}

test("ceph: networks", () => {
  assert.equal(parseCidr("10.88.128.0/20"), [(10 << 24) + (88 << 16) + (128 << 8), 20].map((n) => n >>> 0) as [number, number]);
  assert.is(parseCidr("10.88.128.0"), null);
  assert.is(networkOf("10.88.128.11", 20), "10.88.128.0/20");
  assert.ok(inNetwork("10.88.143.255", "10.88.128.0/20"));
  assert.not.ok(inNetwork("10.88.144.1", "10.88.128.0/20"));
});

test("ceph: ceph.conf: manual deployment's settings, v2+v1 monitor addresses, sections sorted and stable", () => {
  const text = cephConf({ fsid: FSID, mons: MONS, publicNetwork: "10.50.1.0/24", clusterNetwork: "192.168.0.0/16", poolDefaults: { size: 3, minSize: 2 }, osdMemoryTarget: 2 ** 30, config: { mon: { mon_data_avail_warn: 5 }, "client.admin": { log_file: "/dev/null" } } });
  assert.is(
    text,
    `# Managed by runbook (role ceph): changes here are overwritten.

[global]
fsid = ${FSID}
mon_initial_members = tnode1, tnode2, tnode3
mon_host = [v2:10.50.1.1:3300,v1:10.50.1.1:6789],[v2:10.50.1.2:3300,v1:10.50.1.2:6789],[v2:10.50.1.3:3300,v1:10.50.1.3:6789]
public_network = 10.50.1.0/24
cluster_network = 192.168.0.0/16
auth_cluster_required = cephx
auth_service_required = cephx
auth_client_required = cephx
osd_pool_default_size = 3
osd_pool_default_min_size = 2

[mon]
auth_allow_insecure_global_id_reclaim = false
mon_data_avail_warn = 5

[osd]
osd_memory_target = 1073741824

[client.admin]
log_file = /dev/null
`,
  );
  assert.is(fsidFromConf(text), FSID);
  assert.is(fsidFromConf("[global]\n"), undefined);
});

test("ceph: keyrings: written with their caps, read back by entity", () => {
  const text = keyringText([
    ["mon.", "AQAAmonkey=="],
    ["client.admin", "AQAAadminkey=="],
  ]);
  assert.is(text, '[mon.]\n\tkey = AQAAmonkey==\n\tcaps mon = "allow *"\n[client.admin]\n\tkey = AQAAadminkey==\n\tcaps mds = "allow *"\n\tcaps mgr = "allow *"\n\tcaps mon = "allow *"\n\tcaps osd = "allow *"\n');
  assert.is(keyFromKeyring(text, "client.admin"), "AQAAadminkey==");
  assert.is(keyFromKeyring(text, "mon."), "AQAAmonkey==");
  assert.is(keyFromKeyring(text, "client.bootstrap-osd"), undefined);
  // As `ceph auth get` prints it.
  assert.is(keyFromKeyring('[client.bootstrap-osd]\n\tkey = AQBosd==\n\tcaps mgr = "allow r"\n', "client.bootstrap-osd"), "AQBosd==");
});

test.run();
