/**
 * Role `ovn`: the cluster's software-defined networking layer (references
 * 000, 001, 002: "Software Defined Networking (SDN) Layer (Open vSwitch /
 * OVN)"): Open vSwitch on every host, OVN central (the Northbound and
 * Southbound databases as 3-member raft clusters, and `ovn-northd`) on the
 * `members`, and `ovn-controller` on every host as a chassis with Geneve
 * (or VXLAN) tunnels.
 *
 * Order (ovn-ctl(8), "Creating a clustered db on 3 nodes"): the first
 * member creates the NB and SB clusters at its own address; the others join
 * it one at a time; ovn-northd on every member points at all of them; each
 * chassis sets `system-id`, `ovn-remote`, `ovn-encap-type` and
 * `ovn-encap-ip` in the Open_vSwitch table.
 *
 * Safety: the cluster ids are cross-host values (`h.shared`) read first
 * from the members' database files, so a database is created only where no
 * member holds one, joins name the cluster id (`join-cluster --cid`), a
 * bootstrap is refused when members are outside the run, a cluster
 * without a leader stops the run with what each member says, and a member
 * rebuilt from scratch has its old server kicked before it joins again.
 *
 * - **Debian family**: apt `openvswitch-switch`, `ovn-host`, and
 *   `ovn-central` on members; under systemd their units, elsewhere (the
 *   lab's tini hosts) `/etc/init.d/openvswitch-switch` and `ovn-ctl`
 *   directly with the options of `/etc/default/ovn-central`.
 *
 * See roles/ovn/README.md.
 *
 * @example
 *   ovn({ members: "clusternode", datapathType: "netdev" })
 *   // per host: ovn: { encapIp: 10.50.1.1 }  (the FRR loopback)
 */
import { z } from "zod";
import { defineTask, isKnown, role, shared, sh, type Host, type Infer, type TaskResult } from "../../runner/index.ts";
import {
  checkOvnParams,
  externalIdsChange,
  hasLeader,
  mergeBridgeMappings,
  OVN_DBS,
  ovnCentralDefaults,
  ovnCtlOpts,
  ovsdbFileProbe,
  ovsdbString,
  parseClusterStatus,
  parseDbFileState,
  parseExternalIds,
  raftAddress,
  raftPort,
  remotes,
  staleServers,
  type ClusterStatus,
  type DbFileState,
  type OvnDb,
} from "./cluster.ts";

export * from "./cluster.ts";

export const OVN_CTL = "/usr/share/ovn/scripts/ovn-ctl";
export const OVN_CENTRAL_DEFAULTS = "/etc/default/ovn-central";
export const OVS_SYSTEM_ID_FILE = "/etc/openvswitch/system-id.conf";

/**
 * Debian's ovn-northd.service stops with `ovn-ctl stop_northd --no-monitor`,
 * and ovn-ctl then stops both databases as well (its --ovn-manage-ovsdb
 * defaults to yes): a `systemctl restart ovn-northd` would take this
 * member out of both raft clusters, and as the databases exit cleanly
 * their units do not restart them. This drop-in stops northd alone.
 */
export const NORTHD_DROPIN = {
  path: "/etc/systemd/system/ovn-northd.service.d/runbook-northd-only.conf",
  content: [
    "# Managed by runbook (role ovn): stopping ovn-northd must not stop the OVN databases.",
    "[Service]",
    "ExecStop=",
    `ExecStop=/usr/share/ovn/scripts/ovn-ctl stop_northd --no-monitor --ovn-manage-ovsdb=no`,
    "",
  ].join("\n"),
};

