/**
 * The pure part of the ovn role: the two raft databases as data, the
 * options ovn-ctl gets (/etc/default/ovn-central), parsers for
 * `cluster/status`, `ovsdb-tool` probes and `ovs-vsctl --format=json`,
 * and the parameter checks the schema cannot express. No host access, so
 * all of it is unit-tested (test/unit/role-ovn.test.ts).
 */
import net from "node:net";

/** One of OVN's two central databases, with Debian's paths (ovn-ctl's defaults). */
export interface OvnDb {
  key: "nb" | "sb";
  /** The schema (database) name: `OVN_Northbound`. */
  schemaName: string;
  file: string;
  schema: string;
  /** ovsdb-server's control socket (`ovn-appctl -t CTL cluster/status DB`). */
  ctl: string;
  pidfile: string;
  /** ovn-ctl's commands for it. */
  start: string;
  stop: string;
  /** The systemd unit that runs it (ovn-central's). */
  unit: string;
}

export const OVN_DBS: readonly OvnDb[] = [
  {
    key: "nb",
    schemaName: "OVN_Northbound",
    file: "/var/lib/ovn/ovnnb_db.db",
    schema: "/usr/share/ovn/ovn-nb.ovsschema",
    ctl: "/var/run/ovn/ovnnb_db.ctl",
    pidfile: "/var/run/ovn/ovnnb_db.pid",
    start: "start_nb_ovsdb",
    stop: "stop_nb_ovsdb",
    unit: "ovn-ovsdb-server-nb",
  },
  {
    key: "sb",
    schemaName: "OVN_Southbound",
    file: "/var/lib/ovn/ovnsb_db.db",
    schema: "/usr/share/ovn/ovn-sb.ovsschema",
    ctl: "/var/run/ovn/ovnsb_db.ctl",
    pidfile: "/var/run/ovn/ovnsb_db.pid",
    start: "start_sb_ovsdb",
    stop: "stop_sb_ovsdb",
    unit: "ovn-ovsdb-server-sb",
  },
];

/** The ports the role uses (ovn-ctl's defaults: 6641/6642 for clients, 6643/6644 for raft). */
export interface OvnPorts {
  nbPort: number;
  sbPort: number;
  nbRaftPort: number;
  sbRaftPort: number;
}

export const clientPort = (db: OvnDb, p: OvnPorts) => (db.key === "nb" ? p.nbPort : p.sbPort);
export const raftPort = (db: OvnDb, p: OvnPorts) => (db.key === "nb" ? p.nbRaftPort : p.sbRaftPort);

/** `tcp:A:PORT,tcp:B:PORT,...`: what ovn-northd and ovn-controller connect to. */
export function remotes(addresses: readonly string[], port: number): string {
  return addresses.map((a) => `tcp:${a}:${port}`).join(",");
}

/** A raft address as ovsdb writes it: `tcp:10.0.0.1:6643`. */
export const raftAddress = (address: string, port: number) => `tcp:${address}:${port}`;

/**
 * OVN_CTL_OPTS for a member: both databases listen for clients on its
 * address and are raft members at it; ovn-northd talks to every member.
 * Every member names a remote (the first other member): the role creates
 * the first member's databases itself (`ovsdb-tool create-cluster`), so
 * ovn-ctl's own create path, which would make a second one-member cluster
 * on a member whose database was lost, is never taken; at worst ovn-ctl
 * joins the existing cluster. A one-member "cluster" has no remote.
 */
export function ovnCtlOpts(opts: { address: string; remote?: string; memberAddresses: readonly string[] } & OvnPorts): string {
  const a = opts.address;
  const words = [
    `--db-nb-addr=${a}`,
    `--db-nb-port=${opts.nbPort}`,
    "--db-nb-create-insecure-remote=yes",
    `--db-sb-addr=${a}`,
    `--db-sb-port=${opts.sbPort}`,
    "--db-sb-create-insecure-remote=yes",
    `--db-nb-cluster-local-addr=${a}`,
    `--db-nb-cluster-local-port=${opts.nbRaftPort}`,
    `--db-sb-cluster-local-addr=${a}`,
    `--db-sb-cluster-local-port=${opts.sbRaftPort}`,
    ...(opts.remote
      ? [
          `--db-nb-cluster-remote-addr=${opts.remote}`,
          `--db-nb-cluster-remote-port=${opts.nbRaftPort}`,
          `--db-sb-cluster-remote-addr=${opts.remote}`,
          `--db-sb-cluster-remote-port=${opts.sbRaftPort}`,
        ]
      : []),
    `--ovn-northd-nb-db=${remotes(opts.memberAddresses, opts.nbPort)}`,
    `--ovn-northd-sb-db=${remotes(opts.memberAddresses, opts.sbPort)}`,
  ];
  return words.join(" ");
}

