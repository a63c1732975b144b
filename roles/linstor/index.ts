/**
 * Role `linstor`: the cluster's distributed storage layer as references 000
 * and 002 describe it ("Each node will have a thinly allocated LVM pool that
 * will be joined with LINSTOR to the distributed storage pool"; 002: OpenZFS
 * under LINSTOR and DRBD): a LINSTOR satellite on every node, the
 * controller on one, every node registered, a storage pool per node on an
 * LVM thin pool (made from the node's devices) or a zpool, and resource
 * groups for Incus.
 *
 * - **Slackware**: the packages from `packageSrc` (reference 000's build:
 *   jdk, linstor-server, python_linstor, linstor_client, drbd, drbd-utils,
 *   thin-provisioning-tools, zfs), `/etc/rc.d/rc.linstor-satellite`,
 *   `rc.linstor-controller`, `rc.drbd`, `rc.zfs` and
 *   `/etc/default/linstor-satellite`, `linstor-controller`, `zfs`, started
 *   at boot from rc.local.
 * - **Debian family**: DRBD's utilities and LVM from the distribution;
 *   LINSTOR only from LINBIT's repository, when the user configures it
 *   (`linbitRepo`): it is not in Debian's or Ubuntu's archive. Without it
 *   (and without LINSTOR already installed) the host fails naming the
 *   parameter. LINBIT's systemd units, with a drop-in.
 *
 * Every cluster step is decided on the controller host from the
 * controller's own machine-readable lists ({@link planCluster}), so check
 * mode predicts exactly and a converged run is 0 changed and restarts
 * nothing. Waiting for the controller is a readiness check on `linstor -m
 * node list`, never a sleep.
 *
 * @example
 *   linstor({
 *     satellites: "clusternode",
 *     storagePools: { "*": [{ type: "lvmthin", name: "linstor-pool", vg: "linstor", thinpool: "thin", devices: ["/dev/sdb"] }] },
 *     resourceGroups: [{ name: "incus", placeCount: 2, storagePool: "linstor-pool" }],
 *   })
 */
import { z } from "zod";
import { role, sh, type Host, type Infer } from "../../runner/index.ts";
import { shjoin } from "../../runner/quote.ts";
import {
  controllerToml,
  DAEMONS,
  DEFAULT_OPTS,
  defaultFile,
  INCUS_CONTROLLER_KEY,
  INCUS_PROBE,
  incusStep,
  lvmProbe,
  parseLvmProbe,
  planThinPool,
  RC_DRBD,
  RC_ZFS,
  rcLocalBlock,
  rcScript,
  satelliteToml,
  SYSTEMD_DROPIN,
  zfsDefault,
  type Daemon,
} from "./config.ts";
import { convergeCluster, type ControllerIo } from "./cluster.ts";
import type { DesiredPool } from "./plan.ts";

export { convergeCluster, readState } from "./cluster.ts";
export type { ControllerIo, ConvergeOptions } from "./cluster.ts";
export { planCluster, parseMachineReadable, notOnline, EMPTY_STATE, providerKind, backingOf, reportedBacking } from "./plan.ts";
export type { ClusterPlan, ClusterState, DesiredCluster, DesiredPool, DesiredResourceGroup, Step } from "./plan.ts";
export { rcScript, defaultFile, satelliteToml, controllerToml, lvmProbe, parseLvmProbe, planThinPool, incusStep, RC_DRBD, RC_ZFS, SYSTEMD_DROPIN } from "./config.ts";

/** Packages by default: Slackware (reference 000's list, by package name), Debian's own, and LINBIT's on Debian/Ubuntu. */
export const DEFAULT_PACKAGES = {
  slackware: ["jdk", "linstor-server", "python_linstor", "linstor_client", "drbd", "drbd-utils", "thin-provisioning-tools"],
  slackwareZfs: ["zfs"],
  debian: ["drbd-utils", "lvm2", "thin-provisioning-tools"],
  debianZfs: ["zfsutils-linux"],
  linbit: ["linstor-satellite", "drbd-dkms"],
  linbitController: ["linstor-controller", "linstor-client"],
} as const;

export const LINBIT_LIST = "/etc/apt/sources.list.d/linbit.list";
export const LINBIT_KEY = "/etc/apt/keyrings/linbit.asc";