const params = {
  members: z
    .union([z.string(), z.array(z.string()).min(1)])
    .default("clusternode")
    .describe("The OVN central hosts (NB and SB raft members, ovn-northd): an inventory group, or host names. The first, in inventory order, creates the clusters. Every host of the play is a chassis."),
  addresses: z.record(z.string(), z.string()).default({}).describe("Each member's address for raft and the database remotes, by host name. A member not listed uses the first global IPv4 address of `interface` in its facts."),
  interface: z.string().optional().describe("Where a member's (and this chassis's) address is taken from when `addresses` does not name it; default: the interface of its default route."),
  encapType: z.enum(["geneve", "vxlan"]).default("geneve").describe("`ovn-encap-type`: the tunnel type between chassis."),
  encapIp: z.string().optional().describe("`ovn-encap-ip`: this chassis's tunnel endpoint (per host, e.g. its FRR loopback); default: its address as above."),
  systemId: z.string().optional().describe("`system-id`: the chassis name; default: the inventory name."),
  datapathType: z.enum(["system", "netdev"]).default("system").describe("`ovn-bridge-datapath-type` and the bridges' `datapath_type`: `system` (the kernel module) on real nodes, `netdev` (userspace) where there is no kernel module."),
  integrationBridge: z.string().default("br-int").describe("`ovn-bridge`: the integration bridge ovn-controller manages."),
  bridgeMappings: z
    .array(z.strictObject({ network: z.string(), bridge: z.string(), ports: z.array(z.string()).default([]) }))
    .default([])
    .describe("Provider networks: `ovn-bridge-mappings` NETWORK:BRIDGE, each bridge created with its ports (reference 002: a USB NIC as the OVN uplink)."),
  nbPort: z.int().default(6641).describe("Northbound database port for clients."),
  sbPort: z.int().default(6642).describe("Southbound database port for clients (ovn-controller)."),
  nbRaftPort: z.int().default(6643).describe("Northbound raft port between members."),
  sbRaftPort: z.int().default(6644).describe("Southbound raft port between members."),
  leaderTimeout: z.int().default(120).describe("Seconds to wait for a raft leader (before a join, and after starting) before the host fails with what each member says."),
  packages: z.array(z.string()).optional().describe("Packages to install. Default: openvswitch-switch, ovn-host, and ovn-central on members (Debian)."),
};

/** The ovn role's parameters, as `run` receives them. */
export type OvnParams = Infer<typeof params>;

/** The raft cluster ids, made once (on the first member) and read from the members' files first. */
export const CLUSTER_IDS = { nb: shared.string("ovn NB cluster id"), sb: shared.string("ovn SB cluster id") } as const;

/** An OVN daemon: its systemd unit, its pidfile, and how ovn-ctl starts and stops it elsewhere. */
export interface OvnDaemon {
  name: string;
  unit: string;
  pidfile: string;
  start: string;
  stop: string;
}

const sourced = (file: string) => `if [ -f ${file} ]; then . ${file}; fi; `;

export function dbDaemon(db: OvnDb): OvnDaemon {
  return {
    name: `ovsdb-server ${db.schemaName}`,
    unit: db.unit,
    pidfile: db.pidfile,
    start: `${sourced(OVN_CENTRAL_DEFAULTS)}${OVN_CTL} ${db.start} $OVN_CTL_OPTS`,
    stop: `${OVN_CTL} ${db.stop}`,
  };
}

export const NORTHD: OvnDaemon = {
  name: "ovn-northd",
  unit: "ovn-northd",
  pidfile: "/var/run/ovn/ovn-northd.pid",
  start: `${sourced(OVN_CENTRAL_DEFAULTS)}${OVN_CTL} start_northd --ovn-manage-ovsdb=no $OVN_CTL_OPTS`,
  // Without --ovn-manage-ovsdb=no, ovn-ctl's stop_northd stops both databases too.
  stop: `${OVN_CTL} stop_northd --ovn-manage-ovsdb=no`,
};

export const CONTROLLER: OvnDaemon = {
  name: "ovn-controller",
  unit: "ovn-controller",
  pidfile: "/var/run/ovn/ovn-controller.pid",
  start: `${sourced("/etc/default/ovn-host")}${OVN_CTL} start_controller $OVN_CTL_OPTS`,
  stop: `${OVN_CTL} stop_controller`,
};

