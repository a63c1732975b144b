/**
 * Role loki-prometheus-grafana on three lab hosts, through the CLI with
 * test/fixtures/playbooks/monitoring.ts. tnode1 and tnode3 run tini as PID 1
 * (the packages' /etc/init.d scripts, the role's own rc scripts), tnode2
 * boots systemd (the packages' units, the role's units).
 *
 * Real daemons from Debian bookworm's packages: Prometheus and Alertmanager
 * on tnode1, the node exporter on all three. Proven: check mode on fresh
 * hosts writes nothing and says promtool is not there yet; the first run
 * brings every node exporter target `up` in Prometheus' API and a rule that
 * always fires reaches Alertmanager's API; the second run changes nothing;
 * a prometheus.yml promtool rejects never lands and the running Prometheus
 * keeps its pid and its loaded config; a valid change reloads it (SIGHUP,
 * same pid); moved to the systemd host, Prometheus and Alertmanager run as
 * the packages' units and do the same.
 *
 * Loki, Alloy and Grafana are RUNBOOK TEST STAND-INS, not the real
 * programs: the lab reaches no release server, so the test builds zip
 * (Loki, Alloy) and tar.gz (Grafana) archives, as the real releases are, whose "daemon" is a shell script that logs its name, version and
 * arguments and then sleeps, and serves them over HTTP from this machine.
 * With them the role's install mechanics are proven for real: download with
 * sha256, versioned unpack, the `current` symlink, the service (rc script
 * on tini, unit on systemd), a version bump that restarts only that daemon,
 * a bad checksum refused with the old version left running. Their config
 * files are checked against their documented formats in
 * test/unit/role-monitoring.test.ts, not by the real programs.
 */
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { crc32 } from "node:zlib";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as assert from "uvu/assert";
import { labSuite, ssh } from "../lab/fixture.ts";
import type { Lab } from "../lab/lab.ts";
import { run } from "../lab/sh.ts";
import { alertmanagerYml, prometheusYml } from "../../roles/loki-prometheus-grafana/index.ts";
import { events, poll, recap, results, runbook, stateDir, upperSnapshot } from "./harness.ts";

const PLAYBOOK = "test/fixtures/playbooks/monitoring.ts";
const ALERT = "RunbookTestAlwaysFiring";

const s = await labSuite("role: loki-prometheus-grafana (Prometheus, Alertmanager, node exporters; stand-in Loki, Alloy, Grafana)", { hosts: 3, systemd: [2] });
const state = stateDir();

/**
 * A zip archive of `files`, stored (no compression), with Unix modes: Loki's
 * and Alloy's real releases are zips holding one binary, and no zip tool
 * may be on the test machine.
 */
function zipStored(files: { name: string; data: Buffer; mode: number }[]): Buffer {
  const local: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const f of files) {
    const name = Buffer.from(f.name);
    const crc = crc32(f.data);
    const head = Buffer.alloc(30);
    head.writeUInt32LE(0x04034b50, 0);
    head.writeUInt16LE(20, 4);
    head.writeUInt16LE(0x21, 12); // 1980-01-01
    head.writeUInt32LE(crc, 14);
    head.writeUInt32LE(f.data.length, 18);
    head.writeUInt32LE(f.data.length, 22);
    head.writeUInt16LE(name.length, 26);
    const dir = Buffer.alloc(46);
    dir.writeUInt32LE(0x02014b50, 0);
    dir.writeUInt16LE((3 << 8) | 20, 4); // made on Unix: the external attributes hold the mode
    dir.writeUInt16LE(20, 6);
    dir.writeUInt16LE(0x21, 14);
    dir.writeUInt32LE(crc, 16);
    dir.writeUInt32LE(f.data.length, 20);
    dir.writeUInt32LE(f.data.length, 24);
    dir.writeUInt16LE(name.length, 28);
    dir.writeUInt32LE(((0o100000 | f.mode) << 16) >>> 0, 38);
    dir.writeUInt32LE(offset, 42);
    local.push(head, name, f.data);
    central.push(dir, name);
    offset += head.length + name.length + f.data.length;
  }
  const cd = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...local, cd, end]);
}

/**
 * RUNBOOK TEST STAND-IN archives: the "daemon" BINARY is a shell script. As
 * the real releases: tar.gz with a top directory (Grafana), zip with the
 * binary alone (Loki, Alloy).
 */
