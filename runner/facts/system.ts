/**
 * Facts about the running system: kernel, names, init system, package
 * manager, cgroups, the login user, clock, and a few commands.
 */
import type { FactUnit, RawFacts, ScriptFragment } from "./unit.ts";
import type { CgroupFacts, InitSystem, KernelFacts, PackageManager } from "./types.ts";

const HOSTNAME = "/proc/sys/kernel/hostname";
const SLACKWARE_VERSION = "/etc/slackware-version";
const MOUNTS = "/proc/mounts";
const SLACKPKG = "slackpkg";

const unameM: ScriptFragment = { id: "uname-m", script: "s uname-m\nuname -m" };

/*
 * `hostname -f` asks the resolver for the canonical name; with a dead DNS
 * server that can hang for many seconds on every run, so it gets a short
 * timeout (when coreutils/busybox `timeout` exists). A failed or slow lookup
 * prints nothing and the parser falls back to /etc/hosts.
 */
const hostnameF: ScriptFragment = {
  id: "hostname-f",
  script: [
    "s hostname-f",
    "if command -v hostname >/dev/null 2>&1; then",
    "if command -v timeout >/dev/null 2>&1; then timeout 2 hostname -f; else hostname -f; fi",
    "fi",
  ].join("\n"),
};

/** One `id` gives user, uid, gid and groups (`id -un`, `id -u` would be two processes). */
const idFragment: ScriptFragment = { id: "id", script: "s id\nid" };

const epochFragment: ScriptFragment = { id: "epoch", script: "s epoch\ndate +%s" };

/** Only the configured (uncommented) mirror lines, and only where slackpkg is installed. */
const slackpkgMirrors: ScriptFragment = {
  id: "slackpkg-mirrors",
  script: [
    "s slackpkg-mirrors",
    "[ -r /etc/slackpkg/mirrors ] && grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' /etc/slackpkg/mirrors",
  ].join("\n"),
};

function firstLine(text: string | undefined): string {
  return (text ?? "").split("\n").find((l) => l.trim() !== "")?.trim() ?? "";
}

/**
 * `kernel`: release, version and command line.
 *
 * @example
 * kernelUnit.parse(raw).release // "6.1.0-18-amd64"
 */
export const kernelUnit: FactUnit<KernelFacts> = {
  name: "kernel",
  files: ["/proc/sys/kernel/osrelease", "/proc/sys/kernel/version", "/proc/cmdline"],
  parse: (raw) => ({
    release: firstLine(raw.file("/proc/sys/kernel/osrelease")),
    version: firstLine(raw.file("/proc/sys/kernel/version")),
    cmdline: firstLine(raw.file("/proc/cmdline")),
  }),
  default: { release: "", version: "", cmdline: "" },
};

/**
 * `arch`: `uname -m`.
 *
 * @example
 * archUnit.parse(raw) // "aarch64"
 */
export const archUnit: FactUnit<string> = {
  name: "arch",
  fragments: [unameM],
  parse: (raw) => {
    const arch = firstLine(raw.section("uname-m"));
    if (!arch) throw new Error("uname -m printed nothing");
    return arch;
  },
  default: "unknown",
};

function nodename(raw: RawFacts): string {
  const name = firstLine(raw.file(HOSTNAME));
  if (!name) throw new Error("no kernel host name");
  return name;
}

/**
 * `nodename`: the kernel's host name as set.
 *
 * @example
 * nodenameUnit.parse(raw) // "pxe01.farm.example.org"
 */
export const nodenameUnit: FactUnit<string> = {
  name: "nodename",
  files: [HOSTNAME],
  parse: nodename,
  default: "localhost",
};

/**
 * `hostname`: the short host name.
 *
 * @example
 * hostnameUnit.parse(raw) // "pxe01"
 */
