/**
 * The linstor role's decisions, as a pure function: the controller's
 * machine-readable state and the desired cluster in, the `linstor` commands
 * to run out (or the reasons the role must stop). No I/O here: the role
 * reads the state on the controller host, calls {@link planCluster}, and runs
 * the steps; unit tests feed captured JSON (test/fixtures/linstor/).
 *
 * ## The format read
 *
 * `linstor -m LIST` (`--machine-readable`) prints, with the client's default
 * `--output-version v1`, a JSON array holding one element per reply of the
 * controller, each element the controller's REST answer as it came:
 * linstor-client `Commands._print_machine_readable` (linstor_client/commands/
 * commands.py: `[x.data_v1 for x in data]`) and python-linstor
 * `RESTMessageResponse.data_v1` (linstor/responses.py: the REST data
 * unchanged). A list command makes one call, so the output is `[[...]]`:
 * lxc/incus-deploy reads it the same way (ansible/books/linstor.yaml:
 * `json_query('[0][?provider_kind!=`DISKLESS`].node_name')`). The objects are
 * the REST API's schemas (LINBIT/linstor-server docs/rest_v1_openapi.yaml):
 * `Node` (name, type, connection_status, net_interfaces[]: name, address,
 * satellite_port, is_active), `StoragePool` (storage_pool_name, node_name,
 * provider_kind, props with `StorDriver/LvmVg` + `StorDriver/ThinPool`,
 * `StorDriver/ZPool` or `StorDriver/ZPoolThin`), `ResourceGroup` (name,
 * description, select_filter: place_count, storage_pool,
 * storage_pool_list) and `VolumeGroup` (volume_number). The older v0 format
 * (`--output-version v0`) is not read.
 *
 * ## An offline satellite
 *
 * A registered node whose connection is OFFLINE, UNKNOWN or NO_STLT_CONN
 * gets `linstor node reconnect NODE` (the controller retries at once instead
 * of on its timer), and the role then waits until it is ONLINE before any
 * storage pool on it is made; still offline after the wait, the host fails
 * naming the node, its status, and the satellite's log. The satellite's
 * daemon itself is the node's own business: the role's service task on that
 * node starts it when it is not running (reported changed there), and
 * nothing is ever restarted on a node that runs — a satellite that runs but
 * does not connect has a network or configuration problem a restart hides.
 * CONNECTED / AUTHENTICATED are on their way to ONLINE: waited for, no
 * command. VERSION_MISMATCH, AUTHENTICATION_ERROR, HOSTNAME_MISMATCH,
 * OTHER_CONTROLLER and FULL_SYNC_FAILED need a person: they are problems
 * (the role fails with them), and that node's pools are not planned.
 */

/** `Node` of the REST API (the fields read). */
export interface LsNode {
  name: string;
  type?: string;
  connection_status?: string;
  net_interfaces?: { name: string; address: string; satellite_port?: number; is_active?: boolean }[];
  storage_providers?: string[];
}

/** `StoragePool` of the REST API (the fields read). */
export interface LsStoragePool {
  storage_pool_name: string;
  node_name?: string;
  provider_kind: string;
  props?: Record<string, string>;
}

/** `ResourceGroup` of the REST API (the fields read). */
export interface LsResourceGroup {
  name: string;
  description?: string;
  select_filter?: { place_count?: number; storage_pool?: string; storage_pool_list?: string[] };
}

/** `VolumeGroup` of the REST API (the fields read). */
export interface LsVolumeGroup {
  volume_number?: number;
}

/** What the controller says, from its `-m` lists. */
export interface ClusterState {
  nodes: LsNode[];
  storagePools: LsStoragePool[];
  resourceGroups: LsResourceGroup[];
  /** `linstor -m volume-group list RG` for each resource group that exists. */
  volumeGroups: Record<string, LsVolumeGroup[]>;
}

