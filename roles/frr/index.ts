/**
 * Role `frr`: route the cluster LAN with FRRouting OSPF (reference 001):
 * each node advertises its point-to-point links and a stable loopback /32,
 * and redistributes chosen kernel routes (a VM's /32 that Incus adds) through
 * a prefix list and a route map, so every node reaches every other over the
 * triangle, and around a failed link.
 *
 * - **Debian family**: apt `frr` (bookworm: 8.4), `/etc/init.d/frr` (the
 *   package's frrinit.sh) or the systemd unit.
 * - **Slackware**: the SBo package from `packageSrc` (reference 001:
 *   `protobuf-c`, `libyang`, `frr-10.4.1-x86_64-1_SBo.txz`), after the
 *   `frr` user and the `frr`/`frrvty` groups SBo's build expects (357/358);
 *   `/etc/rc.d/rc.frr` made executable and started.
 *
 * Then, on both: `ospfd=yes` (and `extraDaemons`) in /etc/frr/daemons,
 * `net.ipv4.ip_forward = 1`, and /etc/frr/frr.conf rendered from the typed
 * parameters and checked by FRR's own parser (`vtysh -C -f`) before it
 * replaces the old file. A change to either file restarts FRR once, from a
 * handler: frr-reload.py (the hitless reload) needs python3, which minimal
 * Slackware and the test lab's hosts lack, and `vtysh -f` only adds to the
 * running configuration (a removed `network` line would stay), so a restart
 * is the one way that always leaves FRR running exactly the file.
 *
 * Addresses are not this role's: the links' /30s and the loopback /32 come
 * from base-os's `addresses` (rc.inet1.conf + rc.inet3 on Slackware,
 * ifupdown on Debian, and applied live), which runs first in site.ts.
 *
 * @example
 *   frr({
 *     routerId: "10.50.1.1",
 *     interfaces: [{ name: "eth1" }, { name: "eth2" }],                 // point-to-point by default
 *     passiveInterfaces: ["vxlan0"],
 *     networks: [{ prefix: "192.168.11.0/30", area: 0 }, { prefix: "192.168.33.0/30", area: 0 }, { prefix: "10.50.1.1/32", area: 0 }],
 *     redistribute: { kernel: { prefixes: ["10.50.1.11/32"] } },        // route map REDIST-KERNEL, prefix list VM-ROUTE
 *   })
 */
import { z } from "zod";
import { role, type Host, type Infer, type TaskResult } from "../../runner/index.ts";
import { checkFrrParams, frrConfView, OSPF_NETWORK_TYPES } from "./config.ts";

export { checkFrrParams, frrConfView, parseArea, parsePrefix, FRR_DAEMONS, OSPF_NETWORK_TYPES } from "./config.ts";
export type { FrrConfView, FrrInterface, FrrRedistribute, OspfNetworkType } from "./config.ts";

export const FRR_CONF = "/etc/frr/frr.conf";
export const FRR_DAEMONS_FILE = "/etc/frr/daemons";
/** FRR's own checker: parses the file with vtysh's command tree, no daemon needed (exit 2 and `line N: % Unknown command` on an error). */
export const FRR_VALIDATE = "vtysh -C -f %s";

/**
 * Running = watchfrr runs (it starts the daemons and restarts any that
 * dies). A pattern rather than the script's `status`: reference 001's own
 * rc.frr has no status action.
 */
export const WATCHFRR_PATTERN = "^([^ ]*/)?watchfrr( |$)";

/** The ids SBo's frr.SlackBuild requires (`groupadd -g 357 frr; groupadd -g 358 frrvty; useradd -u 357 -g frr -G frrvty ...`). */
export const SLACKWARE_FRR_USER = { uid: 357, gid: 357, vtyGid: 358, home: "/var/lib/frr" } as const;

/** Packages installed by default per family (reference 001 installs FRR's two SBo dependencies with it). */
export const DEFAULT_PACKAGES = { debian: ["frr"], slackware: ["protobuf-c", "libyang", "frr"] } as const;

