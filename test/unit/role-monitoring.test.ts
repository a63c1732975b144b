/**
 * The loki-prometheus-grafana role without a lab: its parameters, and every
 * file it writes parsed back and checked against the format its project
 * documents (required keys and their types). Prometheus' and Alertmanager's
 * files are also checked by promtool/amtool on real hosts
 * (test/e2e/role-monitoring.test.ts); Loki's, Alloy's and Grafana's only
 * here, since the lab cannot run the real programs.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parse } from "yaml";
import {
  alertmanagerYml,
  alloyConfig,
  archiveFormat,
  dashboardsYml,
  datasourcesYml,
  grafanaIni,
  lokiPrometheusGrafana,
  lokiYml,
  prometheusYml,
  rcScript,
  rulesYml,
  systemdUnit,
  unpackScript,
  type LokiPrometheusGrafanaParams,
  type PrometheusView,
} from "../../roles/loki-prometheus-grafana/index.ts";
import { Secret } from "../../runner/secret.ts";

const params = (p: Record<string, unknown>): LokiPrometheusGrafanaParams => lokiPrometheusGrafana.schema.parse(p);
const SHA = "a".repeat(64);
const rel = (v: string, url = `https://example.org/loki-${v}.zip`) => ({ version: v, url, sha256: SHA });

test("monitoring: defaults: ports 9100/9090/9093, 15 s intervals, an InstanceDown rule, Alertmanager on, nothing from archives", () => {
  const p = params({});
  assert.equal([p.nodeExporterPort, p.prometheusPort, p.alertmanager.port], [9100, 9090, 9093]);
  assert.equal([p.scrapeInterval, p.evaluationInterval], ["15s", "15s"]);
  assert.equal(p.rules.map((r) => `${r.alert}: ${r.expr} for ${r.for}`), ["InstanceDown: up == 0 for 5m"]);
  assert.is(p.alertmanager.enabled, true);
  assert.equal([p.loki, p.alloy, p.grafana], [undefined, undefined, undefined]);
});

test("monitoring: a release needs a pinned version and a sha256; never `latest`; binaries default per program", () => {
  assert.is(params({ loki: { release: rel("3.3.2") } }).loki!.release.binary, "loki-linux-amd64");
  assert.is(params({ alloy: { release: rel("1.5.1") } }).alloy!.release.binary, "alloy-linux-amd64");
  assert.is(params({ grafana: { release: rel("11.4.0") } }).grafana!.release.binary, "bin/grafana");
  const bad = (release: object) => lokiPrometheusGrafana.schema.safeParse({ loki: { release } }).success;
  assert.not.ok(bad({ version: "latest", url: "https://example.org/l.zip", sha256: SHA }), "latest is refused");
  assert.not.ok(bad({ version: "3.3.2", url: "https://example.org/l.zip" }), "sha256 is required");
  assert.not.ok(bad({ version: "3.3.2", url: "https://example.org/l.zip", sha256: "abc" }), "sha256 is 64 hex digits");
  assert.not.ok(bad({ version: "3.3.2", url: "file:///tmp/l.zip", sha256: SHA }), "http(s) only");
  assert.not.ok(bad({ ...rel("3.3.2"), binary: "../../bin/sh" }), "no .. in the binary");
  assert.not.ok(lokiPrometheusGrafana.schema.safeParse({ scrapeInterval: "15 seconds" }).success, "durations as Prometheus writes them");
  assert.not.ok(lokiPrometheusGrafana.schema.safeParse({ rules: [{ alert: "has space", expr: "up" }] }).success);
});

test("monitoring: checks across fields: an alert listed twice; Alloy without Loki", () => {
  const problem = (p: Record<string, unknown>) => lokiPrometheusGrafana.spec.validate!(params(p));
  assert.equal(problem({ rules: [{ alert: "A", expr: "up" }, { alert: "A", expr: "up == 0" }] }), { field: "rules", message: "alert A is listed twice" });
  assert.equal(problem({ alloy: { release: rel("1.5.1") } }), { field: "alloy", message: "Alloy ships logs to Loki: set `loki` too" });
  assert.is(problem({ alloy: { release: rel("1.5.1") }, loki: { release: rel("3.3.2") } }), undefined);
});

test("monitoring: credentials are secrets", () => {
  const p = params({ grafana: { release: rel("11.4.0"), adminPassword: "pw", prometheusAuth: { user: "g", password: "pw2" } } });
  assert.ok(p.grafana!.adminPassword instanceof Secret);
  assert.ok(p.grafana!.prometheusAuth!.password instanceof Secret);
});

const VIEW: PrometheusView = {
  scrapeInterval: "15s",
  evaluationInterval: "15s",
  alertmanagers: ["localhost:9093"],
  ruleFiles: ["/etc/prometheus/rules/*.yml"],
  selfPort: 9090,
  nodes: [
    { name: "tnode1", address: "10.0.0.1", port: 9100 },
    { name: "tnode2", address: "fd00::2", port: 9100 },
  ],
  incus: { targets: [{ name: "tnode1", address: "10.0.0.1", port: 8443 }], tls: { certFile: "/etc/prometheus/incus.crt", keyFile: "/etc/prometheus/incus.key", insecureSkipVerify: true } },
  ceph: [{ name: "tnode2", address: "10.0.0.2", port: 9283 }],
  frr: [{ name: "tnode3", address: "10.0.0.3", port: 9342 }],
  extraScrapeConfigs: [{ job_name: "extra", static_configs: [{ targets: ["x:1"] }] }],
};

test("monitoring: prometheus.yml: global intervals, alerting, rule files, a job per source, every job with job_name and targets", () => {
  const doc = parse(prometheusYml(VIEW));
  assert.equal(doc.global, { scrape_interval: "15s", evaluation_interval: "15s" });
  assert.equal(doc.alerting, { alertmanagers: [{ static_configs: [{ targets: ["localhost:9093"] }] }] });
  assert.equal(doc.rule_files, ["/etc/prometheus/rules/*.yml"]);
  const jobs = doc.scrape_configs as Record<string, unknown>[];
  assert.equal(jobs.map((j) => j.job_name), ["prometheus", "node", "incus", "ceph", "frr", "extra"]);
  for (const j of jobs) {
    for (const sc of j.static_configs as { targets: string[] }[]) for (const t of sc.targets) assert.match(t, /^(\[[0-9a-f:]+\]|[A-Za-z0-9.-]+):\d+$/, `${j.job_name}: ${t}`);
  }
  assert.equal(jobs[1]!.static_configs, [
    { targets: ["10.0.0.1:9100"], labels: { host: "tnode1" } },
    { targets: ["[fd00::2]:9100"], labels: { host: "tnode2" } },
  ]);
  assert.equal(jobs[2], {
    job_name: "incus",
    metrics_path: "/1.0/metrics",
    scheme: "https",
    tls_config: { cert_file: "/etc/prometheus/incus.crt", key_file: "/etc/prometheus/incus.key", insecure_skip_verify: true },
    static_configs: [{ targets: ["10.0.0.1:8443"], labels: { host: "tnode1" } }],
  });
  assert.is(jobs[3]!.honor_labels, true);
  assert.not.ok("alerting" in parse(prometheusYml({ ...VIEW, alertmanagers: [] })), "no Alertmanager: no alerting section");
});

test("monitoring: the rule file: groups[].name and rules[] with alert, expr, for; labels and annotations only when given", () => {
  const doc = parse(rulesYml([{ alert: "A", expr: 'up{job="node"} == 0', for: "5m", labels: { severity: "page" }, annotations: { summary: "{{ $labels.host }} down" } }, { alert: "B", expr: "vector(1)", for: "0s", labels: {}, annotations: {} }]));
  assert.equal(doc, {
    groups: [
      {
        name: "runbook",
        rules: [
          { alert: "A", expr: 'up{job="node"} == 0', for: "5m", labels: { severity: "page" }, annotations: { summary: "{{ $labels.host }} down" } },
          { alert: "B", expr: "vector(1)", for: "0s" },
        ],
      },
    ],
  });
});

test("monitoring: alertmanager.yml: a route to receiver `default`, which exists; webhooks when given", () => {
  const doc = parse(alertmanagerYml({ webhookUrls: ["http://hook:8080/alert"], groupWait: "30s", groupInterval: "5m", repeatInterval: "4h" }));
  assert.is(doc.route.receiver, "default");
  assert.equal(doc.receivers, [{ name: "default", webhook_configs: [{ url: "http://hook:8080/alert", send_resolved: true }] }]);
  assert.equal(parse(alertmanagerYml({ webhookUrls: [], groupWait: "1s", groupInterval: "5m", repeatInterval: "4h" })).receivers, [{ name: "default" }]);
});

test("monitoring: Loki's config: the documented single-binary keys, filesystem storage, tsdb v13 schema; retention turns the compactor on", () => {
  const doc = parse(lokiYml({ port: 3100, grpcPort: 9096, dataDir: "/var/lib/loki", schemaFrom: "2024-01-01" }));
  assert.is(doc.auth_enabled, false);
  assert.equal(doc.server, { http_listen_port: 3100, grpc_listen_port: 9096 });
  assert.equal(doc.common.storage, { filesystem: { chunks_directory: "/var/lib/loki/chunks", rules_directory: "/var/lib/loki/rules" } });
  assert.is(doc.common.replication_factor, 1);
  assert.equal(doc.common.ring, { kvstore: { store: "inmemory" } });
  const [schema] = doc.schema_config.configs;
  assert.equal(schema, { from: "2024-01-01", store: "tsdb", object_store: "filesystem", schema: "v13", index: { prefix: "index_", period: "24h" } });
  assert.not.ok("compactor" in doc);
  const kept = parse(lokiYml({ port: 3100, grpcPort: 9096, dataDir: "/var/lib/loki", schemaFrom: "2024-01-01", retention: "744h" }));
  assert.equal(kept.limits_config, { retention_period: "744h" });
  assert.is(kept.compactor.retention_enabled, true);
  assert.is(kept.compactor.delete_request_store, "filesystem");
});

/**
 * A small reader of Alloy's configuration syntax: blocks `NAME "LABEL" { ... }`
 * and `attr = value` lines, comments, balanced braces and brackets; returns
 * each top-level block with its attribute names and nested blocks.
 */
