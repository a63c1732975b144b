/**
 * What a new user reaches for first (issue 15), through the real CLI on
 * local-connection hosts: --syntax-check, --list-hosts, --list-tasks,
 * Ansible's magic variables in templates, finding runs (show last, a run id
 * prefix, --since 2h), ad-hoc --timeout, connection retries as they happen,
 * "did you mean", and the OpenSSH config a host's target is built from.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { sshTarget } from "../../runner/connection/index.ts";
import { parseSince } from "../../runner/cli/history.ts";
import { loadInventory } from "../../runner/inventory/index.ts";
import { closest } from "../../runner/suggest.ts";
import { spawnSync } from "node:child_process";
import { events, runbook, stateDir, underPty } from "../e2e/harness.ts";

const PB = "test/fixtures/playbooks/listing.ts";

/** Five local "hosts" with a var each, in a fresh directory that also receives what the play writes. */
function fixture(): { inv: string; out: string } {
  const out = mkdtempSync(join(tmpdir(), "rb-newuser-"));
  const inv = join(out, "hosts.yml");
  writeFileSync(
    inv,
    [
      "all:",
      "  vars:",
      "    ansible_connection: local",
      `    out: ${out}`,
      "  children:",
      "    web:",
      "      hosts:",
      "        w1: { color: red }",
      "        w2: { color: green }",
      "    db:",
      "      hosts:",
      "        d1: { color: blue }",
      "        d2: { color: black }",
      "",
    ].join("\n"),
  );
  return { inv, out };
}

const written = (out: string) => readdirSync(out).filter((f) => f !== "hosts.yml").sort();

