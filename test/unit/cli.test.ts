/** The `runbook` command's entry point: version, help, unknown commands. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { run } from "../lab/sh.ts";

const pkg = JSON.parse(readFileSync("package.json", "utf8")) as { version: string };

test("--version prints the package version, fast", async () => {
  const started = Date.now();
  const r = await run(process.execPath, ["bin/runbook.js", "--version"]);
  assert.is(r.stdout, `runbook ${pkg.version}\n`);
  assert.ok(Date.now() - started < 1500, "version must not load the TypeScript toolchain");
});

test("--help lists every command and the exit codes", async () => {
  const r = await run(process.execPath, ["bin/runbook.js", "--help"]);
  for (const cmd of ["play", "run", "facts", "inventory", "history", "show"]) assert.match(r.stdout, new RegExp(`\\n  ${cmd} `));
  assert.match(r.stdout, /2 a host failed, 4 a host unreachable/);
});

test("an unknown command exits 1 and says which", async () => {
  const r = await run(process.execPath, ["bin/runbook.js", "frobnicate"], { allowFail: true });
  assert.is(r.code, 1);
  assert.match(r.stderr, /unknown command "frobnicate"/);
});

test.run();
