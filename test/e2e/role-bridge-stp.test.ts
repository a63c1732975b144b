/**
 * Role bridge-stp on the lab's triangle (tnode1 Debian with tini as PID 1,
 * tnode2 Debian booted by systemd; tnode3 Slackware-flavoured), in bridge-stp mode: the lab's inventory plus the
 * extra `-i` file `bridgeStpInventory(lab)` writes (cluster_lan
 * bridge-stp, the bridge's address 192.168.100.N/24, short STP timers,
 * base-os without the ports' /30s), through the CLI with
 * test/fixtures/playbooks/bridge-stp.ts:
 *
 * - `--check --diff` on fresh hosts predicts the bridge and the persisted
 *   files, and changes nothing (overlay upper dirs, live links and
 *   addresses); site.ts in this mode runs bridge-stp (not frr) in its
 *   "cluster LAN" play, and refuses to start while base-os would still
 *   address a bridge port;
 * - the play builds the bridges while an SSH session on each host keeps
 *   ticking over the management network, with no host unreachable; the
 *   ports lose their leftover addresses, eth0 keeps its own;
 * - STP settles with exactly one of the six triangle ports blocking, and
 *   every host pings every other host's bridge address;
 * - the second run changes nothing (nor does check mode predict anything);
 * - the persisted forms: rc.inet1.conf's block as bash reads it (and its
 *   IFOPTS applied the way rc.inet1 applies them), the ifupdown stanza;
 * - a management port among the ports is refused before anything changes;
 * - `state: absent` takes the bridge away, live and persisted.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as assert from "uvu/assert";
import type { RunEvent } from "../../runner/events.ts";
import { labSuite, ssh } from "../lab/fixture.ts";
import { bridgeLan, bridgeStpInventory, type Lab, type LabHost } from "../lab/lab.ts";
import { events, recap, results, runbook, stateDir, upperSnapshot } from "./harness.ts";

const PLAYBOOK = "test/fixtures/playbooks/bridge-stp.ts";

const failures = (r: { stdout: string; stderr: string }) =>
  r.stderr + events(r.stdout).filter((e) => e.type === "host.failed" || e.type === "host.unreachable" || (e.type === "task.result" && e.status === "failed")).map((e) => JSON.stringify(e)).join("\n");

const inventories = new Map<number, string>();
/** `-i` for bridge-stp mode: the lab's inventory, then the file that switches the triangle to it. */
const inv = (lab: Lab) => {
  if (!inventories.has(lab.id)) inventories.set(lab.id, bridgeStpInventory(lab));
  return ["-i", lab.inventory, "-i", inventories.get(lab.id)!];
};
const play = (lab: Lab, args: string[], state = stateDir()) => runbook(["play", PLAYBOOK, ...inv(lab), "--json", ...args], { stateDir: state });

const out = async (lab: Lab, host: LabHost, cmd: string) => (await ssh(lab, host, cmd)).stdout;
/** Links (name, flags, master) and IPv4 addresses: what the role would change live. */
const liveState = (lab: Lab, host: LabHost) =>
  out(lab, host, "ip -o link show | sed 's/ qlen.*//'; ip -o -4 addr show | awk '{print $2, $4}' | sort");

/** `bridge link` on every triangle host: port -> STP state, for ports of br0. */
async function portStates(lab: Lab): Promise<Map<string, string>> {
  const states = new Map<string, string>();
  await Promise.all(
    lab.hosts.map(async (h) => {
      for (const line of (await out(lab, h, "bridge link show")).split("\n")) {
        const m = /^\d+: ([^:@\s]+)(?:@\S+)?: .* master br0 state (\w+)/.exec(line);
        if (m) states.set(`${h.name} ${m[1]}`, m[2]!);
      }
    }),
  );
  return states;
}

const s = await labSuite("role: bridge-stp on the triangle", { hosts: 3, topology: "triangle", slackware: [3], systemd: [2] });
const state = stateDir();

