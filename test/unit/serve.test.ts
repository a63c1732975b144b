/**
 * `runbook serve` without a browser: password hashes, the login limiter,
 * the SQLite index of the history (a crashed run is never `running`, a
 * half-written line is read once whole), and the HTTP rules through the
 * app's own request function: login, CSRF on every POST, roles.
 */
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { hashPassword, LoginLimiter, tokenHash, verifyPassword } from "../../runner/serve/auth.ts";
import { createApp } from "../../runner/serve/server.ts";
import { Store } from "../../runner/serve/store.ts";
import { cronProblem, readSecretStore } from "../../runner/serve/schedules.ts";
import { Secret } from "../../runner/secret.ts";

/** An event as the history stores it, timed by its run id (20261204-120100: 12:01:00) and seq (seconds). */
const event = (runId: string, seq: number, e: Record<string, unknown>) =>
  JSON.stringify({ ...e, runId, seq, time: new Date(Date.UTC(2026, 11, 4, 12, Number(runId.slice(11, 13)), seq)).toISOString() }) + "\n";

function fakeRuns(dir: string) {
  const runs = join(dir, "runs");
  mkdirSync(runs, { recursive: true });
  const start = (id: string, pid: number, user = "alice") => event(id, 1, { type: "run.start", playbook: "playbooks/site.ts", user, check: false, diff: false, pid });
  const play = (id: string, hosts: string[]) => event(id, 2, { type: "play.start", play: "p", hosts, check: false });
  const recap = { ok: 1, changed: 1, failed: 0, skipped: 0, unreachable: 0, unknown: 0, time: 5 };
  // finished ok on tnode1
  writeFileSync(join(runs, "20261204-120000-aaaa.jsonl"), start("20261204-120000-aaaa", 1) + play("20261204-120000-aaaa", ["tnode1"]) + event("20261204-120000-aaaa", 3, { type: "run.end", recap: { tnode1: recap }, exitCode: 0, ms: 10 }));
  // a run whose process is gone (pid 2^22 + 1 is above Linux's pid_max): crashed
  writeFileSync(join(runs, "20261204-120100-bbbb.jsonl"), start("20261204-120100-bbbb", 4194305, "bob") + play("20261204-120100-bbbb", ["tnode2"]));
  // this process's run, still going, its last line half written
  writeFileSync(join(runs, "20261204-120200-cccc.jsonl"), start("20261204-120200-cccc", process.pid) + play("20261204-120200-cccc", ["tnode1", "tnode2"]) + '{"type":"task.st');
  return runs;
}

test("scrypt hashes verify the right password only, salted", async () => {
  const a = await hashPassword("correct horse");
  const b = await hashPassword("correct horse");
  assert.match(a, /^scrypt\$32768\$8\$1\$/);
  assert.is.not(a, b);
  assert.ok(await verifyPassword("correct horse", a));
  assert.not.ok(await verifyPassword("correct hors", a));
});

test("the login limiter refuses after 5 failures in the window, then lets go", () => {
  const l = new LoginLimiter(5, 60_000);
  for (let i = 0; i < 5; i++) {
    assert.is(l.retryAfter("ip:1", 1000 + i), 0);
    l.fail("ip:1", 1000 + i);
  }
  assert.ok(l.retryAfter("ip:1", 2000) > 0);
  assert.is(l.retryAfter("ip:2", 2000), 0);
  assert.is(l.retryAfter("ip:1", 1000 + 60_001), 0);
});

test("the index: states from the files, crashed never running, filters by host/status/user", () => {
  const dir = mkdtempSync(join(tmpdir(), "rb-serve-"));
  const runs = fakeRuns(dir);
  const store = new Store(dir);
  store.refresh();
  const all = store.runs();
  assert.equal(all.map((r) => [r.runId, r.state]), [
    ["20261204-120200-cccc", "running"],
    ["20261204-120100-bbbb", "crashed"],
    ["20261204-120000-aaaa", "finished"],
  ]);
  assert.equal(store.runs({ host: "tnode1" }).map((r) => r.runId), ["20261204-120200-cccc", "20261204-120000-aaaa"]);
  assert.equal(store.runs({ status: "crashed" }).map((r) => r.user), ["bob"]);
  assert.equal(store.runs({ status: "ok" }).map((r) => r.changed), [1]);
  assert.equal(store.runs({ user: "alice", host: "tnode2" }).map((r) => r.runId), ["20261204-120200-cccc"]);
  // The half line completes and the run ends: read again.
  appendFileSync(join(runs, "20261204-120200-cccc.jsonl"), 'art"}\n'.replace('art"}', 'art","runId":"20261204-120200-cccc","seq":3,"host":"tnode3","play":"p","task":"t","time":"2026-12-04T12:02:03.000Z"}') + event("20261204-120200-cccc", 4, { type: "run.end", recap: {}, exitCode: 2, ms: 9 }));
  store.refresh();
  const c = store.run("20261204-120200-cccc")!;
  assert.is(c.state, "finished");
  assert.equal(c.hosts, ["tnode1", "tnode2", "tnode3"]);
  assert.equal(store.runs({ status: "failed" }).map((r) => r.runId), ["20261204-120200-cccc"]);
  store.close();
});

