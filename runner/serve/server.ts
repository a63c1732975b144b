/**
 * `runbook serve`'s HTTP side: Hono routes that render server-side HTML
 * with nunjucks (the project's templating), a little CSS and JS and no
 * build step. Runs start in this process through the run API (`startRun`),
 * the same call `runbook play` makes; runs of other processes are read from
 * the shared history directory and followed by tailing their files.
 *
 * Pages: Nodes (the inventory), Jobs (every playbook, its prompts as a
 * form), a Run page (live log by server-sent events, grouped by host, with
 * the recap, diffs and a timeline), History (filterable), Users (admin).
 */
import { existsSync, readFileSync, watch, type FSWatcher } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { getHeapStatistics } from "node:v8";
import { Hono, type Context } from "hono";
import { getCookie, setCookie, deleteCookie } from "hono/cookie";
import { streamSSE } from "hono/streaming";
import { timing, type TimingVariables } from "hono/timing";
import { getConnInfo } from "@hono/node-server/conninfo";
import nunjucks from "nunjucks";
import { ExitError } from "../errors.ts";
import type { StampedEvent } from "../events.ts";
import { readRun, runsDir, runState, type RunSummary } from "../history.ts";
import { loadInventory, type Inventory } from "../inventory/index.ts";
import type { VaultKeys } from "../inventory/vault.ts";
import { resolvePattern } from "../patterns.ts";
import { checkAnswers, typedAnswer } from "../prompts.ts";
import { startRun, type Run } from "../run.ts";
import { MASK, Secret } from "../secret.ts";
import { hostVars } from "../vars.ts";
import { CAN, LoginLimiter, Sessions, hashPassword, newToken, sameToken, tokenHash, verifyPassword, type Session } from "./auth.ts";
import { Jobs, type JobDetail } from "./jobs.ts";
import { Scheduler, cronProblem, readSecretStore, secretStores } from "./schedules.ts";
import { Deliveries, HookKeys, SIGNATURE_HEADER, TIMESTAMP_HEADER, WINDOW_S } from "./hooks.ts";
import { LOG, logView, runView, taskLines, type HostView } from "./runview.ts";
import { groupOutputs, startAdhoc, type HostOutcome } from "../adhoc.ts";
import { checkSshConfigs } from "../cli/common.ts";
import type { RunResult } from "../connection/types.ts";
import { foldNodeset } from "../nodeset.ts";
import { ROLES, STATUSES, Store, readFrom, runStatus, type RetentionPolicy, type Role } from "./store.ts";

export interface ServeOptions {
  stateDir: string;
  inventory: string[];
  playbooksDir: string;
  sshConfig?: string;
  /** Mark the session cookie Secure (the server is behind TLS). */
  secureCookie?: boolean;
  /** Where the named secret stores of schedules are (default `<state>/secrets`). */
  secretsDir?: string;
  /** How long runs are kept (none: all). */
  retention?: RetentionPolicy;
  /** The heap limits of the worker thread the server runs in (none: it runs on the main thread, V8's defaults). */
  heapLimits?: { maxOldGenerationSizeMb: number; maxYoungGenerationSizeMb: number };
  /**
   * The passwords of the inventory's vault values (checked at start). Every
   * page and run that reads the inventory decrypts with them; what they
   * open is a Secret, masked as any other.
   */
  vault?: VaultKeys;
}

/** A playbook run or an ad-hoc command this server started: followed, stopped and aborted alike. */
type LiveRun = Pick<Run, "runId" | "events" | "stop" | "note" | "abort"> & { readonly outcome: Promise<unknown> };

/** Runs this server started: `all` while they run and a minute after (their streams replay from memory), `running` until they end. */
interface Active {
  all: Map<string, LiveRun>;
  running: Set<LiveRun>;
}

const HERE = fileURLToPath(new URL(".", import.meta.url));
const SESSION = "rb_session";
/** History rows per page. */
const PAGE = 50;
const LOGIN = "rb_login";

type Env = { Variables: { session: Session } & TimingVariables };

