/**
 * The floor: what the converged check of bench.ts/bench.yml costs when
 * written by hand — one `ssh HOST sh -s` per host (in parallel over hosts),
 * one handshake and one round trip, every check in a single POSIX sh
 * script. No tool can do the same work with less.
 *
 * The same script also verifies, after every first run, that runbook and
 * Ansible left each host in exactly the state the playbooks describe: a
 * fast run that did the wrong thing fails here.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import os from "node:os";
import { shq } from "../../runner/quote.ts";

export interface ClusterHost {
  name: string;
  ip: string;
}

const local = (name: string) => readFileSync(new URL(`./files/${name}`, import.meta.url));
const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

/** MemTotal in MiB, rounded down, as both tools' facts report it (lab hosts share this kernel). */
function memTotalMiB(): number {
  const kb = Number(readFileSync("/proc/meminfo", "utf8").match(/^MemTotal:\s+(\d+)/m)?.[1]);
  return Math.floor(kb / 1024);
}

/**
 * /etc/cluster-node.conf as templates/cluster-node.conf.j2 renders it on
 * `host`. Lab hosts are namespaces of this machine: kernel, CPUs and memory
 * are this machine's.
 */
export function expectedNodeConf(host: ClusterHost, all: ClusterHost[]): string {
  return [
    "# /etc/cluster-node.conf: what this node is, from facts gathered at run time",
    "[node]",
    `name = ${host.name}`,
    `address = ${host.ip}`,
    "os = debian 12",
    `kernel = ${os.release()}`,
    `arch = ${os.machine()}`,
    `cpus = ${os.availableParallelism()}`,
    `memory_mb = ${memTotalMiB()}`,
    "",
    "[cluster]",
    ...all.map((h) => `member = ${h.name} ${h.ip}`),
    "",
  ].join("\n");
}

/** The number of checks the script makes: one per task of the playbooks. */
export const FLOOR_CHECKS = 23;

/**
 * The hand-written converged check for `host`: prints `ok NAME` or
 * `FAIL NAME: detail` per task, one line each.
 */
