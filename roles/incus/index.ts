/**
 * Role `incus`: an Incus cluster (references 000-002: Incus on top of the
 * stack, every node a member): the daemon installed and running on every
 * member, the cluster bootstrapped once on the first member, and the others
 * joined one at a time with join tokens made for them on the first member.
 *
 * - **Debian family**: `incus-base` (containers; `incus` adds VMs) from
 *   bookworm-backports on Debian 12 (Incus 6.0 LTS; the role adds the
 *   backports source), `dnsmasq-base` when it manages a bridge; the
 *   package's `/etc/init.d/incus`, or its systemd units.
 * - **Slackware**: the SBo packages from `packageSrc` (reference 001:
 *   `raft`, `cowsql`, `incus`), `/etc/rc.d/rc.incusd` made executable and
 *   started (reference 000/001 copy it, with `/etc/default/incus`, from
 *   their own tree). Not proven on the lab (no Slackware Incus package).
 *
 * State, not history, decides every step (a rerun after a failure goes on
 * where it stopped): the first member bootstraps only when its Incus is not
 * clustered (never when another member already is); a joiner joins only
 * when its own Incus is not clustered, and refuses when it holds instances
 * (joining wipes them) unless `allowWipeOnJoin`. A pending token for a
 * joiner is reused rather than made anew.
 *
 * Networks: bridges in the bootstrap preseed; physical uplinks and OVN
 * networks (the ovn role's Northbound cluster as
 * `network.ovn.northbound_connection`) once every member has joined: each
 * member defines its part (`--target`), then the first member creates them
 * on the cluster. Whatever is missing is made on a later run too.
 *
 * @example
 *   incus({
 *     members: "clusternode",
 *     storagePools: [{ name: "remote", driver: "ceph", osdPoolName: "incus" }],
 *     networks: [
 *       { name: "incusbr0", ipv4: "10.201.0.1/24" },
 *       { type: "physical", name: "UPLINK", parent: "br-uplink", gateway: "10.202.0.1/24", ovnRanges: "10.202.0.100-10.202.0.150" },
 *       { type: "ovn", name: "ovn0", uplink: "UPLINK", ipv4: "10.210.0.1/24" },
 *     ],
 *   })
 */
import { z } from "zod";
import { role, sh, shared, type Host, type Infer, type Secret, type Shared } from "../../runner/index.ts";
import { northboundConnection, ovn } from "../ovn/index.ts";
import {
  bootstrapPreseed,
  configWords,
  joinPreseed,
  networkConfig,
  networkDrift,
  networkMemberConfig,
  parseNetworks,
  parseProbe,
  parseTokens,
  perMember,
  PROBE,
  unhealthy,
  type IncusState,
  type NetworkState,
} from "./config.ts";

export { bootstrapPreseed, configWords, joinPreseed, networkConfig, networkDrift, networkMemberConfig, parseNetworks, parseProbe, parseTokens, perMember, hostPort, unhealthy, PROBE } from "./config.ts";
export type { IncusBridge, IncusMember, IncusNetwork, IncusOvn, IncusPhysical, IncusState, IncusStoragePool, NetworkState, PreseedParams } from "./config.ts";

/** Packages installed by default per family. */
export const DEFAULT_PACKAGES = { debian: ["incus-base"], slackware: ["raft", "cowsql", "incus"] } as const;

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