export function createApp(opts: ServeOptions) {
  const store = new Store(opts.stateDir);
  const sessions = new Sessions();
  const limiter = new LoginLimiter();
  const jobs = new Jobs(opts.playbooksDir);
  const active: Active = { all: new Map(), running: new Set() };
  const track = (run: LiveRun) => {
    active.all.set(run.runId, run);
    active.running.add(run);
    void run.outcome.then(() => {
      active.running.delete(run);
      setTimeout(() => active.all.delete(run.runId), 60_000).unref();
    });
  };
  // Read again for each page and run (it may change while the server runs).
  const inventory = () => loadInventory(opts.inventory, { vault: opts.vault });
  const views = new nunjucks.Environment(new nunjucks.FileSystemLoader(join(HERE, "views")), { autoescape: true, throwOnUndefined: false });
  views.addFilter("dur", (ms: number | null | undefined) => (ms == null ? "" : ms < 1000 ? `${ms} ms` : ms < 120_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 60_000)} min`));
  views.addFilter("uptime", (s: number) => (s < 3600 ? `${Math.round(s / 60)} min` : s < 86_400 ? `${(s / 3600).toFixed(1)} h` : `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`));
  views.addFilter("when", (iso: string) => iso.slice(0, 19).replace("T", " "));
  const statics = {
    "style.css": { type: "text/css; charset=utf-8", body: readFileSync(join(HERE, "static", "style.css")) },
    "app.js": { type: "text/javascript; charset=utf-8", body: readFileSync(join(HERE, "static", "app.js")) },
  } as const;

  const app = new Hono<Env>();
  const render = (c: Context<Env>, view: string, ctx: Record<string, unknown> = {}, status = 200) => {
    const s = c.get("session") as Session | undefined;
    const html = views.render(view, { ...ctx, indexing: store.indexing, me: s ? { user: s.user, role: s.role, canRun: CAN.run(s.role), admin: CAN.admin(s.role) } : undefined, csrf: s?.csrf, path: c.req.path });
    return c.html(html, status as 200);
  };

  // Server-Timing: the server's own time for each response (the benchmark reads it).
  app.use("*", timing({ totalDescription: "server" }));
  app.use("*", async (c, next) => {
    await next();
    c.header("X-Content-Type-Options", "nosniff");
    c.header("X-Frame-Options", "DENY");
    c.header("Referrer-Policy", "same-origin");
    c.header("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'");
    if (!c.res.headers.has("Cache-Control")) c.header("Cache-Control", "no-store");
  });

  app.get("/static/:file", (c) => {
    const f = statics[c.req.param("file") as keyof typeof statics];
    if (!f) return c.notFound();
    return c.body(f.body, 200, { "Content-Type": f.type, "Cache-Control": "max-age=300" });
  });

  app.get("/favicon.ico", (c) => c.body(null, 204));

  // ---- login ----------------------------------------------------------------
  const cookieOpts = { httpOnly: true, sameSite: "Strict" as const, secure: !!opts.secureCookie, path: "/" };
  app.get("/login", (c) => {
    // Login CSRF: the form carries a token that must match a cookie set
    // with it (kept while it lives, so two tabs of the login page both work).
    const t = getCookie(c, LOGIN) || newToken();
    setCookie(c, LOGIN, t, { ...cookieOpts, maxAge: 3600 });
    return render(c, "login.njk", { loginToken: t, next: safeNext(c.req.query("next")) });
  });
  app.post("/login", async (c) => {
    const body = await c.req.parseBody();
    const name = String(body.user ?? "");
    if (!sameToken(String(body._csrf ?? ""), getCookie(c, LOGIN))) return c.text("missing or wrong CSRF token", 403);
    const ip = clientAddress(c);
    const wait = Math.max(limiter.retryAfter(`ip:${ip}`), limiter.retryAfter(`user:${name}`));
    const again = (error: string, status: number) => {
      const t = newToken();
      setCookie(c, LOGIN, t, { ...cookieOpts, maxAge: 3600 });
      return render(c, "login.njk", { loginToken: t, error, user: name, next: safeNext(String(body.next ?? "")) }, status);
    };
    if (wait > 0) {
      c.header("Retry-After", String(Math.ceil(wait / 1000)));
      return again(`Too many failed logins; try again in ${Math.ceil(wait / 60_000)} min.`, 429);
    }
    const user = store.user(name);
    // A user that does not exist costs the same hashing time as a wrong password.
    const ok = user ? await verifyPassword(String(body.password ?? ""), user.hash) : (await verifyPassword("x", DUMMY_HASH), false);
    if (!ok || !user) {
      limiter.fail(`ip:${ip}`);
      limiter.fail(`user:${name}`);
      return again("Wrong user name or password.", 401);
    }
    const s = sessions.create(user.name, user.role);
    setCookie(c, SESSION, s.id, cookieOpts);
    deleteCookie(c, LOGIN, { path: "/" });
    return c.redirect(safeNext(String(body.next ?? "")) ?? "/", 303);
  });

  // ---- the JSON API, for scripts: a Bearer token, no cookie, no CSRF ----------
  const api = new Hono<Env>();
  api.use("*", async (c, next) => {
    const m = /^Bearer\s+(\S+)$/i.exec(c.req.header("authorization") ?? "");
    const t = m ? store.tokenByHash(tokenHash(m[1]!)) : undefined;
    const user = t && store.user(t.user);
    if (!user) return c.json({ error: "a valid API token is needed (Authorization: Bearer TOKEN)" }, 401);
    c.set("session", { id: "", user: user.name, role: user.role, csrf: "", expires: 0 });
    await next();
  });
  api.post("/jobs/:name{.+}/run", async (c) => {
    const s = c.get("session");
    if (!CAN.run(s.role)) return c.json({ error: `${s.role}s cannot start runs` }, 403);
    const job = await jobs.get(c.req.param("name"));
    if (!job) return c.json({ error: `no job ${c.req.param("name")}` }, 404);
    const body = (await c.req.json().catch(() => ({}))) as { options?: Record<string, unknown>; limit?: string; tags?: string | string[]; check?: boolean; diff?: boolean };
    const given = (name: string) => (body.options?.[name] === undefined ? undefined : String(body.options[name]));
    const tags = Array.isArray(body.tags) ? body.tags.join(",") : (body.tags ?? "");
    const o = jobOptions(job, given, { limit: body.limit ?? "", tags, check: !!body.check, diff: !!body.diff });
    try {
      const run = await startJob(job, o, secretAnswers(job, given), s.user);
      return c.json({ runId: run.runId, url: `/runs/${run.runId}`, status: `/api/runs/${run.runId}` }, 201);
    } catch (err) {
      if (err instanceof ExitError) return c.json({ error: err.message }, 400);
      throw err;
    }
  });
  api.get("/runs/:id", (c) => {
    const runId = c.req.param("id");
    const events = loadEvents(runId);
    if (!events) return c.json({ error: `no run ${runId}` }, 404);
    const v = runView(runId, events);
    const status = v.start ? runStatus({ state: v.state, exitCode: v.end?.exitCode ?? null }) : "crashed";
    return c.json({ runId, job: v.start?.playbook, user: v.start?.user, state: v.state, status, exitCode: v.end?.exitCode ?? null, recap: v.end?.recap ?? null, hosts: Object.fromEntries(v.hosts.map((h) => [h.name, h.status])) });
  });
  // How the server runs: its memory, and the heap limits it was given.
  api.get("/server", (c) => {
    const m = process.memoryUsage();
    const mb = (n: number) => Math.round(n / 1048576);
    return c.json({
      pid: process.pid,
      uptimeSeconds: Math.round(process.uptime()),
      worker: !!opts.heapLimits,
      heapLimits: opts.heapLimits ?? null,
      heapLimitMb: mb(getHeapStatistics().heap_size_limit),
      // The first read of the run history, while it goes on (null when done).
      indexing: store.indexing ?? null,
      memoryMb: { rss: mb(m.rss), heapUsed: mb(m.heapUsed), heapTotal: mb(m.heapTotal), external: mb(m.external) },
    });
  });
  app.route("/api", api);
  const loadEvents = (runId: string): StampedEvent[] | null => (/^[\w.-]+$/.test(runId) ? readRun(runId, opts.stateDir) : null);

  // ---- signed webhooks: the signature is the authentication (no cookie, no CSRF) --
  let keys: HookKeys | undefined;
  const hookKeys = () => (keys ??= new HookKeys(opts.stateDir));
  const deliveries = new Deliveries();
  app.post("/webhooks/:id", async (c) => {
    const body = new Uint8Array(await c.req.arrayBuffer());
    const hook = store.hook(c.req.param("id"));
    // An unknown hook answers as a bad signature does: ids are not probed.
    const problem = hook ? deliveries.check(hookKeys().secret(hook.id), c.req.header(TIMESTAMP_HEADER), c.req.header(SIGNATURE_HEADER), body) : "bad signature";
    if (problem || !hook) {
      console.error(`runbook serve: webhook ${c.req.param("id").slice(0, 32)} refused: ${problem} (from ${clientAddress(c)})`);
      return c.json({ error: problem }, 401);
    }
    const owner = store.user(hook.user);
    if (!owner || !CAN.run(owner.role)) return c.json({ error: `the hook's user ${hook.user} may no longer start runs` }, 403);
    const job = await jobs.get(hook.job);
    if (!job) return c.json({ error: `no job ${hook.job} any more` }, 404);
    // Non-secret options may come in the body ({"options": {...}}); the hook's own stay otherwise.
    let given: Record<string, unknown> = {};
    const text = Buffer.from(body).toString("utf8").trim();
    if (text.startsWith("{")) {
      try {
        const o = (JSON.parse(text) as { options?: unknown }).options;
        if (o && typeof o === "object") given = o as Record<string, unknown>;
      } catch {
        return c.json({ error: "the body is not JSON" }, 400);
      }
    }
    const fixed = hook.options as JobOptions;
    const values = { ...fixed.values };
    for (const [name, v] of Object.entries(given)) {
      const p = job.prompts.find((q) => q.name === name);
      if (!p) return c.json({ error: `${job.name} has no option ${name}` }, 400);
      if (p.secret) return c.json({ error: `${name} is a secret option: it comes from the hook's secret store` }, 400);
      values[name] = typedAnswer(p, v);
    }
    try {
      const secrets = hook.secretStore ? readSecretStore(secretsDir, hook.secretStore) : {};
      const run = await startJob(job, { ...fixed, values }, secrets, `${hook.user} (hook ${hook.name})`);
      store.hookDelivered(hook.id);
      return c.json({ runId: run.runId, url: `/runs/${run.runId}` }, 202);
    } catch (err) {
      if (err instanceof ExitError) return c.json({ error: err.message }, 400);
      throw err;
    }
  });

  // ---- everything else needs a session; every POST its CSRF token -------------
  app.use("*", async (c, next) => {
    const s = sessions.get(getCookie(c, SESSION));
    if (!s) {
      if (c.req.method === "GET" && (c.req.header("accept") ?? "").includes("text/html")) return c.redirect(`/login?next=${encodeURIComponent(c.req.path + (new URL(c.req.url).search || ""))}`, 303);
      return c.text("log in first", 401);
    }
    c.set("session", s);
    if (c.req.method !== "GET" && c.req.method !== "HEAD") {
      const header = c.req.header("x-csrf-token");
      const form = header ? undefined : (await c.req.parseBody().catch(() => ({}) as Record<string, unknown>))._csrf;
      if (!sameToken(header ?? (typeof form === "string" ? form : undefined), s.csrf)) return c.text("missing or wrong CSRF token", 403);
    }
    await next();
  });

  app.post("/logout", (c) => {
    sessions.delete(getCookie(c, SESSION));
    deleteCookie(c, SESSION, { path: "/" });
    return c.redirect("/login", 303);
  });

  app.get("/", (c) => c.redirect("/history", 303));

  // ---- nodes ----------------------------------------------------------------
  app.get("/nodes", async (c) => {
    const inv = await inventory();
    const pattern = c.req.query("pattern")?.trim() || "";
    let names = [...inv.hosts.keys()];
    let error: string | undefined;
    if (pattern) {
      try {
        names = resolvePattern(inv, pattern);
      } catch (err) {
        error = (err as Error).message;
      }
    }
    store.refresh();
    const facts = store.facts();
    const nodes = names.map((n) => ({ ...nodeView(inv, n), facts: facts.get(n) }));
    const groups = [...inv.groups.values()].filter((g) => g.name !== "all").map((g) => ({ name: g.name, hosts: g.hosts, children: g.children, vars: maskVars(g.vars) }));
    return render(c, "nodes.njk", { nodes, groups, pattern, error });
  });

  // ---- jobs -----------------------------------------------------------------
  app.get("/jobs", async (c) => {
    const list = await Promise.all(jobs.list().map((j) => jobs.get(j.name)));
    store.refresh();
    const last = new Map(list.map((j) => [j!.name, store.runs({ job: j!.file, limit: 1 })[0]]));
    return render(c, "jobs.njk", { jobs: list.map((j) => ({ ...j, last: last.get(j!.name), lastStatus: last.get(j!.name) && runStatus(last.get(j!.name)!) })) });
  });

  app.get("/jobs/:name{.+}", async (c) => {
    const job = await jobs.get(c.req.param("name"));
    if (!job) return c.notFound();
    // Run again: the options a run started here was given (never its secrets: typed again).
    const again = store.options(c.req.query("rerun") ?? "");
    const o = again?.kind === "job" ? (again.options as JobOptions) : undefined;
    return render(c, "job.njk", { job, values: o?.values ?? {}, limit: o?.limit, tags: o?.tags, check: o?.check, diff: o?.diff, rerun: o ? c.req.query("rerun") : undefined });
  });

  /**
   * Starts a job (from the form, the API or a schedule): `o` its non-secret
   * options, `secrets` the secret ones, which go into the run's memory as
   * Secrets and nowhere else (not the history: run.start carries no
   * answers; not the options kept for a re-run).
   */
  const startJob = async (job: JobDetail, o: JobOptions, secrets: Record<string, Secret>, startedBy: string): Promise<Run> => {
    const answers: Record<string, unknown> = { ...secrets };
    for (const p of job.prompts) {
      const v = o.values[p.name];
      if (p.secret || v === undefined || (v === "" && p.default !== undefined)) continue;
      answers[p.name] = v;
    }
    const list = (v: string) => v.split(",").map((x) => x.trim()).filter(Boolean);
    const run = await startRun({
      playbook: job.file,
      inventory: opts.inventory,
      limit: o.limit || undefined,
      check: o.check,
      diff: o.diff,
      tags: list(o.tags),
      answers,
      startedBy,
      sshConfig: opts.sshConfig,
      stateDir: opts.stateDir,
      vault: opts.vault,
      verbose: 1,
    });
    track(run);
    store.putOptions(run.runId, "job", o);
    return run;
  };

  app.post("/jobs/:name{.+}/run", async (c) => {
    const s = c.get("session");
    if (!CAN.run(s.role)) return c.text(`${s.role}s cannot start runs`, 403);
    const job = await jobs.get(c.req.param("name"));
    if (!job) return c.notFound();
    const body = await c.req.parseBody();
    const text = (k: string) => (typeof body[k] === "string" ? (body[k] as string).trim() : "");
    const given = formAnswers(job, body);
    const o = jobOptions(job, given, { limit: text("limit"), tags: text("tags"), check: body.check === "on", diff: body.diff === "on" });
    const secrets = secretAnswers(job, given);
    try {
      const run = await startJob(job, o, secrets, s.user);
      return c.redirect(`/runs/${run.runId}`, 303);
    } catch (err) {
      if (!(err instanceof ExitError)) throw err;
      return render(c, "job.njk", { job, error: err.message, values: o.values, limit: o.limit, check: o.check, diff: o.diff, tags: o.tags }, 400);
    }
  });

  // ---- schedules --------------------------------------------------------------
  const scheduler = new Scheduler(async (row) => {
    const job = await jobs.get(row.job);
    if (!job) throw new Error(`no job ${row.job} any more`);
    const secrets = row.secretStore ? readSecretStore(secretsDir, row.secretStore) : {};
    const run = await startJob(job, row.options as JobOptions, secrets, `${row.user} (schedule ${row.id})`);
    // A run still going when the schedule is due again is not started twice (croner's protect).
    await run.outcome;
  });
  const secretsDir = opts.secretsDir ?? join(opts.stateDir, "secrets");

  /**
   * A schedule's or hook's fixed options (`given`: never a secret one),
   * checked and typed as their prompts say (a number is a number), and where
   * its secret options come from (a secret store, checked now); a string
   * says why they are refused.
   */
  const fixedOptions = (job: JobDetail, given: Record<string, unknown>, form: { store: string; limit: string; check: boolean }, what: string): JobOptions | string => {
    for (const name of Object.keys(given)) {
      const p = job.prompts.find((q) => q.name === name);
      if (!p) return `${job.name} has no option ${JSON.stringify(name)}`;
      if (p.secret) return `${name} is a secret option: its value comes from a secret store, never from the ${what}`;
    }
    let values: Record<string, unknown>;
    try {
      values = checkAnswers(job.prompts, given);
    } catch (err) {
      if (err instanceof ExitError) return err.message;
      throw err;
    }
    const secret = job.prompts.filter((p) => p.secret && p.required).map((p) => p.name);
    if (secret.length) {
      if (!form.store) return `${job.name} has secret options (${secret.join(", ")}): a ${what} needs a secret store to take them from`;
      try {
        const got = readSecretStore(secretsDir, form.store);
        const missing = secret.filter((n) => !(n in got));
        if (missing.length) return `secret store ${form.store} has no ${missing.join(", ")}`;
      } catch (err) {
        if (err instanceof ExitError) return err.message;
        throw err;
      }
    }
    const missing = job.prompts.filter((p) => !p.secret && p.required && values[p.name] === undefined).map((p) => p.name);
    if (missing.length) return `${job.name} needs ${missing.join(", ")} (no default)`;
    return { job: job.name, values, limit: form.limit, tags: "", check: form.check, diff: false };
  };
  for (const row of store.schedules()) scheduler.add(row);

  /** The schedules, and the form for a new one with `job`'s typed option fields (the job page's). */
  const schedulesPage = async (c: Context<Env>, job: JobDetail | undefined, extra: Record<string, unknown> = {}, status = 200) => {
    const list = store.schedules().map((r) => ({ ...r, next: scheduler.next(r.id)?.toISOString(), o: r.options as JobOptions }));
    const secretOptions = job?.prompts.filter((p) => p.secret).map((p) => p.name) ?? [];
    return render(c, "schedules.njk", { schedules: list, jobs: jobs.list(), job, secretOptions, stores: secretStores(secretsDir), secretsDir, values: {}, form: {}, ...extra }, status);
  };
  app.get("/schedules", async (c) => schedulesPage(c, await jobs.get(c.req.query("job") ?? jobs.list()[0]?.name ?? "")));
  app.post("/schedules", async (c) => {
    const s = c.get("session");
    if (!CAN.run(s.role)) return c.text(`${s.role}s cannot schedule runs`, 403);
    const body = await c.req.parseBody();
    const text = (k: string) => (typeof body[k] === "string" ? (body[k] as string).trim() : "");
    const form = { job: text("job"), cron: text("cron"), store: text("secret_store"), limit: text("limit"), check: body.check === "on" };
    const job = await jobs.get(form.job);
    const values = postedValues(job, body);
    const refuse = (error: string) => schedulesPage(c, job, { error, form, values }, 400);
    if (!job) return refuse(`no job ${form.job}`);
    const problem = cronProblem(form.cron);
    if (problem) return refuse(problem);
    const fixed = fixedOptions(job, values, form, "schedule");
    if (typeof fixed === "string") return refuse(fixed);
    const row = { job: job.name, cron: form.cron, options: fixed, secretStore: form.store || undefined, user: s.user };
    scheduler.add({ ...row, id: store.putSchedule(row), created: "" });
    return c.redirect("/schedules", 303);
  });
  app.post("/schedules/:id/delete", (c) => {
    const s = c.get("session");
    if (!CAN.run(s.role)) return c.text(`${s.role}s cannot change schedules`, 403);
    const id = Number(c.req.param("id"));
    scheduler.remove(id);
    store.deleteSchedule(id);
    return c.redirect("/schedules", 303);
  });

  // ---- webhooks -------------------------------------------------------------------
  /** The webhooks, and the form for a new one with `job`'s typed option fields (the schedule form's). */
  const hooksPage = (c: Context<Env>, job: JobDetail | undefined, extra: Record<string, unknown> = {}, status = 200) => {
    const secretOptions = job?.prompts.filter((p) => p.secret).map((p) => p.name) ?? [];
    const hooks = store.hooks().map((h) => ({ ...h, o: h.options as JobOptions }));
    return render(c, "hooks.njk", { hooks, jobs: jobs.list(), job, secretOptions, stores: secretStores(secretsDir), secretsDir, values: {}, form: {}, window: WINDOW_S, ...extra }, status);
  };
  app.get("/hooks", async (c) => hooksPage(c, await jobs.get(c.req.query("job") ?? jobs.list()[0]?.name ?? "")));
  app.post("/hooks", async (c) => {
    const s = c.get("session");
    if (!CAN.run(s.role)) return c.text(`${s.role}s cannot make webhooks`, 403);
    const body = await c.req.parseBody();
    const text = (k: string) => (typeof body[k] === "string" ? (body[k] as string).trim() : "");
    const form = { name: text("name").slice(0, 64) || "hook", job: text("job"), store: text("secret_store"), limit: text("limit"), check: body.check === "on" };
    const job = await jobs.get(form.job);
    const values = postedValues(job, body);
    const fixed = !job ? `no job ${form.job}` : fixedOptions(job, values, form, "webhook");
    if (typeof fixed === "string") return hooksPage(c, job, { error: fixed, form, values }, 400);
    const id = newToken().slice(0, 16);
    store.putHook({ id, name: form.name, job: fixed.job, options: fixed, secretStore: form.store || undefined, user: s.user });
    // The secret, shown this once (derived again when a delivery comes; kept nowhere).
    return hooksPage(c, job, { created: { id, name: form.name, secret: hookKeys().secret(id), url: `${new URL(c.req.url).origin}/webhooks/${id}` } });
  });
  app.post("/hooks/:id/delete", (c) => {
    const s = c.get("session");
    if (!CAN.run(s.role)) return c.text(`${s.role}s cannot change webhooks`, 403);
    store.deleteHook(c.req.param("id"));
    return c.redirect("/hooks", 303);
  });

  // ---- API tokens ---------------------------------------------------------------
  app.get("/tokens", (c) => render(c, "tokens.njk", { tokens: store.tokens(c.get("session").user) }));
  app.post("/tokens", async (c) => {
    const s = c.get("session");
    const body = await c.req.parseBody();
    const name = String(body.name ?? "").trim().slice(0, 64) || "token";
    const id = newToken().slice(0, 8);
    // Shown once, here; only its hash is kept.
    const token = `rbt_${id}_${newToken()}`;
    store.putToken({ id, name, user: s.user, hash: tokenHash(token) });
    return render(c, "tokens.njk", { tokens: store.tokens(s.user), created: { name, token } });
  });
  app.post("/tokens/:id/delete", (c) => {
    store.deleteToken(c.get("session").user, c.req.param("id"));
    return c.redirect("/tokens", 303);
  });

  // ---- ad-hoc commands -------------------------------------------------------
  app.get("/commands", (c) => {
    const again = store.options(c.req.query("rerun") ?? "");
    return render(c, "commands.njk", { values: again?.kind === "adhoc" ? again.options : {} });
  });

  app.post("/commands", async (c) => {
    const s = c.get("session");
    if (!CAN.run(s.role)) return c.text(`${s.role}s cannot run commands`, 403);
    const body = await c.req.parseBody();
    const text = (k: string) => (typeof body[k] === "string" ? (body[k] as string).trim() : "");
    const values: AdhocOptions = { pattern: text("pattern"), cmd: text("cmd"), timeout: text("timeout"), become: body.become === "on" };
    const again = (error: string) => render(c, "commands.njk", { values, error }, 400);
    if (!values.pattern || !values.cmd) return again("a pattern and a command are needed");
    const timeout = values.timeout ? Number(values.timeout) : undefined;
    if (timeout !== undefined && !(timeout > 0)) return again(`the timeout is a positive number of seconds, got ${values.timeout}`);
    let inv: Inventory;
    let hosts: string[];
    try {
      inv = await inventory();
      hosts = resolvePattern(inv, values.pattern);
      checkSshConfigs(inv, hosts, opts.sshConfig);
    } catch (err) {
      if (err instanceof ExitError) return again(err.message);
      throw err;
    }
    const password = typeof body.become_password === "string" && body.become_password ? body.become_password : undefined;
    const run = startAdhoc({
      inv,
      hosts,
      pattern: values.pattern,
      cmd: values.cmd,
      become: values.become ? { user: "root", password } : undefined,
      timeoutMs: timeout === undefined ? undefined : timeout * 1000,
      connect: { acceptNewHostKeys: false, forks: 50, sshConfig: opts.sshConfig },
      secrets: opts.vault?.passwords.map((p) => p.password),
      startedBy: s.user,
      stateDir: opts.stateDir,
    });
    track(run);
    store.putOptions(run.runId, "adhoc", values);
    return c.redirect(`/runs/${run.runId}`, 303);
  });

  // ---- runs -----------------------------------------------------------------

  app.get("/runs/:id", (c) => {
    const runId = c.req.param("id");
    const events = loadEvents(runId);
    if (!events) return c.notFound();
    const view = runView(runId, events);
    const diffs = view.hosts.flatMap((h) => h.tasks.filter((t) => t.diffs.length).map((t) => ({ host: h.name, task: t.task, diffs: t.diffs })));
    const stoppable = active.all.has(runId) && view.state === "running" && CAN.run(c.get("session").role);
    // An ad-hoc command's output grouped by identical result, as `runbook run` prints it.
    // (A long one shows its last lines; the whole is on the first host's output pages.)
    const groups = view.start?.adhoc && view.end
      ? groupOutputs(view.hosts.map((h) => h.name), (name) => adhocOutcome(view.hosts.find((h) => h.name === name)!)).map((g) => {
          const lines = g.out.replace(/\n$/, "").split("\n");
          const earlier = Math.max(0, lines.length - LOG.tail);
          return { ...g, title: foldNodeset(g.hosts), out: earlier ? lines.slice(earlier).join("\n") : g.out, earlier, seq: view.hosts.find((h) => h.name === g.hosts[0])?.tasks[0]?.seq };
        })
      : [];
    const again = store.options(runId);
    const rerun = !CAN.run(c.get("session").role) || !again ? undefined : again.kind === "adhoc" ? `/commands?rerun=${runId}` : `/jobs/${(again.options as JobOptions).job}?rerun=${runId}`;
    const log = logView(view, c.req.query("host"));
    return render(c, "run.njk", { run: view, log, diffs, status: view.start ? runStatus({ state: view.state, exitCode: view.end?.exitCode ?? null }) : "crashed", stoppable, groups, rerun });
  });

  // A task's whole output, paged (the run page shows the last lines of a long one).
  app.get("/runs/:id/output/:seq", (c) => {
    const runId = c.req.param("id");
    const events = loadEvents(runId);
    if (!events) return c.notFound();
    const view = runView(runId, events);
    const seq = Number(c.req.param("seq"));
    const host = view.hosts.find((h) => h.tasks.some((t) => t.seq === seq));
    const task = host?.tasks.find((t) => t.seq === seq);
    if (!host || !task) return c.notFound();
    const lines = taskLines(task);
    const pages = Math.max(1, Math.ceil(lines.length / LOG.page));
    const asked = c.req.query("page");
    const page = asked === "last" ? pages : Math.min(pages, Math.max(1, Math.floor(Number(asked ?? 1)) || 1));
    const first = (page - 1) * LOG.page;
    return render(c, "output.njk", { run: view, host: host.name, task, lines: lines.slice(first, first + LOG.page), first: first + 1, total: lines.length, page, pages, big: logView(view).big });
  });

  app.post("/runs/:id/stop", (c) => {
    if (!CAN.run(c.get("session").role)) return c.text("viewers cannot stop runs", 403);
    const run = active.all.get(c.req.param("id"));
    if (!run) return c.text("not a run of this server, or already ended", 409);
    if (run.stop("stopped from the web UI")) run.note("warn", `stopped by ${c.get("session").user} from the web UI: no new task starts; running commands get their grace period`);
    return c.redirect(`/runs/${run.runId}`, 303);
  });

  app.get("/runs/:id/stream", (c) => {
    const runId = c.req.param("id");
    const file = join(runsDir(opts.stateDir), `${runId}.jsonl`);
    if (!/^[\w.-]+$/.test(runId) || !existsSync(file)) return c.notFound();
    const after = Number(c.req.query("after") ?? c.req.header("last-event-id") ?? 0) || 0;
    return streamSSE(c, async (stream) => {
      const send = (e: StampedEvent) => stream.writeSSE({ id: String(e.seq), event: "run", data: JSON.stringify(e) });
      const run = active.all.get(runId);
      if (run) {
        for await (const e of run.events()) {
          if (stream.aborted) return;
          if (e.seq > after) await send(e);
        }
        return;
      }
      // Another process's run: tail its file until its end record, or until
      // its process is gone (crashed) and nothing more comes.
      let offset = 0;
      let start: RunSummary["start"] | undefined;
      // Woken by the file's changes (inotify), and once a second regardless
      // (to notice a runner that died, or where watching is not possible).
      const changes = fileChanges(file);
      stream.onAbort(changes.close);
      while (!stream.aborted) {
        const r = readFrom(file, offset);
        offset = r.offset;
        for (const e of r.events) {
          if (e.type === "run.start") start = e;
          if (e.seq > after) await send(e);
          if (e.type === "run.end") return;
        }
        if (r.events.length === 0 && start && runState(start, undefined) === "crashed") {
          await stream.writeSSE({ event: "gone", data: "crashed" });
          return;
        }
        await changes.next(1000);
      }
      changes.close();
    });
  });

  // ---- history --------------------------------------------------------------
  const historyFilter = (c: Context<Env>) => ({ host: c.req.query("host") || undefined, status: c.req.query("status") || undefined, user: c.req.query("user") || undefined, job: c.req.query("job") || undefined });
  const historyPage = (c: Context<Env>) => {
    const page = Math.max(1, Math.floor(Number(c.req.query("page") ?? 1)) || 1);
    store.refresh();
    // One more row than shown tells whether there is an older page.
    const rows = store.runs({ ...historyFilter(c), limit: PAGE + 1, offset: (page - 1) * PAGE }).map((r) => ({ ...r, status: runStatus(r) }));
    const search = new URLSearchParams(new URL(c.req.url).search);
    const at = (p: number) => (search.set("page", String(p)), `?${search}`);
    return { runs: rows.slice(0, PAGE), page, newer: page > 1 ? at(page - 1) : undefined, older: rows.length > PAGE ? at(page + 1) : undefined };
  };
  app.get("/history", (c) => render(c, "history.njk", { ...historyPage(c), filter: historyFilter(c), choices: store.choices(), statuses: STATUSES, query: new URL(c.req.url).search, retention: opts.retention }));
  app.get("/history/rows", (c) => render(c, "history-rows.njk", historyPage(c)));

  // ---- users ----------------------------------------------------------------
  app.get("/users", (c) => (CAN.admin(c.get("session").role) ? render(c, "users.njk", { users: store.users(), roles: ROLES }) : c.text("admins only", 403)));
  app.post("/users", async (c) => {
    if (!CAN.admin(c.get("session").role)) return c.text("admins only", 403);
    const body = await c.req.parseBody();
    const name = String(body.name ?? "").trim();
    const role = String(body.role ?? "") as Role;
    const password = String(body.password ?? "");
    const problem = !/^[\w.@-]{1,64}$/.test(name) ? "a user name is 1-64 letters, digits, . _ @ -" : !ROLES.includes(role) ? "no such role" : password.length < 8 ? "a password has at least 8 characters" : undefined;
    if (problem) return render(c, "users.njk", { users: store.users(), roles: ROLES, error: problem }, 400);
    store.putUser(name, role, await hashPassword(password));
    sessions.updateUser(name, role);
    return c.redirect("/users", 303);
  });

  // Bad input (a broken inventory or playbook, a bad pattern): the error names
  // the file or field, as the CLI's does; in the layout for pages, JSON for the API.
  app.onError((err, c) => {
    if (err instanceof ExitError) return c.req.path.startsWith("/api/") ? c.json({ error: err.message }, 400) : render(c, "error.njk", { title: "Cannot show this page", message: err.message }, 400);
    console.error(`runbook serve: ${c.req.method} ${c.req.path}: ${(err as Error).stack ?? err}`);
    return c.text("internal error (see the server's log)", 500);
  });

  /** Applies the retention settings (at start and periodically); never to a run this server is running. */
  const prune = (): string[] => (opts.retention ? store.prune(opts.retention, new Set(active.all.keys())) : []);

  return { app, store, active, scheduler, prune };
}

