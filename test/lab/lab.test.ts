/** The lab itself: isolation, teardown, the triangle, apt, flavours, systemd, cgroups, lab ids, speed. */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import * as assert from "uvu/assert";
import { cgroupRoot, down, labDir, labPids, leftovers, status, up, waitForBoot } from "./lab.ts";
import { TEST_LAB_ID, labSuite, ssh } from "./fixture.ts";
import { run } from "./sh.ts";

const basics = await labSuite("lab: 3 hosts", { hosts: 3, slackware: [3] });

basics("each host answers ssh with its own hostname", async ({ lab }) => {
  const names = await Promise.all(lab.hosts.map(async (h) => (await ssh(lab, h, "hostname")).stdout.trim()));
  assert.equal(names, lab.hosts.map((h) => h.name));
  assert.equal(new Set(names).size, 3);
});

basics("each host sees only its own processes", async ({ lab }) => {
  const [h1, h2] = lab.hosts;
  await ssh(lab, h1!, "nohup sleep 417 >/dev/null 2>&1 &");
  const on1 = (await ssh(lab, h1!, "ps -eo pid=,args=")).stdout;
  const on2 = (await ssh(lab, h2!, "ps -eo pid=,args=")).stdout;
  assert.match(on1, /sleep 417/);
  assert.not.match(on2, /sleep 417/);
  // PID 1 is the host's own reaping init, not the machine's.
  assert.match(on2, /^\s*1 \/usr\/bin\/tini -- \/usr\/sbin\/sshd/m);
  assert.ok(on2.trim().split("\n").length < 10, `host 2 sees too many processes:\n${on2}`);
});

basics("a file written on host 1 is absent on host 2 and lands in host 1's upper dir", async ({ lab }) => {
  const [h1, h2] = lab.hosts;
  await ssh(lab, h1!, "echo mine > /root/marker");
  assert.equal((await ssh(lab, h1!, "cat /root/marker")).stdout, "mine\n");
  const probe = await ssh(lab, h2!, "test -e /root/marker", { allowFail: true });
  assert.is.not(probe.code, 0);
  assert.ok(existsSync(join(h1!.upper, "root/marker")));
  assert.not.ok(existsSync(join(h2!.upper, "root/marker")));
});

basics("a login leaves the upper dir untouched (check mode is asserted on it)", async ({ lab }) => {
  const h2 = lab.hosts[1]!;
  await ssh(lab, h2, "true");
  const before = await listUpper(h2.upper);
  await ssh(lab, h2, "id; uptime; ls /");
  assert.equal(await listUpper(h2.upper), before);
});

basics("the Slackware-flavoured host has Slackware's layout; the others do not", async ({ lab }) => {
  const slack = lab.hosts[2]!;
  assert.is(slack.flavour, "slackware");
  const out = await ssh(lab, slack, "cat /etc/slackware-version; . /etc/os-release; echo $ID; ls /var/log/packages; test -x /etc/rc.d/rc.M && echo rcM");
  assert.match(out.stdout, /^Slackware 15\.0\+\nslackware\n/);
  assert.match(out.stdout, /sudo-1\.9\.16p2-x86_64-1/);
  assert.match(out.stdout, /rcM/);
  const deb = await ssh(lab, lab.hosts[0]!, ". /etc/os-release; echo $ID; test -e /etc/slackware-version || echo none");
  assert.equal(deb.stdout, "debian\nnone\n");
});

basics("a host installs a Debian package with apt through the lab proxy", async ({ lab }) => {
  const h = lab.hosts[0]!;
  const out = await ssh(lab, h, "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hello >/dev/null && hello");
  assert.equal(out.stdout.trim(), "Hello, world!");
  assert.ok(existsSync(join(h.upper, "usr/bin/hello")));
});

basics("hosts cannot change the machine's kernel settings, only their own network ones", async ({ lab }) => {
  const out = await ssh(lab, lab.hosts[0]!, "sysctl -w net.ipv4.ip_forward=1 && sysctl -w vm.swappiness=7", { allowFail: true });
  assert.match(out.stdout, /net.ipv4.ip_forward = 1/);
  assert.match(out.stderr, /permission denied on key "vm.swappiness"/);
});

basics.run();

const systemd = await labSuite("lab: systemd hosts and cgroups", { hosts: 3, systemd: [1, 2] });

