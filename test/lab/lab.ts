/**
 * The namespace test lab: real Debian hosts with a real sshd, made on this
 * machine in seconds, for tests and demos.
 *
 * Each host is an overlayfs root (lower layers: the cached debootstrap
 * rootfs, an optional Slackware-flavour layer and a per-lab config layer;
 * upper: per host) with its own network, PID, mount, UTS and cgroup
 * namespaces, fresh proc/sys/devpts and a tmpfs /run, regenerated SSH host
 * keys, and as PID 1 either tini with sshd under it or (hosts chosen with
 * `systemd`) systemd booting the host, sshd a unit. Each host's cgroup
 * namespace is rooted in its own cgroup2 subtree (`runbook-lab-ID/NAME`
 * under the machine's cgroup2 mount), made on `up` and removed on `down`.
 *
 * Addresses: the lab owns 10.88.0.0/16; lab instance N (0-15) owns
 * 10.88.(16N).0/20 on a bridge `rblabN` in the root namespace, whose .1 is the
 * gateway and apt proxy. Nothing is routed or NATed out of the lab: hosts
 * reach the Debian mirror only through that proxy. Every name (bridge, veths,
 * netns, state dir) carries the instance id, so two labs never collide.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, rmdirSync, symlinkSync, writeFileSync, closeSync } from "node:fs";
import net from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CACHE_DIR, ensureRootfs, rootfsPath } from "./rootfs.ts";
import { stringify as stringifyYaml } from "yaml";
import { run } from "./sh.ts";
import { ensureLabTools } from "./tools.ts";

export const STATE_ROOT = process.env.RUNBOOK_LAB_STATE ?? "/var/lib/runbook-lab";
const HERE = dirname(fileURLToPath(import.meta.url));
const PROXY_PORT = 3142;

export type Flavour = "debian" | "slackware";

/** PID 1 of a lab host: tini reaping a foreground sshd, or systemd booting the host. */
export type LabInit = "tini" | "systemd";

export interface LabHost {
  /** 1-based position in the lab. */
  index: number;
  /** Inventory name and hostname, e.g. `tnode1`. */
  name: string;
  /** Management address (eth0), reachable from the root namespace. */
  address: string;
  netns: string;
  flavour: Flavour;
  init: LabInit;
  /** The host's cgroup2 subtree on the machine: the root of its cgroup namespace. */
  cgroup: string;
  /** The overlay's upper dir: every change the host made to its filesystem. */
  upper: string;
  /** sshd's and the init's output. */
  console: string;
}

export interface Lab {
  id: number;
  dir: string;
  hosts: LabHost[];
  topology: "none" | "triangle";
  bridge: string;
  gateway: string;
  proxyPid: number;
  /** Private key that logs in as root on every host. */
  key: string;
  knownHosts: string;
  /** An OpenSSH client config naming every host (`ssh -F sshConfig tnode1`). */
  sshConfig: string;
  /** A Rundeck-style resource YAML inventory of the hosts. */
  inventory: string;
  rootfs: string;
}

export interface UpOptions {
  id?: number;
  hosts: number;
  /** Wire hosts 1-3 pairwise like the reference cluster's DAC cables. */
  topology?: "none" | "triangle";
  /** 1-based indexes of hosts that get the Slackware-flavoured layer. */
  slackware?: number[];
  /** 1-based indexes of hosts that boot systemd as PID 1 (the others run tini). */
  systemd?: number[];
  /** Host name prefix; hosts are PREFIX1..PREFIXN. */
  prefix?: string;
  /** Use the rootfs variant with python3 (for the Ansible benchmark). */
  python?: boolean;
  /**
   * A lab already up on this id is taken down and built anew (the test
   * fixture: a lab left over from a crashed run is its own). Without it,
   * `up` on a running lab reuses it when it is the lab asked for and
   * refuses otherwise: never a rebuild behind the user's back.
   */
  replace?: boolean;
  log?: (line: string) => void;
}

/** The instance id used when none is given: `RUNBOOK_LAB_ID`, else 0. */
export function defaultId(): number {
  return Number(process.env.RUNBOOK_LAB_ID ?? 0);
}

/** `--slackware 1,3` -> [1, 3] (1-based host indexes). */
export function hostList(text: string | undefined): number[] {
  return text ? text.split(",").map(Number) : [];
}

function checkId(id: number): void {
  if (!Number.isInteger(id) || id < 0 || id > 15) throw new Error(`lab id must be 0-15, got ${id}`);
}