export const hostnameUnit: FactUnit<string> = {
  name: "hostname",
  files: [HOSTNAME],
  parse: (raw) => nodename(raw).split(".")[0]!,
  default: "localhost",
};

/**
 * Looks a host up in /etc/hosts text and returns its dotted name, if any.
 *
 * @example
 * hostsFqdn("10.0.0.11 tnode1.cluster.lan tnode1\n", "tnode1") // "tnode1.cluster.lan"
 */
export function hostsFqdn(hosts: string, short: string): string | undefined {
  for (const line of hosts.split("\n")) {
    const names = line.replace(/#.*/, "").trim().split(/\s+/).slice(1);
    if (!names.some((n) => n === short || n.startsWith(`${short}.`))) continue;
    const dotted = names.find((n) => n.startsWith(`${short}.`));
    if (dotted) return dotted;
  }
  return undefined;
}

/**
 * `fqdn`: `hostname -f` when it gives a dotted name, else the node name if
 * dotted, else /etc/hosts, else whatever name we have.
 *
 * @example
 * fqdnUnit.parse(raw) // "tnode1.cluster.lan"
 */
export const fqdnUnit: FactUnit<string> = {
  name: "fqdn",
  files: [HOSTNAME, "/etc/hosts"],
  fragments: [hostnameF],
  parse: (raw) => {
    const viaCommand = firstLine(raw.section("hostname-f"));
    if (viaCommand.includes(".")) return viaCommand;
    const node = nodename(raw);
    if (node.includes(".")) return node;
    return hostsFqdn(raw.file("/etc/hosts") ?? "", node) ?? (viaCommand || node);
  },
  default: "localhost",
};

/**
 * `initSystem`: systemd when PID 1 is systemd (or /run/systemd/system
 * exists), openrc when it has booted the host, Slackware's BSD-style rc.d on
 * Slackware, plain sysvinit when /etc/inittab drives PID 1 `init`.
 *
 * @example
 * initSystemUnit.parse(raw) // "slackware-bsd"
 */
export const initSystemUnit: FactUnit<InitSystem> = {
  name: "initSystem",
  files: ["/proc/1/comm", SLACKWARE_VERSION],
  exists: ["/run/systemd/system", "/run/openrc", "/sbin/openrc", "/etc/rc.d/rc.M", "/etc/rc.d/rc.S", "/etc/inittab"],
  parse: (raw) => {
    const pid1 = firstLine(raw.file("/proc/1/comm"));
    if (pid1 === "systemd" || raw.exists("/run/systemd/system")) return "systemd";
    if (pid1 === "openrc-init" || raw.exists("/run/openrc")) return "openrc";
    if (raw.file(SLACKWARE_VERSION) !== undefined && (raw.exists("/etc/rc.d/rc.M") || raw.exists("/etc/rc.d/rc.S"))) {
      return "slackware-bsd";
    }
    if (pid1 === "init" && raw.exists("/sbin/openrc")) return "openrc";
    if (raw.exists("/etc/inittab") && (pid1 === "init" || pid1 === "")) return "sysvinit";
    return "unknown";
  },
  default: "unknown",
};

const PACKAGE_COMMANDS: readonly [string, PackageManager][] = [
  ["apt-get", "apt"],
  ["dnf", "dnf"],
  ["yum", "yum"],
  ["zypper", "zypper"],
  ["pacman", "pacman"],
  ["apk", "apk"],
  ["installpkg", "pkgtools"],
];

/**
 * `packageManager`: on Slackware `slackpkg` if a mirror is configured, else
 * `pkgtools`; elsewhere the first of apt, dnf, yum, zypper, pacman, apk found.
 *
 * @example
 * packageManagerUnit.parse(raw) // "dnf"
 */
export const packageManagerUnit: FactUnit<PackageManager | null> = {
  name: "packageManager",
  files: [SLACKWARE_VERSION],
  commands: [SLACKPKG, ...PACKAGE_COMMANDS.map(([c]) => c)],
  fragments: [slackpkgMirrors],
  parse: (raw) => {
    if (raw.file(SLACKWARE_VERSION) !== undefined || raw.command("installpkg")) {
      const mirror = firstLine(raw.section("slackpkg-mirrors"));
      if (raw.command(SLACKPKG) && mirror) return "slackpkg";
      if (raw.file(SLACKWARE_VERSION) !== undefined && raw.command("installpkg")) return "pkgtools";
    }
    for (const [command, manager] of PACKAGE_COMMANDS) if (raw.command(command)) return manager;
    return null;
  },
  default: null,
};

interface Mount {
  device: string;
  mountpoint: string;
  fstype: string;
  options: string[];
}

/** /proc/mounts escapes space, tab, newline and backslash as octal. */
function unescapeMount(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

function parseMounts(text: string): Mount[] {
  const mounts: Mount[] = [];
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4) continue;
    mounts.push({
      device: unescapeMount(f[0]!),
      mountpoint: unescapeMount(f[1]!),
      fstype: f[2]!,
      options: f[3]!.split(","),
    });
  }
  return mounts;
}

