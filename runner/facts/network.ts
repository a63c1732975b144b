/**
 * Network facts: interfaces with their addresses, and the default route.
 *
 * With iproute2 (every supported distribution ships it) that is two `ip`
 * calls. Without it (minimal containers) the links come from /sys/class/net
 * through shell builtins and the addresses from `ifconfig`, or, with no tools
 * at all, from /proc/net/if_inet6 and /proc/net/fib_trie.
 */
import type { FactUnit, RawFacts, ScriptFragment } from "./unit.ts";
import type { DefaultRoute, InterfaceAddress, InterfaceState, NetworkInterface } from "./types.ts";

const ROUTE = "/proc/net/route";

const network: ScriptFragment = {
  id: "network",
  script: [
    "if command -v ip >/dev/null 2>&1; then",
    // -d adds the link kind (bridge, veth, ...); busybox ip may refuse it.
    "s ip-link",
    "ip -d -o link show || ip -o link show",
    "s ip-addr",
    "ip -o addr show",
    "else",
    "s sys-net",
    "for d in /sys/class/net/*; do",
    '[ -r "$d/ifindex" ] || continue',
    "printf 'iface %s\\n' \"${d##*/}\"",
    // carrier is unreadable (EINVAL) on a link that is administratively down.
    "for a in ifindex iflink address operstate carrier mtu type flags; do",
    'read -r v < "$d/$a" && printf \'%s=%s\\n\' "$a" "$v"',
    "done",
    "for k in bridge bonding tun_flags; do",
    "[ -e \"$d/$k\" ] && printf 'has=%s\\n' \"$k\"",
    "done",
    // The master's name is the last component of the `master` symlink; a
    // subshell cd -P reads it without running readlink.
    '[ -L "$d/master" ] && (cd -P "$d/master" && printf \'master=%s\\n\' "${PWD##*/}")',
    "done",
    "if command -v ifconfig >/dev/null 2>&1; then",
    "s ifconfig",
    "ifconfig -a",
    "else",
    "s if-inet6",
    "cat /proc/net/if_inet6",
    "s fib-trie",
    "cat /proc/net/fib_trie",
    "fi",
    "fi",
  ].join("\n"),
};

const STATES: ReadonlySet<string> = new Set(["up", "down", "unknown", "dormant", "lowerlayerdown", "notpresent", "testing"]);

function state(s: string | undefined): InterfaceState {
  const v = (s ?? "").toLowerCase();
  return STATES.has(v) ? (v as InterfaceState) : "unknown";
}

/** busybox `ip link` prints no `state`; the flags tell most of it. */
function stateFromFlags(flags: readonly string[]): InterfaceState {
  if (!flags.includes("UP")) return "down";
  if (flags.includes("LOWER_UP")) return "up";
  return flags.includes("NO-CARRIER") ? "down" : "unknown";
}

const MAC = /^[0-9a-f]{2}(?::[0-9a-f]{2})+$/i;

/** Words that can start an `ip -d -o link` segment and are not a link kind. */
const NOT_KINDS = new Set(["altname", "alias", "vf", "prop", "addrgenmode", "numtxqueues", "link-netnsid"]);

/**
 * Parses `ip -o link` (optionally `-d`) output.
 *
 * @example
 * parseIpLink("2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc fq_codel state UP mode DEFAULT group default qlen 1000\\    link/ether 52:54:00:12:34:56 brd ff:ff:ff:ff:ff:ff")[0]?.mac
 * // "52:54:00:12:34:56"
 */
export function parseIpLink(text: string): NetworkInterface[] {
  const out: NetworkInterface[] = [];
  for (const line of text.split("\n")) {
    const m = /^(\d+):\s+([^\s@:]+)(?:@\S*?)?:\s+<([^>]*)>\s*(.*)$/.exec(line);
    if (!m || out.some((i) => i.name === m[2])) continue;
    // -o joins what would be separate lines with a backslash.
    const segments = m[4]!.split("\\").map((s) => s.trim());
    const head = segments[0] ?? "";
    const flags = m[3]!.split(",").filter(Boolean);
    const operstate = /\bstate (\S+)/.exec(head)?.[1];
    const iface: NetworkInterface = {
      name: m[2]!,
      index: Number(m[1]),
      mac: null,
      state: operstate ? state(operstate) : stateFromFlags(flags),
      mtu: Number(/\bmtu (\d+)/.exec(head)?.[1] ?? 0),
      flags,
      addresses: [],
    };
    const master = /\bmaster (\S+)/.exec(head)?.[1];
    if (master) iface.master = master;
    const link = /^link\/(\S+)(?:\s+(\S+))?/.exec(segments[1] ?? "");
    if (link) {
      iface.linkType = link[1]!;
      if (link[2] && MAC.test(link[2])) iface.mac = link[2].toLowerCase();
    }
    for (const seg of segments.slice(2)) {
      const [word, arg] = seg.split(/\s+/);
      if (!word) continue;
      if (word === "altname" && arg) (iface.altnames ??= []).push(arg);
      else if (!iface.kind && !NOT_KINDS.has(word) && !word.endsWith("_slave") && /^[a-z][a-z0-9_]*$/.test(word)) {
        iface.kind = word;
      }
    }
    out.push(iface);
  }
  return out;
}