/** /etc/default/ovn-central as the role writes it (read by the systemd units, and sourced before ovn-ctl elsewhere). */
export function ovnCentralDefaults(opts: string): string {
  return [
    "# Managed by runbook (role ovn): OVN central as a raft cluster member.",
    "# Read by ovn-ovsdb-server-nb/-sb and ovn-northd (systemd), or sourced before ovn-ctl.",
    `OVN_CTL_OPTS="${opts}"`,
    "",
  ].join("\n");
}

/** What `ovsdbFileProbe` says about a database file. */
export type DbFileState = { kind: "missing" } | { kind: "standalone" } | { kind: "clustered"; cid: string | null; sid: string | null; address: string | null };

/**
 * A read-only probe of a database file: `missing`, `standalone`, or
 * `clustered CID SID ADDRESS` (a `-` for what ovsdb-tool cannot tell yet,
 * such as the cluster id of a server that has not finished joining).
 */
export function ovsdbFileProbe(file: string): string {
  const f = `'${file}'`;
  return [
    `if [ ! -e ${f} ]; then echo missing`,
    `elif ovsdb-tool db-is-clustered ${f} 2>/dev/null; then echo "clustered $(ovsdb-tool db-cid ${f} 2>/dev/null || echo -) $(ovsdb-tool db-sid ${f} 2>/dev/null || echo -) $(ovsdb-tool db-local-address ${f} 2>/dev/null || echo -)"`,
    "else echo standalone; fi",
  ].join("\n");
}

export function parseDbFileState(out: string): DbFileState {
  const line = out.trim().split("\n").pop() ?? "";
  const w = line.split(/\s+/);
  if (w[0] === "missing") return { kind: "missing" };
  if (w[0] === "standalone") return { kind: "standalone" };
  if (w[0] === "clustered") {
    const v = (s: string | undefined) => (s && s !== "-" ? s : null);
    return { kind: "clustered", cid: v(w[1]), sid: v(w[2]), address: v(w[3]) };
  }
  throw new Error(`unexpected database probe output: ${JSON.stringify(out.trim())}`);
}

/** One server of `cluster/status`'s `Servers:` list. */
export interface RaftServer {
  /** Short id (4 hex digits) as cluster/status prints it. */
  sid: string;
  address: string;
  self: boolean;
}

/** `ovn-appctl -t CTL cluster/status DB`, parsed. */
export interface ClusterStatus {
  cid: string | null;
  sid: string | null;
  address: string | null;
  /** `cluster member`, `joining cluster`, `left cluster`, `disconnected from the cluster (election timeout)`... */
  status: string;
  role: string;
  /** `self`, a short server id, or `unknown`. */
  leader: string;
  servers: RaftServer[];
}

/**
 * Parses cluster/status (ovsdb-server 2.x/3.x):
 *
 *     Cluster ID: 9e7b (9e7bbf88-30df-4279-8f38-5b03b747171a)
 *     Server ID: 8c5d (8c5dc3a8-...)
 *     Address: tcp:10.88.96.11:6643
 *     Status: cluster member
 *     Role: leader
 *     Leader: self
 *     Servers:
 *         8c5d (8c5d at tcp:10.88.96.11:6643) (self) next_index=2 match_index=2
 */
export function parseClusterStatus(text: string): ClusterStatus {
  const field = (name: string) => new RegExp(`^${name}: (.*)$`, "m").exec(text)?.[1]?.trim();
  const long = (v: string | undefined) => (v ? (/\(([0-9a-f-]{36})\)/.exec(v)?.[1] ?? v) : null);
  const servers: RaftServer[] = [];
  const list = text.split(/^Servers:\s*$/m)[1] ?? "";
  for (const l of list.split("\n")) {
    const m = /^\s+([0-9a-f]+) \(\S+ at (\S+?)\)( \(self\))?/.exec(l);
    if (m) servers.push({ sid: m[1]!, address: m[2]!, self: !!m[3] });
  }
  return {
    cid: long(field("Cluster ID")),
    sid: long(field("Server ID")),
    address: field("Address") ?? null,
    status: field("Status") ?? "",
    role: field("Role") ?? "",
    leader: field("Leader") ?? "unknown",
    servers,
  };
}

/** True when this server knows a leader (is one, or follows one) and is a full member. */
export function hasLeader(s: ClusterStatus): boolean {
  return s.status === "cluster member" && (s.role === "leader" || (s.leader !== "unknown" && s.leader !== ""));
}

/**
 * Servers in the membership at `address` that are not the server now
 * starting there: what a member rebuilt from scratch leaves behind (its
 * old server id) and must be kicked before it joins again.
 */
export function staleServers(s: ClusterStatus, address: string, currentSid: string | null): RaftServer[] {
  return s.servers.filter((v) => v.address === address && !(currentSid && currentSid.startsWith(v.sid)));
}

