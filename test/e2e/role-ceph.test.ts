/**
 * Role ceph on four lab hosts with real Ceph 16 daemons (Debian bookworm's
 * packages), through the CLI with test/fixtures/playbooks/ceph.ts. tnode1
 * and tnode3 run tini as PID 1 (daemons started directly), tnode2 boots
 * systemd (ceph-mon@, ceph-mgr@, ceph-osd@ units). Monitors and managers
 * are the `clusternode` group (tnode1-3); every host has one bluestore OSD
 * on a 10 GiB sparse file; tnode4 joins the play (tag `ceph`) only in the
 * last test.
 *
 * The lab's one deliberate mute: the hosts' root file system is the test
 * machine's disk, often more than 70 % full, which Ceph warns about
 * (MON_DISK_LOW, `mon_data_avail_warn` 30 %): the lab inventory sets it to
 * 1 % through the role's `config`.
 *
 * Proven here: --check on fresh hosts changes nothing and says the fsid is
 * known after apply; the first run reaches HEALTH_OK with 3 monitors in
 * quorum, an active and two standby managers, 3 OSDs up and in and a pool
 * of size 3; the second run and --check change nothing; rados put on one
 * host and get on another return the same bytes; a stopped monitor leaves
 * quorum standing and is back after a rerun; a 4th host joins with one more
 * OSD while the others report 0 changed; no key of any keyring appears in
 * any output, --json, history or state file.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as assert from "uvu/assert";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { labSuite, ssh } from "../lab/fixture.ts";
import type { Lab } from "../lab/lab.ts";
import { events, recap, results, runbook, stateDir, upperSnapshot, type CliResult } from "./harness.ts";

const PLAYBOOK = "test/fixtures/playbooks/ceph.ts";
const OSD_FILE = "/var/lib/ceph/osd-data/osd0.img";

const s = await labSuite("role: ceph (mons, mgrs, bluestore OSDs on files)", { hosts: 4, systemd: [2] });
const state = stateDir();
/** Everything every run printed, searched for keys at the end. */
const printed: string[] = [];
const timings: string[] = [];

/** The lab inventory with the ceph parameters on every host and the tag `ceph` on `members`. */
function inventory(lab: Lab, members: string[], extra: Record<string, unknown> = {}): string {
  const inv = parseYaml(readFileSync(lab.inventory, "utf8")) as Record<string, Record<string, any>>;
  for (const [name, host] of Object.entries(inv)) {
    if (members.includes(name)) host.tags += ",ceph";
    host.ceph = {
      mons: "clusternode",
      osds: [{ file: OSD_FILE, size: "10G" }],
      pools: [{ name: "rbd", size: 3 }],
      osdMemoryTarget: 1024 ** 3,
      // The lab's disk is the test machine's: see the module doc.
      config: { mon: { mon_data_avail_warn: 1 } },
      ...extra,
    };
  }
  const file = join(lab.dir, `inventory-ceph-${members.length}.yml`);
  writeFileSync(file, stringifyYaml(inv, { lineWidth: 0 }));
  return file;
}

async function play(lab: Lab, members: string[], args: string[] = [], extra: Record<string, unknown> = {}): Promise<CliResult> {
  const r = await runbook(["play", PLAYBOOK, "-i", inventory(lab, members, extra), "--json", ...args], { stateDir: state });
  printed.push(r.stdout, r.stderr);
  return r;
}

const TRIO = ["tnode1", "tnode2", "tnode3"];
const out = async (lab: Lab, host: string, cmd: string) => (await ssh(lab, host, cmd)).stdout;
const moved = (r: CliResult, host: string) =>
  results(r.stdout)
    .filter((e) => e.host === host && e.status !== "ok")
    .map((e) => `${e.task}: ${e.status} (${e.reason})`)
    .join("\n");

interface CephStatus {
  health: { status: string; checks: Record<string, unknown> };
  quorum_names: string[];
  mgrmap: { available: boolean; num_standbys: number };
  osdmap: { num_osds: number; num_up_osds: number; num_in_osds: number };
}
const status = async (lab: Lab, host = "tnode1") => JSON.parse(await out(lab, host, "timeout 60 ceph -s -f json")) as CephStatus;

