/**
 * Multi-host choreography on 3 lab hosts through the CLI
 * (test/fixtures/choreography/): a secret join token made once on the first
 * host of `clusternode` and read back (never made anew) on later runs;
 * joins one host at a time, proven from the events' timestamps; a wait
 * until every host is a member; check mode on fresh hosts that shows
 * "(known after apply)" and writes nothing; --forks 1 and serial: 1; and a
 * role that reads its peers' addresses and facts from an inventory group.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as assert from "uvu/assert";
import { startRun } from "../../index.ts";
import { InputError } from "../../runner/errors.ts";
import { labSuite, ssh } from "../lab/fixture.ts";
import type { Lab } from "../lab/lab.ts";
import { recap, runbook, stamped, stateDir, upperSnapshot } from "./harness.ts";

const JOIN = "test/fixtures/choreography/join.ts";
const PEERS = "test/fixtures/choreography/peers.ts";
const DIR = "/tmp/rb-join";

const s = await labSuite("choreography: shared values, one at a time, waits, peers", { hosts: 3 });

const join3 = (lab: Lab, extra: string[] = [], opts: { env?: NodeJS.ProcessEnv; stateDir?: string } = {}) =>
  runbook(["play", JOIN, "-i", lab.inventory, ...extra], { timeoutMs: 300_000, ...opts });
const clean = (lab: Lab) => Promise.all(lab.hosts.map((h) => ssh(lab, h, `rm -rf ${DIR}`)));
const cat = async (lab: Lab, host: string, file: string) => (await ssh(lab, host, `cat ${file}`)).stdout;
const history = (state: string) =>
  readdirSync(join(state, "runs"))
    .map((f) => readFileSync(join(state, "runs", f), "utf8"))
    .join("\n");

/** The founder's members file lists every host, and every host holds the founder's token. */
async function assertCluster(lab: Lab): Promise<string> {
  const token = (await cat(lab, "tnode1", `${DIR}/token`)).trim();
  assert.match(token, /^[0-9a-f]{32}$/);
  for (const h of ["tnode2", "tnode3"]) assert.is((await cat(lab, h, `${DIR}/token`)).trim(), token, `${h} received the token`);
  assert.equal((await cat(lab, "tnode1", `${DIR}/members`)).trim().split("\n").sort(), ["tnode1", "tnode2", "tnode3"]);
  return token;
}

s("on fresh hosts, --check shows the token as known after apply and writes nothing", async ({ lab }) => {
  await clean(lab);
  const before = await Promise.all(lab.hosts.map(upperSnapshot));
  const r = await join3(lab, ["--check"]);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /known after apply/);
  assert.not.match(r.stdout, /undefined/);
  assert.equal(await Promise.all(lab.hosts.map(upperSnapshot)), before, "check mode wrote nothing");
});

s("the real run: one token, joins one at a time, everyone waits until all joined; the token is shown nowhere", async ({ lab }) => {
  const state = stateDir();
  const r = await join3(lab, ["--json"], { stateDir: state });
  assert.is(r.code, 0, r.stdout.slice(-4000) + r.stderr);
  const evs = stamped(r.stdout);
  // Stamped: one run id, sequence numbers 1, 2, 3, ... in order, ISO times that never go back.
  const runId = evs[0]!.runId;
  assert.ok(runId);
  assert.ok(evs.every((e) => e.runId === runId));
  assert.equal(
    evs.map((e) => e.seq),
    evs.map((_, i) => i + 1),
  );
  for (let i = 1; i < evs.length; i++) assert.ok(evs[i]!.time >= evs[i - 1]!.time, "times in order");

  // A joiner's step runs from receiving the token to being recorded on the founder.
  const spans = ["tnode2", "tnode3"].map((host) => {
    const start = evs.find((e) => e.type === "task.start" && e.host === host && e.task === "receive the join token");
    // Delegated: the founder runs it (its events name tnode1).
    const end = evs.find((e) => e.type === "task.result" && e.host === "tnode1" && e.task === `record ${host} on tnode1`);
    assert.ok(start && end, `${host}: join step events`);
    return { host, from: Date.parse(start!.time), to: Date.parse(end!.time) };
  });
  const [a, b] = spans.sort((x, y) => x.from - y.from);
  assert.ok(a!.to <= b!.from, `join steps overlap: ${JSON.stringify(spans)}`);
  for (const h of ["tnode1", "tnode2", "tnode3"]) {
    const wait = evs.find((e) => e.type === "task.result" && e.host === h && e.task === "wait until every host has joined");
    assert.is(wait && wait.type === "task.result" && wait.status, "ok", `${h} waited until all joined`);
  }

  const token = await assertCluster(lab);
  assert.not.ok(r.stdout.includes(token), "token not in --json output");
  assert.not.ok(r.stderr.includes(token), "token not on stderr");
  assert.not.ok(history(state).includes(token), "token not in history");
});

