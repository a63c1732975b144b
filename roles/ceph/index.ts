/**
 * Role `ceph`: a Ceph cluster bootstrapped by hand, in the order of Ceph's
 * "Manual Deployment" guide (no cephadm, no containers): fsid; ceph.conf;
 * keys for `mon.`, `client.admin` and `client.bootstrap-osd`; `monmaptool
 * --create --enable-all-features --addv ...`; `ceph-mon --mkfs` on each
 * initial monitor; monitors started and a wait for quorum; `mgr` keys and
 * daemons; bluestore OSDs (`ceph osd new` + `ceph-osd --mkfs` on a file or
 * a raw device); pools.
 *
 * The fsid and the three bootstrap keys are shared values made once, on the
 * first monitor, and read back from it on every later run (ceph.conf, the
 * monitor's keyring, the admin and bootstrap-osd keyrings, or the running
 * cluster): never made anew where a cluster exists. The keys travel to the
 * other hosts in the run's memory only, as Secrets: into files and onto
 * stdin, never onto a command line, into output or history.
 *
 * Daemons run through their systemd units (`ceph-mon@NAME`...) on systemd
 * hosts, and are started directly elsewhere (the test lab's tini hosts).
 * Debian family only for now (bookworm: Ceph 16.2).
 *
 * @example
 *   ceph({ mons: "clusternode", publicNetwork: "10.50.1.0/24", osds: [{ file: "/var/lib/ceph/osd-data/osd0.img", size: "100G" }], pools: [{ name: "rbd" }] })
 */
import { z } from "zod";
import { isKnown, role, shared, type Host, type Infer, type Peer, type TaskResult } from "../../runner/index.ts";
import { shq } from "../../runner/quote.ts";
import { Secret } from "../../runner/secret.ts";
import { cephConf, checkCephParams, fsidFromConf, inNetwork, keyFromKeyring, keyringText, monAddrv, networkOf, type BootstrapEntity, type MonAddress } from "./config.ts";

export { cephConf, checkCephParams, fsidFromConf, inNetwork, keyFromKeyring, keyringText, monAddrv, networkOf, parseCidr, KEY_CAPS } from "./config.ts";
export type { BootstrapEntity, CephConfView, MonAddress } from "./config.ts";

export const CEPH_CONF = "/etc/ceph/ceph.conf";
export const ADMIN_KEYRING = "/etc/ceph/ceph.client.admin.keyring";
export const BOOTSTRAP_OSD_KEYRING = "/var/lib/ceph/bootstrap-osd/ceph.keyring";
export const monDir = (name: string) => `/var/lib/ceph/mon/ceph-${name}`;
export const mgrDir = (name: string) => `/var/lib/ceph/mgr/ceph-${name}`;

/** The cluster's fsid: read from the first monitor's ceph.conf, made there (a random UUID) only when no cluster exists. */
export const FSID = shared.string("ceph fsid");
/** The bootstrap keys, one shared Secret each. */
const KEYS: Record<BootstrapEntity, ReturnType<typeof shared.secret>> = {
  "mon.": shared.secret("ceph mon. key"),
  "client.admin": shared.secret("ceph client.admin key"),
  "client.bootstrap-osd": shared.secret("ceph client.bootstrap-osd key"),
};

const osdSpec = z.union([
  z.strictObject({
    file: z.string().describe("A file that holds the OSD (bluestore on a sparse file: made with `truncate -s SIZE` when absent)."),
    size: z.string().default("10G").describe("Its size when the role makes it (truncate's units: 10G)."),
  }),
  z.strictObject({ device: z.string().describe("A raw block device for bluestore (its `block` link points at it).") }),
]);