s("--check --diff on fresh hosts predicts the bridge and its files, and changes nothing", async ({ lab }) => {
  // A fresh triangle's links may still be gaining carrier: snapshot once they all have.
  for (const h of lab.hosts) await out(lab, h, "while ip -o link show | grep -q NO-CARRIER; do sleep 0.1; done");
  const before = await Promise.all(lab.hosts.map(upperSnapshot));
  const liveBefore = await Promise.all(lab.hosts.map((h) => liveState(lab, h)));
  const r = await play(lab, ["--check", "--diff"]);
  assert.is(r.code, 0, failures(r));
  assert.equal(await Promise.all(lab.hosts.map(upperSnapshot)), before, "no file changed on any host");
  assert.equal(await Promise.all(lab.hosts.map((h) => liveState(lab, h))), liveBefore, "no link or address changed");

  const res = results(r.stdout);
  assert.not.ok(res.some((e) => e.status === "failed"));
  const changed = res.filter((e) => e.status === "changed");
  assert.ok(changed.every((e) => e.predicted), "changes are predicted, not made");
  for (const h of lab.hosts) {
    const titles = changed.filter((e) => e.host === h.name).map((e) => e.task);
    for (const t of [
      "br0: create bridge (STP on, priority 32768, forward delay 4 s, hello 1 s, max age 6 s)",
      "eth1: join br0",
      "eth2: join br0",
      `br0: add ${bridgeLan(h.index)}`,
      "br0: link up",
    ]) {
      assert.ok(titles.includes(t), `${h.name}: ${t} predicted, in:\n${titles.join("\n")}`);
    }
  }
  const diff = (host: string, path: string) => res.find((e) => e.host === host && e.diffs?.some((d) => d.path === path))?.diffs?.find((d) => d.path === path);
  assert.match(
    diff("tnode3", "/etc/rc.d/rc.inet1.conf")?.after ?? "",
    /\n# BEGIN runbook bridge-stp: br0\n.*\nIFNAME\[5\]="br0"\nBRNICS\[5\]="eth1 eth2"\nIFOPTS\[5\]="stp_state 1 \| priority 32768 \| forward_delay 400 \| hello_time 100 \| max_age 600"\nIPADDRS\[5\]="192\.168\.100\.3\/24"\nIP6ADDRS\[5\]=""\n# END runbook bridge-stp: br0\n/,
  );
  assert.match(diff("tnode1", "/etc/network/interfaces.d/runbook-br0")?.after ?? "", /\nauto br0\niface br0 inet static\n {4}address 192\.168\.100\.1\/24\n {4}bridge-ports eth1 eth2\n {4}bridge-stp on\n/);
});

s("site.ts in bridge-stp mode: its cluster LAN play runs bridge-stp, not frr; a bridge port base-os would address is refused at start", async ({ lab }) => {
  const before = await Promise.all(lab.hosts.map(upperSnapshot));
  const r = await runbook(["play", "playbooks/site.ts", ...inv(lab), "--check", "--json"]);
  assert.is(r.code, 0, failures(r));
  assert.equal(await Promise.all(lab.hosts.map(upperSnapshot)), before);
  const lan = results(r.stdout).filter((e) => e.play === "cluster LAN");
  for (const h of lab.hosts) {
    assert.ok(lan.some((e) => e.host === h.name && e.role === "bridge-stp" && e.task === "br0: create bridge (STP on, priority 32768, forward delay 4 s, hello 1 s, max age 6 s)" && e.predicted));
    assert.not.ok(lan.some((e) => e.host === h.name && e.role === "frr" && e.status !== "skipped"), `${h.name}: no frr task in bridge-stp mode`);
    assert.ok(lan.some((e) => e.host === h.name && e.task === "role frr" && e.status === "skipped"), `${h.name}: frr shown as skipped`);
  }
  // base-os keeps the loopback /32 and gives the bridge ports nothing.
  const base = results(r.stdout).filter((e) => e.play !== "cluster LAN" && e.status === "changed").map((e) => `${e.task} ${JSON.stringify(e.diffs ?? "")}`);
  assert.not.ok(base.some((t) => /192\.168\.(11|22|33)\./.test(t)), base.join("\n"));

  // The lab's own inventory gives the ports frr's /30s: switching only cluster_lan is refused before any host is touched.
  const mixed = await runbook(["play", "playbooks/site.ts", "-i", lab.inventory, "-e", "cluster_lan=bridge-stp", "--check"]);
  assert.is(mixed.code, 1);
  assert.match(mixed.stderr, /host tnode1: cluster_lan is bridge-stp, but base-os\.addresses gives the bridge ports eth1, eth2 an address/);
});

