/**
 * `runbook serve` end to end, in Debian's chromium (puppeteer-core) against
 * lab hosts: log in; start a job typing its secret option into the form;
 * watch the live log grow before the run ends; the run page with its
 * diffs and timeline (a failed host marked); a `runbook play` started in
 * another process appears and is followed live; history filtered by host;
 * a viewer gets 403 starting a job; a POST without the CSRF token is
 * refused. Then a canary (the secret option's value) is searched for in
 * every page and response the browser saw, the event stream, the SQLite
 * database, the history files and the server's output: zero hits.
 *
 * The job waits on a gate file on each host (test/fixtures/serve/deploy.ts),
 * so "before the run ends" does not depend on timing. Screenshots of each
 * page go to RUNBOOK_SCREENSHOTS (docs/screenshots for the docs), else a
 * temp dir.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { request as httpsRequestRaw } from "node:https";
import { createHmac, randomBytes } from "node:crypto";
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "puppeteer-core";
import * as assert from "uvu/assert";
import { labSuite, ssh } from "../lab/fixture.ts";
import type { Lab } from "../lab/lab.ts";
import { ensureChromium, launch } from "./browser.ts";
import { poll, runbook, underPty } from "./harness.ts";

const CANARY = `rbcanary${randomBytes(6).toString("hex")}`;
const INV_SECRET = `${CANARY}-inventory`;
const SHOTS = process.env.RUNBOOK_SCREENSHOTS ?? mkdtempSync(join(tmpdir(), "rb-shots-"));
const WAIT = 180_000;

const s = await labSuite("serve: the web UI in a real browser", { hosts: 2 });

/** Starts `runbook serve` on a free port; resolves with its URL once it listens. */
function startServer(args: string[], env: NodeJS.ProcessEnv): Promise<{ url: string; child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, ["bin/runbook.js", "serve", "--port", "0", ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`runbook serve did not start:\n${out}`)), 60_000);
    const onData = (d: Buffer) => {
      out += d;
      const m = /runbook serve: (https?:\/\/\S+?)\/? /.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1]!, child, output: () => out });
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.on("exit", (code) => reject(new Error(`runbook serve exited ${code}:\n${out}`)));
  });
}

function exited(child: ChildProcess): Promise<unknown> {
  return new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once("exit", r)));
}

/** Every HTML, text and JSON response body a page received, for the canary search. */
function recordResponses(page: Page, into: string[]): void {
  page.on("response", async (r) => {
    const type = r.headers()["content-type"] ?? "";
    if (!/html|text\/plain|json/.test(type)) return;
    try {
      into.push(`${r.url()}\n${await r.text()}`);
    } catch {
      // a redirect or a body already gone: nothing to read
    }
  });
}

async function shot(page: Page, name: string, fullPage = true): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage });
}

async function login(page: Page, url: string, user: string, password: string): Promise<void> {
  await page.goto(`${url}/login`);
  await page.type("input[name=user]", user);
  await page.type("input[name=password]", password);
  await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
  assert.not.match(page.url(), /\/login/, `${user} is logged in`);
}

const gate = (lab: Lab, open: boolean) => Promise.all(lab.hosts.map((h) => ssh(lab, h, open ? "mkdir -p /srv/serve-demo && touch /srv/serve-demo/gate" : "rm -f /srv/serve-demo/gate")));

/** Lines of the live log of a host's gate step. */
const ticks = (page: Page, host: string) =>
  page.$$eval(`#host-${host} li[data-task="wait for the gate"] pre.out`, (els) => (els[0]?.textContent ?? "").split("\n").filter((l) => l.startsWith("tick")).length);

