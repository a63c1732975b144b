/**
 * Engine correctness on lab hosts (test/fixtures/engine/lab.ts): check mode
 * never hides a failure, barriers with --forks and serial, --start-at-task
 * per host, Ctrl-C, a closed stdout, unawaited tasks, facts refreshed after
 * a rename, run states in history, and exit codes that match the record.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as assert from "uvu/assert";
import type { RunEvent } from "../../runner/events.ts";
import type { Lab } from "../lab/lab.ts";
import { labSuite, ssh } from "../lab/fixture.ts";
import { events, poll, recap, results, runbook, stateDir, upperSnapshot } from "./harness.ts";

const PB = "test/fixtures/engine/lab.ts";
const DIR = "/tmp/rb-engine";

const s = await labSuite("engine on lab hosts", { hosts: 3 });

const play = (lab: Lab, c: string, extra: string[] = [], opts: { env?: NodeJS.ProcessEnv; stateDir?: string } = {}) =>
  runbook(["play", PB, "-i", lab.inventory, "-e", `case=${c}`, ...extra], { timeoutMs: 180_000, ...opts });

const clean = (lab: Lab) => Promise.all(lab.hosts.map((h) => ssh(lab, h, `rm -rf ${DIR} ${DIR}.log ${DIR}.unawaited`)));

/** The history records of a state dir: every run's events. */
function history(state: string): RunEvent[][] {
  const dir = join(state, "runs");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".jsonl"))
    .map((f) => readFileSync(join(dir, f), "utf8").trim().split("\n").map((l) => JSON.parse(l) as RunEvent));
}
const endOf = (run: RunEvent[]) => run.find((e): e is Extract<RunEvent, { type: "run.end" }> => e.type === "run.end");

/** The CLI as a child process whose output is read as it comes (for signals). */
function start(args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, ["bin/runbook.js", ...args], { env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"] }) as ChildProcessWithoutNullStreams;
  let out = "";
  let err = "";
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  child.stdout.on("data", (d: Buffer) => {
    out += d;
    for (const w of [...waiters]) if (w.re.test(out)) (waiters.splice(waiters.indexOf(w), 1), w.resolve());
  });
  child.stderr.on("data", (d: Buffer) => (err += d));
  const exited = new Promise<number>((res) => child.on("close", (code, signal) => res(code ?? (signal ? 128 : 1))));
  return {
    child,
    exited,
    get out() {
      return out;
    },
    get err() {
      return err;
    },
    /** Resolves once stdout matches (generous timeout: a loaded machine). */
    until(re: RegExp, ms = 60_000): Promise<void> {
      if (re.test(out)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const fail = (why: string) => reject(new Error(`no ${re} ${why} in:\n${out}\n${err}`));
        const t = setTimeout(() => fail(`within ${ms} ms`), ms);
        void exited.then(() => (clearTimeout(t), fail("before the run ended")));
        waiters.push({ re, resolve: () => (clearTimeout(t), resolve()) });
      });
    },
  };
}

const LONG_STEP = /"type":"task.start"[^\n]*"task":"long step"/;
/** The long step started on all three hosts (each has its copy done and its handler notified). */
const LONG_STEP_ALL = /(?:"type":"task.start"[^\n]*"task":"long step"[^]*){3}/;

/** `runbook history` as text, for a state dir. */
const historyText = async (state: string) => (await runbook(["history"], { stateDir: state })).stdout;

s("check mode: a broken template fails with its file and line even after predicted changes, and nothing is written", async ({ lab }) => {
  await clean(lab);
  const before = await Promise.all(lab.hosts.map(upperSnapshot));
  const r = await play(lab, "check-template", ["--check"]);
  assert.is(r.code, 2, r.stdout);
  assert.match(r.stdout, /failed\s+template \/tmp\/rb-engine\/broken\.conf\s+\(templates\/broken\.njk:2: undefined variable "inventory_name"[^)]*\)/);
  assert.not.match(r.stdout, /^\s+tnode\d\s+skipped/m);
  assert.equal(await Promise.all(lab.hosts.map(upperSnapshot)), before, "check mode wrote nothing");
});

