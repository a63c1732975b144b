/**
 * Role incus on three lab hosts with real Incus 6.0 daemons (Debian
 * bookworm-backports), through the CLI with test/fixtures/playbooks/incus.ts.
 * tnode1 and tnode3 run tini as PID 1 (the package's /etc/init.d/incus),
 * tnode2 boots systemd (incus.socket / incus.service).
 *
 * Proven here: --check on fresh hosts writes nothing and shows the join
 * tokens as "(known after apply)"; the first run bootstraps tnode1 and joins
 * tnode2 and tnode3 one at a time into a cluster whose `incus cluster list`
 * shows 3 members ONLINE, "Fully operational", on every member; no join
 * token appears in the output, --json or history; the second run changes
 * nothing and makes no token; a privileged container from an image the test
 * builds and imports runs on each member, `incus exec` works in it, and
 * every member lists all three; a member whose daemon was stopped is started
 * again by a rerun while the others report 0 changed (on a tini and on the
 * systemd host); a host whose
 * standalone Incus holds an instance is refused as a member (joining would
 * wipe it) and keeps it, while the cluster is left alone.
 *
 * The image is a RUNBOOK TEST STAND-IN, not a distribution image: the lab
 * reaches no image server, so the test packs dash, coreutils and their
 * libraries from tnode1's own root into a unified Incus image tarball.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as assert from "uvu/assert";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { labSuite, poll, ssh } from "../lab/fixture.ts";
import type { Lab } from "../lab/lab.ts";
import { recap, results, runbook, stateDir, upperSnapshot } from "./harness.ts";
import { standinImageScript } from "./incus-image.ts";

const PLAYBOOK = "test/fixtures/playbooks/incus.ts";
/** Every Incus join token is base64 of a JSON object starting `{"server_name":`. */
const TOKEN = /eyJzZXJ2ZXJfbmFtZSI6/;

// tnode4 is no clusternode (the lab tags only hosts 1-3): the last test makes it a standalone Incus with a container, then a member.
const s = await labSuite("role: incus (a 3-member cluster, containers)", { hosts: 4, systemd: [2] });
const state = stateDir();
/** The clusternodes: hosts 1-3. */
const cluster = (lab: Lab) => lab.hosts.slice(0, 3);

const play = (lab: Lab, args: string[] = [], st = state) =>
  runbook(["play", PLAYBOOK, "-i", lab.inventory, "--json", ...args], { stateDir: st, timeoutMs: 900_000 });
const out = async (lab: Lab, host: string, cmd: string) => (await ssh(lab, host, cmd)).stdout;
const history = (st: string) =>
  readdirSync(join(st, "runs"))
    .map((f) => readFileSync(join(st, "runs", f), "utf8"))
    .join("\n");
const changedTasks = (stdout: string, host?: string) =>
  results(stdout)
    .filter((e) => e.status === "changed" && (host === undefined || e.host === host))
    .map((e) => `${e.host} ${e.task}`);

/** `incus cluster list` on `host` as NAME STATUS MESSAGE lines. */
async function members(lab: Lab, host: string): Promise<string[]> {
  const csv = await out(lab, host, "incus cluster list -f csv -c nsm");
  return csv.trim().split("\n").map((l) => l.split(",").join(" "));
}

const ONLINE = ["tnode1 ONLINE Fully operational", "tnode2 ONLINE Fully operational", "tnode3 ONLINE Fully operational"];

/** The stand-in image (test/e2e/incus-image.ts). */
const IMAGE = standinImageScript();

s("--check on fresh hosts: nothing written, join tokens known after apply, bootstrap and joins predicted", async ({ lab }) => {
  const before = await Promise.all(lab.hosts.map(upperSnapshot));
  const r = await play(lab, ["--check"], stateDir());
  assert.is(r.code, 0, r.stderr + r.stdout.slice(-3000));
  assert.equal(await Promise.all(lab.hosts.map(upperSnapshot)), before, "check mode wrote nothing on any host");
  assert.not.ok(results(r.stdout).some((e) => e.status === "failed"), "nothing fails in check mode");
  const predicted = results(r.stdout).filter((e) => e.predicted || e.status === "unknown").map((e) => `${e.host} ${e.task}: ${e.reason}`);
  const has = (re: RegExp) => assert.ok(predicted.some((l) => re.test(l)), `${re}\n${predicted.join("\n")}`);
  has(/^tnode1 bootstrap the Incus cluster on tnode1/);
  has(/^tnode1 make incus join token for tnode2: .*\(known after apply: incus join token for tnode2\)/);
  has(/^tnode1 make incus join token for tnode3: .*\(known after apply: incus join token for tnode3\)/);
  has(/^tnode2 join the Incus cluster through tnode1: .*uses incus join token for tnode2, known after apply/);
  has(/^tnode3 join the Incus cluster through tnode1: .*uses incus join token for tnode3, known after apply/);
  for (const h of cluster(lab)) has(new RegExp(`^${h.name} package incus-base, dnsmasq-base`));
  assert.not.ok(changedTasks(r.stdout).some((t) => /join the Incus cluster/.test(t) && !/tnode[23]/.test(t)), "tnode1 does not join");
});