/** LINSTOR object names (storage pools, resource groups). */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,47}$/;
/** LVM names (lvm(8): letters, digits and + _ . -, not starting with -). */
const LVM_NAME = /^[A-Za-z0-9+_.][A-Za-z0-9+_.-]{0,126}$/;

const lvmthinPool = z.strictObject({
  type: z.literal("lvmthin"),
  name: z.string().regex(NAME).default("linstor-pool").describe("The LINSTOR storage pool (the same name on every node makes one pool across them)."),
  vg: z.string().regex(LVM_NAME).describe("The LVM volume group."),
  thinpool: z.string().regex(LVM_NAME).describe("The thin pool LV in it."),
  devices: z.array(z.string().regex(/^\/[^\s]*$/)).default([]).describe("Block devices the volume group is made from when it does not exist (pvcreate, vgcreate). An existing volume group is used as it is."),
  size: z.string().regex(/^(\d+%(FREE|VG|PVS)|\d+(\.\d+)?[bBsSkKmMgGtTpPeE]?)$/).default("100%FREE").describe("The thin pool's size when it is made: extents (`100%FREE`, `90%VG`) or a size (`200G`)."),
});
const zfsPool = z.strictObject({
  type: z.literal("zfs"),
  name: z.string().regex(NAME).default("linstor-pool").describe("The LINSTOR storage pool."),
  zpool: z.string().regex(/^[A-Za-z][A-Za-z0-9_.:/-]*$/).describe("The zpool (or a dataset in it); it must exist: the role does not make zpools."),
  thin: z.boolean().default(true).describe("`zfsthin` (reference 002), else `zfs`."),
});
const pool = z.discriminatedUnion("type", [lvmthinPool, zfsPool]);
export type LinstorPool = z.infer<typeof pool>;

const params = {
  satellites: z.string().optional().describe("The inventory group whose hosts are LINSTOR nodes (each runs a satellite), in inventory order. Default: the play's hosts."),
  controller: z.string().optional().describe("The host that runs the controller and registers everything. Default: the first satellite."),
  controllerNodeType: z.enum(["satellite", "combined"]).default("satellite").describe("The controller host's node type at `node create` (every other node is `satellite`)."),
  addresses: z.record(z.string(), z.string()).default({}).describe("Each node's address for LINSTOR (registration and the satellite's bind address): `{ tnode1: 10.50.1.1 }`. Default: the inventory address. Put it in group vars so the controller sees every node's."),
  storagePools: z.record(z.string(), z.array(pool)).default({}).describe("Storage pools by host (`\"*\"`: every node without its own entry): `lvmthin` {vg, thinpool, devices, size} or `zfs` {zpool, thin}. Put it in group vars: the controller registers what it sees here."),
  resourceGroups: z
    .array(
      z.strictObject({
        name: z.string().regex(NAME),
        placeCount: z.int().min(1).max(16).default(2).describe("Replicas of each resource."),
        storagePool: z.string().regex(NAME).optional().describe("The storage pool the group places on."),
        description: z.string().optional(),
        volumeGroups: z.int().min(0).max(32).default(1).describe("Volume groups 0..N-1 (resources spawned from the group get one volume each)."),
      }),
    )
    .default([])
    .describe("Resource groups (Incus' linstor driver makes its own, named after its pool, unless `linstor.resource_group.name` names one of these)."),
  satellitePort: z.int().min(1).max(65535).default(3366).describe("The satellites' port (LINSTOR's plain default)."),
  controllerPort: z.int().min(1).max(65535).default(3370).describe("The controller's REST API port (the client, Incus)."),
  controllerListen: z.string().default("0.0.0.0").describe("The REST API's listen address (`[http] listen_addr`)."),
  modules: z.array(z.string().regex(/^[A-Za-z0-9_-]+$/)).optional().describe("Kernel modules loaded now and at boot. Default: drbd, and zfs on hosts with a zfs pool."),
  controllerTimeout: z.int().min(1).default(120).describe("Seconds to wait for the controller to answer before the host fails."),
  onlineTimeout: z.int().min(1).default(120).describe("Seconds to wait for registered or reconnected nodes to be ONLINE before the host fails."),
  linbitRepo: z
    .strictObject({
      url: z.string().regex(/^(https?|file):\/\/\S+$/).describe("The repository's URL (LINBIT's public repository or the Ubuntu PPA's)."),
      suite: z.string().regex(/^[A-Za-z0-9._/-]+$/).describe("The suite (a distribution codename, `proxmox-8`...)."),
      components: z.array(z.string().regex(/^[A-Za-z0-9._-]+$/)).default(["drbd-9"]),
      key: z.string().describe("The repository's signing key, ASCII-armored."),
    })
    .optional()
    .describe("Debian/Ubuntu: LINBIT's repository, where LINSTOR comes from (not in the distributions' archives). Required there unless LINSTOR is already installed."),
  packages: z.array(z.string()).optional().describe("Slackware: the packages from `packageSrc` (default jdk, linstor-server, python_linstor, linstor_client, drbd, drbd-utils, thin-provisioning-tools, and zfs with a zfs pool). Debian: LINBIT's packages (default linstor-satellite, drbd-dkms, and linstor-controller, linstor-client on the controller)."),
  packageSrc: z.string().optional().describe("Slackware: where the packages are on the host (the package task's `src`). Ignored elsewhere."),
  javaHome: z.string().default("/opt/java17").describe("Slackware: JAVA_HOME in /etc/default/linstor-* (reference 000: the SBo JDK in /opt/java17)."),
  satelliteOpts: z.string().default(DEFAULT_OPTS.satellite).describe("Slackware: SATELLITE_OPTS (default: LINBIT's unit's --logs and --config-directory)."),
  controllerOpts: z.string().default(DEFAULT_OPTS.controller).describe("Slackware: CONTROLLER_OPTS."),
  zpoolImportOpts: z.string().default("").describe("Slackware: ZPOOL_IMPORT_OPTS in /etc/default/zfs, for rc.zfs's `zpool import -a`."),
  incus: z
    .strictObject({
      controllerConnection: z.string().regex(/^https?:\/\/\S+$/).optional().describe("Default http://CONTROLLER:controllerPort."),
    })
    .optional()
    .describe("Incus on the same hosts: set `storage.linstor.controller_connection` (cluster-wide) through the controller host's Incus."),
};

