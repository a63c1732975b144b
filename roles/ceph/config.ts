/**
 * The pure part of the ceph role: networks and monitor addresses,
 * ceph.conf and keyring texts, parameter checks. No host access, so all of
 * it is unit-tested.
 */
import net from "node:net";

/** Capabilities of the keys made at bootstrap (Ceph's manual deployment guide). */
export const KEY_CAPS = {
  "mon.": { mon: "allow *" },
  "client.admin": { mds: "allow *", mgr: "allow *", mon: "allow *", osd: "allow *" },
  "client.bootstrap-osd": { mgr: "allow r", mon: "profile bootstrap-osd" },
} as const;

export type BootstrapEntity = keyof typeof KEY_CAPS;

/**
 * A keyring file: one `[entity]` section per key with its caps, as
 * `ceph-authtool` writes them. `keys` are the base64 cephx keys.
 *
 * @example keyringText([["client.admin", "AQ...=="]]) // "[client.admin]\n\tkey = AQ...==\n\tcaps mds = \"allow *\"\n..."
 */
export function keyringText(keys: [BootstrapEntity, string][]): string {
  return keys
    .map(([entity, key]) => {
      const caps = Object.entries(KEY_CAPS[entity]).map(([svc, cap]) => `\tcaps ${svc} = "${cap}"\n`);
      return `[${entity}]\n\tkey = ${key}\n${caps.join("")}`;
    })
    .join("");
}

/** The key of `entity` in a keyring file's text, or undefined. */
export function keyFromKeyring(text: string, entity: string): string | undefined {
  let inSection = false;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    const section = /^\[(.+)\]$/.exec(line);
    if (section) {
      inSection = section[1] === entity;
      continue;
    }
    const key = /^key\s*=\s*(\S+)$/.exec(line);
    if (inSection && key) return key[1];
  }
  return undefined;
}

/** The `fsid = ...` of a ceph.conf text, or undefined. */
export function fsidFromConf(text: string): string | undefined {
  const m = /^\s*fsid\s*=\s*([0-9a-fA-F-]{36})\s*$/m.exec(text);
  return m?.[1]?.toLowerCase();
}

const ipv4Number = (a: string) => a.split(".").reduce((n, o) => n * 256 + Number(o), 0);
const dotted = (n: number) => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join(".");
const maskOf = (len: number) => (len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0);

/** `a.b.c.d/n` as [network number, length], or null when it is not an IPv4 CIDR. */
export function parseCidr(cidr: string): [number, number] | null {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(cidr);
  if (!m || net.isIPv4(m[1]!) !== true) return null;
  const len = Number(m[2]);
  if (len > 32) return null;
  return [(ipv4Number(m[1]!) & maskOf(len)) >>> 0, len];
}

/** The network an address with a prefix length is on: `10.88.128.11`, 20 -> `10.88.128.0/20`. */
export function networkOf(address: string, prefix: number): string {
  return `${dotted((ipv4Number(address) & maskOf(prefix)) >>> 0)}/${prefix}`;
}

/** Whether an IPv4 address lies in a CIDR network. */
export function inNetwork(address: string, cidr: string): boolean {
  const c = parseCidr(cidr);
  if (!c || net.isIPv4(address) !== true) return false;
  return ((ipv4Number(address) & maskOf(c[1])) >>> 0) === c[0];
}

/** One monitor: its id (the inventory name) and its address on the public network. */
export interface MonAddress {
  name: string;
  address: string;
}

/** A monitor's messenger v2 and v1 addresses, as monmaptool --addv and mon_host take them. */
export const monAddrv = (m: MonAddress) => `[v2:${m.address}:3300,v1:${m.address}:6789]`;

/** What ceph.conf is made from. */
export interface CephConfView {
  fsid: string;
  mons: MonAddress[];
  publicNetwork: string;
  clusterNetwork?: string;
  poolDefaults: { size: number; minSize: number };
  osdMemoryTarget?: number;
  /** More settings by section (`global`, `mon`, `osd`, `client.admin`...). */
  config: Record<string, Record<string, string | number | boolean>>;
}

/**
 * /etc/ceph/ceph.conf, the same on every host of the cluster: the
 * manual-deployment settings (fsid, mon_initial_members, mon_host,
 * public_network, cephx), the pool defaults, and `config` section by
 * section, keys sorted so the file does not move between runs.
 */