s("first run: tnode1 bootstraps, tnode2 and tnode3 join one at a time; 3 members ONLINE on every member; no token anywhere", async ({ lab }) => {
  const started = Date.now();
  const r = await play(lab);
  assert.is(r.code, 0, r.stderr + r.stdout.slice(-4000));
  const secs = (Date.now() - started) / 1000;
  assert.equal(changedTasks(r.stdout, "tnode1").filter((t) => !/package|service|sources|apt-get/.test(t)), [
    "tnode1 bootstrap the Incus cluster on tnode1",
    "tnode1 make a join token for tnode2",
    "tnode1 make a join token for tnode3",
  ]);
  const joins = results(r.stdout).filter((e) => e.task === "join the Incus cluster through tnode1");
  assert.equal(joins.map((e) => `${e.host} ${e.status}`).sort(), ["tnode2 changed", "tnode3 changed"]);
  // One at a time: the second join starts after the first ended (events carry their times).
  const spans = results(r.stdout)
    .filter((e) => e.task === "join the Incus cluster through tnode1")
    .map((e) => {
      const end = Date.parse((e as { time?: string }).time ?? "");
      return { start: end - e.ms, end };
    })
    .sort((a, b) => a.start - b.start);
  if (spans.every((x) => Number.isFinite(x.end))) assert.ok(spans[1]!.start >= spans[0]!.end - 5, `joins overlap: ${JSON.stringify(spans)}`);

  for (const h of cluster(lab)) assert.equal(await members(lab, h.name), ONLINE, `incus cluster list on ${h.name}`);
  assert.is(await out(lab, "tnode2", "systemctl is-active incus"), "active\n", "tnode2 (systemd): incus runs as its unit");
  assert.match(await out(lab, "tnode1", "/etc/init.d/incus status; echo rc=$?"), /rc=0/, "tnode1 (tini): /etc/init.d/incus status");

  assert.not.match(r.stdout + r.stderr, TOKEN, "no join token in the output or --json");
  assert.not.match(history(state), TOKEN, "no join token in the history");
  const text = await runbook(["play", PLAYBOOK, "-i", lab.inventory, "-v"], { stateDir: stateDir(), timeoutMs: 300_000 });
  assert.is(text.code, 0, text.stdout.slice(-2000));
  assert.not.match(text.stdout + text.stderr, TOKEN, "nor in -v text output");
  console.log(`    (first run ${secs.toFixed(1)} s)`);
});

s("second run: 0 changed, no token made, no pending token left", async ({ lab }) => {
  const r = await play(lab);
  assert.is(r.code, 0, r.stderr);
  for (const [name, c] of Object.entries(recap(r.stdout))) assert.equal({ changed: c.changed, failed: c.failed }, { changed: 0, failed: 0 }, `${name}: ${changedTasks(r.stdout, name).join("\n")}`);
  assert.not.ok(results(r.stdout).some((e) => /join token/.test(e.task)), "no token read or made");
  assert.is(await out(lab, "tnode1", "incus cluster list-tokens -f csv"), "");
  const check = await play(lab, ["--check"], stateDir());
  assert.is(check.code, 0);
  for (const c of Object.values(recap(check.stdout))) assert.is(c.changed, 0);
});

s("a privileged container from an imported stand-in image runs on each member; exec works; every member lists all", async ({ lab }) => {
  const built = await ssh(lab, "tnode1", "sh -s", { input: IMAGE });
  assert.is(built.code, 0, built.stderr);
  await ssh(lab, "tnode1", "incus image import /tmp/rb-image.tar.gz --alias rb-standin && rm /tmp/rb-image.tar.gz");
  for (const h of cluster(lab)) {
    const r = await ssh(lab, "tnode1", `incus launch rb-standin c-${h.name} --target ${h.name} -c security.privileged=true </dev/null 2>&1`, { allowFail: true });
    assert.is(r.code, 0, r.stdout + r.stderr);
  }
  for (const h of cluster(lab)) {
    const listed = await poll(60, async () => {
      const csv = (await out(lab, h.name, "incus list -f csv -c nsL")).trim();
      return csv.split("\n").every((l) => l.includes(",RUNNING,")) && csv.split("\n").length === 3 ? csv : false;
    }, `containers RUNNING as ${h.name} lists them`);
    assert.equal(listed.split("\n").sort(), ["c-tnode1,RUNNING,tnode1", "c-tnode2,RUNNING,tnode2", "c-tnode3,RUNNING,tnode3"], `incus list on ${h.name}`);
    // exec from another member than the container's own.
    const other = cluster(lab)[h.index % 3]!.name;
    assert.is(await out(lab, other, `incus exec c-${h.name} -- /bin/sh -c 'echo "$(hostname) up"'`), `c-${h.name} up\n`);
  }
  // The container's processes live in its member's own cgroup subtree (the lab's per-host cgroups).
  assert.match(await out(lab, "tnode2", "ls /sys/fs/cgroup"), /lxc\.payload\.c-tnode2/);
  assert.not.match(await out(lab, "tnode1", "ls /sys/fs/cgroup"), /lxc\.payload\.c-tnode2/);
  // The role does not touch instances: a rerun is still 0 changed.
  const r = await play(lab);
  for (const c of Object.values(recap(r.stdout))) assert.is(c.changed, 0);
});

