/**
 * The linstor role without a lab: the plan made from the controller's
 * `linstor -m` lists (test/fixtures/linstor/, LINSTOR's documented v1
 * format; see its README) for a fresh cluster, a partly registered one, a
 * converged one (no commands) and one with an OFFLINE satellite; the
 * parameters' defaults and checks; the rendered files.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync } from "node:child_process";
import { convergeCluster, incusStep, linstor, parseLvmProbe, planThinPool, poolsOf, rcScript, RC_DRBD, RC_ZFS, defaultFile, type LinstorParams } from "../../roles/linstor/index.ts";
import { EMPTY_STATE, notOnline, parseMachineReadable, planCluster, type ClusterState, type DesiredCluster, type LsNode, type LsResourceGroup, type LsStoragePool, type LsVolumeGroup } from "../../roles/linstor/plan.ts";

const FIXTURES = new URL("../fixtures/linstor/", import.meta.url).pathname;

/** A fixture folder read as the role reads the controller: each file through the `-m` parser. */
function stateOf(scenario: string): ClusterState {
  const dir = join(FIXTURES, scenario);
  const read = <T>(f: string) => parseMachineReadable<T>(readFileSync(join(dir, f), "utf8"), f);
  const volumeGroups: Record<string, LsVolumeGroup[]> = {};
  for (const f of readdirSync(dir)) {
    const m = /^volume-group-list\.(.+)\.json$/.exec(f);
    if (m) volumeGroups[m[1]!] = read<LsVolumeGroup>(f);
  }
  return {
    nodes: read<LsNode>("node-list.json"),
    storagePools: read<LsStoragePool>("storage-pool-list.json"),
    resourceGroups: read<LsResourceGroup>("resource-group-list.json"),
    volumeGroups,
  };
}

/** Three nodes; LVM thin on tnode1 and tnode2, ZFS thin on tnode3 (reference 002's zfsthin); group `incus`. */
const WANT: DesiredCluster = {
  nodes: [
    { name: "tnode1", address: "10.50.1.1", type: "satellite" },
    { name: "tnode2", address: "10.50.1.2", type: "satellite" },
    { name: "tnode3", address: "10.50.1.3", type: "satellite" },
  ],
  storagePools: [
    { node: "tnode1", name: "linstor-pool", type: "lvmthin", vg: "linstor", thinpool: "thin" },
    { node: "tnode2", name: "linstor-pool", type: "lvmthin", vg: "linstor", thinpool: "thin" },
    { node: "tnode3", name: "linstor-pool", type: "zfs", zpool: "zfs-pool", thin: true },
  ],
  resourceGroups: [{ name: "incus", placeCount: 2, storagePool: "linstor-pool", volumeGroups: 1 }],
};

const commands = (s: ClusterState, want = WANT) => planCluster(s, want).steps.map((x) => `${x.phase}: ${x.argv.join(" ")}`);

test("linstor -m parsing: v1's list per reply is flattened; an error reply throws its message; v0 and non-JSON are refused", () => {
  assert.equal(parseMachineReadable<LsNode>('[[{"name":"a"}],[{"name":"b"}]]', "node list").map((n) => n.name), ["a", "b"]);
  assert.equal(parseMachineReadable('[[]]', "node list"), []);
  assert.throws(() => parseMachineReadable('[[{"ret_code":-4611686018427387903,"message":"Unable to connect","cause":"refused"}]]', "node list"), /node list: Unable to connect \(refused\)/);
  assert.throws(() => parseMachineReadable('[{"nodes":[]}]', "node list"), /output version v1/);
  assert.throws(() => parseMachineReadable("Error: Unable to connect to linstor://localhost:3370", "node list"), /not JSON: Error: Unable to connect/);
});

test("fresh cluster: register every node, then each pool, then the resource group and its volume group", () => {
  const plan = planCluster(stateOf("fresh"), WANT);
  assert.equal(commands(stateOf("fresh")), [
    "nodes: linstor node create tnode1 10.50.1.1 --node-type satellite",
    "nodes: linstor node create tnode2 10.50.1.2 --node-type satellite",
    "nodes: linstor node create tnode3 10.50.1.3 --node-type satellite",
    "storage: linstor storage-pool create lvmthin tnode1 linstor-pool linstor/thin",
    "storage: linstor storage-pool create lvmthin tnode2 linstor-pool linstor/thin",
    "storage: linstor storage-pool create zfsthin tnode3 linstor-pool zfs-pool",
    "groups: linstor resource-group create incus --place-count 2 --storage-pool linstor-pool",
    "groups: linstor volume-group create incus --vlmnr 0",
  ]);
  assert.equal(plan.waitOnline, ["tnode1", "tnode2", "tnode3"]);
  assert.equal(plan.problems, []);
  // The fixture is what an empty controller says: the same plan as from no state at all.
  assert.equal(commands(EMPTY_STATE), commands(stateOf("fresh")));
});