const params = {
  mons: z.string().optional().describe("Inventory group of the monitors, in inventory order (the first makes the fsid and keys). Default: the group `mons` when the inventory has one, else the play's hosts."),
  mgrs: z.string().optional().describe("Inventory group of the managers. Default: the monitors."),
  publicNetwork: z.string().optional().describe("`public_network` (CIDR); each monitor listens on its address in it. Default: the network of the first monitor's default-route address."),
  clusterNetwork: z.string().optional().describe("`cluster_network` (CIDR) for OSD replication traffic; default none (the public network)."),
  osds: z.array(osdSpec).default([]).describe("This host's OSDs, usually in host vars: `{ file, size }` (a sparse file) or `{ device }`."),
  pools: z
    .array(
      z.strictObject({
        name: z.string(),
        size: z.int().default(3),
        minSize: z.int().default(2),
        pgNum: z.int().default(32),
        application: z.string().default("rbd"),
      }),
    )
    .default([]).describe("Replicated pools, made on the first monitor: name, size (3), min size (2), pg_num (32), application (rbd)."),
  poolDefaults: z.strictObject({ size: z.int().default(3), minSize: z.int().default(2) }).default({ size: 3, minSize: 2 }).describe("`osd_pool_default_size` / `_min_size` (also the mgr's own pool)."),
  osdMemoryTarget: z.int().optional().describe("`osd_memory_target` in bytes (Ceph: 4 GiB; at least 896 MiB)."),
  config: z.record(z.string(), z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]))).default({}).describe("More ceph.conf settings by section: `{ mon: { mon_data_avail_warn: 5 } }`."),
  quorumTimeout: z.int().default(300).describe("Seconds every host waits for the monitors' quorum before it fails, naming the monitors missing and whether their port answers."),
  adminKeyring: z.boolean().default(true).describe(`Write ${ADMIN_KEYRING} on every host of the role (monitors always get it).`),
  packages: z.array(z.string()).optional().describe("Packages to install. Default: ceph-mon and ceph-mgr on monitors and managers, ceph-osd on OSD hosts, ceph-common everywhere."),
};

/** The ceph role's parameters, as `run` receives them. */
export type CephParams = Infer<typeof params>;

/** A Ceph daemon as this role runs it. */
type DaemonKind = "mon" | "mgr" | "osd";

/** The ceph CLI with the admin keyring, bounded so a cluster without quorum answers instead of hanging. */
const CEPH = "timeout 30 ceph --connect-timeout 20";

/** The monitors and where they listen. */
async function monitors(h: Host, p: CephParams): Promise<{ mons: Peer[]; addrs: MonAddress[]; publicNetwork: string }> {
  const group = p.mons ?? (h.groups.mons ? "mons" : undefined);
  const mons = await h.peers(group);
  if (mons.length === 0) return h.fail(`ceph: no monitors (group ${group ?? "of the play"} is empty)`);
  const v4 = (m: Peer) => m.facts.interfaces.flatMap((i) => i.addresses.filter((a) => a.family === "inet" && a.scope !== "host").map((a) => ({ ...a, iface: i.name })));
  let publicNetwork = p.publicNetwork;
  if (!publicNetwork) {
    const first = mons[0]!;
    const viaDefault = v4(first).find((a) => a.iface === first.facts.defaultRoute?.interface);
    if (!viaDefault) return h.fail(`ceph: ${first.name} has no default-route IPv4 address to take the public network from: set publicNetwork`);
    publicNetwork = networkOf(viaDefault.address, viaDefault.prefix);
  }
  const addrs: MonAddress[] = [];
  for (const m of mons) {
    const a = v4(m).find((x) => inNetwork(x.address, publicNetwork));
    if (!a) return h.fail(`ceph: monitor ${m.name} has no address in the public network ${publicNetwork} (its IPv4 addresses: ${v4(m).map((x) => `${x.address}/${x.prefix}`).join(", ") || "none"})`);
    addrs.push({ name: m.name, address: a.address });
  }
  return { mons, addrs, publicNetwork };
}

/**
 * The fsid, read on the first monitor: ceph.conf's `fsid`. When a
 * monitor store exists there but no fsid can be read, the host fails:
 * a new fsid would split the cluster.
 */
async function readFsid(m: Host): Promise<string | undefined> {
  const r = await m.command(`cat ${CEPH_CONF} 2>/dev/null; echo '#runbook-stores'; ls -d /var/lib/ceph/mon/ceph-*/store.db 2>/dev/null || true`, { readOnly: true, title: "read the cluster's fsid (ceph.conf)" });
  const [conf = "", stores = ""] = (r.stdout ?? "").split("#runbook-stores\n");
  const fsid = fsidFromConf(conf);
  if (!fsid && stores.trim()) m.fail(`ceph: a monitor store exists (${stores.trim().split("\n").join(", ")}) but ${CEPH_CONF} has no fsid: restore it (the fsid is in the monitor's monmap: ceph-mon --extract-monmap); a new fsid is never made where a cluster exists`);
  return fsid;
}