/** `ovs-vsctl --format=json --columns=external_ids list Open_vSwitch` -> the map. */
export function parseExternalIds(json: string): Record<string, string> {
  const doc = JSON.parse(json) as { data: unknown[][] };
  const cell = doc.data?.[0]?.[0];
  if (!Array.isArray(cell) || cell[0] !== "map") throw new Error(`unexpected ovs-vsctl output: ${json.slice(0, 200)}`);
  return Object.fromEntries((cell[1] as [string, string][]).map(([k, v]) => [k, v]));
}

/** The keys to set and to remove so that `current` holds `wanted` (undefined: the key must be absent). */
export function externalIdsChange(current: Record<string, string>, wanted: Record<string, string | undefined>): { set: [string, string][]; remove: string[] } {
  const set: [string, string][] = [];
  const remove: string[] = [];
  for (const [k, v] of Object.entries(wanted)) {
    if (v === undefined) {
      if (k in current) remove.push(k);
    } else if (current[k] !== v) set.push([k, v]);
  }
  return { set, remove };
}

/**
 * `ovn-bridge-mappings` (`NETWORK:BRIDGE,...`) holding `ours` and keeping
 * every other network's entry: Incus adds its own for an OVN uplink
 * (`UPLINK:incusovn1`), which a rerun must not take away. Undefined when
 * there is nothing to map.
 *
 * @example mergeBridgeMappings("UPLINK:incusovn1", { phy: "br-ex" }) // "UPLINK:incusovn1,phy:br-ex"
 */
export function mergeBridgeMappings(current: string | undefined, ours: Record<string, string>): string | undefined {
  const entries = new Map<string, string>();
  for (const item of (current ?? "").split(",")) {
    const i = item.indexOf(":");
    if (i > 0) entries.set(item.slice(0, i).trim(), item.slice(i + 1).trim());
  }
  for (const [network, bridge] of Object.entries(ours)) entries.set(network, bridge);
  return entries.size ? [...entries].map(([n, b]) => `${n}:${b}`).join(",") : undefined;
}

/** ovs-vsctl's quoting of a map value: a JSON-style string (always valid, needed for `:` and `,`). */
export const ovsdbString = (v: string) => JSON.stringify(v);

/** A problem with one field, as a role's `validate` returns it. */
export interface FieldProblem {
  field: string;
  message: string;
}

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const IFNAME = /^[A-Za-z0-9_.:-]{1,15}$/;

/** The checks zod cannot express: addresses, names, ports. */
export function checkOvnParams(p: {
  addresses: Record<string, string>;
  encapIp?: string;
  interface?: string;
  systemId?: string;
  integrationBridge: string;
  bridgeMappings: { network: string; bridge: string; ports: string[] }[];
} & OvnPorts): FieldProblem | undefined {
  for (const [host, a] of Object.entries(p.addresses)) {
    if (net.isIP(a) === 0) return { field: `addresses.${host}`, message: `${JSON.stringify(a)} is not an IP address` };
  }
  if (p.encapIp !== undefined && net.isIP(p.encapIp) === 0) return { field: "encapIp", message: `${JSON.stringify(p.encapIp)} is not an IP address` };
  if (p.interface !== undefined && !IFNAME.test(p.interface)) return { field: "interface", message: `${JSON.stringify(p.interface)} is not an interface name` };
  if (p.systemId !== undefined && !NAME.test(p.systemId)) return { field: "systemId", message: `${JSON.stringify(p.systemId)} is not a chassis name (letters, digits, _ . -)` };
  if (!IFNAME.test(p.integrationBridge)) return { field: "integrationBridge", message: `${JSON.stringify(p.integrationBridge)} is not a bridge name` };
  const ports: (keyof OvnPorts)[] = ["nbPort", "sbPort", "nbRaftPort", "sbRaftPort"];
  const seen = new Map<number, string>();
  for (const k of ports) {
    const v = p[k];
    if (!Number.isInteger(v) || v < 1 || v > 65535) return { field: k, message: `must be a port 1-65535, got ${v}` };
    if (seen.has(v)) return { field: k, message: `${v} is also ${seen.get(v)}` };
    seen.set(v, k);
  }
  const networks = new Set<string>();
  for (const [i, m] of p.bridgeMappings.entries()) {
    if (!NAME.test(m.network)) return { field: `bridgeMappings[${i}].network`, message: `${JSON.stringify(m.network)} is not a network name` };
    if (networks.has(m.network)) return { field: `bridgeMappings[${i}].network`, message: `${m.network} is mapped twice` };
    networks.add(m.network);
    if (!IFNAME.test(m.bridge) || m.bridge === p.integrationBridge) return { field: `bridgeMappings[${i}].bridge`, message: `${JSON.stringify(m.bridge)} is not a bridge name other than the integration bridge` };
    for (const [j, port] of m.ports.entries()) if (!IFNAME.test(port)) return { field: `bridgeMappings[${i}].ports[${j}]`, message: `${JSON.stringify(port)} is not an interface name` };
  }
  return undefined;
}