/** The linstor role's parameters, as `run` receives them. */
export type LinstorParams = Infer<typeof params>;

/** The pools a node has: its own entry, else `"*"`. */
export function poolsOf(p: Pick<LinstorParams, "storagePools">, node: string): LinstorPool[] {
  return p.storagePools[node] ?? p.storagePools["*"] ?? [];
}

/** A pool as the planner takes it. */
export function desiredPool(node: string, x: LinstorPool): DesiredPool {
  return x.type === "lvmthin" ? { node, name: x.name, type: "lvmthin", vg: x.vg, thinpool: x.thinpool } : { node, name: x.name, type: "zfs", zpool: x.zpool, thin: x.thin };
}

/**
 * `linstor -m ...`'s JSON (stdout only: a warning on stderr must not spoil
 * it), or, when the client fails, its error text; never fails the task: the
 * caller decides.
 */
async function readList(h: Host, client: string[], args: string[], title: string): Promise<string> {
  const cmd = shjoin([...client, "-m", ...args]);
  const r = await h.command(`if out=$(${cmd} 2>/dev/null); then printf '%s\n' "$out"; else ${cmd} 2>&1 || true; fi`, { readOnly: true, title });
  return r.stdout ?? "";
}

/** Prints `SERVICE running` or `SERVICE stopped` (rc script's status; systemd's unit state). */
function runningProbe(service: string, slackware: boolean): string {
  const test = slackware ? `[ -x /etc/rc.d/rc.${service} ] && /etc/rc.d/rc.${service} status >/dev/null 2>&1` : `systemctl is-active --quiet ${service}.service 2>/dev/null`;
  return `if ${test}; then echo "${service} running"; else echo "${service} stopped"; fi`;
}

/** Where a node's satellite says why it is not ONLINE. */
function satelliteLog(slackware: boolean): string {
  return slackware ? "/var/log/linstor/satellite and /var/log/linstor-satellite" : "journalctl -u linstor-satellite";
}

/**
 * The LVM thin pool on this host: made from its devices when missing, up to
 * where LVM or the kernel refuses. `toolsPredicted`: check mode predicted
 * installing lvm2, so its absence says nothing yet (planned as from nothing).
 */
