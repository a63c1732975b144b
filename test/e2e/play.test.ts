/**
 * The runner core on real lab hosts: plays in parallel, recap counts,
 * idempotence, check mode that writes nothing, diffs, handlers.
 */
import * as assert from "uvu/assert";
import type { HostCounts } from "../../runner/events.ts";
import { labSuite, ssh } from "../lab/fixture.ts";
import { events, recap, results, runbook, stateDir, upperSnapshot } from "./harness.ts";

const PB = "test/fixtures/playbooks";

const strip = (c: HostCounts) => ({ ok: c.ok, changed: c.changed, failed: c.failed, skipped: c.skipped, unreachable: c.unreachable });

const s = await labSuite("play: three plays, check, diff", { hosts: 3 });

s("--check on fresh hosts predicts every change and writes nothing (upper dirs unchanged)", async ({ lab }) => {
  const before = await Promise.all(lab.hosts.map(upperSnapshot));
  const r = await runbook(["play", `${PB}/three-plays.ts`, "-i", lab.inventory, "--check", "--json"]);
  assert.is(r.code, 0, r.stderr);
  const after = await Promise.all(lab.hosts.map(upperSnapshot));
  assert.equal(after, before);
  const predicted = events(r.stdout).filter((e) => e.type === "task.result" && e.status === "changed");
  assert.ok(predicted.every((e) => e.type === "task.result" && e.predicted));
  // dir, marker, the handler (reported, not run), two dir, host file, stamp command, link.
  for (const c of Object.values(recap(r.stdout))) assert.is(c.changed, 7);
});

s("three plays run on three hosts in parallel with the right recap; the second run changes nothing", async ({ lab }) => {
  const state = stateDir();
  const first = await runbook(["play", `${PB}/three-plays.ts`, "-i", lab.inventory, "--json"], { stateDir: state });
  assert.is(first.code, 0, first.stderr + first.stdout);
  const r1 = recap(first.stdout);
  assert.equal(Object.keys(r1).sort(), ["tnode1", "tnode2", "tnode3"]);
  // ok: readOnly cat + absent file; changed: dir, marker, handler, two dir, host file, stamp, link.
  for (const c of Object.values(r1)) assert.equal(strip(c), { ok: 2, changed: 7, failed: 0, skipped: 0, unreachable: 0 });
  // Hosts ran concurrently: every host started its first task before any host finished its last.
  const evs = events(first.stdout);
  const firstStart = Math.max(...lab.hosts.map((h) => evs.findIndex((e) => e.type === "task.start" && e.host === h.name)));
  const lastEnd = Math.min(...lab.hosts.map((h) => evs.map((e, i) => (e.type === "task.result" && e.host === h.name ? i : -1)).reduce((a, b) => Math.max(a, b))));
  assert.ok(firstStart < lastEnd, "hosts ran one after another");
  const file = await ssh(lab, lab.hosts[1]!, "cat /srv/rb/marker /srv/rb/two/host; stat -c %a /srv/rb/two/host; readlink /srv/rb/link; cat /srv/rb/marker.log");
  assert.is(file.stdout, "one\ntnode2\n600\n/srv/rb/marker\nchanged\n");

  const second = await runbook(["play", `${PB}/three-plays.ts`, "-i", lab.inventory, "--json"], { stateDir: state });
  assert.is(second.code, 0);
  for (const c of Object.values(recap(second.stdout))) assert.equal(strip(c), { ok: 8, changed: 0, failed: 0, skipped: 0, unreachable: 0 });
  const reasons = events(second.stdout).flatMap((e) => (e.type === "task.result" && e.host === "tnode1" ? [e.reason] : []));
  assert.ok(reasons.includes("/srv/rb/marker content and attributes match"), reasons.join("\n"));
  assert.ok(reasons.includes("/srv/rb/two/stamp exists (creates)"));
});