const V1_CONTROLLERS = new Set([
  "cpuset", "cpu", "cpuacct", "blkio", "memory", "devices", "freezer", "net_cls", "net_prio",
  "perf_event", "hugetlb", "pids", "rdma", "misc", "debug",
]);

function parentDir(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}

/**
 * `cgroup`: version and mount points, from /proc/mounts.
 *
 * @example
 * cgroupUnit.parse(raw) // { version: 2, mountpoint: "/sys/fs/cgroup", v2Mountpoint: "/sys/fs/cgroup", controllers: [...] }
 */
export const cgroupUnit: FactUnit<CgroupFacts> = {
  name: "cgroup",
  files: [MOUNTS, "/sys/fs/cgroup/cgroup.controllers", "/sys/fs/cgroup/unified/cgroup.controllers"],
  parse: (raw) => {
    const mounts = parseMounts(raw.file(MOUNTS) ?? "");
    if (!mounts.length) throw new Error("no /proc/mounts");
    const v2 = mounts.find((m) => m.fstype === "cgroup2");
    const v1 = mounts.filter((m) => m.fstype === "cgroup");
    const v1Controllers: string[] = [];
    for (const m of v1) for (const o of m.options) if (V1_CONTROLLERS.has(o) && !v1Controllers.includes(o)) v1Controllers.push(o);
    const v2Controllers = (mountpoint: string) =>
      (raw.file(`${mountpoint}/cgroup.controllers`) ?? "").split(/\s+/).filter(Boolean);

    if (!v1.length && !v2) return { version: null, mountpoint: null, v2Mountpoint: null, controllers: [] };
    if (!v1.length && v2) {
      return { version: 2, mountpoint: v2.mountpoint, v2Mountpoint: v2.mountpoint, controllers: v2Controllers(v2.mountpoint) };
    }
    // v1: one hierarchy per controller under a tmpfs (/sys/fs/cgroup/cpu, ...)
    // or everything in one mount (Slackware's fallback at /dev/cgroup).
    const first = v1[0]!.mountpoint;
    const root = v1.length === 1 && !v2 ? first : parentDir(first);
    return {
      version: v2 ? "hybrid" : 1,
      mountpoint: root,
      v2Mountpoint: v2?.mountpoint ?? null,
      controllers: v1Controllers,
    };
  },
  default: { version: null, mountpoint: null, v2Mountpoint: null, controllers: [] },
};

interface IdOutput {
  user: string;
  uid: number;
  gid: number;
  groups: string[];
}

/**
 * Parses `id` output: `uid=1050(clusteradm) gid=100(users) groups=100(users),10(wheel)`.
 *
 * @example
 * parseId("uid=0(root) gid=0(root) groups=0(root)").user // "root"
 */