const dirPool = z.strictObject({
  name: z.string().regex(NAME).default("local"),
  driver: z.literal("dir"),
  source: z.string().optional().describe("The pool's directory on each member (default Incus': /var/lib/incus/storage-pools/NAME)."),
});
const cephPool = z.strictObject({
  name: z.string().regex(NAME).default("remote"),
  driver: z.literal("ceph"),
  osdPoolName: z.string().regex(NAME).describe("The RBD pool (`ceph.osd.pool_name`), made by Incus when missing."),
  clusterName: z.string().regex(NAME).default("ceph").describe("`ceph.cluster_name`: /etc/ceph/NAME.conf on every member."),
  userName: z.string().regex(NAME).default("admin").describe("`ceph.user.name`: its keyring in /etc/ceph on every member."),
  pgNum: z.int().min(1).optional().describe("`ceph.osd.pg_num` of a pool Incus makes."),
});
const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;
const bridge = z.strictObject({
  type: z.literal("bridge").default("bridge"),
  name: z.string().regex(IFNAME).default("incusbr0"),
  ipv4: z.string().default("auto").describe("`ipv4.address`: a CIDR such as 10.201.0.1/24, `auto` or `none`."),
  ipv6: z.string().default("none").describe("`ipv6.address`: a CIDR, `auto` or `none`."),
  nat: z.boolean().default(true).describe("`ipv4.nat`."),
  ovnRanges: z.string().optional().describe("`ipv4.ovn.ranges` (10.201.0.100-10.201.0.150): addresses OVN routers take on this bridge as an OVN network's uplink."),
});
const physical = z.strictObject({
  type: z.literal("physical"),
  name: z.string().regex(NAME).default("UPLINK"),
  parent: z.string().regex(IFNAME).describe("`parent`, per member (set it in host vars where members differ): the interface or bridge that is the uplink. An Open vSwitch bridge (the ovn role's `bridgeMappings`) is used as it is; with a network name equal to the mapping's, Incus adds no mapping of its own."),
  gateway: z.string().optional().describe("`ipv4.gateway`: the uplink's gateway as CIDR (10.202.0.1/24)."),
  ovnRanges: z.string().optional().describe("`ipv4.ovn.ranges`: addresses OVN routers take on the uplink (10.202.0.100-10.202.0.150)."),
  nameservers: z.string().optional().describe("`dns.nameservers` of the uplink."),
  mtu: z.int().min(576).optional().describe("`mtu`."),
});
const ovnNetwork = z.strictObject({
  type: z.literal("ovn"),
  name: z.string().regex(IFNAME),
  uplink: z.string().describe("`network`: the uplink, a bridge with `ovnRanges` or a physical network (listed before this one, or already in the cluster), or `none` for an isolated network."),
  ipv4: z.string().default("auto").describe("`ipv4.address`: the router's address as CIDR (10.210.0.1/24), `auto` or `none`."),
  ipv6: z.string().default("none").describe("`ipv6.address`: a CIDR, `auto` or `none`."),
  nat: z.boolean().default(true).describe("`ipv4.nat`: NAT to the router's address on the uplink."),
  mtu: z.int().min(1280).optional().describe("`bridge.mtu`. Default: Incus derives it from the interface holding this member's `ovn-encap-ip` (less the Geneve overhead), which must then exist when the network is made."),
});

const params = {
  members: z.string().optional().describe("The inventory group whose hosts are the members, in inventory order; the first bootstraps the cluster. Default: the play's hosts (name the group when you run with --limit, so the first member stays the same)."),
  address: z.string().optional().describe("This member's address for the API and the cluster (`core.https_address`): default its inventory address. Set it in host vars (`incus: { address }`) so the other members see it too."),
  port: z.int().min(1).max(65535).default(8443).describe("The API and cluster port."),
  storagePools: z.array(z.discriminatedUnion("driver", [dirPool, cephPool])).default([{ name: "local", driver: "dir" }]).describe("Storage pools made at bootstrap: `dir` (a directory on each member) or `ceph` (RBD; the Ceph client config and keyring must be on every member). The first holds the default profile's root disk."),
  networks: z
    .array(z.discriminatedUnion("type", [bridge, physical, ovnNetwork]))
    .default([{ type: "bridge", name: "incusbr0", ipv4: "auto", ipv6: "none", nat: true }])
    .describe("Networks, in order: managed bridges (`type` bridge, the default; made at bootstrap, dnsmasq serves them; the first is the default profile's eth0), physical uplinks and OVN networks (made once every member has joined). Missing ones are made on later runs too. `[]` for none."),
  ovnNorthbound: z.string().optional().describe("`network.ovn.northbound_connection` (tcp:A:6641,tcp:B:6641,...), set when there is an OVN network. Default: the ovn role's Northbound members, from its parameters in the inventory (`ovn:` vars) and its defaults."),
  tokenExpiry: z.string().regex(/^\d+[SMHdwMy]?$/).default("3H").describe("`cluster.join_token_expiry`: how long a join token lives (Incus units: 30M, 3H, 1d)."),
  config: z.record(z.string(), z.string()).default({}).describe("More server config at bootstrap (`images.auto_update_interval: \"0\"`...)."),
  profileConfig: z.record(z.string(), z.string()).default({}).describe("Config of the `default` profile at bootstrap (`security.privileged: \"true\"`...)."),
  allowWipeOnJoin: z.boolean().default(false).describe("Join a host whose standalone Incus holds instances: joining wipes them. Off: such a host fails and keeps them."),
  backports: z.boolean().default(true).describe("Debian 12: add bookworm-backports (Incus 6.0 LTS) from `mirror`."),
  mirror: z.string().default("http://deb.debian.org/debian").describe("The Debian mirror of the backports source."),
  packages: z.array(z.string()).optional().describe("Packages to install. Default: incus-base (plus dnsmasq-base with a bridge) on Debian; raft, cowsql, incus on Slackware."),
  packageSrc: z.string().optional().describe("Slackware: where the packages are on the host (the package task's `src`). Ignored elsewhere."),
};