s("the second run changes nothing and reads the token instead of making a new one; check mode agrees", async ({ lab }) => {
  const token = await assertCluster(lab);
  const again = await join3(lab, ["--json"]);
  assert.is(again.code, 0, again.stdout.slice(-3000));
  for (const [h, c] of Object.entries(recap(again.stdout))) assert.is(c.changed, 0, `${h} changed nothing`);
  assert.not.ok(stamped(again.stdout).some((e) => e.type === "task.result" && e.task === "make the join token"), "no new token made");
  assert.is(await assertCluster(lab), token, "the same token");

  const check = await join3(lab, ["--check", "--json"]);
  assert.is(check.code, 0, check.stdout.slice(-3000));
  for (const [h, c] of Object.entries(recap(check.stdout))) {
    assert.is(c.changed + c.unknown, 0, `${h}: nothing predicted on a converged cluster`);
  }
});

s("--forks 1 and serial: 1 each bootstrap a fresh cluster", async ({ lab }) => {
  await clean(lab);
  const one = await join3(lab, ["--forks", "1"]);
  assert.is(one.code, 0, one.stdout + one.stderr);
  await assertCluster(lab);
  await clean(lab);
  const serial = await join3(lab, [], { env: { RB_SERIAL: "1" } });
  assert.is(serial.code, 0, serial.stdout + serial.stderr);
  await assertCluster(lab);
});

s("a role reads its peers' addresses and facts from an inventory group, also with --limit", async ({ lab }) => {
  await Promise.all(lab.hosts.map((h) => ssh(lab, h, "rm -f /tmp/rb-peers")));
  const r = await runbook(["play", PEERS, "-i", lab.inventory, "--limit", "tnode2"], { timeoutMs: 180_000 });
  assert.is(r.code, 0, r.stdout + r.stderr);
  const want = lab.hosts.map((h) => `${h.name} ${h.address} ${h.name}`).join("\n") + "\n";
  assert.is(await cat(lab, "tnode2", "/tmp/rb-peers"), want);
  // --limit: only tnode2 was changed.
  assert.is((await ssh(lab, "tnode1", "test -e /tmp/rb-peers", { allowFail: true })).code, 1);
});

s("the run API: a run started from code streams stamped events to a late follower too, and bad input rejects before any host is touched", async ({ lab }) => {
  const state = stateDir();
  const bad = await startRun({ playbook: PEERS, inventory: [lab.inventory], limit: "tnode9", stateDir: state }).then(
    () => new Error("started"),
    (e: Error) => e,
  );
  assert.ok(bad instanceof InputError && /tnode9/.test(bad.message), String(bad));
  assert.not.ok(existsSync(join(state, "runs")), "nothing recorded for a run that never started");
  await Promise.all(lab.hosts.map((h) => ssh(lab, h, "rm -f /tmp/rb-peers")));
  const run = await startRun({ playbook: PEERS, inventory: [lab.inventory], stateDir: state });
  const live: number[] = [];
  run.subscribe((e) => live.push(e.seq));
  const { exitCode, recap: counts } = await run.outcome;
  assert.is(exitCode, 0);
  assert.equal(Object.keys(counts).sort(), ["tnode1", "tnode2", "tnode3"]);
  // A follower that starts after the end still gets the whole run, in order.
  const all = [];
  for await (const e of run.events()) all.push(e);
  assert.is(all[0]!.type, "run.start");
  assert.is(all.at(-1)!.type, "run.end");
  assert.equal(
    all.map((e) => e.seq),
    all.map((_, i) => i + 1),
  );
  assert.ok(all.every((e) => e.runId === run.runId));
  assert.ok(live.length > 0 && live.every((seq, i) => i === 0 || seq === live[i - 1]! + 1), "the live sink saw consecutive events");
  assert.ok(readFileSync(join(state, "runs", `${run.runId}.jsonl`), "utf8").includes('"type":"run.end"'), "recorded in history");
  for (const h of lab.hosts) assert.match(await cat(lab, h.name, "/tmp/rb-peers"), /tnode3/);
});

s("an ad-hoc command goes into the history", async ({ lab }) => {
  const state = stateDir();
  const r = await runbook(["run", "all", "-i", lab.inventory, "--", "uptime"], { stateDir: state });
  assert.is(r.code, 0, r.stdout + r.stderr);
  const list = await runbook(["history"], { stateDir: state });
  assert.match(list.stdout, /run all -- uptime/);
  assert.match(list.stdout, /hosts 3/);
  const shown = await runbook(["show", "last", "--json"], { stateDir: state });
  const done = stamped(shown.stdout).filter((e) => e.type === "task.result");
  assert.equal(done.map((e) => e.host).sort(), ["tnode1", "tnode2", "tnode3"]);
  assert.ok(done.every((e) => e.type === "task.result" && e.rc === 0 && /load average/.test(e.stdout ?? "")));
});

s.run();