interface DaemonParams {
  daemon: OvnDaemon;
  state: "started" | "stopped" | "restarted";
}

const pidAlive = (pidfile: string) => `pid=$(cat ${pidfile} 2>/dev/null) && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"`;

/**
 * An OVN daemon run by ovn-ctl directly (hosts without systemd): running =
 * its pidfile names a live process.
 */
export const ovnDaemonTask = defineTask<DaemonParams>({
  kind: "ovn-daemon",
  describe: (p) => `${p.daemon.name} (${p.state}, ovn-ctl)`,
  async plan(ctx, p) {
    const r = await ctx.probe(`${pidAlive(p.daemon.pidfile)} || true`);
    const pid = r.stdout.trim();
    const start = { kind: "run" as const, command: p.daemon.start };
    const stop = { kind: "run" as const, command: p.daemon.stop };
    if (p.state === "restarted") return { changes: pid ? [stop, start] : [start], reason: `restart ${p.daemon.name}` };
    if (p.state === "started") return pid ? { changes: [], reason: `${p.daemon.name} is running (pid ${pid})` } : { changes: [start], reason: `start ${p.daemon.name}` };
    return pid ? { changes: [stop], reason: `stop ${p.daemon.name} (pid ${pid})` } : { changes: [], reason: `${p.daemon.name} is not running` };
  },
});

interface ExternalIdsParams {
  /** Keys to set; undefined: the key must be absent. */
  ids: Record<string, string | undefined>;
  /** `ovn-bridge-mappings` entries (network -> bridge) that must be there; other networks' entries (Incus' uplinks) are kept. */
  bridgeMappings?: Record<string, string>;
}

/** Keys of the Open_vSwitch table's external_ids (the chassis settings), read and set in one command each. */
export const ovsExternalIdsTask = defineTask<ExternalIdsParams>({
  kind: "ovs-external-ids",
  describe: (p) => `Open_vSwitch external_ids ${Object.keys(p.ids).join(", ")}`,
  async plan(ctx, p) {
    const r = await ctx.probe("ovs-vsctl --format=json --columns=external_ids list Open_vSwitch");
    if (r.code !== 0) throw new Error(`ovs-vsctl: ${r.stderr.trim() || `exit ${r.code}`}`);
    const current = parseExternalIds(r.stdout);
    const wanted = { ...p.ids };
    if (p.bridgeMappings) {
      const merged = mergeBridgeMappings(current["ovn-bridge-mappings"], p.bridgeMappings);
      if (merged !== undefined) wanted["ovn-bridge-mappings"] = merged;
    }
    const { set, remove } = externalIdsChange(current, wanted);
    if (set.length === 0 && remove.length === 0) {
      return { changes: [], reason: `external_ids match (${Object.entries(p.ids).map(([k, v]) => (v === undefined ? `no ${k}` : `${k}=${v}`)).join(", ")})` };
    }
    const words = [
      ...(set.length ? ["set", "Open_vSwitch", ".", ...set.map(([k, v]) => `external_ids:${k}=${ovsdbString(v)}`)] : []),
      ...(set.length && remove.length ? ["--"] : []),
      ...(remove.length ? ["remove", "Open_vSwitch", ".", "external_ids", ...remove] : []),
    ];
    const what = [...set.map(([k, v]) => `${k}=${v}${k in current ? ` (was ${current[k]})` : ""}`), ...remove.map((k) => `remove ${k}`)];
    return { changes: [{ kind: "run", command: sh`ovs-vsctl ${words}` }], reason: what.join(", ") };
  },
});

interface BridgeParams {
  name: string;
  datapathType: "system" | "netdev";
  ports: string[];
  /** Create the bridge when it is missing (false: ovn-controller makes it; only correct an existing one). */
  create: boolean;
}