/** The incus role's parameters, as `run` receives them. */
export type IncusParams = Infer<typeof params>;

export const BACKPORTS_LIST = "/etc/apt/sources.list.d/bookworm-backports.list";

/** A join token per joiner, made on the first member (one declaration per name, for the run's shared values). */
const tokens = new Map<string, Shared<Secret>>();
function tokenFor(name: string): Shared<Secret> {
  let t = tokens.get(name);
  if (!t) tokens.set(name, (t = shared.secret(`incus join token for ${name}`)));
  return t;
}

/** What Incus on `h` says about itself (read-only, also in check mode). */
async function probe(h: Host, title = "read the Incus state"): Promise<IncusState> {
  const r = await h.command(PROBE, { readOnly: true, title });
  return parseProbe(r.stdout ?? "");
}

/** The cluster's managed networks as `h` sees them (read-only; empty where Incus does not answer yet). */
async function readNetworks(h: Host, title: string): Promise<Map<string, NetworkState>> {
  const r = await h.command("incus query '/1.0/networks?recursion=1' 2>/dev/null || true", { readOnly: true, title });
  return parseNetworks(r.stdout ?? "");
}

/** `network.ovn.northbound_connection`: the parameter, else the ovn role's members as its inventory vars and defaults give them. */
async function ovnNorthbound(h: Host, p: IncusParams): Promise<string> {
  if (p.ovnNorthbound) return p.ovnNorthbound;
  const parsed = ovn.schema.safeParse(h.hostvars(h.name).ovn ?? {});
  if (!parsed.success) return h.fail(`incus: ovnNorthbound is not set, and the ovn role's vars of ${h.name} do not parse (${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}): set ovnNorthbound`);
  return northboundConnection(h, parsed.data);
}

/**
 * The networks of `p` the cluster does not have yet, and drifted global
 * keys of those it has. Every member first defines its own part of each
 * per-member network not created yet (`incus network create NAME --target
 * ME`, with its member keys), then, once all have (a barrier), the first
 * member sets the OVN Northbound connection and creates each network on
 * the whole cluster, in order (an uplink before its OVN network).
 * `bootstrapped`: false only in check mode before the bootstrap, whose
 * preseed holds the bridges.
 */
async function convergeNetworks(h: Host, p: IncusParams, founder: string, bootstrapped: boolean): Promise<void> {
  if (p.networks.length === 0) return;
  const wanted = bootstrapped ? p.networks : p.networks.filter((n) => n.type !== "bridge");
  const mismatch = (current: Map<string, NetworkState>) => {
    for (const n of wanted) {
      const cur = current.get(n.name);
      if (cur && cur.type !== n.type) h.fail(`incus: network ${n.name} exists as a ${cur.type} network, not ${n.type}: rename one of them`);
    }
  };
  let current = await readNetworks(h, "the cluster's networks");
  mismatch(current);
  for (const n of wanted.filter(perMember)) {
    const cur = current.get(n.name);
    if (cur?.status === "Created" || cur?.locations.includes(h.name)) continue;
    await h.command(sh`incus network create ${n.name} ${`--type=${n.type}`} ${`--target=${h.name}`} ${configWords(networkMemberConfig(n))}`, { title: `network ${n.name}: define it on ${h.name}` });
  }
  await h.barrier("incus networks defined on every member");
  if (h.name !== founder) return;

  if (wanted.some((n) => n.type === "ovn")) {
    const nb = await ovnNorthbound(h, p);
    const r = await h.command("incus config get network.ovn.northbound_connection 2>/dev/null || true", { readOnly: true, title: "the OVN Northbound connection" });
    if ((r.stdout ?? "").trim() !== nb) await h.command(sh`incus config set ${`network.ovn.northbound_connection=${nb}`}`, { title: `network.ovn.northbound_connection=${nb}` });
  }
  current = await readNetworks(h, "the cluster's networks, defined on every member");
  for (const n of wanted) {
    const cur = current.get(n.name);
    if (cur?.status === "Created") {
      const drift = networkDrift(n, cur);
      if (Object.keys(drift).length) await h.command(sh`incus network set ${n.name} ${configWords(drift)}`, { title: `network ${n.name}: set ${configWords(drift).join(" ")}` });
      continue;
    }
    await h.command(sh`incus network create ${n.name} ${`--type=${n.type}`} ${configWords(networkConfig(n))}`, { title: `network ${n.name}: create the ${n.type} network on the cluster` });
  }
}

