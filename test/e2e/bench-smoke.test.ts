/**
 * A 2-host smoke run of the benchmark harness (`npm run bench`), on the
 * suite's second lab id (TEST_LAB_ID + 1, free while this file runs; suites
 * run one after another), so two suites side by side never share a lab:
 * runbook and the floor, one run each, report to a temp file (never
 * docs/BENCHMARKS.md). It proves the harness measures, checks counts and
 * writes the report — and that a run with the wrong counts fails it.
 *
 * Ansible is left out (its runs alone take a minute on a 2-core machine);
 * set RUNBOOK_BENCH_SMOKE_ANSIBLE=1 to add stock Ansible when it is installed.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { checkCounts, CountsError, parseAnsibleRecap, parseRunbookRecap, type Recap } from "../bench/harness.ts";
import { labSkipReason, TEST_LAB_ID } from "../lab/fixture.ts";
import { status } from "../lab/lab.ts";
import { run } from "../lab/sh.ts";

const LAB_ID = TEST_LAB_ID + 1;

function bench(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "test/bench/run.ts", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d));
    child.stderr.on("data", (d: Buffer) => (stderr += d));
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

const counts = (ok: number, changed: number, extra: Partial<Recap[string]> = {}) => ({ ok, changed, failed: 0, skipped: 0, unreachable: 0, ...extra });

test("the counts check passes only the exact expected counts on exactly the given hosts", () => {
  const hosts = ["bnode1", "bnode2"];
  checkCounts("runbook", "converged", { bnode1: counts(23, 0), bnode2: counts(23, 0) }, hosts);
  checkCounts("ansible", "first", { bnode1: counts(25, 24), bnode2: counts(25, 24) }, hosts);
  const bad: [string, Recap][] = [
    ["a change on a converged run", { bnode1: counts(22, 1), bnode2: counts(23, 0) }],
    ["a task missing", { bnode1: counts(22, 0), bnode2: counts(23, 0) }],
    ["a failure", { bnode1: counts(22, 0, { failed: 1 }), bnode2: counts(23, 0) }],
    ["an unreachable host", { bnode1: counts(0, 0, { unreachable: 1 }), bnode2: counts(23, 0) }],
    ["a host missing", { bnode1: counts(23, 0) }],
    ["a host too many", { bnode1: counts(23, 0), bnode2: counts(23, 0), bnode3: counts(23, 0) }],
  ];
  for (const [what, recap] of bad) {
    assert.throws(() => checkCounts("runbook", "converged", recap, hosts), (e: unknown) => e instanceof CountsError, what);
  }
});

test("both tools' recaps are parsed", () => {
  const ansible = [
    "PLAY RECAP *********************************************************************",
    "bnode1                     : ok=24   changed=0    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0   ",
    "bnode2                     : ok=23   changed=1    unreachable=0    failed=1    skipped=0    rescued=0    ignored=0   ",
  ].join("\n");
  assert.equal(parseAnsibleRecap(ansible), { bnode1: counts(24, 0), bnode2: counts(23, 1, { failed: 1 }) });
  assert.throws(() => parseAnsibleRecap("ERROR! the playbook could not be found"), (e: unknown) => e instanceof CountsError);
  const runbook = `{"type":"task.result"}\n{"type":"run.end","runId":"x","recap":{"bnode1":{"ok":23,"changed":0,"failed":0,"skipped":0,"unreachable":0,"time":5}},"exitCode":0,"ms":9}\n`;
  assert.is(parseRunbookRecap(runbook).bnode1!.ok, 23);
  assert.throws(() => parseRunbookRecap("internal error\n"), (e: unknown) => e instanceof CountsError);
});

const reason = await labSkipReason();
const lab = reason ? test.skip : test;
if (reason) console.error(`SKIP bench smoke (lab): ${reason}`);

const withAnsible = process.env.RUNBOOK_BENCH_SMOKE_ANSIBLE === "1" && (await run("sh", ["-c", "command -v ansible-playbook"], { allowFail: true })).code === 0;

lab("2 hosts, 1 run: counts checked, a BENCHMARKS-format report written to the given file only", async () => {
  const out = join(mkdtempSync(join(tmpdir(), "runbook-bench-smoke-")), "BENCHMARKS.md");
  const docs = "docs/BENCHMARKS.md";
  const docsBefore = existsSync(docs) ? statSync(docs).mtimeMs : null;
  const modes = withAnsible ? "runbook,ansible,floor" : "runbook,floor";
  const r = await bench(["--hosts", "2", "--runs", "1", "--modes", modes, "--scale", "none", "--no-install", "--lab-id", String(LAB_ID), "--out", out]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, /runbook, 2 hosts, first: .* ok=0 changed=24 on 2 host\(s\); state verified/);
  assert.match(r.stderr, /runbook, 2 hosts, converged: .* ok=23 changed=0 on 2 host\(s\)/);
  assert.match(r.stderr, /floor \(ssh \+ sh -s\), 2 hosts, converged: .* 23 checks ok on 2 host\(s\)/);
  // The first run written by hand passes the same state check as the tools.
  assert.match(r.stderr, /floor \(ssh \+ sh -s\), 2 hosts, first: .* every change made on 2 host\(s\); state verified/);
  const md = readFileSync(out, "utf8");
  // CPU seconds per host, on the controller and on the hosts, for the floor too (runbook's rows below).
  for (const mode of ["floor \\(ssh \\+ sh -s\\)"]) assert.match(md, new RegExp(`\\| 2 \\| converged \\| ${mode} \\| \\*\\*[\\d.]+\\*\\* \\| [^|]+ \\| \\d+\\.\\d{3} \\| \\d+\\.\\d{3} \\|`));
  for (const want of [
    "# Benchmarks: runbook and Ansible on the same lab hosts",
    "## Machine and versions",
    "| hosts | run | mode | median s | min–max s | controller CPU s/host | host CPU s/host | peak RSS MB | load | counts checked per run |",
    "| 2 | converged | floor (ssh + sh -s) | **",
    "| 2 | first | floor (ssh + sh -s) | **",
    "### Ratios",
    "### Start-up",
    "## Targets (issue 7)",
    "## Profile: runbook, converged, 2 hosts",
    "## Findings: where runbook's time goes",
    "## Rerun",
  ]) {
    assert.ok(md.includes(want), `report lacks ${JSON.stringify(want)}:\n${md}`);
  }
  assert.match(md, /\| 2 \| first \| runbook \| \*\*\d+\.\d+\*\* \| [\d.]+–[\d.]+ \| \d+\.\d{3} \| \d+\.\d{3} \| \d+ \| [\d.]+ \| ok=0 changed=24 on 2 host\(s\); state verified \(n=1\) \|/);
  assert.match(md, /\| 2 \| converged \| runbook \| \*\*\d+\.\d+\*\* \| [\d.]+–[\d.]+ \| \d+\.\d{3} \| \d+\.\d{3} \| \d+ \| [\d.]+ \| ok=23 changed=0 on 2 host\(s\) \(n=1\) \|/);
  if (withAnsible) assert.match(md, /\| 2 \| converged \| Ansible \(stock\) \| \*\*/);
  assert.is(existsSync(docs) ? statSync(docs).mtimeMs : null, docsBefore, "docs/BENCHMARKS.md was touched");
  assert.is(status(LAB_ID), null, "the bench lab was left up");
});

lab("a converged run that changes something fails the benchmark loudly", async () => {
  const out = join(mkdtempSync(join(tmpdir(), "runbook-bench-smoke-")), "BENCHMARKS.md");
  const r = await bench(["--hosts", "2", "--runs", "1", "--modes", "runbook", "--scale", "none", "--no-install", "--no-startup", "--no-profile", "--sabotage", "--lab-id", String(LAB_ID), "--out", out]);
  assert.is(r.code, 1, r.stderr);
  assert.match(r.stderr, /FAILED: counts check failed: runbook converged run on 2 host\(s\):\n {2}bnode1: ok=22 changed=1 failed=0 skipped=0 unreachable=0, want ok=23 changed=0/);
  assert.is(existsSync(out), false, "a failed benchmark wrote a report");
});

test.run();