function alloyBlocks(text: string): { name: string; label?: string; attrs: string[]; blocks: string[] }[] {
  const lines = text.split("\n").map((l) => l.replace(/\/\/.*$/, "").trim()).filter(Boolean);
  const out: { name: string; label?: string; attrs: string[]; blocks: string[] }[] = [];
  let depth = 0;
  let brackets = 0;
  for (const l of lines) {
    const open = /^([a-z_][a-z0-9_.]*)(?: "([^"]+)")? \{$/.exec(l);
    if (open && brackets === 0) {
      if (depth === 0) out.push({ name: open[1]!, label: open[2], attrs: [], blocks: [] });
      else out.at(-1)!.blocks.push(open[1]!);
      depth++;
      continue;
    }
    if (l === "}" && brackets === 0) {
      depth--;
      assert.ok(depth >= 0, "unbalanced }");
      continue;
    }
    const attr = /^([a-z_][a-z0-9_]*)\s*=\s*(.*)$/.exec(l);
    if (attr && brackets === 0 && depth === 1) out.at(-1)!.attrs.push(attr[1]!);
    else assert.ok(brackets > 0 || depth > 0, `a line outside any block: ${l}`);
    brackets += (l.match(/\[/g) ?? []).length - (l.match(/\]/g) ?? []).length;
    assert.ok(brackets >= 0, `unbalanced ] in ${l}`);
  }
  assert.is(depth, 0, "every block closed");
  assert.is(brackets, 0, "every list closed");
  return out;
}

