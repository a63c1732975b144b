/**
 * `runbook serve`: the web UI (Rundeck's part) over this repository's
 * playbooks, inventory and run history. The first start asks for the admin
 * password on the terminal (or takes it from RUNBOOK_ADMIN_PASSWORD or
 * --admin-password-file); later starts use the users in the store.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createServer as createHttpsServer } from "node:https";
import { parse } from "yaml";
import { isIP } from "node:net";
import { parseArgs } from "node:util";
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { EXIT, ExitError, InputError } from "../errors.ts";
import { inquirerAsk } from "../prompts.ts";
import { stateDir } from "../state.ts";
import type { Command } from "./main.ts";
import { VAULT_OPTIONS, vaultUsage, checkedVaultKeys } from "./vault.ts";

const USAGE = `runbook serve [options]

  -i, --inventory PATH          inventory file or directory (repeatable; default: inventory/)
      --playbooks DIR           where the jobs are: every playbook under DIR (default: playbooks)
  -F, --ssh-config FILE         OpenSSH client config for runs started here (as ssh -F)
      --listen ADDRESS          address to listen on (default 127.0.0.1)
  -p, --port N                  port (default 4440; 0 picks a free one)
      --tls-cert FILE           serve HTTPS with this certificate (PEM, chain included)
      --tls-key FILE            and this private key (PEM); the session cookie is then Secure
      --insecure-listen         listen on an address other than loopback without TLS
                                (behind a TLS proxy; add --secure-cookie). Without it or
                                --tls-cert/--tls-key such an address is refused
      --secure-cookie           mark the session cookie Secure (served through an HTTPS proxy)
      --admin-password-file F   the admin password on a first start (first line of F);
                                or RUNBOOK_ADMIN_PASSWORD; else asked on the terminal
      --admin-user NAME         the first admin's name (default admin)
${vaultUsage(32)}
                                (checked at start: every vault value of the inventory must open;
                                a prompt is asked before the server listens)
      --secrets DIR             the named secret stores of schedules: DIR/NAME.yml, mode 0600
                                (default: <state dir>/secrets)
      --keep-days N             retention: delete runs (index rows and log files) older than N days
      --keep-runs N             retention: keep at most the newest N runs of each job
                                (ad-hoc commands count as one job); a running run is never deleted
      --config FILE             options as YAML, keys named as the long options (keep-days: 30);
                                options given on the command line win
                                (default: <state dir>/serve.yml when it exists)`;

export const command: Command = {
  summary: "web UI: jobs, nodes, live logs and history in a browser",
  usage: USAGE,
  run: (args) => serve(args),
};

/**
 * What the server's worker was started with (workerData; bin/serve.js
 * starts it), and how it talks to the main thread.
 */
interface WorkerData {
  runbookServe: { tty: boolean; limits: { maxOldGenerationSizeMb: number; maxYoungGenerationSizeMb: number } };
}
type ToWorker = { signal: NodeJS.Signals } | { answer: string } | { refused: string };
type FromWorker = { ask: { message: string; secret: boolean } };

const inWorker = !isMainThread && !!(workerData as WorkerData | undefined)?.runbookServe;

/** The heap limits this server runs under, or undefined when it runs on the main thread. */
export function serveWorkerLimits(): WorkerData["runbookServe"]["limits"] | undefined {
  return inWorker ? (workerData as WorkerData).runbookServe.limits : undefined;
}

/**
 * The terminal of `runbook serve`: in the worker, questions go to the main
 * thread, which owns stdin (a worker's stdin is not the terminal).
 */
const terminal = {
  tty: (): boolean => (inWorker ? (workerData as WorkerData).runbookServe.tty : !!process.stdin.isTTY),
  ask: (q: { message: string; secret: boolean }): Promise<string> => {
    if (!inWorker) return inquirerAsk(q);
    q = { message: q.message, secret: q.secret };
    return new Promise((resolve, reject) => {
      parentPort!.once("message", (m: ToWorker) => ("answer" in m ? resolve(m.answer) : reject(new ExitError(EXIT.interrupted, "runbook serve: no answer on the terminal"))));
      parentPort!.postMessage({ ask: q } satisfies FromWorker);
    });
  },
};