/**
 * An address with the name of its interface, as the address parsers return it.
 *
 * @example
 * const a: NamedAddress = { name: "eth0", address: { family: "inet", address: "10.0.0.5", prefix: 24 } };
 */
export interface NamedAddress {
  name: string;
  address: InterfaceAddress;
}

/**
 * Parses `ip -o addr` output into addresses per interface name.
 *
 * @example
 * parseIpAddr("2: eth0    inet 10.0.0.5/24 brd 10.0.0.255 scope global eth0\\       valid_lft forever preferred_lft forever")
 * // [{ name: "eth0", address: { family: "inet", address: "10.0.0.5", prefix: 24, scope: "global" } }]
 */
export function parseIpAddr(text: string): NamedAddress[] {
  const out: NamedAddress[] = [];
  for (const line of text.split("\n")) {
    const m = /^\d+:\s+([^\s@]+)(?:@\S+)?\s+(inet6?)\s+([0-9a-fA-F.:]+)(?:\/(\d+))?(.*)$/.exec(line);
    if (!m) continue;
    const family = m[2] as "inet" | "inet6";
    const rest = m[5]!.split("\\")[0]!;
    const peer = /\bpeer ([0-9a-fA-F.:]+)(?:\/(\d+))?/.exec(rest);
    const prefix = m[4] ?? peer?.[2] ?? (family === "inet" ? "32" : "128");
    const address: InterfaceAddress = { family, address: m[3]!, prefix: Number(prefix) };
    const scope = /\bscope (\S+)/.exec(rest)?.[1];
    if (scope) address.scope = scope;
    if (peer) address.peer = peer[1]!;
    out.push({ name: m[1]!, address });
  }
  return out;
}

const ARPHRD: Readonly<Record<string, string>> = {
  "1": "ether",
  "32": "infiniband",
  "768": "ipip",
  "772": "loopback",
  "776": "sit",
  "778": "gre",
  "65534": "none",
};

/** Kernel IFF_* bits as /sys/class/net/X/flags shows them, in `ip link`'s order. */
const IFF: readonly [number, string][] = [
  [0x8, "LOOPBACK"],
  [0x2, "BROADCAST"],
  [0x10, "POINTOPOINT"],
  [0x1000, "MULTICAST"],
  [0x80, "NOARP"],
  [0x200, "ALLMULTI"],
  [0x100, "PROMISC"],
  [0x400, "MASTER"],
  [0x800, "SLAVE"],
  [0x1, "UP"],
];

function parseSysNet(text: string): NetworkInterface[] {
  const out: NetworkInterface[] = [];
  let cur: NetworkInterface | undefined;
  let attrs = new Map<string, string>();
  const finish = () => {
    if (!cur) return;
    const index = Number(attrs.get("ifindex"));
    if (Number.isInteger(index) && index > 0) cur.index = index;
    const address = attrs.get("address") ?? "";
    if (MAC.test(address)) cur.mac = address.toLowerCase();
    cur.state = state(attrs.get("operstate"));
    cur.mtu = Number(attrs.get("mtu") ?? 0);
    const linkType = ARPHRD[attrs.get("type") ?? ""];
    if (linkType) cur.linkType = linkType;
    const bits = parseInt(attrs.get("flags") ?? "0", 16) || 0;
    cur.flags = IFF.filter(([bit]) => bits & bit).map(([, name]) => name);
    // sysfs flags lack IFF_LOWER_UP, which is the carrier.
    if (attrs.get("carrier") === "1") cur.flags.push("LOWER_UP");
    out.push(cur);
  };
  for (const line of text.split("\n")) {
    let m: RegExpExecArray | null;
    if ((m = /^iface (\S+)$/.exec(line))) {
      finish();
      cur = { name: m[1]!, mac: null, state: "unknown", mtu: 0, flags: [], addresses: [] };
      attrs = new Map();
    } else if (cur && (m = /^has=(\S+)$/.exec(line))) {
      const kind = { bridge: "bridge", bonding: "bond", tun_flags: "tun" }[m[1]!];
      if (kind) cur.kind = kind;
    } else if (cur && (m = /^master=(\S+)$/.exec(line))) {
      cur.master = m[1]!;
    } else if (cur && (m = /^(\w+)=(.*)$/.exec(line))) {
      attrs.set(m[1]!, m[2]!.trim());
    }
  }
  finish();
  return out;
}