/** Polls until `ok(status)` or `seconds` pass; returns the seconds it took. */
async function until(lab: Lab, seconds: number, what: string, ok: (st: CephStatus) => boolean): Promise<number> {
  const started = Date.now();
  let last = "";
  while (Date.now() - started < seconds * 1000) {
    try {
      const st = await status(lab);
      if (ok(st)) return (Date.now() - started) / 1000;
      last = JSON.stringify({ health: st.health, quorum: st.quorum_names, mgr: st.mgrmap, osd: st.osdmap });
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
  throw new Error(`${what}: not within ${seconds} s (last: ${last})`);
}

/** HEALTH_OK with every monitor in quorum, a manager active and two standby, `osds` OSDs up and in (a cluster whose managers have not reported yet is HEALTH_OK too, for a grace period). */
const healthy = (osds: number) => (st: CephStatus) =>
  st.health.status === "HEALTH_OK" && st.quorum_names.length === 3 && st.mgrmap.available && st.mgrmap.num_standbys === 2 && st.osdmap.num_up_osds === osds && st.osdmap.num_in_osds === osds;

s("--check on fresh hosts: no fsid made, nothing changed on any host, the fsid known after apply", async ({ lab }) => {
  const before = await Promise.all(lab.hosts.map(upperSnapshot));
  const r = await play(lab, TRIO, ["--check", "--diff"]);
  assert.is(r.code, 0, r.stderr + r.stdout.slice(-3000));
  assert.equal(await Promise.all(lab.hosts.map(upperSnapshot)), before, "check mode wrote nothing on any host");
  const all = results(r.stdout);
  assert.not.ok(all.some((e) => e.status === "failed"), all.filter((e) => e.status === "failed").map((e) => `${e.host} ${e.task}: ${e.reason}`).join("\n"));
  const made = all.filter((e) => e.task === "make ceph fsid");
  assert.equal(made.map((e) => [e.host, e.status, e.predicted]), [["tnode1", "changed", true]], "the fsid would be made once, on the first monitor");
  assert.match(made[0]!.reason, /\(known after apply: ceph fsid\)/);
  for (const h of TRIO) {
    const conf = all.find((e) => e.host === h && e.task === "copy /etc/ceph/ceph.conf");
    assert.match(conf?.reason ?? "", /uses ceph fsid, known after apply/, h);
    assert.match(conf?.diffs?.[0]?.after ?? "", /^fsid = \(known after apply: ceph fsid\)$/m, h);
    assert.match(conf?.diffs?.[0]?.after ?? "", /^mon_initial_members = tnode1, tnode2, tnode3$/m, h);
  }
  assert.not.ok(all.some((e) => e.host === "tnode4"), "tnode4 is not in the play yet");
});

s("first run: HEALTH_OK with 3 monitors in quorum, 1 active + 2 standby managers, 3 OSDs up and in, pool rbd of size 3", async ({ lab }) => {
  const started = Date.now();
  const r = await play(lab, TRIO);
  assert.is(r.code, 0, r.stderr + r.stdout.slice(-4000));
  const ran = (Date.now() - started) / 1000;
  const waited = await until(lab, 300, "HEALTH_OK", healthy(3));
  const st = await status(lab, "tnode3");
  assert.equal(st.quorum_names, TRIO);
  assert.equal({ available: st.mgrmap.available, standbys: st.mgrmap.num_standbys }, { available: true, standbys: 2 });
  assert.equal(st.osdmap.num_osds, 3);
  assert.is((await out(lab, "tnode1", "ceph osd pool get rbd size")).trim(), "size: 3");
  assert.match(await out(lab, "tnode1", "ceph osd pool application get rbd"), /"rbd"/);
  // tnode2 boots systemd: its daemons are units; the tini hosts run them directly.
  assert.is(await out(lab, "tnode2", "systemctl is-active ceph-mon@tnode2 ceph-mgr@tnode2 ceph-osd@$(cat /var/lib/ceph/osd/ceph-*/whoami)"), "active\nactive\nactive\n");
  assert.is(await out(lab, "tnode2", "systemctl is-enabled ceph-mon@tnode2"), "enabled\n");
  assert.match(await out(lab, "tnode1", "pgrep -fa '^ceph-(mon|mgr|osd) ' | sed 's/^[0-9]* //' | sort"), /ceph-mgr --cluster ceph --id tnode1 .*\nceph-mon --cluster ceph --id tnode1 .*\nceph-osd --cluster ceph --id \d+ /);
  // Bluestore on a sparse file: 10 GiB apparent, far less on disk.
  const [apparent, used] = (await out(lab, "tnode3", `stat -c '%s %b' ${OSD_FILE}`)).trim().split(" ").map(Number);
  assert.is(apparent, 10 * 1024 ** 3);
  assert.ok(used! * 512 < apparent! / 4, `sparse: ${used! * 512} bytes used`);
  timings.push(`fresh hosts to HEALTH_OK: ${(ran + waited).toFixed(0)} s (run ${ran.toFixed(0)} s, packages included, then ${waited.toFixed(0)} s to HEALTH_OK)`);
});

s("second run: 0 changed on every host; --check on the running cluster: 0 changed", async ({ lab }) => {
  const started = Date.now();
  const r = await play(lab, TRIO);
  const ran = (Date.now() - started) / 1000;
  assert.is(r.code, 0, r.stderr);
  for (const [host, c] of Object.entries(recap(r.stdout))) assert.equal({ changed: c.changed, failed: c.failed }, { changed: 0, failed: 0 }, `${host}:\n${moved(r, host)}`);
  const check = await play(lab, TRIO, ["--check"]);
  assert.is(check.code, 0);
  for (const [host, c] of Object.entries(recap(check.stdout))) assert.equal({ changed: c.changed, unknown: c.unknown }, { changed: 0, unknown: 0 }, `${host}:\n${moved(check, host)}`);
  timings.push(`converged run: ${ran.toFixed(1)} s`);
});

s("rados put on one host, rados get on another: the same bytes", async ({ lab }) => {
  const sum = (await out(lab, "tnode1", "head -c 1048576 /dev/urandom > /tmp/obj && rados -p rbd put runbook-test /tmp/obj && sha256sum < /tmp/obj")).trim();
  const got = (await out(lab, "tnode3", "rados -p rbd get runbook-test /tmp/obj.back && sha256sum < /tmp/obj.back")).trim();
  assert.is(got, sum);
  assert.is((await out(lab, "tnode2", "rados -p rbd stat runbook-test | grep -o 'size [0-9]*'")).trim(), "size 1048576");
});

s("a stopped monitor: quorum stands on the other two; a rerun starts it again", async ({ lab }) => {
  await ssh(lab, "tnode3", "pkill -f '^ceph-mon --cluster ceph --id tnode3( |$)'; while pgrep -f '^ceph-mon ' >/dev/null; do sleep 0.2; done");
  await until(lab, 120, "quorum of tnode1, tnode2", (st) => st.quorum_names.join() === "tnode1,tnode2");
  assert.is((await out(lab, "tnode2", "timeout 60 ceph osd pool get rbd size")).trim(), "size: 3", "the cluster answers without tnode3's monitor");
  const r = await play(lab, TRIO);
  assert.is(r.code, 0, r.stderr + r.stdout.slice(-3000));
  const changed = results(r.stdout).filter((e) => e.status === "changed").map((e) => `${e.host} ${e.task}`);
  assert.equal(changed, ["tnode3 start ceph-mon.tnode3 (no systemd here: started directly)"]);
  await until(lab, 120, "tnode3 back in quorum", healthy(3));
});

s("no quorum: the wait times out naming the missing monitors and their ports; a rerun starts them (systemd unit and direct)", async ({ lab }) => {
  await ssh(lab, "tnode2", "systemctl stop ceph-mon@tnode2");
  await ssh(lab, "tnode3", "pkill -f '^ceph-mon --cluster ceph --id tnode3( |$)'; while pgrep -f '^ceph-mon ' >/dev/null; do sleep 0.2; done");
  // tnode1's monitor notices it is alone after its lease runs out: wait until it no longer claims quorum.
  const started = Date.now();
  while (/"state": *"(leader|peon)"/.test(await out(lab, "tnode1", "ceph daemon mon.tnode1 mon_status"))) {
    assert.ok(Date.now() - started < 60_000, "tnode1's monitor still claims quorum after 60 s");
    await new Promise((res) => setTimeout(res, 500));
  }
  const r = await play(lab, TRIO, ["--limit", "tnode1"], { quorumTimeout: 5 });
  assert.is(r.code, 2, r.stdout.slice(-3000));
  const failed = results(r.stdout).filter((e) => e.status === "failed");
  assert.equal(failed.map((e) => `${e.host} ${e.task}`), ["tnode1 wait until the Ceph monitors are in quorum"]);
  const missing = (i: number) => `tnode${i} is not in quorum (${lab.hosts[i - 1]!.address}, port 3300 not reachable)`;
  assert.match(failed[0]!.reason, /^timed out after \d+ s; still missing: /);
  // No monitor answers for the quorum (tnode1 alone has none), but tnode1's port answers and the other two do not.
  const own = `tnode1 is not in quorum (${lab.hosts[0]!.address}, port 3300 open)`;
  assert.ok(failed[0]!.reason.endsWith(`still missing: no quorum (0 of 3 monitors); ${own}; ${missing(2)}; ${missing(3)}`), failed[0]!.reason);
  const back = await play(lab, TRIO);
  assert.is(back.code, 0, back.stderr + back.stdout.slice(-3000));
  const changed = results(back.stdout).filter((e) => e.status === "changed").map((e) => `${e.host} ${e.task}`);
  assert.equal(changed.sort(), ["tnode2 service ceph-mon@tnode2 (started, enabled)", "tnode3 start ceph-mon.tnode3 (no systemd here: started directly)"]);
  await until(lab, 180, "all three back in quorum", healthy(3));
});

s("a 4th host joins the play with one more OSD; the others report 0 changed", async ({ lab }) => {
  const r = await play(lab, [...TRIO, "tnode4"]);
  assert.is(r.code, 0, r.stderr + r.stdout.slice(-3000));
  const counts = recap(r.stdout);
  for (const h of TRIO) assert.is(counts[h]!.changed, 0, `${h}:\n${moved(r, h)}`);
  assert.ok(counts.tnode4!.changed > 0);
  const t4 = results(r.stdout).filter((e) => e.host === "tnode4" && e.status === "changed").map((e) => e.task);
  assert.not.ok(t4.some((t) => /ceph-mon|mgr/.test(t)), `tnode4 is no monitor or manager: ${t4.join(", ")}`);
  await until(lab, 300, "4 OSDs up and in, HEALTH_OK", healthy(4));
  assert.match(await out(lab, "tnode1", "ceph osd tree"), /host tnode4\s*\n.*osd\.3\s+up/);
  const again = await play(lab, [...TRIO, "tnode4"]);
  for (const [host, c] of Object.entries(recap(again.stdout))) assert.is(c.changed, 0, `${host}:\n${moved(again, host)}`);
});

s("no key of any keyring appears in any output, --json, history or state file", async ({ lab }) => {
  const keys = new Set<string>();
  for (const h of lab.hosts) {
    const text = await out(lab, h.name, "cat /etc/ceph/*.keyring /var/lib/ceph/bootstrap-osd/ceph.keyring /var/lib/ceph/*/ceph-*/keyring 2>/dev/null || true");
    for (const m of text.matchAll(/key = (\S+)/g)) keys.add(m[1]!);
  }
  // mon., client.admin, client.bootstrap-osd, 3 mgr, 4 osd keys.
  assert.ok(keys.size >= 10, `found ${keys.size} keys`);
  const show = await runbook(["show", "last", "--json", "-v"], { stateDir: state });
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else files.push(readFileSync(path, "utf8"));
    }
  };
  walk(state);
  assert.ok(files.length > 0 && events(show.stdout).length > 0);
  const haystacks = [...printed, show.stdout, show.stderr, ...files];
  for (const key of keys) {
    for (const text of haystacks) assert.not.ok(text.includes(key) || text.includes(key.slice(0, 24)), "a key appears in the output or history");
  }
  console.log(`    (${timings.join("; ")})`);
});

s.run();