const work = mkdtempSync(join(tmpdir(), "runbook-standin-"));
const archives = new Map<string, Buffer>();
async function standIn(name: string, version: string, binary: string, format: "tar.gz" | "zip"): Promise<{ file: string; sha256: string }> {
  const script = [
    "#!/bin/sh",
    `# RUNBOOK TEST STAND-IN for ${name} ${version}: not ${name}. It logs who and what it is, then sleeps until stopped.`,
    `echo "runbook stand-in ${name} ${version} started as $(id -un), pid $$, args: $*"`,
    `trap 'echo "runbook stand-in ${name} ${version} stopping"; exit 0' TERM INT`,
    "while :; do sleep 1; done",
    "",
  ].join("\n");
  const file = `${name}-${version}.${format}`;
  if (format === "zip") {
    archives.set(`/${file}`, zipStored([{ name: binary, data: Buffer.from(script), mode: 0o755 }]));
  } else {
    const top = `${name}-${version}.linux-amd64`;
    const dir = join(work, `${name}-${version}`, top);
    mkdirSync(join(dir, binary.includes("/") ? binary.replace(/\/[^/]+$/, "") : ""), { recursive: true });
    writeFileSync(join(dir, binary), script, { mode: 0o755 });
    writeFileSync(join(dir, "README.stand-in"), `RUNBOOK TEST STAND-IN for ${name} ${version}\n`);
    await run("tar", ["-czf", join(work, file), "-C", join(work, `${name}-${version}`), top]);
    archives.set(`/${file}`, readFileSync(join(work, file)));
  }
  return { file, sha256: createHash("sha256").update(archives.get(`/${file}`)!).digest("hex") };
}

let server: Server | undefined;
let base = "";
const served: string[] = [];
s.after(() => {
  server?.close();
});

/** Role parameters with stand-in releases (names: `name@version`). */
function params(rel: Record<string, { file: string; sha256: string }>, extra: Record<string, unknown> = {}) {
  const r = (key: string, binary?: string) => ({ version: key.split("@")[1]!, url: `${base}/${rel[key]!.file}`, sha256: rel[key]!.sha256, ...(binary ? { binary } : {}) });
  return {
    server: "tnode1",
    scrapeInterval: "2s",
    evaluationInterval: "2s",
    rules: [{ alert: ALERT, expr: "vector(1) > 0", for: "0s", labels: { severity: "none" }, annotations: { summary: "fires on purpose (runbook e2e)" } }],
    alertmanager: { groupWait: "1s" },
    loki: { release: r("loki@1.0.0") },
    alloy: { release: r("alloy@1.0.0") },
    grafana: {
      host: "tnode2",
      release: r(String(extra.grafana ?? "grafana@1.0.0")),
      adminPassword: "admin-pw-e2e-7Hq",
      prometheusAuth: { user: "grafana", password: "datasource-pw-e2e-9Zk" },
      dashboards: { cluster: JSON.stringify({ title: "Cluster", uid: "runbook-cluster", panels: [], schemaVersion: 39 }) },
    },
    ...Object.fromEntries(Object.entries(extra).filter(([k]) => k !== "grafana")),
  };
}
let REL: Record<string, { file: string; sha256: string }> = {};

const play = (lab: Lab, vars: object, args: string[] = [], st = state) =>
  runbook(["play", PLAYBOOK, "-i", lab.inventory, "--json", "-e", JSON.stringify({ "loki-prometheus-grafana": vars }), ...args], { stateDir: st, timeoutMs: 900_000 });
const out = async (lab: Lab, host: string, cmd: string) => (await ssh(lab, host, cmd)).stdout;
const moved = (stdout: string, host?: string) =>
  results(stdout)
    .filter((e) => e.status !== "ok" && (host === undefined || e.host === host))
    .map((e) => `${e.host} ${e.role ?? ""} › ${e.task}: ${e.status} (${e.reason})${e.stderr ? `\n${e.stderr}` : ""}`)
    .join("\n");
const changed = (stdout: string, host?: string) =>
  results(stdout)
    .filter((e) => e.status === "changed" && (host === undefined || e.host === host))
    .map((e) => `${e.host} ${e.task}`);

