/**
 * Role `bridge-stp`: the cluster LAN as reference 000 builds it — the two
 * cluster ports of each node in one Linux bridge with spanning tree on, so
 * the three point-to-point links of the triangle form one network and STP
 * blocks one port to break the loop. The bridge gets the node's cluster
 * address.
 *
 * - **Slackware**: a block in /etc/rc.d/rc.inet1.conf at its own index
 *   (`IFNAME[5]="br0"`, `BRNICS[5]="eth1 eth2"`,
 *   `IFOPTS[5]="stp_state 1 | priority 32768 | forward_delay 1500 | ..."`,
 *   `IPADDRS[5]="10.50.0.1/24"`), which 15.0's rc.inet1 turns into
 *   `ip link add ... type bridge` and `ip link set ... type bridge OPT` at
 *   boot; the ports' own address settings (`IPADDRS[1]`, `USE_DHCP[2]`...)
 *   are emptied.
 * - **Debian**: /etc/network/interfaces.d/runbook-BRIDGE, an ifupdown stanza
 *   with `bridge-ports`/`bridge-stp on`/`bridge-fd`..., sourced from
 *   /etc/network/interfaces; bridge-utils is installed when classic ifupdown
 *   is (it does the bridging for it; ifupdown2 needs nothing).
 * - **Live** (`applyLive`): one read-only probe, then only the `ip` commands
 *   the running host lacks — create the bridge (or correct its STP
 *   settings), free each port of its addresses (a port with an address of
 *   its own is a classic mistake), make it a port, add the bridge's address,
 *   bring everything up — then wait until STP has settled on this host's
 *   ports. The interfaces the run's own connection depends on (the default
 *   route's, the route back to the SSH client's, and what they sit on) are
 *   never touched: a port or bridge among them stops the host with an
 *   error before anything changes.
 *
 * `state: "absent"` removes the bridge (live and persisted) for a host
 * that leaves bridge-stp mode.
 *
 * See roles/bridge-stp/README.md.
 *
 * @example
 *   bridgeStp({ address: "10.50.0.1/24" })
 *   bridgeStp({ ports: ["eth1", "eth2"], priority: 4096, address: "10.50.0.1/24" })   // this node is the root
 *   // per host from host vars: `bridge-stp: { address: 10.50.0.2/24 }`
 */
import { z } from "zod";
import { role, type Host, type Infer, type TaskResult } from "../../runner/index.ts";
import {
  bridgeAddress,
  checkParams,
  liveSteps,
  managementInterfaces,
  parseProbe,
  portAddressRegexp,
  portAddressSettings,
  probeScript,
  RC_INET1_CONF,
  rcInet1Block,
  rcInet1Clashes,
  rcInet1Marker,
  type Live,
} from "./bridge.ts";

/** Debian: the ifupdown file for a bridge (no dot in the name: `source-directory` skips such files). */
export const ifupdownFile = (bridge: string) => `/etc/network/interfaces.d/runbook-${bridge}`;

const params = {
  state: z.enum(["present", "absent"] as const).default("present").describe("`present`: the bridge as described. `absent`: no bridge of this name, live or persisted (its ports are left free, without addresses)."),
  bridge: z.string().default("br0").describe("The bridge's name."),
  ports: z.array(z.string()).default(["eth1", "eth2"]).describe("Its ports: the cluster ports. Never the interface of the management connection."),
  priority: z.int().default(32768).describe("Bridge priority, 0-65535: the lowest (then the lowest MAC) becomes the root bridge."),
  forwardDelay: z.int().default(15).describe("Seconds in each of listening and learning before a port forwards (2-30; 802.1D default 15)."),
  helloTime: z.int().default(2).describe("Seconds between hellos from the root (1-10; default 2)."),
  maxAge: z.int().default(20).describe("Seconds before a silent root's information expires (6-40; default 20). 2 × (helloTime + 1) ≤ maxAge ≤ 2 × (forwardDelay − 1)."),
  address: z.string().optional().describe("The bridge's address, `ADDRESS/PREFIX` (IPv4 or IPv6), usually a host var. None: a bridge without an address. The bridge is the role's: another global address on it (one dropped from here) is removed from the running host."),
  applyLive: z.boolean().default(true).describe("Apply to the running host too (else the persisted configuration only, for the next boot)."),
  waitForStp: z.boolean().default(true).describe("After live changes, wait until no port of the bridge is listening or learning (STP has settled here)."),
  rcInet1Index: z.int().default(5).describe("Slackware: the bridge's index in rc.inet1.conf (below MAXNICS, default 6; not a port's own `ethN` index)."),
  installBridgeUtils: z.boolean().default(true).describe("Debian with classic ifupdown: install bridge-utils, which ifupdown needs to create the bridge at boot."),
};

