/**
 * The pure part of the loki-prometheus-grafana role: every file it writes,
 * made from typed values (no host access), so unit tests parse them back
 * and check them against the formats their projects document.
 *
 * - prometheus.yml, the rule file (Prometheus' configuration and
 *   alerting-rule formats), alertmanager.yml;
 * - Loki's config (single binary, filesystem storage: Loki's "local
 *   configuration example");
 * - Grafana Alloy's config (the Alloy configuration syntax: blocks and
 *   attributes; not YAML);
 * - Grafana's grafana.ini and provisioning files (datasources, dashboard
 *   providers);
 * - the service files for release-archive daemons: a systemd unit, and an
 *   rc script (Slackware /etc/rc.d/rc.NAME, Debian without systemd
 *   /etc/init.d/NAME) that starts the daemon directly as its user.
 */
import { stringify } from "yaml";
import { shq } from "../../runner/quote.ts";

const yaml = (v: unknown) => stringify(v, { lineWidth: 0 });

/** A Prometheus duration (`15s`, `1m30s`, `0s`). */
export const DURATION = /^((\d+)y)?((\d+)w)?((\d+)d)?((\d+)h)?((\d+)m)?((\d+)s)?((\d+)ms)?$/;
/** A Prometheus metric or alert name. */
export const METRIC_NAME = /^[A-Za-z_:][A-Za-z0-9_:]*$/;
/** A label name. */
export const LABEL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** One alerting rule (Prometheus' rule-file format). */
export interface AlertRule {
  alert: string;
  expr: string;
  for: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** One `host:port` target with the host's inventory name as a label. */
export interface Target {
  name: string;
  address: string;
  port: number;
}

/** A scrape job of prometheus.yml (the fields this role writes; extra jobs pass through as given). */
export interface ScrapeJob {
  job_name: string;
  [key: string]: unknown;
}

/** TLS client settings of Incus' metrics job. */
export interface IncusTls {
  certFile: string;
  keyFile: string;
  caFile?: string;
  serverName?: string;
  insecureSkipVerify: boolean;
}

/** What prometheus.yml is made of. */
export interface PrometheusView {
  scrapeInterval: string;
  evaluationInterval: string;
  /** `host:port` of each Alertmanager; none: no `alerting` section. */
  alertmanagers: string[];
  ruleFiles: string[];
  selfPort: number;
  nodes: Target[];
  incus?: { targets: Target[]; tls: IncusTls };
  ceph?: Target[];
  frr?: Target[];
  extraScrapeConfigs: ScrapeJob[];
}

/** `[host]:port`: IPv6 addresses in brackets. */
export const hostPort = (address: string, port: number) => (address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`);

/** One static_config per target, labelled `host: NAME`, so a dashboard shows inventory names rather than addresses. */
const staticConfigs = (targets: Target[]) => targets.map((t) => ({ targets: [hostPort(t.address, t.port)], labels: { host: t.name } }));

/** The scrape jobs prometheus.yml lists, in order: Prometheus itself, node exporters, Incus, Ceph, FRR, then the extra ones. */
export function scrapeJobs(v: PrometheusView): ScrapeJob[] {
  const jobs: ScrapeJob[] = [
    { job_name: "prometheus", static_configs: [{ targets: [`localhost:${v.selfPort}`] }] },
    { job_name: "node", static_configs: staticConfigs(v.nodes) },
  ];
  if (v.incus) {
    const t = v.incus.tls;
    jobs.push({
      job_name: "incus",
      metrics_path: "/1.0/metrics",
      scheme: "https",
      tls_config: {
        cert_file: t.certFile,
        key_file: t.keyFile,
        ...(t.caFile ? { ca_file: t.caFile } : {}),
        ...(t.serverName ? { server_name: t.serverName } : {}),
        ...(t.insecureSkipVerify ? { insecure_skip_verify: true } : {}),
      },
      static_configs: staticConfigs(v.incus.targets),
    });
  }
  // The mgr module exports cluster-wide metrics from whichever mgr is active: its own labels win.
  if (v.ceph) jobs.push({ job_name: "ceph", honor_labels: true, static_configs: staticConfigs(v.ceph) });
  if (v.frr) jobs.push({ job_name: "frr", static_configs: staticConfigs(v.frr) });
  return [...jobs, ...v.extraScrapeConfigs];
}

/** prometheus.yml (Prometheus' configuration file format). */
export function prometheusYml(v: PrometheusView): string {
  const doc: Record<string, unknown> = {
    global: { scrape_interval: v.scrapeInterval, evaluation_interval: v.evaluationInterval },
  };
  if (v.alertmanagers.length) doc.alerting = { alertmanagers: [{ static_configs: [{ targets: v.alertmanagers }] }] };
  doc.rule_files = v.ruleFiles;
  doc.scrape_configs = scrapeJobs(v);
  return "# Written by runbook (role loki-prometheus-grafana); checked by `promtool check config` before it replaces the old file.\n" + yaml(doc);
}

/** The rule file: one group `runbook` (Prometheus' alerting-rule format). */
export function rulesYml(rules: AlertRule[]): string {
  const group = {
    name: "runbook",
    rules: rules.map((r) => ({
      alert: r.alert,
      expr: r.expr,
      for: r.for,
      ...(Object.keys(r.labels).length ? { labels: r.labels } : {}),
      ...(Object.keys(r.annotations).length ? { annotations: r.annotations } : {}),
    })),
  };
  return "# Written by runbook (role loki-prometheus-grafana); checked by `promtool check rules`.\n" + yaml({ groups: [group] });
}

/** What alertmanager.yml routes: every alert to one receiver, `default`, with webhooks when given. */
export interface AlertmanagerView {
  webhookUrls: string[];
  groupWait: string;
  groupInterval: string;
  repeatInterval: string;
}

/** alertmanager.yml (Alertmanager's configuration file format). */
export function alertmanagerYml(v: AlertmanagerView): string {
  const receiver: Record<string, unknown> = { name: "default" };
  if (v.webhookUrls.length) receiver.webhook_configs = v.webhookUrls.map((url) => ({ url, send_resolved: true }));
  const doc = {
    route: { receiver: "default", group_by: ["alertname"], group_wait: v.groupWait, group_interval: v.groupInterval, repeat_interval: v.repeatInterval },
    receivers: [receiver],
  };
  return "# Written by runbook (role loki-prometheus-grafana); checked by `amtool check-config`.\n" + yaml(doc);
}

/** Loki's single-binary config with filesystem storage (Loki's documented local configuration). */
export interface LokiView {
  port: number;
  grpcPort: number;
  dataDir: string;
  /** `schema_config`'s first period start, `YYYY-MM-DD`: fixed once data exists (a new date would start a second schema). */
  schemaFrom: string;
  retention?: string;
}

export function lokiYml(v: LokiView): string {
  const doc: Record<string, unknown> = {
    auth_enabled: false,
    server: { http_listen_port: v.port, grpc_listen_port: v.grpcPort },
    common: {
      instance_addr: "127.0.0.1",
      path_prefix: v.dataDir,
      storage: { filesystem: { chunks_directory: `${v.dataDir}/chunks`, rules_directory: `${v.dataDir}/rules` } },
      replication_factor: 1,
      ring: { kvstore: { store: "inmemory" } },
    },
    schema_config: { configs: [{ from: v.schemaFrom, store: "tsdb", object_store: "filesystem", schema: "v13", index: { prefix: "index_", period: "24h" } }] },
  };
  if (v.retention) {
    doc.limits_config = { retention_period: v.retention };
    doc.compactor = { working_directory: `${v.dataDir}/compactor`, retention_enabled: true, delete_request_store: "filesystem" };
  }
  return "# Written by runbook (role loki-prometheus-grafana).\n" + yaml(doc);
}

/** An Alloy string literal (the syntax's strings are Go-style double-quoted). */
const alloyString = (s: string) => JSON.stringify(s);

/** What a host's Alloy ships: log files by glob, and the journal where systemd runs. */
export interface AlloyView {
  host: string;
  lokiUrl: string;
  logPaths: string[];
  journal: boolean;
}

/**
 * Alloy's config: `local.file_match` + `loki.source.file` for the log files,
 * `loki.source.journal` on systemd hosts, all into one `loki.write`
 * (Alloy's configuration syntax: `BLOCK "LABEL" { attr = value }`).
 */
export function alloyConfig(v: AlloyView): string {
  const targets = v.logPaths.map((p) => `    {"__path__" = ${alloyString(p)}, "job" = "varlogs", "host" = ${alloyString(v.host)}},`).join("\n");
  const lines = [
    "// Written by runbook (role loki-prometheus-grafana).",
    `local.file_match "logs" {`,
    "  path_targets = [",
    targets,
    "  ]",
    "}",
    "",
    `loki.source.file "logs" {`,
    "  targets    = local.file_match.logs.targets",
    "  forward_to = [loki.write.default.receiver]",
    "}",
    "",
  ];
  if (v.journal) {
    lines.push(`loki.source.journal "journal" {`, `  labels     = {"job" = "journal", "host" = ${alloyString(v.host)}}`, "  forward_to = [loki.write.default.receiver]", "}", "");
  }
  lines.push(`loki.write "default" {`, "  endpoint {", `    url = ${alloyString(v.lokiUrl)}`, "  }", "}", "");
  return lines.join("\n");
}

/** grafana.ini: paths, the port, and the admin (its password a secret the caller marks). */
export interface GrafanaIniView {
  port: number;
  dataDir: string;
  logDir: string;
  provisioningDir: string;
  adminUser: string;
  adminPassword?: string;
}

export function grafanaIni(v: GrafanaIniView): string {
  return [
    "; Written by runbook (role loki-prometheus-grafana).",
    "[paths]",
    `data = ${v.dataDir}`,
    `logs = ${v.logDir}`,
    `plugins = ${v.dataDir}/plugins`,
    `provisioning = ${v.provisioningDir}`,
    "",
    "[server]",
    `http_port = ${v.port}`,
    "",
    "[security]",
    `admin_user = ${v.adminUser}`,
    ...(v.adminPassword !== undefined ? [`admin_password = ${v.adminPassword}`] : []),
    "",
    "[analytics]",
    "reporting_enabled = false",
    "check_for_updates = false",
    "",
  ].join("\n");
}

/** A datasource's HTTP basic auth: the password goes to `secureJsonData` (Grafana encrypts it in its database). */
export interface BasicAuth {
  user: string;
  password: string;
}

export interface DatasourcesView {
  prometheusUrl: string;
  lokiUrl?: string;
  prometheusAuth?: BasicAuth;
  lokiAuth?: BasicAuth;
}

/** Grafana's datasource provisioning file (apiVersion 1): Prometheus (the default) and Loki. */
export function datasourcesYml(v: DatasourcesView): string {
  const ds = (name: string, type: string, url: string, uid: string, auth: BasicAuth | undefined, isDefault: boolean) => ({
    name,
    type,
    uid,
    access: "proxy",
    url,
    isDefault,
    editable: false,
    ...(auth ? { basicAuth: true, basicAuthUser: auth.user, secureJsonData: { basicAuthPassword: auth.password } } : {}),
  });
  const datasources = [ds("Prometheus", "prometheus", v.prometheusUrl, "runbook-prometheus", v.prometheusAuth, true)];
  if (v.lokiUrl) datasources.push(ds("Loki", "loki", v.lokiUrl, "runbook-loki", v.lokiAuth, false));
  return "# Written by runbook (role loki-prometheus-grafana).\n" + yaml({ apiVersion: 1, datasources });
}

/** Grafana's dashboard provider file (apiVersion 1): dashboards from JSON files in `dir`. */
export function dashboardsYml(dir: string): string {
  return (
    "# Written by runbook (role loki-prometheus-grafana).\n" +
    yaml({ apiVersion: 1, providers: [{ name: "runbook", orgId: 1, folder: "", type: "file", disableDeletion: true, allowUiUpdates: false, options: { path: dir, foldersFromFilesStructure: false } }] })
  );
}

/** How a release-archive daemon runs: its binary under the stable symlink, its user, its arguments. */
export interface DaemonView {
  name: string;
  user: string;
  /** The binary, by its stable path (`/opt/loki/current/loki-linux-amd64`). */
  binary: string;
  args: string[];
  workDir: string;
  description: string;
}

/** A systemd unit for a release-archive daemon. */
export function systemdUnit(d: DaemonView): string {
  return [
    "# Written by runbook (role loki-prometheus-grafana).",
    "[Unit]",
    `Description=${d.description}`,
    "After=network-online.target",
    "Wants=network-online.target",
    "",
    "[Service]",
    `User=${d.user}`,
    `Group=${d.user}`,
    `WorkingDirectory=${d.workDir}`,
    `ExecStart=${[d.binary, ...d.args].map(systemdWord).join(" ")}`,
    "Restart=on-failure",
    "RestartSec=2",
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

/** A word of a unit's ExecStart: quoted when it holds a space or quote, `$` and `%` doubled (systemd expands both). */
function systemdWord(w: string): string {
  const escaped = w.replace(/\$/g, "$$$$").replace(/%/g, "%%");
  return /[\s"'\\]/.test(escaped) ? JSON.stringify(escaped) : escaped;
}

/**
 * An rc script for a release-archive daemon on a host without systemd:
 * start/stop/restart/status with a pid file. The daemon runs as its user
 * (setpriv, util-linux: no extra process between the pid file and it) in a
 * session of its own, output appended to /var/log/NAME/NAME.log. `start`
 * fails, with the log's last lines, when the daemon is gone a second later.
 * The LSB header lets Debian's update-rc.d enable it; Slackware runs it
 * from rc.local.
 */
export function rcScript(d: DaemonView): string {
  const cmd = [d.binary, ...d.args].map(shq).join(" ");
  return `#!/bin/sh
### BEGIN INIT INFO
# Provides:          ${d.name}
# Required-Start:    $remote_fs $network
# Required-Stop:     $remote_fs $network
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: ${d.description}
### END INIT INFO
# Written by runbook (role loki-prometheus-grafana).
NAME=${shq(d.name)}
RUNAS=${shq(d.user)}
PIDFILE=/run/$NAME/$NAME.pid
LOGFILE=/var/log/$NAME/$NAME.log

running() {
  [ -f "$PIDFILE" ] && pid=$(cat "$PIDFILE") && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

start() {
  if running; then echo "$NAME is already running (pid $pid)"; return 0; fi
  mkdir -p "/run/$NAME" "/var/log/$NAME" && chown "$RUNAS" "/run/$NAME" "/var/log/$NAME" || return 1
  cd ${shq(d.workDir)} || return 1
  setsid setpriv --reuid="$RUNAS" --regid="$RUNAS" --init-groups -- ${cmd} </dev/null >>"$LOGFILE" 2>&1 &
  echo $! >"$PIDFILE"
  sleep 1
  if ! running; then
    echo "$NAME exited at once; the end of $LOGFILE:" >&2
    tail -n 20 "$LOGFILE" >&2
    rm -f "$PIDFILE"
    return 1
  fi
  echo "$NAME started (pid $pid)"
}

stop() {
  if ! running; then rm -f "$PIDFILE"; echo "$NAME is not running"; return 0; fi
  kill "$pid"
  i=0
  while kill -0 "$pid" 2>/dev/null && [ $i -lt 150 ]; do sleep 0.2; i=$((i + 1)); done
  if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; fi
  rm -f "$PIDFILE"
  echo "$NAME stopped"
}

case "$1" in
  start) start ;;
  stop) stop ;;
  restart) stop && start ;;
  status)
    if running; then echo "$NAME is running (pid $pid)"; exit 0; fi
    echo "$NAME is not running"; exit 3 ;;
  *) echo "usage: $0 start|stop|restart|status" >&2; exit 2 ;;
esac
`;
}

/** How a release archive is unpacked: by the URL's ending unless given. */
export type ArchiveFormat = "tar.gz" | "zip";

export function archiveFormat(url: string, given?: ArchiveFormat): ArchiveFormat | undefined {
  if (given) return given;
  const path = url.replace(/[?#].*$/, "");
  if (/\.(tar\.gz|tgz)$/i.test(path)) return "tar.gz";
  if (/\.zip$/i.test(path)) return "zip";
  return undefined;
}

/**
 * Unpacks `archive` into `dir` (the versioned directory) through a temp
 * directory beside it: a single top-level directory in the archive is
 * stripped; the binary must be there; `.runbook-release` records the
 * sha256 (how the next run knows this version is in place without
 * fetching); the archive is removed. A directory left by an earlier,
 * different archive of the same version is replaced.
 */
export function unpackScript(o: { archive: string; dir: string; format: ArchiveFormat; binary: string; sha256: string }): string {
  const parent = o.dir.replace(/\/[^/]+$/, "");
  const extract = o.format === "zip" ? `unzip -q ${shq(o.archive)} -d "$t"` : `tar -xzf ${shq(o.archive)} -C "$t"`;
  return [
    "set -e",
    `t=$(mktemp -d ${shq(`${parent}/.unpack.`)}XXXXXX)`,
    `trap 'rm -rf "$t"' EXIT`,
    extract,
    `set -- "$t"/*`,
    `if [ $# -eq 1 ] && [ -d "$1" ]; then src=$1; else src=$t; fi`,
    `[ -f "$src"/${shq(o.binary)} ] || { echo ${shq(`${o.binary} is not in the archive`)} >&2; exit 1; }`,
    `chmod 0755 "$src" "$src"/${shq(o.binary)}`,
    `printf '%s\\n' ${shq(o.sha256)} >"$src/.runbook-release"`,
    `rm -rf ${shq(o.dir)}`,
    `mv "$src" ${shq(o.dir)}`,
    `rm -f ${shq(o.archive)}`,
  ].join("\n");
}