s("serve: jobs, live log, run page, CLI runs, history, roles, CSRF, and the canary nowhere", async ({ lab }) => {
  const chromium = await ensureChromium((l) => console.error(l));
  assert.ok(chromium, "chromium is installed (apt-get install chromium)");
  const state = mkdtempSync(join(tmpdir(), "rb-serve-state-"));
  const extraInv = join(state, "..", `rb-serve-inv-${randomBytes(3).toString("hex")}.yml`);
  writeFileSync(extraInv, `all:\n  vars:\n    deployPassword: !secret '${INV_SECRET}'\n`);
  const serveArgs = ["-i", lab.inventory, "-i", extraInv, "--playbooks", "test/fixtures/serve"];
  let server = await startServer(serveArgs, { RUNBOOK_STATE_DIR: state, RUNBOOK_ADMIN_PASSWORD: "admin-pass-1" });
  const firstServer = server;
  const { url } = server;
  const seen: string[] = [];
  let browser: Browser | undefined;
  let cli: ChildProcess | undefined;
  try {
    browser = await launch(chromium!);
    const page = await browser.newPage();
    page.setDefaultTimeout(WAIT);
    recordResponses(page, seen);

    // Log in.
    await page.goto(`${url}/history`);
    assert.match(page.url(), /\/login\?next=%2Fhistory/);
    await shot(page, "login");
    await login(page, url, "admin", "admin-pass-1");
    assert.match(page.url(), /\/history$/);

    // Nodes: both hosts, the inventory secret masked.
    await page.goto(`${url}/nodes`);
    const nodes = await page.$$eval("tr.node", (rows) => rows.map((r) => (r as HTMLElement).dataset.node));
    assert.equal(nodes, lab.hosts.map((h) => h.name));
    await page.$$eval("tr.node details", (ds) => ds.forEach((d) => ((d as HTMLDetailsElement).open = true)));
    assert.match(await page.$eval("tr.node", (r) => r.textContent ?? ""), /deployPassword\s*\*{8}/);
    await shot(page, "nodes");

    // Jobs, then the job's form: the secret typed in, a choice, a text option.
    await page.goto(`${url}/jobs`);
    await shot(page, "jobs");
    await page.goto(`${url}/jobs/deploy`);
    assert.is(await page.$eval("input[name=opt_token]", (i) => (i as HTMLInputElement).type), "password");
    await gate(lab, false);
    await page.type("input[name=opt_token]", CANARY);
    await page.select("select[name=opt_channel]", "testing");
    await page.$eval("input[name=opt_failOn]", (i) => ((i as HTMLInputElement).value = ""));
    await page.type("input[name=opt_failOn]", lab.hosts[1]!.name);
    await page.click("input[name=diff]");
    await shot(page, "job");
    await Promise.all([page.waitForNavigation(), page.click("button#run")]);
    assert.match(page.url(), /\/runs\/\d{8}-\d{6}-[0-9a-f]{4}$/);
    const uiRun = page.url().split("/").pop()!;

    // The live log grows while the run waits on the gate (no reload: the marker stays).
    const [t1, t2] = lab.hosts.map((h) => h.name) as [string, string];
    await page.waitForFunction((h) => (document.querySelector(`#host-${h} li[data-task="wait for the gate"] pre.out`)?.textContent ?? "").includes("tick 1"), {}, t1);
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 1));
    const before = await ticks(page, t1);
    await page.waitForFunction((h, n) => (document.querySelector(`#host-${h} li[data-task="wait for the gate"] pre.out`)?.textContent ?? "").split("\n").filter((l) => l.startsWith("tick")).length > n + 2, {}, t1, before);
    assert.is(await page.evaluate(() => (window as unknown as { marker?: number }).marker), 1, "the log grew without a reload");
    assert.is(await page.$eval("#run-status", (e) => e.textContent), "running");
    assert.is(await page.$eval(`[data-host-status="${t1}"]`, (e) => e.textContent), "running");
    await shot(page, "run-live");

    // Open the gate: the run ends, the page reloads with recap, diffs and timeline.
    await gate(lab, true);
    await page.waitForFunction(() => document.querySelector("#run-status")?.textContent === "failed", { timeout: WAIT });
    const hostStatus = await page.$$eval("#hosts tbody tr", (rows) => rows.map((r) => [(r as HTMLElement).dataset.host, r.querySelector(".badge")?.textContent]));
    assert.equal(hostStatus, [[t1, "changed"], [t2, "failed"]]);
    const diffs = await page.$$eval(".diff", (ds) => ds.map((d) => d.textContent ?? "").join("\n"));
    assert.match(diffs, /\+channel = testing/);
    assert.match(diffs, /token: secret content changed/);
    assert.ok((await page.$$("svg.timeline rect.bar-failed")).length >= 1, "the failed task is a red bar");
    assert.ok((await page.$$("svg.timeline text.failmark")).length >= 1, "and marked");
    assert.is((await page.$$("svg.timeline text.hostlabel")).length, 2);
    await shot(page, "run");

    // A run started by `runbook play` in another process appears, and is followed live.
    await gate(lab, false);
    await page.goto(`${url}/history`);
    cli = spawn(process.execPath, ["bin/runbook.js", "play", "test/fixtures/serve/deploy.ts", "-i", lab.inventory, "-l", t2, "--diff"], {
      env: { ...process.env, RUNBOOK_STATE_DIR: state, RUNBOOK_VAR_token: CANARY },
      stdio: "ignore",
    });
    const cliExit = new Promise<number | null>((r) => cli!.on("exit", r));
    const cliRun = await page.waitForFunction(
      (ui) => [...document.querySelectorAll("#history tr.run")].map((r) => r as HTMLElement).find((r) => r.dataset.run !== ui && r.classList.contains("st-running"))?.dataset.run,
      { timeout: WAIT },
      uiRun,
    );
    const cliRunId = (await cliRun.jsonValue()) as string;
    await page.goto(`${url}/runs/${cliRunId}`);
    await page.waitForFunction((h) => (document.querySelector(`#host-${h} li[data-task="wait for the gate"] pre.out`)?.textContent ?? "").includes("tick"), {}, t2);
    const cliBefore = await ticks(page, t2);
    await page.waitForFunction((h, n) => (document.querySelector(`#host-${h} li[data-task="wait for the gate"] pre.out`)?.textContent ?? "").split("\n").filter((l) => l.startsWith("tick")).length > n + 1, {}, t2, cliBefore);
    assert.is(await page.$eval("#run-status", (e) => e.textContent), "running");
    await gate(lab, true);
    assert.is(await cliExit, 0);
    await page.waitForFunction(() => document.querySelector("#run-status")?.textContent === "ok", { timeout: WAIT });

    // History filtered by host (through the form): the CLI run touched only t2.
    await page.goto(`${url}/history`);
    await page.select("select[name=host]", t1);
    await Promise.all([page.waitForNavigation(), page.click("#history-filter button[type=submit]")]);
    assert.match(page.url(), new RegExp(`host=${t1}`));
    const filtered = await page.$$eval("#history tr.run", (rows) => rows.map((r) => [(r as HTMLElement).dataset.run, (r as HTMLElement).dataset.hosts]));
    assert.equal(filtered.map((f) => f[0]), [uiRun]);
    await page.goto(`${url}/history`);
    const everything = await page.$$eval("#history tr.run", (rows) => rows.map((r) => (r as HTMLElement).dataset.run));
    assert.equal(everything, [cliRunId, uiRun]);
    await shot(page, "history");

    // A POST without the CSRF token is refused (and makes no user).
    const noToken = await page.evaluate(async () => (await fetch("/users", { method: "POST", body: new URLSearchParams({ name: "mallory", role: "admin", password: "mallory-pass" }) })).status);
    assert.is(noToken, 403);

    // An admin adds a viewer; the viewer sees the job but cannot start it (403).
    await page.goto(`${url}/users`);
    await page.type("input[name=name]", "vic");
    await page.select("select[name=role]", "viewer");
    await page.type("input[name=password]", "viewer-pass-1");
    await Promise.all([page.waitForNavigation(), page.click("form.card button[type=submit]")]);
    assert.equal(await page.$$eval("table.list tbody tr td:first-child", (tds) => tds.map((t) => t.textContent)), ["admin", "vic"]);
    await shot(page, "users");
    const viewerCtx = await browser.createBrowserContext();
    const vpage = await viewerCtx.newPage();
    vpage.setDefaultTimeout(WAIT);
    recordResponses(vpage, seen);
    await login(vpage, url, "vic", "viewer-pass-1");
    await vpage.goto(`${url}/jobs/deploy`);
    assert.is(await vpage.$("button#run"), null, "no run button for a viewer");
    const viewerPost = await vpage.evaluate(async () => {
      const csrf = (document.querySelector("input[name=_csrf]") as HTMLInputElement).value;
      return (await fetch("/jobs/deploy/run", { method: "POST", body: new URLSearchParams({ _csrf: csrf, opt_token: "x" }) })).status;
    });
    assert.is(viewerPost, 403);
    await shot(vpage, "job-viewer");

    // The canary: every page and response, the event streams, the database, the history, the server's output.
    const cookie = (await page.cookies()).map((c) => `${c.name}=${c.value}`).join("; ");
    for (const id of [uiRun, cliRunId]) {
      const stream = await fetch(`${url}/runs/${id}/stream?after=0`, { headers: { cookie } });
      const text = await stream.text();
      assert.match(text, /"type":"run\.end"/, "the stream replays the whole run");
      seen.push(text);
    }
    const dbText = readFileSync(join(state, "serve.db")).toString("latin1");
    assert.match(dbText, new RegExp(uiRun), "the database indexes the runs");
    const runFiles = readdirSync(join(state, "runs")).map((f) => readFileSync(join(state, "runs", f), "utf8"));
    assert.is(runFiles.length, 2);
    for (const [where, text] of [
      ["pages and responses", seen.join("\n")],
      ["the database", dbText],
      ["the history files", runFiles.join("\n")],
      ["the server's output", firstServer.output()],
    ] as const) {
      assert.not.ok(text.includes(CANARY), `${where} hold the canary`);
      assert.not.ok(text.includes(Buffer.from(CANARY).toString("base64")), `${where} hold the canary in base64`);
    }
    assert.ok(seen.length > 10, `responses were recorded (${seen.length})`);
    // It did reach the hosts, where it was sent.
    assert.is((await ssh(lab, t1, "cat /srv/serve-demo/token")).stdout, CANARY);

    // Killing the server mid-run loses no record: on the next start the run is crashed, never running.
    await gate(lab, false);
    await page.goto(`${url}/jobs/deploy`);
    await page.type("input[name=opt_token]", CANARY);
    await Promise.all([page.waitForNavigation(), page.click("button#run")]);
    const killedRun = page.url().split("/").pop()!;
    await page.waitForFunction((h) => (document.querySelector(`#host-${h} li[data-task="wait for the gate"] pre.out`)?.textContent ?? "").includes("tick"), {}, t1);
    server.child.kill("SIGKILL");
    await exited(server.child);
    // No admin password this time: the users are in the store.
    server = await startServer(serveArgs, { RUNBOOK_STATE_DIR: state, RUNBOOK_ADMIN_PASSWORD: "" });
    await gate(lab, true);
    const page2 = await browser.newPage();
    page2.setDefaultTimeout(WAIT);
    recordResponses(page2, seen);
    await login(page2, server.url, "admin", "admin-pass-1");
    await page2.goto(`${server.url}/history`);
    const states = await page2.$$eval("#history tr.run", (rows) => rows.map((r) => [(r as HTMLElement).dataset.run, r.querySelector(".badge")?.textContent]));
    assert.equal(states, [[killedRun, "crashed"], [cliRunId, "ok"], [uiRun, "failed (2)"]]);
    await page2.goto(`${server.url}/runs/${killedRun}`);
    assert.is(await page2.$eval("#run-status", (e) => e.textContent), "crashed");
    assert.not.ok(seen.join("\n").includes(CANARY), "no page after the restart holds the canary");
    assert.not.ok(readFileSync(join(state, "runs", `${killedRun}.jsonl`), "utf8").includes(CANARY));
  } finally {
    cli?.kill("SIGKILL");
    await browser?.close();
    server.child.kill("SIGTERM");
    await exited(server.child);
  }
});

/** A new page of `browser`, logged in as the admin. */
async function adminPage(browser: Browser, url: string): Promise<Page> {
  const page = await browser.newPage();
  page.setDefaultTimeout(WAIT);
  await login(page, url, "admin", "admin-pass-1");
  return page;
}

/** The run's recorded end (the last line of its history file). */
const endRecord = (state: string, runId: string) => JSON.parse(readFileSync(join(state, "runs", `${runId}.jsonl`), "utf8").trim().split("\n").pop()!) as { type: string; interrupted?: string; exitCode?: number };