/**
 * A bootstrap key, read on the first monitor: from its keyring file, else
 * (a monitor store exists) from the running cluster with the monitor's
 * own key. A store whose keys cannot be read fails the host rather than
 * make keys the cluster does not know.
 */
async function readKey(m: Host, entity: BootstrapEntity, firstMon: string): Promise<Secret | undefined> {
  const dir = monDir(firstMon);
  const file = entity === "mon." ? `${dir}/keyring` : entity === "client.admin" ? ADMIN_KEYRING : BOOTSTRAP_OSD_KEYRING;
  const fromCluster = entity === "mon." ? "true" : `${CEPH} -n mon. -k ${shq(`${dir}/keyring`)} auth get ${shq(entity)} 2>/dev/null || echo '#runbook-no-answer'`;
  const script = `if [ -f ${shq(file)} ]; then cat ${shq(file)}; elif [ -d ${shq(`${dir}/store.db`)} ]; then echo '#runbook-store'; ${fromCluster}; fi`;
  const r = await m.command(script, { readOnly: true, secret: true, title: `read the ${entity} key (${file}, else the cluster)` });
  const text = r.stdout ?? "";
  const key = keyFromKeyring(text, entity);
  if (key) return m.secret(key);
  if (text.includes("#runbook-store")) {
    m.fail(`ceph: ${dir} holds a monitor store, but the ${entity} key is neither in ${file} nor readable from the cluster (${text.includes("#runbook-no-answer") ? "no quorum answered" : "no such key"}): start the monitors or restore ${file}; keys are never made anew where a cluster exists`);
  }
  return undefined;
}

/** A new key made on the first monitor (`ceph-authtool --gen-print-key`: prints it, writes nothing). */
async function makeKey(m: Host, entity: BootstrapEntity): Promise<Secret> {
  const r = await m.command("ceph-authtool --gen-print-key", { readOnly: true, secret: true, title: `make the ${entity} key` });
  const key = (r.stdout ?? "").trim();
  if (!/^[A-Za-z0-9+/=]{20,}$/.test(key)) m.fail(`ceph: ceph-authtool --gen-print-key gave no key`);
  return m.secret(key);
}

/**
 * Keeps a daemon running: its systemd unit (enabled and started) on
 * systemd hosts; elsewhere (no init that knows Ceph: the lab's tini hosts)
 * a `pgrep` for it and, when it is not running, the daemon started
 * directly (it forks into the background, as its unit runs it with -f).
 */
async function daemon(h: Host, kind: DaemonKind, id: string): Promise<TaskResult> {
  if (h.facts.initSystem === "systemd") return h.service({ name: `ceph-${kind}@${id}`, enabled: true, state: "started" });
  const pattern = `^([^ ]*/)?ceph-${kind} .*--id ${id}( |$)`;
  const probe = await h.command(`pgrep -f ${shq(pattern)} >/dev/null && echo running || echo stopped`, { readOnly: true, title: `is ceph-${kind}.${id} running` });
  if (probe.stdout?.trim() === "running") return probe;
  return h.command(`ceph-${kind} --cluster ceph --id ${shq(id)} --setuser ceph --setgroup ceph`, { title: `start ceph-${kind}.${id} (no systemd here: started directly)` });
}

/**
 * The monitors' quorum, and what is missing from it: each monitor not in
 * quorum, and whether its v2 port answers from here. Read with the admin
 * keyring; bash's /dev/tcp probes the ports (bash is on every Debian and
 * Slackware host; dash has no /dev/tcp).
 */
