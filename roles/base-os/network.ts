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

/** Live interfaces: whether each is up, and its addresses (`ADDRESS/PREFIX`, v6 compressed). */
export type LiveInterfaces = Map<string, { up: boolean; addresses: Set<string> }>;

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
    if (m) out.set(m[1]!, { up: m[2]!.split(",").includes("UP"), addresses: new Set() });
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
  }
  return out;
}