s("serve: Stop from the UI interrupts a run or an ad-hoc command as Ctrl-C does; SIGTERM on the server stops its runs and commands", async ({ lab }) => {
  const chromium = await ensureChromium((l) => console.error(l));
  assert.ok(chromium, "chromium is installed (apt-get install chromium)");
  const state = mkdtempSync(join(tmpdir(), "rb-serve-stop-"));
  const serveArgs = ["-i", lab.inventory, "--playbooks", "test/fixtures/serve"];
  // The grace period running commands get after a stop (the CLI's too), short for the test.
  const env = { RUNBOOK_STATE_DIR: state, RUNBOOK_ADMIN_PASSWORD: "admin-pass-1", RUNBOOK_STOP_GRACE_MS: "1500" };
  let server = await startServer(serveArgs, env);
  let browser: Browser | undefined;
  const [t1] = lab.hosts.map((h) => h.name) as [string];
  const startDeploy = async (page: Page, url: string) => {
    await page.goto(`${url}/jobs/deploy`);
    await page.type("input[name=opt_token]", "stop-test-token");
    await Promise.all([page.waitForNavigation(), page.click("button#run")]);
    const runId = page.url().split("/").pop()!;
    await page.waitForFunction((h) => (document.querySelector(`#host-${h} li[data-task="wait for the gate"] pre.out`)?.textContent ?? "").includes("tick"), {}, t1);
    return runId;
  };
  try {
    await gate(lab, false);
    browser = await launch(chromium!);
    const page = await adminPage(browser, server.url);

    // Stop from the run page: the gate never opens, yet the run ends, interrupted.
    const stopped = await startDeploy(page, server.url);
    assert.is(await page.$eval("#run-status", (e) => e.textContent), "running");
    await shot(page, "run-stop");
    await Promise.all([page.waitForNavigation(), page.click("form[action$='/stop'] button")]);
    await page.waitForFunction(() => document.querySelector("#run-status")?.textContent === "interrupted", { timeout: WAIT });
    const end = endRecord(state, stopped);
    assert.is(end.type, "run.end");
    assert.is(end.interrupted, "stopped from the web UI");
    assert.is(end.exitCode, 130, "the exit code of an interrupted play");
    assert.match(await page.$eval("main", (e) => e.textContent ?? ""), /stopped by admin from the web UI/);
    assert.is(await page.$("form[action$='/stop']"), null, "no Stop button on an ended run");
    assert.is(await page.$eval(`#host-${t1} li[data-task="wait for the gate"] .badge`, (e) => e.textContent), "interrupted", "the task cut off by the stop");
    await shot(page, "run-stopped");
    await page.goto(`${server.url}/history?status=interrupted`);
    assert.equal(await page.$$eval("#history tr.run", (rows) => rows.map((r) => (r as HTMLElement).dataset.run)), [stopped]);

    // An ad-hoc command: its output shows while it runs, and Stop cuts it off after the grace period.
    const ticker = "for i in $(seq 1 600); do echo tick $i; sleep 0.2; done";
    const startTicker = async (p: Page) => {
      await p.goto(`${server.url}/commands`);
      await p.type("input[name=pattern]", t1);
      await p.type("input[name=cmd]", ticker);
      await Promise.all([p.waitForNavigation(), p.click("button#run")]);
      await p.waitForFunction((h) => /tick 3\b/.test(document.querySelector(`#host-${h} pre.out`)?.textContent ?? ""), { timeout: WAIT }, t1);
      return p.url().split("/").pop()!;
    };
    const command = await startTicker(page);
    assert.is(await page.$eval("#run-status", (e) => e.textContent), "running", "the output came before the command ended");
    await Promise.all([page.waitForNavigation(), page.click("form[action$='/stop'] button")]);
    await page.waitForFunction(() => document.querySelector("#run-status")?.textContent === "interrupted", { timeout: WAIT });
    assert.is(endRecord(state, command).interrupted, "stopped from the web UI");
    assert.is(await page.$eval(`[data-host-status="${t1}"]`, (e) => e.textContent), "interrupted");
    assert.match(await page.$eval("main", (e) => e.textContent ?? ""), new RegExp(`${t1} \\(1\\) cut off after the grace period`));
    assert.match(await page.$eval(`#host-${t1} pre.out`, (e) => e.textContent ?? ""), /tick 3\n/, "the output until the cut is kept");
    await shot(page, "command-stopped");

    // SIGTERM on the server mid-run: the run and the ad-hoc command are stopped and their end records written before it exits.
    const running = await startDeploy(page, server.url);
    const commandRunning = await startTicker(page);
    const exit = new Promise<number | null>((r) => server.child.once("exit", (code) => r(code)));
    server.child.kill("SIGTERM");
    assert.is(await exit, 143, "runbook serve exits 143 after a SIGTERM that stopped a run");
    for (const id of [running, commandRunning]) {
      const termEnd = endRecord(state, id);
      assert.is(termEnd.type, "run.end", id);
      assert.is(termEnd.interrupted, "SIGTERM", id);
    }
    assert.match(server.output(), /stopping; 2 run\(s\) stop with it/i);

    // On the next start the history says interrupted, never running or crashed.
    server = await startServer(serveArgs, { ...env, RUNBOOK_ADMIN_PASSWORD: "" });
    const page2 = await adminPage(browser, server.url);
    await page2.goto(`${server.url}/history`);
    const states = await page2.$$eval("#history tr.run", (rows) => rows.map((r) => [(r as HTMLElement).dataset.run, r.querySelector(".badge")?.textContent]));
    assert.equal(states, [[commandRunning, "interrupted"], [running, "interrupted"], [command, "interrupted"], [stopped, "interrupted"]]);
  } finally {
    await gate(lab, true);
    await browser?.close();
    server.child.kill("SIGTERM");
    await exited(server.child);
  }
});

s("serve: ad-hoc commands grouped like runbook run and recorded in history; re-run with the same options, secrets typed again", async ({ lab }) => {
  const chromium = await ensureChromium((l) => console.error(l));
  assert.ok(chromium, "chromium is installed (apt-get install chromium)");
  const state = mkdtempSync(join(tmpdir(), "rb-serve-adhoc-"));
  const serveArgs = ["-i", lab.inventory, "--playbooks", "test/fixtures/serve"];
  const server = await startServer(serveArgs, { RUNBOOK_STATE_DIR: state, RUNBOOK_ADMIN_PASSWORD: "admin-pass-1" });
  let browser: Browser | undefined;
  const [t1, t2] = lab.hosts.map((h) => h.name) as [string, string];
  const cmd = `echo same on every host; [ "$(hostname)" = "${t2}" ] && exit 3; true`;
  const groupsOf = (page: Page) => page.$$eval(".group", (gs) => gs.map((g) => [(g as HTMLElement).dataset.hosts, g.querySelector(".grouphead")?.textContent?.replace(/\s+/g, " ").trim(), g.querySelector("pre")?.textContent]));
  try {
    await gate(lab, true);
    browser = await launch(chromium!);
    const page = await adminPage(browser, server.url);

    // A command on every host; the output grouped as `runbook run` groups it.
    await page.goto(`${server.url}/commands`);
    await page.type("input[name=pattern]", "all");
    await page.type("input[name=cmd]", cmd);
    await shot(page, "commands");
    await Promise.all([page.waitForNavigation(), page.click("button#run")]);
    const adhocRun = page.url().split("/").pop()!;
    await page.waitForFunction(() => document.querySelector("#run-status")?.textContent === "failed", { timeout: WAIT });
    const groups = await groupsOf(page);
    assert.equal(groups, [
      [t1, `${t1} (1)`, "same on every host\n"],
      [t2, `${t2} (1) exit 3`, "same on every host\n"],
    ]);
    await shot(page, "command-run");
    const cli = await runbook(["run", "all", "-i", lab.inventory, "--", cmd], { env: { RUNBOOK_STATE_DIR: mkdtempSync(join(tmpdir(), "rb-cli-")) } });
    const cliTitles = cli.stdout.split("\n").filter((l) => /^\S+ \(\d+\)/.test(l)).map((l) => l.replace(/\s+/g, " ").trim());
    assert.equal(cliTitles, groups.map((g) => g[1]), "the same groups as runbook run prints");

    // Recorded in the history like the CLI's ad-hoc runs, by the UI's user.
    await page.goto(`${server.url}/history`);
    const row = await page.$eval(`#history tr.run[data-run="${adhocRun}"]`, (r) => r.textContent?.replace(/\s+/g, " ") ?? "");
    assert.match(row, /run all -- echo same on every host/);
    assert.match(row, /admin/);

    // Run again: the same pattern and command, prefilled.
    await page.goto(`${server.url}/runs/${adhocRun}`);
    await Promise.all([page.waitForNavigation(), page.click("a#rerun")]);
    assert.is(await page.$eval("input[name=pattern]", (i) => (i as HTMLInputElement).value), "all");
    assert.is(await page.$eval("input[name=cmd]", (i) => (i as HTMLInputElement).value), cmd);
    await Promise.all([page.waitForNavigation(), page.click("button#run")]);
    assert.is.not(page.url().split("/").pop(), adhocRun);
    await page.waitForFunction(() => document.querySelector("#run-status")?.textContent === "failed", { timeout: WAIT });
    assert.equal(await groupsOf(page), groups);

    // Typed options: a number out of its bounds is refused by the server (the browser's own check
    // switched off), naming the option, and nothing runs; the checkbox comes back checked.
    await page.goto(`${server.url}/jobs/deploy`);
    const runsBefore = readdirSync(join(state, "runs")).length;
    await page.type("input[name=opt_token]", "rerun-secret-0");
    await page.click("input[name=opt_verbose]");
    await page.$eval("input[name=opt_replicas]", (i) => ((i as HTMLInputElement).value = ""));
    await page.type("input[name=opt_replicas]", "12");
    await page.$eval("form.runform", (f) => ((f as HTMLFormElement).noValidate = true));
    await Promise.all([page.waitForNavigation(), page.click("button#run")]);
    assert.match(await page.$eval(".error", (e) => e.textContent ?? ""), /prompt replicas: expected at most 9, got number 12/);
    assert.is(readdirSync(join(state, "runs")).length, runsBefore, "nothing ran");
    assert.ok(await page.$eval("input[name=opt_verbose]", (i) => (i as HTMLInputElement).checked));
    await page.$eval("input[name=opt_replicas]", (i) => ((i as HTMLInputElement).value = ""));
    await page.type("input[name=opt_replicas]", "3");

    // A job run again: its options back in the form (typed ones too), the secret one empty and required.
    await page.type("input[name=opt_token]", "rerun-secret-1");
    await page.select("select[name=opt_channel]", "testing");
    await page.$eval("input[name=opt_motd]", (i) => ((i as HTMLInputElement).value = ""));
    await page.type("input[name=opt_motd]", "second motd");
    await page.type("input[name=limit]", t1);
    await page.click("input[name=diff]");
    await Promise.all([page.waitForNavigation(), page.click("button#run")]);
    const jobRun = page.url().split("/").pop()!;
    await page.waitForFunction(() => document.querySelector("#run-status")?.textContent === "ok", { timeout: WAIT });
    // The play got a boolean and a number, not the form's strings.
    const typedConf = new RegExp(`channel = testing\nmotd = second motd\nhost = ${t1}\nverbose = true \\(boolean\\)\nreplicas = 3 \\(number\\)\n`);
    assert.match((await ssh(lab, t1, "cat /srv/serve-demo/app.conf")).stdout, typedConf);
    await Promise.all([page.waitForNavigation(), page.click("a#rerun")]);
    assert.match(page.url(), new RegExp(`/jobs/deploy\\?rerun=${jobRun}$`));
    // (No helper function inside: the test's compiler would name it with a function the page lacks.)
    const form = await page.evaluate(() => {
      const [token, channel, motd, verbose, replicas, limit, diff] = ["opt_token", "opt_channel", "opt_motd", "opt_verbose", "opt_replicas", "limit", "diff"].map((n) => document.querySelector(`[name=${n}]`) as HTMLInputElement);
      return { token: token!.value, tokenRequired: token!.required, channel: channel!.value, motd: motd!.value, verbose: verbose!.checked, replicas: replicas!.value, limit: limit!.value, diff: diff!.checked };
    });
    assert.equal(form, { token: "", tokenRequired: true, channel: "testing", motd: "second motd", verbose: true, replicas: "3", limit: t1, diff: true });
    await shot(page, "job-rerun");
    await page.type("input[name=opt_token]", "rerun-secret-2");
    await Promise.all([page.waitForNavigation(), page.click("button#run")]);
    await page.waitForFunction(() => document.querySelector("#run-status")?.textContent === "ok", { timeout: WAIT });
    assert.is((await ssh(lab, t1, "cat /srv/serve-demo/token")).stdout, "rerun-secret-2");
    assert.match((await ssh(lab, t1, "cat /srv/serve-demo/app.conf")).stdout, typedConf);
    // The secrets are in no stored file.
    const db = readFileSync(join(state, "serve.db")).toString("latin1");
    const files = readdirSync(join(state, "runs")).map((f) => readFileSync(join(state, "runs", f), "utf8")).join("\n");
    for (const secret of ["rerun-secret-0", "rerun-secret-1", "rerun-secret-2"]) assert.not.ok(db.includes(secret) || files.includes(secret), `${secret} stored`);
  } finally {
    await browser?.close();
    server.child.kill("SIGTERM");
    await exited(server.child);
  }
});