async function quorumMissing(h: Host, addrs: MonAddress[], self: string | undefined): Promise<string[]> {
  const ports = addrs.map((m) => `timeout 3 bash -c ${shq(`exec 3<>/dev/tcp/${m.address}/3300`)} 2>/dev/null && echo ${shq(`${m.name} open`)} || echo ${shq(`${m.name} closed`)}`);
  const r = await h.command(`${CEPH} quorum_status -f json 2>/dev/null || echo '{}'; ${ports.join("; ")}`, { readOnly: true, title: "ceph quorum_status" });
  const [json = "{}", ...portLines] = (r.stdout ?? "").trim().split("\n");
  let inQuorum: string[] = [];
  try {
    inQuorum = (JSON.parse(json) as { quorum_names?: string[] }).quorum_names ?? [];
  } catch {
    inQuorum = [];
  }
  const port = (name: string) => (portLines.find((l) => l.startsWith(`${name} `))?.endsWith("open") ? "port 3300 open" : "port 3300 not reachable");
  const out = addrs.filter((m) => !inQuorum.includes(m.name));
  const hasQuorum = inQuorum.length > addrs.length / 2;
  if (hasQuorum && (self === undefined || inQuorum.includes(self))) {
    if (out.length) h.log(`ceph: quorum ${inQuorum.join(", ")}; not in it: ${out.map((m) => `${m.name} (${port(m.name)})`).join(", ")}`);
    return [];
  }
  const missing = out.map((m) => `${m.name} is not in quorum (${m.address}, ${port(m.name)})`);
  return hasQuorum ? missing : [`no quorum (${inQuorum.length} of ${addrs.length} monitors)`, ...missing];
}

/** `ceph-mon --mkfs` with a monmap of all initial monitors and the bootstrap keyring on stdin (never in a file that stays, never on a command line). */
function monMkfsScript(name: string, fsid: string, addrs: MonAddress[]): string {
  const d = monDir(name);
  const addv = addrs.map((m) => `--addv ${shq(m.name)} ${shq(monAddrv(m))}`).join(" ");
  return [
    "set -e",
    `d=${shq(d)}`,
    `if [ -e "$d/store.db" ]; then echo "$d holds a monitor store without a keyring: not made by runbook, left alone" >&2; exit 1; fi`,
    't=$(mktemp -d /var/lib/ceph/tmp/runbook-mkfs.XXXXXX)',
    `trap 'rm -rf "$t"' EXIT`,
    '(umask 077; cat > "$t/keyring")',
    `monmaptool --create --enable-all-features --fsid ${shq(fsid)} ${addv} "$t/monmap" >/dev/null`,
    'chown -R ceph:ceph "$t"',
    'install -d -o ceph -g ceph -m 0750 "$d"',
    `ceph-mon --cluster ceph --mkfs -i ${shq(name)} --monmap "$t/monmap" --keyring "$t/keyring" --setuser ceph --setgroup ceph`,
  ].join("\n");
}

/** Finds the OSD whose `block` is `path`: prints its id, or nothing. */
const osdProbe = (path: string) =>
  `for d in /var/lib/ceph/osd/ceph-*; do [ -f "$d/ready" ] && [ "$(readlink "$d/block")" = ${shq(path)} ] && cat "$d/whoami" && break; done; true`;

/**
 * A new bluestore OSD on `path`, the manual way: a sparse file when it is
 * one and absent, `ceph osd new` with the bootstrap-osd key (the OSD's own
 * key made here and passed on stdin, written to its keyring by the shell,
 * never in argv), its data dir with `block` linked to the path, `ceph-osd
 * --mkfs`. Prints the new id. A failure after `osd new` purges the half-made
 * OSD from the cluster (`osd purge-new`), so a rerun starts clean.
 */