export function parseId(text: string): IdOutput {
  const line = firstLine(text);
  const uid = /\buid=(\d+)(?:\(([^)]*)\))?/.exec(line);
  const gid = /\bgid=(\d+)/.exec(line);
  if (!uid || !gid) throw new Error(`unexpected id output: ${line}`);
  const groups: string[] = [];
  const list = /\bgroups=(\S+)/.exec(line)?.[1] ?? "";
  for (const g of list.split(",")) {
    const m = /^(\d+)(?:\(([^)]*)\))?$/.exec(g);
    if (m) groups.push(m[2] ?? m[1]!);
  }
  return { user: uid[2] ?? uid[1]!, uid: Number(uid[1]), gid: Number(gid[1]), groups };
}

const idOf = (raw: RawFacts) => parseId(raw.section("id") ?? "");

/**
 * `user`: the login user's name.
 *
 * @example
 * userUnit.parse(raw) // "clusteradm"
 */
export const userUnit: FactUnit<string> = { name: "user", fragments: [idFragment], parse: (r) => idOf(r).user, default: "" };

/**
 * `uid`: the login user's uid.
 *
 * @example
 * uidUnit.parse(raw) // 1050
 */
export const uidUnit: FactUnit<number> = { name: "uid", fragments: [idFragment], parse: (r) => idOf(r).uid, default: -1 };

/**
 * `gid`: the login user's primary gid.
 *
 * @example
 * gidUnit.parse(raw) // 100
 */
export const gidUnit: FactUnit<number> = { name: "gid", fragments: [idFragment], parse: (r) => idOf(r).gid, default: -1 };

/**
 * `groups`: the login user's group names.
 *
 * @example
 * groupsUnit.parse(raw) // ["users", "wheel"]
 */
export const groupsUnit: FactUnit<string[]> = { name: "groups", fragments: [idFragment], parse: (r) => idOf(r).groups, default: [] };

/**
 * `epoch`: the host's clock in Unix seconds.
 *
 * @example
 * epochUnit.parse(raw) // 1718000000
 */
export const epochUnit: FactUnit<number | null> = {
  name: "epoch",
  fragments: [epochFragment],
  parse: (raw) => {
    const s = firstLine(raw.section("epoch"));
    return /^\d+$/.test(s) ? Number(s) : null;
  },
  default: null,
};

/**
 * `container`: the first line of /run/systemd/container (systemd writes it
 * when it boots in a container), else null.
 *
 * @example
 * containerUnit.parse(raw) // "lxc"
 */
export const containerUnit: FactUnit<string | null> = {
  name: "container",
  files: ["/run/systemd/container"],
  parse: (raw) => firstLine(raw.file("/run/systemd/container")) || null,
  default: null,
};

/**
 * `uptimeSeconds`: from /proc/uptime.
 *
 * @example
 * uptimeUnit.parse(raw) // 86400
 */
export const uptimeUnit: FactUnit<number | null> = {
  name: "uptimeSeconds",
  files: ["/proc/uptime"],
  parse: (raw) => {
    const first = firstLine(raw.file("/proc/uptime")).split(" ")[0] ?? "";
    return /^\d+(\.\d+)?$/.test(first) ? Math.floor(Number(first)) : null;
  },
  default: null,
};

/**
 * `python3`: whether python3 is on the PATH.
 *
 * @example
 * python3Unit.parse(raw) // false
 */
export const python3Unit: FactUnit<boolean> = {
  name: "python3",
  commands: ["python3"],
  parse: (raw) => raw.command("python3") !== undefined,
  default: false,
};

/**
 * `sh`: the path of `sh` on the PATH.
 *
 * @example
 * shUnit.parse(raw) // "/bin/sh"
 */
export const shUnit: FactUnit<string> = {
  name: "sh",
  commands: ["sh"],
  parse: (raw) => raw.command("sh") ?? "/bin/sh",
  default: "/bin/sh",
};