export const labDir = (id: number) => join(STATE_ROOT, String(id));
const bridgeName = (id: number) => `rblab${id}`;
const vethName = (id: number, i: number) => `rb${id}h${i}`;
const netnsName = (id: number, name: string) => `rblab${id}-${name}`;

/** Management address of host `index` in lab `id` (see the module doc). */
export function hostAddress(id: number, index: number): string {
  const offset = 10 + index;
  return `10.88.${id * 16 + Math.floor(offset / 256)}.${offset % 256}`;
}
const gatewayAddress = (id: number) => `10.88.${id * 16}.1`;

/**
 * Why the lab cannot run here, or null when it can. Tests skip (and say so)
 * on a non-null answer instead of passing.
 */
export async function labUnavailable(): Promise<string | null> {
  if (process.platform !== "linux") return "the lab needs Linux";
  if (process.getuid?.() !== 0) return "the lab needs root (network namespaces, mounts)";
  for (const tool of ["ip", "unshare", "pivot_root", "ssh-keygen", "mount"]) {
    const found = await run("sh", ["-c", `command -v ${tool}`], { allowFail: true });
    if (found.code !== 0) return `the lab needs \`${tool}\` (run .ci/setup-lab or install iproute2, util-linux, openssh-client)`;
  }
  const probe = await run("unshare", ["--net", "--mount", "--pid", "--uts", "--fork", "true"], { allowFail: true });
  if (probe.code !== 0) return `namespaces are not available: ${probe.stderr.trim()}`;
  if (!cgroupRoot()) return "the lab needs a cgroup2 mount (the unified hierarchy, alone or beside v1): each host gets its own subtree";
  const hasDebootstrap = await run("sh", ["-c", "command -v debootstrap"], { allowFail: true });
  if (hasDebootstrap.code !== 0 && !existsSync(CACHE_DIR)) return "the lab needs debootstrap to build its rootfs";
  return null;
}

/** Reads a running lab's state, or null when lab `id` is not up. */
export function status(id = defaultId()): Lab | null {
  const file = join(labDir(id), "state.json");
  if (!existsSync(file)) return null;
  return JSON.parse(readFileSync(file, "utf8")) as Lab;
}

/**
 * Brings up lab `id` with `hosts` hosts. When lab `id` is already up (or
 * left pieces behind), `replace` rebuilds it; otherwise the running lab is
 * returned when it is the one asked for, and `up` refuses when it is not.
 */