s("a member whose daemon stopped (tini, then systemd): the rerun starts it, it is ONLINE again, the others report 0 changed", async ({ lab }) => {
  const stops: [string, string][] = [
    ["tnode3", "/etc/init.d/incus stop"],
    // incus.socket stays: only the API port (not socket-activated) tells the others.
    ["tnode2", "systemctl stop incus.service"],
  ];
  for (const [name, stop] of stops) {
    await ssh(lab, name, stop);
    await poll(90, async () => (await members(lab, "tnode1")).some((l) => l.startsWith(`${name} OFFLINE`)), `${name} seen OFFLINE`);
    const r = await play(lab);
    assert.is(r.code, 0, r.stderr + r.stdout.slice(-3000));
    assert.equal(changedTasks(r.stdout), [`${name} service incus (started, enabled)`]);
    for (const other of cluster(lab).filter((h) => h.name !== name)) assert.is(recap(r.stdout)[other.name]!.changed, 0, other.name);
    for (const h of cluster(lab)) assert.equal(await members(lab, h.name), ONLINE, `incus cluster list on ${h.name} after ${name} came back`);
  }
  assert.is(await out(lab, "tnode2", "systemctl is-active incus"), "active\n");
});

s("a new member whose standalone Incus holds an instance is refused (joining wipes it); the cluster is untouched", async ({ lab }) => {
  // tnode4: Incus from backports by hand, standalone, with one container.
  const setup = [
    "set -e",
    "echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/bookworm-backports.list",
    "apt-get update -q >/dev/null",
    "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends incus-base dnsmasq-base >/dev/null",
    "/etc/init.d/incus start >/dev/null 2>&1",
    "incus admin init --minimal",
  ].join("\n");
  const r0 = await ssh(lab, "tnode4", "sh -s", { input: setup, allowFail: true });
  assert.is(r0.code, 0, r0.stdout + r0.stderr);
  await ssh(lab, "tnode4", "sh -s", { input: IMAGE });
  await ssh(lab, "tnode4", "incus image import /tmp/rb-image.tar.gz --alias rb-standin && incus init rb-standin keepme -c security.privileged=true </dev/null >/dev/null 2>&1");
  assert.is(await out(lab, "tnode4", "incus list -f csv -c n"), "keepme\n");

  const inv = parseYaml(readFileSync(lab.inventory, "utf8")) as Record<string, { tags: string }>;
  inv.tnode4!.tags = `clusternode,${inv.tnode4!.tags}`;
  const file = join(lab.dir, "inventory-incus4.yml");
  writeFileSync(file, stringifyYaml(inv, { lineWidth: 0 }));
  const r = await runbook(["play", PLAYBOOK, "-i", file, "--json"], { stateDir: state, timeoutMs: 600_000 });
  assert.is(r.code, 2, r.stdout.slice(-3000));
  const failed = results(r.stdout).filter((e) => e.status === "failed");
  assert.equal(failed.map((e) => e.host), ["tnode4"]);
  assert.match(failed[0]!.reason, /tnode4 holds 1 instance\(s\) in its standalone Incus; joining the cluster wipes them/);
  assert.not.ok(results(r.stdout).some((e) => /join token for tnode4/.test(e.task)), "no token made for a host that is refused");
  for (const name of ["tnode1", "tnode2", "tnode3"]) assert.is(recap(r.stdout)[name]!.changed, 0, `${name}: ${changedTasks(r.stdout, name).join("\n")}`);
  assert.is(await out(lab, "tnode4", "incus list -f csv -c n; incus query /1.0/cluster | grep -c '\"enabled\": false'"), "keepme\n1\n");
  assert.equal(await members(lab, "tnode1"), ONLINE);
});

s.run();