async function thinPool(h: Host, x: Extract<LinstorPool, { type: "lvmthin" }>, toolsPredicted: boolean): Promise<void> {
  const probe = await h.command(lvmProbe(x.vg, x.thinpool, x.devices), { readOnly: true, title: `LVM: ${x.vg}/${x.thinpool}` });
  const found = parseLvmProbe(probe.stdout ?? "");
  const plan = planThinPool(found.noLvm && toolsPredicted ? { ...found, noLvm: false } : found, x);
  if (plan.problem) return h.fail(`linstor: storage pool ${x.name}: ${plan.problem}`);
  for (const s of plan.steps) await h.command(shjoin(s.argv), { title: s.title });
}

/**
 * The linstor role (see the module doc and roles/linstor/README.md).
 *
 * @example linstor({ storagePools: { "*": [{ type: "zfs", zpool: "zfs-pool" }] }, resourceGroups: [{ name: "incus" }] })
 */
export const linstor = role({
  name: "linstor",
  params,
  validate: (p) => {
    for (const [host, list] of Object.entries(p.storagePools)) {
      const names = list.map((x) => x.name);
      const dup = names.find((n, i) => names.indexOf(n) !== i);
      if (dup) return { field: `storagePools.${host}`, message: `storage pool ${dup} is listed twice` };
    }
    const pools = new Set(Object.values(p.storagePools).flatMap((l) => l.map((x) => x.name)));
    for (const g of p.resourceGroups) {
      if (g.storagePool && !pools.has(g.storagePool)) return { field: "resourceGroups", message: `resource group ${g.name}: storage pool ${g.storagePool} is not in storagePools` };
    }
    const groups = p.resourceGroups.map((g) => g.name);
    const dupGroup = groups.find((n, i) => groups.indexOf(n) !== i);
    if (dupGroup) return { field: "resourceGroups", message: `resource group ${dupGroup} is listed twice` };
    return undefined;
  },
  async run(h, p) {
    const family = h.facts.os.family;
    if (family !== "debian" && family !== "slackware") {
      return h.fail(`linstor: ${h.facts.os.prettyName || family} is not supported (Slackware: packages from packageSrc and rc.d scripts; Debian family: LINBIT's repository and systemd units)`);
    }
    const slackware = family === "slackware";
    const peers = await h.peers(p.satellites);
    const names = peers.map((x) => x.name);
    if (!names.includes(h.name)) return h.fail(`linstor: ${h.name} is not one of the satellites (${p.satellites ?? "the play's hosts"}: ${names.join(", ")})`);
    const controller = p.controller ?? names[0]!;
    if (!names.includes(controller)) return h.fail(`linstor: the controller ${controller} is not one of the satellites (${names.join(", ")})`);
    const isController = h.name === controller;
    const addressOf = (n: string): string => p.addresses[n] ?? peers.find((x) => x.name === n)!.address;
    const mine = poolsOf(p, h.name);
    const zfs = mine.some((x) => x.type === "zfs");
    const daemons: Daemon[] = isController ? ["satellite", "controller"] : ["satellite"];

    // A config change restarts a daemon that was running when the run began; one that was not
    // starts later in this run with the new config (decided from the state, so a host that fails
    // later in a first run leaves no restart pending for the next).
    const ran = await h.command(daemons.map((d) => runningProbe(DAEMONS[d].service, slackware)).join("\n"), { readOnly: true, title: `LINSTOR daemons running: ${daemons.join(", ")}` });
    const running = new Set((ran.stdout ?? "").split("\n").filter((l) => l.endsWith(" running")).map((l) => l.split(" ")[0]));
    const restart = (d: Daemon) => (running.has(DAEMONS[d].service) ? h.handler(`restart linstor ${d}`, () => h.service({ name: DAEMONS[d].service, state: "restarted" })) : []);
    const notify = { satellite: restart("satellite"), controller: isController ? restart("controller") : [] };

    // 1. Configuration, before the packages: a daemon the package starts at once starts with it.
    await h.file({ path: "/etc/linstor", state: "directory", mode: "0755" });
    await h.copy({ dest: "/etc/linstor/linstor_satellite.toml", content: satelliteToml(addressOf(h.name), p.satellitePort), mode: "0644" }, { notify: notify.satellite });
    if (isController) await h.copy({ dest: "/etc/linstor/linstor.toml", content: controllerToml(p.controllerListen, p.controllerPort), mode: "0644" }, { notify: notify.controller });
    if (slackware) {
      for (const d of daemons) {
        await h.copy({ dest: `/etc/default/${DAEMONS[d].service}`, content: defaultFile(d, d === "satellite" ? p.satelliteOpts : p.controllerOpts, p.javaHome), mode: "0644" }, { notify: notify[d] });
        await h.copy({ dest: `/etc/rc.d/rc.${DAEMONS[d].service}`, content: rcScript(d), mode: "0755" });
      }
      await h.copy({ dest: "/etc/rc.d/rc.drbd", content: RC_DRBD, mode: "0755" });
      if (zfs) {
        await h.copy({ dest: "/etc/rc.d/rc.zfs", content: RC_ZFS, mode: "0755" });
        await h.copy({ dest: "/etc/default/zfs", content: zfsDefault(p.zpoolImportOpts), mode: "0644" });
      }
      // Slackware's rc.M starts only its own scripts: these start from rc.local, pools first, controller last.
      const order = [...(zfs ? ["rc.zfs"] : []), "rc.drbd", ...daemons.map((d) => `rc.${DAEMONS[d].service}`)];
      await h.blockinfile({ path: "/etc/rc.d/rc.local", block: rcLocalBlock(order, "start"), marker: "# {mark} runbook linstor", create: true, mode: "0755" });
      await h.blockinfile({ path: "/etc/rc.d/rc.local_shutdown", block: rcLocalBlock([...order].reverse().filter((s) => s !== "rc.zfs"), "stop"), marker: "# {mark} runbook linstor", create: true, mode: "0755" });
    } else if (h.facts.initSystem === "systemd") {
      for (const d of daemons) {
        const dir = `/etc/systemd/system/${DAEMONS[d].service}.service.d`;
        await h.file({ path: dir, state: "directory", mode: "0755" });
        await h.copy({ dest: `${dir}/runbook.conf`, content: SYSTEMD_DROPIN, mode: "0644" }, { notify: notify[d] });
      }
    }

    // 2. DRBD's utilities and the storage tools (Slackware: the whole set from packageSrc).
    const tools = slackware
      ? await h.package({ name: p.packages ?? [...DEFAULT_PACKAGES.slackware, ...(zfs ? DEFAULT_PACKAGES.slackwareZfs : [])], ...(p.packageSrc !== undefined ? { src: p.packageSrc } : {}) })
      : await h.package({ name: [...DEFAULT_PACKAGES.debian, ...(zfs ? DEFAULT_PACKAGES.debianZfs : [])] });
    const toolsPredicted = tools.predicted === true;

    // 3. The storage under each pool: an LVM thin pool (made when missing), or a zpool (checked).
    for (const x of mine) {
      if (x.type === "lvmthin") await thinPool(h, x, toolsPredicted);
      else if (toolsPredicted) h.log(`linstor: zpool ${x.zpool} is checked once the ZFS tools are installed`);
      else {
        const r = await h.command(sh`zpool list -H -o name ${x.zpool.split("/")[0]!} 2>/dev/null || echo missing`, { readOnly: true, title: `zpool ${x.zpool}` });
        if ((r.stdout ?? "").trim() === "missing") return h.fail(`linstor: storage pool ${x.name}: zpool ${x.zpool.split("/")[0]} does not exist on ${h.name}; the role does not make zpools (zpool create ...)`);
      }
    }

    // 4. Debian/Ubuntu: LINSTOR from LINBIT's repository, only when the user configured it.
    if (!slackware) {
      const pkgs = p.packages ?? [...DEFAULT_PACKAGES.linbit, ...(isController ? DEFAULT_PACKAGES.linbitController : [])];
      const have = await h.command(`dpkg-query -W -f='\${Status}\\n' ${shjoin(pkgs)} 2>/dev/null | grep -c '^install ok installed$' || true`, { readOnly: true, title: "LINSTOR packages installed" });
      const installed = Number((have.stdout ?? "0").trim()) === pkgs.length;
      if (!installed && !p.linbitRepo) {
        return h.fail(`linstor: ${pkgs.join(", ")} are not installed and not in ${h.facts.os.prettyName || "this distribution"}'s archive: set the parameter \`linbitRepo\` (url, suite, key) to LINBIT's repository (or install LINSTOR yourself first)`);
      }
      if (p.linbitRepo) {
        const repo = p.linbitRepo;
        await h.file({ path: "/etc/apt/keyrings", state: "directory", mode: "0755" });
        await h.copy({ dest: LINBIT_KEY, content: repo.key.endsWith("\n") ? repo.key : `${repo.key}\n`, mode: "0644" }, { title: `${LINBIT_KEY} (LINBIT's signing key)` });
        await h.copy({ dest: LINBIT_LIST, content: `deb [signed-by=${LINBIT_KEY}] ${repo.url} ${repo.suite} ${repo.components.join(" ")}\n`, mode: "0644" }, { title: `${LINBIT_LIST}` });
        // Lists without LINSTOR (the source just added, or never fetched): refresh them. Read as files: apt-cache would write its cache even in check mode.
        const known = await h.command(`grep -qsx 'Package: ${pkgs[0]}' /var/lib/apt/lists/*_Packages && echo known || echo unknown`, { readOnly: true, title: `apt's lists have ${pkgs[0]}` });
        if (!installed && known.stdout?.trim() !== "known") await h.command("apt-get update -q", { title: "apt-get update (LINBIT's repository)" });
      }
      await h.package({ name: pkgs });
    }

    // 5. Kernel modules, now and at boot.
    for (const m of p.modules ?? ["drbd", ...(zfs ? ["zfs"] : [])]) await h.kernelModule({ name: m, persist: true });

    // 6. The daemons.
    if (!slackware && h.facts.initSystem !== "systemd") {
      return h.fail(`linstor: LINBIT's packages start LINSTOR with systemd units only, and ${h.name} does not run systemd (init: ${h.facts.initSystem})`);
    }
    for (const d of daemons) await h.service({ name: DAEMONS[d].service, enabled: true, state: "started" });
    // The controller registers nodes once every satellite of this run is set up and started
    // (a host that failed before this point is not waited for; the ONLINE wait names it).
    await h.barrier("linstor satellites started");

    if (!isController) return;

    // 7. The cluster, from the controller's own state.
    const client = ["linstor", "--controllers", `${addressOf(controller)}:${p.controllerPort}`];
    const slackOf = new Map(peers.map((x) => [x.name, x.facts.os.family === "slackware"]));
    const io: ControllerIo = {
      list: (args) => readList(h, client, args, `linstor -m ${args.join(" ")}`),
      run: async (s) => void (await h.command(shjoin([...client, ...s.argv.slice(1)]), { title: `linstor: ${s.why}` })),
      waitUntil: (title, check, timeout) => h.waitUntil(title, check, { timeout, interval: 2 }),
      log: (text) => h.log(text),
    };
    const plan = await convergeCluster(
      io,
      {
        nodes: names.map((n) => ({ name: n, address: addressOf(n), type: n === controller ? p.controllerNodeType : "satellite" })),
        storagePools: names.flatMap((n) => poolsOf(p, n).map((x) => desiredPool(n, x))),
        resourceGroups: p.resourceGroups.map((g) => ({ name: g.name, placeCount: g.placeCount, volumeGroups: g.volumeGroups, ...(g.storagePool ? { storagePool: g.storagePool } : {}), ...(g.description !== undefined ? { description: g.description } : {}) })),
      },
      { controller, controllerTimeout: p.controllerTimeout, onlineTimeout: p.onlineTimeout, satelliteLog: (n) => satelliteLog(slackOf.get(n) ?? false) },
    );
    if (plan.problems.length) return h.fail(`linstor: ${plan.problems.join("; ")}`);

    // 8. Incus' linstor driver pointed at the controller (a cluster-wide setting, set through this member).
    if (p.incus) {
      const url = p.incus.controllerConnection ?? `http://${addressOf(controller)}:${p.controllerPort}`;
      const r = await h.command(INCUS_PROBE, { readOnly: true, title: `incus: ${INCUS_CONTROLLER_KEY}` });
      const step = incusStep(r.stdout ?? "", url);
      if (step === "no-incus") return h.fail(`linstor: \`incus\` is set but Incus is not installed on ${h.name}: run the incus role first, or leave \`incus\` out`);
      if (step === "set") await h.command(sh`incus config set ${INCUS_CONTROLLER_KEY}=${url}`, { title: `incus config set ${INCUS_CONTROLLER_KEY}=${url}` });
    }
  },
});