/** The bridge-stp role's parameters, as `run` receives them. */
export type BridgeStpParams = Infer<typeof params>;

export const bridgeStp = role({
  name: "bridge-stp",
  params,
  validate: (p) => checkParams(p),
  async run(h, p) {
    const family = h.facts.os.family;
    const br = p.bridge;
    // As the login user: sudo would drop $SSH_CONNECTION, which names the management link.
    const probe = await h.command(probeScript(p, family), { readOnly: true, become: false, title: `${br}: live links, addresses and the management connection` });
    const live = parseProbe(probe.stdout ?? "");
    refuseManagement(h, p, live);

    if (p.state === "absent") return removeBridge(h, p, live);

    const current = live.links.get(br);
    if (current && !live.bridge) h.fail(`bridge-stp: ${br} exists and is not a bridge`);
    for (const port of p.ports) {
      const l = live.links.get(port);
      if (l?.master && l.master !== br) h.fail(`bridge-stp: ${port} is already a port of ${l.master}; take it out there first (a port belongs to one bridge or bond)`);
    }

    // ---- persisted, the family's way
    if (family === "slackware") await slackware(h, p, live);
    else if (family === "debian") await debian(h, p, live);
    else h.warn(`bridge-stp: no persistent network configuration for ${family} yet: ${br} is set up live only and will not come back after a reboot`);

    // ---- live
    if (!p.applyLive) return;
    for (const port of p.ports) {
      if (!live.links.has(port)) h.warn(`bridge-stp: port ${port} does not exist now: it joins ${br} at the next boot`);
    }
    const steps = liveSteps(p, live);
    if (!steps.length) {
      h.log(`bridge-stp: ${br} is up with ports ${p.ports.filter((x) => live.links.has(x)).join(", ")} and STP as wanted`);
      return;
    }
    const done: TaskResult[] = [];
    for (const step of steps) done.push(await h.command(step.cmd, { title: step.title }));
    if (p.waitForStp && !done.some((r) => r.predicted)) await waitForStp(h, p);
  },
});

/**
 * Stops the host, before anything changes, when the bridge or one of its
 * ports is an interface the run's own connection depends on.
 */
function refuseManagement(h: Host, p: BridgeStpParams, live: Live): void {
  const mgmt = managementInterfaces(live);
  const why = [
    live.defaultRoutes.length ? `default route via ${live.defaultRoutes.join(", ")}` : "",
    live.routeToClient ? `SSH client reached via ${live.routeToClient}` : "",
  ].filter(Boolean).join("; ");
  const bad = p.state === "present" ? p.ports.filter((x) => mgmt.has(x)) : [];
  if (bad.length) {
    h.fail(`bridge-stp: refusing to make ${bad.join(", ")} a port of ${p.bridge}: it carries the management connection this run uses (${why}); list only the cluster ports`);
  }
  if (mgmt.has(p.bridge)) h.fail(`bridge-stp: refusing to manage ${p.bridge}: it carries the management connection this run uses (${why})`);
}

/** Slackware: the block in rc.inet1.conf, and the ports' own address settings emptied. */
async function slackware(h: Host, p: BridgeStpParams, live: Live): Promise<void> {
  const s = live.slackware ?? { exists: false, assigns: [], maxNics: 6 };
  const clashes = rcInet1Clashes(p, s);
  if (clashes.length) h.fail(`bridge-stp: ${RC_INET1_CONF}: ${clashes.join("; ")}`);
  if (s.exists && portAddressSettings(p, s).length) {
    const re = portAddressRegexp(p);
    if (re) await h.replace({ path: RC_INET1_CONF, regexp: re, replace: '$1""' }, { title: `rc.inet1.conf: no address of their own on ${p.ports.join(", ")} (bridge ports)` });
  }
  await h.blockinfile({
    path: RC_INET1_CONF,
    marker: rcInet1Marker(p.bridge),
    block: rcInet1Block(p),
    create: true,
    mode: "0644",
  }, { title: `rc.inet1.conf: ${p.bridge} at index ${p.rcInet1Index} (BRNICS, IFOPTS, IPADDRS)` });
}