/** An OVS bridge with a datapath type and ports (ports are only added, never removed). */
export const ovsBridgeTask = defineTask<BridgeParams>({
  kind: "ovs-bridge",
  describe: (p) => `ovs bridge ${p.name} (datapath ${p.datapathType}${p.ports.length ? `, ports ${p.ports.join(" ")}` : ""})`,
  async plan(ctx, p) {
    const r = await ctx.probe(sh`if ovs-vsctl br-exists ${p.name}; then ovs-vsctl get Bridge ${p.name} datapath_type; ovs-vsctl list-ports ${p.name}; else echo missing; fi`);
    if (r.code !== 0) throw new Error(`ovs-vsctl: ${r.stderr.trim() || `exit ${r.code}`}`);
    const lines = r.stdout.split("\n").map((l) => l.trim()).filter(Boolean);
    if (lines[0] === "missing") {
      if (!p.create) return { changes: [], reason: `${p.name} does not exist yet (ovn-controller creates it with datapath ${p.datapathType})` };
      const cmd = sh`ovs-vsctl --may-exist add-br ${p.name} -- set Bridge ${p.name} ${`datapath_type=${p.datapathType}`}` + p.ports.map((port) => sh` -- --may-exist add-port ${p.name} ${port}`).join("");
      return { changes: [{ kind: "run", command: cmd }], reason: `create ${p.name}` };
    }
    const dp = (lines[0] ?? "").replace(/^"|"$/g, "") || "system";
    const have = new Set(lines.slice(1));
    const missing = p.ports.filter((port) => !have.has(port));
    const parts: string[] = [];
    const what: string[] = [];
    if (dp !== p.datapathType) {
      parts.push(sh`set Bridge ${p.name} ${`datapath_type=${p.datapathType}`}`);
      what.push(`datapath ${dp} -> ${p.datapathType}`);
    }
    for (const port of missing) {
      parts.push(sh`--may-exist add-port ${p.name} ${port}`);
      what.push(`add port ${port}`);
    }
    if (parts.length === 0) return { changes: [], reason: `${p.name} has datapath ${dp}${p.ports.length ? ` and ports ${p.ports.join(", ")}` : ""}` };
    return { changes: [{ kind: "run", command: `ovs-vsctl ${parts.join(" -- ")}` }], reason: `${p.name}: ${what.join(", ")}` };
  },
});

/** The first global IPv4 address of `iface` (default: the default route's interface) in `facts`. */
export function addressFromFacts(facts: Host["facts"], iface: string | undefined): string | undefined {
  const name = iface ?? facts.defaultRoute?.interface;
  const i = facts.interfaces.find((x) => x.name === name);
  return i?.addresses.find((a) => a.family === "inet" && (a.scope === undefined || a.scope === "global"))?.address;
}

/** The members, in inventory order. */
function resolveMembers(h: Host, p: OvnParams): string[] {
  const all = h.groups.all ?? [];
  if (typeof p.members === "string") {
    const g = h.groups[p.members];
    if (!g) return h.fail(`ovn: members: no inventory group "${p.members}" (give a group or a list of host names)`);
    return [...g];
  }
  const unknown = p.members.filter((m) => !all.includes(m));
  if (unknown.length) return h.fail(`ovn: members: ${unknown.join(", ")} not in the inventory`);
  return all.filter((n) => p.members.includes(n));
}

/** Each member's address: `addresses`, else from its facts. */
async function resolveAddresses(h: Host, p: OvnParams, members: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const need = members.filter((m) => !p.addresses[m]);
  const peers = need.length ? await h.peers(typeof p.members === "string" ? p.members : "all") : [];
  for (const m of members) {
    const a = p.addresses[m] ?? addressFromFacts(peers.find((x) => x.name === m)!.facts, p.interface);
    if (!a) return h.fail(`ovn: no address for member ${m}: set addresses.${m}, or \`interface\` to one with an IPv4 address`);
    out[m] = a;
  }
  return out;
}