export async function up(opts: UpOptions): Promise<Lab> {
  const id = opts.id ?? defaultId();
  checkId(id);
  const log = opts.log ?? (() => {});
  if (opts.hosts < 1 || opts.hosts > 3000) throw new Error(`lab hosts must be 1-3000, got ${opts.hosts}`);
  const topology = opts.topology ?? "none";
  if (topology === "triangle" && opts.hosts < 3) throw new Error("the triangle topology needs at least 3 hosts");
  const slack = new Set(opts.slackware ?? []);
  const systemd = new Set(opts.systemd ?? []);
  for (const i of [...slack, ...systemd]) {
    if (!Number.isInteger(i) || i < 1 || i > opts.hosts) throw new Error(`host index ${i} is not one of the lab's hosts (1-${opts.hosts})`);
  }
  const both = [...slack].filter((i) => systemd.has(i));
  if (both.length) throw new Error(`host ${both.join(", ")}: the Slackware flavour has no systemd (choose --slackware or --systemd)`);
  await ensureLabTools(log);
  const reason = await labUnavailable();
  if (reason) throw new Error(`lab unavailable: ${reason}`);

  const prefix = opts.prefix ?? "tnode";
  const hosts: LabHost[] = [];
  for (let i = 1; i <= opts.hosts; i++) {
    const name = `${prefix}${i}`;
    const hostDir = join(labDir(id), "hosts", name);
    hosts.push({
      index: i,
      name,
      address: hostAddress(id, i),
      netns: netnsName(id, name),
      flavour: slack.has(i) ? "slackware" : "debian",
      init: systemd.has(i) ? "systemd" : "tini",
      cgroup: join(cgroupRoot()!, labCgroupName(id), name),
      upper: join(hostDir, "upper"),
      console: join(hostDir, "console.log"),
    });
  }
  if (!opts.replace) {
    const running = await reuse(id, hosts, topology, opts);
    if (running) {
      log(`lab ${id}: already up as asked; reusing it`);
      return running;
    }
  }
  await down(id);
  const rootfs = await ensureRootfs({ python: opts.python, log });
  const dir = labDir(id);
  mkdirSync(dir, { recursive: true });
  const started = Date.now();

  const key = join(dir, "id_ed25519");
  await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `runbook-lab-${id}`, "-f", key]);
  const common = writeCommonLayer(dir, gatewayAddress(id), readFileSync(`${key}.pub`, "utf8"));
  const slackLayer = join(dir, "layer-slackware");
  cpSync(join(HERE, "slackware"), slackLayer, { recursive: true, verbatimSymlinks: true });
  const systemdLayer = writeSystemdLayer(dir);

  const bridge = bridgeName(id);
  await ipBatch([`link add ${bridge} type bridge`, `addr add ${gatewayAddress(id)}/20 dev ${bridge}`, `link set ${bridge} up`]);
  const proxyPid = startProxy(dir, gatewayAddress(id));

  const hostKeys = await Promise.all(hosts.map((h) => prepareHost(id, h, hosts, bridge)));
  if (topology === "triangle") await wireTriangle(hosts);
  makeCgroups(hosts);
  await Promise.all(hosts.map((h) => startHost(h, [common, ...(h.flavour === "slackware" ? [slackLayer] : []), ...(h.init === "systemd" ? [systemdLayer] : []), rootfs])));

  const lab: Lab = {
    id,
    dir,
    hosts,
    topology,
    bridge,
    gateway: gatewayAddress(id),
    proxyPid,
    key,
    knownHosts: join(dir, "known_hosts"),
    sshConfig: join(dir, "ssh_config"),
    inventory: join(dir, "inventory.yml"),
    rootfs,
  };
  writeClientFiles(lab, hostKeys);
  writeFileSync(join(dir, "state.json"), JSON.stringify(lab, null, 2));
  await Promise.all(hosts.map((h) => waitForSsh(h, h.init === "systemd" ? 90_000 : 30_000)));
  await Promise.all(hosts.filter((h) => h.init === "systemd").map((h) => waitForBoot(lab, h, log)));
  log(`lab ${id}: ${hosts.length} host(s) up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return lab;
}

/** "3 host(s) tnode1..tnode3, topology triangle, slackware 3, systemd 1" */
function describeLab(hosts: Pick<LabHost, "index" | "name" | "flavour" | "init">[], topology: string): string {
  const which = (pick: (h: (typeof hosts)[number]) => boolean) => hosts.filter(pick).map((h) => h.index).join(",");
  const slack = which((h) => h.flavour === "slackware");
  const systemd = which((h) => h.init === "systemd");
  const names = hosts.length === 1 ? hosts[0]!.name : `${hosts[0]!.name}..${hosts.at(-1)!.name}`;
  return [`${hosts.length} host(s) ${names}`, `topology ${topology}`, ...(slack ? [`slackware ${slack}`] : []), ...(systemd ? [`systemd ${systemd}`] : [])].join(", ");
}

/**
 * Lab `id` as it runs now, when it is the lab asked for and every host
 * answers; null when nothing of lab `id` is on the machine. Anything else
 * (another shape, a dead host, pieces without a state file) is refused:
 * `up` never rebuilds a lab behind its user's back.
 */
async function reuse(id: number, hosts: LabHost[], topology: string, opts: UpOptions): Promise<Lab | null> {
  const current = status(id);
  const left = await leftovers(id);
  const how = `take it down first (\`npm run lab -- down --id ${id}\`), use another id, or replace it (\`up --replace\`)`;
  if (!current) {
    const pieces = Object.entries(left).filter(([, v]) => v.length).map(([k, v]) => `${v.length} ${k}`);
    if (pieces.length) throw new Error(`lab ${id} left pieces behind with no state file (${pieces.join(", ")}): ${how}`);
    return null;
  }
  const shape = (hs: Pick<LabHost, "index" | "name" | "flavour" | "init">[]) => describeLab(hs, "");
  const same = current.topology === topology && shape(current.hosts) === shape(hosts) && current.rootfs === rootfsPath({ python: opts.python });
  if (!same) throw new Error(`lab ${id} is already up (${describeLab(current.hosts, current.topology)}), not as asked (${describeLab(hosts, topology)}): ${how}`);
  const answering = await Promise.all(current.hosts.map((h) => sshBanner(h)));
  const dead = current.hosts.filter((_, i) => !answering[i]).map((h) => h.name);
  if (dead.length) throw new Error(`lab ${id} is up as asked but ${dead.join(", ")} do(es) not answer ssh: ${how}`);
  return current;
}

/**
 * The layer systemd hosts add: a volatile journal (logs in /run, so the
 * upper dir still holds only what tasks changed) and, masked, the timers
 * that would run apt, dpkg backups, fstrim or /tmp clean-ups on their own
 * schedule in the middle of a test (apt's would hold its lock when a role
 * installs a package; a clean-up would change the upper dir under a check).
 */
function writeSystemdLayer(dir: string): string {
  const layer = join(dir, "layer-systemd");
  const conf = join(layer, "etc/systemd/journald.conf.d/00-runbook-lab.conf");
  mkdirSync(dirname(conf), { recursive: true });
  writeFileSync(conf, "[Journal]\nStorage=volatile\n");
  mkdirSync(join(layer, "etc/systemd/system"), { recursive: true });
  for (const unit of ["apt-daily.timer", "apt-daily-upgrade.timer", "dpkg-db-backup.timer", "e2scrub_all.timer", "e2scrub_reap.service", "fstrim.timer", "systemd-tmpfiles-clean.timer"]) {
    symlinkSync("/dev/null", join(layer, "etc/systemd/system", unit));
  }
  return layer;
}

/** The per-lab config layer shared by all hosts: login key, apt proxy, sshd settings. */
function writeCommonLayer(dir: string, gateway: string, pubkey: string): string {
  const layer = join(dir, "layer-common");
  const files: Record<string, string> = {
    "root/.ssh/authorized_keys": pubkey,
    "etc/apt/apt.conf.d/00runbook-lab": [
      `Acquire::http::Proxy "http://${gateway}:${PROXY_PORT}/";`,
      // The machine's mirror may be a dated snapshot.
      `Acquire::Check-Valid-Until "false";`,
      `Acquire::Languages "none";`,
      `APT::Install-Recommends "false";`,
      "",
    ].join("\n"),
    // No resolver is reachable from a lab host; fail lookups at once rather
    // than after a timeout (apt goes through the proxy by name).
    "etc/resolv.conf": "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
    "etc/ssh/sshd_config.d/00-runbook-lab.conf": "UseDNS no\nPrintMotd no\nPrintLastLog no\n",
  };
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(layer, path)), { recursive: true });
    writeFileSync(join(layer, path), content);
  }
  return layer;
}