/** Debian: the ifupdown stanza, sourced; bridge-utils for classic ifupdown. */
async function debian(h: Host, p: BridgeStpParams, live: Live): Promise<void> {
  const d = live.debian ?? { ifupdown: "no-ifupdown" as const, packages: [], stanzas: [] };
  const file = ifupdownFile(p.bridge);
  for (const st of d.stanzas) {
    if (p.ports.includes(st.iface) && st.file !== file) {
      h.warn(`bridge-stp: ${st.file}:${st.line} configures ${st.iface} by itself: ifupdown would give the bridge port an address at boot (with base-os, give cluster-port addresses only in frr mode)`);
    }
  }
  if (d.ifupdown !== "no-ifupdown" && d.packages.includes("ifupdown") && !d.packages.includes("bridge-utils") && p.installBridgeUtils) {
    await h.package({ name: "bridge-utils" }, { title: "bridge-utils (ifupdown's bridge support)" });
  }
  await h.file({ path: "/etc/network/interfaces.d", state: "directory", mode: "0755" });
  const addr = bridgeAddress(p);
  await h.template({
    src: new URL("./templates/interfaces.njk", import.meta.url),
    dest: file,
    vars: { file: file.split("/").pop(), bridge: p.bridge, ports: p.ports, address: addr ?? null, priority: p.priority, forwardDelay: p.forwardDelay, helloTime: p.helloTime, maxAge: p.maxAge },
    mode: "0644",
  });
  if (d.ifupdown === "not-sourced") await h.lineinfile({ path: "/etc/network/interfaces", line: "source /etc/network/interfaces.d/*" });
  // The README promises "the run says" it: a warning, shown without -v.
  if (d.ifupdown === "no-ifupdown") h.warn(`bridge-stp: /etc/network/interfaces does not exist (ifupdown not installed): ${file} is written for when it is`);
}

/**
 * Waits until no port of the bridge is listening or learning (sysfs port
 * states 1 and 2): forwarding (3), blocking (4) or disabled (0) are settled.
 * Takes about 2 × forwardDelay after a port joins.
 */
async function waitForStp(h: Host, p: BridgeStpParams): Promise<void> {
  const limit = 2 * p.forwardDelay + p.maxAge + 10;
  await h.command(`cat /sys/class/net/${p.bridge}/brif/*/state 2>/dev/null | tr '\\n' ' '`, {
    readOnly: true,
    title: `${p.bridge}: wait for STP to settle (no port listening or learning; up to ${limit} s)`,
    retries: limit,
    delay: 1,
    until: (r) => !/(^|\s)[12](\s|$)/.test(r.stdout ?? ""),
  });
}

/** `state: absent`: the persisted configuration removed, the bridge deleted (its ports are released, without addresses). */
async function removeBridge(h: Host, p: BridgeStpParams, live: Live): Promise<void> {
  const family = h.facts.os.family;
  if (family === "slackware" && live.slackware?.exists) {
    await h.blockinfile({ path: RC_INET1_CONF, marker: rcInet1Marker(p.bridge), state: "absent" }, { title: `rc.inet1.conf: no ${p.bridge}` });
  }
  if (family === "debian") await h.file({ path: ifupdownFile(p.bridge), state: "absent" });
  const l = live.links.get(p.bridge);
  if (!p.applyLive || !l) return;
  if (!live.bridge) h.fail(`bridge-stp: ${p.bridge} exists and is not a bridge: not deleting it`);
  const ports = [...live.links.values()].filter((x) => x.master === p.bridge).map((x) => x.name).sort();
  await h.command(`ip link del dev ${p.bridge}`, { title: `${p.bridge}: delete the bridge${ports.length ? ` (releases ${ports.join(", ")})` : ""}` });
}