export function floorScript(host: ClusterHost, all: ClusterHost[]): string {
  const block = ["# BEGIN cluster hosts", ...all.map((h) => `${h.ip} ${h.name}.cluster.local ${h.name}`), "# END cluster hosts", ""].join("\n");
  const key = local("clusteradm.pub").toString("utf8").trim();
  const file = (name: string, path: string, content: Buffer | string, attrs: string) =>
    `chk ${name} file_is ${shq(path)} ${sha(content)} ${shq(attrs)}`;
  const lines = [
    "set -u",
    // Each check is a command; its stdout (on failure) is the detail.
    `chk() { n=$1; shift; if d=$("$@" 2>&1); then echo "ok $n"; else echo "FAIL $n: $d"; fi; }`,
    `eq() { [ "$1" = "$2" ] || { echo "got '$1', want '$2'"; return 1; }; }`,
    `attrs() { stat -c '%F %U:%G %a' -- "$1" 2>&1; }`,
    `file_is() { eq "$(sha256sum < "$1" 2>&1 | cut -c1-64) $(attrs "$1")" "$2 $3"; }`,
    `dir_is() { eq "$(attrs "$1")" "directory $2"; }`,
    `has_line() { grep -qxF -- "$2" "$1" || { echo "no line '$2' in $1"; return 1; }; }`,
    `chk group-wheel eq "$(getent group wheel | cut -d: -f3)" 1051`,
    `chk group-admin eq "$(getent group clusteradm | cut -d: -f3)" 1050`,
    `chk user eq "$(getent passwd clusteradm) $(id -nG clusteradm | tr ' ' '\\n' | sort | tr '\\n' ' ')" "clusteradm:x:1050:1050::/home/clusteradm:/bin/bash clusteradm users wheel "`,
    `chk authorized-key eq "$(grep -cxF ${shq(key)} /home/clusteradm/.ssh/authorized_keys) $(attrs /home/clusteradm/.ssh) $(attrs /home/clusteradm/.ssh/authorized_keys)" "1 directory clusteradm:clusteradm 700 regular file clusteradm:clusteradm 600"`,
    `chk sshd-root-login has_line /etc/ssh/sshd_config 'PermitRootLogin prohibit-password'`,
    `chk sshd-password has_line /etc/ssh/sshd_config 'PasswordAuthentication no'`,
    file("sudoers", "/etc/sudoers.d/90-wheel", "%wheel ALL=(ALL:ALL) NOPASSWD: ALL\n", "regular file root:root 440"),
    `chk hosts-block eq "$(sed -n '/^# BEGIN cluster hosts$/,/^# END cluster hosts$/p' /etc/hosts | sha256sum | cut -c1-64)" ${sha(block)}`,
    `chk dir-opt dir_is /opt/cluster 'root:root 755'`,
    `chk dir-bin dir_is /opt/cluster/bin 'root:root 755'`,
    `chk dir-lib dir_is /var/lib/cluster 'clusteradm:clusteradm 750'`,
    `chk dir-log dir_is /var/log/cluster 'clusteradm:adm 750'`,
    file("template", "/etc/cluster-node.conf", expectedNodeConf(host, all), "regular file root:root 644"),
    // The two tools write `key = value` and `key=value`: both are right.
    `chk sysctl eq "$(cat /proc/sys/net/ipv4/ip_forward) $(grep -cE '^net\\.ipv4\\.ip_forward ?= ?1$' /etc/sysctl.d/60-cluster.conf)" "1 1"`,
    `chk cgroups has_line /etc/default/cgroups CGROUP_MODE=unified`,
    file("limits", "/etc/security/limits.d/90-cluster.conf", local("90-cluster-limits.conf"), "regular file root:root 644"),
    file("profile", "/etc/profile.d/cluster.sh", local("cluster-profile.sh"), "regular file root:root 644"),
    file("motd", "/etc/motd", local("motd"), "regular file root:root 644"),
    file("defaults", "/etc/default/cluster-node", local("cluster-node.default"), "regular file root:root 644"),
    file("cluster-info", "/opt/cluster/bin/cluster-info", local("cluster-info"), "regular file root:root 755"),
    `chk link eq "$(readlink /usr/local/bin/cluster-info)" /opt/cluster/bin/cluster-info`,
    `chk first-run-stamp test -s /var/lib/cluster/initialized`,
    `chk package eq "$(dpkg-query -W -f='\${Status}' tree 2>&1)" 'install ok installed'`,
  ];
  return lines.join("\n") + "\n";
}

/** Parses the script's output: the checks that passed and the failures. */
export function parseFloor(out: string): { ok: number; failures: string[] } {
  const lines = out.split("\n").filter(Boolean);
  return { ok: lines.filter((l) => l.startsWith("ok ")).length, failures: lines.filter((l) => !l.startsWith("ok ")) };
}

/**
 * The first run written by hand: every change bench.ts makes on a fresh
 * host, in one POSIX sh script (one `ssh HOST sh -s`), with the same
 * validations (`sshd -t`, `visudo -cf`), atomic file writes and the same
 * package install. What the hosts themselves must do on a first run; no
 * tool can do it in less. The floor checks verify it afterwards, as they
 * verify the tools.
 */