s("serve: API tokens (hashed at rest, shown once) start a run and read its status; schedules with fixed options, secrets only from a 0600 secret store", async ({ lab }) => {
  const chromium = await ensureChromium((l) => console.error(l));
  assert.ok(chromium, "chromium is installed (apt-get install chromium)");
  const state = mkdtempSync(join(tmpdir(), "rb-serve-api-"));
  const secrets = join(state, "secrets");
  mkdirSync(secrets, { mode: 0o700 });
  const storeSecret = `${CANARY}-store`;
  writeFileSync(join(secrets, "deploy.yml"), `token: ${storeSecret}\n`, { mode: 0o600 });
  writeFileSync(join(secrets, "open.yml"), `token: x\n`, { mode: 0o644 });
  const server = await startServer(["-i", lab.inventory, "--playbooks", "test/fixtures/serve"], { RUNBOOK_STATE_DIR: state, RUNBOOK_ADMIN_PASSWORD: "admin-pass-1" });
  let browser: Browser | undefined;
  const [t1, t2] = lab.hosts.map((h) => h.name) as [string, string];
  const api = (path: string, token: string | undefined, init: RequestInit = {}) =>
    fetch(`${server.url}${path}`, { ...init, headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) } });
  const waitStatus = async (token: string, runId: string) => {
    for (;;) {
      const r = (await (await api(`/api/runs/${runId}`, token)).json()) as { state: string; status: string; hosts: Record<string, string> };
      if (r.state !== "running") return r;
      await new Promise((res) => setTimeout(res, 250));
    }
  };
  try {
    await gate(lab, true);
    browser = await launch(chromium!);
    const page = await adminPage(browser, server.url);

    // A token, shown once; the database keeps only its hash.
    await page.goto(`${server.url}/tokens`);
    await page.type("input[name=name]", "ci");
    await Promise.all([page.waitForNavigation(), page.click("button#new-token-button")]);
    const token = await page.$eval("#token-value", (e) => e.textContent ?? "");
    assert.match(token, /^rbt_/);
    await shot(page, "tokens");
    await page.goto(`${server.url}/tokens`);
    assert.not.ok((await page.content()).includes(token), "shown only once");
    assert.not.ok(readFileSync(join(state, "serve.db")).toString("latin1").includes(token), "the database keeps the hash only");

    // The JSON API: no token 401, a token starts a run (its secret option in the JSON) and reads its status.
    assert.is((await api("/api/jobs/deploy/run", undefined, { method: "POST", body: "{}" })).status, 401);
    assert.is((await api("/api/jobs/deploy/run", "rbt_wrong", { method: "POST", body: "{}" })).status, 401);
    const started = await api("/api/jobs/deploy/run", token, { method: "POST", body: JSON.stringify({ options: { token: `${CANARY}-api`, motd: "from the api" }, limit: t1 }) });
    assert.is(started.status, 201);
    const { runId } = (await started.json()) as { runId: string };
    const done = await waitStatus(token, runId);
    assert.is(done.status, "ok");
    assert.equal(done.hosts, { [t1]: "changed" });
    assert.is((await ssh(lab, t1, "cat /srv/serve-demo/token")).stdout, `${CANARY}-api`);
    const noCsrfNeeded = await api("/api/jobs/deploy/run", token, { method: "POST", body: JSON.stringify({ options: {} }) });
    assert.is(noCsrfNeeded.status, 400, "a missing secret option is the CLI's input error, before any host is touched");
    assert.match(((await noCsrfNeeded.json()) as { error: string }).error, /token/);

    // Schedules: choosing the job shows its typed fields (the job form's); a job with a secret
    // option needs a secret store (chosen from the stores), one others can read is refused.
    await page.goto(`${server.url}/schedules`);
    await Promise.all([page.waitForNavigation(), page.select("select[name=job]", "deploy")]);
    assert.match(page.url(), /\/schedules\?job=deploy$/);
    assert.is(await page.$eval("input[name=opt_verbose]", (i) => (i as HTMLInputElement).type), "checkbox");
    assert.is(await page.$eval("input[name=opt_replicas]", (i) => (i as HTMLInputElement).type), "number");
    assert.is(await page.$("[name=opt_token]"), null, "no field for a secret option");
    assert.equal(await page.$$eval("select[name=secret_store] option", (os) => os.map((o) => o.textContent)), ["none", "deploy", "open"]);
    const schedule = async (cron: string, store: string, o: { motd?: string; replicas?: string; verbose?: boolean } = {}) => {
      const retype = async (sel: string, text: string) => {
        await page.$eval(sel, (i) => ((i as HTMLInputElement).value = ""));
        await page.type(sel, text);
      };
      await retype("input[name=cron]", cron);
      await retype("input[name=opt_motd]", o.motd ?? "x");
      await retype("input[name=opt_replicas]", o.replicas ?? "1");
      await page.select("select[name=opt_channel]", "testing");
      if ((await page.$eval("input[name=opt_verbose]", (i) => (i as HTMLInputElement).checked)) !== !!o.verbose) await page.click("input[name=opt_verbose]");
      await page.select("select[name=secret_store]", store);
      // The server's checks, not the browser's.
      await page.$eval("form#schedule-form", (f) => ((f as HTMLFormElement).noValidate = true));
      await Promise.all([page.waitForNavigation(), page.click("button#schedule")]);
      return page.$eval(".error", (e) => e.textContent ?? "").catch(() => "");
    };
    assert.match(await schedule("not cron", "deploy"), /not a cron expression/);
    assert.match(await schedule("0 3 * * *", ""), /secret options \(token\): a schedule needs a secret store/);
    assert.match(await schedule("0 3 * * *", "open"), /readable by others \(mode 644\)/);
    assert.match(await schedule("0 3 * * *", "deploy", { replicas: "12" }), /prompt replicas: expected at most 9, got number 12/);
    // A secret as a fixed option, posted without the form: refused.
    const typedSecret = await page.evaluate(async (value) => {
      const body = new URLSearchParams(new FormData(document.querySelector("form#schedule-form") as HTMLFormElement) as unknown as Record<string, string>);
      body.set("opt_token", value);
      const r = await fetch("/schedules", { method: "POST", body });
      return [r.status, await r.text()] as const;
    }, `${CANARY}-typed`);
    assert.is(typedSecret[0], 400);
    assert.match(typedSecret[1], /token is a secret option/);
    assert.is((await page.$$("tr.schedule")).length, 0, "nothing refused was scheduled");
    // Every second (croner's six fields), the secret from the store, typed fixed options.
    assert.is(await schedule("* * * * * *", "deploy", { motd: "scheduled", replicas: "4", verbose: true }), "");
    const scheduleDb = readFileSync(join(state, "serve.db")).toString("latin1");
    assert.match(scheduleDb, /"verbose":true/, "a boolean is stored as one");
    assert.match(scheduleDb, /"replicas":4/, "a number is stored as one");
    await shot(page, "schedules");
    let scheduled: string | undefined;
    for (let i = 0; i < 600 && !scheduled; i++) {
      await page.goto(`${server.url}/history`);
      scheduled = (await page.$$eval("#history tr.run", (rows) => rows.map((r) => [(r as HTMLElement).dataset.run, r.textContent ?? ""]))).find(([, t]) => /\(schedule 1\)/.test(t!))?.[0];
      if (!scheduled) await new Promise((res) => setTimeout(res, 250));
    }
    assert.ok(scheduled, "the schedule started a run");
    // Deleted: no further runs are started by it.
    await page.goto(`${server.url}/schedules`);
    await Promise.all([page.waitForNavigation(), page.click("tr.schedule form button")]);
    assert.is((await page.$$("tr.schedule")).length, 0);
    const sched = await waitStatus(token, scheduled!);
    assert.is(sched.status, "ok");
    for (const h of [t1, t2]) {
      assert.is((await ssh(lab, h, "cat /srv/serve-demo/token")).stdout, storeSecret);
      assert.match((await ssh(lab, h, "cat /srv/serve-demo/app.conf")).stdout, new RegExp(`channel = testing\nmotd = scheduled\nhost = ${h}\nverbose = true \\(boolean\\)\nreplicas = 4 \\(number\\)\n`));
    }
    // The store's and the API's secrets are in no stored file and no page.
    const stored = [readFileSync(join(state, "serve.db")).toString("latin1"), ...readdirSync(join(state, "runs")).map((f) => readFileSync(join(state, "runs", f), "utf8")), await page.content()].join("\n");
    assert.not.ok(stored.includes(CANARY), "a secret was stored or shown");
  } finally {
    await browser?.close();
    server.child.kill("SIGTERM");
    await exited(server.child);
  }
});