const params = {
  routerId: z.string().describe("OSPF router id, an IPv4 address: the node's loopback /32 (reference 001: 10.50.1.N)."),
  hostname: z.string().optional().describe("`hostname` in frr.conf (vtysh's prompt); default the inventory name."),
  interfaces: z
    .array(
      z.strictObject({
        name: z.string(),
        network: z.enum(OSPF_NETWORK_TYPES).default("point-to-point"),
        cost: z.int().optional(),
        helloInterval: z.int().optional(),
        deadInterval: z.int().optional(),
        passive: z.boolean().default(false),
      }),
    )
    .default([]).describe("Interfaces OSPF runs on, with their settings: `network` (default point-to-point, the triangle's DAC links), `cost`, `helloInterval` and `deadInterval` in seconds (FRR: 10 and 40; both ends must agree), `passive` (advertised, no adjacency)."),
  passiveInterfaces: z.array(z.string()).default([]).describe("Interfaces that are only advertised, never form adjacencies (reference 001: vxlan0, which OVN makes later)."),
  networks: z.array(z.strictObject({ prefix: z.string(), area: z.union([z.number(), z.string()]).default(0) })).default([]).describe("`network PREFIX area AREA` lines: the links' prefixes and the loopback /32. Area: a number or a dotted quad."),
  redistribute: z
    .strictObject({
      kernel: z
        .strictObject({
          routeMap: z.string().default("REDIST-KERNEL"),
          prefixList: z.string().default("VM-ROUTE"),
          prefixes: z.array(z.string()),
        })
        .optional(),
    })
    .default({}).describe("Kernel routes to advertise (reference 001: the OSD VM's 10.50.1.1N/32 that Incus adds): `ip prefix-list PREFIXLIST seq 10 permit P` for each prefix, `route-map ROUTEMAP permit 10 / match ip address prefix-list PREFIXLIST`, and `redistribute kernel route-map ROUTEMAP`."),
  extraDaemons: z.array(z.string()).default([]).describe("More daemons to switch on in /etc/frr/daemons (`bfdd`, `bgpd` for `extraConfig`); ospfd always is."),
  log: z.string().default("syslog informational").describe("frr.conf's `log` line."),
  extraConfig: z.string().optional().describe("Lines appended to frr.conf as they are (BGP, BFD, static routes...); checked by `vtysh -C` with the rest."),
  packages: z.array(z.string()).optional().describe("Packages to install. Default: frr (Debian); protobuf-c, libyang, frr (Slackware, reference 001)."),
  packageSrc: z.string().optional().describe("Slackware: where the packages are on the host (a directory, file, glob or URL: the package task's `src`). Ignored elsewhere."),
};

/** The frr role's parameters, as `run` receives them. */
export type FrrParams = Infer<typeof params>;

/** Where FRR lives on a family, and how it restarts there. */
interface Layout {
  family: "debian" | "slackware";
  packages: readonly string[];
  restart(h: Host): Promise<TaskResult>;
}

/**
 * Slackware: `rc.frr stop`, wait until the daemons are gone, `rc.frr start`.
 * Not `rc.frr restart`: reference 001's own rc.frr (copied over SBo's) has a
 * `restart` that calls a function it does not define; stop + start works
 * with it and with SBo's (frrinit.sh). The pattern is anchored on the
 * program path, so the waiting shell never matches itself.
 */
export const SLACKWARE_RESTART = [
  "/etc/rc.d/rc.frr stop",
  "i=0",
  "while pgrep -f '^([^ ]*/)?(watchfrr|zebra|mgmtd|staticd|ospfd|ospf6d|bgpd|bfdd)( |$)' >/dev/null && [ $i -lt 150 ]; do sleep 0.2; i=$((i + 1)); done",
  "/etc/rc.d/rc.frr start",
].join("\n");

