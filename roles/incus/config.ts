/**
 * The pure part of the incus role: its parameter types, the preseeds
 * `incus admin init --preseed` reads (bootstrap on the first member, join on
 * the others), and parsing what a host's Incus says about itself. No host
 * access, so all of it is unit-tested (test/unit/role-incus.test.ts).
 *
 * Preseeds are written as JSON, which is YAML: no quoting rules of our own.
 */

/** A storage pool on every member. */
export type IncusStoragePool =
  | {
      name: string;
      driver: "dir";
      /** The pool's directory on each member (Incus' default: under /var/lib/incus/storage-pools/NAME). */
      source?: string;
    }
  | {
      name: string;
      driver: "ceph";
      /** The RBD pool (`ceph.osd.pool_name`), made by Incus when missing. */
      osdPoolName: string;
      /** `ceph.cluster_name` (the /etc/ceph/NAME.conf every member reads). */
      clusterName: string;
      /** `ceph.user.name` (its keyring in /etc/ceph on every member). */
      userName: string;
      /** `ceph.osd.pg_num`. */
      pgNum?: number;
    };

/** A managed bridge Incus makes on every member (dnsmasq serves it). */
export interface IncusBridge {
  type: "bridge";
  name: string;
  /** `ipv4.address`: CIDR on the bridge, `auto` or `none`. */
  ipv4: string;
  /** `ipv6.address`. */
  ipv6: string;
  /** `ipv4.nat`. */
  nat: boolean;
  /** `ipv4.ovn.ranges`: addresses OVN routers take on this bridge when it is an OVN network's uplink. */
  ovnRanges?: string;
}

/** An existing interface or bridge on every member (`parent`) as an OVN uplink: Incus' `physical` network. */
export interface IncusPhysical {
  type: "physical";
  name: string;
  /** `parent`: the member's interface or bridge (member-specific; an OVS bridge is used as it is). */
  parent: string;
  /** `ipv4.gateway`: the uplink's gateway as CIDR (10.202.0.1/24). */
  gateway?: string;
  /** `ipv4.ovn.ranges`: addresses OVN routers take on the uplink (10.202.0.100-10.202.0.150). */
  ovnRanges?: string;
  /** `dns.nameservers` of the uplink. */
  nameservers?: string;
  /** `mtu`. */
  mtu?: number;
}

/** An OVN network: a logical switch and router in the OVN Northbound database, on every member. */
export interface IncusOvn {
  type: "ovn";
  name: string;
  /** `network`: the uplink network (a bridge with `ovnRanges`, or a physical network), or `none` for an isolated network. */
  uplink: string;
  /** `ipv4.address`: the router's address on the network as CIDR, `auto` or `none`. */
  ipv4: string;
  /** `ipv6.address`. */
  ipv6: string;
  /** `ipv4.nat`: NAT to the router's uplink address. */
  nat: boolean;
  /** `bridge.mtu`; default: Incus derives it from the interface holding the chassis's encap IP. */
  mtu?: number;
}

/** A network of the cluster. */
export type IncusNetwork = IncusBridge | IncusPhysical | IncusOvn;

/** The network's global (cluster-wide) config as Incus stores it. */
export function networkConfig(n: IncusNetwork): Record<string, string> {
  const opt = (key: string, v: string | number | undefined): Record<string, string> => (v === undefined ? {} : { [key]: String(v) });
  switch (n.type) {
    case "bridge":
      return { "ipv4.address": n.ipv4, "ipv4.nat": String(n.nat), "ipv6.address": n.ipv6, ...opt("ipv4.ovn.ranges", n.ovnRanges) };
    case "physical":
      return { ...opt("ipv4.gateway", n.gateway), ...opt("ipv4.ovn.ranges", n.ovnRanges), ...opt("dns.nameservers", n.nameservers), ...opt("mtu", n.mtu) };
    case "ovn":
      return { network: n.uplink, "ipv4.address": n.ipv4, "ipv4.nat": String(n.nat), "ipv6.address": n.ipv6, ...opt("bridge.mtu", n.mtu) };
  }
}

/** The network's member-specific config (`incus network create --target MEMBER`); physical: its `parent`. */
export function networkMemberConfig(n: IncusNetwork): Record<string, string> {
  return n.type === "physical" ? { parent: n.parent } : {};
}

/**
 * Types whose networks exist per member and are made in two steps in a
 * cluster (`--target` on each member, then the final create): bridge and
 * physical. An OVN network is one logical network, made in one step.
 */
export const perMember = (n: IncusNetwork) => n.type !== "ovn";