/** Logs in over plain HTTP (no browser): the session cookie, for GETs. */
async function httpLogin(url: string, user: string, password: string): Promise<string> {
  const form = await fetch(`${url}/login`);
  const loginCookie = (form.headers.get("set-cookie") ?? "").split(";")[0]!;
  const token = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1]!;
  const r = await fetch(`${url}/login`, { method: "POST", redirect: "manual", headers: { cookie: loginCookie }, body: new URLSearchParams({ _csrf: token, user, password }) });
  assert.is(r.status, 303, `${user} logs in`);
  return r.headers.getSetCookie().map((c) => c.split(";")[0]!).find((c) => c.startsWith("rb_session="))!;
}

/** A history file as `runbook play` writes one: start, play, maybe an end; `pid` alive keeps it running. */
function fakeRun(state: string, o: { id: string; time: Date; playbook: string; adhoc?: boolean; host: string; end: boolean; pid?: number; pidStart?: string }): void {
  const e = (seq: number, ev: Record<string, unknown>) => JSON.stringify({ ...ev, runId: o.id, seq, time: new Date(o.time.getTime() + seq).toISOString() }) + "\n";
  const recap = { [o.host]: { ok: 1, changed: 0, failed: 0, skipped: 0, unreachable: 0, unknown: 0, time: 3 } };
  writeFileSync(
    join(state, "runs", `${o.id}.jsonl`),
    e(1, { type: "run.start", playbook: o.playbook, adhoc: o.adhoc, user: "tester", check: false, diff: false, pid: o.pid ?? 4194305, pidStart: o.pidStart }) +
      e(2, { type: "play.start", play: "p", hosts: [o.host], check: false }) +
      (o.end ? e(3, { type: "run.end", recap, exitCode: 0, ms: 3 }) : ""),
    { mode: 0o600 },
  );
}

/** Run ids a runbook history --json lists. */
async function cliHistory(state: string): Promise<string[]> {
  const r = await runbook(["history", "--json", "-n", "1000"], { env: { RUNBOOK_STATE_DIR: state } });
  return r.stdout.split("\n").filter(Boolean).map((l) => (JSON.parse(l) as { runId: string }).runId).sort();
}

