/**
 * The pure part of the bridge-stp role: checking the parameters, the one
 * probe's script and its parser, which interfaces carry the management
 * connection, what the running host lacks, and the persisted forms
 * (Slackware's rc.inet1.conf block, Debian's ifupdown stanza values). No
 * host access here, so it is unit-tested with captured output
 * (test/unit/role-bridge-stp.test.ts).
 */
import { shq } from "../../runner/quote.ts";
import { normCidr } from "../base-os/network.ts";

/** What the role needs of its parameters here (the role's `BridgeStpParams` fits it). */
export interface BridgeSpec {
  bridge: string;
  ports: string[];
  priority: number;
  /** Seconds. */
  forwardDelay: number;
  /** Seconds. */
  helloTime: number;
  /** Seconds. */
  maxAge: number;
  address?: string;
  rcInet1Index: number;
}

/** Linux interface names: at most 15 bytes, no `/`, `:` or white space (and nothing a shell would read). */
const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;

/**
 * The kernel's STP timer ranges (net/bridge/br_private.h, in seconds):
 * a value outside them is refused with ERANGE while STP is on.
 */
export const TIMER_RANGES = {
  forwardDelay: [2, 30],
  helloTime: [1, 10],
  maxAge: [6, 40],
} as const;

/**
 * Checks the parameters together (the schema checks each alone): names,
 * ranges, IEEE 802.1D's timer relation, the address. Returns the first
 * problem as `{ field, message }`, or undefined. Runs at run start for
 * every host, before anything is touched.
 *
 * @example checkParams({ ...defaults, ports: ["eth1", "eth1"] }) // { field: "ports", message: "eth1 is listed twice" }
 */
export function checkParams(p: BridgeSpec): { field: string; message: string } | undefined {
  if (!IFNAME.test(p.bridge)) return { field: "bridge", message: `${JSON.stringify(p.bridge)} is not an interface name (1-15 of A-Z a-z 0-9 _ . -)` };
  if (p.ports.length === 0) return { field: "ports", message: "a bridge needs at least one port" };
  const seen = new Set<string>();
  for (const port of p.ports) {
    if (!IFNAME.test(port)) return { field: "ports", message: `${JSON.stringify(port)} is not an interface name` };
    if (port === p.bridge) return { field: "ports", message: `the bridge ${p.bridge} cannot be its own port` };
    if (port === "lo") return { field: "ports", message: "lo cannot be a bridge port" };
    if (seen.has(port)) return { field: "ports", message: `${port} is listed twice` };
    seen.add(port);
  }
  if (!Number.isInteger(p.priority) || p.priority < 0 || p.priority > 65535) {
    return { field: "priority", message: `${p.priority} is not a bridge priority (0-65535; lowest becomes the root)` };
  }
  for (const [name, [lo, hi]] of Object.entries(TIMER_RANGES) as [keyof typeof TIMER_RANGES, readonly [number, number]][]) {
    const v = p[name];
    if (!Number.isInteger(v) || v < lo || v > hi) return { field: name, message: `${v} s is outside the kernel's STP range ${lo}-${hi} s` };
  }
  // IEEE 802.1D 8.10.2: a bridge must not forward before a stale root's
  // information has aged out everywhere, or a loop can form while it settles.
  if (2 * (p.forwardDelay - 1) < p.maxAge) {
    return { field: "maxAge", message: `maxAge ${p.maxAge} s must be at most 2 × (forwardDelay − 1) = ${2 * (p.forwardDelay - 1)} s (IEEE 802.1D); raise forwardDelay or lower maxAge` };
  }
  if (p.maxAge < 2 * (p.helloTime + 1)) {
    return { field: "maxAge", message: `maxAge ${p.maxAge} s must be at least 2 × (helloTime + 1) = ${2 * (p.helloTime + 1)} s (IEEE 802.1D)` };
  }
  if (p.address !== undefined) {
    try {
      normCidr(p.address, p.bridge);
    } catch {
      return { field: "address", message: `${JSON.stringify(p.address)} is not ADDRESS/PREFIX (e.g. 192.168.100.1/24)` };
    }
  }
  if (!Number.isInteger(p.rcInet1Index) || p.rcInet1Index < 0 || p.rcInet1Index > 63) {
    return { field: "rcInet1Index", message: `${p.rcInet1Index} is not an rc.inet1.conf index (0-63)` };
  }
  const clash = p.ports.find((port) => port === `eth${p.rcInet1Index}`);
  if (clash) return { field: "rcInet1Index", message: `index ${p.rcInet1Index} is ${clash}'s own in rc.inet1.conf; pick an unused one (default 5)` };
  return undefined;
}