/** A managed network as `incus query /1.0/networks?recursion=1` describes it. */
export interface NetworkState {
  name: string;
  type: string;
  /** `Created`, `Pending` (defined on some members, not created), `Errored`... */
  status: string;
  /** The members it is defined on (pending entries included). */
  locations: string[];
  config: Record<string, string>;
}

/** The managed networks, by name, from `incus query /1.0/networks?recursion=1` (unmanaged interfaces left out). */
export function parseNetworks(json: string): Map<string, NetworkState> {
  const out = new Map<string, NetworkState>();
  let list: unknown;
  try {
    list = JSON.parse(json || "[]");
  } catch {
    return out;
  }
  if (!Array.isArray(list)) return out;
  for (const n of list as { name: string; type: string; managed: boolean; status: string; locations?: string[] | null; config?: Record<string, string> | null }[]) {
    if (!n.managed) continue;
    out.set(n.name, { name: n.name, type: n.type, status: n.status, locations: n.locations ?? [], config: n.config ?? {} });
  }
  return out;
}

/**
 * The global keys to set on an existing network so it holds `n`'s config:
 * only keys the role sets, and never an `auto` Incus has replaced by what
 * it chose.
 */
export function networkDrift(n: IncusNetwork, current: NetworkState): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(networkConfig(n))) {
    if (v === "auto" && current.config[k]) continue;
    if (current.config[k] !== v) out[k] = v;
  }
  return out;
}

/** `k=v` words of a config map (each one shell word when quoted with `sh`). */
export const configWords = (config: Record<string, string>): string[] => Object.entries(config).map(([k, v]) => `${k}=${v}`);

/** What the preseeds need from the role's parameters. */
export interface PreseedParams {
  port: number;
  storagePools: IncusStoragePool[];
  networks: IncusNetwork[];
  /** `cluster.join_token_expiry`, e.g. `3H`, `30M`. */
  tokenExpiry: string;
  /** Extra server config on the bootstrap (`images.auto_update_interval: "0"`...). */
  config: Record<string, string>;
  /** Config of the `default` profile (`security.privileged: "true"`...). */
  profileConfig: Record<string, string>;
}

/** `ADDRESS:PORT`, with brackets around an IPv6 address. */
export function hostPort(address: string, port: number): string {
  return `${address.includes(":") ? `[${address}]` : address}:${port}`;
}

function poolConfig(p: IncusStoragePool): Record<string, string> {
  if (p.driver === "dir") return p.source ? { source: p.source } : {};
  return {
    "ceph.osd.pool_name": p.osdPoolName,
    "ceph.cluster_name": p.clusterName,
    "ceph.user.name": p.userName,
    ...(p.pgNum === undefined ? {} : { "ceph.osd.pg_num": String(p.pgNum) }),
  };
}

/**
 * The first member's preseed: listen address, clustering on under its
 * inventory name, the storage pools and bridges, and the `default` profile
 * (root disk on the first pool, eth0 on the first bridge). Physical and OVN
 * networks are made after the joins (`networkConfig`), once every member
 * is there.
 *
 * @example bootstrapPreseed(p, "tnode1", "10.88.224.11") // {"config":{"core.https_address":"10.88.224.11:8443",...},"cluster":{"server_name":"tnode1","enabled":true},...}
 */
export function bootstrapPreseed(p: PreseedParams, name: string, address: string): string {
  const pool = p.storagePools[0];
  const bridges = p.networks.filter((n): n is IncusBridge => n.type === "bridge");
  const net = bridges[0];
  const devices: Record<string, Record<string, string>> = {
    ...(pool ? { root: { type: "disk", path: "/", pool: pool.name } } : {}),
    ...(net ? { eth0: { type: "nic", name: "eth0", network: net.name } } : {}),
  };
  return JSON.stringify({
    config: { "core.https_address": hostPort(address, p.port), "cluster.join_token_expiry": p.tokenExpiry, ...p.config },
    cluster: { server_name: name, enabled: true },
    storage_pools: p.storagePools.map((s) => ({ name: s.name, driver: s.driver, config: poolConfig(s) })),
    networks: bridges.map((n) => ({ name: n.name, type: "bridge", config: networkConfig(n) })),
    profiles: [{ name: "default", config: p.profileConfig, devices }],
  });
}

/**
 * A joiner's preseed: its own address, the cluster's, the token (a secret:
 * the caller puts the whole text in a Secret), and each member-specific
 * storage key (`source` of a local pool; a ceph pool has none), and each
 * physical network's `parent` (Incus ignores it while that network does
 * not exist yet).
 */