s("check mode: a state read failing after a predicted change is `unknown` with its error, counted, and the host goes on", async ({ lab }) => {
  await clean(lab);
  const r = await play(lab, "check-probe", ["--check", "--json"]);
  assert.is(r.code, 0, r.stdout);
  for (const h of lab.hosts) {
    const mine = results(r.stdout).filter((e) => e.host === h.name);
    const read = mine.find((e) => e.task === "read the new file")!;
    assert.is(read.status, "unknown");
    assert.match(read.reason, /^would fail now, but may depend on 2 predicted changes on this host: cat \/tmp\/rb-engine\/conf: .*No such file/);
    assert.is(mine.find((e) => e.task === "a later task")?.status, "ok", "the host went on");
    assert.is(recap(r.stdout)[h.name]!.unknown, 1);
  }
  const text = await play(lab, "check-probe", ["--check", "-l", "tnode1"]);
  assert.match(text.stdout, /would fail\?\s+read the new file/);
  assert.match(text.stdout, /unknown/, "the recap has an unknown column");
  // The real run has no unknowns: the file is there when it is read.
  const real = await play(lab, "check-probe", ["--json"]);
  assert.is(real.code, 0, real.stdout);
  assert.ok(Object.values(recap(real.stdout)).every((c) => c.unknown === 0 && c.failed === 0));
});