export function cephConf(v: CephConfView): string {
  const sections: Record<string, Record<string, string | number | boolean>> = {
    global: {
      fsid: v.fsid,
      mon_initial_members: v.mons.map((m) => m.name).join(", "),
      mon_host: v.mons.map(monAddrv).join(","),
      public_network: v.publicNetwork,
      ...(v.clusterNetwork ? { cluster_network: v.clusterNetwork } : {}),
      auth_cluster_required: "cephx",
      auth_service_required: "cephx",
      auth_client_required: "cephx",
      osd_pool_default_size: v.poolDefaults.size,
      osd_pool_default_min_size: v.poolDefaults.minSize,
    },
    // Every client and daemon here reclaims its global_id securely (Ceph
    // >= 14.2.20): the insecure path stays closed, and its warning away.
    mon: { auth_allow_insecure_global_id_reclaim: false },
    osd: v.osdMemoryTarget ? { osd_memory_target: v.osdMemoryTarget } : {},
  };
  for (const [section, settings] of Object.entries(v.config)) sections[section] = { ...sections[section], ...settings };
  const out = ["# Managed by runbook (role ceph): changes here are overwritten.\n"];
  for (const [section, settings] of Object.entries(sections)) {
    const keys = Object.keys(settings);
    if (keys.length === 0) continue;
    const fixed = section === "global" ? keys : keys.sort();
    out.push(`\n[${section}]\n`, ...fixed.map((k) => `${k} = ${String(settings[k])}\n`));
  }
  return out.join("");
}

/** A problem with one field, as a role's `validate` returns it. */
export interface FieldProblem {
  field: string;
  message: string;
}

/** The parameters `checkCephParams` looks at. */
export interface CephCheckParams {
  publicNetwork?: string;
  clusterNetwork?: string;
  osds: ({ file: string; size: string } | { device: string })[];
  pools: { name: string; size: number; minSize: number; pgNum: number }[];
  config: Record<string, Record<string, unknown>>;
}

const SIZE = /^[1-9]\d*[KMGT]?$/;
const POOL = /^[A-Za-z0-9_.-]{1,64}$/;
const SECTION = /^(global|mon|mgr|osd|mds|client|(mon|mgr|osd|mds|client)\.[A-Za-z0-9_.-]+)$/;
const SETTING = /^[a-z][a-z0-9_ ]*$/;

/** Checks what the schema cannot; the first problem with its field, or undefined. */
export function checkCephParams(p: CephCheckParams): FieldProblem | undefined {
  for (const field of ["publicNetwork", "clusterNetwork"] as const) {
    const v = p[field];
    if (v !== undefined && !parseCidr(v)) return { field, message: `${JSON.stringify(v)} is not an IPv4 network (ADDRESS/LENGTH, e.g. 10.50.1.0/24)` };
  }
  const paths = new Set<string>();
  for (const [i, o] of p.osds.entries()) {
    const path = "file" in o ? o.file : o.device;
    const field = `osds[${i}].${"file" in o ? "file" : "device"}`;
    if (!path.startsWith("/") || /[\s'"\\]/.test(path)) return { field, message: `${JSON.stringify(path)} is not an absolute path without spaces or quotes` };
    if (paths.has(path)) return { field, message: `${path} is listed twice` };
    paths.add(path);
    if ("file" in o && !SIZE.test(o.size)) return { field: `osds[${i}].size`, message: `${JSON.stringify(o.size)} is not a size such as 10G (a number with K, M, G or T)` };
  }
  const names = new Set<string>();
  for (const [i, pool] of p.pools.entries()) {
    if (!POOL.test(pool.name)) return { field: `pools[${i}].name`, message: `${JSON.stringify(pool.name)} is not a pool name (letters, digits, _ . -)` };
    if (names.has(pool.name)) return { field: `pools[${i}].name`, message: `pool ${pool.name} is listed twice` };
    names.add(pool.name);
    if (pool.size < 1 || pool.minSize < 1 || pool.minSize > pool.size) return { field: `pools[${i}].minSize`, message: `min size ${pool.minSize} must be between 1 and the size (${pool.size})` };
    if (pool.pgNum < 1) return { field: `pools[${i}].pgNum`, message: "must be at least 1" };
  }
  for (const [section, settings] of Object.entries(p.config)) {
    if (!SECTION.test(section)) return { field: `config.${section}`, message: `${JSON.stringify(section)} is not a ceph.conf section (global, mon, mgr, osd, client, or TYPE.ID)` };
    for (const key of Object.keys(settings)) {
      if (!SETTING.test(key)) return { field: `config.${section}.${key}`, message: `${JSON.stringify(key)} is not a ceph.conf setting name` };
    }
  }
  return undefined;
}