export function floorFirstScript(host: ClusterHost, all: ClusterHost[]): string {
  const block = ["# BEGIN cluster hosts", ...all.map((h) => `${h.ip} ${h.name}.cluster.local ${h.name}`), "# END cluster hosts"].join("\n");
  const key = local("clusteradm.pub").toString("utf8").trim();
  const put = (path: string, content: Buffer | string, mode: string, owner = "root:root") => `put ${shq(path)} ${mode} ${owner} ${shq(content.toString())}`;
  return [
    "set -eu",
    // put PATH MODE OWNER CONTENT: atomic, as both tools write files.
    `put() { t=$(mktemp "$1.XXXXXX"); printf '%s' "$4" > "$t"; chown "$3" "$t"; chmod "$2" "$t"; mv -f "$t" "$1"; }`,
    "getent group wheel >/dev/null || groupadd -g 1051 wheel",
    "getent group clusteradm >/dev/null || groupadd -g 1050 clusteradm",
    "id clusteradm >/dev/null 2>&1 || useradd -u 1050 -g clusteradm -G wheel,users -s /bin/bash -d /home/clusteradm -m clusteradm",
    "install -d -o clusteradm -g clusteradm -m 700 /home/clusteradm/.ssh",
    `k=/home/clusteradm/.ssh/authorized_keys; grep -qxF ${shq(key)} "$k" 2>/dev/null || printf '%s\\n' ${shq(key)} >> "$k"; chown clusteradm:clusteradm "$k"; chmod 600 "$k"`,
    "t=$(mktemp /etc/ssh/sshd_config.XXXXXX)",
    "sed -e 's/^#\\?PermitRootLogin\\s.*/PermitRootLogin prohibit-password/' -e 's/^#\\?PasswordAuthentication\\s.*/PasswordAuthentication no/' /etc/ssh/sshd_config > \"$t\"",
    "grep -qx 'PermitRootLogin prohibit-password' \"$t\" || echo 'PermitRootLogin prohibit-password' >> \"$t\"",
    "grep -qx 'PasswordAuthentication no' \"$t\" || echo 'PasswordAuthentication no' >> \"$t\"",
    '/usr/sbin/sshd -t -f "$t"; chmod 644 "$t"; mv -f "$t" /etc/ssh/sshd_config; kill -HUP "$(cat /run/sshd.pid)"',
    "t=$(mktemp /etc/sudoers.d/.90-wheel.XXXXXX); printf '%s\\n' '%wheel ALL=(ALL:ALL) NOPASSWD: ALL' > \"$t\"; chmod 440 \"$t\"; /usr/sbin/visudo -cf \"$t\" >/dev/null; mv -f \"$t\" /etc/sudoers.d/90-wheel",
    `t=$(mktemp /etc/hosts.XXXXXX); { sed '/^# BEGIN cluster hosts$/,/^# END cluster hosts$/d' /etc/hosts; printf '%s\\n' ${shq(block)}; } > "$t"; chmod 644 "$t"; mv -f "$t" /etc/hosts`,
    "install -d -o root -g root -m 755 /opt/cluster /opt/cluster/bin",
    "install -d -o clusteradm -g clusteradm -m 750 /var/lib/cluster",
    "install -d -o clusteradm -g adm -m 750 /var/log/cluster",
    put("/etc/cluster-node.conf", expectedNodeConf(host, all), "644"),
    put("/etc/sysctl.d/60-cluster.conf", "net.ipv4.ip_forward = 1\n", "644"),
    "sysctl -qw net.ipv4.ip_forward=1",
    put("/etc/default/cgroups", "CGROUP_MODE=unified\n", "644"),
    put("/etc/security/limits.d/90-cluster.conf", local("90-cluster-limits.conf"), "644"),
    put("/etc/profile.d/cluster.sh", local("cluster-profile.sh"), "644"),
    put("/etc/motd", local("motd"), "644"),
    put("/etc/default/cluster-node", local("cluster-node.default"), "644"),
    put("/opt/cluster/bin/cluster-info", local("cluster-info"), "755"),
    "ln -sfn /opt/cluster/bin/cluster-info /usr/local/bin/cluster-info",
    "[ -e /var/lib/cluster/initialized ] || date -u +%FT%TZ > /var/lib/cluster/initialized",
    "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends tree >/dev/null",
    "echo done",
  ].join("\n") + "\n";
}