systemd("systemd hosts have booted to running, with sshd a unit; the tini host is as before", async ({ lab }) => {
  const [h1, h2, h3] = lab.hosts;
  assert.equal([h1!.init, h2!.init, h3!.init], ["systemd", "systemd", "tini"]);
  for (const h of [h1!, h2!]) {
    const out = await ssh(lab, h, "systemctl is-system-running; cat /proc/1/comm; tr '\\0' '\\n' < /proc/1/environ | grep ^container=; systemctl show --value -p ActiveState ssh.service; systemctl show --value -p MainPID ssh.service; pgrep -o -x sshd");
    const [state, comm, container, active, mainPid, sshd] = out.stdout.trim().split("\n");
    assert.is(state, "running", `${h.name}: ${out.stdout}`);
    assert.is(comm, "systemd");
    assert.is(container, "container=runbook-lab");
    assert.is(active, "active");
    // The sshd that serves logins is the unit's main process, not one started beside systemd.
    assert.is(mainPid, sshd);
    const mounts = (await ssh(lab, h, "awk '$2 == \"/run\" || $2 == \"/run/lock\" { print $2, $3 }' /proc/self/mounts")).stdout;
    assert.equal(mounts, "/run tmpfs\n/run/lock tmpfs\n");
  }
  const tini = await ssh(lab, h3!, "cat /proc/1/comm; systemctl is-system-running", { allowFail: true });
  assert.match(tini.stdout, /^tini\n(offline)?/);
  assert.is.not(tini.code, 0);
});

systemd("each host's cgroup namespace is rooted in its own subtree: a cgroup made on one is invisible from the others", async ({ lab }) => {
  const [h1, h2, h3] = lab.hosts;
  await ssh(lab, h1!, "mkdir /sys/fs/cgroup/rbtest417 && echo $$ > /sys/fs/cgroup/rbtest417/cgroup.procs && cat /proc/self/cgroup");
  for (const other of [h2!, h3!]) {
    const out = await ssh(lab, other, "test -e /sys/fs/cgroup/rbtest417 && echo visible; cat /proc/self/cgroup", { allowFail: true });
    assert.not.match(out.stdout, /visible/, `${other.name} sees host 1's cgroup`);
  }
  assert.ok(existsSync(join(h1!.cgroup, "rbtest417")), "made in host 1's subtree on the machine");
  assert.not.ok(existsSync(join(cgroupRoot()!, "rbtest417")), "not at the machine's cgroup root");
  // systemd's slices land in the host's subtree too, and the tini host's root is its own.
  assert.ok(existsSync(join(h2!.cgroup, "system.slice/ssh.service")));
  assert.is((await ssh(lab, h3!, "cat /proc/self/cgroup")).stdout.trim().split("\n").at(-1), "0::/");
  assert.ok((await ssh(lab, h3!, "cat /sys/fs/cgroup/cgroup.procs")).stdout.trim().split("\n").length < 10);
});

systemd("a degraded system is accepted, with its failed units shown", async ({ lab }) => {
  const h2 = lab.hosts[1]!;
  const said: string[] = [];
  await waitForBoot(lab, h2, (l) => said.push(l));
  assert.equal(said, [], "running: nothing to say");
  await ssh(lab, h2, "systemd-run --unit=rbfail417 --property=Type=oneshot /bin/false", { allowFail: true });
  await waitForBoot(lab, h2, (l) => said.push(l));
  assert.is(said.length, 1);
  assert.match(said[0]!, new RegExp(`^lab ${lab.id}: tnode2 booted degraded; failed units:\\n.*rbfail417\\.service.*failed`));
});

systemd("down kills every host and removes every host's cgroup", async ({ lab }) => {
  const cgroups = lab.hosts.map((h) => h.cgroup);
  assert.ok(cgroups.every((c) => existsSync(c)));
  await down(lab.id);
  for (const c of cgroups) assert.not.ok(existsSync(c), `${c} survived down`);
  assert.equal(await leftovers(lab.id), { netns: [], links: [], pids: [], mounts: [], cgroups: [] });
});

systemd.run();

const triangle = await labSuite("lab: triangle", { hosts: 3, topology: "triangle" });