async function serve(args: string[]): Promise<number> {
  const { values: given } = parseArgs({
    args,
    options: {
      inventory: { type: "string", short: "i", multiple: true },
      playbooks: { type: "string" },
      "ssh-config": { type: "string", short: "F" },
      listen: { type: "string" },
      port: { type: "string", short: "p" },
      "insecure-listen": { type: "boolean" },
      // The flag's first name, kept working.
      "allow-remote": { type: "boolean" },
      "tls-cert": { type: "string" },
      "tls-key": { type: "string" },
      "secure-cookie": { type: "boolean" },
      "admin-password-file": { type: "string" },
      "admin-user": { type: "string" },
      secrets: { type: "string" },
      "keep-days": { type: "string" },
      "keep-runs": { type: "string" },
      config: { type: "string" },
      ...VAULT_OPTIONS,
    },
  });
  const values = { ...readConfig(given.config ?? join(stateDir(), "serve.yml"), !!given.config), ...given };
  const retention = { keepDays: count(values["keep-days"], "--keep-days"), keepRuns: count(values["keep-runs"], "--keep-runs") };
  const listen = values.listen ?? "127.0.0.1";
  const port = Number(values.port ?? 4440);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InputError(`--port must be 0-65535, got ${values.port}`);
  if (!!values["tls-cert"] !== !!values["tls-key"]) throw new InputError("--tls-cert and --tls-key go together (the certificate and its private key, PEM files)");
  const tls = values["tls-cert"] ? { cert: readPem(String(values["tls-cert"]), "--tls-cert"), key: readPem(String(values["tls-key"]), "--tls-key") } : undefined;
  if (!isLoopback(listen) && !tls && !values["insecure-listen"] && !values["allow-remote"]) {
    throw new InputError(
      `--listen ${listen} is not a loopback address: passwords and session cookies would cross the network in clear. Serve HTTPS with --tls-cert FILE --tls-key FILE, or, behind a TLS proxy, add --insecure-listen --secure-cookie`,
    );
  }
  const inventory = values.inventory?.length ? values.inventory : ["inventory"];
  const { vault, problem } = await checkedVaultKeys(values, inventory, { interactive: terminal.tty(), ask: terminal.ask });
  // Tolerated as before (pages and runs read the inventory again, and say what is wrong then).
  if (problem) console.error(`runbook serve: the inventory does not load now (its vault values are checked when it does): ${problem.message}`);
  // Loaded only now: `runbook play` never pays for the HTTP server and SQLite.
  const { createApp } = await import("../serve/server.ts");
  const { hashPassword } = await import("../serve/auth.ts");
  const { serve: listenOn } = await import("@hono/node-server");
  const dir = stateDir();
  const { app, store, active, scheduler, prune } = createApp({
    stateDir: dir,
    inventory,
    vault,
    playbooksDir: values.playbooks ?? "playbooks",
    sshConfig: values["ssh-config"],
    secureCookie: !!values["secure-cookie"] || !!tls,
    secretsDir: values.secrets,
    retention,
    heapLimits: serveWorkerLimits(),
  });

  if (store.users().length === 0) {
    const name = values["admin-user"] ?? "admin";
    const password = await firstPassword(values["admin-password-file"]);
    if (password.length < 8) throw new InputError("the admin password needs at least 8 characters");
    store.putUser(name, "admin", await hashPassword(password));
    console.log(`runbook serve: created the admin user ${name}`);
  }
  // Retention once the history is read, then every hour (RUNBOOK_SERVE_PRUNE_MS: sooner, for tests).
  const pruneNow = () => {
    const gone = prune();
    if (gone.length) console.log(`runbook serve: retention: deleted ${gone.length} run(s) and their logs (${describeRetention(retention)})`);
  };
  const pruning = setInterval(pruneNow, Number(process.env.RUNBOOK_SERVE_PRUNE_MS) || 3_600_000);
  pruning.unref();

  // HTTPS: node:https under the same Hono handler.
  const server = tls ? listenOn({ fetch: app.fetch, hostname: listen, port, createServer: createHttpsServer, serverOptions: tls }) : listenOn({ fetch: app.fetch, hostname: listen, port });
  await new Promise<void>((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", (err) => reject(new ExitError(EXIT.input, `cannot listen on ${listen}:${port}: ${err.message}`)));
  });
  const addr = server.address();
  const actual = typeof addr === "object" && addr ? addr.port : port;
  const host = listen.includes(":") ? `[${listen}]` : listen;
  console.log(`runbook serve: ${tls ? "https" : "http"}://${host}:${actual}/ (state ${dir}; Ctrl-C stops)`);
  // The history is read while the server answers (a first start on a large one takes seconds).
  const reading = Date.now();
  void store.refreshInBackground().then(() => {
    if (Date.now() - reading > 1000) console.log(`runbook serve: history read (${store.runCount()} runs, ${((Date.now() - reading) / 1000).toFixed(1)} s)`);
    pruneNow();
  });

  // Stopping: runs started here are stopped as Ctrl-C stops a play (no new
  // task, running commands finish), their end records written, then exit.
  // A second signal aborts them at once. A server killed outright leaves its
  // runs without an end record: they show as crashed, never as running.
  return new Promise<number>((resolve) => {
    let stopping = false;
    let finished = false;
    const code = (signal: NodeJS.Signals, runs: number) => (runs ? (signal === "SIGTERM" ? EXIT.sigterm : EXIT.interrupted) : EXIT.ok);
    // Once, whichever of the two signals gets here first: the store closes after every run's end record.
    const finish = (runs: { outcome: Promise<unknown> }[], exitCode: number) =>
      void Promise.allSettled(runs.map((r) => r.outcome)).then(() => {
        if (finished) return;
        finished = true;
        unlisten();
        store.close();
        resolve(exitCode);
      });
    const onSignal = (signal: NodeJS.Signals) => {
      const runs = [...active.running];
      clearInterval(pruning);
      if (stopping) {
        scheduler.stop();
        for (const r of runs) r.abort(signal);
        server.close();
        finish(runs, signal === "SIGTERM" ? EXIT.sigterm : EXIT.interrupted);
        return;
      }
      stopping = true;
      scheduler.stop();
      console.log(`runbook serve: ${signal}: stopping${runs.length ? `; ${runs.length} run(s) stop with it (no new task; running commands get their grace period; a second ${signal} aborts them)` : ""}`);
      server.close();
      // Open event streams would keep the server from closing.
      (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      for (const r of runs) if (r.stop(signal)) r.note("warn", `${signal}: runbook serve is stopping; this run stops with it`);
      finish(runs, code(signal, runs.length));
    };
    // In the worker, signals come from the main thread, which passes them on;
    // the listener goes when the server is done (it would keep the worker alive).
    const onMessage = (m: ToWorker) => "signal" in m && onSignal(m.signal);
    const unlisten = inWorker
      ? (parentPort!.on("message", onMessage), () => parentPort!.off("message", onMessage))
      : (process.on("SIGINT", onSignal), process.on("SIGTERM", onSignal), () => (process.off("SIGINT", onSignal), process.off("SIGTERM", onSignal)));
  });
}

/** The options of a YAML config file (keys as the long options); `{}` when an optional one is absent. */
export function readConfig(file: string, required: boolean): Record<string, string | boolean | string[]> {
  if (!existsSync(file)) {
    if (required) throw new InputError(`--config ${file}: no such file`);
    return {};
  }
  const data = parse(readFileSync(file, "utf8")) as unknown;
  if (data == null) return {};
  if (typeof data !== "object" || Array.isArray(data)) throw new InputError(`${file}: expected a map of options (keep-days: 30)`);
  const out: Record<string, string | boolean | string[]> = {};
  for (const [k, v] of Object.entries(data)) {
    // A key naming a password, never its value: the file may be read by others, and backed up.
    if (/pass(word)?$/i.test(k)) throw new InputError(`${file}: ${k}: a password does not belong in a config file; name a file that holds it (vault-password-file, vault-id, admin-password-file) or set RUNBOOK_VAULT_PASSWORD / RUNBOOK_ADMIN_PASSWORD`);
    if (!CONFIG_KEYS.includes(k)) throw new InputError(`${file}: unknown option ${k} (one of ${CONFIG_KEYS.join(", ")})`);
    out[k] = LIST_KEYS.includes(k) ? [v].flat().map(String) : typeof v === "boolean" ? v : String(v);
  }
  return out;
}

const CONFIG_KEYS = ["inventory", "playbooks", "ssh-config", "listen", "port", "insecure-listen", "allow-remote", "tls-cert", "tls-key", "secure-cookie", "admin-user", "admin-password-file", "vault-password-file", "vault-id", "secrets", "keep-days", "keep-runs"];
/** Options that may be given more than once: a list (or one value) in the file. */
const LIST_KEYS = ["inventory", "vault-password-file", "vault-id"];

/** A positive whole number option, or undefined when not given. */
function count(v: unknown, name: string): number | undefined {
  if (v === undefined || v === "") return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InputError(`${name} must be a whole number of 1 or more, got ${String(v)}`);
  return n;
}

function describeRetention(r: { keepDays?: number; keepRuns?: number }): string {
  return [r.keepDays && `older than ${r.keepDays} days`, r.keepRuns && `beyond the newest ${r.keepRuns} per job`].filter(Boolean).join(", or ");
}

function readPem(file: string, flag: string): string {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new InputError(`${flag} ${file}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`);
  }
  if (!text.includes("-----BEGIN ")) throw new InputError(`${flag} ${file}: not a PEM file`);
  return text;
}

function isLoopback(addr: string): boolean {
  return addr === "localhost" || addr === "::1" || (isIP(addr) === 4 && addr.startsWith("127."));
}

async function firstPassword(file: string | undefined): Promise<string> {
  if (file) return readFileSync(file, "utf8").split("\n")[0]!;
  const env = process.env.RUNBOOK_ADMIN_PASSWORD;
  if (env) return env;
  if (!terminal.tty()) {
    throw new InputError("no users yet and no terminal to ask the admin password on: give it with --admin-password-file FILE or RUNBOOK_ADMIN_PASSWORD");
  }
  for (;;) {
    const a = await terminal.ask({ message: "admin password for the web UI (8 characters or more)", secret: true });
    const b = await terminal.ask({ message: "admin password (again)", secret: true });
    if (a === b) return a;
    process.stderr.write("The two answers differ; try again.\n");
  }
}
