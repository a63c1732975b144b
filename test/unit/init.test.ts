/** `runbook init`: the scaffolded lab repo type-checks against this runbook, and a misuse fails tsc. */
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { run } from "../lab/sh.ts";
import { runbook } from "../e2e/harness.ts";

test("init scaffolds a repo, with its own zod-typed role, that type-checks; a typo in a role parameter does not", async () => {
  const dir = join(mkdtempSync(join(tmpdir(), "rb-init-")), "mylab");
  const r = await runbook(["init", dir, "--no-install"]);
  assert.is(r.code, 0, r.stderr);
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  assert.match(pkg.dependencies.runbook, /^file:/);
  // What `npm install` would link, without the network: runbook itself and the type checker.
  mkdirSync(join(dir, "node_modules/@types"), { recursive: true });
  symlinkSync(resolve("."), join(dir, "node_modules/runbook"));
  symlinkSync(resolve("node_modules/typescript"), join(dir, "node_modules/typescript"));
  symlinkSync(resolve("node_modules/@types/node"), join(dir, "node_modules/@types/node"));
  const tsc = [resolve("node_modules/typescript/bin/tsc"), "--noEmit", "-p", dir];
  const ok = await run(process.execPath, tsc, { allowFail: true });
  assert.is(ok.code, 0, ok.stdout + ok.stderr);

  const site = join(dir, "playbooks/site.ts");
  const good = readFileSync(site, "utf8");
  writeFileSync(site, good.replace("ntp(),", 'ntp({ severs: ["x"] }),'));
  const bad = await run(process.execPath, tsc, { allowFail: true });
  assert.is.not(bad.code, 0);
  assert.match(bad.stdout, /severs/);
  // The example role's zod params type its callers too.
  writeFileSync(site, good.replace(/motd\(\{ text: [^}]*\}\)/, 'motd({ mode: "0777" })'));
  const badMode = await run(process.execPath, tsc, { allowFail: true });
  assert.is.not(badMode.code, 0);
  assert.match(badMode.stdout, /"0777"/);
});

test("init refuses a non-empty directory", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rb-init-"));
  writeFileSync(join(dir, "x"), "");
  const r = await runbook(["init", dir, "--no-install"]);
  assert.is(r.code, 1);
  assert.match(r.stderr, /exists and is not empty/);
});

test.run();