test("partly registered: only what is missing (tnode3, tnode2's and tnode3's pools, the group); the registered nodes are not waited for", () => {
  const plan = planCluster(stateOf("partial"), WANT);
  assert.equal(commands(stateOf("partial")), [
    "nodes: linstor node create tnode3 10.50.1.3 --node-type satellite",
    "storage: linstor storage-pool create lvmthin tnode2 linstor-pool linstor/thin",
    "storage: linstor storage-pool create zfsthin tnode3 linstor-pool zfs-pool",
    "groups: linstor resource-group create incus --place-count 2 --storage-pool linstor-pool",
    "groups: linstor volume-group create incus --vlmnr 0",
  ]);
  assert.equal(plan.waitOnline, ["tnode3"]);
  assert.equal(plan.problems, []);
});

test("fully converged: no command, nothing to wait for, no problem", () => {
  assert.equal(planCluster(stateOf("converged"), WANT), { steps: [], waitOnline: [], problems: [], notes: [] });
});

test("an OFFLINE satellite: `linstor node reconnect` for that node only, then wait for it; nothing else, no restart anywhere", () => {
  const plan = planCluster(stateOf("offline"), WANT);
  assert.equal(commands(stateOf("offline")), ["nodes: linstor node reconnect tnode2"]);
  assert.equal(plan.waitOnline, ["tnode2"]);
  assert.equal(plan.problems, []);
  // Its pools exist (the controller keeps them while the satellite is away): not made again.
  assert.not.ok(plan.steps.some((s) => s.phase === "storage"));
  assert.is(notOnline(stateOf("offline").nodes, "tnode2"), "tnode2 is OFFLINE");
  assert.is(notOnline(stateOf("offline").nodes, "tnode1"), undefined);
  assert.is(notOnline(stateOf("fresh").nodes, "tnode1"), "tnode1 is not registered");
});

test("states a reconnect cannot fix are problems naming what to do, and that node's pools are left alone", () => {
  const s = stateOf("converged");
  s.nodes = s.nodes.map((n) => (n.name === "tnode3" ? { ...n, connection_status: "VERSION_MISMATCH" } : n));
  s.storagePools = s.storagePools.filter((p) => p.node_name !== "tnode3");
  const plan = planCluster(s, WANT);
  assert.equal(plan.steps, []);
  assert.equal(plan.problems, ["LINSTOR node tnode3 is VERSION_MISMATCH: the satellite's LINSTOR version differs from the controller's: install the same version on both"]);
  assert.equal(plan.notes, ["storage pool linstor-pool on tnode3 not checked: the node needs attention first"]);
  // On its way up: waited for, no command.
  s.nodes = s.nodes.map((n) => (n.name === "tnode3" ? { ...n, connection_status: "CONNECTED" } : n));
  assert.equal(planCluster(s, WANT).waitOnline, ["tnode3"]);
  assert.equal(commands(s), ["storage: linstor storage-pool create zfsthin tnode3 linstor-pool zfs-pool"]);
});