/**
 * The Northbound database's connection string for clients (Incus'
 * `network.ovn.northbound_connection`): `tcp:A:6641,tcp:B:6641,...` over
 * the members, as this role resolves them from `p` (its parameters).
 *
 * @example await northboundConnection(h, ovn.schema.parse(h.hostvars(h.name).ovn ?? {}))
 */
export async function northboundConnection(h: Host, p: OvnParams): Promise<string> {
  const members = resolveMembers(h, p);
  const addresses = await resolveAddresses(h, p, members);
  return remotes(members.map((m) => addresses[m]!), p.nbPort);
}

/** Reads a database file's state on `m` (read-only, so check mode runs it too). */
async function fileState(m: Host, db: OvnDb, who = m.name): Promise<DbFileState> {
  const r = await m.command(ovsdbFileProbe(db.file), { readOnly: true, title: `${db.schemaName} database file on ${who}` });
  return parseDbFileState(r.stdout ?? "");
}

/** A member's view of the raft cluster, or why there is none ("not running"). */
async function clusterStatus(h: Host, member: string, db: OvnDb): Promise<ClusterStatus | string> {
  const read = async (o: Host) => {
    const r = await o.command(`ovn-appctl -t ${db.ctl} cluster/status ${db.schemaName} 2>&1; echo "rc=$?"`, { readOnly: true, title: `${db.schemaName} cluster/status on ${member}` });
    const out = r.stdout ?? "";
    if (!/rc=0\s*$/.test(out)) return `${member}: ${out.replace(/rc=\d+\s*$/, "").trim().split("\n").pop() || "not running"}`;
    return parseClusterStatus(out);
  };
  return member === h.name ? read(h) : h.delegateTo(member, read);
}

const describeStatus = (s: ClusterStatus | string, member: string) =>
  typeof s === "string" ? s : `${member}: ${s.status}, role ${s.role}, leader ${s.leader}`;

/**
 * The ovn role (see the module doc and roles/ovn/README.md).
 *
 * @example ovn({ datapathType: "netdev" })
 */
export const ovn = role({
  name: "ovn",
  params,
  validate: (p) => checkOvnParams(p),
  async run(h, p) {
    const family = h.facts.os.family;
    if (family !== "debian") {
      return h.fail(`ovn: ${h.facts.os.prettyName || family} is not supported yet (Debian family: openvswitch-switch, ovn-central, ovn-host)`);
    }
    const systemd = h.facts.initSystem === "systemd";
    const members = resolveMembers(h, p);
    const first = members[0]!;
    const isMember = members.includes(h.name);
    if (members.length % 2 === 0 && h.name === first) h.warn(`ovn: ${members.length} members: raft tolerates no more failures than with ${members.length - 1}; use an odd number`);
    const addresses = await resolveAddresses(h, p, members);
    const memberAddrs = members.map((m) => addresses[m]!);
    const myAddr = addresses[h.name] ?? addressFromFacts(h.facts, p.interface);
    const encapIp = p.encapIp ?? myAddr;
    if (!encapIp) return h.fail(`ovn: no encap IP for ${h.name}: set encapIp, or \`interface\` to one with an IPv4 address`);
    const systemId = p.systemId ?? h.name;

    await h.package({ name: p.packages ?? ["openvswitch-switch", "ovn-host", ...(isMember ? ["ovn-central"] : [])] });

    // ---- Open vSwitch: the chassis's switch and its settings.
    if (systemd) {
      await h.service({ name: "openvswitch-switch", enabled: true });
      for (const unit of ["ovsdb-server", "ovs-vswitchd"]) await h.service({ name: unit, state: "started" });
    } else {
      await h.service({ name: "openvswitch-switch", enabled: true, state: "started" });
    }
    // ovs-ctl sets external_ids:system-id from this file each time ovsdb-server starts.
    await h.copy({ dest: OVS_SYSTEM_ID_FILE, content: `${systemId}\n`, mode: "0644" });

    // ---- OVN central on members.
    if (isMember) await central(h, p, { members, first, addresses, memberAddrs, systemd });

    // ---- The chassis.
    await h.task(
      ovsExternalIdsTask,
      {
        ids: {
          "system-id": systemId,
          "ovn-remote": remotes(memberAddrs, p.sbPort),
          "ovn-encap-type": p.encapType,
          "ovn-encap-ip": encapIp,
          "ovn-bridge": p.integrationBridge,
          "ovn-bridge-datapath-type": p.datapathType,
        },
        bridgeMappings: Object.fromEntries(p.bridgeMappings.map((m) => [m.network, m.bridge])),
      },
      { title: `chassis ${systemId}: external_ids` },
    );
    await h.task(ovsBridgeTask, { name: p.integrationBridge, datapathType: p.datapathType, ports: [], create: false });
    for (const m of p.bridgeMappings) await h.task(ovsBridgeTask, { name: m.bridge, datapathType: p.datapathType, ports: m.ports, create: true });
    if (systemd) {
      await h.service({ name: "ovn-host", enabled: true });
      await h.service({ name: CONTROLLER.unit, state: "started" });
    } else {
      await h.task(ovnDaemonTask, { daemon: CONTROLLER, state: "started" });
    }
    const sbRemotes = remotes(memberAddrs, p.sbPort);
    await h.waitUntil(
      `chassis ${systemId} is in the Southbound database`,
      async () => {
        const r = await h.command(sh`ovn-sbctl --db=${sbRemotes} --timeout=10 --bare --columns=type,ip find Encap ${`chassis_name=${systemId}`} 2>&1; echo "rc=$?"`, { readOnly: true, title: `chassis ${systemId} in the Southbound database` });
        const out = (r.stdout ?? "").replace(/rc=\d+\s*$/, "").trim();
        const want = `${p.encapType}\n${encapIp}`;
        return out.split(/\n\s*\n/).some((b) => b.trim() === want) ? true : [`Encap of ${systemId}: ${out ? out.replace(/\n/g, " ") : "none"} (want ${p.encapType} ${encapIp})`];
      },
      { timeout: p.leaderTimeout },
    );
  },
});