test("retention: older than N days or beyond N per job goes (file and rows), a running run never", () => {
  const dir = mkdtempSync(join(tmpdir(), "rb-serve-"));
  const runs = fakeRuns(dir);
  const store = new Store(dir);
  // 2026-12-04 12:00 runs; "now" two days later: keep 1 day takes the ended ones, not the running one.
  const now = Date.UTC(2026, 11, 6, 12);
  // The three runs are of one job.
  assert.equal(store.prune({ keepRuns: 3 }, new Set(), now), []);
  assert.equal(store.prune({ keepRuns: 2 }, new Set(), now), ["20261204-120000-aaaa"]);
  assert.equal(store.prune({ keepDays: 1 }, new Set(["20261204-120100-bbbb"]), now), [], "a run this server is running is kept");
  assert.equal(store.prune({ keepDays: 1 }, new Set(), now), ["20261204-120100-bbbb"]);
  assert.equal(store.runs().map((r) => r.runId), ["20261204-120200-cccc"]);
  assert.equal(readdirSync(runs), ["20261204-120200-cccc.jsonl"]);
  store.close();
});

test("a first read of a large history goes in batches that let the server answer; meanwhile refresh() returns at once and retention waits", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rb-serve-"));
  const runs = fakeRuns(dir);
  // 1,200 more ended runs: three batches of 500.
  for (let i = 0; i < 1200; i++) {
    const id = `20261204-1203${String(i % 60).padStart(2, "0")}-${String(i).padStart(4, "0")}`;
    writeFileSync(join(runs, `${id}.jsonl`), event(id, 1, { type: "run.start", playbook: "playbooks/site.ts", user: "carol", check: false, diff: false, pid: 1 }) + event(id, 2, { type: "run.end", recap: {}, exitCode: 0, ms: 1 }));
  }
  const store = new Store(dir);
  const reading = store.refreshInBackground();
  // The first batch has been read synchronously; the rest waits for the event loop.
  assert.equal(store.indexing, { done: 500, total: 1203 });
  const seen: number[] = [];
  const ticker = setInterval(() => seen.push(store.indexing?.done ?? -1), 0);
  store.refresh();
  assert.is(store.runCount(), 500, "refresh() during the first read leaves it to the background pass");
  assert.equal(store.prune({ keepRuns: 1 }, new Set(), Date.UTC(2026, 11, 6)), [], "no retention on a half-read index");
  await reading;
  clearInterval(ticker);
  assert.ok(seen.includes(1000), `the event loop ran between batches (saw ${[...new Set(seen)].join(", ")})`);
  assert.is(store.indexing, undefined);
  assert.is(store.runCount(), 1203);
  assert.equal(store.runs({ status: "crashed" }).map((r) => r.user), ["bob"], "running runs rechecked at the end");
  // Afterwards refresh() reads what changed, as before (once the watcher has told it: give it up to 10 s).
  writeFileSync(join(runs, "20261204-120500-dddd.jsonl"), event("20261204-120500-dddd", 1, { type: "run.start", playbook: "playbooks/site.ts", user: "dave", check: false, diff: false, pid: 1 }));
  for (let i = 0; i < 1000 && store.runCount() < 1204; i++) {
    await new Promise((r) => setTimeout(r, 10));
    store.refresh();
  }
  assert.is(store.runCount(), 1204);
  store.close();
});