/** The address in `ip` form (v6 compressed) and its family, or undefined. */
export function bridgeAddress(p: Pick<BridgeSpec, "address" | "bridge">): { family: 4 | 6; cidr: string } | undefined {
  return p.address === undefined ? undefined : normCidr(p.address, p.bridge);
}

// ---------------------------------------------------------------- probe

/** The rc.inet1.conf variables that put an address on an interface (or ask DHCP/SLAAC for one). */
export const ADDRESS_KEYS = ["IPADDRS", "IPADDR", "IP6ADDRS", "USE_DHCP", "USE_DHCP6", "USE_SLAAC"] as const;

export const RC_INET1_CONF = "/etc/rc.d/rc.inet1.conf";

/** Marker lines of the role's block in rc.inet1.conf (`{mark}` is BEGIN/END). */
export const rcInet1Marker = (bridge: string) => `# {mark} runbook bridge-stp: ${bridge}`;

/**
 * The one read-only probe, a POSIX sh script run as the login user (so
 * `$SSH_CONNECTION` is still set: sudo drops it): the SSH connection and
 * the route back to its client, links, addresses, default routes, the
 * bridge's STP settings from sysfs, and per family what persists the
 * network (rc.inet1.conf's assignments for the index; ifupdown).
 */
export function probeScript(p: Pick<BridgeSpec, "bridge">, family: string): string {
  const lines = [
    // A login user's PATH may lack /sbin (Slackware's ip is /sbin/ip).
    `PATH="$PATH:/sbin:/usr/sbin"`,
    `echo "== ssh $SSH_CONNECTION"`,
    `set -- $SSH_CONNECTION`,
    `if [ -n "$1" ]; then ip -o route get "$1" 2>/dev/null | head -n 1 | sed 's/^/== route-to-client /'; fi`,
    "echo '== links'",
    "ip -o link show",
    "echo '== addresses'",
    "ip -o addr show",
    "echo '== default routes'",
    "ip -o -4 route show default 2>/dev/null; ip -o -6 route show default 2>/dev/null",
    "echo '== bridge'",
    `d=/sys/class/net/${p.bridge}/bridge`,
    `if [ -d "$d" ]; then for f in stp_state priority forward_delay hello_time max_age; do echo "$f $(cat "$d/$f")"; done; fi`,
  ];
  if (family === "slackware") {
    const [begin, end] = [rcInet1Marker(p.bridge).replace("{mark}", "BEGIN"), rcInet1Marker(p.bridge).replace("{mark}", "END")];
    lines.push(
      "echo '== rc.inet1.conf'",
      // Assignments at the role's index outside its own block (a clash), the
      // member ports' address settings, and MAXNICS.
      `if [ -f ${RC_INET1_CONF} ]; then awk -v b=${shq(begin)} -v e=${shq(end)} '$0 == b { inblock = 1; next } $0 == e { inblock = 0; next } inblock { next } { sub(/^[[:space:]]+/, "") } /^[A-Z_0-9]+\\[[0-9]+\\]=/ { print "assign " $0 } /^MAXNICS=/ { print "maxnics " $0 }' ${RC_INET1_CONF}; else echo missing; fi`,
    );
  } else if (family === "debian") {
    lines.push(
      "echo '== ifupdown'",
      "if [ ! -f /etc/network/interfaces ]; then echo no-ifupdown",
      "elif grep -Eq '^[[:space:]]*source(-directory)?[[:space:]]+/etc/network/interfaces\\.d' /etc/network/interfaces; then echo sourced",
      "else echo not-sourced; fi",
      "dpkg-query -W -f='${Package} ${Status}\\n' ifupdown ifupdown2 bridge-utils 2>/dev/null | sed -n 's/ install ok installed$//p' | sed 's/^/package /'",
      // Stanzas that configure a port by itself: ifupdown would give a bridge port an address.
      "grep -HEn '^[[:space:]]*iface[[:space:]]' /etc/network/interfaces /etc/network/interfaces.d/* 2>/dev/null | sed 's/^/iface /'",
    );
  }
  return lines.join("\n");
}

