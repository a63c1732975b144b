/**
 * The benchmark's runbook playbook: a cluster node's base configuration,
 * the same effects task for task as `bench.yml` (its Ansible twin). Keep the
 * two in step: same order, same paths, same modes, same content; the
 * harness checks both leave hosts in the state `floor.ts` verifies.
 *
 * `cluster_hosts` (every lab host's name and address) comes from
 * `-e @hosts.json`, the same file Ansible gets.
 *
 *   runbook play test/bench/bench.ts -i /var/lib/runbook-lab/13/inventory.yml -e @hosts.json
 */
import { readFileSync } from "node:fs";
import { play, playbook, role, z } from "../../runner/index.ts";

const file = (name: string) => readFileSync(new URL(`./files/${name}`, import.meta.url), "utf8");

/** The admin account, sshd hardening, sudo, names, directories and config files of a cluster node. */
export const clusterNode = role({
  name: "cluster_node",
  params: {
    hosts: z.array(z.strictObject({ name: z.string(), ip: z.string() })),
    admin: z.string().default("clusteradm"),
    uid: z.int().default(1050),
  },
  async run(h, p) {
    const reloadSshd = h.handler("reload sshd", () =>
      // No init system on the lab hosts (PID 1 is tini): signal sshd directly.
      h.command('kill -HUP "$(cat /run/sshd.pid)"', { title: "reload sshd" }),
    );

    // 1-4: admin account
    await h.group({ name: "wheel", gid: 1051 });
    await h.group({ name: p.admin, gid: p.uid });
    await h.user({ name: p.admin, uid: p.uid, group: p.admin, groups: ["wheel", "users"], shell: "/bin/bash", home: `/home/${p.admin}`, createHome: true });
    await h.authorizedKey({ user: p.admin, key: file("clusteradm.pub").trim() });

    // 5-7: sshd and sudo, validated before they replace the live files
    await h.lineinfile({ path: "/etc/ssh/sshd_config", regexp: "^#?PermitRootLogin\\s", line: "PermitRootLogin prohibit-password", validate: "/usr/sbin/sshd -t -f %s" }, { notify: reloadSshd });
    await h.lineinfile({ path: "/etc/ssh/sshd_config", regexp: "^#?PasswordAuthentication\\s", line: "PasswordAuthentication no", validate: "/usr/sbin/sshd -t -f %s" }, { notify: reloadSshd });
    await h.copy({ dest: "/etc/sudoers.d/90-wheel", content: "%wheel ALL=(ALL:ALL) NOPASSWD: ALL\n", mode: "0440", owner: "root", group: "root", validate: "/usr/sbin/visudo -cf %s" });

    // 8: every cluster host by name
    await h.blockinfile({
      path: "/etc/hosts",
      marker: "# {mark} cluster hosts",
      block: p.hosts.map((o) => `${o.ip} ${o.name}.cluster.local ${o.name}`).join("\n"),
    });

    // 9-12: directories
    await h.file({ path: "/opt/cluster", state: "directory", owner: "root", group: "root", mode: "0755" });
    await h.file({ path: "/opt/cluster/bin", state: "directory", owner: "root", group: "root", mode: "0755" });
    await h.file({ path: "/var/lib/cluster", state: "directory", owner: p.admin, group: p.admin, mode: "0750" });
    await h.file({ path: "/var/log/cluster", state: "directory", owner: p.admin, group: "adm", mode: "0750" });

    // 13: a config file from facts
    const f = h.facts;
    const eth = f.interfaces.find((i) => i.name === f.defaultRoute?.interface);
    await h.template({
      src: "templates/cluster-node.conf.j2",
      dest: "/etc/cluster-node.conf",
      mode: "0644",
      vars: {
        cluster_hosts: p.hosts,
        node: {
          name: f.hostname,
          address: eth?.addresses.find((a) => a.family === "inet")?.address ?? "",
          os: f.os.family,
          version: f.os.versionId,
          kernel: f.kernel.release,
          arch: f.arch,
          cpus: f.cpu.count,
          memory_mb: f.memory.totalMiB,
        },
      },
    });

    // 14-15: kernel and cgroups settings
    await h.sysctl({ name: "net.ipv4.ip_forward", value: 1, file: "/etc/sysctl.d/60-cluster.conf" });
    await h.lineinfile({ path: "/etc/default/cgroups", regexp: "^CGROUP_MODE=", line: "CGROUP_MODE=unified", create: true, mode: "0644" });

    // 16-20: config files
    await h.copy({ dest: "/etc/security/limits.d/90-cluster.conf", src: "files/90-cluster-limits.conf", mode: "0644" });
    await h.copy({ dest: "/etc/profile.d/cluster.sh", src: "files/cluster-profile.sh", mode: "0644" });
    await h.copy({ dest: "/etc/motd", src: "files/motd", mode: "0644" });
    await h.copy({ dest: "/etc/default/cluster-node", src: "files/cluster-node.default", mode: "0644" });
    await h.copy({ dest: "/opt/cluster/bin/cluster-info", src: "files/cluster-info", mode: "0755" });

    // 21-23: a link, a one-time command, a package
    await h.file({ path: "/usr/local/bin/cluster-info", state: "link", src: "/opt/cluster/bin/cluster-info" });
    await h.command("date -u +%FT%TZ > /var/lib/cluster/initialized", { creates: "/var/lib/cluster/initialized" });
    await h.package({ name: "tree" });
  },
});

type ClusterHosts = { name: string; ip: string }[];

export default playbook("bench: cluster node base", [
  play({
    name: "cluster node base configuration",
    hosts: "lab",
    roles: [clusterNode((host) => ({ hosts: host.vars.cluster_hosts as ClusterHosts }))],
  }),
]);
