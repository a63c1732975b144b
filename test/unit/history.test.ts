/** Run history and the inventory views, through the CLI on local-connection hosts. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { runbook, stateDir } from "../e2e/harness.ts";

const INV = "test/fixtures/engine/local.yml";
const PB = "test/fixtures/engine/semantics.ts";

test("every run is recorded; history filters by host and date; show replays a run", async () => {
  const state = stateDir();
  const out = mkdtempSync(join(tmpdir(), "rb-hist-"));
  const first = await runbook(["play", PB, "-i", INV, "-l", "w1", "-e", `case=runonce out=${out}`], { stateDir: state });
  assert.is(first.code, 0, first.stderr);
  const second = await runbook(["play", PB, "-i", INV, "-l", "db", "--check", "-e", `case=runonce out=${out}`], { stateDir: state });
  assert.is(second.code, 0);

  const all = await runbook(["history"], { stateDir: state });
  const lines = all.stdout.trim().split("\n");
  assert.is(lines.length, 2);
  assert.match(lines[0]!, /semantics\.ts \(check\) --limit db\s+hosts 2, changed 3, failed 0\s+ok$/);
  assert.match(lines[1]!, /semantics\.ts --limit w1\s+hosts 1, changed 2, failed 0\s+ok$/);

  const w1 = await runbook(["history", "--host", "w1"], { stateDir: state });
  assert.is(w1.stdout.trim().split("\n").length, 1);
  const future = await runbook(["history", "--since", "2999-01-01"], { stateDir: state });
  assert.match(future.stdout, /no recorded runs since 2999-01-01/);
  const bad = await runbook(["history", "--since", "last tuesday"], { stateDir: state });
  assert.is(bad.code, 1);
  assert.match(bad.stderr, /--since: not a date: last tuesday/);

  const id = lines[1]!.split(" ")[0]!;
  const show = await runbook(["show", id, "-v"], { stateDir: state });
  assert.is(show.code, 0);
  assert.match(show.stdout, /PLAY semantics\s+\[w1\]/);
  assert.match(show.stdout, /w1\s+changed\s+command echo "generated"/);
  assert.match(show.stdout, /RECAP/);
  const missing = await runbook(["show", "20000101-000000-0000"], { stateDir: state });
  assert.is(missing.code, 1);
  assert.match(missing.stderr, /no recorded run 20000101-000000-0000/);
});

test("inventory lists hosts, draws the group graph, and shows each var with its source", async () => {
  const list = await runbook(["inventory", "-i", "test/fixtures/inventory/rundeck"]);
  assert.is(list.code, 0, list.stderr);
  assert.match(list.stdout, /^tnode2\s+clusteradm@tnode2\.i131\.net:2222\s+clusternode/m);
  const graph = await runbook(["inventory", "--graph", "-i", INV]);
  assert.match(graph.stdout, /@all:\n  @web:\n    \|--w1\n    \|--w2\n    \|--w3\n  @db:\n    \|--d1\n    \|--d2/);
  const vars = await runbook(["inventory", "-i", "test/fixtures/inventory/rundeck", "--vars", "tnode2"]);
  assert.is(vars.code, 0, vars.stderr);
  assert.match(vars.stdout, /timezone = "UTC"    # test\/fixtures\/inventory\/rundeck\/group_vars\/all\.yml:2/);
  const nope = await runbook(["inventory", "-i", INV, "--vars", "w9"]);
  assert.is(nope.code, 1);
  assert.match(nope.stderr, /host "w9" is not in the inventory/);
});

test.run();