/** One link as `ip -o link show` prints it. */
export interface LiveLink {
  name: string;
  /** The lower device (`eth0.10@eth0`, a macvlan's parent); undefined for a veth whose peer is in another namespace. */
  lower?: string;
  up: boolean;
  master?: string;
  /** Global-scope addresses (`ADDRESS/PREFIX`, v6 compressed). */
  addresses: string[];
}

/** What the probe read. */
export interface Live {
  /** `$SSH_CONNECTION`'s client and server addresses, when the run came over SSH. */
  ssh?: { client: string; server: string };
  /** The interface the route back to the SSH client leaves by. */
  routeToClient?: string;
  links: Map<string, LiveLink>;
  /** Interfaces of the default routes (IPv4 and IPv6). */
  defaultRoutes: string[];
  /** The bridge's settings from sysfs (centiseconds for timers), when it is a bridge now. */
  bridge?: { stpState: number; priority: number; forwardDelay: number; helloTime: number; maxAge: number };
  slackware?: {
    /** false when /etc/rc.d/rc.inet1.conf does not exist. */
    exists: boolean;
    /** Assignments outside the role's block: `IPADDRS[1]="192.168.11.1/30"` as { key, index, value }. */
    assigns: { key: string; index: number; value: string; line: string }[];
    maxNics: number;
  };
  debian?: {
    ifupdown: "no-ifupdown" | "sourced" | "not-sourced";
    packages: string[];
    /** `FILE:LINE: iface NAME ...` stanzas, by interface name. */
    stanzas: { file: string; line: number; iface: string }[];
  };
}

/**
 * Parses the probe's output.
 *
 * @example parseProbe("== ssh 10.0.0.1 5 10.0.0.11 22\n== links\n2: eth0@if9: <UP,LOWER_UP> mtu 1500 ... link-netnsid 0\n...")
 */
