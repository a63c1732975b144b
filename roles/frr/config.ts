/**
 * The pure part of the frr role: checking the parameters (what the schema
 * cannot express: addresses, prefixes, names, ranges) and turning them into
 * the view `templates/frr.conf.njk` renders. No host access, so both are
 * unit-tested with reference 001's values.
 */
import net from "node:net";

/** OSPF network types FRR knows (`ip ospf network TYPE`). */
export const OSPF_NETWORK_TYPES = ["point-to-point", "broadcast", "point-to-multipoint", "non-broadcast"] as const;
export type OspfNetworkType = (typeof OSPF_NETWORK_TYPES)[number];

/** Daemons /etc/frr/daemons can switch on (FRR 8.4 - 10.x), besides zebra, staticd and watchfrr, which always run. */
export const FRR_DAEMONS = [
  "bgpd", "ospfd", "ospf6d", "ripd", "ripngd", "isisd", "pimd", "pim6d", "ldpd", "nhrpd", "eigrpd", "babeld", "sharpd", "pbrd", "bfdd", "fabricd", "vrrpd", "pathd",
] as const;

/** One OSPF interface, as the role receives it. */
export interface FrrInterface {
  name: string;
  network: OspfNetworkType;
  cost?: number;
  helloInterval?: number;
  deadInterval?: number;
  passive: boolean;
}

/** Kernel routes to redistribute into OSPF, filtered by a prefix list through a route map (reference 001). */
export interface FrrRedistribute {
  routeMap: string;
  prefixList: string;
  prefixes: string[];
}

/** The parameters `checkFrrParams` and `frrConfView` need (the role's, minus install details). */
export interface FrrConfParams {
  routerId: string;
  hostname?: string;
  log: string;
  interfaces: FrrInterface[];
  passiveInterfaces: string[];
  networks: { prefix: string; area: number | string }[];
  redistribute: { kernel?: FrrRedistribute };
  extraDaemons: string[];
  extraConfig?: string;
}

/** A problem with one field, as a role's `validate` returns it. */
export interface FieldProblem {
  field: string;
  message: string;
}

const IFNAME = /^[A-Za-z0-9_.:-]{1,15}$/;
/** FRR's names for prefix lists and route maps: one word, no `!` (a comment) or spaces. */
const LIST_NAME = /^[A-Za-z0-9_.:-]{1,63}$/;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
/** FRR `log` targets: syslog, stdout, file PATH, each with an optional level. */
const LOG = /^(syslog|stdout|file \/[^\s!]+)( (emergencies|alerts|critical|errors|warnings|notifications|informational|debugging))?$/;

/** An IPv4 address as a 32-bit number, or null. */
function ipv4(text: string): number | null {
  if (net.isIPv4(text) !== true) return null;
  return text.split(".").reduce((n, octet) => n * 256 + Number(octet), 0);
}

const dotted = (n: number) => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join(".");

/**
 * An IPv4 prefix `a.b.c.d/n`: its network form, or an error message. Host
 * bits must be zero (FRR would silently mask them, hiding a typo).
 *
 * @example parsePrefix("192.168.11.0/30") // { network: "192.168.11.0/30" }
 * @example parsePrefix("192.168.11.1/30") // { error: "... has host bits set (the network is 192.168.11.0/30)" }
 */
export function parsePrefix(text: string): { network: string } | { error: string } {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(text);
  const addr = m ? ipv4(m[1]!) : null;
  const len = m ? Number(m[2]) : NaN;
  if (!m || addr === null || !(len >= 0 && len <= 32)) return { error: `${JSON.stringify(text)} is not an IPv4 prefix (ADDRESS/LENGTH, e.g. 10.50.1.1/32)` };
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  const network = (addr & mask) >>> 0;
  if (network !== addr) return { error: `${JSON.stringify(text)} has host bits set (the network is ${dotted(network)}/${len})` };
  return { network: `${dotted(network)}/${len}` };
}

/** An OSPF area as FRR writes it: a number 0-4294967295 or a dotted quad; null when neither. */
export function parseArea(area: unknown): string | null {
  if (typeof area === "number") return Number.isInteger(area) && area >= 0 && area <= 0xffffffff ? String(area) : null;
  if (typeof area !== "string") return null;
  if (/^\d{1,10}$/.test(area)) return Number(area) <= 0xffffffff ? String(Number(area)) : null;
  return ipv4(area) === null ? null : area;
}

const inRange = (n: number | undefined, lo: number, hi: number) => n === undefined || (Number.isInteger(n) && n >= lo && n <= hi);

/**
 * Checks the parameters together; returns the first problem, naming its
 * field, or undefined. Pure: the role's `validate` (run start) and unit tests.
 *
 * @example checkFrrParams({ ...p, routerId: "10.50.1.300" }) // { field: "routerId", message: "... is not an IPv4 address ..." }
 */