async function ipBatch(lines: string[], netns?: string): Promise<void> {
  const args = netns ? ["-n", netns, "-batch", "-"] : ["-batch", "-"];
  await run("ip", args, { input: lines.join("\n") + "\n" });
}

function startProxy(dir: string, address: string): number {
  const logFd = openSync(join(dir, "proxy.log"), "a");
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join(HERE, "proxy.ts"), address, String(PROXY_PORT), join(CACHE_DIR, "apt-proxy")],
    { detached: true, stdio: ["ignore", logFd, logFd], cwd: join(HERE, "../..") },
  );
  child.unref();
  closeSync(logFd);
  return child.pid!;
}

/** Host keys, hostname and /etc/hosts in the upper dir; netns and eth0. Returns the host's public key. */
async function prepareHost(id: number, h: LabHost, all: LabHost[], bridge: string): Promise<string> {
  const hostDir = dirname(h.upper);
  for (const d of ["upper/etc/ssh", "work", "merged"]) mkdirSync(join(hostDir, d), { recursive: true });
  const keyFile = join(h.upper, "etc/ssh/ssh_host_ed25519_key");
  await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `root@${h.name}`, "-f", keyFile]);
  writeFileSync(join(h.upper, "etc/hostname"), `${h.name}\n`);
  // Its own machine id (the rootfs's is shared): journald, D-Bus and DHCP client ids key on it.
  writeFileSync(join(h.upper, "etc/machine-id"), `${randomBytes(16).toString("hex")}\n`);
  const hostsLines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback", ...all.map((o) => `${o.address}\t${o.name}`)];
  writeFileSync(join(h.upper, "etc/hosts"), hostsLines.join("\n") + "\n");

  const veth = vethName(id, h.index);
  await run("ip", ["netns", "add", h.netns]);
  await ipBatch([`link add ${veth} type veth peer name eth0 netns ${h.netns}`, `link set ${veth} master ${bridge}`, `link set ${veth} up`]);
  await ipBatch(
    ["link set lo up", `addr add ${h.address}/20 dev eth0`, "link set eth0 up", `route add default via ${gatewayAddress(id)}`],
    h.netns,
  );
  return readFileSync(`${keyFile}.pub`, "utf8").split(" ").slice(0, 2).join(" ");
}

