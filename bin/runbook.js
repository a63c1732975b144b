#!/usr/bin/env node
// runbook's entry point. `--version` answers without loading TypeScript so
// start-up stays instant; everything else registers tsx (playbooks, roles and
// runbook itself are TypeScript, loaded with no build step) and hands over to
// the CLI.
import { readFileSync } from "node:fs";

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
  process.stdout.write(`runbook ${pkg.version}\n`);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  const { main } = await import("../runner/cli/main.ts");
  process.exitCode = await main(args);
}
