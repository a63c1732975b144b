/**
 * Facts: the parsers on captured output from each OS family
 * (test/fixtures/facts/*.txt), the script under dash, and a live run on this
 * machine.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFile, execFileSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import * as os from "node:os";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import {
  FACTS_SCRIPT,
  FACT_UNITS,
  FactsOutputError,
  MARKER,
  countCpuList,
  gatherFacts,
  hostsFqdn,
  ipv6FromHex,
  parseFacts,
  parseIfconfig,
  parseIpLink,
  parseOsRelease,
  splitRaw,
  type Facts,
} from "../../runner/facts/index.ts";

const FIXTURES = fileURLToPath(new URL("../fixtures/facts/", import.meta.url));
const fixture = (name: string) => readFileSync(join(FIXTURES, `${name}.txt`), "utf8");
const facts = (name: string) => parseFacts(fixture(name), { strict: true });

/** Interfaces reduced to what the assertions compare. */
function ifaces(f: Facts) {
  return f.interfaces.map((i) => ({
    name: i.name,
    state: i.state,
    mtu: i.mtu,
    mac: i.mac,
    ...(i.kind ? { kind: i.kind } : {}),
    ...(i.master ? { master: i.master } : {}),
    addresses: i.addresses.map((a) => `${a.address}/${a.prefix}`),
  }));
}

function disks(f: Facts) {
  return f.blockDevices.map((d) => `${d.name}:${d.type}:${d.sizeBytes}${d.parent ? `<${d.parent}` : ""}`);
}

const GiB = 1024 ** 3;

test("fixtures only use sections and files the script prints", () => {
  const names = readdirSync(FIXTURES).filter((n) => n.endsWith(".txt"));
  assert.ok(names.length >= 7, "fixtures present");
  for (const name of names) {
    const text = readFileSync(join(FIXTURES, name), "utf8");
    let section = "";
    for (const line of text.split("\n")) {
      if (line.startsWith(`${MARKER} `)) {
        section = line.slice(MARKER.length + 1);
        assert.ok(FACTS_SCRIPT.includes(`s ${section}\n`), `${name}: section ${section} is not printed by the script`);
      } else if (section === "files" && line) {
        const path = line.slice(0, line.indexOf(":"));
        assert.ok(FACTS_SCRIPT.includes(` ${path} `) || FACTS_SCRIPT.includes(` ${path}\n`), `${name}: ${path} is not read by the script`);
      }
    }
  }
});

