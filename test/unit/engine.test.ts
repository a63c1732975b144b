/**
 * Engine semantics through the real CLI on local-connection hosts: serial
 * batches, shared values, barriers, failure policies and the common task options.
 */
import { mkdtempSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { RunEvent } from "../../runner/events.ts";
import { runbook } from "../e2e/harness.ts";

const INV = "test/fixtures/engine/local.yml";
const PB = "test/fixtures/engine/semantics.ts";
const HOSTS = ["w1", "w2", "w3", "d1", "d2"];

async function play(c: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}) {
  const out = mkdtempSync(join(tmpdir(), "rb-engine-"));
  const r = await runbook(["play", PB, "-i", INV, "-e", `case=${c} out=${out}`, "--json", ...extra], { env });
  const events = r.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l) as RunEvent);
  const read = (f: string) => (existsSync(join(out, f)) ? readFileSync(join(out, f), "utf8") : "");
  return { ...r, events, read, out };
}

test("serial: 2 runs hosts in batches of two; the next batch starts after the previous ends", async () => {
  const r = await play("serial", [], { RB_SERIAL: "2" });
  assert.is(r.code, 0, r.stderr);
  const t = (h: string, w: string) => BigInt(r.read(`${h}.${w}`).trim());
  assert.ok(t("w3", "start") >= t("w1", "end") && t("w3", "start") >= t("w2", "end"), "batch 2 waited for batch 1");
  assert.ok(t("d2", "start") >= t("d1", "end") || t("d2", "start") >= t("w3", "end"));
  assert.ok(t("w2", "start") < t("w1", "end"), "hosts within a batch run together");
});

test("without serial every host runs at once (no lock-step)", async () => {
  const r = await play("serial");
  const starts = HOSTS.map((h) => BigInt(r.read(`${h}.start`).trim()));
  const ends = HOSTS.map((h) => BigInt(r.read(`${h}.end`).trim()));
  assert.ok(starts.every((s) => ends.every((e) => s < e)), "all started before any finished");
});

test("a shared value is made on the play's first host and every host gets it", async () => {
  const r = await play("runonce");
  assert.is(r.code, 0);
  const logs = HOSTS.map((h) => r.read(`${h}.log`));
  assert.is(logs.filter((l) => l.includes("generated")).length, 1);
  const token = logs.join("").match(/token-from-\w+/)![0];
  assert.is(token, "token-from-w1", "made on the play's first host in inventory order, not the first to arrive");
  for (const l of logs) assert.ok(l.includes(token));
});

test("a barrier holds every host until all reached it", async () => {
  const r = await play("barrier");
  assert.is(r.code, 0, r.stderr);
  const before = HOSTS.map((h) => BigInt(r.read(`${h}.before`).trim()));
  const after = HOSTS.map((h) => BigInt(r.read(`${h}.after`).trim()));
  const lastBefore = before.reduce((a, b) => (a > b ? a : b));
  assert.ok(after.every((a) => a >= lastBefore));
});

test("a failed host stops; the others finish; exit 2", async () => {
  const r = await play("fail-some");
  assert.is(r.code, 2);
  assert.is(r.read("w1.log"), "");
  for (const h of ["w3", "d1", "d2"]) assert.is(r.read(`${h}.log`), "finished\n");
});

test("anyErrorsFatal stops every host at the first failure", async () => {
  const r = await play("fail-some", [], { RB_FATAL: "1", RB_SERIAL: "2" });
  assert.is(r.code, 2);
  // w1 and w2 fail in the first batch: later batches never start.
  for (const h of ["w3", "d1", "d2"]) assert.is(r.read(`${h}.log`), "");
});

test("maxFailPercentage stops before the next batch once exceeded", async () => {
  const r = await play("fail-some", [], { RB_MAXFAIL: "30", RB_SERIAL: "2" });
  assert.is(r.code, 2);
  assert.match(r.stdout, /over maxFailPercentage 30%/);
  for (const h of ["w3", "d1", "d2"]) assert.is(r.read(`${h}.log`), "");
});

test("delegateTo runs a task with another host's context, also one outside the play", async () => {
  const r = await play("delegate", ["-l", "web"]);
  assert.is(r.code, 0, r.stdout);
  assert.equal(r.read("d1.log").trim().split("\n").sort(), ["for w1 on d1", "for w2 on d1", "for w3 on d1"]);
});

test("retries/until, timeout, noLog, failed/changed overrides, tags and when", async () => {
  const r = await play("options", ["-l", "w1"]);
  assert.is(r.code, 0, r.stdout);
  assert.is(r.read("w1.log"), "tries 3\ntagged\n");
  const res = (name: string) => r.events.find((e) => e.type === "task.result" && e.task === name) as Extract<RunEvent, { type: "task.result" }>;
  assert.is(res("count to three").status, "changed");
  assert.is(res("too slow").status, "failed");
  assert.match(res("too slow").reason, /timed out after 0.3 s/);
  assert.is(res("quiet").reason, "(output hidden: noLog)");
  assert.not.ok(r.stdout.includes("hidden-output-xyz"));
  assert.is(res("not a failure").status, "ok");
  assert.is(res("never changed").status, "ok");
  assert.is(res("conditional").status, "skipped");

  const tagged = await play("options", ["-l", "w1", "--tags", "extra"]);
  assert.is(tagged.read("w1.log"), "tagged\n");
  const skipped = await play("options", ["-l", "w1", "--skip-tags", "extra"]);
  assert.is(skipped.read("w1.log"), "tries 3\n");
  const startAt = await play("options", ["-l", "w1", "--start-at-task", "record tries"]);
  assert.is(startAt.read("w1.log"), "tries skipped\ntagged\n");
});

test.run();
