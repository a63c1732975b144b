/**
 * The pure part of base-os's network configuration: parsing the
 * `addresses` parameter, Slackware's rc.inet1.conf indexes, and reading the
 * live state from `ip -o link` / `ip -o addr`. No host access here, so it is
 * unit-tested with captured output.
 */
import net from "node:net";

/** One interface's wanted addresses, split by family, each as `ADDRESS/PREFIX`. */
export interface InterfaceAddresses {
  name: string;
  v4: string[];
  v6: string[];
}

const IFNAME = /^[A-Za-z0-9_.:-]{1,15}$/;

/** `a.b.c.d/nn` or `x::y/nn`, the v6 form compressed as `ip` prints it; throws on anything else. */
export function normCidr(cidr: string, iface: string): { family: 4 | 6; cidr: string } {
  const m = /^([^/\s]+)\/(\d{1,3})$/.exec(cidr);
  const family = m ? net.isIP(m[1]!) : 0;
  if (!m || (family !== 4 && family !== 6)) throw new Error(`addresses.${iface}: ${JSON.stringify(cidr)} is not ADDRESS/PREFIX (e.g. 192.168.11.1/30)`);
  const prefix = Number(m[2]);
  if (prefix > (family === 4 ? 32 : 128)) throw new Error(`addresses.${iface}: prefix /${prefix} is too long for ${m[1]}`);
  const address = family === 6 ? new net.SocketAddress({ address: m[1]!, family: "ipv6" }).address : m[1]!;
  return { family, cidr: `${address}/${prefix}` };
}

/**
 * The `addresses` parameter (`{ eth1: ["192.168.11.1/30"], lo: ["10.50.1.1/32"] }`)
 * checked and split by family, interfaces in the order given.
 */
export function parseAddresses(addresses: Record<string, readonly string[]>): InterfaceAddresses[] {
  return Object.entries(addresses).map(([name, list]) => {
    if (!IFNAME.test(name)) throw new Error(`addresses: invalid interface name ${JSON.stringify(name)}`);
    const out: InterfaceAddresses = { name, v4: [], v6: [] };
    for (const a of list) {
      const n = normCidr(a, name);
      const into = n.family === 4 ? out.v4 : out.v6;
      if (!into.includes(n.cidr)) into.push(n.cidr);
    }
    return out;
  });
}

/** Slackware's rc.inet1.conf index of an interface (`eth1` -> 1), or null when it has none (lo, enp1s0). */
export function rcInet1Index(name: string): number | null {
  const m = /^eth(\d+)$/.exec(name);
  return m ? Number(m[1]) : null;
}

/**
 * Live interfaces: whether each is up, its addresses (`ADDRESS/PREFIX`, v6
 * compressed) and which of them are global scope (configuration, not the
 * kernel's loopback and link-local addresses).
 */
export type LiveInterfaces = Map<string, { up: boolean; addresses: Set<string>; global: Set<string> }>;

/**
 * Parses `ip -o link show`, a line `---`, then `ip -o addr show`.
 *
 * @example parseLive("3: eth1@if12: <BROADCAST,UP,LOWER_UP> mtu 1500 ...\n---\n3: eth1    inet 192.168.11.1/30 brd ...\n")
 *   // Map { "eth1" => { up: true, addresses: Set { "192.168.11.1/30" } } }
 */
export function parseLive(text: string): LiveInterfaces {
  const [links = "", addrs = ""] = text.split(/^---$/m);
  const out: LiveInterfaces = new Map();
  for (const l of links.split("\n")) {
    const m = /^\d+:\s+([^:@\s]+)(?:@[^:\s]*)?:\s+<([^>]*)>/.exec(l);
    if (m) out.set(m[1]!, { up: m[2]!.split(",").includes("UP"), addresses: new Set(), global: new Set() });
  }
  for (const l of addrs.split("\n")) {
    const f = l.trim().split(/\s+/);
    if (f.length < 4 || (f[2] !== "inet" && f[2] !== "inet6")) continue;
    const iface = f[1]!.replace(/@.*$/, "");
    let cidr = f[3]!;
    try {
      cidr = normCidr(cidr, iface).cidr;
    } catch {
      continue; // a peer address form we do not manage
    }
    out.get(iface)?.addresses.add(cidr);
    if (f.includes("global")) out.get(iface)?.global.add(cidr);
  }
  return out;
}

/** What applying `addresses` live takes: commands with titles, and notes for the output. */
export interface LivePlan {
  steps: { title: string; cmd: string }[];
  notes: { warn: boolean; text: string }[];
}

/**
 * The live address changes for the wanted interfaces: missing addresses
 * added (and a down link brought up). Global addresses on those interfaces
 * that `addresses` does not list are removed with `prune`, else named in a
 * warning (a DHCP or hand-made address is not the role's to drop unasked).
 * Never the interface of the default route (`mgmt`, the management link
 * the run uses) nor one missing now: those are for the next boot.
 *
 * @example liveAddressPlan([{ name: "eth1", v4: ["192.168.11.5/30"], v6: [] }], parseLive(text), "eth0", true)
 *   // { steps: [{ title: "eth1: remove 192.168.11.1/30, add 192.168.11.5/30", cmd: "ip addr del 192.168.11.1/30 dev eth1 && ip addr replace 192.168.11.5/30 dev eth1" }], notes: [] }
 */
export function liveAddressPlan(ifaces: InterfaceAddresses[], live: LiveInterfaces, mgmt: string | undefined, prune: boolean): LivePlan {
  const plan: LivePlan = { steps: [], notes: [] };
  for (const i of ifaces) {
    if (i.name === mgmt) {
      plan.notes.push({ warn: false, text: `base-os: ${i.name} carries the default route (the management link): its addresses are configured for the next boot only` });
      continue;
    }
    const cur = live.get(i.name);
    if (!cur) {
      plan.notes.push({ warn: false, text: `base-os: interface ${i.name} does not exist now: its addresses are configured for the next boot only` });
      continue;
    }
    const wanted = [...i.v4, ...i.v6];
    const missing = wanted.filter((a) => !cur.addresses.has(a));
    const extra = [...cur.global].filter((a) => !wanted.includes(a));
    if (extra.length && !prune) {
      plan.notes.push({ warn: true, text: `base-os: ${i.name} also carries ${extra.join(", ")}, not in addresses (left as is; pruneAddresses: true removes it)` });
    }
    const remove = prune ? extra : [];
    const what = [...(cur.up ? [] : ["link up"]), ...remove.map((a) => `remove ${a}`), ...missing.map((a) => `add ${a}`)];
    if (!what.length) continue;
    // Deleting a subnet's primary address deletes its secondaries too (unless
    // promote_secondaries is set): after a removal every wanted address is
    // put back with `replace`, which adds it or leaves it as it is.
    const put = remove.length ? wanted.map((a) => `ip addr replace ${a} dev ${i.name}`) : missing.map((a) => `ip addr add ${a} dev ${i.name}`);
    const cmds = [...(cur.up ? [] : [`ip link set dev ${i.name} up`]), ...remove.map((a) => `ip addr del ${a} dev ${i.name}`), ...put];
    plan.steps.push({ title: `${i.name}: ${what.join(", ")}`, cmd: cmds.join(" && ") });
  }
  return plan;
}