/** Waits for changes to a file: `next(ms)` resolves on the next change, or after `ms`. */
function fileChanges(file: string): { next: (ms: number) => Promise<void>; close: () => void } {
  let wake: (() => void) | undefined;
  let changed = false;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(file, { persistent: false }, () => {
      changed = true;
      wake?.();
    });
    watcher.on("error", () => watcher?.close());
  } catch {
    // not watchable: the timeout alone paces the reads
  }
  return {
    next: (ms) =>
      new Promise<void>((resolve) => {
        if (changed) {
          changed = false;
          return resolve();
        }
        const t = setTimeout(done, ms);
        function done() {
          clearTimeout(t);
          wake = undefined;
          changed = false;
          resolve();
        }
        wake = done;
      }),
    close: () => watcher?.close(),
  };
}

/** The non-secret options of a job run from submitted values (`get(name)`: what was given for that option), typed as their prompts say. */
function jobOptions(job: JobDetail, get: (name: string) => unknown, rest: Omit<JobOptions, "job" | "values">): JobOptions {
  const values = Object.fromEntries(job.prompts.filter((p) => !p.secret && get(p.name) !== undefined).map((p) => [p.name, typedAnswer(p, get(p.name))]));
  return { job: job.name, values, ...rest };
}

/** What a posted form gives for each option (`opt_NAME`): a boolean's checkbox is true when checked, false when not (a form sends nothing for it). */
function formAnswers(job: JobDetail, body: Record<string, unknown>): (name: string) => unknown {
  return (name) => {
    const v = body[`opt_${name}`];
    return job.prompts.find((p) => p.name === name)?.type === "boolean" ? v === "true" : typeof v === "string" ? v : undefined;
  };
}