test("monitoring: Alloy's config: file_match -> source.file -> loki.write with the push URL; the journal on systemd hosts", () => {
  const text = alloyConfig({ host: "tnode2", lokiUrl: "http://10.0.0.1:3100/loki/api/v1/push", logPaths: ["/var/log/*.log"], journal: true });
  const blocks = alloyBlocks(text);
  assert.equal(blocks.map((b) => `${b.name} ${b.label} [${b.attrs.join(",")}] {${b.blocks.join(",")}}`), [
    "local.file_match logs [path_targets] {}",
    "loki.source.file logs [targets,forward_to] {}",
    "loki.source.journal journal [labels,forward_to] {}",
    "loki.write default [] {endpoint}",
  ]);
  assert.match(text, /"__path__" = "\/var\/log\/\*\.log", "job" = "varlogs", "host" = "tnode2"/);
  assert.match(text, /url = "http:\/\/10\.0\.0\.1:3100\/loki\/api\/v1\/push"/);
  // Every forward_to names a receiver the file defines.
  for (const m of text.matchAll(/forward_to = \[([^\]]+)\]/g)) assert.is(m[1], "loki.write.default.receiver");
  assert.not.ok(alloyBlocks(alloyConfig({ host: "h", lokiUrl: "http://l/loki/api/v1/push", logPaths: ["/var/log/*.log"], journal: false })).some((b) => b.name === "loki.source.journal"));
});

test("monitoring: grafana.ini: paths, server port, security; the admin password only when given", () => {
  const ini = grafanaIni({ port: 3000, dataDir: "/var/lib/grafana", logDir: "/var/log/grafana", provisioningDir: "/etc/grafana/provisioning", adminUser: "admin", adminPassword: "pw" });
  const sections: Record<string, Record<string, string>> = {};
  let cur = "";
  for (const l of ini.split("\n")) {
    if (!l || l.startsWith(";")) continue;
    const sec = /^\[([a-z_]+)\]$/.exec(l);
    if (sec) sections[(cur = sec[1]!)] = {};
    else {
      const kv = /^([a-z_]+) = (.*)$/.exec(l);
      assert.ok(kv && cur, `not an ini line: ${l}`);
      sections[cur]![kv[1]!] = kv[2]!;
    }
  }
  assert.equal(sections.paths, { data: "/var/lib/grafana", logs: "/var/log/grafana", plugins: "/var/lib/grafana/plugins", provisioning: "/etc/grafana/provisioning" });
  assert.equal(sections.server, { http_port: "3000" });
  assert.equal(sections.security, { admin_user: "admin", admin_password: "pw" });
  assert.not.match(grafanaIni({ port: 3000, dataDir: "/d", logDir: "/l", provisioningDir: "/p", adminUser: "admin" }), /admin_password/);
});