s("serve: retention deletes old runs and those beyond N per job (rows and logs), never a running one; runbook history agrees", async ({ lab }) => {
  const state = mkdtempSync(join(tmpdir(), "rb-serve-retention-"));
  const [t1] = lab.hosts.map((h) => h.name) as [string];
  // A real run on a lab host, recent: kept.
  await gate(lab, true);
  const real = await runbook(["play", "test/fixtures/serve/deploy.ts", "-i", lab.inventory, "-l", t1], { env: { RUNBOOK_STATE_DIR: state, RUNBOOK_VAR_token: "retention-token" } });
  assert.is(real.code, 0, real.stderr);
  const [realRun] = readdirSync(join(state, "runs")).map((f) => f.replace(/\.jsonl$/, ""));
  // Generated history: old runs of one job, many recent runs of another, ad-hoc commands, and an old run still going.
  const day = 86_400_000;
  const now = Date.now();
  const id = (t: number, tag: string) => `${new Date(t).toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15)}-${tag}`;
  const old = [40, 41, 50].map((d, i) => ({ id: id(now - d * day, `a00${i}`), time: new Date(now - d * day), playbook: "playbooks/old.ts", host: t1, end: true }));
  const many = [1, 2, 3, 4, 5].map((h, i) => ({ id: id(now - h * 3_600_000, `b00${i}`), time: new Date(now - h * 3_600_000), playbook: "playbooks/many.ts", host: t1, end: true }));
  const adhoc = [1, 2, 3].map((m, i) => ({ id: id(now - m * 60_000, `c00${i}`), time: new Date(now - m * 60_000), playbook: `run all -- echo ${i}`, adhoc: true, host: t1, end: true }));
  const sleeper = spawn("sleep", ["600"], { stdio: "ignore" });
  const pidStart = readFileSync(`/proc/${sleeper.pid}/stat`, "utf8").split(") ")[1]!.split(" ")[19];
  const going = { id: id(now - 60 * day, "d000"), time: new Date(now - 60 * day), playbook: "playbooks/old.ts", host: t1, end: false, pid: sleeper.pid, pidStart };
  for (const r of [...old, ...many, ...adhoc, going]) fakeRun(state, r);
  const config = join(state, "serve.yml");
  writeFileSync(config, "keep-days: 30\nkeep-runs: 2\n");
  const kept = [realRun!, ...many.slice(0, 2).map((r) => r.id), ...adhoc.slice(0, 2).map((r) => r.id), going.id].sort();

  const server = await startServer(["-i", lab.inventory, "--playbooks", "test/fixtures/serve", "--config", config], { RUNBOOK_STATE_DIR: state, RUNBOOK_ADMIN_PASSWORD: "admin-pass-1", RUNBOOK_SERVE_PRUNE_MS: "300" });
  const files = () => readdirSync(join(state, "runs")).map((f) => f.replace(/\.jsonl$/, "")).sort();
  try {
    // Applied at start, once the history is read (the server listens meanwhile): 3 old, 3 beyond 2 of many.ts, 1 beyond 2 ad-hoc; the old running run stays.
    await poll(60, "retention applied at start", async () => /retention: deleted 7 run\(s\)/.test(server.output()));
    assert.equal(files(), kept);
    assert.equal(await cliHistory(state), kept, "runbook history lists what the UI keeps");
    const cookie = await httpLogin(server.url, "admin", "admin-pass-1");
    const page = await (await fetch(`${server.url}/history`, { headers: { cookie } })).text();
    assert.equal([...page.matchAll(/data-run="([^"]+)"/g)].map((m) => m[1]).sort(), kept);
    assert.match(page, /Runs are kept 30 days, and at most 2 per job/);

    // Periodically: the old run ends (now it may go), and a new run of many.ts pushes out the oldest kept one.
    appendFileSync(join(state, "runs", `${going.id}.jsonl`), JSON.stringify({ type: "run.end", runId: going.id, seq: 9, time: new Date(now - 60 * day + 9).toISOString(), recap: {}, exitCode: 0, ms: 9 }) + "\n");
    sleeper.kill();
    const newer = { id: id(now, "b009"), time: new Date(now), playbook: "playbooks/many.ts", host: t1, end: true };
    fakeRun(state, newer);
    const after = [realRun!, newer.id, many[0]!.id, ...adhoc.slice(0, 2).map((r) => r.id)].sort();
    for (let i = 0; i < 400 && files().join() !== after.join(); i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(files(), after);
    assert.equal(await cliHistory(state), after);
    const page2 = await (await fetch(`${server.url}/history`, { headers: { cookie } })).text();
    assert.equal([...page2.matchAll(/data-run="([^"]+)"/g)].map((m) => m[1]).sort(), after);
  } finally {
    sleeper.kill();
    server.child.kill("SIGTERM");
    await exited(server.child);
  }
  // The database's rows agree (read once the server let go of it).
  const { default: sqlite } = await import("node-sqlite3-wasm");
  const db = new sqlite.Database(join(state, "serve.db"), { readOnly: true });
  try {
    const ids = (sql: string) => db.all(sql).map((r) => r.run_id as string).sort();
    const now2 = files();
    assert.equal(ids("select run_id from runs"), now2);
    assert.equal([...new Set(ids("select run_id from run_hosts"))], now2);
  } finally {
    db.close();
  }
});

s("serve: the Nodes page shows each node's last known facts (the newest run that gathered them), filtered with --limit patterns", async ({ lab }) => {
  const chromium = await ensureChromium((l) => console.error(l));
  assert.ok(chromium, "chromium is installed (apt-get install chromium)");
  const state = mkdtempSync(join(tmpdir(), "rb-serve-facts-"));
  const [t1, t2] = lab.hosts.map((h) => h.name) as [string, string];
  const gather = (limit: string) => runbook(["play", "test/fixtures/playbooks/gather.ts", "-i", lab.inventory, "-l", limit], { env: { RUNBOOK_STATE_DIR: state } });
  const server = await startServer(["-i", lab.inventory, "--playbooks", "test/fixtures/serve"], { RUNBOOK_STATE_DIR: state, RUNBOOK_ADMIN_PASSWORD: "admin-pass-1" });
  let browser: Browser | undefined;
  try {
    browser = await launch(chromium!);
    const page = await adminPage(browser, server.url);
    await page.goto(`${server.url}/nodes`);
    assert.match(await page.$eval(`[data-facts="${t1}"]`, (e) => e.textContent ?? ""), /none yet/);
    // A run on both hosts, then one on t1 only: t1's facts come from the second, t2's from the first.
    assert.is((await gather("all")).code, 0);
    const first = readdirSync(join(state, "runs")).map((f) => f.replace(/\.jsonl$/, ""));
    assert.is((await gather(t1)).code, 0);
    const second = readdirSync(join(state, "runs")).map((f) => f.replace(/\.jsonl$/, "")).find((r) => !first.includes(r))!;
    await page.goto(`${server.url}/nodes`);
    await page.$$eval("td.facts details", (ds) => ds.forEach((d) => ((d as HTMLDetailsElement).open = true)));
    for (const [h, run] of [[t1, second], [t2, first[0]]] as const) {
      const cell = await page.$eval(`[data-facts="${h}"]`, (e) => e.textContent?.replace(/\s+/g, " ") ?? "");
      const os = (await ssh(lab, h, ". /etc/os-release; echo $PRETTY_NAME")).stdout.trim();
      const kernel = (await ssh(lab, h, "uname -r")).stdout.trim();
      const addr = lab.hosts.find((x) => x.name === h)!.address;
      assert.ok(cell.includes(os), `${h}: ${os} in ${cell}`);
      assert.ok(cell.includes(kernel), `${h}: kernel ${kernel}`);
      assert.ok(cell.includes(`${addr}/`), `${h}: address ${addr}`);
      assert.ok(cell.includes(run!), `${h}: from run ${run}`);
    }
    await shot(page, "nodes-facts");
    // The pattern filter (the --limit syntax) keeps the facts with their node.
    await page.goto(`${server.url}/nodes?pattern=${encodeURIComponent(`all:!${t1}`)}`);
    assert.equal(await page.$$eval("tr.node", (rows) => rows.map((r) => (r as HTMLElement).dataset.node)), [t2]);
    assert.match(await page.$eval(`[data-facts="${t2}"]`, (e) => e.textContent ?? ""), new RegExp(first[0]!));
  } finally {
    await browser?.close();
    server.child.kill("SIGTERM");
    await exited(server.child);
  }
});

s("serve: a 50,000-line log stays usable: per-host pages, failures linked, each task's last lines, every line reachable on paged output", async ({ lab }) => {
  const chromium = await ensureChromium((l) => console.error(l));
  assert.ok(chromium, "chromium is installed (apt-get install chromium)");
  const state = mkdtempSync(join(tmpdir(), "rb-serve-biglog-"));
  const [t1, t2] = lab.hosts.map((h) => h.name) as [string, string];
  // A real run: 25,000 lines on each host, and t2 fails at the very end.
  const play = await runbook(["play", "test/fixtures/playbooks/biglog.ts", "-i", lab.inventory], { env: { RUNBOOK_STATE_DIR: state, RUNBOOK_VAR_failOn: t2 } });
  assert.is(play.code, 2, play.stderr);
  const [runId] = readdirSync(join(state, "runs")).map((f) => f.replace(/\.jsonl$/, ""));
  const server = await startServer(["-i", lab.inventory, "--playbooks", "test/fixtures/serve"], { RUNBOOK_STATE_DIR: state, RUNBOOK_ADMIN_PASSWORD: "admin-pass-1" });
  let browser: Browser | undefined;
  try {
    browser = await launch(chromium!);
    const page = await adminPage(browser, server.url);
    const res = await page.goto(`${server.url}/runs/${runId}`);
    const html = await res!.text();
    assert.ok(html.length < 200_000, `the run page is ${html.length} bytes`);
    assert.match(await page.$eval("#log-big", (e) => e.textContent ?? ""), /50001 lines/);
    assert.is((await page.$$("#log li.task")).length, 0, "no host's log is on the page itself");
    assert.equal(await page.$$eval("#log details.collapsed", (ds) => ds.map((d) => (d as HTMLElement).dataset.host)), [t1, t2]);
    assert.equal(await page.$$eval("#failures li", (ls) => ls.map((l) => (l as HTMLElement).dataset.failedHost)), [t2]);
    await shot(page, "run-big");

    // The failure links to the failing host's own log, at its failed task, ending with why.
    await Promise.all([page.waitForNavigation(), page.click("#failures a")]);
    assert.match(page.url(), new RegExp(`\\?host=${t2}#task-\\d+$`));
    assert.equal(await page.$$eval("#log details.hostlog", (ds) => ds.map((d) => (d as HTMLElement).dataset.host)), [t2]);
    const anchor = new URL(page.url()).hash;
    const failed = await page.$eval(`${anchor}`, (li) => ({ status: li.querySelector(".badge")?.textContent, earlier: li.querySelector("p.earlier")?.textContent ?? "", lines: (li.querySelector("pre.out")?.textContent ?? "").split("\n").filter(Boolean) }));
    assert.is(failed.status, "failed");
    assert.is(failed.lines.length, 200, "the last 200 lines");
    assert.is(failed.lines.at(-1), `FATAL ${t2}: disk full at the end`);
    assert.is(failed.lines.at(-2), `${t2} line 25000`);
    assert.match(failed.earlier, /24801 earlier lines/);
    await shot(page, "run-big-host");

    // Every line is reachable: the task's output, paged by 1,000, numbered.
    await Promise.all([page.waitForNavigation(), page.click(`${anchor} p.earlier a`)]);
    assert.match(await page.$eval(".meta", (e) => e.textContent ?? ""), /lines 1–1000 of 25001/);
    await Promise.all([page.waitForNavigation(), page.click(".pager .pages a[href='?page=13']")]);
    const line = await page.$$eval(
      "#lines li",
      (ls, want) => ({ number: Number((ls[0]!.parentElement as HTMLOListElement).start) + ls.findIndex((l) => l.textContent === want), count: ls.length }),
      `${t2} line 12345`,
    );
    assert.equal(line, { number: 12345, count: 1000 });
    await shot(page, "run-output-page", false);
    await page.goto(`${server.url}/runs/${runId}/output/${anchor.slice("#task-".length)}?page=last`);
    assert.equal(await page.$$eval("#lines li", (ls) => ls.length), 1);
    assert.is(await page.$eval("#lines li", (l) => l.textContent), `FATAL ${t2}: disk full at the end`);
    // The healthy host's log is one click away too.
    await page.goto(`${server.url}/runs/${runId}`);
    await Promise.all([page.waitForNavigation(), page.click(`#host-${t1} summary a`)]);
    assert.equal(await page.$$eval("#log details.hostlog", (ds) => ds.map((d) => (d as HTMLElement).dataset.host)), [t1]);
    assert.match(await page.$eval("#log-filter", (e) => e.textContent ?? ""), new RegExp(`The log of ${t1} only`));
  } finally {
    await browser?.close();
    server.child.kill("SIGTERM");
    await exited(server.child);
  }
});

/** A request over HTTPS trusting only `ca` (the test's self-signed certificate). */
function httpsRequest(url: string, ca: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequestRaw(url, { method: init.method ?? "GET", headers: init.headers, ca }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end(init.body);
  });
}

s("serve: a non-loopback address needs TLS or --insecure-listen; with --tls-cert/--tls-key it serves HTTPS with Secure cookies", async ({ lab }) => {
  const state = mkdtempSync(join(tmpdir(), "rb-serve-tls-"));
  const env = { RUNBOOK_STATE_DIR: state, RUNBOOK_ADMIN_PASSWORD: "admin-pass-1" };
  const args = ["-i", lab.inventory, "--playbooks", "test/fixtures/serve", "--listen", "0.0.0.0"];
  // Refused without TLS, and without a key to the certificate.
  const refused = await runbook(["serve", ...args, "--port", "0"], { env });
  assert.is(refused.code, 1);
  assert.match(refused.stderr, /--listen 0\.0\.0\.0 is not a loopback address.*--tls-cert FILE --tls-key FILE.*--insecure-listen/s);
  const cert = join(state, "cert.pem");
  const key = join(state, "key.pem");
  const half = await runbook(["serve", ...args, "--port", "0", "--tls-cert", cert], { env });
  assert.match(half.stderr, /--tls-cert and --tls-key go together/);
  // A self-signed certificate for 127.0.0.1, made by openssl.
  const made = spawnSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=runbook-test", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"], { encoding: "utf8" });
  assert.is(made.status, 0, made.stderr);
  const ca = readFileSync(cert, "utf8");

  const server = await startServer([...args, "--tls-cert", cert, "--tls-key", key], env);
  try {
    assert.match(server.url, /^https:\/\/0\.0\.0\.0:\d+$/);
    const base = server.url.replace("0.0.0.0", "127.0.0.1");
    const form = await httpsRequest(`${base}/login`, ca);
    assert.is(form.status, 200);
    const loginCookie = String(form.headers["set-cookie"]).split(";")[0]!;
    assert.match(String(form.headers["set-cookie"]), /; Secure/);
    const token = /name="_csrf" value="([^"]+)"/.exec(form.body)![1]!;
    const login = await httpsRequest(`${base}/login`, ca, {
      method: "POST",
      headers: { cookie: loginCookie, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ _csrf: token, user: "admin", password: "admin-pass-1" }).toString(),
    });
    assert.is(login.status, 303);
    const session = ([] as string[]).concat(login.headers["set-cookie"] ?? []).find((c) => c.startsWith("rb_session="))!;
    assert.match(session, /; Secure/, "the session cookie is Secure over HTTPS");
    assert.match(session, /HttpOnly/);
    const nodes = await httpsRequest(`${base}/nodes`, ca, { headers: { cookie: session.split(";")[0]! } });
    assert.is(nodes.status, 200);
    assert.match(nodes.body, new RegExp(`data-node="${lab.hosts[0]!.name}"`));
    // Plain HTTP on the TLS port gets no page.
    const plain = await fetch(`${base.replace("https:", "http:")}/login`).then((r) => r.status, () => "refused");
    assert.is.not(plain, 200);
    // A client that does not trust the certificate is refused by its own TLS check.
    assert.is(await fetch(`${base}/login`).then(() => "trusted", () => "refused"), "refused");
  } finally {
    server.child.kill("SIGTERM");
    await exited(server.child);
  }
  // --insecure-listen: plain HTTP on that address, as asked.
  const insecure = await startServer([...args, "--insecure-listen"], env);
  try {
    assert.match(insecure.url, /^http:\/\/0\.0\.0\.0:/);
    assert.is((await fetch(`${insecure.url.replace("0.0.0.0", "127.0.0.1")}/login`)).status, 200);
  } finally {
    insecure.child.kill("SIGTERM");
    await exited(insecure.child);
  }
});