test("drift: a moved address is modified in place; a place count or pool changed on the group is modified; a pool's backing is never changed", () => {
  const want: DesiredCluster = {
    ...WANT,
    nodes: WANT.nodes.map((n) => (n.name === "tnode2" ? { ...n, address: "10.50.1.22" } : n)),
    resourceGroups: [{ name: "incus", placeCount: 3, storagePool: "fast", volumeGroups: 2 }],
    storagePools: WANT.storagePools.map((p) => (p.node === "tnode1" && p.type === "lvmthin" ? { ...p, thinpool: "thin2" } : p)),
  };
  const plan = planCluster(stateOf("converged"), want);
  assert.equal(commands(stateOf("converged"), want), [
    "nodes: linstor node interface modify tnode2 default --ip 10.50.1.22",
    "groups: linstor resource-group modify incus --place-count 3 --storage-pool fast",
    "groups: linstor volume-group create incus --vlmnr 1",
  ]);
  assert.equal(plan.waitOnline, ["tnode2"]);
  assert.equal(plan.problems, ["storage pool linstor-pool on tnode1 is backed by linstor/thin, the params say linstor/thin2: not changed (its volumes live there)"]);
  const zfsNotThin: DesiredCluster = { ...WANT, storagePools: [{ node: "tnode3", name: "linstor-pool", type: "zfs", zpool: "zfs-pool", thin: false }] };
  assert.match(planCluster(stateOf("converged"), zfsNotThin).problems[0]!, /^storage pool linstor-pool on tnode3 is ZFS_THIN, the params want ZFS: a pool's driver cannot change/);
});

test("a node registered with another type is noted, not re-created", () => {
  const want: DesiredCluster = { ...WANT, nodes: WANT.nodes.map((n) => (n.name === "tnode1" ? { ...n, type: "combined" } : n)) };
  const plan = planCluster(stateOf("converged"), want);
  assert.equal(plan.steps, []);
  assert.equal(plan.notes, ["tnode1 is registered as satellite, not combined: left as it is (LINSTOR cannot change a node's type in place)"]);
});

/**
 * The controller host's wiring over canned `-m` output (no daemon): `lists`
 * answers `linstor -m ...` from a fixture folder, switching to `after` once a
 * step ran (what the controller holds then); every call is recorded.
 */
function fakeController(scenario: string | null, opts: { after?: string; checkMode?: boolean } = {}) {
  const calls: string[] = [];
  let current = scenario;
  const io = {
    list: async (args: string[]) => {
      calls.push(`read ${args.join(" ")}`);
      if (current === null) return "Error: Unable to connect to linstor://10.50.1.1:3370: [Errno 111] Connection refused";
      const file = args[0] === "volume-group" ? `volume-group-list.${args[2]}.json` : `${args.join("-")}.json`;
      return readFileSync(join(FIXTURES, current, file), "utf8");
    },
    run: async (step: { argv: string[] }) => {
      calls.push(`run ${step.argv.join(" ")}`);
      if (opts.after) current = opts.after;
    },
    waitUntil: async (title: string, check: () => Promise<true | string[]>) => {
      calls.push(`wait ${title}`);
      let last: string[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await check();
        if (r === true) return;
        last = r;
        if (opts.checkMode) return;
      }
      throw new Error(`wait until ${title}: still missing: ${last.join("; ")}`);
    },
    log: (text: string) => void calls.push(`log ${text}`),
  };
  return { io, calls };
}
const CONVERGE = { controller: "tnode1", controllerTimeout: 120, onlineTimeout: 120, satelliteLog: () => "journalctl -u linstor-satellite" };

test("controller wiring: a converged cluster is read and left alone: no step runs, only the controller wait", async () => {
  const { io, calls } = fakeController("converged");
  const plan = await convergeCluster(io, WANT, CONVERGE);
  assert.equal(plan.steps, []);
  assert.equal(calls, ["wait the LINSTOR controller on tnode1 answers", "read node list", "read node list", "read storage-pool list", "read resource-group list", "read volume-group list incus"]);
});

test("controller wiring: an OFFLINE satellite: reconnect it, wait until it is ONLINE, nothing else", async () => {
  const { io, calls } = fakeController("offline", { after: "converged" });
  await convergeCluster(io, WANT, CONVERGE);
  assert.equal(calls.filter((c) => !c.startsWith("read ")), ["wait the LINSTOR controller on tnode1 answers", "run linstor node reconnect tnode2", "wait LINSTOR nodes ONLINE: tnode2"]);
  // One that stays offline: the wait fails naming it, its state and where its satellite logs.
  const stays = fakeController("offline");
  await convergeCluster(stays.io, WANT, CONVERGE).then(
    () => assert.unreachable("should fail"),
    (err: Error) => assert.is(err.message, "wait until LINSTOR nodes ONLINE: tnode2: still missing: tnode2 is OFFLINE (its satellite's log: journalctl -u linstor-satellite on tnode2)"),
  );
});

test("controller wiring: a fresh controller: nodes, the ONLINE wait, then pools, then groups, in that order", async () => {
  const { io, calls } = fakeController("fresh", { after: "converged" });
  await convergeCluster(io, WANT, CONVERGE);
  assert.equal(calls.filter((c) => !c.startsWith("read ")), [
    "wait the LINSTOR controller on tnode1 answers",
    "run linstor node create tnode1 10.50.1.1 --node-type satellite",
    "run linstor node create tnode2 10.50.1.2 --node-type satellite",
    "run linstor node create tnode3 10.50.1.3 --node-type satellite",
    "wait LINSTOR nodes ONLINE: tnode1, tnode2, tnode3",
    "run linstor storage-pool create lvmthin tnode1 linstor-pool linstor/thin",
    "run linstor storage-pool create lvmthin tnode2 linstor-pool linstor/thin",
    "run linstor storage-pool create zfsthin tnode3 linstor-pool zfs-pool",
    "run linstor resource-group create incus --place-count 2 --storage-pool linstor-pool",
    "run linstor volume-group create incus --vlmnr 0",
  ]);
});

test("controller wiring: check mode before the controller runs plans as for an empty controller; a real run without one fails with the client's error", async () => {
  const check = fakeController(null, { checkMode: true });
  const plan = await convergeCluster(check.io, WANT, CONVERGE);
  assert.is(plan.steps.length, 8);
  assert.ok(check.calls.includes("log linstor: the controller does not answer yet (it would be started by this run): planned as for a new, empty controller"));
  const real = fakeController(null);
  await convergeCluster(real.io, WANT, CONVERGE).then(
    () => assert.unreachable("should fail"),
    (err: Error) => assert.match(err.message, /^wait until the LINSTOR controller on tnode1 answers: still missing: linstor -m node list: not JSON: Error: Unable to connect to linstor:\/\/10\.50\.1\.1:3370/),
  );
  assert.not.ok(real.calls.some((c) => c.startsWith("run ")), "nothing runs without a controller");
});

const params = (p: Record<string, unknown>): LinstorParams => linstor.schema.parse(p);

test("params: defaults; pools are a typed union (lvmthin needs vg and thinpool; zfs a zpool, thin by default); `*` is every node without its own entry", () => {
  const p = params({ storagePools: { "*": [{ type: "lvmthin", vg: "linstor", thinpool: "thin" }], tnode3: [{ type: "zfs", zpool: "zfs-pool" }] } });
  assert.is(p.controllerNodeType, "satellite");
  assert.is(p.satellitePort, 3366);
  assert.is(p.controllerPort, 3370);
  assert.equal(poolsOf(p, "tnode1"), [{ type: "lvmthin", name: "linstor-pool", vg: "linstor", thinpool: "thin", devices: [], size: "100%FREE" }]);
  assert.equal(poolsOf(p, "tnode3"), [{ type: "zfs", name: "linstor-pool", zpool: "zfs-pool", thin: true }]);
  assert.not.ok(linstor.schema.safeParse({ storagePools: { "*": [{ type: "lvmthin", vg: "linstor" }] } }).success, "thinpool is required");
  assert.not.ok(linstor.schema.safeParse({ storagePools: { "*": [{ type: "zfs" }] } }).success, "zpool is required");
  assert.not.ok(linstor.schema.safeParse({ storagePools: { "*": [{ type: "lvm", vg: "x" }] } }).success, "no thick LVM variant");
  assert.not.ok(linstor.schema.safeParse({ storagePools: { "*": [{ type: "lvmthin", vg: "a b", thinpool: "t" }] } }).success, "an LVM name with a space");
  assert.not.ok(linstor.schema.safeParse({ linbitRepo: { url: "http://x", suite: "bookworm" } }).success, "the repository needs its key");
});

test("params: a resource group's pool must be one of the storage pools; names listed twice are refused", () => {
  const check = (p: Record<string, unknown>) => linstor.spec.validate!(params(p));
  assert.equal(check({ resourceGroups: [{ name: "incus", storagePool: "fast" }] }), { field: "resourceGroups", message: "resource group incus: storage pool fast is not in storagePools" });
  assert.equal(check({ storagePools: { "*": [{ type: "zfs", zpool: "a" }, { type: "zfs", zpool: "b" }] } }), { field: "storagePools.*", message: "storage pool linstor-pool is listed twice" });
  assert.equal(check({ resourceGroups: [{ name: "incus" }, { name: "incus" }] }), { field: "resourceGroups", message: "resource group incus is listed twice" });
  assert.is(check({ storagePools: { "*": [{ type: "zfs", zpool: "a" }] }, resourceGroups: [{ name: "incus", storagePool: "linstor-pool" }] }), undefined);
});

test("LVM thin pool: from nothing pvcreate, vgcreate, lvcreate; an existing VG is used; an existing thin pool is left; a PV of another VG is refused", () => {
  const pool = { vg: "linstor", thinpool: "thin", devices: ["/dev/sdb", "/dev/sdc"], size: "100%FREE" };
  const argv = (s: ReturnType<typeof planThinPool>) => s.steps.map((x) => x.argv.join(" "));
  const fresh = parseLvmProbe("vg no\nlv -\npv - /dev/sdb\npv . /dev/sdc\n");
  assert.equal(fresh, { noLvm: false, vgExists: false, thinAttr: null, pvs: { "/dev/sdb": null, "/dev/sdc": "" } });
  assert.equal(argv(planThinPool(fresh, pool)), ["pvcreate /dev/sdb", "vgcreate linstor /dev/sdb /dev/sdc", "lvcreate --type thin-pool -l 100%FREE -n thin linstor"]);
  assert.equal(argv(planThinPool(parseLvmProbe("vg yes\nlv -\n"), { ...pool, size: "200G" })), ["lvcreate --type thin-pool -L 200G -n thin linstor"]);
  assert.equal(planThinPool(parseLvmProbe("vg yes\nlv twi-a-tz--\n"), pool), { steps: [] });
  assert.equal(planThinPool(parseLvmProbe("vg yes\nlv -wi-a-----\n"), pool).problem, "linstor/thin exists but is not a thin pool (lv_attr -wi-a-----)");
  assert.equal(planThinPool(parseLvmProbe("vg no\nlv -\npv other /dev/sdb\npv - /dev/sdc\n"), pool).problem, "/dev/sdb is already a physical volume of volume group other, not linstor: refusing to take it");
  assert.equal(planThinPool(parseLvmProbe("vg no\nlv -\n"), { ...pool, devices: [] }).problem, "volume group linstor does not exist and no devices are given to make it from");
  assert.equal(planThinPool(parseLvmProbe("nolvm\n"), pool).problem, "the LVM tools are not installed (lvm2), needed for linstor/thin");
});

test("the Slackware files: rc scripts parse with sh -n and have a status action; the default file quotes its values", () => {
  for (const text of [rcScript("satellite"), rcScript("controller"), RC_DRBD, RC_ZFS]) execFileSync("sh", ["-n"], { input: text });
  assert.match(rcScript("satellite"), /^PROGRAM=\/usr\/share\/linstor-server\/bin\/Satellite$/m);
  assert.match(rcScript("controller"), /^  status\)$/m);
  assert.match(rcScript("satellite"), /nohup "\$PROGRAM" \$SATELLITE_OPTS >> "\$LOG"/);
  assert.is(defaultFile("satellite", "--logs=/var/log/linstor-satellite --config-directory=/etc/linstor", "/opt/java17"), "# Options of the LINSTOR satellite, read by /etc/rc.d/rc.linstor-satellite. Managed by runbook (role linstor).\nSATELLITE_OPTS='--logs=/var/log/linstor-satellite --config-directory=/etc/linstor'\nJAVA_HOME=/opt/java17\n");
});

test("the rc script finds a daemon without its pid file by LINSTOR's main class (started by the reference's script): never a second one", () => {
  assert.match(rcScript("satellite"), /pgrep -o -f 'com\\.linbit\\.linstor\\.core\\.Satellite\( \|\$\)'/);
  assert.match(rcScript("controller"), /pgrep -o -f 'com\\.linbit\\.linstor\\.core\\.Controller\( \|\$\)'/);
});

test("Incus' controller connection: set when it differs, left when it matches, a clear failure without Incus", () => {
  assert.is(incusStep("\n", "http://10.50.1.1:3370"), "set");
  assert.is(incusStep("http://10.50.1.1:3370\n", "http://10.50.1.1:3370"), "ok");
  assert.is(incusStep("http://10.50.1.9:3370\n", "http://10.50.1.1:3370"), "set");
  assert.is(incusStep("__no_incus__\n", "http://10.50.1.1:3370"), "no-incus");
});

test.run();