/**
 * The reference cluster's DAC cables: host1 port1 <-> host2 port2,
 * host2 port1 <-> host3 port1, host3 port2 <-> host1 port2, where port1 is
 * eth1 and port2 is eth2 (as in reference 001's rc.inet1.conf).
 */
export const TRIANGLE_LINKS: [number, string, number, string][] = [
  [1, "eth1", 2, "eth2"],
  [2, "eth1", 3, "eth1"],
  [3, "eth2", 1, "eth2"],
];

async function wireTriangle(hosts: LabHost[]): Promise<void> {
  for (const [a, ifA, b, ifB] of TRIANGLE_LINKS) {
    const ha = hosts[a - 1]!;
    const hb = hosts[b - 1]!;
    await run("ip", ["link", "add", ifA, "netns", ha.netns, "type", "veth", "peer", "name", ifB, "netns", hb.netns]);
    await run("ip", ["-n", ha.netns, "link", "set", ifA, "up"]);
    await run("ip", ["-n", hb.netns, "link", "set", ifB, "up"]);
  }
}

/**
 * PID 1 setup, run by the machine's /bin/sh inside the host's new namespaces:
 * mount the overlay root and fresh pseudo filesystems, pivot into it and exec
 * tini with sshd, or systemd. /proc/sys is read-only except net.*, which is
 * per network namespace: a task on a lab host must never change the test
 * machine's kernel. cgroup2 is mounted from inside the host's cgroup
 * namespace, so its root is the host's own subtree (made by `up`, writable:
 * systemd makes its slices there). systemd gets what its container interface
 * asks for: tmpfs /run and /run/lock, `container` in its environment (and
 * nothing else of ours), a machine id (written by `up`).
 */
const INIT_SCRIPT = String.raw`
set -e
M=$1 NAME=$2 LOWER=$3 UPPER=$4 WORK=$5 INIT=$6
mount -t overlay overlay -o "lowerdir=$LOWER,upperdir=$UPPER,workdir=$WORK" "$M"
hostname "$NAME"
mount -t proc proc "$M/proc"
mount --bind "$M/proc/sys" "$M/proc/sys"
mount --bind "$M/proc/sys/net" "$M/proc/sys/net"
mount -o remount,bind,ro "$M/proc/sys"
mount -t sysfs sysfs "$M/sys"
mount -t cgroup2 cgroup2 "$M/sys/fs/cgroup" 2>/dev/null || true
mount -t tmpfs -o mode=755,size=65536k tmpfs "$M/run"
mount -t tmpfs -o mode=755,size=65536k tmpfs "$M/dev"
for d in null zero full random urandom tty; do : > "$M/dev/$d"; mount --bind "/dev/$d" "$M/dev/$d"; done
if [ -e /dev/net/tun ]; then mkdir "$M/dev/net"; : > "$M/dev/net/tun"; mount --bind /dev/net/tun "$M/dev/net/tun"; fi
mkdir "$M/dev/pts" "$M/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$M/dev/pts"
ln -s pts/ptmx "$M/dev/ptmx"
mount -t tmpfs -o mode=1777 tmpfs "$M/dev/shm"
ln -s /proc/self/fd "$M/dev/fd"
ln -s /proc/self/fd/0 "$M/dev/stdin"; ln -s /proc/self/fd/1 "$M/dev/stdout"; ln -s /proc/self/fd/2 "$M/dev/stderr"
mkdir -p "$M/run/sshd" "$M/run/lock"
mount -t tmpfs -o mode=1777,size=5120k,nosuid,nodev,noexec tmpfs "$M/run/lock"
: > "$M/run/utmp"; : > "$M/run/wtmp"; : > "$M/run/btmp"; : > "$M/run/lastlog"
cd "$M"
pivot_root . .
umount -l .
cd /
if [ "$INIT" = systemd ]; then exec env -i container=runbook-lab /usr/lib/systemd/systemd; fi
exec /usr/bin/tini -- /usr/sbin/sshd -D -e
`;

async function startHost(h: LabHost, lower: string[]): Promise<void> {
  const hostDir = dirname(h.upper);
  const logFd = openSync(h.console, "a");
  // The init joins the host's cgroup before `unshare --cgroup`, which roots
  // the new cgroup namespace where its caller is.
  const child = spawn(
    "sh",
    [
      "-c", 'echo $$ > "$0" && exec "$@"', join(h.cgroup, "cgroup.procs"),
      "ip", "netns", "exec", h.netns,
      "unshare", "--mount", "--uts", "--pid", "--cgroup", "--fork", "--propagation", "private", "--",
      "/bin/sh", "-c", INIT_SCRIPT, "init",
      join(hostDir, "merged"), h.name, lower.join(":"), h.upper, join(hostDir, "work"), h.init,
    ],
    { detached: true, stdio: ["ignore", logFd, logFd] },
  );
  child.unref();
  closeSync(logFd);
}