export function joinPreseed(p: PreseedParams, name: string, address: string, clusterAddress: string, token: string): string {
  const memberConfig = [
    ...p.storagePools.flatMap((s) => (s.driver === "dir" ? [{ entity: "storage-pool", name: s.name, key: "source", value: s.source ?? "" }] : [])),
    ...p.networks.flatMap((n) => Object.entries(networkMemberConfig(n)).map(([key, value]) => ({ entity: "network", name: n.name, key, value }))),
  ];
  return JSON.stringify({
    cluster: {
      enabled: true,
      server_name: name,
      server_address: hostPort(address, p.port),
      cluster_address: hostPort(clusterAddress, p.port),
      cluster_token: token,
      member_config: memberConfig,
    },
  });
}

/** A cluster member as `incus cluster list -f json` describes it. */
export interface IncusMember {
  name: string;
  url: string;
  status: string;
  message: string;
}

/** What the role reads from a host's Incus in one round trip (see `PROBE`). */
export interface IncusState {
  /** The `incus` client is installed. */
  installed: boolean;
  /** The daemon answers on its socket. */
  running: boolean;
  /** Clustering is on; `serverName` is this member's name. */
  clustered: boolean;
  serverName: string;
  /** The cluster's members (empty when not clustered). */
  members: IncusMember[];
  /** Instances on this server (standalone), or on this member (clustered). */
  instances: number;
}

/** Section markers of the probe's output. */
const MARK = "=== runbook-incus ";

/**
 * One read-only round trip: is the client installed, does the daemon
 * answer, `/1.0/cluster`, the members, and the instance count. Never fails:
 * a missing piece is an empty section.
 */
export const PROBE = [
  `command -v incus >/dev/null 2>&1 || { echo '${MARK}absent'; exit 0; }`,
  `incus query /1.0 >/dev/null 2>&1 || { echo '${MARK}down'; exit 0; }`,
  `echo '${MARK}cluster'; incus query /1.0/cluster 2>/dev/null`,
  `echo '${MARK}members'; incus cluster list -f json 2>/dev/null`,
  // Instances with their location (a standalone server's is its own): this member's are counted.
  // (Column L exists only on a clustered server.)
  `echo '${MARK}instances'; incus list -f csv -c nL 2>/dev/null || incus list -f csv -c n 2>/dev/null || true`,
].join("\n");

/** Parses the probe's output. */
export function parseProbe(text: string): IncusState {
  const none: IncusState = { installed: false, running: false, clustered: false, serverName: "", members: [], instances: 0 };
  if (text.includes(`${MARK}absent`)) return none;
  if (text.includes(`${MARK}down`)) return { ...none, installed: true };
  const sections: Record<string, string> = {};
  for (const part of text.split(MARK).slice(1)) {
    const nl = part.indexOf("\n");
    sections[nl < 0 ? part.trim() : part.slice(0, nl).trim()] = nl < 0 ? "" : part.slice(nl + 1);
  }
  const json = <T>(s: string | undefined, fallback: T): T => {
    try {
      return s?.trim() ? (JSON.parse(s) as T) : fallback;
    } catch {
      return fallback;
    }
  };
  const cluster = json<{ enabled?: boolean; server_name?: string }>(sections.cluster, {});
  const members = json<{ server_name: string; url: string; status: string; message: string }[]>(sections.members, []);
  const serverName = cluster.server_name ?? "";
  const located = (sections.instances ?? "").split("\n").filter((l) => l.trim()).map((l) => l.split(",")[1] ?? "");
  const instances = cluster.enabled ? located.filter((where) => where === serverName).length : located.length;
  return {
    installed: true,
    running: true,
    clustered: !!cluster.enabled,
    serverName,
    members: cluster.enabled ? members.map((m) => ({ name: m.server_name, url: m.url, status: m.status, message: m.message })) : [],
    instances,
  };
}

/** Pending join tokens from `incus cluster list-tokens -f csv` (`NAME,TOKEN,EXPIRES`): name -> token. */
export function parseTokens(csv: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of csv.split("\n")) {
    const [name, token] = line.trim().split(",");
    if (name && token) out[name] = token;
  }
  return out;
}

/** Members not ONLINE / "Fully operational", as lines for a wait's diagnosis; [] when all are. */
export function unhealthy(members: IncusMember[], want: readonly string[]): string[] {
  const byName = new Map(members.map((m) => [m.name, m]));
  return want.flatMap((n) => {
    const m = byName.get(n);
    if (!m) return [`${n} is not a member`];
    return m.status === "Online" || m.status === "ONLINE" ? [] : [`${n} is ${m.status} (${m.message})`];
  });
}