/** The state of a controller that knows nothing yet (what check mode plans from before it runs). */
export const EMPTY_STATE: ClusterState = { nodes: [], storagePools: [], resourceGroups: [], volumeGroups: {} };

export type NodeType = "satellite" | "combined";

/** A LINSTOR storage pool on one node, as the role's params describe it. */
export type DesiredPool = { node: string; name: string } & ({ type: "lvmthin"; vg: string; thinpool: string } | { type: "zfs"; zpool: string; thin: boolean });

export interface DesiredResourceGroup {
  name: string;
  placeCount: number;
  storagePool?: string;
  description?: string;
  /** How many volume groups (volumes 0..N-1) the group has. */
  volumeGroups: number;
}

export interface DesiredCluster {
  nodes: { name: string; address: string; type: NodeType }[];
  storagePools: DesiredPool[];
  resourceGroups: DesiredResourceGroup[];
}

/**
 * One `linstor` command. Phases run in order: `nodes` (register, address,
 * reconnect), then the role waits until `waitOnline` are ONLINE, then
 * `storage` (pools), then `groups` (resource and volume groups).
 */
export interface Step {
  phase: "nodes" | "storage" | "groups";
  argv: string[];
  /** Why, for the task title ("register tnode2 at 10.88.96.3"). */
  why: string;
}

export interface ClusterPlan {
  steps: Step[];
  /** Nodes that must be ONLINE before the storage steps (new, reconnected, or coming up). */
  waitOnline: string[];
  /** Reasons the role stops after the steps it can take (each names node or object and what to do). */
  problems: string[];
  /** Differences left alone on purpose (said, not acted on). */
  notes: string[];
}

/** LINSTOR's provider kind for a desired pool. */
export function providerKind(p: DesiredPool): "LVM_THIN" | "ZFS" | "ZFS_THIN" {
  return p.type === "lvmthin" ? "LVM_THIN" : p.thin ? "ZFS_THIN" : "ZFS";
}

/** The pool's backing as `storage-pool create` takes it: `VG/THIN` or the zpool. */
export function backingOf(p: DesiredPool): string {
  return p.type === "lvmthin" ? `${p.vg}/${p.thinpool}` : p.zpool;
}

/** The backing an existing pool reports (`VG/THIN`, a zpool), or undefined. */
export function reportedBacking(sp: LsStoragePool): string | undefined {
  const props = sp.props ?? {};
  switch (sp.provider_kind) {
    case "LVM_THIN":
      if (props["StorDriver/LvmVg"] && props["StorDriver/ThinPool"]) return `${props["StorDriver/LvmVg"]}/${props["StorDriver/ThinPool"]}`;
      return props["StorDriver/StorPoolName"];
    case "ZFS":
      return props["StorDriver/ZPool"] ?? props["StorDriver/StorPoolName"];
    case "ZFS_THIN":
      return props["StorDriver/ZPoolThin"] ?? props["StorDriver/StorPoolName"];
    default:
      return props["StorDriver/StorPoolName"];
  }
}

/**
 * Parses `linstor -m ... list` output (v1: `[[...]]`, one inner list per
 * reply). An error reply from the controller (`[[{ "ret_code": -..., "message": ...}]]`)
 * throws with its message.
 */
export function parseMachineReadable<T>(text: string, what: string): T[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new Error(`linstor -m ${what}: not JSON: ${text.trim().slice(0, 200) || "(no output)"}`);
  }
  if (!Array.isArray(data)) throw new Error(`linstor -m ${what}: expected a JSON array (output version v1)`);
  const out: T[] = [];
  for (const reply of data) {
    if (!Array.isArray(reply)) throw new Error(`linstor -m ${what}: expected an array per reply (output version v1), got ${JSON.stringify(reply).slice(0, 120)}`);
    for (const item of reply as Record<string, unknown>[]) {
      if (typeof item?.ret_code === "number" && item.ret_code < 0) throw new Error(`linstor -m ${what}: ${String(item.message ?? "error")}${item.cause ? ` (${String(item.cause)})` : ""}`);
      out.push(item as T);
    }
  }
  return out;
}