function maskPrefix(mask: string): number {
  return mask.split(".").reduce((n, octet) => n + (Number(octet) >>> 0).toString(2).replace(/0/g, "").length, 0);
}

/**
 * Parses `ifconfig -a` in both the net-tools 2.x layout (`inet 10.0.0.5
 * netmask 255.255.255.0`) and the older/busybox one (`inet addr:10.0.0.5
 * Mask:255.255.255.0`).
 *
 * @example
 * parseIfconfig("eth0: flags=4163<UP,BROADCAST,RUNNING,MULTICAST>  mtu 1500\n        inet 10.0.0.5  netmask 255.255.255.0\n")[0]?.address.prefix // 24
 */
export function parseIfconfig(text: string): NamedAddress[] {
  const out: NamedAddress[] = [];
  let name: string | undefined;
  for (const line of text.split("\n")) {
    if (/^\S/.test(line)) {
      // "eth0: flags=..." or "eth0      Link encap:..."; aliases (eth0:1) belong to eth0.
      name = line.split(/\s+/)[0]!.replace(/:$/, "").split(":")[0];
      continue;
    }
    if (!name) continue;
    let m: RegExpExecArray | null;
    if ((m = /^\s+inet (?:addr:)?([\d.]+)/.exec(line))) {
      const mask = /(?:netmask |Mask:)([\d.]+)/.exec(line)?.[1];
      const address: InterfaceAddress = { family: "inet", address: m[1]!, prefix: mask ? maskPrefix(mask) : 32 };
      const peer = /(?:destination |P-t-P:)([\d.]+)/.exec(line)?.[1];
      if (peer) address.peer = peer;
      out.push({ name, address });
    } else if ((m = /^\s+inet6 (?:addr: ?)?([0-9a-fA-F:]+)(?:\/(\d+))?/.exec(line))) {
      const prefix = m[2] ?? /prefixlen (\d+)/.exec(line)?.[1] ?? "128";
      const address: InterfaceAddress = { family: "inet6", address: m[1]!.toLowerCase(), prefix: Number(prefix) };
      const scope = /scopeid \S*<(\w+)>/.exec(line)?.[1] ?? /Scope:(\w+)/.exec(line)?.[1];
      if (scope) address.scope = scope.toLowerCase();
      out.push({ name, address });
    }
  }
  return out;
}

/**
 * Formats 32 hex digits as an IPv6 address in RFC 5952 form.
 *
 * @example
 * ipv6FromHex("fe800000000000000242acfffe110002") // "fe80::242:acff:fe11:2"
 */
export function ipv6FromHex(hex: string): string {
  const groups: string[] = [];
  for (let i = 0; i < 32; i += 4) groups.push(parseInt(hex.slice(i, i + 4), 16).toString(16));
  // The longest run of two or more zero groups becomes "::" (the first if tied).
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  if (best < 0) return groups.join(":");
  return `${groups.slice(0, best).join(":")}::${groups.slice(best + bestLen).join(":")}`;
}

const INET6_SCOPES: Readonly<Record<string, string>> = { "00": "global", "10": "host", "20": "link", "40": "site" };

function parseIfInet6(text: string): NamedAddress[] {
  const out: NamedAddress[] = [];
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6 || !/^[0-9a-f]{32}$/i.test(f[0]!)) continue;
    const address: InterfaceAddress = { family: "inet6", address: ipv6FromHex(f[0]!), prefix: parseInt(f[2]!, 16) };
    const scope = INET6_SCOPES[f[3]!.padStart(2, "0")];
    if (scope) address.scope = scope;
    out.push({ name: f[5]!, address });
  }
  return out;
}

interface RouteRow {
  iface: string;
  dest: number;
  gateway: number;
  flags: number;
  metric: number;
  mask: number;
}

/** /proc/net/route stores IPv4 addresses as host-order (little-endian) hex. */
function hexIp(hex: string): number {
  const n = parseInt(hex, 16) >>> 0;
  return (((n & 0xff) << 24) | (((n >>> 8) & 0xff) << 16) | (((n >>> 16) & 0xff) << 8) | (n >>> 24)) >>> 0;
}

function dotted(n: number): string {
  return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join(".");
}

function ipNumber(ip: string): number {
  return ip.split(".").reduce((n, o) => ((n << 8) | Number(o)) >>> 0, 0);
}