interface Central {
  members: string[];
  first: string;
  addresses: Record<string, string>;
  memberAddrs: string[];
  systemd: boolean;
}

/** OVN central on a member: its options, its place in both raft clusters, its daemons. */
async function central(h: Host, p: OvnParams, c: Central): Promise<void> {
  const myAddr = c.addresses[h.name]!;
  const others = c.members.filter((m) => m !== h.name);
  const dbDaemons = OVN_DBS.map(dbDaemon);
  // Daemons (re)started in this run read the current options: the restart handler leaves them be.
  const fresh = new Set<string>();
  const ensure = async (d: OvnDaemon, state: "started" | "stopped" | "restarted"): Promise<TaskResult> => {
    const r = c.systemd ? await h.service({ name: d.unit, state }) : await h.task(ovnDaemonTask, { daemon: d, state });
    if (state !== "stopped" && (r.changed || r.status === "unknown")) fresh.add(d.name);
    return r;
  };

  const restart = h.handler("restart ovn central", async () => {
    // One member at a time, each back in its clusters before the next: the raft majority stays.
    await h.oneAtATime("ovn central restart", async () => {
      for (const [i, d] of [...dbDaemons, NORTHD].entries()) {
        if (fresh.has(d.name)) {
          h.log(`ovn: ${d.name} started in this run with the current options: no restart needed`);
          continue;
        }
        await ensure(d, "restarted");
        const db = OVN_DBS[i];
        if (db) await waitMember(h, p, db);
      }
    });
  });

  await h.copy(
    {
      dest: OVN_CENTRAL_DEFAULTS,
      mode: "0644",
      content: ovnCentralDefaults(ovnCtlOpts({ address: myAddr, remote: others.length ? c.addresses[others[0]!] : undefined, memberAddresses: c.memberAddrs, ...p })),
    },
    { notify: restart },
  );
  if (c.systemd) {
    await h.file({ path: NORTHD_DROPIN.path.replace(/\/[^/]+$/, ""), state: "directory", mode: "0755" });
    const dropIn = await h.copy({ dest: NORTHD_DROPIN.path, content: NORTHD_DROPIN.content, mode: "0644" });
    // Now, not in a handler: the next stop of ovn-northd (a restart below) must use it.
    // (A run that stops before this is still safe: the service task reloads when systemd says a unit changed.)
    await h.command("systemctl daemon-reload", { when: dropIn.changed, title: "systemctl daemon-reload (ovn-northd drop-in)" });
    await h.service({ name: "ovn-central", enabled: true });
  }

  for (const [i, db] of OVN_DBS.entries()) {
    const daemon = dbDaemons[i]!;
    const cid = await h.shared(CLUSTER_IDS[db.key], {
      on: c.first,
      read: (m) => readClusterId(m, db, c.members),
      make: (m) => createCluster(m, db, daemon, raftAddress(myAddrOf(c, m.name), raftPort(db, p)), c.systemd),
    });
    const local = await fileState(h, db);
    if (local.kind === "clustered") {
      if (isKnown(cid) && local.cid && local.cid !== cid) {
        return h.fail(`ovn: ${h.name}'s ${db.schemaName} database (${db.file}) belongs to cluster ${local.cid}, not to the members' cluster ${cid}: move it away to join`);
      }
    } else if (!(h.name === c.first && !isKnown(cid))) {
      // Not in the cluster (a new member, or one rebuilt from scratch). In check
      // mode on fresh hosts the first member's create was predicted by `make`.
      await h.oneAtATime(`ovn ${db.key} raft join`, () => join(h, p, db, daemon, cid, local, c, ensure));
    }
    await ensure(daemon, "started");
  }
  await ensure(NORTHD, "started");
  for (const db of OVN_DBS) await waitMember(h, p, db);
}

