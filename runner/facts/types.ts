/**
 * The typed facts runbook knows about a host. Gathered once per host per run
 * (see `gatherFacts` in ./index.ts) and available to roles as `h.facts`.
 */

/**
 * Broad OS family, the thing roles usually branch on.
 *
 * @example
 * if (h.facts.os.family === "slackware") await h.service({ name: "ntpd", state: "restarted" });
 */
export type OsFamily = "slackware" | "debian" | "redhat" | "suse" | "arch" | "alpine" | "unknown";

/**
 * The distribution, from /etc/os-release (or /usr/lib/os-release), with
 * /etc/slackware-version taking precedence for Slackware. Raspberry Pi OS is
 * reported as `raspbian` on both its 32-bit image (whose os-release says so)
 * and its 64-bit image (Debian's os-release plus /etc/rpi-issue), so roles
 * that touch the Pi's firmware config need one check.
 *
 * @example
 * // Slackware -current:
 * { id: "slackware", family: "slackware", name: "Slackware", version: "15.0+", versionId: "15.0",
 *   codename: "current", prettyName: "Slackware 15.0 x86_64 (post 15.0 -current)", idLike: [] }
 */
export interface OsFacts {
  /** os-release `ID`: slackware, debian, ubuntu, raspbian, almalinux, rocky, rhel, centos, fedora, alpine, arch, ... */
  id: string;
  family: OsFamily;
  /** os-release `NAME`, e.g. `Debian GNU/Linux`. */
  name: string;
  /** os-release `VERSION` (`12 (bookworm)`); for Slackware the /etc/slackware-version number (`15.0`, `15.0+` on -current). */
  version: string;
  /** os-release `VERSION_ID`, e.g. `12`, `9.4`, `15.0`. */
  versionId: string;
  /** os-release `VERSION_CODENAME` (`bookworm`, `stable`, `current`), when there is one. */
  codename?: string;
  /** os-release `PRETTY_NAME`. */
  prettyName: string;
  /** os-release `ID_LIKE`, split on spaces (`["rhel", "centos", "fedora"]`). */
  idLike: string[];
}

/**
 * The running kernel.
 *
 * @example
 * { release: "5.15.19", version: "#1 SMP PREEMPT Wed Feb 2 15:30:42 CST 2022", cmdline: "BOOT_IMAGE=... ro" }
 */
export interface KernelFacts {
  /** `uname -r`. */
  release: string;
  /** `uname -v`. */
  version: string;
  /** /proc/cmdline (e.g. to check `cgroup_no_v1=all` or `systemd.unified_cgroup_hierarchy`). */
  cmdline: string;
}

/**
 * CPUs as the kernel reports them.
 *
 * @example
 * { count: 16, model: "Intel(R) Xeon(R) CPU E5-2630 v3 @ 2.40GHz", virtualization: "vmx", hypervisor: false }
 */
export interface CpuFacts {
  /** Online logical CPUs (/sys/devices/system/cpu/online; /proc/cpuinfo when that is missing). */
  count: number;
  /** `model name` on x86 and armv7; on aarch64 the core derived from `CPU part` (`Cortex-A72`); null when unknown. */
  model: string | null;
  /** Hardware virtualization the host can offer guests: Intel `vmx`, AMD `svm`, or null (none, or not exposed to this VM). */
  virtualization: "vmx" | "svm" | null;
  /** True when the CPU flags say this host is itself a virtual machine (x86 `hypervisor` flag). */
  hypervisor: boolean;
}

/**
 * Memory from /proc/meminfo, in MiB (rounded down).
 *
 * @example
 * { totalMiB: 64224, availableMiB: 61870, swapTotalMiB: 8191 }
 */
export interface MemoryFacts {
  totalMiB: number;
  /** `MemAvailable`; on kernels without it, MemFree + Buffers + Cached. */
  availableMiB: number;
  swapTotalMiB: number;
}

/**
 * One address on an interface.
 *
 * @example
 * { family: "inet", address: "10.0.12.1", prefix: 31, scope: "global" }
 */
export interface InterfaceAddress {
  family: "inet" | "inet6";
  address: string;
  prefix: number;
  /** `global`, `link`, `host` or `site`, when known. */
  scope?: string;
  /** The far end of a point-to-point address (`ip addr add A peer B/32`). */
  peer?: string;
}

/**
 * RFC 2863 operational state, as /sys/class/net/X/operstate spells it.
 *
 * @example
 * const cabled = iface.state === "up";
 */
export type InterfaceState = "up" | "down" | "unknown" | "dormant" | "lowerlayerdown" | "notpresent" | "testing";

/**
 * A network interface with its addresses.
 *
 * @example
 * { name: "eth1", index: 3, mac: "3c:ec:ef:10:22:31", state: "up", mtu: 9000, linkType: "ether",
 *   flags: ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"], addresses: [], master: "br0" }
 */
export interface NetworkInterface {
  name: string;
  /** Kernel ifindex, when known. */
  index?: number;
  /** Hardware address; null for interfaces without one (tun, wireguard, ipip). */
  mac: string | null;
  state: InterfaceState;
  mtu: number;
  /** Link layer: `ether`, `loopback`, `none`, `infiniband`, ... */
  linkType?: string;
  /** Interface flags as `ip link` prints them (`UP`, `LOWER_UP`, `NO-CARRIER`, ...). */
  flags: string[];
  addresses: InterfaceAddress[];
  /** Link kind when it is a virtual device: `bridge`, `veth`, `vlan`, `bond`, `vxlan`, `openvswitch`, `tun`, ... */
  kind?: string;
  /** The bridge or bond this interface is a port of. */
  master?: string;
  /** Alternative names (`altname enp24s0f0`). */
  altnames?: string[];
}