/**
 * A schedule's or webhook's option fields as posted (an empty one is not
 * given). A secret one, which the form does not show, is refused later by
 * `fixedOptions`: its value comes from the secret store.
 */
function postedValues(job: JobDetail | undefined, body: Record<string, unknown>): Record<string, unknown> {
  if (!job) return {};
  const given = formAnswers(job, body);
  return Object.fromEntries(job.prompts.map((p) => [p.name, given(p.name)]).filter(([, v]) => v !== undefined && v !== ""));
}

/** The secret options given (an empty one is not given). */
function secretAnswers(job: JobDetail, get: (name: string) => unknown): Record<string, Secret> {
  return Object.fromEntries(job.prompts.filter((p) => p.secret && typeof get(p.name) === "string" && get(p.name) !== "").map((p) => [p.name, new Secret(get(p.name) as string)]));
}

/** What a job run was started with, kept to start it again (no secret). */
interface JobOptions {
  job: string;
  /** Typed as the job's prompts say (a boolean option's value is true or false). */
  values: Record<string, unknown>;
  limit: string;
  tags: string;
  check: boolean;
  diff: boolean;
}

/** What an ad-hoc command was started with (the sudo password is not kept). */
interface AdhocOptions {
  pattern: string;
  cmd: string;
  timeout: string;
  become: boolean;
}