test("secret stores: a 0600 file of the server's user, as Secrets; others are refused; cron expressions checked", () => {
  const dir = mkdtempSync(join(tmpdir(), "rb-secrets-"));
  writeFileSync(join(dir, "ok.yml"), "token: s3cret\n", { mode: 0o600 });
  writeFileSync(join(dir, "open.yml"), "token: s3cret\n", { mode: 0o640 });
  const got = readSecretStore(dir, "ok");
  assert.ok(got.token instanceof Secret);
  assert.is(got.token!.reveal(), "s3cret");
  assert.throws(() => readSecretStore(dir, "open"), /readable by others \(mode 640\); chmod 600 it/);
  assert.throws(() => readSecretStore(dir, "none"), /no secret store none/);
  assert.throws(() => readSecretStore(dir, "../ok"), /secret store names/);
  assert.is(cronProblem("30 2 * * 1-5"), undefined);
  assert.is(cronProblem("*/5 * * * * *"), undefined);
  assert.match(cronProblem("61 * * * *") ?? "", /not a cron expression/);
});

/** A cookie jar and CSRF token over app.request. */
async function client(app: ReturnType<typeof createApp>["app"], user: string, password: string) {
  const cookies = new Map<string, string>();
  const keep = (res: Response) => {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(";");
      const [k, v] = pair!.split("=");
      cookies.set(k!, v!);
    }
    return res;
  };
  const headers = () => ({ cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join("; "), accept: "text/html" });
  const get = async (path: string) => keep(await app.request(path, { headers: headers() }));
  const post = async (path: string, form: Record<string, string>) =>
    keep(await app.request(path, { method: "POST", headers: { ...headers(), "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(form).toString() }));
  const loginPage = await (await get("/login")).text();
  const token = /name="_csrf" value="([^"]+)"/.exec(loginPage)![1]!;
  const login = await post("/login", { _csrf: token, user, password });
  const csrf = async (path: string) => /name="_csrf" value="([^"]+)"/.exec(await (await get(path)).text())?.[1] ?? "";
  return { get, post, login, csrf };
}

test("http: login, CSRF on every POST, viewers cannot start runs, admins add users", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rb-serve-"));
  fakeRuns(dir);
  const { app, store } = createApp({ stateDir: dir, inventory: ["test/fixtures/inventory/rundeck.yml"], playbooksDir: "test/fixtures/serve" });
  store.putUser("admin", "admin", await hashPassword("adminpass1"));

  const anon = await app.request("/history", { headers: { accept: "text/html" } });
  assert.is(anon.status, 303);
  assert.match(anon.headers.get("location")!, /^\/login\?next=%2Fhistory/);

  const bad = await client(app, "admin", "wrong password");
  assert.is(bad.login.status, 401);

  const admin = await client(app, "admin", "adminpass1");
  assert.is(admin.login.status, 303);
  const setCookie = admin.login.headers.getSetCookie().find((c) => c.startsWith("rb_session="))!;
  assert.match(setCookie, /HttpOnly/);
  assert.match(setCookie, /SameSite=Strict/);
  const history = await admin.get("/history");
  assert.is(history.status, 200);
  assert.match(history.headers.get("content-security-policy")!, /script-src 'self'/);
  const page = await history.text();
  assert.match(page, /20261204-120100-bbbb/);
  assert.match(page, /badge st-crashed/);

  // No token, a wrong token: refused, nothing made.
  assert.is((await admin.post("/users", { name: "eve", role: "admin", password: "evepassword" })).status, 403);
  assert.is((await admin.post("/users", { _csrf: "forged", name: "eve", role: "admin", password: "evepassword" })).status, 403);
  assert.is(store.user("eve"), undefined);
  const token = await admin.csrf("/users");
  assert.is((await admin.post("/users", { _csrf: token, name: "val", role: "viewer", password: "viewerpass1" })).status, 303);
  assert.is(store.user("val")?.role, "viewer");

  const viewer = await client(app, "val", "viewerpass1");
  assert.is(viewer.login.status, 303);
  const vtoken = await viewer.csrf("/jobs/deploy");
  assert.ok(vtoken, "the viewer's page has its CSRF token");
  assert.is((await viewer.post("/jobs/deploy/run", { _csrf: vtoken, opt_token: "x" })).status, 403);
  assert.is((await viewer.get("/users")).status, 403);
  assert.not.match(await (await viewer.get("/jobs/deploy")).text(), /id="run"/);
  store.close();
});