/**
 * The IPv4 default route (lowest metric when there are several).
 *
 * @example
 * { gateway: "192.168.10.1", interface: "eth0", metric: 0 }
 */
export interface DefaultRoute {
  /** Next hop; null for a device route with no gateway (`default dev ppp0`). */
  gateway: string | null;
  interface: string;
  metric: number;
}

/**
 * What starts and manages services: decides how the `service` task works.
 * `slackware-bsd` is Slackware's /etc/rc.d/rc.M + rc.NAME scripts under
 * sysvinit.
 *
 * @example
 * if (h.facts.initSystem === "slackware-bsd") await h.file({ path: "/etc/rc.d/rc.ntpd", mode: 0o755 });
 */
export type InitSystem = "systemd" | "slackware-bsd" | "sysvinit" | "openrc" | "unknown";

/**
 * The package manager the `package` task drives. On Slackware `slackpkg`
 * only when a mirror is configured in /etc/slackpkg/mirrors, otherwise
 * `pkgtools` (installpkg/upgradepkg/removepkg).
 *
 * @example
 * const pm: PackageManager | null = h.facts.packageManager; // "apt"
 */
export type PackageManager = "slackpkg" | "pkgtools" | "apt" | "dnf" | "yum" | "apk" | "pacman" | "zypper";

/**
 * Control groups, from /proc/mounts.
 *
 * @example
 * // Slackware 15.0 default (v1, one hierarchy per controller):
 * { version: 1, mountpoint: "/sys/fs/cgroup", v2Mountpoint: null, controllers: ["cpuset", "cpu", ...] }
 */
export interface CgroupFacts {
  /** 2 (unified only), 1 (legacy only), `hybrid` (v1 controllers plus a v2 tree), null (none mounted). */
  version: 1 | 2 | "hybrid" | null;
  /** Root of the cgroup tree, usually /sys/fs/cgroup. */
  mountpoint: string | null;
  /** Where cgroup2 is mounted: the mountpoint itself on v2, /sys/fs/cgroup/unified on hybrid. */
  v2Mountpoint: string | null;
  /** On v2: the root's cgroup.controllers. On v1/hybrid: the controllers mounted as v1 hierarchies. */
  controllers: string[];
}

/**
 * Block device types, by kernel name: `sd*`/`vd*`/`nvme*`/`mmcblk*` are
 * disks, `sr*` rom, `md*` raid, `dm-*` device-mapper (LVM, crypt).
 *
 * @example
 * const disks = h.facts.blockDevices.filter((d) => d.type === "disk");
 */
export type BlockDeviceType = "disk" | "part" | "loop" | "rom" | "raid" | "dm" | "zram";

/**
 * A block device from /sys/block. Unattached loop devices and ram disks are
 * left out.
 *
 * @example
 * { name: "sda1", type: "part", parent: "sda", sizeBytes: 1073741824 }
 */
export interface BlockDevice {
  name: string;
  type: BlockDeviceType;
  sizeBytes: number;
  /** The disk a partition is on. */
  parent?: string;
  /** True for spinning disks (queue/rotational); virtio disks claim 1 unless told otherwise. */
  rotational?: boolean;
  /** Model string (device/model, or device/name for SD/eMMC cards), trimmed. */
  model?: string;
  removable?: boolean;
  readOnly?: boolean;
  /** device-mapper name (`almalinux-root`) for `dm-*` devices. */
  dmName?: string;
  /** Backing file of an attached loop device. */
  backingFile?: string;
}

/**
 * Everything runbook knows about a host, gathered in one round trip.
 *
 * @example
 * if (h.facts.os.family === "debian" && h.facts.cgroup.version !== 2) { ... }
 */
export interface Facts {
  os: OsFacts;
  kernel: KernelFacts;
  /** `uname -m`: x86_64, aarch64, armv7l, ... */
  arch: string;
  /** Short host name (the kernel's node name up to the first dot). */
  hostname: string;
  /** The kernel's node name as set (may be a FQDN, as RHEL installs often do). */
  nodename: string;
  /** `hostname -f` when it gives a dotted name, else the /etc/hosts entry for the host, else the host name. */
  fqdn: string;
  /** Hardware model: a Raspberry Pi's `Model` line, or the DMI vendor and product; null when unknown. */
  board: string | null;
  cpu: CpuFacts;
  memory: MemoryFacts;
  interfaces: NetworkInterface[];
  defaultRoute: DefaultRoute | null;
  initSystem: InitSystem;
  /**
   * The container the host runs in, as its systemd recorded it in
   * /run/systemd/container (`lxc`, `docker`, `systemd-nspawn`, the test lab's
   * `runbook-lab`); null on a machine or VM, and in a container whose PID 1
   * is not systemd. A container boots with no kernel command line of its own.
   */
  container: string | null;
  packageManager: PackageManager | null;
  cgroup: CgroupFacts;
  blockDevices: BlockDevice[];
  /** The login user facts were gathered as (`id -un`). */
  user: string;
  uid: number;
  gid: number;
  /** Group names of `user` (numbers when a group has no name). */
  groups: string[];
  /** Host clock as Unix seconds when facts were gathered (compare with ours to spot skew); null if unknown. */
  epoch: number | null;
  /** Seconds since boot, from /proc/uptime; null if unknown. */
  uptimeSeconds: number | null;
  /** Whether `python3` is on the PATH (runbook never needs it; roles may). */
  python3: boolean;
  /** Path of `sh` on the PATH the facts script ran with. */
  sh: string;
}