function parseRoutes(text: string): RouteRow[] {
  const rows: RouteRow[] = [];
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || f[0] === "Iface" || !/^[0-9A-Fa-f]{8}$/.test(f[1]!)) continue;
    rows.push({
      iface: f[0]!,
      dest: hexIp(f[1]!),
      gateway: hexIp(f[2]!),
      flags: parseInt(f[3]!, 16),
      metric: Number(f[6]),
      mask: hexIp(f[7]!),
    });
  }
  return rows;
}

const RTF_UP = 0x1;
const RTF_GATEWAY = 0x2;

/**
 * Local IPv4 addresses from /proc/net/fib_trie (`/32 host LOCAL` leaves),
 * assigned to interfaces through the connected routes of /proc/net/route.
 */
function parseFibTrie(text: string, routes: readonly RouteRow[]): NamedAddress[] {
  const out: NamedAddress[] = [];
  const seen = new Set<string>();
  let last: string | undefined;
  for (const line of text.split("\n")) {
    const leaf = /^\s*\|-- ([\d.]+)$/.exec(line);
    if (leaf) {
      last = leaf[1];
      continue;
    }
    if (!last || !/^\s*\/32 host LOCAL\b/.test(line) || seen.has(last)) continue;
    seen.add(last);
    const ip = ipNumber(last);
    if (last.startsWith("127.")) {
      out.push({ name: "lo", address: { family: "inet", address: last, prefix: 8, scope: "host" } });
      continue;
    }
    let best: RouteRow | undefined;
    for (const r of routes) {
      if (r.flags & RTF_GATEWAY || ((ip & r.mask) >>> 0) !== r.dest) continue;
      if (!best || r.mask > best.mask) best = r;
    }
    if (best) {
      out.push({ name: best.iface, address: { family: "inet", address: last, prefix: maskPrefix(dotted(best.mask)), scope: "global" } });
    }
  }
  return out;
}

function parseInterfaces(raw: RawFacts): NetworkInterface[] {
  const ipLink = raw.section("ip-link");
  let links: NetworkInterface[];
  let addresses: NamedAddress[];
  if (ipLink !== undefined) {
    links = parseIpLink(ipLink);
    addresses = parseIpAddr(raw.section("ip-addr") ?? "");
  } else {
    links = parseSysNet(raw.section("sys-net") ?? "");
    const ifconfig = raw.section("ifconfig");
    addresses =
      ifconfig !== undefined
        ? parseIfconfig(ifconfig)
        : [
            ...parseFibTrie(raw.section("fib-trie") ?? "", parseRoutes(raw.file(ROUTE) ?? "")),
            ...parseIfInet6(raw.section("if-inet6") ?? ""),
          ];
  }
  if (!links.length) throw new Error("no interfaces found");
  const byName = new Map(links.map((l) => [l.name, l]));
  for (const { name, address } of addresses) {
    let iface = byName.get(name);
    if (!iface) {
      iface = { name, mac: null, state: "unknown", mtu: 0, flags: [], addresses: [] };
      byName.set(name, iface);
      links.push(iface);
    }
    iface.addresses.push(address);
  }
  return links.sort((a, b) => (a.index ?? Infinity) - (b.index ?? Infinity));
}

/**
 * `interfaces`: every network interface with its addresses.
 *
 * @example
 * interfacesUnit.parse(raw).find((i) => i.name === "br0")?.addresses[0] // { family: "inet", address: "10.10.10.11", prefix: 24, scope: "global" }
 */
export const interfacesUnit: FactUnit<NetworkInterface[]> = {
  name: "interfaces",
  files: [ROUTE],
  fragments: [network],
  parse: parseInterfaces,
  default: [],
};

/**
 * `defaultRoute`: the IPv4 default route with the lowest metric, from
 * /proc/net/route (always there, and no `ip` process needed).
 *
 * @example
 * defaultRouteUnit.parse(raw) // { gateway: "192.168.10.1", interface: "eth0", metric: 0 }
 */
export const defaultRouteUnit: FactUnit<DefaultRoute | null> = {
  name: "defaultRoute",
  files: [ROUTE],
  parse: (raw) => {
    let best: RouteRow | undefined;
    for (const r of parseRoutes(raw.file(ROUTE) ?? "")) {
      if (r.dest !== 0 || r.mask !== 0 || !(r.flags & RTF_UP)) continue;
      if (!best || r.metric < best.metric) best = r;
    }
    if (!best) return null;
    return { gateway: best.flags & RTF_GATEWAY ? dotted(best.gateway) : null, interface: best.iface, metric: best.metric };
  },
  default: null,
};