const LAYOUTS: Record<"debian" | "slackware", Layout> = {
  debian: {
    family: "debian",
    packages: DEFAULT_PACKAGES.debian,
    // /etc/init.d/frr restart (frrinit.sh: stops watchfrr and every daemon, then starts them), or systemctl.
    restart: (h) => h.service({ name: "frr", state: "restarted" }),
  },
  slackware: {
    family: "slackware",
    packages: DEFAULT_PACKAGES.slackware,
    restart: (h) => h.command(SLACKWARE_RESTART, { title: "rc.frr stop, then start" }),
  },
};

/** The frr.conf template with its view, as the role renders it (unit tests render the same). */
export function frrConfTemplate(p: FrrParams, hostName: string) {
  return { src: new URL("./templates/frr.conf.njk", import.meta.url), dest: FRR_CONF, vars: { frr: frrConfView(p, hostName) } };
}

/**
 * The frr role (see the module doc and roles/frr/README.md).
 *
 * @example frr({ routerId: "10.50.1.1", interfaces: [{ name: "eth1" }, { name: "eth2" }], networks: [{ prefix: "10.50.1.1/32", area: 0 }] })
 */
export const frr = role({
  name: "frr",
  params,
  validate: (p) => checkFrrParams(p),
  async run(h, p) {
    const family = h.facts.os.family;
    if (family !== "debian" && family !== "slackware") {
      return h.fail(`frr: ${h.facts.os.prettyName || family} is not supported (Debian family: apt and /etc/init.d/frr or systemd; Slackware: SBo package and rc.frr)`);
    }
    const layout = LAYOUTS[family];

    // A restart is needed when a file changed while FRR ran; when FRR starts
    // in this run it starts after both files were written, so it already
    // runs them (no second start a moment later).
    let startedNow: "started" | "would start" | false = false;
    const restart = h.handler("restart frr", async () => {
      if (startedNow) {
        h.log(`frr: FRR ${startedNow === "started" ? "started" : "would be started"} in this run with the current files: no restart needed`);
        return;
      }
      return layout.restart(h);
    });

    if (family === "slackware") {
      // Before the package: its files are owned by frr (SBo's build checks these exact ids).
      const u = SLACKWARE_FRR_USER;
      await h.group({ name: "frr", gid: u.gid, system: true });
      await h.group({ name: "frrvty", gid: u.vtyGid, system: true });
      await h.user({ name: "frr", uid: u.uid, group: "frr", groups: ["frrvty"], home: u.home, shell: "/bin/false", comment: "FRR FRRouting suite", createHome: false, system: true });
    }
    await h.package({ name: [...(p.packages ?? layout.packages)], ...(family === "slackware" && p.packageSrc !== undefined ? { src: p.packageSrc } : {}) });
    // Before FRR starts: zebra installs routes other nodes use as a transit path.
    await h.sysctl({ name: "net.ipv4.ip_forward", value: 1 });
    await h.file({ path: "/etc/frr", state: "directory", owner: "frr", group: "frr", mode: "0750" });
    for (const d of ["ospfd", ...p.extraDaemons]) {
      await h.lineinfile({ path: FRR_DAEMONS_FILE, regexp: new RegExp(`^#?\\s*${d}=`), line: `${d}=yes` }, { title: `${FRR_DAEMONS_FILE}: ${d}=yes`, notify: restart });
    }
    await h.template({ ...frrConfTemplate(p, h.name), owner: "frr", group: "frr", mode: "0640", validate: FRR_VALIDATE }, { notify: restart });
    await h.service({ name: "frr", enabled: true });
    const start = await h.service({ name: "frr", state: "started", pattern: WATCHFRR_PATTERN });
    // Unknown (or skipped by a condition): check mode on a host without FRR yet, where the real run starts it.
    startedNow = start.predicted || start.skipped || start.status === "unknown" ? "would start" : start.changed ? "started" : false;
  },
});