/** Connection states that are on their way to ONLINE: wait, no command. */
const COMING_UP = new Set(["CONNECTED", "AUTHENTICATED"]);
/** Connection states a reconnect can fix. */
const RECONNECT = new Set(["OFFLINE", "UNKNOWN", "NO_STLT_CONN"]);
/** What a person has to do for the states a reconnect cannot fix. */
const NEEDS_A_PERSON: Record<string, string> = {
  VERSION_MISMATCH: "the satellite's LINSTOR version differs from the controller's: install the same version on both",
  AUTHENTICATION_ERROR: "the satellite refused the controller's authentication (SSL or shared secret): check the satellite's linstor_satellite.toml and certificates",
  HOSTNAME_MISMATCH: "the satellite's host name (uname -n) is not the LINSTOR node name: rename the host, or register it under its own name",
  OTHER_CONTROLLER: "the satellite is connected to another controller: stop that controller or remove the node there",
  FULL_SYNC_FAILED: "the controller could not send the satellite its full state: see the controller's error reports (linstor error-reports list)",
};

/** The node's interface the satellite connection uses (`default`, made by `node create`). */
function activeInterface(n: LsNode) {
  const ifs = n.net_interfaces ?? [];
  return ifs.find((i) => i.is_active) ?? ifs.find((i) => i.name === "default") ?? ifs[0];
}

/**
 * What to run on the controller so that it holds `want`, given what it says
 * (`state`). Existing objects the params do not name are never touched.
 *
 * @example planCluster(EMPTY_STATE, { nodes: [{ name: "tnode1", address: "10.50.1.1", type: "satellite" }], storagePools: [], resourceGroups: [] }).steps[0].argv
 *   // ["linstor", "node", "create", "tnode1", "10.50.1.1", "--node-type", "satellite"]
 */