s("the play builds the bridges without the management connection ever dropping; the ports lose their addresses", async ({ lab }) => {
  const [t1, , t3] = lab.hosts as [LabHost, LabHost, LabHost];
  // Leftovers of frr mode: /30s on ports, live and in rc.inet1.conf.
  await ssh(lab, t1, "ip addr add 192.168.11.1/30 dev eth1");
  await ssh(lab, t3, "ip addr add 192.168.22.2/30 dev eth1 && sed -i 's|^IPADDRS\\[1\\]=.*|IPADDRS[1]=\"192.168.33.1/30\"|' /etc/rc.d/rc.inet1.conf");

  // One SSH session per host, ticking over eth0 for the whole run.
  const watchers = lab.hosts.map((h) => {
    const child: ChildProcess = spawn("ssh", ["-F", lab.sshConfig, "-o", "BatchMode=yes", "-o", "ServerAliveInterval=1", "-o", "ServerAliveCountMax=2", h.name, "while :; do echo tick; sleep 0.2; done"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const ticks: number[] = [];
    child.stdout!.on("data", (d: Buffer) => {
      for (const _ of d.toString().matchAll(/tick/g)) ticks.push(Date.now());
    });
    return { host: h.name, child, ticks };
  });
  try {
    const deadline = Date.now() + 10_000;
    while (watchers.some((w) => w.ticks.length < 2) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
    const started = Date.now();
    const r = await play(lab, [], state);
    const ended = Date.now();
    assert.is(r.code, 0, failures(r));
    for (const [host, c] of Object.entries(recap(r.stdout))) {
      assert.equal({ failed: c.failed, unreachable: c.unreachable }, { failed: 0, unreachable: 0 }, host);
      assert.ok(c.changed >= 6, `${host}: ${c.changed} changed`);
    }
    assert.not.ok(events(r.stdout).some((e) => e.type === "host.unreachable" || e.type === "host.failed"));
    await new Promise((res) => setTimeout(res, 600));
    for (const w of watchers) {
      assert.is(w.child.exitCode, null, `${w.host}: the SSH session is still open`);
      const during = w.ticks.filter((t) => t >= started && t <= ended + 600);
      const gaps = during.slice(1).map((t, i) => t - during[i]!);
      assert.ok(during.length >= ((ended - started) / 200) * 0.5, `${w.host}: ${during.length} ticks in ${ended - started} ms`);
      assert.ok(Math.max(0, ...gaps) < 2000, `${w.host}: longest silence ${Math.max(...gaps)} ms`);
    }
  } finally {
    for (const w of watchers) w.child.kill();
  }

  await Promise.all(
    lab.hosts.map(async (h) => {
      const got = await out(lab, h, "for i in eth0 eth1 eth2 br0; do echo \"$i $(cat /sys/class/net/$i/master/uevent 2>/dev/null | sed -n 's/^INTERFACE=//p') $(ip -o -4 addr show dev $i scope global | awk '{print $4}' | tr '\\n' ' ')\"; done");
      assert.is(got, `eth0  ${h.address}/20 \neth1 br0 \neth2 br0 \nbr0  ${bridgeLan(h.index)} \n`, h.name);
    }),
  );
});

s("STP settles with exactly one triangle port blocking; every host pings every other host's bridge", async ({ lab }) => {
  const deadline = Date.now() + 45_000;
  let states = await portStates(lab);
  while (Date.now() < deadline && (states.size < 6 || [...states.values()].some((v) => v === "listening" || v === "learning"))) {
    await new Promise((res) => setTimeout(res, 500));
    states = await portStates(lab);
  }
  const show = [...states].map(([p, v]) => `${p}: ${v}`).join("\n");
  assert.is(states.size, 6, show);
  assert.equal(
    [...states.values()].filter((v) => v === "blocking").length,
    1,
    `exactly one blocking port:\n${show}`,
  );
  assert.is([...states.values()].filter((v) => v === "forwarding").length, 5, show);

  await Promise.all(
    lab.hosts.map(async (h) => {
      for (const o of lab.hosts.filter((x) => x !== h)) {
        const ip = bridgeLan(o.index).split("/")[0]!;
        const r = await ssh(lab, h, `ping -c 1 -W 3 ${ip}`, { allowFail: true });
        assert.match(r.stdout, /1 received/, `${h.name} -> ${o.name} (${ip}):\n${r.stdout}${r.stderr}\n${show}`);
      }
    }),
  );
});

s("the second run changes nothing, and check mode agrees", async ({ lab }) => {
  const again = await play(lab, [], state);
  assert.is(again.code, 0, failures(again));
  for (const [host, c] of Object.entries(recap(again.stdout))) {
    const moved = results(again.stdout).filter((e) => e.host === host && e.status !== "ok").map((e) => `${e.task}: ${e.status} (${e.reason})`);
    assert.equal({ changed: c.changed, failed: c.failed }, { changed: 0, failed: 0 }, `${host}: ${moved.join("; ")}`);
  }
  const said = events(again.stdout).filter((e): e is Extract<RunEvent, { type: "message" }> => e.type === "message").map((e) => `${e.host}: ${e.text}`);
  assert.ok(said.includes("tnode2: bridge-stp: br0 is up with ports eth1, eth2 and STP as wanted"), said.join("\n"));
  // The README promises the run says the stanza is written for when ifupdown is there: a warning, shown without -v.
  const warned = events(again.stdout).filter((e) => e.type === "message" && e.level === "warn").map((e) => `${(e as { host?: string }).host}: ${(e as { text: string }).text}`);
  assert.ok(warned.some((w) => w.startsWith("tnode1: bridge-stp: /etc/network/interfaces does not exist (ifupdown not installed)")), warned.join("\n"));
  const check = await play(lab, ["--check"], state);
  assert.is(check.code, 0);
  for (const c of Object.values(recap(check.stdout))) assert.is(c.changed, 0);
});

s("persisted: rc.inet1.conf's block as rc.inet1 reads it, the ports' own addresses emptied; the ifupdown stanza", async ({ lab }) => {
  const [t1, , t3] = lab.hosts as [LabHost, LabHost, LabHost];
  const conf = await out(lab, t3, `bash -c '. /etc/rc.d/rc.inet1.conf; printf "%s|" "\${IFNAME[5]}" "\${BRNICS[5]}" "\${IFOPTS[5]}" "\${IPADDRS[5]}" "\${IPADDRS[1]}" "\${IPADDRS[2]}"'`);
  assert.is(conf, "br0|eth1 eth2|stp_state 1 | priority 32768 | forward_delay 400 | hello_time 100 | max_age 600|192.168.100.3/24|||");
  // rc.inet1 (15.0) applies IFOPTS one `|`-separated option at a time: `ip link set dev br0 type bridge OPT`.
  const applied = await out(
    lab,
    t3,
    `bash -c 'shopt -s extglob; . /etc/rc.d/rc.inet1.conf; i=5; while read -r -d \\| IFOPT; do if [ -n "$IFOPT" ]; then ip link set dev \${IFNAME[$i]} type bridge $IFOPT || exit 1; echo "ok $IFOPT"; fi; done <<<"\${IFOPTS[$i]/%|*([[:blank:]])}|"; cd /sys/class/net/br0/bridge && cat stp_state priority forward_delay hello_time max_age | tr "\\n" " "'`,
  );
  assert.is(applied, "ok stp_state 1\nok priority 32768\nok forward_delay 400\nok hello_time 100\nok max_age 600\n1 32768 400 100 600 ");
  assert.is(
    await out(lab, t1, "cat /etc/network/interfaces.d/runbook-br0 | grep -v '^#'"),
    "auto br0\niface br0 inet static\n    address 192.168.100.1/24\n    bridge-ports eth1 eth2\n    bridge-stp on\n    bridge-bridgeprio 32768\n    bridge-fd 4\n    bridge-hello 1\n    bridge-maxage 6\n",
  );
});

s("a port that carries the management connection is refused before anything changes", async ({ lab }) => {
  const before = await Promise.all(lab.hosts.map(upperSnapshot));
  const liveBefore = await Promise.all(lab.hosts.map((h) => liveState(lab, h)));
  const r = await play(lab, ["-e", JSON.stringify({ "bridge-stp": { ports: ["eth0", "eth1"] } })], state);
  assert.is(r.code, 2, "the hosts failed");
  const failed = events(r.stdout).filter((e): e is Extract<RunEvent, { type: "host.failed" }> => e.type === "host.failed");
  assert.equal(failed.map((e) => e.host).sort(), ["tnode1", "tnode2", "tnode3"]);
  for (const f of failed) {
    assert.match(f.message, /bridge-stp: refusing to make eth0 a port of br0: it carries the management connection this run uses \(default route via eth0; SSH client reached via eth0\)/);
  }
  for (const c of Object.values(recap(r.stdout))) assert.is(c.changed, 0);
  assert.equal(await Promise.all(lab.hosts.map(upperSnapshot)), before);
  assert.equal(await Promise.all(lab.hosts.map((h) => liveState(lab, h))), liveBefore);
});

s("state absent removes the bridge, live and persisted; a second time changes nothing", async ({ lab }) => {
  const absent = ["-e", JSON.stringify({ "bridge-stp": { state: "absent" } })];
  const r = await play(lab, absent, state);
  assert.is(r.code, 0, failures(r));
  for (const h of lab.hosts) {
    const titles = results(r.stdout).filter((e) => e.host === h.name && e.status === "changed").map((e) => e.task);
    assert.ok(titles.includes("br0: delete the bridge (releases eth1, eth2)"), `${h.name}: ${titles.join("; ")}`);
  }
  await Promise.all(
    lab.hosts.map(async (h) => {
      const got = await out(lab, h, "ls /sys/class/net | tr '\\n' ' '; ls /sys/class/net/eth1/master /etc/network/interfaces.d/runbook-br0 2>&1 | wc -l; grep -c 'bridge-stp' /etc/rc.d/rc.inet1.conf 2>/dev/null; true");
      assert.match(got, /^eth0 eth1 eth2 lo 2\n(0\n)?$/, `${h.name}: ${JSON.stringify(got)}`);
    }),
  );
  const again = await play(lab, absent, state);
  assert.is(again.code, 0);
  for (const c of Object.values(recap(again.stdout))) assert.is(c.changed, 0);
});

s.run();