function osdCreateScript(path: string, size: string | undefined): string {
  return [
    "set -e",
    `f=${shq(path)}`,
    ...(size === undefined
      ? ['[ -b "$f" ] || { echo "$f is not a block device" >&2; exit 1; }']
      : ['if [ ! -e "$f" ]; then install -d -o ceph -g ceph "$(dirname "$f")"; truncate -s ' + shq(size) + ' "$f"; fi']),
    'chown ceph:ceph "$f"',
    "uuid=$(cat /proc/sys/kernel/random/uuid)",
    "secret=$(ceph-authtool --gen-print-key)",
    `id=$(printf '{"cephx_secret": "%s"}' "$secret" | ${CEPH} osd new "$uuid" -i - -n client.bootstrap-osd -k ${BOOTSTRAP_OSD_KEYRING})`,
    `trap '[ -n "$done" ] || { ${CEPH} osd purge-new "osd.$id" --yes-i-really-mean-it -n client.bootstrap-osd -k ${BOOTSTRAP_OSD_KEYRING} >/dev/null 2>&1; rm -rf "/var/lib/ceph/osd/ceph-$id"; }' EXIT`,
    'd="/var/lib/ceph/osd/ceph-$id"',
    'install -d -o ceph -g ceph -m 0750 "$d"',
    'ln -sfn "$f" "$d/block"',
    `(umask 077; printf '[osd.%s]\\n\\tkey = %s\\n' "$id" "$secret" > "$d/keyring")`,
    'chown -h ceph:ceph "$d/block" "$d/keyring"',
    // bluestore logs "unable to get device name" for a file: kept in the data dir, not in the run's output.
    'ceph-osd --cluster ceph -i "$id" --mkfs --osd-uuid "$uuid" --osd-objectstore bluestore --setuser ceph --setgroup ceph >"$d/mkfs.log" 2>&1 || { tail -n 20 "$d/mkfs.log" >&2; exit 1; }',
    "done=1",
    'echo "$id"',
  ].join("\n");
}

/** One pool as `ceph osd pool ls detail -f json` lists it. */
interface PoolState {
  pool_name: string;
  size: number;
  min_size: number;
  application_metadata?: Record<string, unknown>;
}

/** The pools: made, sized and tagged with their application, on the first monitor. */
async function pools(h: Host, p: CephParams): Promise<void> {
  if (p.pools.length === 0) return;
  const r = await h.command(`${CEPH} osd pool ls detail -f json`, { readOnly: true, title: "ceph osd pool ls detail" });
  let have: PoolState[] = [];
  if (r.status === "ok") have = JSON.parse(r.stdout || "[]") as PoolState[];
  for (const pool of p.pools) {
    const cur = have.find((x) => x.pool_name === pool.name);
    const name = shq(pool.name);
    if (!cur) await h.command(`${CEPH} osd pool create ${name} ${pool.pgNum} ${pool.pgNum} replicated`, { title: `ceph osd pool create ${pool.name} (pg_num ${pool.pgNum})` });
    // A new pool starts with the pool defaults.
    const size = cur ? { size: cur.size, minSize: cur.min_size } : p.poolDefaults;
    if (size.size !== pool.size) await h.command(`${CEPH} osd pool set ${name} size ${pool.size}`, { title: `pool ${pool.name}: size ${pool.size}` });
    if (size.minSize !== pool.minSize) await h.command(`${CEPH} osd pool set ${name} min_size ${pool.minSize}`, { title: `pool ${pool.name}: min_size ${pool.minSize}` });
    if (!cur?.application_metadata?.[pool.application]) await h.command(`${CEPH} osd pool application enable ${name} ${shq(pool.application)}`, { title: `pool ${pool.name}: application ${pool.application}` });
  }
}

/**
 * The ceph role (see the module doc and roles/ceph/README.md).
 *
 * @example ceph({ mons: "clusternode", osds: [{ file: "/var/lib/ceph/osd-data/osd0.img", size: "10G" }], pools: [{ name: "rbd" }] })
 */