test("monitoring: Grafana datasources (apiVersion 1): Prometheus default, Loki; a password only in secureJsonData", () => {
  const doc = parse(datasourcesYml({ prometheusUrl: "http://10.0.0.1:9090", lokiUrl: "http://10.0.0.1:3100", prometheusAuth: { user: "g", password: "pw" } }));
  assert.is(doc.apiVersion, 1);
  const [prom, loki] = doc.datasources;
  for (const d of doc.datasources) for (const k of ["name", "type", "access", "url"]) assert.ok(k in d, `${d.name}: ${k}`);
  assert.equal([prom.type, prom.url, prom.isDefault, loki.type, loki.url, loki.isDefault], ["prometheus", "http://10.0.0.1:9090", true, "loki", "http://10.0.0.1:3100", false]);
  assert.equal([prom.basicAuth, prom.basicAuthUser, prom.secureJsonData], [true, "g", { basicAuthPassword: "pw" }]);
  assert.not.ok("basicAuth" in loki);
  assert.not.ok(JSON.stringify({ ...prom, secureJsonData: undefined }).includes("pw"), "the password is only in secureJsonData");
});

test("monitoring: Grafana dashboard provider (apiVersion 1): type file with options.path", () => {
  const doc = parse(dashboardsYml("/var/lib/grafana/dashboards"));
  assert.is(doc.apiVersion, 1);
  assert.equal(doc.providers[0].type, "file");
  assert.equal(doc.providers[0].options.path, "/var/lib/grafana/dashboards");
  assert.ok(doc.providers[0].name);
});

const DAEMON = { name: "loki", user: "loki", binary: "/opt/loki/current/loki-linux-amd64", args: ["-config.file=/etc/loki/config.yml", "50%"], workDir: "/var/lib/loki", description: "Loki 3.3.2 (log store)" };

test("monitoring: the systemd unit runs the binary by its stable path as the daemon's user; % doubled", () => {
  const unit = systemdUnit(DAEMON);
  assert.match(unit, /^ExecStart=\/opt\/loki\/current\/loki-linux-amd64 -config\.file=\/etc\/loki\/config\.yml 50%%$/m);
  assert.match(unit, /^User=loki$/m);
  assert.match(unit, /^WantedBy=multi-user\.target$/m);
});

test("monitoring: the rc script: LSB header, start/stop/restart/status, the daemon as its user via setpriv", () => {
  const rc = rcScript(DAEMON);
  assert.match(rc, /^### BEGIN INIT INFO\n# Provides: +loki$/m);
  assert.match(rc, /setsid setpriv --reuid="\$RUNAS" --regid="\$RUNAS" --init-groups -- \/opt\/loki\/current\/loki-linux-amd64 -config\.file=\/etc\/loki\/config\.yml 50% <\/dev\/null >>"\$LOGFILE" 2>&1 &/);
  for (const a of ["start)", "stop)", "restart)", "status)"]) assert.ok(rc.includes(`  ${a}`), a);
});

test("monitoring: archive formats from the URL; unpack strips one top directory and records the sha256", () => {
  assert.is(archiveFormat("https://x/grafana-11.4.0.linux-amd64.tar.gz"), "tar.gz");
  assert.is(archiveFormat("https://x/loki-linux-amd64.zip?raw=1"), "zip");
  assert.is(archiveFormat("https://x/loki"), undefined);
  assert.is(archiveFormat("https://x/loki", "zip"), "zip");
  const sh = unpackScript({ archive: "/opt/loki/.loki-3.3.2.zip", dir: "/opt/loki/loki-3.3.2", format: "zip", binary: "loki-linux-amd64", sha256: SHA });
  assert.match(sh, /^unzip -q \/opt\/loki\/\.loki-3\.3\.2\.zip -d "\$t"$/m);
  assert.match(sh, /mktemp -d \/opt\/loki\/\.unpack\.XXXXXX/);
  assert.ok(sh.includes(`printf '%s\\n' ${SHA} >"$src/.runbook-release"`), sh);
  assert.match(sh, /mv "\$src" \/opt\/loki\/loki-3\.3\.2\nrm -f \/opt\/loki\/\.loki-3\.3\.2\.zip$/);
});

test.run();