/** The reference cabling: [host, port] -> the [host, port] at the other end of its cable. */
const CABLES: Record<string, string> = { "1/eth1": "2/eth2", "2/eth2": "1/eth1", "2/eth1": "3/eth1", "3/eth1": "2/eth1", "3/eth2": "1/eth2", "1/eth2": "3/eth2" };

triangle("each cluster port reaches exactly one neighbour: the reference's cabling", async ({ lab }) => {
  // An IPv6 ping to all-nodes (ff02::1) out of one port is answered by every
  // host on that wire, so the set of answers is exactly what is cabled there.
  const linkLocal = new Map<string, string>();
  for (const h of lab.hosts) {
    for (const port of ["eth1", "eth2"]) {
      const out = await ssh(lab, h, `while ip -6 addr show dev ${port} tentative | grep -q inet6; do sleep 0.1; done; ip -6 -o addr show dev ${port} scope link`);
      linkLocal.set(`${h.index}/${port}`, out.stdout.match(/inet6 (fe80::[0-9a-f:]+)/)![1]!);
    }
  }
  const owner = new Map([...linkLocal].map(([end, ll]) => [ll, end]));
  for (const end of Object.keys(CABLES)) {
    const [host, port] = end.split("/");
    const out = await ssh(lab, lab.hosts[Number(host) - 1]!, `ping -6 -c2 -i0.2 -W1 -I ${port} ff02::1`, { allowFail: true });
    const answered = new Set([...out.stdout.matchAll(/from (fe80::[0-9a-f:]+)/g)].map((m) => owner.get(m[1]!) ?? m[1]!));
    answered.delete(end);
    assert.equal([...answered], [CABLES[end]], `port ${end} answered by ${[...answered].join(", ")}`);
  }
});

triangle("the links carry IPv4 traffic on the reference's /30 subnets", async ({ lab }) => {
  // Addresses of reference 001's rc.inet1.conf, one /30 per cable.
  const subnet: Record<string, string> = { "1/eth1": "192.168.11.1", "2/eth2": "192.168.11.2", "2/eth1": "192.168.22.1", "3/eth1": "192.168.22.2", "3/eth2": "192.168.33.1", "1/eth2": "192.168.33.2" };
  for (const [end, address] of Object.entries(subnet)) {
    const [host, port] = end.split("/");
    await ssh(lab, lab.hosts[Number(host) - 1]!, `ip addr add ${address}/30 dev ${port}`);
  }
  for (const [end, peer] of Object.entries(CABLES)) {
    const [host, port] = end.split("/");
    const r = await ssh(lab, lab.hosts[Number(host) - 1]!, `ping -c1 -W2 -I ${port} ${subnet[peer]}`, { allowFail: true });
    assert.is(r.code, 0, `${end} -> ${peer} (${subnet[peer]}): ${r.stdout}${r.stderr}`);
  }
});

triangle.run();

const lifecycle = await labSuite("lab: lifecycle", { hosts: 1 });

lifecycle("up on an id that is up reuses the lab asked for and refuses any other, leaving it running", async ({ lab }) => {
  const pids = await labPids(lab.id);
  assert.ok(pids.length > 0);
  const again = await up({ id: lab.id, hosts: 1 });
  assert.equal(again, lab);
  for (const other of [{ hosts: 2 }, { hosts: 1, systemd: [1] }, { hosts: 1, prefix: "other" }]) {
    try {
      await up({ id: lab.id, ...other });
      assert.unreachable(`up ${JSON.stringify(other)} on a running lab should be refused`);
    } catch (err) {
      assert.match((err as Error).message, new RegExp(`^lab ${lab.id} is already up \\(1 host\\(s\\) tnode1, topology none\\), not as asked`));
    }
  }
  assert.equal(await labPids(lab.id), pids, "the running lab was not rebuilt");
  assert.is((await ssh(lab, lab.hosts[0]!, "hostname")).stdout.trim(), "tnode1");
});