/** A shell script's stdout (the server is another process: blocking here is fine). */
async function runShell(script: string, env: Record<string, string>): Promise<string> {
  const r = spawnSync("sh", ["-c", script], { env: { ...process.env, ...env }, encoding: "utf8" });
  assert.is(r.status, 0, r.stderr);
  return r.stdout;
}

s("serve: signed webhooks start a job (HMAC-SHA256 over timestamp and body); bad, stale and replayed deliveries are refused; the secret is shown once and stored nowhere", async ({ lab }) => {
  const chromium = await ensureChromium((l) => console.error(l));
  assert.ok(chromium, "chromium is installed (apt-get install chromium)");
  const state = mkdtempSync(join(tmpdir(), "rb-serve-hooks-"));
  mkdirSync(join(state, "secrets"), { mode: 0o700 });
  const storeSecret = `${CANARY}-hookstore`;
  writeFileSync(join(state, "secrets", "deploy.yml"), `token: ${storeSecret}\n`, { mode: 0o600 });
  const server = await startServer(["-i", lab.inventory, "--playbooks", "test/fixtures/serve"], { RUNBOOK_STATE_DIR: state, RUNBOOK_ADMIN_PASSWORD: "admin-pass-1" });
  const [t1] = lab.hosts.map((h) => h.name) as [string];
  let browser: Browser | undefined;
  const deliver = (url: string, body: string, headers: Record<string, string>) => fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
  const signed = (secret: string, body: string, ts = String(Math.floor(Date.now() / 1000))) => ({ "X-Runbook-Timestamp": ts, "X-Runbook-Signature-256": `sha256=${createHmac("sha256", secret).update(`${ts}.${body}`).digest("hex")}` });
  try {
    await gate(lab, true);
    browser = await launch(chromium!);
    const page = await adminPage(browser, server.url);
    // The job's typed fields, as on the schedule form: no field for the secret option.
    const makeHook = async (motd: string, store: string) => {
      await page.goto(`${server.url}/hooks?job=deploy`);
      assert.is(await page.$("[name=opt_token]"), null, "no field for a secret option");
      assert.is(await page.$eval("input[name=opt_replicas]", (i) => (i as HTMLInputElement).type), "number");
      await page.type("input[name=name]", "ci");
      await page.$eval("input[name=opt_motd]", (i) => ((i as HTMLInputElement).value = ""));
      await page.type("input[name=opt_motd]", motd);
      await page.select("select[name=secret_store]", store);
      await page.type("input[name=limit]", t1);
      await Promise.all([page.waitForNavigation(), page.click("button#hook")]);
    };
    await makeHook("from a hook", "");
    assert.match(await page.$eval(".error", (e) => e.textContent ?? ""), /secret options \(token\): a webhook needs a secret store/);
    assert.is(await page.$eval("input[name=opt_motd]", (i) => (i as HTMLInputElement).value), "from a hook", "the refused form keeps what was typed");
    await makeHook("from a hook", "deploy");
    const secret = await page.$eval("#hook-secret", (e) => e.textContent ?? "");
    const url = (await page.$eval("#hook-url", (e) => e.textContent ?? "")).replace(/^https?:\/\/[^/]+/, server.url);
    assert.match(secret, /^rbh_[0-9a-f]{64}$/);
    await shot(page, "hooks");
    // From here on, no response may hold the secret.
    const seen: string[] = [];
    recordResponses(page, seen);
    await page.goto(`${server.url}/hooks`);
    assert.is((await page.$$("tr.hook")).length, 1);

    // Refused: no headers, a wrong secret, a stale timestamp, an unknown hook.
    const body = JSON.stringify({ options: { channel: "testing" } });
    const refusal = async (r: Response) => [r.status, ((await r.json()) as { error: string }).error];
    assert.equal(await refusal(await deliver(url, body, {})), [401, "no X-Runbook-Timestamp header (Unix seconds)"]);
    assert.equal(await refusal(await deliver(url, body, signed(`${secret}x`, body))), [401, "bad signature"]);
    assert.equal(await refusal(await deliver(url, body, signed(secret, `${body} `))), [401, "bad signature"]);
    assert.equal(await refusal(await deliver(url, body, signed(secret, body, String(Math.floor(Date.now() / 1000) - 600)))), [401, "timestamp more than 300 s from the server's clock"]);
    // Hook ids are base64url ("-" and "_" included): replace the whole last segment.
    const unknown = url.replace(/\/webhooks\/[^/]+$/, "/webhooks/0000000000000000");
    assert.is.not(unknown, url);
    assert.equal(await refusal(await deliver(unknown, body, signed(secret, body))), [401, "bad signature"]);
    assert.equal((await refusal(await deliver(url, JSON.stringify({ options: { token: "x" } }), signed(secret, JSON.stringify({ options: { token: "x" } })))))[0], 400);

    // A good delivery starts the job: its fixed options, the body's channel, the token from the store.
    const good = signed(secret, body);
    const started = await deliver(url, body, good);
    assert.is(started.status, 202);
    const { runId } = (await started.json()) as { runId: string };
    await page.goto(`${server.url}/runs/${runId}`);
    await page.waitForFunction(() => document.querySelector("#run-status")?.textContent === "ok", { timeout: WAIT });
    assert.match(await page.$eval(".meta", (e) => e.textContent ?? ""), /admin \(hook ci\)/);
    assert.is((await ssh(lab, t1, "cat /srv/serve-demo/token")).stdout, storeSecret);
    assert.match((await ssh(lab, t1, "cat /srv/serve-demo/app.conf")).stdout, /channel = testing\nmotd = from a hook/);
    // The same delivery again is a replay.
    assert.equal(await refusal(await deliver(url, body, good)), [401, "this delivery was already accepted (replay)"]);

    // The recipe the page shows (openssl and curl) works as written.
    const recipe = await runShell(`ts=$(date +%s); body='{"options":{"motd":"from curl"}}'
sig=$(printf '%s.%s' "$ts" "$body" | openssl dgst -sha256 -hmac "$SECRET" -r | cut -d' ' -f1)
curl -s -H "X-Runbook-Timestamp: $ts" -H "X-Runbook-Signature-256: sha256=$sig" -H 'content-type: application/json' -d "$body" "$URL"`, { SECRET: secret, URL: url });
    const second = (JSON.parse(recipe) as { runId: string }).runId;
    await page.goto(`${server.url}/runs/${second}`);
    await page.waitForFunction(() => document.querySelector("#run-status")?.textContent === "ok", { timeout: WAIT });
    assert.match((await ssh(lab, t1, "cat /srv/serve-demo/app.conf")).stdout, /motd = from curl/);
    await page.goto(`${server.url}/history`);
    assert.equal(await page.$$eval("#history tr.run", (rows) => rows.map((r) => (r as HTMLElement).dataset.run)), [second, runId]);
    await page.goto(`${server.url}/hooks`);
    assert.match(await page.$eval("tr.hook", (r) => r.textContent ?? ""), /\d{4}-\d\d-\d\d/, "the last delivery is shown");

    // Deleted: its deliveries are refused.
    await Promise.all([page.waitForNavigation(), page.click("tr.hook form button")]);
    assert.is((await deliver(url, body, signed(secret, body))).status, 401);

    // The secret (and the store's) is in no later page, no stored file, not the server's output.
    const stored = [readFileSync(join(state, "serve.db")).toString("latin1"), readFileSync(join(state, "webhook.key"), "utf8"), ...readdirSync(join(state, "runs")).map((f) => readFileSync(join(state, "runs", f), "utf8"))];
    for (const [where, text] of [["pages", seen.join("\n")], ["stored files", stored.join("\n")], ["the server's output", server.output()]] as const) {
      assert.not.ok(text.includes(secret) || text.includes(secret.slice(4)), `${where} hold the hook secret`);
      assert.not.ok(text.includes(CANARY), `${where} hold the canary`);
    }
    assert.match(server.output(), /webhook [\w-]+ refused: bad signature/, "refusals are logged (without the secret)");
  } finally {
    await browser?.close();
    server.child.kill("SIGTERM");
    await exited(server.child);
  }
});