const api = async (lab: Lab, port: number, path: string) => {
  const res = await fetch(`http://${lab.hosts[0]!.address}:${port}${path}`, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.json() as Promise<Record<string, unknown>>;
};

/** The pids of the daemons a test watches, per host. */
async function pids(lab: Lab): Promise<Record<string, string>> {
  const read = (host: string, names: string[]) =>
    out(lab, host, names.map((n) => `echo "${n} $(cat /run/${n}/${n}.pid 2>/dev/null || systemctl show -p MainPID --value ${n} 2>/dev/null)"`).join("; "));
  const [t1, t2, t3, prom] = await Promise.all([read("tnode1", ["loki", "alloy"]), read("tnode2", ["alloy", "grafana"]), read("tnode3", ["alloy"]), out(lab, "tnode1", "cat /run/prometheus/prometheus.pid")]);
  const map: Record<string, string> = { "tnode1 prometheus": prom.trim() };
  for (const [host, text] of [["tnode1", t1], ["tnode2", t2], ["tnode3", t3]] as const) {
    for (const l of text.trim().split("\n")) map[`${host} ${l.split(" ")[0]}`] = l.split(" ")[1] ?? "";
  }
  return map;
}

s("the test serves its stand-in archives over HTTP from this machine", async ({ lab }) => {
  REL = {
    "loki@1.0.0": await standIn("loki", "1.0.0", "loki-linux-amd64", "zip"),
    "loki@2.0.0": await standIn("loki", "2.0.0", "loki-linux-amd64", "zip"),
    "alloy@1.0.0": await standIn("alloy", "1.0.0", "alloy-linux-amd64", "zip"),
    "grafana@1.0.0": await standIn("grafana", "1.0.0", "bin/grafana", "tar.gz"),
    "grafana@1.1.0": await standIn("grafana", "1.1.0", "bin/grafana", "tar.gz"),
  };
  server = createServer((req, res) => {
    served.push(req.url ?? "");
    const body = archives.get(req.url ?? "");
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": body.length }).end(body);
  });
  // On the lab's bridge address: the runner fetches from here (and a lab host could).
  await new Promise<void>((resolve) => server!.listen(0, lab.gateway, resolve));
  const addr = server.address();
  base = `http://${lab.gateway}:${typeof addr === "object" && addr ? addr.port : 0}`;
  const res = await fetch(`${base}/loki-1.0.0.zip`);
  assert.is(res.status, 200);
});

s("--check on fresh hosts changes nothing, says promtool is not installed yet, and predicts the installs", async ({ lab }) => {
  const before = await Promise.all(lab.hosts.map(upperSnapshot));
  const r = await play(lab, params(REL), ["--check"], stateDir());
  assert.is(r.code, 0, r.stderr + moved(r.stdout));
  assert.equal(await Promise.all(lab.hosts.map(upperSnapshot)), before, "check mode wrote nothing on any host");
  assert.is(results(r.stdout).filter((e) => e.status === "failed").length, 0, moved(r.stdout));
  const notes = events(r.stdout).flatMap((e) => (e.type === "message" && e.host === "tnode1" ? [e.text] : []));
  assert.ok(notes.some((t) => /promtool is not installed yet/.test(t)), notes.join("\n"));
  const predicted = (host: string) => results(r.stdout).filter((e) => e.host === host && e.status === "changed" && e.predicted).map((e) => `${e.task}: ${e.reason}`);
  for (const h of ["tnode1", "tnode2", "tnode3"]) assert.ok(predicted(h).some((t) => /^package prometheus-node-exporter/.test(t)), `${h}\n${predicted(h).join("\n")}`);
  const t1 = predicted("tnode1");
  assert.ok(t1.some((t) => /^package prometheus, prometheus-alertmanager/.test(t)), t1.join("\n"));
  // The runner fetched the archive in check mode too: its checksum is known good before the real run.
  assert.ok(t1.some((t) => new RegExp(`^download loki 1\\.0\\.0: download ${base}/loki-1\\.0\\.0\\.zip: create /opt/loki/\\.loki-1\\.0\\.0\\.zip, \\d+ bytes, sha256 ${REL["loki@1.0.0"]!.sha256.slice(0, 12)}`).test(t)), t1.join("\n"));
  assert.ok(t1.some((t) => /^package unzip \(present\): install unzip$/.test(t)), t1.join("\n"));
  assert.ok(t1.some((t) => /^unpack loki 1\.0\.0 into \/opt\/loki\/loki-1\.0\.0/.test(t)), t1.join("\n"));
  assert.ok(t1.some((t) => t.startsWith("/opt/loki/current -> loki-1.0.0: link /opt/loki/current -> loki-1.0.0")), t1.join("\n"));
});

s("the first run: every node exporter target is up in Prometheus, the failing rule reaches Alertmanager, stand-ins run", async ({ lab }) => {
  const started = Date.now();
  const first = await play(lab, params(REL));
  assert.is(first.code, 0, first.stderr + moved(first.stdout));
  const ranMs = Date.now() - started;
  for (const [name, c] of Object.entries(recap(first.stdout))) assert.is(c.failed, 0, `${name}:\n${moved(first.stdout, name)}`);
  // Started with the new files: no reload or restart on top.
  assert.not.ok(results(first.stdout).some((e) => (e.role ?? "").startsWith("handler:") && e.status === "changed"), moved(first.stdout));

  const targets = await poll(120, "3 node exporter targets up", async () => {
    const t = (await api(lab, 9090, "/api/v1/targets")) as { data: { activeTargets: { labels: Record<string, string>; health: string }[] } };
    const nodes = t.data.activeTargets.filter((x) => x.labels.job === "node");
    return nodes.length === 3 && nodes.every((x) => x.health === "up") ? nodes.map((x) => `${x.labels.host} ${x.labels.instance} ${x.health}`).sort() : false;
  });
  assert.equal(targets, lab.hosts.map((h) => `${h.name} ${h.address}:9100 up`));
  const alerts = await poll(120, `${ALERT} in Alertmanager`, async () => {
    const a = (await (await fetch(`http://${lab.hosts[0]!.address}:9093/api/v2/alerts`, { signal: AbortSignal.timeout(10_000) })).json()) as { labels: Record<string, string>; status: { state: string } }[];
    const mine = a.filter((x) => x.labels.alertname === ALERT).map((x) => `${x.labels.alertname} ${x.labels.severity} ${x.status.state}`);
    return mine.length ? mine : false;
  });
  assert.equal(alerts, [`${ALERT} none active`]);

  // The packaged daemons: init scripts on the tini hosts, units on the systemd host.
  assert.is(await out(lab, "tnode2", "systemctl is-active prometheus-node-exporter alloy grafana; systemctl is-enabled prometheus-node-exporter alloy grafana"), "active\nactive\nactive\nenabled\nenabled\nenabled\n");
  for (const h of ["tnode1", "tnode3"]) assert.match(await out(lab, h, "/etc/init.d/prometheus-node-exporter status; /etc/init.d/alloy status"), /is running[^]*alloy is running/);
  // The stand-ins: versioned directory, stable symlink, running as their users from /opt/NAME/current.
  assert.is(await out(lab, "tnode1", "readlink /opt/loki/current; cat /opt/loki/loki-1.0.0/.runbook-release; ls -A /opt/loki"), `loki-1.0.0\n${REL["loki@1.0.0"]!.sha256}\ncurrent\nloki-1.0.0\n`);
  assert.match(await out(lab, "tnode1", "cat /var/log/loki/loki.log"), /runbook stand-in loki 1\.0\.0 started as loki, pid \d+, args: -config\.file=\/etc\/loki\/config\.yml/);
  assert.match(await out(lab, "tnode2", "journalctl -u grafana --no-pager -o cat"), /runbook stand-in grafana 1\.0\.0 started as grafana, pid \d+, args: server --homepath \/opt\/grafana\/current --config \/etc\/grafana\/grafana\.ini/);
  // Datasource credentials: on the host in a 0640 file, in no output.
  assert.match(await out(lab, "tnode2", "stat -c '%a %U:%G' /etc/grafana/provisioning/datasources/runbook.yaml /etc/grafana/grafana.ini; grep -c datasource-pw-e2e-9Zk /etc/grafana/provisioning/datasources/runbook.yaml"), /^640 root:grafana\n640 root:grafana\n1\n$/);
  for (const pw of ["datasource-pw-e2e-9Zk", "admin-pw-e2e-7Hq"]) assert.not.ok(first.stdout.includes(pw) || first.stderr.includes(pw), `${pw} printed`);
  assert.is(served.filter((u) => u === "/loki-1.0.0.zip").length >= 1, true);
  console.log(`    (first run ${(ranMs / 1000).toFixed(1)} s)`);
});

s("the second run changes nothing and restarts nothing", async ({ lab }) => {
  const before = await pids(lab);
  const fetched = served.length;
  const second = await play(lab, params(REL));
  assert.is(second.code, 0, second.stderr);
  for (const [name, c] of Object.entries(recap(second.stdout))) assert.equal({ changed: c.changed, failed: c.failed }, { changed: 0, failed: 0 }, `${name}:\n${moved(second.stdout, name)}`);
  assert.equal(await pids(lab), before);
  assert.is(served.length, fetched, "nothing downloaded: the versions are in place");
  const check = await play(lab, params(REL), ["--check"]);
  for (const [name, c] of Object.entries(recap(check.stdout))) assert.equal({ changed: c.changed, failed: c.failed, unknown: c.unknown }, { changed: 0, failed: 0, unknown: 0 }, `${name}:\n${moved(check.stdout, name)}`);
  // Limited to the server with the group named: prometheus.yml still lists all three (nothing changes).
  const limited = await play(lab, params(REL, { targets: "clusternode" }), ["--limit", "tnode1"]);
  assert.is(limited.code, 0, moved(limited.stdout));
  assert.equal([...new Set(results(limited.stdout).map((e) => e.host))], ["tnode1"], "tasks ran on tnode1 only (the others' facts were only read)");
  for (const [name, c] of Object.entries(recap(limited.stdout))) assert.equal({ changed: c.changed, failed: c.failed }, { changed: 0, failed: 0 }, `${name}:\n${moved(limited.stdout, name)}`);
});

s("a prometheus.yml promtool rejects never lands: the task fails with promtool's message, Prometheus keeps its pid and config", async ({ lab }) => {
  const file = () => out(lab, "tnode1", "sha256sum /etc/prometheus/prometheus.yml; ls /etc/prometheus");
  const before = await file();
  const pid = await out(lab, "tnode1", "cat /run/prometheus/prometheus.pid");
  const r = await play(lab, params(REL, { extraScrapeConfigs: [{ job_name: "broken", scrape_interval: "soon", static_configs: [{ targets: ["localhost:1"] }] }] }));
  assert.is(r.code, 2, r.stdout.slice(-2000));
  const failed = results(r.stdout).filter((e) => e.status === "failed");
  assert.equal(failed.map((e) => `${e.host} ${e.task}`), ["tnode1 copy /etc/prometheus/prometheus.yml"]);
  assert.match(`${failed[0]!.reason}\n${failed[0]!.stderr ?? ""}`, /promtool check config[^]*FAILED[^]*soon/);
  assert.is(await file(), before, "prometheus.yml unchanged, no temp file left");
  assert.is(await out(lab, "tnode1", "cat /run/prometheus/prometheus.pid"), pid, "Prometheus not restarted");
  const cfg = (await api(lab, 9090, "/api/v1/status/config")) as { data: { yaml: string } };
  assert.not.match(cfg.data.yaml, /broken/);
  assert.match(cfg.data.yaml, /job_name: node/);

  // A rule promtool rejects: the rule file stays, the rest of the run does not happen on that host.
  const rules = () => out(lab, "tnode1", "sha256sum /etc/prometheus/rules/runbook.yml; ls /etc/prometheus/rules");
  const rulesBefore = await rules();
  const bad = await play(lab, params(REL, { rules: [{ alert: "Broken", expr: "vector(1) >" }] }));
  assert.is(bad.code, 2, bad.stdout.slice(-2000));
  const f = results(bad.stdout).filter((e) => e.status === "failed");
  assert.equal(f.map((e) => `${e.host} ${e.task}`), ["tnode1 copy /etc/prometheus/rules/runbook.yml"]);
  assert.match(`${f[0]!.reason}\n${f[0]!.stderr ?? ""}`, /promtool check rules[^]*FAILED[^]*parse error/);
  assert.is(await rules(), rulesBefore);
  assert.is(await out(lab, "tnode1", "cat /run/prometheus/prometheus.pid"), pid, "Prometheus not restarted");
});

s("the optional jobs (Incus with a client certificate, Ceph, FRR) and a webhook receiver pass the real promtool and amtool", async ({ lab }) => {
  // Files made by the role's own functions, checked on tnode1 by the tools its package installed.
  const prom = prometheusYml({
    scrapeInterval: "15s",
    evaluationInterval: "15s",
    alertmanagers: ["localhost:9093"],
    ruleFiles: ["/etc/prometheus/rules/*.yml"],
    selfPort: 9090,
    nodes: lab.hosts.map((h) => ({ name: h.name, address: h.address, port: 9100 })),
    incus: { targets: lab.hosts.map((h) => ({ name: h.name, address: h.address, port: 8443 })), tls: { certFile: "/tmp/rbtest/incus.crt", keyFile: "/tmp/rbtest/incus.key", caFile: "/tmp/rbtest/ca.crt", serverName: "incus", insecureSkipVerify: false } },
    ceph: [{ name: "tnode2", address: lab.hosts[1]!.address, port: 9283 }],
    frr: lab.hosts.map((h) => ({ name: h.name, address: h.address, port: 9342 })),
    extraScrapeConfigs: [],
  });
  const am = alertmanagerYml({ webhookUrls: ["http://10.50.0.9:8080/alerts"], groupWait: "30s", groupInterval: "5m", repeatInterval: "4h" });
  const r = await ssh(lab, "tnode1", "mkdir -p /tmp/rbtest && cd /tmp/rbtest && touch incus.crt incus.key ca.crt && cat > p.yml && promtool check config p.yml", { input: prom });
  assert.match(r.stdout, /SUCCESS: p\.yml is valid prometheus config file syntax/, r.stderr);
  const a = await ssh(lab, "tnode1", "cat > /tmp/rbtest/am.yml && amtool check-config /tmp/rbtest/am.yml && rm -rf /tmp/rbtest", { input: am });
  assert.match(a.stdout, /SUCCESS/, a.stderr);
});

s("a valid change to prometheus.yml reloads Prometheus (SIGHUP): same pid, the new config served", async ({ lab }) => {
  const pid = await out(lab, "tnode1", "cat /run/prometheus/prometheus.pid");
  const r = await play(lab, params(REL, { scrapeInterval: "3s" }));
  assert.is(r.code, 0, moved(r.stdout));
  assert.equal(changed(r.stdout), ["tnode1 copy /etc/prometheus/prometheus.yml", "tnode1 reload prometheus (SIGHUP)"]);
  assert.is(await out(lab, "tnode1", "cat /run/prometheus/prometheus.pid"), pid, "reloaded, not restarted");
  await poll(60, "the new scrape interval loaded", async () => /scrape_interval: 3s/.test(((await api(lab, 9090, "/api/v1/status/config")) as { data: { yaml: string } }).data.yaml));
  const back = await play(lab, params(REL));
  assert.equal(changed(back.stdout), ["tnode1 copy /etc/prometheus/prometheus.yml", "tnode1 reload prometheus (SIGHUP)"]);
});

s("a version bump: check mode shows the relink; apply swaps the symlink and restarts only that daemon", async ({ lab }) => {
  const before = await pids(lab);
  const bumped = params(REL, { grafana: "grafana@1.1.0" });
  const chk = await play(lab, bumped, ["--check"], stateDir());
  assert.is(chk.code, 0, moved(chk.stdout));
  assert.equal(changed(chk.stdout), [
    "tnode2 download grafana 1.1.0",
    "tnode2 unpack grafana 1.1.0 into /opt/grafana/grafana-1.1.0",
    "tnode2 /opt/grafana/current -> grafana-1.1.0",
    "tnode2 service grafana (restarted)",
  ]);
  assert.match(results(chk.stdout).find((e) => e.task === "/opt/grafana/current -> grafana-1.1.0")!.reason, /relink \/opt\/grafana\/current -> grafana-1\.1\.0 \(was grafana-1\.0\.0\)/);
  assert.equal(await pids(lab), before, "check mode restarted nothing");

  const r = await play(lab, bumped);
  assert.is(r.code, 0, moved(r.stdout));
  assert.equal(changed(r.stdout), changed(chk.stdout));
  const after = await pids(lab);
  for (const [k, v] of Object.entries(before)) {
    if (k === "tnode2 grafana") assert.is.not(after[k], v, "grafana restarted");
    else assert.is(after[k], v, `${k} untouched`);
  }
  assert.is(await out(lab, "tnode2", "readlink /opt/grafana/current; ls /opt/grafana"), "grafana-1.1.0\ncurrent\ngrafana-1.0.0\ngrafana-1.1.0\n");
  assert.match(await out(lab, "tnode2", "journalctl -u grafana --no-pager -o cat | tail -n 1"), /runbook stand-in grafana 1\.1\.0 started/);
});

s("a bad checksum is refused before anything is written; the old version keeps running", async ({ lab }) => {
  const before = await pids(lab);
  const bad = params(REL, { grafana: "grafana@1.1.0", loki: { release: { version: "2.0.0", url: `${base}/${REL["loki@2.0.0"]!.file}`, sha256: REL["loki@1.0.0"]!.sha256 } } });
  const r = await play(lab, bad);
  assert.is(r.code, 2, r.stdout.slice(-2000));
  const failed = results(r.stdout).filter((e) => e.status === "failed");
  assert.equal(failed.map((e) => `${e.host} ${e.task}`), ["tnode1 download loki 2.0.0"]);
  assert.match(failed[0]!.reason, /sha256 mismatch \(expected [0-9a-f]{64}, got [0-9a-f]{64}\)/);
  assert.is(await out(lab, "tnode1", "readlink /opt/loki/current; ls -A /opt/loki"), "loki-1.0.0\ncurrent\nloki-1.0.0\n");
  assert.is((await pids(lab))["tnode1 loki"], before["tnode1 loki"]);
  assert.match(await out(lab, "tnode1", "/etc/init.d/loki status"), /loki is running/);
});

s("Prometheus and Alertmanager as systemd units: the server moved to tnode2 scrapes all three and gets the alert", async ({ lab }) => {
  const vars = { ...params(REL, { grafana: "grafana@1.1.0" }), server: "tnode2", loki: { host: "tnode1", release: params(REL).loki.release } };
  const r = await play(lab, vars);
  assert.is(r.code, 0, r.stderr + moved(r.stdout));
  assert.ok(changed(r.stdout, "tnode2").includes("tnode2 package prometheus, prometheus-alertmanager (present)"), changed(r.stdout, "tnode2").join("\n"));
  assert.equal(changed(r.stdout).filter((t) => !t.startsWith("tnode2 ")), [], "nothing else moves");
  assert.is(await out(lab, "tnode2", "systemctl is-active prometheus prometheus-alertmanager; systemctl is-enabled prometheus prometheus-alertmanager"), "active\nactive\nenabled\nenabled\n");
  const at = (path: string) => fetch(`http://${lab.hosts[1]!.address}${path}`, { signal: AbortSignal.timeout(10_000) }).then((x) => x.json());
  await poll(120, "tnode2's Prometheus: 3 node targets up", async () => {
    const t = (await at(":9090/api/v1/targets")) as { data: { activeTargets: { labels: Record<string, string>; health: string }[] } };
    const nodes = t.data.activeTargets.filter((x) => x.labels.job === "node" && x.health === "up");
    return nodes.length === 3;
  });
  await poll(120, `${ALERT} in tnode2's Alertmanager`, async () => ((await at(":9093/api/v2/alerts")) as { labels: Record<string, string> }[]).some((x) => x.labels.alertname === ALERT));
  // A changed file reloads through the unit (systemctl reload: ExecReload's SIGHUP); the pid stays.
  const pid = await out(lab, "tnode2", "systemctl show -p MainPID --value prometheus");
  const again = await play(lab, { ...vars, scrapeInterval: "3s" });
  assert.equal(changed(again.stdout), ["tnode2 copy /etc/prometheus/prometheus.yml", "tnode2 service prometheus (reloaded)"]);
  assert.is(await out(lab, "tnode2", "systemctl show -p MainPID --value prometheus"), pid);
  await poll(60, "the new interval loaded", async () => /scrape_interval: 3s/.test(((await at(":9090/api/v1/status/config")) as { data: { yaml: string } }).data.yaml));
});

s.run();
