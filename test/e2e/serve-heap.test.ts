/**
 * `runbook serve` runs its server in a worker thread with heap limits
 * (runner/cli/serve.ts; why: docs/PERFORMANCE.md, "runbook serve's RSS").
 * No lab: the server's own process is what is under test. The limits are
 * read back from the running server, bad limits are refused before it
 * listens, and the main thread still owns the terminal (the first start's
 * admin password, typed on a pty) and the signals (Ctrl-C on that pty
 * stops the worker's server, which exits cleanly).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { hashPassword, newToken, tokenHash, verifyPassword } from "../../runner/serve/auth.ts";
import { Store } from "../../runner/serve/store.ts";
import { underPty } from "./harness.ts";

const s = suite("serve: the server in a worker thread with heap limits");

/** A state dir with an admin and an API token, as an earlier start would have left it. */
async function stateWithToken(): Promise<{ state: string; token: string }> {
  const state = mkdtempSync(join(tmpdir(), "rb-serve-heap-"));
  const store = new Store(state);
  store.putUser("admin", "admin", await hashPassword("admin-pass-1"));
  const token = newToken();
  store.putToken({ id: randomBytes(4).toString("hex"), name: "test", user: "admin", hash: tokenHash(token) });
  store.close();
  return { state, token };
}

/** `runbook serve` on a free port: its URL once it listens, or its exit code and output when it ends first. */
function serve(env: NodeJS.ProcessEnv): Promise<{ url?: string; code?: number | null; out: () => string; stop: (signal: NodeJS.Signals) => Promise<number | null> }> {
  const child = spawn(process.execPath, ["bin/runbook.js", "serve", "--port", "0", "--playbooks", "test/fixtures/serve"], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const ended = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  const stop = (signal: NodeJS.Signals) => (child.kill(signal), ended);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`runbook serve neither listened nor ended:\n${out}`)), 60_000);
    const onData = (d: Buffer) => {
      out += d;
      const m = /runbook serve: (http:\/\/\S+?)\/? /.exec(out);
      if (m) (clearTimeout(timer), resolve({ url: m[1]!, out: () => out, stop }));
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    void ended.then((code) => (clearTimeout(timer), resolve({ code, out: () => out, stop })));
  });
}

interface ServerInfo {
  worker: boolean;
  heapLimits: { maxOldGenerationSizeMb: number; maxYoungGenerationSizeMb: number } | null;
  heapLimitMb: number;
  memoryMb: { rss: number };
}

const info = async (url: string, token: string) => (await (await fetch(`${url}/api/server`, { headers: { authorization: `Bearer ${token}` } })).json()) as ServerInfo;

s("the server runs in a worker with the heap limits asked for, reports them, and stops on SIGINT", async () => {
  const { state, token } = await stateWithToken();
  const server = await serve({ RUNBOOK_STATE_DIR: state, RUNBOOK_SERVE_MAX_OLD_MB: "200", RUNBOOK_SERVE_MAX_YOUNG_MB: "4" });
  assert.ok(server.url, server.out());
  const i = await info(server.url!, token);
  assert.is(i.worker, true);
  assert.equal(i.heapLimits, { maxOldGenerationSizeMb: 200, maxYoungGenerationSizeMb: 4 });
  // V8's own limit follows (old generation plus the young one's spaces), not the machine's RAM.
  assert.ok(i.heapLimitMb >= 200 && i.heapLimitMb < 300, `heap limit ${i.heapLimitMb} MB`);
  assert.ok(i.memoryMb.rss > 0, "the process's RSS is reported");
  // Anonymous requests get nothing.
  assert.is((await fetch(`${server.url}/api/server`)).status, 401);
  // The signal reaches the main thread, which hands it to the worker's server.
  assert.is(await server.stop("SIGINT"), 0, server.out());
  assert.match(server.out(), /SIGINT: stopping/);
});

s("defaults: 512 MB old generation, 6 MB young; RUNBOOK_SERVE_WORKER=0 runs it on the main thread", async () => {
  const { state, token } = await stateWithToken();
  const server = await serve({ RUNBOOK_STATE_DIR: state });
  assert.ok(server.url, server.out());
  assert.equal((await info(server.url!, token)).heapLimits, { maxOldGenerationSizeMb: 512, maxYoungGenerationSizeMb: 6 });
  assert.is(await server.stop("SIGTERM"), 0, server.out());

  const main = await serve({ RUNBOOK_STATE_DIR: state, RUNBOOK_SERVE_WORKER: "0" });
  assert.ok(main.url, main.out());
  const i = await info(main.url!, token);
  assert.is(i.worker, false);
  assert.is(i.heapLimits, null);
  assert.is(await main.stop("SIGTERM"), 0, main.out());
});

s("a bad limit is refused before the server listens, naming the variable", async () => {
  const { state } = await stateWithToken();
  for (const [name, value] of [["RUNBOOK_SERVE_MAX_OLD_MB", "lots"], ["RUNBOOK_SERVE_MAX_OLD_MB", "16"], ["RUNBOOK_SERVE_MAX_YOUNG_MB", "0"]] as const) {
    const r = await serve({ RUNBOOK_STATE_DIR: state, [name]: value });
    assert.is(r.url, undefined, `${name}=${value} listened:\n${r.out()}`);
    assert.is(r.code, 1);
    assert.match(r.out(), new RegExp(`${name} must be a whole number of megabytes.*got ${value}`));
  }
});

s("a first start asks the admin password on the terminal (the main thread's), and Ctrl-C there stops the server", async () => {
  const state = mkdtempSync(join(tmpdir(), "rb-serve-heap-tty-"));
  const password = `pw-${randomBytes(4).toString("hex")}`;
  const r = await underPty(
    ["serve", "--port", "0"],
    [
      [/admin password for the web UI/, `${password}\r`],
      [/admin password \(again\)/, `${password}\r`],
      [/runbook serve: http:\/\/127\.0\.0\.1:\d+/, "\x03"],
    ],
    { RUNBOOK_STATE_DIR: state, RUNBOOK_ADMIN_PASSWORD: "" },
  );
  assert.is(r.code, 0, r.out);
  assert.match(r.out, /created the admin user admin/);
  assert.match(r.out, /SIGINT: stopping/);
  assert.not.ok(r.out.includes(password), "the typed password is not echoed");
  const store = new Store(state);
  try {
    const admin = store.user("admin");
    assert.ok(admin && (await verifyPassword(password, admin.hash)), "the password typed is the admin's");
  } finally {
    store.close();
  }
});

s.run();