/** True when the host's sshd sends its banner within a second. */
function sshBanner(h: Pick<LabHost, "address">): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const sock = net.connect(22, h.address);
    sock.setTimeout(1000);
    sock.once("data", (d) => {
      sock.destroy();
      resolve(d.toString().startsWith("SSH-"));
    });
    sock.once("error", () => resolve(false));
    sock.once("timeout", () => {
      sock.destroy();
      resolve(false);
    });
  });
}

/** Waits until the host's sshd sends its banner. */
async function waitForSsh(h: LabHost, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await sshBanner(h)) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  const consoleText = existsSync(h.console) ? readFileSync(h.console, "utf8").slice(-2000) : "(no console output)";
  throw new Error(`lab host ${h.name} (${h.address}): sshd did not answer in ${timeoutMs / 1000} s; console:\n${consoleText}`);
}

/**
 * Waits until systemd on `h` has finished booting (`systemctl
 * is-system-running --wait`): running, or degraded, whose failed units are
 * logged. Anything else (a boot that hangs, maintenance) fails `up`.
 */
export async function waitForBoot(lab: Lab, h: LabHost, log: (line: string) => void): Promise<void> {
  const onHost = (command: string) => run("ssh", ["-F", lab.sshConfig, "-o", "BatchMode=yes", h.name, command], { allowFail: true });
  const state = (await onHost("timeout 120 systemctl is-system-running --wait")).stdout.trim();
  if (state === "running") return;
  const failed = (await onHost("systemctl --failed --no-legend --plain")).stdout.trim();
  if (state === "degraded") {
    log(`lab ${lab.id}: ${h.name} booted degraded; failed units:\n${failed}`);
    return;
  }
  throw new Error(`lab host ${h.name}: systemd did not finish booting (is-system-running: ${state || "no answer"}); failed units:\n${failed}`);
}

function writeClientFiles(lab: Lab, hostKeys: string[]): void {
  writeFileSync(lab.knownHosts, lab.hosts.map((h, i) => `${h.name},${h.address} ${hostKeys[i]}\n`).join(""));
  const config = lab.hosts.map((h) =>
    [
      `Host ${h.name}`,
      `  HostName ${h.address}`,
      "  User root",
      `  IdentityFile ${lab.key}`,
      "  IdentitiesOnly yes",
      `  UserKnownHostsFile ${lab.knownHosts}`,
      "  StrictHostKeyChecking yes",
      "  LogLevel ERROR",
      "",
    ].join("\n"),
  );
  writeFileSync(lab.sshConfig, config.join(""));
  const pubkey = readFileSync(`${lab.key}.pub`, "utf8").trim();
  const nodes = Object.fromEntries(
    lab.hosts.map((h) => [
      h.name,
      {
        nodename: h.name,
        hostname: h.address,
        username: "root",
        tags: `${h.index <= 3 ? "clusternode,lab" : "lab"},${h.flavour}${h.init === "systemd" ? ",systemd" : ""}`,
        "ssh-keypath": lab.key,
        known_hosts_file: lab.knownHosts,
        // Lab hosts share the test machine's clock, which nothing may steer:
        // the ntp role's time daemon runs with clock control off here
        // (chronyd -x) unless a play explicitly says otherwise.
        ntp: { clockControl: false },
        // The cluster's admin logs in with the lab key.
        "base-os": { admin: { authorizedKeys: [pubkey] }, ...(lab.topology === "triangle" && h.index <= 3 ? { addresses: clusterLan(h.index) } : {}) },
        // The triangle is routed with FRR OSPF by default (site.ts's cluster LAN play);
        // an extra `-i bridgeStpInventory(lab)` switches it to bridge-stp.
        ...(lab.topology === "triangle" && h.index <= 3 ? { cluster_lan: "frr", frr: clusterFrr(h.index) } : {}),
      },
    ]),
  );
  writeFileSync(lab.inventory, `# lab ${lab.id}, written by \`npm run lab -- up\`\n` + stringifyYaml(nodes, { lineWidth: 0 }));
}

/**
 * Cluster-LAN addresses for the triangle: reference 001's /30 subnets and
 * loopback /32s, laid on this lab's cabling (reference 000's: host1 eth1 -
 * host2 eth2 is 192.168.11.0/30, host2 eth1 - host3 eth1 192.168.22.0/30,
 * host3 eth2 - host1 eth2 192.168.33.0/30).
 */