export function parseProbe(text: string): Live {
  const live: Live = { links: new Map(), defaultRoutes: [] };
  let section = "";
  const bridge: Record<string, number> = {};
  for (const raw of text.split("\n")) {
    const line = raw.replace(/\s+$/, "");
    const head = /^== (\S+)(?: (.*))?$/.exec(line);
    if (head) {
      if (head[1] === "ssh") {
        const f = (head[2] ?? "").trim().split(/\s+/);
        if (f.length >= 3 && f[0] && f[2]) live.ssh = { client: f[0], server: f[2] };
      } else if (head[1] === "route-to-client") {
        const dev = / dev (\S+)/.exec(` ${head[2] ?? ""}`);
        if (dev) live.routeToClient = dev[1];
      } else {
        section = head[1]!;
        if (section === "rc.inet1.conf") live.slackware = { exists: true, assigns: [], maxNics: 6 };
        if (section === "ifupdown") live.debian = { ifupdown: "no-ifupdown", packages: [], stanzas: [] };
      }
      continue;
    }
    if (!line) continue;
    switch (section) {
      case "links": {
        const m = /^\d+:\s+([^:@\s]+)(?:@([^:\s]+))?:\s+<([^>]*)>(.*)$/.exec(line);
        if (!m) break;
        const rest = m[4]!;
        // `@ifN` names a peer index in another namespace; with link-netns(id)
        // even a name after @ is another namespace's, not a local lower device.
        const otherNs = /\blink-netns(id)? /.test(rest) || /^if\d+$/.test(m[2] ?? "");
        const master = / master (\S+)/.exec(rest)?.[1];
        live.links.set(m[1]!, {
          name: m[1]!,
          ...(m[2] && !otherNs ? { lower: m[2] } : {}),
          up: m[3]!.split(",").includes("UP"),
          ...(master ? { master } : {}),
          addresses: [],
        });
        break;
      }
      case "addresses": {
        const f = line.trim().split(/\s+/);
        if (f.length < 4 || (f[2] !== "inet" && f[2] !== "inet6")) break;
        // Link-local and host-scope addresses are not configuration: the kernel makes them.
        if (/\sscope (\S+)/.exec(line)?.[1] !== "global") break;
        const name = f[1]!.replace(/@.*$/, "");
        const cidr = f[3]!.includes("/") ? f[3]! : `${f[3]}/${f[2] === "inet" ? 32 : 128}`;
        try {
          live.links.get(name)?.addresses.push(normCidr(cidr, name).cidr);
        } catch {
          /* a form we do not manage */
        }
        break;
      }
      case "default": {
        const dev = / dev (\S+)/.exec(line)?.[1];
        if (dev && !live.defaultRoutes.includes(dev)) live.defaultRoutes.push(dev);
        break;
      }
      case "bridge": {
        const [k, v] = line.trim().split(/\s+/);
        if (k && v !== undefined && /^\d+$/.test(v)) bridge[k] = Number(v);
        break;
      }
      case "rc.inet1.conf": {
        const sl = live.slackware!;
        if (line === "missing") sl.exists = false;
        const a = /^assign\s+([A-Z_0-9]+)\[(\d+)\]=(.*)$/.exec(line);
        if (a) sl.assigns.push({ key: a[1]!, index: Number(a[2]), value: unquote(a[3]!), line: line.replace(/^assign\s+/, "") });
        const n = /^maxnics\s+MAXNICS=["']?(\d+)/.exec(line);
        if (n) sl.maxNics = Number(n[1]);
        break;
      }
      case "ifupdown": {
        const d = live.debian!;
        if (line === "no-ifupdown" || line === "sourced" || line === "not-sourced") d.ifupdown = line;
        else if (line.startsWith("package ")) d.packages.push(line.slice(8).trim());
        else {
          const st = /^iface (.+?):(\d+):\s*iface\s+(\S+)/.exec(line);
          if (st) d.stanzas.push({ file: st[1]!, line: Number(st[2]), iface: st[3]! });
        }
        break;
      }
    }
  }
  if (["stp_state", "priority", "forward_delay", "hello_time", "max_age"].every((k) => k in bridge)) {
    live.bridge = {
      stpState: bridge.stp_state!,
      priority: bridge.priority!,
      forwardDelay: bridge.forward_delay!,
      helloTime: bridge.hello_time!,
      maxAge: bridge.max_age!,
    };
  }
  return live;
}

/** A shell assignment's value without its quotes and trailing comment (`"a b" # x` -> `a b`). */
function unquote(v: string): string {
  const s = v.trim();
  const q = /^"([^"]*)"|^'([^']*)'/.exec(s);
  if (q) return q[1] ?? q[2] ?? "";
  return s.replace(/\s+#.*$/, "");
}

/**
 * The interfaces the run's own connection depends on: those of the default
 * routes, the one the route back to the SSH client leaves by, the one that
 * holds the address SSH came in on — and, closing over them, their lower
 * devices (a VLAN's parent) and the ports of any of them that is a bridge
 * or bond. Touching any of these could cut the run off.
 *
 * @example managementInterfaces(live) // Set { "eth0" }
 */
export function managementInterfaces(live: Live): Set<string> {
  const out = new Set<string>(live.defaultRoutes);
  if (live.routeToClient) out.add(live.routeToClient);
  if (live.ssh) {
    for (const l of live.links.values()) {
      if (l.addresses.some((a) => a.split("/")[0] === live.ssh!.server)) out.add(l.name);
    }
  }
  for (let grew = true; grew; ) {
    grew = false;
    for (const l of live.links.values()) {
      const add = (n: string | undefined) => {
        if (n && !out.has(n)) {
          out.add(n);
          grew = true;
        }
      };
      if (out.has(l.name)) add(l.lower);
      if (l.master && out.has(l.master)) add(l.name);
    }
  }
  return out;
}