s("--diff shows the exact unified diff of a changed file", async ({ lab }) => {
  await ssh(lab, lab.hosts[0]!, "printf 'zero\\n' > /srv/rb/marker");
  const r = await runbook(["play", `${PB}/three-plays.ts`, "-i", lab.inventory, "--limit", "tnode1", "--diff"]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, "    --- a/srv/rb/marker\n    +++ b/srv/rb/marker\n    @@ -1,1 +1,1 @@\n    -zero\n    +one\n");
  assert.match(r.stdout, /tnode1\s+changed\s+marker › copy \/srv\/rb\/marker\s+\(update \/srv\/rb\/marker \(content differs\)\)/);
});

s.run();

const hs = await labSuite("play: handlers", { hosts: 3 });

hs("notified twice -> runs once; never notified -> never runs", async ({ lab }) => {
  const r = await runbook(["play", `${PB}/handlers.ts`, "-i", lab.inventory, "-l", "tnode1"]);
  assert.is(r.code, 0, r.stdout + r.stderr);
  const out = await ssh(lab, lab.hosts[0]!, "cat /srv/h/count; test -e /srv/h/never && echo never-ran || echo never-absent");
  assert.is(out.stdout, "ran\nnever-absent\n");
  const again = await runbook(["play", `${PB}/handlers.ts`, "-i", lab.inventory, "-l", "tnode1"]);
  assert.is(again.code, 0);
  assert.is((await ssh(lab, lab.hosts[0]!, "cat /srv/h/count")).stdout, "ran\n", "no change, no handler");
});

hs("a host that fails after a notify keeps the handler pending; the next run runs it and says so", async ({ lab }) => {
  const state = stateDir();
  const failing = await runbook(["play", `${PB}/handlers.ts`, "-i", lab.inventory, "-l", "tnode2", "-e", "fail_after_notify=yes"], { stateDir: state });
  assert.is(failing.code, 2, failing.stdout);
  assert.match(failing.stdout, /tnode2\s+failed\s+command echo failing on purpose/);
  assert.is((await ssh(lab, lab.hosts[1]!, "cat /srv/h/count 2>/dev/null || echo none")).stdout, "none\n");
  // The next run changes nothing itself, but runs the handler left pending.
  const next = await runbook(["play", `${PB}/handlers.ts`, "-i", lab.inventory, "-l", "tnode2"], { stateDir: state });
  assert.is(next.code, 0, next.stdout);
  assert.match(next.stdout, /handler "count" was left pending by run \S+ \(the host failed before it ran\): queued now/);
  assert.is((await ssh(lab, lab.hosts[1]!, "cat /srv/h/count")).stdout, "ran\n");
  const third = await runbook(["play", `${PB}/handlers.ts`, "-i", lab.inventory, "-l", "tnode2"], { stateDir: state });
  assert.not.match(third.stdout, /pending/);
});

hs("--force-handlers runs notified handlers on a host that failed", async ({ lab }) => {
  const r = await runbook(["play", `${PB}/handlers.ts`, "-i", lab.inventory, "-l", "tnode3", "-e", "fail_after_notify=yes", "--force-handlers"]);
  assert.is(r.code, 2);
  assert.is((await ssh(lab, lab.hosts[2]!, "cat /srv/h/count")).stdout, "ran\n");
});

hs("in check mode a notified handler is reported, not run", async ({ lab }) => {
  const before = await upperSnapshot(lab.hosts[0]!);
  const r = await runbook(["play", `${PB}/handlers.ts`, "-i", lab.inventory, "-l", "tnode1", "-e", "change=v2", "--check", "--json"]);
  assert.is(r.code, 0, r.stdout);
  const handler = events(r.stdout).find((e) => e.type === "task.result" && e.role === "handler: count");
  assert.ok(handler && handler.type === "task.result" && handler.status === "changed" && handler.predicted);
  assert.is(await upperSnapshot(lab.hosts[0]!), before);
});

hs.run();
