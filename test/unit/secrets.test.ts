/**
 * The six leaks of issue 11, each through the real code path on this
 * machine (local-connection hosts, no lab): the old content of a secret
 * file, a secret prompt's value given with -e / -e @file / the environment,
 * task names cut before redaction, a digest of the content on put's command
 * line, history file modes, and -e errors that print the value back.
 * (The canary run on lab hosts is test/e2e/secrets.test.ts.)
 */
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { LocalConnection } from "../../runner/connection/local.ts";
import { PosixConnection, type RawResult } from "../../runner/connection/posix.ts";
import { HistoryWriter } from "../../runner/history.ts";
import { parseExtraVars } from "../../runner/vars.ts";
import { runbook, stateDir, type CliResult } from "../e2e/harness.ts";

const INV = "test/fixtures/engine/local.yml";
const PB = "test/fixtures/engine/secrets.ts";

/** A value no other text contains. */
const fresh = (what: string) => `${what}-${randomBytes(8).toString("hex")}`;
const tmp = () => mkdtempSync(join(tmpdir(), "rb-secrets-"));

/** A value and the forms a leak of it could take: its sha256, base64 and hex. */
export function forms(v: string): string[] {
  const b = Buffer.from(v);
  return [v, createHash("sha256").update(b).digest("hex"), b.toString("base64"), b.toString("hex")];
}

/** What runs left for a user to read: their output and every file of the history. */
function readable(results: CliResult[], state: string): string {
  const runs = join(state, "runs");
  return [...results.flatMap((r) => [r.stdout, r.stderr]), ...readdirSync(runs).map((f) => readFileSync(join(runs, f), "utf8"))].join("\n");
}

function noLeak(text: string, values: string[], where: string): void {
  for (const v of values) for (const f of forms(v)) assert.not.ok(text.includes(f), `${where}: ${f === v ? v : `a form of ${v} (${f})`}`);
}

test("leak 1: a secret file's diff shows neither its old nor its new content, with --check --diff or in history", async () => {
  const out = tmp();
  const [oldKey, oldPw, oldSrc, token, fromSrc] = [fresh("old-key"), fresh("old-password"), fresh("old-src"), fresh("token"), fresh("from-src")];
  writeFileSync(join(out, "keyring"), `[client.admin]\n\tkey = ${oldKey}\n`);
  writeFileSync(join(out, "app.conf"), `user = app\npassword = ${oldPw}\n`);
  writeFileSync(join(out, "from-src"), `${oldSrc}\n`);
  const src = join(tmp(), "secret.key");
  writeFileSync(src, `${fromSrc}\n`);
  const state = stateDir();
  const env = { RUNBOOK_VAR_token: token };
  const vars = ["-e", `case=old-content out=${out} src=${src}`];
  const check = await runbook(["play", PB, "-i", INV, ...vars, "--check", "--diff", "-vv"], { env, stateDir: state });
  assert.is(check.code, 0, check.stdout + check.stderr);
  noLeak(check.stdout, [oldKey, oldPw, oldSrc, token, fromSrc], "--check --diff output");
  assert.match(check.stdout, /-\(old secret content hidden: 2 lines, \d+ bytes\)\n\s*\+\(new secret content hidden: 1 line, 22 bytes\)/);
  assert.match(check.stdout, /\+\(new secret content hidden: 2 lines, 45 bytes\)/);
  assert.match(check.stdout, /-\(old secret content hidden: 1 line, 25 bytes\)\n\s*\+\(new secret content hidden: 1 line, 26 bytes\)/);
  // Without --diff the history still records each task's diffs.
  const real = await runbook(["play", PB, "-i", INV, ...vars, "--json"], { env, stateDir: state });
  assert.is(real.code, 0, real.stdout + real.stderr);
  assert.is(readFileSync(join(out, "keyring"), "utf8"), token);
  assert.is(readFileSync(join(out, "app.conf"), "utf8"), `user = app\npassword = ${token}\n`);
  assert.is(readFileSync(join(out, "from-src"), "utf8"), `${fromSrc}\n`);
  noLeak(readable([check, real], state), [oldKey, oldPw, oldSrc, token, fromSrc], "output or history");
});