/** An ad-hoc run's host as `groupOutputs` takes it: its command's result, or why it was unreachable. */
function adhocOutcome(h: HostView): HostOutcome | undefined {
  const t = h.tasks[0];
  if (h.status === "unreachable") return { ok: false, error: h.messages.join("; ") };
  if (!t || t.rc === undefined) return undefined;
  return { ok: true, value: { code: t.rc, stdout: t.stdout ?? "", stderr: t.stderr ?? "" } as RunResult };
}

const DUMMY_HASH = "scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

/** A local path to go to after login, never another site. */
function safeNext(next: string | undefined): string | undefined {
  return next && next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/\\") ? next : undefined;
}

function clientAddress(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? "unknown";
  } catch {
    return "unknown";
  }
}

/** Variables for display: Secrets (and anything named like a password) masked. */
function maskVars(vars: Record<string, unknown>): { key: string; value: string; secret: boolean }[] {
  return Object.entries(vars).map(([key, v]) => {
    // A Secret's JSON is the mask, also inside a list or map.
    const secret = v instanceof Secret || /(^|_)(pass(word)?|secret|token)($|_)/i.test(key);
    return { key, secret, value: secret ? MASK : typeof v === "string" ? v : JSON.stringify(v) };
  });
}

function nodeView(inv: Inventory, name: string) {
  const h = inv.hosts.get(name)!;
  const vars = hostVars(inv, name);
  return {
    name,
    address: h.conn.address,
    user: h.conn.user ?? "",
    port: h.conn.port ?? "",
    groups: h.groups.filter((g) => g !== "all"),
    vars: maskVars(vars.vars).map((v) => ({ ...v, source: vars.sources[v.key] ?? "" })),
    source: `${h.source.file}${h.source.line ? `:${h.source.line}` : ""}`,
  };
}