/** Kernel settings as `ip link ... type bridge` takes them (timers in centiseconds). */
export function bridgeOptions(p: Pick<BridgeSpec, "priority" | "forwardDelay" | "helloTime" | "maxAge">): [string, number][] {
  return [
    ["stp_state", 1],
    ["priority", p.priority],
    ["forward_delay", p.forwardDelay * 100],
    ["hello_time", p.helloTime * 100],
    ["max_age", p.maxAge * 100],
  ];
}

/** A step that brings the running host to the wanted state: a title for the output and the command. */
export interface LiveStep {
  title: string;
  cmd: string;
}

/**
 * What the running host lacks, in the order it must be done: the bridge
 * (created down, or its STP settings corrected), each present port freed of
 * its addresses, made a port and brought up, the bridge's address (and any
 * other global address on the bridge removed: the bridge is the role's, so
 * an address dropped from `address` goes now, not at the next boot — except
 * one the run's own SSH connection arrives on), the bridge up. Empty when
 * the host is as wanted. Ports that do not exist now
 * are left out (they are in the persisted configuration for the next boot);
 * the caller has already refused ports it must not touch.
 *
 * @example liveSteps(spec, parseProbe(text)) // [{ title: "br0: create bridge (STP on, priority 32768, ...)", cmd: "ip link add name br0 type bridge stp_state 1 ..." }, ...]
 */
export function liveSteps(p: BridgeSpec, live: Live): LiveStep[] {
  const steps: LiveStep[] = [];
  const br = p.bridge;
  const opts = bridgeOptions(p);
  const summary = `STP on, priority ${p.priority}, forward delay ${p.forwardDelay} s, hello ${p.helloTime} s, max age ${p.maxAge} s`;
  const current = live.links.get(br);
  if (!current) {
    steps.push({ title: `${br}: create bridge (${summary})`, cmd: `ip link add name ${br} type bridge ${opts.map(([k, v]) => `${k} ${v}`).join(" ")}` });
  } else if (live.bridge) {
    const have: Record<string, number> = {
      stp_state: live.bridge.stpState,
      priority: live.bridge.priority,
      forward_delay: live.bridge.forwardDelay,
      hello_time: live.bridge.helloTime,
      max_age: live.bridge.maxAge,
    };
    // stp_state 2 is STP run by a user-space daemon (mstpd): STP is on.
    const differ = opts.filter(([k, v]) => (k === "stp_state" ? have[k] === 0 : have[k] !== v));
    if (differ.length) {
      steps.push({
        title: `${br}: set ${differ.map(([k, v]) => `${k} ${v}${k.endsWith("_time") || k.endsWith("_delay") || k === "max_age" ? ` (${v / 100} s)` : ""}`).join(", ")}`,
        cmd: `ip link set dev ${br} type bridge ${differ.map(([k, v]) => `${k} ${v}`).join(" ")}`,
      });
    }
  }
  for (const port of p.ports) {
    const l = live.links.get(port);
    if (!l) continue;
    const what: string[] = [];
    const cmds: string[] = [];
    if (l.addresses.length) {
      what.push(`remove ${l.addresses.join(", ")}`);
      cmds.push(`ip addr flush dev ${port} scope global`);
    }
    if (l.master !== br) {
      what.push(`join ${br}`);
      cmds.push(`ip link set dev ${port} master ${br}`);
    }
    if (!l.up) {
      what.push("link up");
      cmds.push(`ip link set dev ${port} up`);
    }
    if (cmds.length) steps.push({ title: `${port}: ${what.join(", ")}`, cmd: cmds.join(" && ") });
  }
  const addr = bridgeAddress(p);
  const stale = (current?.addresses ?? []).filter((a) => a !== addr?.cidr && a.split("/")[0] !== live.ssh?.server);
  const present = !!addr && (current?.addresses ?? []).includes(addr.cidr);
  if (stale.length) {
    // Deleting a subnet's primary address also deletes its secondaries: ours is put back if it was there.
    const cmds = [...stale.map((a) => `ip addr del ${a} dev ${br}`), ...(present ? [`ip addr replace ${addr!.cidr} dev ${br}`] : [])];
    steps.push({ title: `${br}: remove ${stale.join(", ")}`, cmd: cmds.join(" && ") });
  }
  if (addr && !present) steps.push({ title: `${br}: add ${addr.cidr}`, cmd: `ip addr add ${addr.cidr} dev ${br}` });
  if (!current?.up) steps.push({ title: `${br}: link up`, cmd: `ip link set dev ${br} up` });
  return steps;
}

