/**
 * The canary (issue 11): one playbook carries a unique canary through every
 * way a secret enters a run (test/fixtures/playbooks/canary.ts), on lab
 * hosts; then every place a user or another account could read it is
 * searched for the canary and its sha256, base64 and hex forms: stdout with
 * -vv --diff (on a terminal, the prompt answered there) and with --json,
 * the whole history directory, and on the hosts a process sampler running
 * during the play, every file outside the intended destinations and the
 * shell histories. Zero hits.
 */
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as assert from "uvu/assert";
import type { Lab, LabHost } from "../lab/lab.ts";
import { labSuite, ssh } from "../lab/fixture.ts";
import { run } from "../lab/sh.ts";
import { results, runbook, stateDir, underPty } from "./harness.ts";

const PB = "test/fixtures/playbooks/canary.ts";
const CANARY = `rbcanary${randomBytes(6).toString("hex")}`;

/** One value per way in, each holding the canary. */
const V = {
  prompt: `${CANARY}-prompt`,
  e: `${CANARY}-e`,
  // -e @file: a crypt(3)-shaped hash for the user task.
  file: `$6$rbsalt$${CANARY}-file`,
  env: `${CANARY}-env`,
  inventory: `${CANARY}-inventory`,
  runtime: `${CANARY}-runtime`,
  oldKeyring: `${CANARY}-old-keyring`,
  oldConf: `${CANARY}-old-conf`,
};

/** What must not be found: the canary and, for every value, itself and its sha256, base64 and hex forms. */
const NEEDLES = [CANARY, ...Object.values(V).flatMap((v) => {
  const b = Buffer.from(v);
  return [v, createHash("sha256").update(b).digest("hex"), b.toString("base64"), b.toString("hex")];
})];
/** The canary's own forms too (a leak of a substring). */
NEEDLES.push(...[Buffer.from(CANARY).toString("base64"), Buffer.from(CANARY).toString("hex")]);

function hits(text: string): string[] {
  return NEEDLES.filter((n) => text.includes(n));
}

function assertClean(text: string, where: string): void {
  const found = hits(text);
  assert.equal(found, [], `${where} holds ${found.join(", ")}`);
}

/**
 * Reads every process's command line on a host, over and over, for as long
 * as the play runs (`ps -eo args` without its truncation), and keeps what
 * matched. `seen` also answers whether a given command was caught, which
 * proves the sampler watched the play.
 */
function processSampler(lab: Lab, host: LabHost, watchFor: string) {
  const mark = `--sample-${randomBytes(4).toString("hex")}--`;
  const child = spawn("ssh", ["-F", lab.sshConfig, "-o", "BatchMode=yes", host.name, `while :; do cat /proc/[0-9]*/cmdline 2>/dev/null; echo ${mark}; done`], { stdio: ["ignore", "pipe", "ignore"] });
  const found = new Set<string>();
  let samples = 0;
  let saw = false;
  let tail = "";
  child.stdout.on("data", (d: Buffer) => {
    const text = tail + d.toString("latin1").replace(/\0/g, " ");
    for (const n of hits(text)) found.add(n);
    if (text.includes(watchFor)) saw = true;
    samples += text.split(mark).length - 1 - (tail.split(mark).length - 1);
    tail = text.slice(-200);
  });
  return {
    stop: async () => {
      child.kill();
      await new Promise((r) => child.once("close", r));
      return { found: [...found], samples, saw };
    },
  };
}

/** Files under `dir` (recursively) that hold a needle. */
async function filesWithNeedles(dir: string): Promise<string[]> {
  const list = join(mkdtempSync(join(tmpdir(), "rb-needles-")), "needles");
  writeFileSync(list, NEEDLES.join("\n") + "\n");
  const r = await run("grep", ["-rlaF", "-f", list, dir], { allowFail: true });
  assert.ok(r.code === 0 || r.code === 1, `grep: ${r.stderr}`);
  return r.stdout.split("\n").filter(Boolean);
}

const s = await labSuite("secrets: the canary", { hosts: 2 });