s("serve: a vault-encrypted inventory opens at start (a wrong password stops it there); runs and commands use its values, masked everywhere", async ({ lab }) => {
  const state = mkdtempSync(join(tmpdir(), "rb-serve-vault-"));
  const [t1] = lab.hosts.map((h) => h.name) as [string];
  // test/fixtures/serve-vault/inventory.yml, decrypted: all: vars: vaultToken: (this).
  const VAULT_CANARY = "rbvaultcanary-5d81c2e07a";
  const inventory = "test/fixtures/serve-vault/inventory.yml";
  const args = ["-i", lab.inventory, "-i", inventory, "--playbooks", "test/fixtures/serve-vault"];
  const env = { RUNBOOK_STATE_DIR: state, RUNBOOK_ADMIN_PASSWORD: "admin-pass-1" };
  // A wrong password, typed at the hidden prompt: refused before it listens.
  const refused = await underPty(["serve", ...args, "--port", "0", "--ask-vault-pass"], [[/Vault password/, "not-the-password\r"]], env);
  assert.is(refused.code, 1, refused.out);
  assert.match(refused.out, `${inventory}: no vault password given decrypts this (vault id serve); tried default (prompt)`);
  assert.not.match(refused.out, "not-the-password", "the prompt is hidden");
  assert.not.match(refused.out, "runbook serve: http", "it never listened");

  const server = await startServer([...args, "--vault-id", "serve@test/fixtures/serve-vault/password"], env);
  const seen: string[] = [];
  try {
    const cookie = await httpLogin(server.url, "admin", "admin-pass-1");
    const get = async (path: string, headers: Record<string, string> = { cookie }) => {
      const text = await (await fetch(`${server.url}${path}`, { headers })).text();
      seen.push(text);
      return text;
    };
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await get("/jobs/vault"))![1]!;
    /** A form POSTed; the run it started, followed to its end over the event stream. */
    const started = async (path: string, form: Record<string, string>) => {
      const r = await fetch(`${server.url}${path}`, { method: "POST", redirect: "manual", headers: { cookie, "x-csrf-token": csrf }, body: new URLSearchParams(form) });
      assert.is(r.status, 303, await r.text());
      const runId = r.headers.get("location")!.replace("/runs/", "");
      await get(`/runs/${runId}/stream`);
      return runId;
    };
    assert.match(await get("/nodes"), /<th>vaultToken<\/th><td><span class="masked" title="secret">\*{8}<\/span>/);
    const job = await started("/jobs/vault/run", { limit: t1 });
    assert.is((await ssh(lab, t1, "cat /srv/serve-vault/token")).stdout, VAULT_CANARY, "the run had the decrypted value");
    const token = /id="token-value">([^<]+)</.exec(await (await fetch(`${server.url}/tokens`, { method: "POST", headers: { cookie, "x-csrf-token": csrf }, body: new URLSearchParams({ name: "t" }) })).text())![1]!;
    assert.match(await get(`/api/runs/${job}`, { authorization: `Bearer ${token}` }), /"status":"ok"/);
    assert.match(await get(`/runs/${job}`), /\*{8}/, "the job printed it, masked");
    const command = await started("/commands", { pattern: t1, cmd: "cat /srv/serve-vault/token" });
    assert.match(await get(`/runs/${command}`), /\*{8}/, "the command printed it, masked");
    assert.match(await get(`/history?host=${t1}`), new RegExp(`${job}[\\s\\S]*${command}|${command}[\\s\\S]*${job}`));

    const stored = [readFileSync(join(state, "serve.db")).toString("latin1"), ...readdirSync(join(state, "runs")).map((f) => readFileSync(join(state, "runs", f), "utf8"))];
    for (const [where, text] of [["pages and responses", seen.join("\n")], ["serve.db and the run logs", stored.join("\n")], ["the server's output", server.output()]] as const) {
      assert.not.ok(text.includes(VAULT_CANARY), `${where} hold the vault's value`);
    }
  } finally {
    server.child.kill("SIGTERM");
    await exited(server.child);
  }
});

s.run();