test("http: a broken inventory gives a page in the layout naming the file and line; the API gets JSON", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rb-serve-"));
  const inv = join(dir, "hosts.yml");
  writeFileSync(inv, "all:\n  hosts:\n    web1: {ansible_host: 10.0.0.1}\n");
  const { app, store } = createApp({ stateDir: dir, inventory: [inv], playbooksDir: "test/fixtures/serve" });
  store.putUser("admin", "admin", await hashPassword("adminpass1"));
  const admin = await client(app, "admin", "adminpass1");
  assert.is((await admin.get("/nodes")).status, 200);
  writeFileSync(inv, "all:\n  hosts:\n    web1: {ansible_host: 10.0.0.1\n");
  const broken = await admin.get("/nodes");
  assert.is(broken.status, 400);
  assert.match(broken.headers.get("content-type")!, /text\/html/);
  const page = await broken.text();
  assert.match(page, /<nav/, "the page keeps the layout's navigation");
  assert.match(page, /id="error">[^<]*hosts\.yml/, "the error names the file");
  const token = "rbt_t_" + "x".repeat(20);
  store.putToken({ id: "t", name: "t", user: "admin", hash: tokenHash(token) });
  const api = await app.request("/api/jobs/deploy/run", { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: "{}" });
  assert.is(api.status, 400);
  assert.match(((await api.json()) as { error: string }).error, /hosts\.yml/);
  store.close();
});

test("http: typed options: a checkbox and a number field, refused server-side by name (nothing runs); a schedule stores typed values, secrets only from a store", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rb-serve-"));
  const secretsDir = join(dir, "secrets");
  mkdirSync(secretsDir, { mode: 0o700 });
  writeFileSync(join(secretsDir, "ok.yml"), "token: s3cret\n", { mode: 0o600 });
  const { app, store, scheduler } = createApp({ stateDir: dir, inventory: ["test/fixtures/engine/local.yml"], playbooksDir: "test/fixtures/serve", secretsDir });
  store.putUser("admin", "admin", await hashPassword("adminpass1"));
  const admin = await client(app, "admin", "adminpass1");
  try {
    const form = await (await admin.get("/jobs/deploy")).text();
    assert.match(form, /<input type="checkbox" name="opt_verbose" value="true" >/);
    assert.match(form, /<input type="number" name="opt_replicas" value="1" step="1" min="1" max="9"/);
    const _csrf = await admin.csrf("/jobs/deploy");
    const bad = await admin.post("/jobs/deploy/run", { _csrf, opt_token: "x", opt_replicas: "abc", opt_verbose: "true" });
    assert.is(bad.status, 400);
    const page = await bad.text();
    assert.match(page, /prompt replicas: expected an integer, got the string &quot;abc&quot;/);
    assert.match(page, /name="opt_verbose" value="true" checked/, "the form comes back as it was sent");
    assert.equal(readdirSync(dir).filter((f) => f === "runs"), [], "no run was started");

    // The schedule form: the job's typed fields (the same partial), no field for a secret, a selector of stores.
    const sched = await (await admin.get("/schedules?job=deploy")).text();
    assert.match(sched, /<input type="checkbox" name="opt_verbose"/);
    assert.match(sched, /<input type="number" name="opt_replicas"/);
    assert.not.match(sched, /name="opt_token"/);
    assert.match(sched, /<select name="secret_store"><option value="">none<\/option><option >ok<\/option><\/select>/);
    const post = (fields: Record<string, string>) => admin.post("/schedules", { _csrf, job: "deploy", cron: "0 3 * * *", secret_store: "ok", ...fields });
    const refused = async (fields: Record<string, string>) => {
      const r = await post(fields);
      assert.is(r.status, 400);
      return /<p class="error" role="alert">([^<]*)</.exec(await r.text())?.[1];
    };
    assert.is(await refused({ opt_replicas: "12" }), "prompt replicas: expected at most 9, got number 12");
    assert.is(await refused({ opt_token: "typed" }), "token is a secret option: its value comes from a secret store, never from the schedule");
    assert.is(await refused({ secret_store: "" }), "deploy has secret options (token): a schedule needs a secret store to take them from");
    assert.is(store.schedules().length, 0);
    assert.is((await post({ opt_verbose: "true", opt_replicas: "3", opt_channel: "testing", opt_motd: "m" })).status, 303);
    const [row] = store.schedules();
    assert.equal(row!.options, { job: "deploy", values: { channel: "testing", motd: "m", verbose: true, replicas: 3 }, limit: "", tags: "", check: false, diff: false });
    assert.is(row!.secretStore, "ok");
  } finally {
    scheduler.stop();
    store.close();
  }
});

test.run();