test("--syntax-check and --list-hosts load and match, and run nothing", async () => {
  const { inv, out } = fixture();
  const syntax = await runbook(["play", PB, "-i", inv, "--syntax-check"]);
  assert.is(syntax.code, 0, syntax.stderr);
  assert.is(syntax.stdout, `playbook: ${PB}: syntax OK (2 plays, 0 roles; types are checked by tsc --noEmit)\n`);
  const hosts = await runbook(["play", PB, "-i", inv, "--list-hosts", "-l", "w1,d2"]);
  assert.is(hosts.code, 0, hosts.stderr);
  assert.match(hosts.stdout, /play #1 \(web\): magic vars\n    hosts \(1\):\n      w1\n/);
  assert.match(hosts.stdout, /play #2 \(all\): branches\n    hosts \(2\):\n      w1\n      d2\n/);
  assert.equal(written(out), []);
  const broken = await runbook(["play", PB, "-i", inv, "--syntax-check", "-l", "nosuch"]);
  assert.is(broken.code, 1);
});

test("--list-tasks runs the plays' code in check mode over a stand-in: branches per host, nothing touched", async () => {
  const { inv, out } = fixture();
  const state = stateDir();
  const r = await runbook(["play", PB, "-i", inv, "--list-tasks"], { stateDir: state });
  assert.is(r.code, 0, r.stderr);
  // Hosts with the same tasks share a block; the db hosts take their branch; the read printed nothing here.
  assert.match(r.stdout, /play #1 \(web\): magic vars\n    w1 \(1\):\n      template \S+\/w1\.txt\n    w2 \(1\):\n      template \S+\/w2\.txt\n/);
  assert.match(r.stdout, /play #2 \(all\): branches\n    w\[1-2\] \(2\):\n      touch a marker\n      read the host name\n    d\[1-2\] \(2\):\n      touch a marker\n      only on db hosts\n      read the host name\n/);
  assert.not.match(r.stdout, /only when the read printed something/);
  assert.equal(written(out), [], "no host was touched");
  assert.not.ok(existsSync(join(state, "runs")), "a listing is not a recorded run");
});

test("templates see inventory_hostname, groups and hostvars", async () => {
  const { inv, out } = fixture();
  const r = await runbook(["play", PB, "-i", inv, "-l", "web"]);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.is(readFileSync(join(out, "w1.txt"), "utf8"), "me=w1\nweb=w1,w2\nall=4\npeer_color=green\nd1:blue d2:black ");
  assert.match(readFileSync(join(out, "w2.txt"), "utf8"), /^me=w2\n/);
});

test("show last, a unique prefix of a run id, and show --host limits the recap", async () => {
  const { inv } = fixture();
  const state = stateDir();
  const first = await runbook(["play", PB, "-i", inv, "-l", "w1"], { stateDir: state });
  assert.is(first.code, 0, first.stderr);
  const second = await runbook(["play", PB, "-i", inv, "-l", "d1,d2", "--check"], { stateDir: state });
  assert.is(second.code, 0, second.stderr);
  const ids = readdirSync(join(state, "runs")).map((f) => f.replace(/\.jsonl$/, "")).sort();
  const lastId = /\[run (\S+)\]/.exec(second.stdout)![1]!;
  const firstId = ids.find((id) => id !== lastId)!;

  const last = await runbook(["show", "last"], { stateDir: state });
  assert.is(last.code, 0, last.stderr);
  assert.match(last.stdout, new RegExp(`\\[run ${lastId}\\]`));
  const lastOnW1 = await runbook(["show", "last", "--host", "w1"], { stateDir: state });
  assert.match(lastOnW1.stdout, new RegExp(`\\[run ${firstId}\\]`), "with --host: the last run that touched the host");

  // The random suffix makes every id unique from its first letter after the time.
  const prefix = await runbook(["show", firstId.slice(0, -2)], { stateDir: state });
  assert.is(prefix.code, 0, prefix.stderr);
  assert.match(prefix.stdout, new RegExp(`\\[run ${firstId}\\]`));
  const ambiguous = await runbook(["show", "2"], { stateDir: state });
  assert.is(ambiguous.code, 1);
  assert.match(ambiguous.stderr, /2 is the start of 2 run ids \(.+\); give more of it/);

  const d1 = await runbook(["show", lastId, "--host", "d1"], { stateDir: state });
  const recap = d1.stdout.slice(d1.stdout.indexOf("RECAP"));
  assert.match(recap, /^d1 /m);
  assert.not.match(recap, /^d2 /m, "the recap is limited to the host too");
  assert.match(d1.stdout, /PLAY branches\s+\[d1\]/);
});

test("history --since takes today, yesterday and ages such as 2h", async () => {
  const now = new Date(2026, 11, 4, 18, 30);
  assert.equal(parseSince("2h", now), new Date(2026, 11, 4, 16, 30));
  assert.equal(parseSince("30m", now), new Date(2026, 11, 4, 18, 0));
  assert.equal(parseSince("yesterday", now), new Date(2026, 11, 3));
  assert.equal(parseSince("today", now), new Date(2026, 11, 4));
  assert.equal(parseSince("2026-11-17T10:00:00Z", now), new Date("2026-11-17T10:00:00Z"));
  const { inv } = fixture();
  const state = stateDir();
  await runbook(["play", PB, "-i", inv, "-l", "w1"], { stateDir: state });
  const recent = await runbook(["history", "--since", "2h"], { stateDir: state });
  assert.is(recent.stdout.trim().split("\n").length, 1, recent.stdout + recent.stderr);
  const none = await runbook(["history", "--since", "0s"], { stateDir: state });
  assert.match(none.stdout, /no recorded runs since 0s/);
});

test("run --timeout stops the command on each host and says so", async () => {
  const { inv } = fixture();
  const r = await runbook(["run", "w1", "-i", inv, "--timeout", "0.5", "--", "sleep 5; echo late"]);
  assert.is(r.code, 2, r.stderr);
  assert.match(r.stdout, /^w1 \(1\)  exit 124 \(timed out after 0\.5 s\)$/m);
  assert.not.match(r.stdout, /late/);
  const bad = await runbook(["run", "w1", "-i", inv, "--timeout", "soon", "--", "true"]);
  assert.is(bad.code, 1);
  assert.match(bad.stderr, /--timeout must be a positive number of seconds, got soon/);
});

test("an unreachable host's connection retries show while they happen, before it is reported", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rb-refused-"));
  // Port 1 on this machine: refused at once, which is retried.
  writeFileSync(join(dir, "hosts.yml"), "all:\n  hosts:\n    gone: { ansible_host: 127.0.0.1, ansible_port: 1 }\n");
  const r = await runbook(["play", "test/fixtures/playbooks/tiny.ts", "-i", join(dir, "hosts.yml"), "--json", "-F", "none"]);
  assert.is(r.code, 4, r.stderr);
  const ev = events(r.stdout);
  const retries = ev.filter((e) => e.type === "message" && e.host === "gone" && /trying again/.test(e.text));
  assert.equal(
    retries.map((e) => (e as { text: string }).text.replace(/refused.*?;/, "refused;")),
    ["connection refused; trying again in 0.25 s (attempt 2 of 3)", "connection refused; trying again in 0.5 s (attempt 3 of 3)"],
  );
  assert.ok(ev.indexOf(retries[1]!) < ev.findIndex((e) => e.type === "host.unreachable"), "retries come before the verdict");
  const adhoc = await runbook(["run", "gone", "-i", join(dir, "hosts.yml"), "-F", "none", "--", "true"]);
  assert.is(adhoc.code, 4);
  assert.match(adhoc.stderr, /^gone: connection refused.*; trying again in 0\.25 s \(attempt 2 of 3\)$/m);
});

test('"did you mean" for a --limit typo', async () => {
  const { inv } = fixture();
  const r = await runbook(["play", PB, "-i", inv, "-l", "wbe"]);
  assert.is(r.code, 1);
  assert.match(r.stderr, /pattern "wbe" matches no host in the inventory \(did you mean "web"\?\)/);
  assert.is(closest("defualt", ["join", "default"]), "default");
  assert.is(closest("tnode9", ["tnode1"]), undefined, "another node number is not a typo");
});

test("-F FILE, then the inventory's sshConfig, then ~/.ssh/config give a host's target; a missing -F file stops the run", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rb-sshcfg-"));
  const cfg = (name: string, addr: string) => {
    const file = join(dir, name);
    writeFileSync(file, `Host tnode1\n  HostName ${addr}\n  User admin\n  IdentityFile ${dir}/key\n  UserKnownHostsFile ${dir}/known_${name}\n`);
    return file;
  };
  const flag = cfg("flag", "10.0.0.1");
  const inv = cfg("inv", "10.0.0.2");
  const conn = { address: "tnode1", sshConfig: inv };
  const fromFlag = sshTarget("tnode1", conn, { acceptNewHostKeys: false, vars: {}, sshConfig: flag });
  assert.is(fromFlag.address, "10.0.0.1");
  assert.equal(fromFlag.knownHostsFiles, [`${dir}/known_flag`]);
  const fromInv = sshTarget("tnode1", conn, { acceptNewHostKeys: false, vars: {} });
  assert.is(fromInv.address, "10.0.0.2");
  assert.is(fromInv.user, "admin");
  assert.equal(fromInv.keyFiles, [`${dir}/key`]);
  const none = sshTarget("tnode1", conn, { acceptNewHostKeys: false, vars: {}, sshConfig: "none" });
  assert.is(none.address, "tnode1");

  // The inventory setting is relative to the inventory file; a missing -F file is an input error.
  writeFileSync(join(dir, "hosts.ini"), "[lab]\ntnode1 sshConfig=inv\n");
  assert.is((await loadInventory([join(dir, "hosts.ini")])).hosts.get("tnode1")!.conn.sshConfig, inv);
  const shown = await runbook(["run", "tnode1", "-i", join(dir, "hosts.ini"), "-F", join(dir, "nope"), "--", "true"]);
  assert.is(shown.code, 1);
  assert.match(shown.stderr, /-F \S+\/nope: no such ssh config file/);
});

test("the README's way onto PATH: npm link leaves a runbook command that works from any directory", async () => {
  const prefix = mkdtempSync(join(tmpdir(), "rb-prefix-"));
  const link = spawnSync("npm", ["link", "--no-audit", "--no-fund"], { env: { ...process.env, NPM_CONFIG_PREFIX: prefix }, encoding: "utf8" });
  assert.is(link.status, 0, link.stderr);
  const elsewhere = mkdtempSync(join(tmpdir(), "rb-cwd-"));
  const env = { ...process.env, PATH: `${prefix}/bin:${process.env.PATH}` };
  const version = spawnSync("runbook", ["--version"], { cwd: elsewhere, env, encoding: "utf8" });
  assert.is(version.status, 0, version.stderr);
  assert.match(version.stdout, /^runbook \d+\.\d+\.\d+/);
  const { inv } = fixture();
  const syntax = spawnSync("runbook", ["play", join(process.cwd(), PB), "-i", inv, "--syntax-check"], { cwd: elsewhere, env, encoding: "utf8" });
  assert.is(syntax.status, 0, syntax.stderr);
  assert.match(syntax.stdout, /syntax OK/);
});

test("no spinner glyph flashes before a secret prompt, under npx either (npm's own spinner is off in .npmrc)", async () => {
  const { inv } = fixture();
  for (const bin of ["node bin/runbook.js", "npx runbook"]) {
    const r = await underPty(["play", "test/fixtures/playbooks/prompt.ts", "-i", inv, "-l", "w1"], [[/vault password/, "pw-15\r"]], { RUNBOOK_STATE_DIR: stateDir() }, bin);
    assert.is(r.code, 0, r.out);
    const before = r.out.slice(0, r.out.indexOf("vault password"));
    // ora's and npm's spinners draw braille dots (U+2800-U+28FF); inquirer's prompt starts with "?".
    assert.not.match(before, /[\u2800-\u28ff]/, `${bin}: ${JSON.stringify(before)}`);
  }
});

test.run();
