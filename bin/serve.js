// `runbook serve`'s main thread. The server runs in a worker thread started
// from bin/runbook.js again, with V8 heap limits: without them V8 sizes the
// heap from the machine's RAM (a 4 GB limit and 16 MB semi-spaces on 24 GB)
// and lets page renders' garbage pile up; node's flags that bound it work
// only on node's command line, a worker's resourceLimits work from here
// (docs/PERFORMANCE.md, "runbook serve's RSS"). This thread loads none of
// runbook's modules: it keeps the terminal (questions the server asks at
// start), passes the signals on (a worker gets none) and exits with the
// worker's code. One process: a SIGKILL ends both, and no orphan holds the
// store. The worker side: runner/cli/serve.ts.
import { Worker } from "node:worker_threads";

/** The worker's heap limits in MB, from RUNBOOK_SERVE_MAX_OLD_MB and RUNBOOK_SERVE_MAX_YOUNG_MB; a string when one is bad. */
export function serveHeapLimits(env = process.env) {
  const limits = {};
  for (const [key, name, fallback, min] of [
    ["maxOldGenerationSizeMb", "RUNBOOK_SERVE_MAX_OLD_MB", 512, 64],
    ["maxYoungGenerationSizeMb", "RUNBOOK_SERVE_MAX_YOUNG_MB", 6, 1],
  ]) {
    const v = env[name];
    const n = v === undefined || v === "" ? fallback : Number(v);
    if (!Number.isInteger(n) || n < min) return `${name} must be a whole number of megabytes, ${min} or more, got ${v}`;
    limits[key] = n;
  }
  return limits;
}

/** Runs `runbook serve ARGS` in a worker on `entry` (bin/runbook.js); resolves with its exit code. */
export async function serveInWorker(entry, args) {
  const limits = serveHeapLimits();
  if (typeof limits === "string") {
    process.stderr.write(`runbook: ${limits}\n`);
    return 1;
  }
  const worker = new Worker(entry, { argv: ["serve", ...args], workerData: { runbookServe: { tty: !!process.stdin.isTTY, limits } }, resourceLimits: limits });
  const forward = (signal) => worker.postMessage({ signal });
  process.on("SIGINT", forward);
  process.on("SIGTERM", forward);
  // The worker's questions (the first start's admin password): asked here, on the terminal.
  worker.on("message", async (m) => {
    if (!m?.ask) return;
    try {
      const { password, input } = await import("@inquirer/prompts");
      const answer = await (m.ask.secret ? password({ message: m.ask.message, mask: "*" }) : input({ message: m.ask.message }));
      worker.postMessage({ answer });
    } catch (err) {
      worker.postMessage({ refused: err.message });
    }
  });
  try {
    return await new Promise((resolve) => {
      worker.on("error", (err) => {
        const why = err.code === "ERR_WORKER_OUT_OF_MEMORY" ? `its heap reached the limit (${limits.maxOldGenerationSizeMb} MB; RUNBOOK_SERVE_MAX_OLD_MB raises it)` : (err.stack ?? err.message);
        process.stderr.write(`runbook serve: the server stopped: ${why}\n`);
        resolve(70);
      });
      worker.on("exit", (code) => resolve(code));
    });
  } finally {
    process.off("SIGINT", forward);
    process.off("SIGTERM", forward);
  }
}
