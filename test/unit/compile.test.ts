/**
 * The prebuilt JavaScript (bin/compile.js), through the real `runbook`
 * command: a source edit is picked up with no build step, playbooks outside
 * the project load, errors point at TypeScript sources, and a user who
 * cannot write the build directory still runs playbooks.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { run } from "../lab/sh.ts";

const ROOT = resolve(".");
const BIN = join(ROOT, "bin/runbook.js");
const work = mkdtempSync(join(tmpdir(), "rb-compile-"));
chmodSync(work, 0o755);
const inventory = join(work, "local.yml");
writeFileSync(inventory, "all:\n  hosts:\n    here:\n      ansible_connection: local\n");

const runbook = (args: string[], env: string[] = []) =>
  run("env", [`RUNBOOK_STATE_DIR=${join(work, "state")}`, ...env, process.execPath, BIN, ...args], { allowFail: true });

test("a source edit is picked up by the next run, with no build step", async () => {
  // A copy of the package, so the real checkout's build is not touched.
  const pkg = join(work, "pkg");
  for (const p of ["index.ts", "cli.ts", "bin", "runner", "tasks", "roles", "package.json"]) cpSync(join(ROOT, p), join(pkg, p), { recursive: true });
  symlinkSync(join(ROOT, "node_modules"), join(pkg, "node_modules"));
  const help = () => run(process.execPath, [join(pkg, "bin/runbook.js"), "--help"]);
  assert.match((await help()).stdout, /apply a playbook to its hosts/);
  const first = JSON.parse(readFileSync(join(pkg, "dist/current.json"), "utf8")).id as string;

  const main = join(pkg, "runner/cli/main.ts");
  writeFileSync(main, readFileSync(main, "utf8").replace("apply a playbook to its hosts", "apply a playbook (edited)"));
  assert.match((await help()).stdout, /apply a playbook \(edited\)/);
  const second = JSON.parse(readFileSync(join(pkg, "dist/current.json"), "utf8")).id as string;
  assert.is.not(second, first, "a new build");
  assert.ok(existsSync(join(pkg, "dist", first)), "the old build stays for runs still using it");
  // Unchanged sources: the build is reused.
  await help();
  assert.is(JSON.parse(readFileSync(join(pkg, "dist/current.json"), "utf8")).id, second);
});

test("a playbook outside the project: syntax errors name file:line:column; a failed task's stack names the .ts line", async () => {
  const dir = join(work, "lab");
  cpSync(inventory, join(dir, "local.yml"));
  const api = JSON.stringify(join(ROOT, "runner/index.ts"));
  writeFileSync(join(dir, "bad.ts"), `import { play, playbook } from ${api};\nexport default playbook("x", [play({ name: "y", hosts: "all", async tasks(h) { await h.command("true" }) })]);\n`);
  const bad = await runbook(["play", join(dir, "bad.ts"), "-i", inventory]);
  assert.is(bad.code, 1);
  assert.match(bad.stderr, new RegExp(`cannot load the playbook: ${join(dir, "bad.ts")}:2:\\d+: Expected "\\)" but found "}"`));

  writeFileSync(
    join(dir, "throws.ts"),
    `import { play, playbook } from ${api};\nexport default playbook("x", [play({ name: "y", hosts: "all", async tasks(h) {\n  await h.command("true");\n  (undefined as unknown as { f(): void }).f();\n} })]);\n`,
  );
  const r = await runbook(["play", join(dir, "throws.ts"), "-i", inventory, "-v"]);
  assert.is(r.code, 2, r.stderr);
  assert.match(r.stdout, new RegExp(`TypeError: Cannot read properties of undefined \\(reading 'f'\\)\\n\\s+at .*\\(${join(dir, "throws.ts")}:4:\\d+\\)`));
  assert.match(r.stdout, /at async runHostPlay \(.*\/runner\/scheduler\.ts:\d+:\d+\)/);
});

test("a playbook importing the package's index and the engine's modules gets the instances the runner uses", async () => {
  const dir = join(work, "same");
  cpSync(inventory, join(dir, "local.yml"));
  const from = (rel: string) => JSON.stringify(join(ROOT, rel));
  writeFileSync(
    join(dir, "same.ts"),
    `import { play, playbook, z } from ${from("index.ts")};\nimport * as api from ${from("runner/index.ts")};\nimport { ExitError } from ${from("runner/errors.ts")};\n` +
      `const same = api.play === play && api.z === z && typeof ExitError === "function";\n` +
      `export default playbook("x", [play({ name: "y", hosts: "all", async tasks(h) { await h.command(\`echo same=\${same}\`, { readOnly: true }); } })]);\n`,
  );
  const r = await runbook(["play", join(dir, "same.ts"), "-i", join(dir, "local.yml"), "-v"]);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /command echo same=true/);
});

// As `nobody`: the checkout (owned by root) is readable, its dist/ is not writable.
const nobody = process.getuid?.() === 0 && existsSync("/usr/bin/setpriv") && (await run("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "test", "-r", BIN], { allowFail: true })).code === 0;

(nobody ? test : test.skip)("a user who cannot write the build directory runs playbooks (bundles in a private cache)", async () => {
  await run(process.execPath, [BIN, "--help"]); // a current build, made by the owner
  const state = join(work, "nobody-state");
  cpSync(inventory, join(state, "local.yml"));
  writeFileSync(join(state, "ok.ts"), `import { play, playbook } from ${JSON.stringify(join(ROOT, "runner/index.ts"))};\nexport default playbook("x", [play({ name: "y", hosts: "all", async tasks(h) { await h.command("id -u", { readOnly: true }); } })]);\n`);
  chmodSync(state, 0o777);
  const r = await run(
    "setpriv",
    ["--reuid=65534", "--regid=65534", "--clear-groups", "env", "HOME=/tmp", `RUNBOOK_STATE_DIR=${state}`, process.execPath, BIN, "play", join(state, "ok.ts"), "-i", join(state, "local.yml"), "-v"],
    { allowFail: true },
  );
  assert.not.match(r.stderr, /cannot load the playbook/, r.stderr);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /here\s+ok\s+command id -u/);
  const cache = join(tmpdir(), "runbook-cache-65534");
  assert.ok(readdirSync(cache).length > 0, "bundled into the user's own cache");
});

test.after(() => rmSync(work, { recursive: true, force: true }));
test.run();