/** Why a host that is not clustered must not join (joining wipes its local data), or undefined. */
function joinRefusal(state: IncusState, name: string, allowWipe: boolean): string | undefined {
  if (state.instances > 0 && !allowWipe) {
    return `incus: ${name} holds ${state.instances} instance(s) in its standalone Incus; joining the cluster wipes them. Move them away, or set allowWipeOnJoin: true.`;
  }
  return undefined;
}

/**
 * The incus role (see the module doc and roles/incus/README.md).
 *
 * @example incus({ members: "clusternode", networks: [] })
 */
export const incus = role({
  name: "incus",
  params,
  validate: (p) => {
    const names = p.storagePools.map((s) => s.name);
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup) return { field: "storagePools", message: `pool ${dup} is listed twice` };
    const nets = p.networks.map((n) => n.name);
    for (const [i, n] of p.networks.entries()) {
      if (nets.indexOf(n.name) !== i) return { field: `networks[${i}].name`, message: `network ${n.name} is listed twice` };
      if (n.type !== "ovn") continue;
      const at = nets.indexOf(n.uplink);
      if (at > i) return { field: `networks[${i}].uplink`, message: `${n.uplink} is listed after ${n.name}: list the uplink first (it is made first)` };
      const up = p.networks[at];
      if (up?.type === "ovn") return { field: `networks[${i}].uplink`, message: `${n.uplink} is an OVN network: an uplink is a bridge or a physical network` };
      if (up?.type === "bridge" && !up.ovnRanges) return { field: `networks[${i}].uplink`, message: `bridge ${n.uplink} has no ovnRanges (ipv4.ovn.ranges): OVN routers need addresses on their uplink` };
    }
    return undefined;
  },
  async run(h, p) {
    const family = h.facts.os.family;
    if (family !== "debian" && family !== "slackware") {
      return h.fail(`incus: ${h.facts.os.prettyName || family} is not supported (Debian family: apt from bookworm-backports; Slackware: SBo packages and rc.incusd)`);
    }
    const peers = await h.peers(p.members);
    const names = peers.map((x) => x.name);
    if (!names.includes(h.name)) return h.fail(`incus: ${h.name} is not one of the members (${p.members ?? "the play's hosts"}: ${names.join(", ")})`);
    const founder = names[0]!;
    const addressOf = (n: string): string => {
      const own = (h.hostvars(n).incus as { address?: unknown } | undefined)?.address;
      return n === h.name && p.address ? p.address : typeof own === "string" ? own : peers.find((x) => x.name === n)!.address;
    };

    // 1. The daemon, installed and running.
    if (family === "debian") {
      if (p.backports && h.facts.os.codename === "bookworm" && !p.packageSrc) {
        await h.copy({ dest: BACKPORTS_LIST, content: `deb ${p.mirror} bookworm-backports main\n`, mode: "0644" }, { title: `${BACKPORTS_LIST} (Incus 6.0)` });
      }
      // Lists without Incus (a source just added, or never fetched): refresh them. From the state, not from the copy's result.
      // Read apt's lists as files: apt-cache would write /var/cache/apt/*.bin (or a temp file), even in check mode.
      const known = await h.command("grep -qsx 'Package: incus-base' /var/lib/apt/lists/*_Packages && echo known || echo unknown", { readOnly: true, title: "apt's lists have incus-base" });
      if (known.stdout?.trim() !== "known") await h.command("apt-get update -q", { title: "apt-get update (Incus' source)" });
      const pkgs = p.packages ?? [...DEFAULT_PACKAGES.debian, ...(p.networks.some((n) => n.type === "bridge") ? ["dnsmasq-base"] : [])];
      await h.package({ name: pkgs });
      // systemd: incus.socket starts incus.service (UnitFileState "indirect"); sysvinit: /etc/init.d/incus.
      await h.service({ name: "incus", enabled: true, state: "started" });
    } else {
      await h.package({ name: [...(p.packages ?? DEFAULT_PACKAGES.slackware)], ...(p.packageSrc !== undefined ? { src: p.packageSrc } : {}) });
      await h.service({ name: "incusd", enabled: true, state: "started" });
    }

    const tokenSpec = (joiner: string) => ({
      on: founder,
      read: async (m: Host) => {
        const r = await m.command("incus cluster list-tokens -f csv 2>/dev/null || true", { readOnly: true, secret: true, title: `pending join token for ${joiner}` });
        const t = parseTokens(r.stdout ?? "")[joiner];
        return t ? m.secret(t) : undefined;
      },
      make: async (m: Host) => {
        const r = await m.command(sh`incus cluster add ${joiner} --quiet`, { secret: true, title: `make a join token for ${joiner}` });
        return m.secret((r.stdout ?? "").trim());
      },
    });

    // 2. The cluster: bootstrapped on the first member, joined by the others one at a time.
    let state = await probe(h);
    if (h.name === founder) {
      if (!state.clustered) {
        for (const other of names.slice(1)) {
          const theirs = await h.delegateTo(other, (o) => probe(o, `is ${other} already clustered?`));
          if (theirs.clustered) {
            return h.fail(`incus: ${other} is already a member of a cluster, and ${h.name} (the first member) is not: bootstrapping would make a second cluster. Join ${h.name} to it by hand (\`incus cluster add ${h.name}\` on ${other}), or list ${other} first.`);
          }
        }
        await h.command("incus admin init --preseed", { stdin: bootstrapPreseed(p, h.name, addressOf(h.name)), title: `bootstrap the Incus cluster on ${h.name}` });
        state = await probe(h, "read the Incus state after the bootstrap");
      }
      // A token for each member of this play that is not in the cluster yet and will ask for it below
      // (one that refuses to join, as it decides from its own state, gets none: no live secret left behind).
      const inCluster = new Set(state.members.map((m) => m.name));
      for (const j of names.slice(1)) {
        if (!h.play.hosts.includes(j) || inCluster.has(j)) continue;
        const theirs = await h.delegateTo(j, (o) => probe(o, `${j}'s Incus before its join`));
        if (!theirs.clustered && !joinRefusal(theirs, j, p.allowWipeOnJoin)) await h.shared(tokenFor(j), tokenSpec(j));
      }
    } else if (!state.clustered) {
      const refused = joinRefusal(state, h.name, p.allowWipeOnJoin);
      if (refused) return h.fail(refused);
      const seen = await h.delegateTo(founder, (f) => probe(f, `${founder}'s members`));
      if (seen.members.some((m) => m.name === h.name)) {
        return h.fail(`incus: ${h.name} is listed as a member on ${founder}, but its own Incus is not clustered (reinstalled?): remove it there (\`incus cluster remove --force ${h.name}\`), then rerun.`);
      }
      const token = await h.shared(tokenFor(h.name), tokenSpec(h.name));
      await h.oneAtATime("incus join", () =>
        h.command("incus admin init --preseed", {
          stdin: h.secret(joinPreseed(p, h.name, addressOf(h.name), addressOf(founder), token.reveal())),
          secret: true,
          title: `join the Incus cluster through ${founder}`,
        }),
      );
    }

    // 3. This member and every member the cluster lists ONLINE, as this member sees it. Not the
    //    members still to join: each waits for itself, and one that refused to join fails alone.
    await h.waitUntil(`${h.name} and the cluster's members ONLINE`, async () => {
      const now = await probe(h, "cluster members");
      if (!now.clustered) return [`${h.name}'s Incus is not clustered`];
      const missing = unhealthy(now.members, [...new Set([h.name, ...now.members.map((m) => m.name)])]);
      return missing.length ? missing : true;
    }, { timeout: 120, interval: 2 });

    // 4. Networks made after the joins (physical uplinks, OVN), and any added since the bootstrap.
    const now = await probe(h, "read the Incus state before the networks");
    await convergeNetworks(h, p, founder, now.clustered);
  },
});
