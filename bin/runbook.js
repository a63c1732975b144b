#!/usr/bin/env node
// runbook's entry point. `--version` answers without loading anything else.
// Every other command runs runbook's prebuilt JavaScript (bin/compile.js:
// compiled from the TypeScript sources on first use and whenever one of them
// changed; playbooks are bundled the same way), so start-up does not pay for
// TypeScript loader hooks. Where the package directory is read-only, or with
// RUNBOOK_TSX=1, the sources are loaded through tsx instead.
import { readFileSync } from "node:fs";
import { isMainThread } from "node:worker_threads";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
  process.stdout.write(`runbook ${pkg.version}\n`);
} else if (args[0] === "serve" && isMainThread && process.env.RUNBOOK_SERVE_WORKER !== "0" && !args.includes("--help") && !args.includes("-h")) {
  // The web UI's server runs in a worker thread with heap limits (bin/serve.js).
  const { serveInWorker } = await import("./serve.js");
  process.exitCode = await serveInWorker(fileURLToPath(import.meta.url), args.slice(1));
} else {
  process.exitCode = await start();
}

async function start() {
  if (process.env.RUNBOOK_TSX !== "1") {
    const { ensureBuild, importBundled, sourceStack } = await import("./compile.js");
    let build;
    try {
      build = await ensureBuild();
    } catch (err) {
      process.stderr.write(`runbook: cannot compile runbook's own sources: ${err.message}\n`);
      return 70;
    }
    if (build) {
      globalThis[Symbol.for("runbook.importModule")] = (file) => importBundled(build, file);
      globalThis[Symbol.for("runbook.sourceStack")] = sourceStack;
      const { main } = await import(pathToFileURL(join(build.dir, "cli.js")).href);
      return main(args);
    }
  }
  const { register } = await import("tsx/esm/api");
  register();
  const { main } = await import("../cli.ts");
  return main(args);
}