lifecycle("a second lab id runs the demo beside the first: --id wins over RUNBOOK_LAB_ID, hints name its paths, a rerun reuses it", async ({ lab }) => {
  const second = lab.id + 1;
  const pids = await labPids(lab.id);
  const demo = (args: string[], env: Record<string, string>) =>
    new Promise<{ code: number; out: string }>((resolve) => {
      const child = spawn(process.execPath, ["--import", "tsx", "test/lab/demo.ts", ...args], {
        env: { ...process.env, RUNBOOK_DEMO_PLAYBOOK: "playbooks/demo.ts", ...env },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      child.stdout.on("data", (d: Buffer) => (out += d));
      child.stderr.on("data", (d: Buffer) => (out += d));
      child.on("close", (code) => resolve({ code: code ?? 1, out }));
    });
  try {
    const first = await demo(["--id", String(second), "--systemd", "2"], { RUNBOOK_LAB_ID: String(lab.id) });
    assert.is(first.code, 0, first.out);
    assert.match(first.out, `lab ${second} up:`);
    assert.match(first.out, `ssh -F ${labDir(second)}/ssh_config tnode1`);
    assert.match(first.out, `-i ${labDir(second)}/inventory.yml`);
    assert.match(first.out, `npm run lab -- down --id ${second}`);
    assert.not.match(first.out, "/var/lib/runbook-lab/0/");
    assert.equal(status(second)!.hosts.map((h) => h.init), ["tini", "systemd", "tini"]);
    const rerun = await demo(["--systemd", "2"], { RUNBOOK_LAB_ID: String(second) });
    assert.is(rerun.code, 0, rerun.out);
    assert.match(rerun.out, `lab ${second}: already up as asked; reusing it`);
    const refused = await demo([], { RUNBOOK_LAB_ID: String(second) });
    assert.is(refused.code, 1);
    assert.match(refused.out, `demo: lab ${second} is already up`);
    assert.equal(await labPids(lab.id), pids, "the first lab was not touched");
  } finally {
    await down(second);
  }
});

lifecycle("down leaves no mount, netns, link, process or cgroup behind, and is idempotent", async ({ lab }) => {
  const before = await leftovers(lab.id);
  assert.ok(before.pids.length > 0 && before.netns.length === 1 && before.links.length === 2);
  assert.ok(before.mounts.length > 0, "the host's overlay should be visible before down");
  assert.equal(before.cgroups, [lab.hosts[0]!.cgroup, dirname(lab.hosts[0]!.cgroup)]);
  const started = Date.now();
  await down(lab.id);
  assert.ok(Date.now() - started < 10_000, "down takes under 10 s");
  assert.equal(await leftovers(lab.id), { netns: [], links: [], pids: [], mounts: [], cgroups: [] });
  for (const pid of before.pids) assert.not.ok(existsSync(`/proc/${pid}`), `pid ${pid} survived down`);
  assert.is(status(lab.id), null);
  await down(lab.id);
});

lifecycle("two lab instances run side by side without colliding", async () => {
  const a = await up({ id: TEST_LAB_ID, hosts: 1, replace: true });
  const b = await up({ id: TEST_LAB_ID + 1, hosts: 1, replace: true });
  try {
    assert.is.not(a.hosts[0]!.address, b.hosts[0]!.address);
    assert.is((await ssh(a, a.hosts[0]!, "hostname")).code, 0);
    await down(b.id);
    assert.is((await ssh(a, a.hosts[0]!, "hostname")).stdout.trim(), "tnode1");
  } finally {
    await down(b.id);
  }
});

lifecycle("up 3 under 10 s and up 20 under 60 s with a cached rootfs", async () => {
  let t = Date.now();
  const three = await up({ id: TEST_LAB_ID, hosts: 3, replace: true });
  const upThree = Date.now() - t;
  assert.is(three.hosts.length, 3);
  t = Date.now();
  const twenty = await up({ id: TEST_LAB_ID, hosts: 20, replace: true });
  const upTwenty = Date.now() - t;
  const last = await ssh(twenty, twenty.hosts[19]!, "hostname");
  assert.is(last.stdout.trim(), "tnode20");
  assert.ok(upThree < 10_000, `up 3 took ${upThree} ms`);
  assert.ok(upTwenty < 60_000, `up 20 took ${upTwenty} ms`);
  t = Date.now();
  await down(TEST_LAB_ID);
  assert.ok(Date.now() - t < 10_000, `down took ${Date.now() - t} ms`);
});

lifecycle.run();

async function listUpper(dir: string): Promise<string> {
  return (await run("sh", ["-c", `cd "$1" && find . -printf '%p %s %T@ %m\\n' | sort`, "sh", dir])).stdout;
}