test("slackware 15.0: rc.d init, slackpkg with a mirror, cgroup v1, bridge over the triangle", () => {
  const f = facts("slackware-15.0");
  assert.equal(f.os, {
    id: "slackware",
    family: "slackware",
    name: "Slackware",
    version: "15.0",
    versionId: "15.0",
    codename: "stable",
    prettyName: "Slackware 15.0 x86_64",
    idLike: [],
  });
  assert.is(f.kernel.release, "5.15.19");
  assert.is(f.arch, "x86_64");
  assert.is(f.hostname, "tnode1");
  assert.is(f.fqdn, "tnode1.cluster.lan");
  assert.is(f.board, "Supermicro X10SRi-F");
  assert.is(f.initSystem, "slackware-bsd");
  assert.is(f.packageManager, "slackpkg");
  assert.equal(f.cpu, { count: 16, model: "Intel(R) Xeon(R) CPU E5-2630 v3 @ 2.40GHz", virtualization: "vmx", hypervisor: false });
  assert.equal(f.memory, { totalMiB: 64219, availableMiB: 61870, swapTotalMiB: 16383 });
  assert.equal(f.cgroup, {
    version: 1,
    mountpoint: "/sys/fs/cgroup",
    v2Mountpoint: null,
    controllers: ["cpuset", "cpu", "cpuacct", "blkio", "memory", "devices", "freezer", "net_cls", "perf_event", "net_prio", "hugetlb", "pids", "rdma", "misc"],
  });
  assert.equal(ifaces(f), [
    { name: "lo", state: "unknown", mtu: 65536, mac: "00:00:00:00:00:00", addresses: ["127.0.0.1/8", "::1/128"] },
    { name: "eth0", state: "up", mtu: 1500, mac: "0c:c4:7a:6e:21:40", addresses: ["192.168.10.11/24", "fe80::ec4:7aff:fe6e:2140/64"] },
    { name: "eth1", state: "up", mtu: 9000, mac: "a0:36:9f:4b:10:2a", master: "br0", addresses: [] },
    { name: "eth2", state: "up", mtu: 9000, mac: "a0:36:9f:4b:10:2b", master: "br0", addresses: [] },
    { name: "br0", state: "up", mtu: 9000, mac: "a0:36:9f:4b:10:2a", kind: "bridge", addresses: ["10.10.10.11/24", "fe80::a236:9fff:fe4b:102a/64"] },
  ]);
  assert.equal(f.interfaces[2]!.flags, ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"]);
  assert.equal(f.interfaces[1]!.addresses[0], { family: "inet", address: "192.168.10.11", prefix: 24, scope: "global" });
  assert.equal(f.defaultRoute, { gateway: "192.168.10.1", interface: "eth0", metric: 1 });
  // Unattached loop devices are dropped; a raw disk for a Ceph OSD has no partitions.
  assert.equal(disks(f), [
    "sda:disk:500107862016",
    "sda1:part:104857600<sda",
    "sda2:part:17179869184<sda",
    "sda3:part:482822062080<sda",
    "sdb:disk:2000398934016",
  ]);
  assert.is(f.blockDevices[0]!.model, "Samsung SSD 870");
  assert.is(f.blockDevices[0]!.rotational, false);
  assert.is(f.blockDevices[4]!.rotational, true);
  assert.is(f.blockDevices[4]!.model, "ST2000DM008-2FR1");
  assert.equal([f.user, f.uid, f.gid], ["root", 0, 0]);
  assert.ok(f.groups.includes("wheel"));
  assert.is(f.python3, false, "a minimal Slackware has no python");
  assert.is(f.sh, "/bin/sh");
  assert.is(f.epoch, 1718267412);
  assert.is(f.uptimeSeconds, 1209615);
});

test("slackware -current: 15.0+, pkgtools when no slackpkg mirror is set, cgroup v2, svm, OVS and veth kinds", () => {
  const f = facts("slackware-current");
  assert.equal(f.os, {
    id: "slackware",
    family: "slackware",
    name: "Slackware",
    version: "15.0+",
    versionId: "15.0",
    codename: "current",
    prettyName: "Slackware 15.0 x86_64 (post 15.0 -current)",
    idLike: [],
  });
  assert.is(f.kernel.release, "6.12.41");
  assert.ok(f.kernel.cmdline.includes("cgroup_no_v1=all"));
  assert.is(f.initSystem, "slackware-bsd");
  assert.is(f.packageManager, "pkgtools");
  assert.equal(f.cpu, { count: 32, model: "AMD Ryzen 9 5950X 16-Core Processor", virtualization: "svm", hypervisor: false });
  assert.equal(f.memory, { totalMiB: 64119, availableMiB: 59483, swapTotalMiB: 32767 });
  assert.equal(f.cgroup, {
    version: 2,
    mountpoint: "/sys/fs/cgroup",
    v2Mountpoint: "/sys/fs/cgroup",
    controllers: ["cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"],
  });
  assert.equal(ifaces(f), [
    { name: "lo", state: "unknown", mtu: 65536, mac: "00:00:00:00:00:00", addresses: ["127.0.0.1/8", "::1/128"] },
    { name: "eth0", state: "up", mtu: 1500, mac: "04:42:1a:0e:7c:55", addresses: ["192.168.10.10/24", "fe80::642:1aff:fe0e:7c55/64"] },
    { name: "eth1", state: "down", mtu: 9000, mac: "b4:96:91:a7:3e:10", addresses: [] },
    { name: "ovs-system", state: "down", mtu: 1500, mac: "36:8e:3a:11:90:c2", kind: "openvswitch", addresses: [] },
    { name: "br-int", state: "down", mtu: 1442, mac: "5a:e1:4c:07:b2:6f", kind: "openvswitch", addresses: [] },
    { name: "lxcbr0", state: "up", mtu: 1500, mac: "00:16:3e:00:00:00", kind: "bridge", addresses: ["10.0.3.1/24", "fe80::216:3eff:fe00:0/64"] },
    { name: "vethQ7L2nP", state: "up", mtu: 1500, mac: "fe:5c:12:88:3a:9d", kind: "veth", master: "lxcbr0", addresses: ["fe80::fc5c:12ff:fe88:3a9d/64"] },
  ]);
  assert.equal(f.interfaces[2]!.flags, ["NO-CARRIER", "BROADCAST", "MULTICAST", "UP"]);
  assert.equal(f.defaultRoute, { gateway: "192.168.10.1", interface: "eth0", metric: 1 });
  assert.equal(disks(f), [
    "loop0:loop:3758096384",
    "nvme0n1:disk:1000204886016",
    "nvme0n1p1:part:536870912<nvme0n1",
    "nvme0n1p2:part:34359738368<nvme0n1",
    "nvme0n1p3:part:965307203584<nvme0n1",
  ]);
  assert.is(f.blockDevices[0]!.backingFile, "/home/build/iso/slackware64-current-install-dvd.iso");
  assert.is(f.blockDevices[0]!.readOnly, true);
  assert.is(f.blockDevices[1]!.model, "Samsung SSD 980 PRO 1TB");
  assert.equal([f.user, f.uid, f.gid, f.groups], ["build", 1001, 100, ["users", "wheel", "audio", "video"]]);
  assert.is(f.board, "System manufacturer System Product Name");
  assert.is(f.python3, true);
});

test("debian 12 VM: systemd, apt, cgroup v2, nested vmx inside a hypervisor, virtio disk", () => {
  const f = facts("debian-12-vm");
  assert.equal(f.os, {
    id: "debian",
    family: "debian",
    name: "Debian GNU/Linux",
    version: "12 (bookworm)",
    versionId: "12",
    codename: "bookworm",
    prettyName: "Debian GNU/Linux 12 (bookworm)",
    idLike: [],
  });
  assert.is(f.kernel.release, "6.1.0-18-amd64");
  assert.is(f.kernel.version, "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)");
  assert.equal([f.hostname, f.nodename, f.fqdn], ["deb12", "deb12", "deb12.home.arpa"]);
  assert.is(f.board, "QEMU Standard PC (Q35 + ICH9, 2009)");
  assert.is(f.initSystem, "systemd");
  assert.is(f.packageManager, "apt");
  assert.equal(f.cpu, { count: 4, model: "Intel(R) Xeon(R) CPU E5-2630 v3 @ 2.40GHz", virtualization: "vmx", hypervisor: true });
  assert.equal(f.memory, { totalMiB: 7859, availableMiB: 7336, swapTotalMiB: 974 });
  assert.equal(f.cgroup.version, 2);
  assert.equal(f.cgroup.controllers, ["cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"]);
  assert.equal(ifaces(f), [
    { name: "lo", state: "unknown", mtu: 65536, mac: "00:00:00:00:00:00", addresses: ["127.0.0.1/8", "::1/128"] },
    { name: "enp1s0", state: "up", mtu: 1500, mac: "52:54:00:8a:3c:1e", addresses: ["192.168.122.50/24", "fe80::5054:ff:fe8a:3c1e/64"] },
  ]);
  assert.is(f.interfaces[1]!.addresses[1]!.scope, "link");
  assert.equal(f.defaultRoute, { gateway: "192.168.122.1", interface: "enp1s0", metric: 0 });
  // An empty CD drive stays listed; the extended partition is 1 KiB as the kernel says.
  assert.equal(disks(f), [
    "sr0:rom:0",
    "vda:disk:21474836480",
    "vda1:part:20450377728<vda",
    "vda2:part:1024<vda",
    "vda5:part:1022361600<vda",
  ]);
  assert.is(f.blockDevices[0]!.removable, true);
  assert.is(f.blockDevices[1]!.rotational, true);
  assert.is(f.blockDevices[1]!.model, undefined);
  assert.equal([f.user, f.uid, f.gid], ["admin", 1000, 1000]);
  assert.ok(f.groups.includes("sudo"));
  assert.is(f.python3, true);
  assert.is(f.sh, "/usr/bin/sh");
});

test("debian 12 container: no systemd, no iproute2 or net-tools: links from /sys, addresses from /proc", () => {
  const f = facts("debian-12-container");
  assert.is(f.os.id, "debian");
  assert.is(f.os.versionId, "12");
  assert.is(f.initSystem, "unknown");
  assert.is(f.packageManager, "apt");
  assert.equal([f.hostname, f.fqdn], ["3f2a9c1b7d4e", "3f2a9c1b7d4e"]);
  assert.equal(f.cgroup, {
    version: 2,
    mountpoint: "/sys/fs/cgroup",
    v2Mountpoint: "/sys/fs/cgroup",
    controllers: ["cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"],
  });
  assert.equal(ifaces(f), [
    { name: "lo", state: "unknown", mtu: 65536, mac: "00:00:00:00:00:00", addresses: ["127.0.0.1/8", "::1/128"] },
    {
      name: "eth0",
      state: "up",
      mtu: 1500,
      mac: "02:42:ac:11:00:02",
      addresses: ["172.17.0.2/16", "fd00:d0c::242:ac11:2/64", "fe80::42:acff:fe11:2/64"],
    },
  ]);
  const eth0 = f.interfaces[1]!;
  assert.is(eth0.index, 23);
  assert.equal(eth0.flags, ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"]);
  assert.equal(eth0.addresses.map((a) => a.scope), ["global", "global", "link"]);
  assert.equal(f.interfaces[0]!.flags, ["LOOPBACK", "UP", "LOWER_UP"]);
  assert.equal(f.defaultRoute, { gateway: "172.17.0.1", interface: "eth0", metric: 0 });
  assert.equal(f.cpu, { count: 8, model: "11th Gen Intel(R) Core(TM) i7-1165G7 @ 2.80GHz", virtualization: "vmx", hypervisor: false });
  assert.equal(disks(f), [
    "nvme0n1:disk:512110190592",
    "nvme0n1p1:part:536870912<nvme0n1",
    "nvme0n1p2:part:494735982592<nvme0n1",
    "nvme0n1p3:part:16834887680<nvme0n1",
  ]);
  assert.is(f.python3, false);
  assert.equal([f.user, f.uid], ["root", 0]);
});

test("raspberry pi os 32-bit (raspbian, armv7l): pi board, no memory cgroup, SD card, ram disks dropped", () => {
  const f = facts("raspios-12-armhf");
  assert.equal(f.os, {
    id: "raspbian",
    family: "debian",
    name: "Raspbian GNU/Linux",
    version: "12 (bookworm)",
    versionId: "12",
    codename: "bookworm",
    prettyName: "Raspbian GNU/Linux 12 (bookworm)",
    idLike: ["debian"],
  });
  assert.is(f.arch, "armv7l");
  assert.is(f.board, "Raspberry Pi 3 Model B Plus Rev 1.3");
  assert.equal(f.cpu, { count: 4, model: "ARMv7 Processor rev 4 (v7l)", virtualization: null, hypervisor: false });
  assert.equal(f.memory, { totalMiB: 922, availableMiB: 728, swapTotalMiB: 99 });
  assert.is(f.initSystem, "systemd");
  assert.is(f.packageManager, "apt");
  assert.equal(f.cgroup.version, 2);
  assert.equal(f.cgroup.controllers, ["cpuset", "cpu", "io", "pids"]);
  assert.equal(ifaces(f), [
    { name: "lo", state: "unknown", mtu: 65536, mac: "00:00:00:00:00:00", addresses: ["127.0.0.1/8", "::1/128"] },
    { name: "eth0", state: "up", mtu: 1500, mac: "b8:27:eb:5a:3c:91", addresses: ["192.168.1.50/24", "fe80::3b1f:6c2a:9d0e:4f11/64"] },
    { name: "wlan0", state: "down", mtu: 1500, mac: "b8:27:eb:d2:11:07", addresses: [] },
  ]);
  assert.equal(f.defaultRoute, { gateway: "192.168.1.1", interface: "eth0", metric: 100 });
  assert.equal(disks(f), ["mmcblk0:disk:31914983424", "mmcblk0p1:part:536870912<mmcblk0", "mmcblk0p2:part:31373918208<mmcblk0"]);
  assert.is(f.blockDevices[0]!.model, "SN32G");
  assert.equal([f.user, f.uid], ["admin", 1000]);
  assert.ok(f.groups.includes("gpio"));
});

test("raspberry pi os 64-bit (debian os-release + /etc/rpi-issue, aarch64): raspbian, Cortex-A72", () => {
  const f = facts("raspios-12-arm64");
  assert.is(f.os.id, "raspbian");
  assert.is(f.os.family, "debian");
  assert.is(f.os.name, "Debian GNU/Linux");
  assert.is(f.os.versionId, "12");
  assert.is(f.arch, "aarch64");
  assert.is(f.kernel.release, "6.6.51+rpt-rpi-v8");
  assert.is(f.board, "Raspberry Pi 4 Model B Rev 1.4");
  assert.equal(f.cpu, { count: 4, model: "Cortex-A72", virtualization: null, hypervisor: false });
  assert.equal(f.memory, { totalMiB: 7810, availableMiB: 7361, swapTotalMiB: 199 });
  assert.equal(ifaces(f).map((i) => `${i.name}:${i.state}:${i.addresses.join(",")}`), [
    "lo:unknown:127.0.0.1/8,::1/128",
    "eth0:up:192.168.1.51/24,fe80::8c3a:1d7e:52b0:e641/64",
    "wlan0:down:",
  ]);
  assert.equal(f.defaultRoute, { gateway: "192.168.1.1", interface: "eth0", metric: 100 });
  assert.equal(disks(f), ["mmcblk0:disk:63864569856", "mmcblk0p1:part:536870912<mmcblk0", "mmcblk0p2:part:63323504640<mmcblk0"]);
});

test("almalinux 9: redhat family, dnf over yum, cgroup2 only, FQDN node name, LVM, altnames", () => {
  const f = facts("almalinux-9");
  assert.equal(f.os, {
    id: "almalinux",
    family: "redhat",
    name: "AlmaLinux",
    version: "9.4 (Seafoam Ocelot)",
    versionId: "9.4",
    prettyName: "AlmaLinux 9.4 (Seafoam Ocelot)",
    idLike: ["rhel", "centos", "fedora"],
  });
  assert.is(f.os.codename, undefined);
  assert.is(f.kernel.release, "5.14.0-427.13.1.el9_4.x86_64");
  assert.equal([f.hostname, f.nodename, f.fqdn], ["pxe01", "pxe01.farm.example.org", "pxe01.farm.example.org"]);
  assert.is(f.board, "Dell Inc. PowerEdge R640");
  assert.is(f.initSystem, "systemd");
  assert.is(f.packageManager, "dnf");
  assert.equal(f.cgroup, {
    version: 2,
    mountpoint: "/sys/fs/cgroup",
    v2Mountpoint: "/sys/fs/cgroup",
    controllers: ["cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"],
  });
  assert.equal(f.cpu, { count: 64, model: "Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz", virtualization: "vmx", hypervisor: false });
  assert.equal(f.memory, { totalMiB: 192835, availableMiB: 188360, swapTotalMiB: 4095 });
  assert.equal(ifaces(f), [
    { name: "lo", state: "unknown", mtu: 65536, mac: "00:00:00:00:00:00", addresses: ["127.0.0.1/8", "::1/128"] },
    { name: "eno1", state: "up", mtu: 1500, mac: "e4:43:4b:2c:81:a0", addresses: ["10.20.0.31/16", "fe80::e643:4bff:fe2c:81a0/64"] },
    { name: "eno2", state: "down", mtu: 1500, mac: "e4:43:4b:2c:81:a1", addresses: [] },
  ]);
  assert.equal(f.interfaces[1]!.altnames, ["enp24s0f0"]);
  assert.is(f.interfaces[1]!.kind, undefined);
  assert.equal(f.defaultRoute, { gateway: "10.20.0.1", interface: "eno1", metric: 100 });
  assert.equal(disks(f), [
    "dm-0:dm:75161927680",
    "dm-1:dm:4294967296",
    "dm-2:dm:398395965440",
    "sda:disk:479559942144",
    "sda1:part:629145600<sda",
    "sda2:part:1073741824<sda",
    "sda3:part:477856006144<sda",
  ]);
  assert.equal(f.blockDevices.filter((d) => d.type === "dm").map((d) => d.dmName), ["almalinux-root", "almalinux-swap", "almalinux-home"]);
  assert.is(f.blockDevices[3]!.model, "PERC H730P Mini");
  assert.equal([f.user, f.uid, f.groups], ["root", 0, ["root"]]);
  assert.is(f.python3, true);
});

// --- units on hand-made output -------------------------------------------------

/** Builds script-shaped output from parts, for cases no fixture covers. */
function output(parts: {
  files?: Record<string, string>;
  exists?: string[];
  commands?: string[];
  sections?: Record<string, string>;
}): string {
  const s = (name: string) => `\n${MARKER} ${name}\n`;
  let out = s("begin") + s("files");
  for (const [path, text] of Object.entries(parts.files ?? {})) for (const l of text.split("\n")) out += `${path}:${l}\n`;
  out += s("exists") + (parts.exists ?? []).map((p) => `${p}\n`).join("");
  out += s("commands") + (parts.commands ?? []).map((p) => `${p}\n`).join("");
  for (const [name, text] of Object.entries(parts.sections ?? {})) out += s(name) + text + "\n";
  return out + s("end");
}

test("init system: openrc (alpine), sysvinit (devuan), slackware in a container, systemd by /run", () => {
  const init = (p: Parameters<typeof output>[0]) => FACT_UNITS.initSystem.parse(splitRaw(output(p)));
  assert.is(init({ files: { "/proc/1/comm": "init" }, exists: ["/sbin/openrc", "/etc/inittab"] }), "openrc");
  assert.is(init({ files: { "/proc/1/comm": "init" }, exists: ["/etc/inittab"] }), "sysvinit");
  assert.is(init({ files: { "/proc/1/comm": "init", "/etc/slackware-version": "Slackware 14.2" }, exists: ["/etc/rc.d/rc.M", "/etc/inittab"] }), "slackware-bsd");
  assert.is(init({ files: { "/proc/1/comm": "bash" }, exists: ["/run/systemd/system"] }), "systemd");
  assert.is(init({ files: { "/proc/1/comm": "tini" } }), "unknown");
});

test("container: what systemd recorded in /run/systemd/container, else null", () => {
  const container = (p: Parameters<typeof output>[0]) => FACT_UNITS.container.parse(splitRaw(output(p)));
  assert.is(container({ files: { "/run/systemd/container": "lxc" } }), "lxc");
  assert.is(container({ files: { "/run/systemd/container": "systemd-nspawn\n" } }), "systemd-nspawn");
  assert.is(container({ files: { "/run/systemd/container": "" } }), null);
  assert.is(container({}), null);
});

test("package manager: pkgtools without slackpkg, apk, yum alone, none", () => {
  const pm = (p: Parameters<typeof output>[0]) => FACT_UNITS.packageManager.parse(splitRaw(output(p)));
  assert.is(pm({ files: { "/etc/slackware-version": "Slackware 15.0" }, commands: ["/sbin/installpkg"] }), "pkgtools");
  assert.is(
    pm({ files: { "/etc/slackware-version": "Slackware 15.0" }, commands: ["/usr/sbin/slackpkg", "/sbin/installpkg"], sections: { "slackpkg-mirrors": "" } }),
    "pkgtools",
  );
  assert.is(pm({ commands: ["/sbin/apk"] }), "apk");
  assert.is(pm({ commands: ["/usr/bin/yum"] }), "yum");
  assert.is(pm({ commands: ["/usr/bin/sh"] }), null);
});

test("cgroup: hybrid (systemd's v1 + unified), a single v1 mount, none", () => {
  const cg = (mounts: string, files: Record<string, string> = {}) =>
    FACT_UNITS.cgroup.parse(splitRaw(output({ files: { "/proc/mounts": mounts, ...files } })));
  assert.equal(
    cg(
      [
        "tmpfs /sys/fs/cgroup tmpfs ro,nosuid,nodev,noexec,mode=755 0 0",
        "cgroup2 /sys/fs/cgroup/unified cgroup2 rw,nosuid,nodev,noexec,relatime,nsdelegate 0 0",
        "cgroup /sys/fs/cgroup/systemd cgroup rw,nosuid,nodev,noexec,relatime,xattr,name=systemd 0 0",
        "cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,nosuid,nodev,noexec,relatime,cpu,cpuacct 0 0",
        "cgroup /sys/fs/cgroup/memory cgroup rw,nosuid,nodev,noexec,relatime,memory 0 0",
      ].join("\n"),
    ),
    { version: "hybrid", mountpoint: "/sys/fs/cgroup", v2Mountpoint: "/sys/fs/cgroup/unified", controllers: ["cpu", "cpuacct", "memory"] },
  );
  assert.equal(cg("cgroup /dev/cgroup cgroup rw,relatime,cpuset,cpu,memory 0 0"), {
    version: 1,
    mountpoint: "/dev/cgroup",
    v2Mountpoint: null,
    controllers: ["cpuset", "cpu", "memory"],
  });
  assert.equal(cg("proc /proc proc rw 0 0").version, null);
});

test("fqdn: /etc/hosts when hostname -f gives nothing or no domain", () => {
  const fqdn = (hostnameF: string, hosts: string) =>
    FACT_UNITS.fqdn.parse(splitRaw(output({ files: { "/proc/sys/kernel/hostname": "tnode2", "/etc/hosts": hosts }, sections: { "hostname-f": hostnameF } })));
  const hosts = "127.0.0.1 localhost\n# 10.0.0.1 tnode2.old.lan tnode2\n192.168.10.12\ttnode2.cluster.lan tnode2\n";
  assert.is(fqdn("", hosts), "tnode2.cluster.lan");
  assert.is(fqdn("tnode2", hosts), "tnode2.cluster.lan");
  assert.is(fqdn("tnode2.dns.lan", hosts), "tnode2.dns.lan");
  assert.is(fqdn("", "127.0.0.1 localhost\n"), "tnode2");
  assert.is(hostsFqdn("10.0.0.5 other.lan other\n", "tnode2"), undefined);
});

test("parsers: os-release quoting, cpu lists, IPv6 hex, ifconfig layouts, ip link kinds", () => {
  assert.equal(parseOsRelease(`ID="rocky"\nNAME='Rocky Linux'\nPRETTY_NAME="A \\"quoted\\" name"\n# comment\n`), {
    ID: "rocky",
    NAME: "Rocky Linux",
    PRETTY_NAME: 'A "quoted" name',
  });
  assert.is(countCpuList("0-3,8-11"), 8);
  assert.is(countCpuList("0"), 1);
  assert.is(ipv6FromHex("00000000000000000000000000000001"), "::1");
  assert.is(ipv6FromHex("20010db8000000010000000000000001"), "2001:db8:0:1::1");
  assert.is(ipv6FromHex("20010db8000100020003000400050006"), "2001:db8:1:2:3:4:5:6");

  const modern = [
    "eth0: flags=4163<UP,BROADCAST,RUNNING,MULTICAST>  mtu 1500",
    "        inet 192.168.10.12  netmask 255.255.255.0  broadcast 192.168.10.255",
    "        inet6 fe80::ec4:7aff:fe6e:2141  prefixlen 64  scopeid 0x20<link>",
    "        ether 0c:c4:7a:6e:21:41  txqueuelen 1000  (Ethernet)",
    "",
    "tun0: flags=4305<UP,POINTOPOINT,RUNNING,NOARP,MULTICAST>  mtu 1500",
    "        inet 10.8.0.1  netmask 255.255.255.255  destination 10.8.0.2",
  ].join("\n");
  assert.equal(parseIfconfig(modern), [
    { name: "eth0", address: { family: "inet", address: "192.168.10.12", prefix: 24 } },
    { name: "eth0", address: { family: "inet6", address: "fe80::ec4:7aff:fe6e:2141", prefix: 64, scope: "link" } },
    { name: "tun0", address: { family: "inet", address: "10.8.0.1", prefix: 32, peer: "10.8.0.2" } },
  ]);
  const busybox = [
    "eth0      Link encap:Ethernet  HWaddr 02:42:AC:11:00:03  ",
    "          inet addr:172.17.0.3  Bcast:172.17.255.255  Mask:255.255.0.0",
    "          inet6 addr: fe80::42:acff:fe11:3/64 Scope:Link",
    "          UP BROADCAST RUNNING MULTICAST  MTU:1500  Metric:1",
    "",
    "eth0:1    Link encap:Ethernet  HWaddr 02:42:AC:11:00:03  ",
    "          inet addr:10.1.1.1  Bcast:10.1.1.255  Mask:255.255.255.0",
  ].join("\n");
  assert.equal(
    parseIfconfig(busybox).map((a) => `${a.name} ${a.address.address}/${a.address.prefix} ${a.address.scope ?? ""}`),
    ["eth0 172.17.0.3/16 ", "eth0 fe80::42:acff:fe11:3/64 link", "eth0 10.1.1.1/24 "],
  );

  // iproute2 without -d (busybox, or -d refused): no kind, still a master.
  const plain = parseIpLink(
    "7: vnet0@if6: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue master virbr0 state UP mode DEFAULT group default qlen 1000\\    link/ether fe:54:00:aa:bb:cc brd ff:ff:ff:ff:ff:ff link-netnsid 0",
  );
  assert.equal(plain.map((i) => [i.name, i.master, i.kind, i.mac]), [["vnet0", "virbr0", undefined, "fe:54:00:aa:bb:cc"]]);
  // busybox ip: no `state`, no -d details.
  const bb = parseIpLink(
    [
      "4: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1400 qdisc pfifo_fast qlen 1000\\    link/ether 02:fc:00:00:00:01 brd ff:ff:ff:ff:ff:ff",
      "5: eth1: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500 qdisc pfifo_fast qlen 1000\\    link/ether 02:fc:00:00:00:02 brd ff:ff:ff:ff:ff:ff",
      "6: eth2: <BROADCAST,MULTICAST> mtu 1500 qdisc noop qlen 1000\\    link/ether 02:fc:00:00:00:03 brd ff:ff:ff:ff:ff:ff",
    ].join("\n"),
  );
  assert.equal(bb.map((i) => [i.name, i.state, i.mtu]), [["eth0", "up", 1400], ["eth1", "down", 1500], ["eth2", "down", 1500]]);
  const wg = parseIpLink(
    "9: wg0: <POINTOPOINT,NOARP,UP,LOWER_UP> mtu 1420 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000\\    link/none  promiscuity 0  allmulti 0 minmtu 0 maxmtu 2147483552 \\    wireguard addrgenmode none numtxqueues 1",
  );
  assert.equal(wg.map((i) => [i.name, i.kind, i.mac, i.linkType]), [["wg0", "wireguard", null, "none"]]);
});

test("a fact that fails to parse gets its default, or throws in strict mode", () => {
  const broken = fixture("debian-12-vm").replace(/^\/proc\/meminfo:.*\n/gm, "");
  const problems: string[] = [];
  const f = parseFacts(broken, { onProblem: (p) => problems.push(p.fact) });
  assert.equal(f.memory, { totalMiB: 0, availableMiB: 0, swapTotalMiB: 0 });
  assert.equal(problems, ["memory"]);
  assert.is(f.os.id, "debian", "the other facts still parse");
  assert.throws(() => parseFacts(broken, { strict: true }), /fact memory: no MemTotal/);
});

test("gatherFacts: one run of the script; output that is not the script's is an error with its exit code", async () => {
  const scripts: string[] = [];
  const f = await gatherFacts(async (script) => {
    scripts.push(script);
    return { stdout: fixture("almalinux-9"), stderr: "", code: 0 };
  });
  assert.equal(scripts, [FACTS_SCRIPT]);
  assert.is(f.os.family, "redhat");

  try {
    await gatherFacts(async () => ({ stdout: "", stderr: "sh: not found", code: 127 }));
    assert.unreachable("should have thrown");
  } catch (err) {
    assert.instance(err, FactsOutputError);
    assert.match((err as Error).message, /no begin marker \(exit 127\): sh: not found/);
  }
  const truncated = fixture("almalinux-9").split(`${MARKER} sys-block`)[0]!;
  await gatherFacts(async () => ({ stdout: truncated, stderr: "", code: 0 })).then(
    () => assert.unreachable("should have thrown"),
    (err: Error) => assert.match(err.message, /truncated/),
  );
});

// --- the script itself ----------------------------------------------------------

function has(cmd: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

test("the script is POSIX sh: dash (and busybox sh, when present) parse it", () => {
  for (const shell of ["dash", "sh"]) {
    if (!has(shell)) continue;
    execFileSync(shell, ["-n", "-c", FACTS_SCRIPT]);
  }
  if (has("busybox")) execFileSync("busybox", ["sh", "-n", "-c", FACTS_SCRIPT]);
  // ([[:space:]] in a grep pattern is fine; `[[ ` as a command is not.)
  for (const bashism of [/\[\[ /, /(^|[\s=])\$'/, /[<>]\(/, /\bfunction\s/, /\blocal\s/, /echo -e/, /\$RANDOM/, / == /, /pipefail/, /&>/]) {
    assert.not.match(FACTS_SCRIPT, bashism, `bash-ism in the script: ${bashism}`);
  }
  assert.not.match(FACTS_SCRIPT, /\b(python|perl|awk)\b/);
});

function runScript(shell: string, args: string[] = []): Promise<{ stdout: string; stderr: string; code: number; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    execFile(shell, [...args, "-c", FACTS_SCRIPT], { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
      resolve({ stdout, stderr, code, ms: performance.now() - started });
    });
  });
}

const ARCH: Record<string, string> = { x64: "x86_64", arm64: "aarch64", arm: "armv7l", ia32: "i686" };

test("live: the script on this machine (Debian 12) gives sane facts", async () => {
  const shell = has("dash") ? "dash" : "sh";
  const result = await runScript(shell);
  assert.is(result.code, 0);
  assert.is(result.stderr, "", "errors go to /dev/null");
  assert.ok(result.ms < 3000, `took ${result.ms} ms`);
  const f = parseFacts(result.stdout, { strict: true });

  const osRelease = parseOsRelease(readFileSync("/etc/os-release", "utf8"));
  assert.is(f.os.id, osRelease.ID);
  assert.is(f.os.family, "debian");
  assert.is(f.os.versionId, osRelease.VERSION_ID);
  assert.is(f.kernel.release, os.release());
  if (ARCH[process.arch]) assert.is(f.arch, ARCH[process.arch]);
  assert.is(f.nodename, os.hostname());
  assert.is(f.hostname, os.hostname().split(".")[0]);
  assert.ok(f.fqdn.startsWith(f.hostname));
  assert.is(f.cpu.count, os.cpus().length);
  assert.ok(f.cpu.model && f.cpu.model.length > 0);
  assert.is(f.memory.totalMiB, Math.floor(os.totalmem() / 1024 / 1024));
  assert.ok(f.memory.availableMiB > 0 && f.memory.availableMiB <= f.memory.totalMiB);
  assert.is(f.uid, process.getuid!());
  assert.is(f.user, os.userInfo().username);
  assert.is(f.packageManager, "apt");
  assert.ok(["systemd", "sysvinit", "unknown"].includes(f.initSystem), f.initSystem);
  assert.ok([1, 2, "hybrid", null].includes(f.cgroup.version));
  assert.ok(Math.abs(f.epoch! - Date.now() / 1000) < 60);
  assert.ok(f.uptimeSeconds! > 0);

  const lo = f.interfaces.find((i) => i.name === "lo");
  assert.ok(lo, "lo is listed");
  // Lab tests may add and remove interfaces meanwhile: compare the ones both saw.
  const nodeView = os.networkInterfaces();
  const common = f.interfaces.filter((i) => i.name in nodeView);
  assert.ok(common.some((i) => i.name === "lo"), "lo seen by both");
  for (const i of common) {
    const theirs = (nodeView[i.name] ?? []).filter((a) => a.family === "IPv4").map((a) => `${a.address}/${a.cidr?.split("/")[1]}`);
    const ours = i.addresses.filter((a) => a.family === "inet").map((a) => `${a.address}/${a.prefix}`);
    assert.equal(ours.sort(), theirs.sort(), `IPv4 addresses of ${i.name} agree with node's view`);
  }
  if (f.defaultRoute) assert.ok(f.interfaces.some((i) => i.name === f.defaultRoute!.interface));
  for (const d of f.blockDevices) assert.ok(d.sizeBytes > 0 || d.type === "rom", `${d.name} has a size`);
  assert.ok(f.sh.endsWith("/sh"));
});

/*
 * The fallback path (no `ip`, no `ifconfig`) on the real kernel: hide both
 * commands behind empty bind mounts in a private mount namespace (needs root
 * and unshare; nothing outside the namespace sees it) and compare with the
 * iproute2 path.
 */
test("live: without iproute2 and net-tools the same interfaces and addresses come from /sys and /proc", async () => {
  if (process.getuid?.() !== 0 || !has("unshare") || !has("ip")) {
    console.log("  (skipped: needs root, unshare and ip)");
    return;
  }
  const hide = ["ip", "ifconfig"]
    .filter(has)
    .map((c) => execFileSync("sh", ["-c", `command -v ${c}`], { encoding: "utf8" }).trim())
    .map((p) => `mount --bind /dev/null ${p}`)
    .join(" && ");
  const withIp = parseFacts((await runScript("sh")).stdout, { strict: true });
  const stdout = execFileSync("unshare", ["-m", "sh", "-c", `${hide} && exec sh -c "$0"`, FACTS_SCRIPT], { encoding: "utf8" });
  assert.ok(stdout.includes(`${MARKER} sys-net`), "fallback path taken");
  const without = parseFacts(stdout, { strict: true });
  const names = new Set(withIp.interfaces.map((i) => i.name));
  const view = (f: Facts) =>
    f.interfaces.filter((i) => names.has(i.name) && without.interfaces.some((w) => w.name === i.name)).map((i) => ({
      name: i.name,
      mac: i.mac,
      mtu: i.mtu,
      state: i.state,
      addresses: i.addresses.map((a) => `${a.address}/${a.prefix}`).sort(),
    }));
  assert.ok(view(withIp).some((i) => i.name === "lo"));
  assert.equal(view(without), view(withIp));
});

test.run();