export function checkFrrParams(p: FrrConfParams): FieldProblem | undefined {
  if (ipv4(p.routerId) === null) return { field: "routerId", message: `${JSON.stringify(p.routerId)} is not an IPv4 address (OSPF router ids are written as one: the loopback's, e.g. 10.50.1.1)` };
  if (p.hostname !== undefined && !HOSTNAME.test(p.hostname)) return { field: "hostname", message: `${JSON.stringify(p.hostname)} is not a host name` };
  if (!LOG.test(p.log)) return { field: "log", message: `${JSON.stringify(p.log)} is not an FRR log target (syslog, stdout or file /PATH, then an optional level such as informational)` };

  const seen = new Set<string>();
  for (const [i, itf] of p.interfaces.entries()) {
    const f = `interfaces[${i}]`;
    if (!IFNAME.test(itf.name)) return { field: `${f}.name`, message: `${JSON.stringify(itf.name)} is not an interface name` };
    if (seen.has(itf.name)) return { field: `${f}.name`, message: `${itf.name} is listed twice` };
    seen.add(itf.name);
    if (!inRange(itf.cost, 1, 65535)) return { field: `${f}.cost`, message: `must be 1-65535, got ${itf.cost}` };
    if (!inRange(itf.helloInterval, 1, 65535)) return { field: `${f}.helloInterval`, message: `must be 1-65535 seconds, got ${itf.helloInterval}` };
    if (!inRange(itf.deadInterval, 1, 65535)) return { field: `${f}.deadInterval`, message: `must be 1-65535 seconds, got ${itf.deadInterval}` };
    const hello = itf.helloInterval ?? 10;
    if (itf.deadInterval !== undefined && itf.deadInterval <= hello) {
      return { field: `${f}.deadInterval`, message: `${itf.deadInterval} s must be longer than the hello interval (${hello} s): neighbours would be declared dead between two hellos` };
    }
  }
  for (const [i, name] of p.passiveInterfaces.entries()) {
    const f = `passiveInterfaces[${i}]`;
    if (!IFNAME.test(name)) return { field: f, message: `${JSON.stringify(name)} is not an interface name` };
    if (seen.has(name)) return { field: f, message: `${name} is also in interfaces: set \`passive: true\` on that entry instead` };
    seen.add(name);
  }

  for (const [i, n] of p.networks.entries()) {
    const parsed = parsePrefix(n.prefix);
    if ("error" in parsed) return { field: `networks[${i}].prefix`, message: parsed.error };
    if (parseArea(n.area) === null) return { field: `networks[${i}].area`, message: `${JSON.stringify(n.area)} is not an OSPF area (a number such as 0, or a dotted quad such as 0.0.0.0)` };
  }

  const k = p.redistribute.kernel;
  if (k) {
    if (!LIST_NAME.test(k.routeMap)) return { field: "redistribute.kernel.routeMap", message: `${JSON.stringify(k.routeMap)} is not a route-map name (one word)` };
    if (!LIST_NAME.test(k.prefixList)) return { field: "redistribute.kernel.prefixList", message: `${JSON.stringify(k.prefixList)} is not a prefix-list name (one word)` };
    if (k.prefixes.length === 0) return { field: "redistribute.kernel.prefixes", message: "empty: the route map would redistribute nothing (list the kernel routes, e.g. a VM's 10.50.1.11/32, or leave out redistribute.kernel)" };
    for (const [i, prefix] of k.prefixes.entries()) {
      const parsed = parsePrefix(prefix);
      if ("error" in parsed) return { field: `redistribute.kernel.prefixes[${i}]`, message: parsed.error };
    }
  }

  for (const [i, d] of p.extraDaemons.entries()) {
    if (!(FRR_DAEMONS as readonly string[]).includes(d)) return { field: `extraDaemons[${i}]`, message: `${JSON.stringify(d)} is not an FRR daemon (known: ${FRR_DAEMONS.join(", ")})` };
  }
  return undefined;
}

/** What templates/frr.conf.njk renders. */
export interface FrrConfView {
  hostname: string;
  log: string;
  routerId: string;
  /** Interface stanzas: each line is what goes inside `interface NAME ... exit`. */
  interfaces: { name: string; lines: string[] }[];
  /** `redistribute PROTOCOL route-map NAME` with the prefix list and route map behind it. */
  redistribute: { protocol: string; routeMap: string; prefixList: string; prefixes: string[] }[];
  networks: { prefix: string; area: string }[];
  extraConfig: string;
}

/**
 * The template's view of the parameters: interface stanzas in the order
 * given (`interfaces`, then `passiveInterfaces`), areas as FRR writes them,
 * `extraConfig` ending in a newline. Call it on checked parameters.
 *
 * @example frrConfView(p, "tnode1").interfaces[0] // { name: "eth1", lines: ["ip ospf network point-to-point"] }
 */
export function frrConfView(p: FrrConfParams, defaultHostname: string): FrrConfView {
  const interfaces = [
    ...p.interfaces.map((i) => ({
      name: i.name,
      lines: [
        `ip ospf network ${i.network}`,
        ...(i.cost === undefined ? [] : [`ip ospf cost ${i.cost}`]),
        ...(i.helloInterval === undefined ? [] : [`ip ospf hello-interval ${i.helloInterval}`]),
        ...(i.deadInterval === undefined ? [] : [`ip ospf dead-interval ${i.deadInterval}`]),
        ...(i.passive ? ["ip ospf passive"] : []),
      ],
    })),
    ...p.passiveInterfaces.map((name) => ({ name, lines: ["ip ospf passive"] })),
  ];
  const k = p.redistribute.kernel;
  const extra = (p.extraConfig ?? "").replace(/\s+$/, "");
  return {
    hostname: p.hostname ?? defaultHostname,
    log: p.log,
    routerId: p.routerId,
    interfaces,
    redistribute: k ? [{ protocol: "kernel", routeMap: k.routeMap, prefixList: k.prefixList, prefixes: k.prefixes }] : [],
    networks: p.networks.map((n) => ({ prefix: n.prefix, area: parseArea(n.area) ?? String(n.area) })),
    extraConfig: extra ? `${extra}\n` : "",
  };
}