const myAddrOf = (c: Central, host: string) => c.addresses[host]!;

/**
 * The cluster id of `db` from the members' database files (read on `m`,
 * delegated to each member), or undefined when none holds a clustered
 * database. Different ids on two members, or a bootstrap with members
 * outside the run, stop the run.
 */
async function readClusterId(m: Host, db: OvnDb, members: string[]): Promise<string | undefined> {
  const states: [string, DbFileState][] = [];
  for (const member of members) {
    states.push([member, member === m.name ? await fileState(m, db) : await m.delegateTo(member, (o) => fileState(o, db, member))]);
  }
  const clustered = states.filter(([, s]) => s.kind === "clustered") as [string, Extract<DbFileState, { kind: "clustered" }>][];
  const cids = [...new Set(clustered.map(([, s]) => s.cid).filter((x): x is string => !!x))];
  if (cids.length > 1) {
    throw new Error(`the members hold ${db.schemaName} databases of different clusters (${clustered.map(([n, s]) => `${n}: ${s.cid}`).join(", ")}): move the wrong ones away`);
  }
  if (cids.length === 1) return cids[0];
  if (clustered.length) throw new Error(`${clustered.map(([n]) => n).join(", ")} hold(s) a ${db.schemaName} database still joining an unknown cluster; no member knows its id`);
  const outside = members.filter((x) => !m.play.hosts.includes(x));
  if (outside.length) {
    throw new Error(`no member holds a ${db.schemaName} cluster yet, and ${outside.join(", ")} ${outside.length === 1 ? "is" : "are"} not in this run (--limit or serial): refusing to bootstrap a cluster without every member`);
  }
  return undefined;
}

/**
 * Creates the cluster on the first member (ovn-ctl's create_cluster, done
 * by the role so ovn-ctl never has to): from the package's standalone
 * database when there is one (its contents kept, the file backed up), else
 * from the schema. Returns the new cluster id.
 */