/**
 * The `IFOPTS` value for rc.inet1.conf: rc.inet1 runs
 * `ip link set dev BRIDGE type bridge OPT` for each `|`-separated option.
 *
 * @example ifopts({ priority: 32768, forwardDelay: 15, helloTime: 2, maxAge: 20 }) // "stp_state 1 | priority 32768 | forward_delay 1500 | hello_time 200 | max_age 2000"
 */
export function ifopts(p: Pick<BridgeSpec, "priority" | "forwardDelay" | "helloTime" | "maxAge">): string {
  return bridgeOptions(p)
    .map(([k, v]) => `${k} ${v}`)
    .join(" | ");
}

/**
 * The role's block in Slackware's rc.inet1.conf (15.0's rc.inet1: `IFNAME`,
 * `BRNICS`, `IFOPTS`, `IPADDRS`/`IP6ADDRS` at one index).
 */
export function rcInet1Block(p: BridgeSpec): string {
  const n = p.rcInet1Index;
  const addr = bridgeAddress(p);
  return [
    `# Bridge ${p.bridge} over ${p.ports.join(" ")} with STP (role bridge-stp; rc.inet1.conf(5), "bridge creation").`,
    `IFNAME[${n}]="${p.bridge}"`,
    `BRNICS[${n}]="${p.ports.join(" ")}"`,
    `IFOPTS[${n}]="${ifopts(p)}"`,
    `IPADDRS[${n}]="${addr?.family === 4 ? addr.cidr : ""}"`,
    `IP6ADDRS[${n}]="${addr?.family === 6 ? addr.cidr : ""}"`,
  ].join("\n");
}

/**
 * rc.inet1.conf lines outside the role's block that clash with it: any
 * assignment at the role's index. Returns messages.
 */
export function rcInet1Clashes(p: BridgeSpec, s: NonNullable<Live["slackware"]>): string[] {
  const out: string[] = [];
  for (const a of s.assigns) {
    if (a.index === p.rcInet1Index && a.value !== "") out.push(`${a.line} (index ${p.rcInet1Index} belongs to the bridge; set rcInet1Index to a free one)`);
  }
  if (p.rcInet1Index >= s.maxNics) out.push(`index ${p.rcInet1Index} is not below MAXNICS=${s.maxNics}: rc.inet1 would never bring ${p.bridge} up`);
  return out;
}

/**
 * Member ports' own address settings in rc.inet1.conf (`IPADDRS[1]="..."`
 * for eth1, `USE_DHCP[2]="yes"`...): at boot rc.inet1 would configure the
 * port before the bridge takes it. The role empties them.
 */
export function portAddressSettings(p: BridgeSpec, s: NonNullable<Live["slackware"]>): { key: string; index: number; value: string }[] {
  const indexes = new Set(p.ports.map((port) => /^eth(\d+)$/.exec(port)?.[1]).filter((x): x is string => x !== undefined).map(Number));
  return s.assigns.filter((a) => indexes.has(a.index) && (ADDRESS_KEYS as readonly string[]).includes(a.key) && a.value !== "");
}

/** The regexp (for the `replace` task) that empties the member ports' address settings, or undefined when no port has an rc.inet1 index. */
export function portAddressRegexp(p: BridgeSpec): RegExp | undefined {
  const indexes = p.ports.map((port) => /^eth(\d+)$/.exec(port)?.[1]).filter((x): x is string => x !== undefined);
  if (!indexes.length) return undefined;
  // Only non-empty values match, so a second run finds nothing to replace.
  return new RegExp(`^(\\s*(?:${ADDRESS_KEYS.join("|")})\\[(?:${indexes.join("|")})\\]=)(?!""\\s*$)(?!''\\s*$).*$`, "m");
}