test("leak 2: a secret prompt's value stays secret given with -e, -e @file or RUNBOOK_VAR_", async () => {
  const out = tmp();
  const file = join(tmp(), "vars.yml");
  const state = stateDir();
  const results: CliResult[] = [];
  const tokens: string[] = [];
  for (const how of ["-e", "-e @file", "RUNBOOK_VAR_token"]) {
    const token = fresh("token");
    tokens.push(token);
    writeFileSync(file, `token: ${token}\n`);
    rmSync(join(out, "conf"), { force: true });
    const given = how === "-e" ? ["-e", `token=${token}`] : how === "-e @file" ? ["-e", `@${file}`] : [];
    const env = how === "RUNBOOK_VAR_token" ? { RUNBOOK_VAR_token: token } : {};
    const r = await runbook(["play", PB, "-i", INV, "-e", `case=prompt-by-e out=${out}`, ...given, "--diff", "-vv"], { env, stateDir: state });
    assert.is(r.code, 0, `${how}: ${r.stdout}${r.stderr}`);
    assert.is(readFileSync(join(out, "conf"), "utf8"), `token=${token}\n`, `${how}: the value reaches the file`);
    assert.match(r.stdout, /\+\(new secret content hidden: 1 line/, `${how}: the file's diff shows its size`);
    results.push(r);
  }
  noLeak(readable(results, state), tokens, "output or history");
});

test("leak 3: a task name is redacted whole before it is shortened", async () => {
  const token = fresh("tk");
  const state = stateDir();
  const args = ["play", PB, "-i", INV, "-e", `case=long-name out=${tmp()}`];
  const env = { RUNBOOK_VAR_token: token };
  const text = await runbook([...args, "-vv"], { env, stateDir: state });
  const json = await runbook([...args, "--json"], { env, stateDir: state });
  assert.is(text.code, 0, text.stdout + text.stderr);
  assert.is(json.code, 0, json.stdout + json.stderr);
  const name = json.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l)).find((e) => e.type === "task.result")?.task as string;
  assert.is(name.length, 80, "long names are still shortened");
  assert.ok(name.startsWith(`command : ${"x".repeat(60)} '*`), name);
  // The first characters of the secret (a name cut at 80 holds 8 of them) are nowhere.
  noLeak(readable([text, json], state), [token.slice(0, 8)], "output or history");
});

/** Records the command lines `put` runs; the host side always succeeds. */
class RecordingConnection extends PosixConnection {
  readonly host = "rec";
  readonly loginUser = "root";
  readonly lines: string[] = [];
  protected async exec(line: string): Promise<RawResult> {
    this.lines.push(line);
    return { code: 0, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) };
  }
  async close(): Promise<void> {}
}

test("leak 4: put's command line (the host's ps) carries nothing derived from the content: no digest, no size", async () => {
  const conn = new RecordingConnection();
  const [short, long] = ["hunter2", fresh("a-much-longer-secret")];
  await conn.put("/etc/app/secret", short, { mode: "0600" });
  await conn.put("/etc/app/secret", long, { mode: "0600" });
  assert.is(conn.lines.length, 2);
  assert.is(conn.lines[0], conn.lines[1], "the same command line whatever the content");
  noLeak(conn.lines.join("\n"), [short, long], "put's command line");
  // The size and digest travel on stdin instead, and still guard the write.
  const local = new LocalConnection();
  const dir = tmp();
  await local.put(join(dir, "f"), long, { mode: "0600" });
  assert.is(readFileSync(join(dir, "f"), "utf8"), long);
  assert.is(statSync(join(dir, "f")).mode & 0o777, 0o600);
  assert.is(readdirSync(dir).join(","), "f", "no temp file left");
});

test("leak 5: the history directory is 0700 and its files 0600, also where an older runbook made them 0755", () => {
  const state = tmp();
  mkdirSync(join(state, "runs"));
  chmodSync(join(state, "runs"), 0o755);
  const w = new HistoryWriter("20261204-000000-abcd", state);
  w.write({ type: "run.end", runId: "20261204-000000-abcd", seq: 1, time: new Date().toISOString(), recap: {}, exitCode: 0, ms: 1 });
  assert.is((statSync(join(state, "runs")).mode & 0o777).toString(8), "700");
  assert.is((statSync(join(state, "runs", "20261204-000000-abcd.jsonl")).mode & 0o777).toString(8), "600");
});

test("leak 6: -e errors name the argument and never print its value", async () => {
  const pw = fresh("pw");
  const bad = [pw, `a=1 ${pw}`, `token='${pw}`, `token="${pw}`, `{"token": "${pw}" x}`, `["${pw}"]`];
  for (const arg of bad) {
    let message = "";
    try {
      parseExtraVars(["x=1", arg]);
    } catch (e) {
      message = (e as Error).message;
    }
    assert.match(message, /^-e #2: /, arg);
    noLeak(message, [pw.slice(3)], `message for ${arg}`);
  }
  // A file that holds just the password, given by mistake.
  const file = join(tmp(), "pw.yml");
  writeFileSync(file, `${pw}\n`);
  const r = await runbook(["play", PB, "-i", INV, "-e", `@${file}`]);
  assert.is(r.code, 1);
  assert.is(r.stderr.trim(), `runbook: ${file}:1: an extra vars file must be a map, got a string (not shown: it may be a secret)`);
  const cli = await runbook(["play", PB, "-i", INV, "-e", pw]);
  assert.is(cli.code, 1);
  noLeak(cli.stdout + cli.stderr, [pw.slice(3)], "the CLI's message");
});

test.run();