async function createCluster(m: Host, db: OvnDb, daemon: OvnDaemon, local: string, systemd: boolean): Promise<string> {
  const state = await fileState(m, db);
  let from = db.schema;
  if (state.kind === "standalone") {
    if (systemd) await m.service({ name: daemon.unit, state: "stopped" });
    else await m.task(ovnDaemonTask, { daemon, state: "stopped" });
    from = `${db.file}.standalone`;
    await m.command(sh`mv ${db.file} ${from}`, { title: `${db.schemaName}: keep the standalone database as ${from}` });
  }
  await m.command(sh`ovsdb-tool create-cluster ${db.file} ${from} ${local}`, { title: `${db.schemaName}: create the raft cluster at ${local}` });
  const r = await m.command(sh`ovsdb-tool db-cid ${db.file}`, { readOnly: true, title: `${db.schemaName}: the new cluster id` });
  return (r.stdout ?? "").trim();
}

/** Joins `db`'s cluster: wait for a leader, kick this address's stale server, join with the cluster id, start, wait until a member. */
async function join(
  h: Host,
  p: OvnParams,
  db: OvnDb,
  daemon: OvnDaemon,
  cid: string,
  local: DbFileState,
  c: Central,
  ensure: (d: OvnDaemon, state: "started" | "stopped") => Promise<TaskResult>,
): Promise<void> {
  const port = raftPort(db, p);
  const me = raftAddress(c.addresses[h.name]!, port);
  const others = c.members.filter((m) => m !== h.name);
  let leader: { host: string; status: ClusterStatus } | undefined;
  await h.waitUntil(
    `the ${db.schemaName} cluster has a leader`,
    async () => {
      const said: string[] = [];
      for (const o of others) {
        const s = await clusterStatus(h, o, db);
        if (typeof s !== "string" && hasLeader(s)) {
          leader = { host: o, status: s };
          return true;
        }
        said.push(describeStatus(s, o));
      }
      return said.length ? said : ["no other member"];
    },
    { timeout: p.leaderTimeout },
  );
  if (leader) {
    // A member rebuilt from scratch: its old server is still in the membership at this address.
    const stale = staleServers(leader.status, me, null);
    for (const s of stale) {
      await h.delegateTo(leader.host, (o) => o.command(`ovn-appctl -t ${db.ctl} cluster/kick ${db.schemaName} ${s.sid}`, { title: `${db.schemaName}: kick ${h.name}'s stale server ${s.sid} (${s.address})` }));
    }
    if (stale.length) {
      const on = leader.host;
      await h.waitUntil(`${h.name}'s stale ${db.schemaName} server left the cluster`, async () => {
        const s = await clusterStatus(h, on, db);
        if (typeof s === "string") return [s];
        const left = staleServers(s, me, null);
        return left.length === 0 ? true : left.map((x) => `${x.sid} at ${x.address} still listed`);
      }, { timeout: p.leaderTimeout });
    }
  }
  await ensure(daemon, "stopped");
  if (local.kind === "standalone") {
    const backup = `${db.file}.standalone`;
    await h.command(sh`mv ${db.file} ${backup}`, { title: `${db.schemaName}: move the standalone database aside (${backup}): a joining member takes the cluster's` });
  }
  const remoteList = others.map((o) => raftAddress(c.addresses[o]!, port));
  await h.command(sh`ovsdb-tool join-cluster ${`--cid=${cid}`} ${db.file} ${db.schemaName} ${me} ${remoteList}`, { title: `${db.schemaName}: join the raft cluster at ${me} (cluster ${cid})` });
  await ensure(daemon, "started");
  await waitMember(h, p, db);
}

/** Waits until this member's server of `db` is a cluster member that knows the leader. */
async function waitMember(h: Host, p: OvnParams, db: OvnDb): Promise<void> {
  await h.waitUntil(
    `${h.name} is a ${db.schemaName} cluster member with a leader`,
    async () => {
      const s = await clusterStatus(h, h.name, db);
      if (typeof s === "string") return [s];
      return hasLeader(s) ? true : [describeStatus(s, h.name)];
    },
    { timeout: p.leaderTimeout },
  );
}