export function clusterLan(index: number): Record<string, string[]> {
  const lan: Record<number, Record<string, string[]>> = {
    1: { eth1: ["192.168.11.1/30"], eth2: ["192.168.33.2/30"], lo: ["10.50.1.1/32"] },
    2: { eth1: ["192.168.22.1/30"], eth2: ["192.168.11.2/30"], lo: ["10.50.1.2/32"] },
    3: { eth1: ["192.168.22.2/30"], eth2: ["192.168.33.1/30"], lo: ["10.50.1.3/32"] },
  };
  return lan[index] ?? {};
}

/**
 * The frr role's parameters for triangle host `index`: router id = its
 * loopback, OSPF point-to-point on eth1/eth2 with short timers (hello 1 s,
 * dead 4 s: a silent neighbour is dropped in seconds, where FRR's 10/40 would
 * keep a test waiting), and `clusterLan(index)`'s two /30s and loopback /32
 * in area 0.
 */
export function clusterFrr(index: number): Record<string, unknown> {
  const links: Record<number, string[]> = { 1: ["192.168.11.0/30", "192.168.33.0/30"], 2: ["192.168.22.0/30", "192.168.11.0/30"], 3: ["192.168.22.0/30", "192.168.33.0/30"] };
  const own = links[index];
  if (!own) return {};
  return {
    routerId: `10.50.1.${index}`,
    interfaces: ["eth1", "eth2"].map((name) => ({ name, network: "point-to-point", helloInterval: 1, deadInterval: 4 })),
    networks: [...own, `10.50.1.${index}/32`].map((prefix) => ({ prefix, area: 0 })),
  };
}

/**
 * The triangle in bridge-stp mode (reference 000) instead of the default
 * frr: writes `bridge-stp.yml` in the lab's dir, an inventory to pass as a
 * second `-i` after `lab.inventory` (the later file wins key by key), and
 * returns its path. Per triangle host: `cluster_lan: bridge-stp`, the
 * bridge's address 192.168.100.N/24 and short STP timers (forward delay
 * 4 s, hello 1 s, max age 6 s: settled in about 8 s instead of 30), and a
 * `base-os` without the cluster ports' /30s (bridge ports carry no address).
 *
 * @example runbook(["play", "playbooks/site.ts", "-i", lab.inventory, "-i", bridgeStpInventory(lab)])
 */
export function bridgeStpInventory(lab: Lab): string {
  const pubkey = readFileSync(`${lab.key}.pub`, "utf8").trim();
  const hosts = Object.fromEntries(
    lab.hosts
      .filter((h) => h.index <= 3)
      .map((h) => [
        h.name,
        {
          cluster_lan: "bridge-stp",
          "bridge-stp": { address: bridgeLan(h.index), forwardDelay: 4, helloTime: 1, maxAge: 6 },
          "base-os": { admin: { authorizedKeys: [pubkey] }, addresses: { lo: clusterLan(h.index).lo ?? [] } },
        },
      ]),
  );
  const file = join(lab.dir, "bridge-stp.yml");
  writeFileSync(file, `# lab ${lab.id}: the triangle in bridge-stp mode (test/lab/lab.ts bridgeStpInventory)\n` + stringifyYaml({ all: { hosts } }, { lineWidth: 0 }));
  return file;
}

/** The bridge's address of triangle host `index` in bridge-stp mode. */
export const bridgeLan = (index: number) => `192.168.100.${index}/24`;

/**
 * The machine's cgroup2 mount point (/sys/fs/cgroup, or /sys/fs/cgroup/unified
 * on a hybrid v1+v2 machine), or null without one.
 */
export function cgroupRoot(): string | null {
  const mounts = readFileSync("/proc/self/mountinfo", "utf8").split("\n");
  const points = mounts.filter((l) => / - cgroup2 /.test(l)).map((l) => l.split(" ")[4]!);
  return points.includes("/sys/fs/cgroup") ? "/sys/fs/cgroup" : (points[0] ?? null);
}

const labCgroupName = (id: number) => `runbook-lab-${id}`;

/** Each host's own cgroup subtree, under one per lab: `runbook-lab-ID/NAME`. */
function makeCgroups(hosts: LabHost[]): void {
  for (const h of hosts) mkdirSync(h.cgroup, { recursive: true });
}