export function planCluster(state: ClusterState, want: DesiredCluster): ClusterPlan {
  const steps: Step[] = [];
  const waitOnline: string[] = [];
  const problems: string[] = [];
  const notes: string[] = [];
  const blocked = new Set<string>();

  for (const w of want.nodes) {
    const n = state.nodes.find((x) => x.name === w.name);
    if (!n) {
      steps.push({ phase: "nodes", argv: ["linstor", "node", "create", w.name, w.address, "--node-type", w.type], why: `register ${w.name} at ${w.address} (${w.type})` });
      waitOnline.push(w.name);
      continue;
    }
    const type = (n.type ?? "").toLowerCase();
    if (type && type !== w.type) notes.push(`${w.name} is registered as ${type}, not ${w.type}: left as it is (LINSTOR cannot change a node's type in place)`);
    const nic = activeInterface(n);
    if (nic && nic.address !== w.address) {
      steps.push({ phase: "nodes", argv: ["linstor", "node", "interface", "modify", w.name, nic.name, "--ip", w.address], why: `${w.name}: interface ${nic.name} ${nic.address} -> ${w.address}` });
    }
    const status = (n.connection_status ?? "UNKNOWN").toUpperCase();
    if (status === "ONLINE") {
      if (nic && nic.address !== w.address) waitOnline.push(w.name);
      continue;
    }
    if (RECONNECT.has(status)) {
      steps.push({ phase: "nodes", argv: ["linstor", "node", "reconnect", w.name], why: `${w.name} is ${status}: reconnect` });
      waitOnline.push(w.name);
    } else if (COMING_UP.has(status)) {
      waitOnline.push(w.name);
    } else {
      problems.push(`LINSTOR node ${w.name} is ${status}: ${NEEDS_A_PERSON[status] ?? "see `linstor node list` and the satellite's log"}`);
      blocked.add(w.name);
    }
  }

  for (const p of want.storagePools) {
    if (blocked.has(p.node)) {
      notes.push(`storage pool ${p.name} on ${p.node} not checked: the node needs attention first`);
      continue;
    }
    const kind = providerKind(p);
    const backing = backingOf(p);
    const have = state.storagePools.find((s) => s.storage_pool_name === p.name && s.node_name === p.node);
    if (!have) {
      const driver = kind === "LVM_THIN" ? "lvmthin" : kind === "ZFS_THIN" ? "zfsthin" : "zfs";
      steps.push({ phase: "storage", argv: ["linstor", "storage-pool", "create", driver, p.node, p.name, backing], why: `storage pool ${p.name} on ${p.node}: ${driver} ${backing}` });
      continue;
    }
    if (have.provider_kind !== kind) {
      problems.push(`storage pool ${p.name} on ${p.node} is ${have.provider_kind}, the params want ${kind}: a pool's driver cannot change (delete it with \`linstor storage-pool delete ${p.node} ${p.name}\` once it holds no volumes, then rerun)`);
      continue;
    }
    const got = reportedBacking(have);
    if (got !== undefined && got !== backing) {
      problems.push(`storage pool ${p.name} on ${p.node} is backed by ${got}, the params say ${backing}: not changed (its volumes live there)`);
    }
  }

  const names = new Set(state.resourceGroups.map((g) => g.name));
  for (const g of want.resourceGroups) {
    const have = state.resourceGroups.find((x) => x.name === g.name);
    if (!have) {
      steps.push({
        phase: "groups",
        argv: ["linstor", "resource-group", "create", g.name, "--place-count", String(g.placeCount), ...(g.storagePool ? ["--storage-pool", g.storagePool] : []), ...(g.description ? ["--description", g.description] : [])],
        why: `resource group ${g.name} (place count ${g.placeCount}${g.storagePool ? `, pool ${g.storagePool}` : ""})`,
      });
    } else {
      const f = have.select_filter ?? {};
      const modify: string[] = [];
      if (f.place_count !== g.placeCount) modify.push("--place-count", String(g.placeCount));
      const pools = f.storage_pool_list ?? (f.storage_pool ? [f.storage_pool] : []);
      if (g.storagePool && !(pools.length === 1 && pools[0] === g.storagePool)) modify.push("--storage-pool", g.storagePool);
      if (g.description !== undefined && (have.description ?? "") !== g.description) modify.push("--description", g.description);
      if (modify.length) {
        steps.push({ phase: "groups", argv: ["linstor", "resource-group", "modify", g.name, ...modify], why: `resource group ${g.name}: ${describeModify(modify)}` });
      }
    }
    const vgs = names.has(g.name) ? (state.volumeGroups[g.name] ?? []) : [];
    const numbers = new Set(vgs.map((v) => v.volume_number ?? 0));
    for (let i = 0; i < g.volumeGroups; i++) {
      if (numbers.has(i)) continue;
      steps.push({ phase: "groups", argv: ["linstor", "volume-group", "create", g.name, "--vlmnr", String(i)], why: `volume group ${i} of ${g.name}` });
    }
  }

  return { steps, waitOnline: [...new Set(waitOnline)], problems, notes };
}

function describeModify(args: string[]): string {
  const parts: string[] = [];
  for (let i = 0; i < args.length; i += 2) parts.push(`${args[i]!.replace(/^--/, "")} ${args[i + 1]}`);
  return parts.join(", ");
}

/**
 * Why a node is not ONLINE yet, or undefined when it is (the role's wait
 * reads this from `linstor -m node list`).
 */
export function notOnline(nodes: LsNode[], name: string): string | undefined {
  const n = nodes.find((x) => x.name === name);
  if (!n) return `${name} is not registered`;
  const status = (n.connection_status ?? "UNKNOWN").toUpperCase();
  return status === "ONLINE" ? undefined : `${name} is ${status}`;
}