export const ceph = role({
  name: "ceph",
  params,
  validate: (p) => checkCephParams(p),
  async run(h, p) {
    if (h.facts.os.family !== "debian") {
      return h.fail(`ceph: ${h.facts.os.prettyName || h.facts.os.family} is not supported yet (Debian family: apt's ceph-mon, ceph-mgr, ceph-osd)`);
    }
    const { mons, addrs, publicNetwork } = await monitors(h, p);
    const firstMon = mons[0]!.name;
    const mgrNames = p.mgrs ? (h.groups[p.mgrs] ?? h.fail(`ceph: no group "${p.mgrs}" (mgrs) in the inventory`)) : mons.map((m) => m.name);
    const isMon = addrs.some((m) => m.name === h.name);
    const isMgr = mgrNames.includes(h.name);

    // 1. Packages.
    const packages = p.packages ?? ["ceph-common", ...(isMon ? ["ceph-mon"] : []), ...(isMgr ? ["ceph-mgr"] : []), ...(p.osds.length ? ["ceph-osd"] : [])];
    await h.package({ name: packages });

    // 2. fsid and bootstrap keys: read from the first monitor's cluster, else made there once.
    const fsid = await h.shared(FSID, {
      on: firstMon,
      read: readFsid,
      make: async (m) => (await m.command("cat /proc/sys/kernel/random/uuid", { readOnly: true, title: "make the fsid" })).stdout!.trim(),
    });
    const keys = {} as Record<BootstrapEntity, Secret>;
    for (const entity of Object.keys(KEYS) as BootstrapEntity[]) {
      keys[entity] = await h.shared(KEYS[entity], { on: firstMon, read: (m) => readKey(m, entity, firstMon), make: (m) => makeKey(m, entity) });
    }
    const keyring = (entities: BootstrapEntity[]) => h.secret(keyringText(entities.map((e) => [e, keys[e].reveal()])));

    // 3. ceph.conf, the same everywhere.
    const conf = cephConf({ fsid, mons: addrs, publicNetwork, clusterNetwork: p.clusterNetwork, poolDefaults: p.poolDefaults, osdMemoryTarget: p.osdMemoryTarget, config: p.config });
    const confResult = await h.copy({ dest: CEPH_CONF, content: conf, mode: "0644" });

    // 4. Keyrings: admin (0600 root), bootstrap-osd where OSDs are made.
    if (isMon || p.adminKeyring) await h.copy({ dest: ADMIN_KEYRING, content: keyring(["client.admin"]), mode: "0600" });
    if (p.osds.length) await h.copy({ dest: BOOTSTRAP_OSD_KEYRING, content: keyring(["client.bootstrap-osd"]), owner: "ceph", group: "ceph", mode: "0600" });

    // 5. Monitor: mkfs once with the initial monmap, then running.
    if (isMon) {
      await h.command(monMkfsScript(h.name, fsid, addrs), {
        stdin: keyring(["mon.", "client.admin", "client.bootstrap-osd"]),
        creates: `${monDir(h.name)}/keyring`,
        title: `ceph-mon --mkfs ${h.name} (initial monitors ${addrs.map((m) => m.name).join(", ")})`,
      });
      await daemon(h, "mon", h.name);
    }
    if (confResult.changed && confResult.reason.startsWith("update") && isKnown(fsid)) {
      h.warn(`ceph: ${CEPH_CONF} changed; daemons that were already running read it at their next restart (runbook does not restart Ceph daemons by itself)`);
    }

    // 6. Quorum: every host waits for it (the next steps talk to the monitors).
    await h.waitUntil("the Ceph monitors are in quorum", () => quorumMissing(h, addrs, isMon ? h.name : undefined), { timeout: p.quorumTimeout, interval: 2 });

    // 7. Manager.
    if (isMgr) {
      const dir = mgrDir(h.name);
      await h.file({ path: dir, state: "directory", owner: "ceph", group: "ceph", mode: "0750" });
      await h.command(
        `set -e; umask 077; ${CEPH} auth get-or-create ${shq(`mgr.${h.name}`)} mon 'allow profile mgr' osd 'allow *' mds 'allow *' -o ${shq(`${dir}/keyring.new`)} >/dev/null; chown ceph:ceph ${shq(`${dir}/keyring.new`)}; mv ${shq(`${dir}/keyring.new`)} ${shq(`${dir}/keyring`)}`,
        { creates: `${dir}/keyring`, title: `ceph auth get-or-create mgr.${h.name} (into ${dir}/keyring)` },
      );
      await daemon(h, "mgr", h.name);
    }

    // 8. OSDs.
    for (const osd of p.osds) {
      const path = "file" in osd ? osd.file : osd.device;
      const found = await h.command(osdProbe(path), { readOnly: true, title: `which OSD is on ${path}` });
      let id = found.stdout?.trim();
      if (!id) {
        const made = await h.command(osdCreateScript(path, "file" in osd ? osd.size : undefined), { title: `make a bluestore OSD on ${path} (ceph osd new, ceph-osd --mkfs)` });
        id = made.predicted ? undefined : made.stdout?.trim();
      }
      if (id) await daemon(h, "osd", id);
    }

    // 9. Pools, on the first monitor.
    if (h.name === firstMon) await pools(h, p);
  },
});