/** Lab `id`'s cgroup and every cgroup below it (a host's systemd makes its slices there), deepest first. */
function labCgroups(id: number): string[] {
  const root = cgroupRoot();
  if (!root) return [];
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(join(dir, e.name));
    found.push(dir);
  };
  const top = join(root, labCgroupName(id));
  if (existsSync(top)) walk(top);
  return found;
}

/** Kills whatever still runs in lab `id`'s cgroups and removes them. */
async function removeCgroups(id: number): Promise<void> {
  const all = labCgroups(id);
  const top = all.at(-1);
  if (!top) return;
  // cgroup.kill (Linux 5.14) kills the whole subtree at once.
  if (existsSync(join(top, "cgroup.kill"))) writeFileSync(join(top, "cgroup.kill"), "1");
  const deadline = Date.now() + 5000;
  while (/populated 1/.test(readFileSync(join(top, "cgroup.events"), "utf8")) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  for (const dir of all) rmdirSync(dir);
}

/** Names of lab `id`'s network namespaces that exist now. */
async function labNetns(id: number): Promise<string[]> {
  const out = await run("ip", ["netns", "list"], { allowFail: true });
  return out.stdout
    .split("\n")
    .map((l) => l.split(" ")[0] ?? "")
    .filter((n) => n.startsWith(`rblab${id}-`));
}

/** Links in the root namespace that lab `id` made. */
async function labLinks(id: number): Promise<string[]> {
  const out = await run("ip", ["-o", "link", "show"], { allowFail: true });
  return out.stdout
    .split("\n")
    .map((l) => l.match(/^\d+: ([^:@]+)/)?.[1] ?? "")
    .filter((n) => n === bridgeName(id) || n.startsWith(`rb${id}h`));
}

/** PIDs of every process inside lab `id`'s network namespaces. */
export async function labPids(id: number): Promise<number[]> {
  const pids: number[] = [];
  for (const ns of await labNetns(id)) {
    const out = await run("ip", ["netns", "pids", ns], { allowFail: true });
    pids.push(...out.stdout.split("\n").filter(Boolean).map(Number));
  }
  return pids;
}

/**
 * Mounts that belong to lab `id`: mount points under its state dir in this
 * (root) mount namespace, plus any overlay using one of its upper dirs in
 * any process's mount namespace (hosts mount their roots privately).
 */
export function labMounts(id: number): string[] {
  const dir = labDir(id);
  const found = new Set<string>();
  for (const l of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const point = l.split(" ")[4] ?? "";
    if (point === dir || point.startsWith(dir + "/")) found.add(point);
  }
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    let info = "";
    try {
      info = readFileSync(`/proc/${pid}/mountinfo`, "utf8");
    } catch {
      continue; // exited meanwhile
    }
    for (const m of info.matchAll(new RegExp(`upperdir=(${escapeRe(dir)}/[^,\\s]+)`, "g"))) found.add(m[1]!);
  }
  return [...found];
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** What lab `id` leaves on the machine now; all empty after `down`. */
export async function leftovers(id: number) {
  return { netns: await labNetns(id), links: await labLinks(id), pids: await labPids(id), mounts: labMounts(id), cgroups: labCgroups(id) };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Removes everything lab `id` made: its processes (only those inside its own
 * namespaces and cgroups, plus its proxy), namespaces, links, mounts,
 * cgroups and state dir.
 * Idempotent, and safe after a crash: it finds leftovers by name, not only
 * from the state file.
 */
export async function down(id = defaultId()): Promise<void> {
  checkId(id);
  const state = status(id);
  const pids = await labPids(id);
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      /* already gone */
    }
  }
  if (state?.proxyPid && isAlive(state.proxyPid)) {
    // Only our proxy: its command line names the lab's proxy script.
    const cmdline = readFileSync(`/proc/${state.proxyPid}/cmdline`, "utf8");
    if (cmdline.includes("proxy.ts") && cmdline.includes(state.gateway)) process.kill(state.proxyPid, "SIGKILL");
  }
  const deadline = Date.now() + 5000;
  while (pids.some(isAlive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await removeCgroups(id);
  for (const ns of await labNetns(id)) await run("ip", ["netns", "del", ns], { allowFail: true });
  for (const link of await labLinks(id)) await run("ip", ["link", "del", link], { allowFail: true });
  for (const m of labMounts(id).reverse()) await run("umount", ["-l", m], { allowFail: true });
  const dir = labDir(id);
  if (existsSync(dir)) {
    // Per-host dirs can be large; remove them without following anything.
    for (const entry of readdirSync(dir)) rmSync(join(dir, entry), { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
}