s("check mode: a failing probe with nothing predicted before it is a failure (exit 2)", async ({ lab }) => {
  const r = await play(lab, "check-typo", ["--check", "-l", "tnode1"]);
  assert.is(r.code, 2, r.stdout);
  assert.match(r.stdout, /failed\s+typo'd probe\s+\(definitely-not-a-command --version: .*not found\)/);
});

for (const [what, extra, env] of [
  ["--forks 1", ["--forks", "1"], {}],
  ["--forks 2", ["--forks", "2"], {}],
  ["serial: 1", [], { RB_SERIAL: "1" }],
] as const) {
  s(`a barrier play on 3 hosts passes with ${what}; a barrier name used twice waits twice`, async ({ lab }) => {
    await clean(lab);
    const r = await play(lab, "barrier", ["--json", ...extra], { env });
    assert.is(r.code, 0, r.stdout + r.stderr);
    const stamps = async (f: string) => Promise.all(lab.hosts.map(async (h) => BigInt((await ssh(lab, h, `cat ${DIR}/${f}`)).stdout.trim())));
    const [before, after, after2] = [await stamps("before"), await stamps("after"), await stamps("after2")];
    if (env.RB_SERIAL) {
      // A barrier means the hosts of the batch: each host passes alone, in order.
      for (let i = 1; i < 3; i++) assert.ok(before[i]! > after2[i - 1]!, "batches ran one after another");
    } else {
      const max = (xs: bigint[]) => xs.reduce((a, b) => (a > b ? a : b));
      assert.ok(after.every((a) => a >= max(before)), "nobody passed the barrier before all arrived");
      assert.ok(after2.every((a) => a >= max(after)), "the second meeting at the same name waited too");
    }
  });
}

s("hosts that can never meet at one barrier fail with who waits where; the run still ends with a recap and an end record", async ({ lab }) => {
  const state = stateDir();
  const r = await play(lab, "deadlock", [], { stateDir: state });
  assert.is(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stdout, /the hosts can never all meet: tnode1 at barrier "one"; tnode2, tnode3 at barrier "two"/);
  assert.match(r.stdout, /RECAP/);
  const [run] = history(state);
  assert.is(endOf(run!)?.exitCode, 2);
});

s("a shared value whose maker waits at a barrier the others cannot reach fails everyone with a diagnosis (also with --forks 1)", async ({ lab }) => {
  for (const extra of [[], ["--forks", "1"]]) {
    const r = await play(lab, "shared-barrier", extra);
    assert.is(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stdout, /the hosts can never all meet: (tnode1 at barrier "inside"; tnode2, tnode3 at shared value "value" \(made on tnode1\)|tnode2, tnode3 at shared value "value" \(made on tnode1\); tnode1 at barrier "inside")/);
    assert.match(r.stdout, /RECAP/);
  }
});

s("--start-at-task is per host: a host that gets there later still skips the tasks before it", async ({ lab }) => {
  await clean(lab);
  const r = await play(lab, "start-at", ["--start-at-task", "step two"]);
  assert.is(r.code, 0, r.stdout);
  for (const h of lab.hosts) assert.is((await ssh(lab, h, `cat ${DIR}.log`)).stdout, "two\n", h.name);
});

s("Ctrl-C during a task after a notifying change: recap, exit 130, history says interrupted, the next run runs the handler", async ({ lab }) => {
  await clean(lab);
  const state = stateDir();
  const env = { RUNBOOK_STATE_DIR: state, RUNBOOK_STOP_GRACE_MS: "1000" };
  const p = start(["play", PB, "-i", lab.inventory, "-e", "case=interrupt", "--json"], env);
  await p.until(LONG_STEP_ALL);
  assert.match(await historyText(state), /\brunning\b/, "a run in progress is `running`");
  p.child.kill("SIGINT");
  const code = await p.exited;
  assert.is(code, 130, p.out + p.err);
  const evs = events(p.out);
  const end = evs.find((e) => e.type === "run.end");
  assert.ok(end && end.type === "run.end" && end.interrupted === "SIGINT" && end.exitCode === 130, "run.end says interrupted");
  assert.equal(Object.keys(end.type === "run.end" ? end.recap : {}).sort(), ["tnode1", "tnode2", "tnode3"]);
  assert.ok(evs.some((e) => e.type === "message" && /SIGINT: stopping/.test(e.text)), "says what happens");
  assert.not.match(p.err, /\n\s+at /, "no stack trace");
  for (const h of lab.hosts) assert.is((await ssh(lab, h, `test -e ${DIR}/after.long && echo ran || echo stopped`)).stdout, "stopped\n");
  assert.match(await historyText(state), /interrupted \(SIGINT\), exit 130/);
  assert.is(endOf(history(state)[0]!)?.exitCode, 130, "history has the process's exit code");

  // The next run: the file is already right, yet the handler runs (left pending).
  const next = await play(lab, "handler-only", ["--json"], { stateDir: state });
  assert.is(next.code, 0, next.stdout);
  assert.ok(events(next.stdout).some((e) => e.type === "handler.pending" && e.handler === "restart thing"));
  for (const h of lab.hosts) assert.is((await ssh(lab, h, `cat ${DIR}/handler.log`)).stdout, "restarted\n", h.name);
});

s("a second Ctrl-C aborts at once and still records the pending handlers and the end of the run", async ({ lab }) => {
  await clean(lab);
  const state = stateDir();
  const p = start(["play", PB, "-i", lab.inventory, "-e", "case=interrupt", "--json", "-l", "tnode1"], { RUNBOOK_STATE_DIR: state, RUNBOOK_STOP_GRACE_MS: "60000" });
  await p.until(LONG_STEP);
  p.child.kill("SIGINT");
  await p.until(/SIGINT: stopping/);
  p.child.kill("SIGINT");
  assert.is(await p.exited, 130, p.out + p.err);
  const end = endOf(history(state)[0]!);
  assert.ok(end?.interrupted === "SIGINT" && /aborted/.test(end.error ?? ""), JSON.stringify(end));
  const next = await play(lab, "handler-only", ["--json", "-l", "tnode1"], { stateDir: state });
  assert.ok(events(next.stdout).some((e) => e.type === "handler.pending" && e.host === "tnode1"), `${next.code}\n${next.stdout}\n${next.stderr}`);
});

s("runbook run: Ctrl-C lets the running command finish in the grace period, starts no further host, exit 130, history interrupted; a short grace cuts it off", async ({ lab }) => {
  await clean(lab);
  const state = stateDir();
  // One host at a time: tnode1 runs, tnode2 and tnode3 wait their turn and never get it.
  const cmd = `mkdir -p ${DIR}; touch ${DIR}/started; sleep 3; echo finished`;
  const p = start(["run", "all", "-i", lab.inventory, "-f", "1", "--", cmd], { RUNBOOK_STATE_DIR: state, RUNBOOK_STOP_GRACE_MS: "60000" });
  await poll(120, "the command started on tnode1", async () => (await ssh(lab, "tnode1", `test -e ${DIR}/started && echo yes || true`)).stdout === "yes\n");
  p.child.kill("SIGINT");
  assert.is(await p.exited, 130, p.out + p.err);
  assert.match(p.out, /tnode1 \(1\)\n-+\nfinished\n/, "the running command finished and its output is printed");
  assert.match(p.err, /SIGINT: stopping — no further host starts/);
  assert.match(p.err, /SIGINT: tnode\[2-3\] \(2\) did not start/);
  for (const h of ["tnode2", "tnode3"]) assert.is((await ssh(lab, h, `test -e ${DIR}/started && echo ran || echo not`)).stdout, "not\n", h);
  const [run] = history(state);
  const end = endOf(run!);
  assert.ok(end?.interrupted === "SIGINT" && end.exitCode === 130, JSON.stringify(end));
  assert.equal(Object.keys(end!.recap), ["tnode1"], "only the host that ran has counts");
  assert.ok(run!.some((e) => e.type === "task.output" && e.host === "tnode1" && e.text === "finished\n"), "output recorded as it came");
  assert.match(await historyText(state), /interrupted \(SIGINT\), exit 130/);

  // A grace period shorter than the command: cut off, no result, said so.
  await clean(lab);
  const cutState = stateDir();
  const q = start(["run", "tnode1", "-i", lab.inventory, "--", cmd.replace("sleep 3", "sleep 60")], { RUNBOOK_STATE_DIR: cutState, RUNBOOK_STOP_GRACE_MS: "500" });
  await poll(120, "the command started on tnode1", async () => (await ssh(lab, "tnode1", `test -e ${DIR}/started && echo yes || true`)).stdout === "yes\n");
  q.child.kill("SIGINT");
  assert.is(await q.exited, 130, q.out + q.err);
  assert.match(q.err, /SIGINT: tnode1 \(1\) cut off after the grace period/);
  assert.not.match(q.out, /finished/);
  const cutEnd = endOf(history(cutState)[0]!);
  assert.ok(cutEnd?.interrupted === "SIGINT" && !cutEnd.recap.tnode1, JSON.stringify(cutEnd));
});

s("a long command's output shows while it runs: under -v on the console, and as ordered events in --json", async ({ lab }) => {
  for (const json of [false, true]) {
    await clean(lab);
    const p = start(["play", PB, "-i", lab.inventory, "-e", "case=stream", "-l", "tnode1", json ? "--json" : "-v"], { RUNBOOK_STATE_DIR: stateDir() });
    await p.until(json ? /"type":"task.output"[^\n]*"text":"line 1\\n"/ : /tnode1\s+│ line 1\n/);
    assert.not.match(p.out, /line 2/, "line 1 came while the command still ran");
    await ssh(lab, "tnode1", `touch ${DIR}/go`);
    assert.is(await p.exited, 0, p.out + p.err);
    if (json) {
      const evs = events(p.out).filter((e) => ("task" in e && e.task === "long command") || e.type === "task.output");
      const order = evs.map((e) => (e.type === "task.output" ? `${e.stream}:${e.text}` : e.type));
      assert.equal(order, ["task.start", "stdout:line 1\n", "stdout:line 2\n", "stderr:oops\n", "task.result"]);
    } else assert.match(p.out, /tnode1\s+│ line 2\n/);
  }
});

s("a runner killed outright leaves a run that history calls crashed, not running", async ({ lab }) => {
  await clean(lab);
  const state = stateDir();
  const p = start(["play", PB, "-i", lab.inventory, "-e", "case=interrupt", "--json", "-l", "tnode1"], { RUNBOOK_STATE_DIR: state });
  await p.until(LONG_STEP);
  p.child.kill("SIGKILL");
  await p.exited;
  assert.match(await historyText(state), /crashed/);
});

s("`runbook play ... | head -1` finishes the run: the same host state and a finished run in history", async ({ lab }) => {
  await clean(lab);
  const state = stateDir();
  const r = await new Promise<{ code: number; out: string }>((resolve) => {
    const sh = spawn("bash", ["-c", `node bin/runbook.js play ${PB} -i ${lab.inventory} -e case=pipe | head -1; echo "rc=\${PIPESTATUS[0]}"`], {
      env: { ...process.env, RUNBOOK_STATE_DIR: state },
    });
    let out = "";
    sh.stdout.on("data", (d: Buffer) => (out += d));
    sh.stderr.on("data", (d: Buffer) => (out += d));
    sh.on("close", (code) => resolve({ code: code ?? 1, out }));
  });
  assert.match(r.out, /^runbook: test\/fixtures\/engine\/lab\.ts {2}\[run [\w-]+\]\nrc=0\n$/, r.out);
  for (const h of lab.hosts) assert.is((await ssh(lab, h, `cat ${DIR}/pipe.log`)).stdout, "1\n2\n3\n4\n5\n", h.name);
  const end = endOf(history(state)[0]!);
  assert.is(end?.exitCode, 0);
  assert.match(await historyText(state), / ok$/m);
});

s("a task started without await fails its host by name and playbook line: no crash, and history has the process's code", async ({ lab }) => {
  await clean(lab);
  const state = stateDir();
  const r = await play(lab, "unawaited", [], { stateDir: state });
  assert.is(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stdout, /failed\s+forgotten\s+\(task "forgotten" was started but not awaited \(test\/fixtures\/engine\/lab\.ts:\d+:\d+\): add `await` before it\)/);
  assert.not.match(r.stdout + r.stderr, /\n\s+at |internal error/);
  assert.is(endOf(history(state)[0]!)?.exitCode, 2);
});

s("a failed upload is a failed task line printed once (no stack trace, no second FAILED line)", async ({ lab }) => {
  const r = await play(lab, "upload-fail", ["-l", "tnode1"]);
  assert.is(r.code, 2);
  assert.match(r.stdout, /tnode1\s+failed\s+copy \/proc\/version\/not-a-dir\/file\s+\(write \/proc\/version\/not-a-dir\/file: /);
  assert.not.match(r.stdout, /FAILED/);
  assert.not.match(r.stdout + r.stderr, /\n\s+at /);
});

s("two writes of one file with validate use temp files of their own (both validate their own content)", async ({ lab }) => {
  await clean(lab);
  const r = await play(lab, "validate-twice", ["-l", "tnode1", "--json"]);
  assert.is(r.code, 0, r.stdout);
  assert.match((await ssh(lab, "tnode1", `cat ${DIR}/validated`)).stdout, /^[AB]\n$/);
  assert.is((await ssh(lab, "tnode1", `ls -a ${DIR} | grep -c runbook || true`)).stdout.trim(), "0", "no temp file left");
});

s("base-os renames the host and later tasks of the run see the new name; the second run changes nothing", async ({ lab }) => {
  const state = stateDir();
  const first = await runbook(["play", "test/fixtures/engine/rename.ts", "-i", lab.inventory, "--json"], { stateDir: state });
  assert.is(first.code, 0, first.stdout.slice(-3000));
  assert.is((await ssh(lab, "tnode1", "cat /tmp/rb-engine-name; hostname")).stdout, "renamed1\nrenamed1\n");
  const second = await runbook(["play", "test/fixtures/engine/rename.ts", "-i", lab.inventory, "--json"], { stateDir: state });
  assert.is(recap(second.stdout).tnode1!.changed, 0, second.stdout.slice(-3000));
});

s.run();