s("a canary through every entry point is found nowhere but where it was sent", async ({ lab }) => {
  const [t1, t2] = lab.hosts as [LabHost, LabHost];
  const dir = mkdtempSync(join(tmpdir(), "rb-canary-"));
  const varsFile = join(dir, "vars.yml");
  writeFileSync(varsFile, `fromFile: !secret '${V.file}'\n`);
  const inventory = join(dir, "secrets.yml");
  writeFileSync(inventory, `all:\n  hosts:\n${lab.hosts.map((h) => `    ${h.name}:\n      canaryInventory: !secret '${V.inventory}'\n`).join("")}`);
  for (const h of [t1, t2]) {
    // The value the role reads at run time, and old secret files the diffs must not show.
    await ssh(lab, h, `umask 077; printf '%s\\n' '${V.runtime}' > /root/runtime-token; mkdir -p /srv/canary; printf 'prompt = %s\\n' '${V.oldConf}' > /srv/canary/app.conf; printf '[client.admin]\\n\\tkey = %s\\n' '${V.oldKeyring}' > /srv/canary/keyring`);
  }
  const state = stateDir();
  const args = (host: string) => ["play", PB, "-i", lab.inventory, "-i", inventory, "-l", host, "-e", `fromE=${V.e}`, "-e", `@${varsFile}`];
  const env = { RUNBOOK_VAR_fromEnv: V.env, RUNBOOK_STATE_DIR: state };

  const samplers = [processSampler(lab, t1, "read -r v; sleep 1"), processSampler(lab, t2, "read -r v; sleep 1")];
  // 1. check mode with diffs (non-interactive: the prompt's value from the environment)
  const check = await runbook([...args(t1.name), "--check", "--diff", "-vv"], { env: { ...env, RUNBOOK_VAR_fromPrompt: V.prompt }, stateDir: state });
  // 2. the prompt answered on a terminal, -vv --diff
  const pty = await underPty([...args(t1.name), "-vv", "--diff"], [[/canary prompt/, `${V.prompt}\r`]], env);
  // 3. --json (with --diff)
  const json = await runbook([...args(t2.name), "--json", "--diff"], { env: { ...env, RUNBOOK_VAR_fromPrompt: V.prompt }, stateDir: state });
  const sampled = await Promise.all(samplers.map((x) => x.stop()));

  assert.is(check.code, 0, check.stdout + check.stderr);
  assert.is(pty.code, 0, pty.out);
  assert.is(json.code, 0, json.stdout + json.stderr);
  // Each way in was taken and reached its destination.
  for (const h of [t1, t2]) {
    assert.is((await ssh(lab, h, "cat /srv/canary/app.conf")).stdout, `prompt = ${V.prompt}\ninventory = ${V.inventory}\nruntime = ${V.runtime}\n`);
    assert.is((await ssh(lab, h, "cat /srv/canary/keyring")).stdout, V.e);
    assert.is((await ssh(lab, h, "getent shadow canary | cut -d: -f2")).stdout, `${V.file}\n`);
  }
  assert.match(pty.out, /canary prompt/);
  assert.match(pty.out, /\(old secret content hidden: 2 lines, \d+ bytes\)/, "the keyring's diff shows sizes");
  assert.match(pty.out, /cannot use \*{8}/, "the failing command's stderr, masked");
  assert.match(check.stdout, /would change\s+canary › template \/srv\/canary\/app.conf/, check.stdout);
  const failed = results(json.stdout).find((e) => e.task === "a command that fails");
  assert.is(failed?.status, "failed");
  assert.is(failed?.stderr, "cannot use ********\n");

  // Nothing readable holds the canary in any form.
  assertClean(check.stdout + check.stderr, "stdout of --check --diff -vv");
  assertClean(pty.out, "the terminal of -vv --diff");
  assertClean(json.stdout + json.stderr, "stdout of --json");
  for (const f of readdirSync(join(state, "runs"))) assertClean(readFileSync(join(state, "runs", f), "utf8"), `history ${f}`);
  assert.equal(await filesWithNeedles(state), [], "the state directory");
  assert.is((statSync(join(state, "runs")).mode & 0o777).toString(8), "700");
  for (const f of readdirSync(join(state, "runs"))) assert.is((statSync(join(state, "runs", f)).mode & 0o777).toString(8), "600", f);

  for (const [i, h] of [t1, t2].entries()) {
    const { found, samples, saw } = sampled[i]!;
    assert.ok(samples > 20 && saw, `${h.name}: the sampler watched the play (${samples} samples)`);
    assert.equal(found, [], `${h.name}: a command line`);
    // Files outside the intended destinations (the overlay's upper dir holds every file the host wrote).
    const intended = ["/srv/canary/app.conf", "/srv/canary/keyring", "/etc/shadow", "/etc/shadow-", "/root/runtime-token"];
    const stray = (await filesWithNeedles(h.upper)).map((f) => f.slice(h.upper.length)).filter((f) => !intended.includes(f));
    assert.equal(stray, [], `${h.name}: files outside the destinations`);
    // tmpfs mounts are not in the upper dir: search them on the host.
    const tmpfs = await ssh(lab, h, "grep -rlaF -f /dev/stdin /run /dev/shm /tmp 2>/dev/null; true", { input: NEEDLES.join("\n") + "\n" });
    assert.is(tmpfs.stdout, "", `${h.name}: files in /run, /dev/shm, /tmp`);
    const histories = await ssh(lab, h, "cat /root/.bash_history /root/.sh_history /home/*/.bash_history /home/*/.ash_history 2>/dev/null; true");
    assertClean(histories.stdout, `${h.name}: shell histories`);
  }
});

s.run();
