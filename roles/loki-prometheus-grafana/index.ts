/**
 * Role `loki-prometheus-grafana`: metrics and logs of the cluster in one
 * place (reference 000's monitoring layer, reference 004's node exporters
 * and dashboards).
 *
 * - **node exporter** on every host of the play (Debian's
 *   `prometheus-node-exporter`).
 * - On the `server` host: **Prometheus** (Debian's `prometheus`) scraping
 *   every host's node exporter, Incus' `/1.0/metrics` with a client
 *   certificate, Ceph's mgr prometheus module and FRR's exporter where
 *   asked; alerting rules; **Alertmanager** (Debian's
 *   `prometheus-alertmanager`). prometheus.yml and the rule file go through
 *   `promtool check config` / `check rules` before they replace the old
 *   file, alertmanager.yml through `amtool check-config`; a change reloads
 *   the daemon (SIGHUP).
 * - **Loki**, **Grafana Alloy** and **Grafana** (not in Debian) from release
 *   archives by URL with a required sha256: unpacked under
 *   `/opt/NAME/NAME-VERSION`, `/opt/NAME/current` the stable symlink the
 *   service runs; a version bump is a parameter change (check mode shows the
 *   relink), apply swaps the symlink and restarts that daemon only. Services:
 *   a systemd unit, or the role's rc script (Slackware `/etc/rc.d/rc.NAME`,
 *   Debian without systemd `/etc/init.d/NAME`) that starts the daemon
 *   directly as its user. Never "latest": a version is what the parameters say.
 *
 * @example
 *   lokiPrometheusGrafana({
 *     server: "tnode1",
 *     rules: [{ alert: "InstanceDown", expr: "up == 0", for: "5m" }],
 *     loki: { release: { version: "3.3.2", url: "https://.../loki-linux-amd64.zip", sha256: "..." } },
 *     grafana: { release: { version: "11.4.0", url: "https://.../grafana-11.4.0.linux-amd64.tar.gz", sha256: "..." } },
 *   })
 */
import { z } from "zod";
import { role, type Handler, type Host, type Infer, type TaskResult } from "../../runner/index.ts";
import { secretString } from "../../runner/schema.ts";
import { Secret } from "../../runner/secret.ts";
import { shq } from "../../runner/quote.ts";
import {
  alertmanagerYml,
  alloyConfig,
  archiveFormat,
  dashboardsYml,
  datasourcesYml,
  DURATION,
  grafanaIni,
  LABEL_NAME,
  lokiYml,
  METRIC_NAME,
  prometheusYml,
  rcScript,
  rulesYml,
  systemdUnit,
  unpackScript,
  type ArchiveFormat,
  type DaemonView,
  type Target,
} from "./config.ts";

export * from "./config.ts";

export const PROMETHEUS_YML = "/etc/prometheus/prometheus.yml";
export const RULES_DIR = "/etc/prometheus/rules";
export const RULES_YML = `${RULES_DIR}/runbook.yml`;
export const ALERTMANAGER_YML = "/etc/prometheus/alertmanager.yml";
/** `%s` is the new file, beside the old one (see the copy task's `validate`). */
export const PROMTOOL_CONFIG = "promtool check config %s";
export const PROMTOOL_RULES = "promtool check rules %s";
export const AMTOOL_CONFIG = "amtool check-config %s";

/** Debian's packages and the services they ship (systemd units and /etc/init.d scripts with pid files in /run). */
export const PACKAGES = {
  nodeExporter: { name: "prometheus-node-exporter", pidfile: "/run/prometheus/prometheus-node-exporter.pid" },
  prometheus: { name: "prometheus", pidfile: "/run/prometheus/prometheus.pid" },
  alertmanager: { name: "prometheus-alertmanager", pidfile: "/run/prometheus/prometheus-alertmanager.pid" },
} as const;

const duration = z.string().regex(DURATION, "a Prometheus duration such as 15s, 1m or 0s");
const group = z.string().regex(/^[A-Za-z0-9_.-]+$/);
const port = z.int().min(1).max(65535);
const labels = z.record(z.string().regex(LABEL_NAME, "a label name"), z.string()).default({});

/**
 * A release archive: a pinned version at a URL with its sha256. "latest" or
 * any other moving name is refused: a version is a fact of the parameters,
 * never looked up at run time.
 */
const release = (binary: string) =>
  z.strictObject({
    version: z
      .string()
      .regex(/^v?\d+(\.\d+)*([.+-][0-9A-Za-z.+-]*)?$/, "a release version such as 3.3.2 (never \"latest\")")
      .describe("The release's version (`3.3.2`): the directory /opt/NAME/NAME-VERSION; a bump is a parameter change."),
    url: z.url({ protocol: /^https?$/ }).describe("Where the archive is (.tar.gz or .zip); fetched by the runner, never on a guess."),
    sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, "64 hex digits").describe("The archive's sha256 (required): a download that differs is refused before anything is written."),
    format: z.enum(["tar.gz", "zip"]).optional().describe("The archive's format; default from the URL's ending."),
    binary: z.string().regex(/^[A-Za-z0-9_.\/-]+$/).refine((b) => !b.split("/").includes(".."), "no `..`").default(binary).describe(`The daemon's binary inside the archive (after a single top directory is stripped); default ${binary}.`),
  });
export type Release = z.output<ReturnType<typeof release>>;

const auth = z.strictObject({ user: z.string(), password: secretString() }).optional();

const params = {
  server: z.string().optional().describe("The inventory host that runs Prometheus and Alertmanager (and, by default, Loki and Grafana). Default: the play's first host (after --limit: name it when you limit)."),
  targets: group.optional().describe("The inventory group whose hosts' node exporters Prometheus scrapes. Default: the play's hosts, after --limit: name the group when you limit, or prometheus.yml lists only the limited hosts."),
  nodeExporterPort: port.default(9100).describe("Port of the node exporters (Debian's default 9100)."),
  prometheusPort: port.default(9090).describe("Prometheus' port (Debian's default 9090)."),
  scrapeInterval: duration.default("15s").describe("How often Prometheus scrapes every target (global scrape_interval)."),
  evaluationInterval: duration.default("15s").describe("How often Prometheus evaluates the rules."),
  rules: z
    .array(
      z.strictObject({
        alert: z.string().regex(METRIC_NAME, "an alert name (letters, digits, _ and :)"),
        expr: z.string().min(1).describe("PromQL; checked by promtool with the rest of the file."),
        for: duration.default("0s"),
        labels,
        annotations: z.record(z.string(), z.string()).default({}),
      }),
    )
    .default([{ alert: "InstanceDown", expr: "up == 0", for: "5m", labels: { severity: "warning" }, annotations: { summary: "{{ $labels.host }} ({{ $labels.job }}) is down" } }])
    .describe("Alerting rules, in one group `runbook` of /etc/prometheus/rules/runbook.yml."),
  extraScrapeConfigs: z.array(z.looseObject({ job_name: z.string() })).default([]).describe("More scrape_configs entries, as Prometheus' format has them; checked by promtool."),
  alertmanager: z
    .strictObject({
      enabled: z.boolean().default(true),
      port: port.default(9093),
      webhookUrls: z.array(z.url()).default([]).describe("Webhook receivers for every alert (none: alerts are only shown in Alertmanager)."),
      groupWait: duration.default("30s"),
      groupInterval: duration.default("5m"),
      repeatInterval: duration.default("4h"),
    })
    .prefault({})
    .describe("Alertmanager on the server, which Prometheus sends alerts to."),
  incus: z
    .strictObject({
      group: group.describe("Hosts where Incus runs (their inventory addresses)."),
      port: port.default(8443),
      certFile: z.string().describe("Client certificate on the server host, trusted by Incus as a metrics certificate (`incus config trust add-certificate --type=metrics`)."),
      keyFile: z.string(),
      caFile: z.string().optional().describe("CA (or Incus' server certificate) to verify Incus with."),
      serverName: z.string().optional(),
      insecureSkipVerify: z.boolean().default(false),
    })
    .optional()
    .describe("Scrape Incus' /1.0/metrics over HTTPS with a client certificate."),
  ceph: z.strictObject({ group: group.describe("Hosts running a Ceph mgr (`ceph mgr module enable prometheus`)."), port: port.default(9283) }).optional().describe("Scrape Ceph's mgr prometheus module."),
  frr: z.strictObject({ group, port: port.default(9342) }).optional().describe("Scrape an FRR exporter (frr_exporter's default port 9342)."),
  optRoot: z.string().regex(/^\/[A-Za-z0-9_./-]*[^/]$/).default("/opt").describe("Where release archives are unpacked: OPT/NAME/NAME-VERSION and OPT/NAME/current."),
  loki: z
    .strictObject({
      host: z.string().optional().describe("The host that runs Loki; default the server."),
      release: release("loki-linux-amd64"),
      port: port.default(3100),
      grpcPort: port.default(9096),
      schemaFrom: z.string().regex(/^\d{4}-\d{2}-\d{2}$/).default("2024-01-01").describe("schema_config's start date: keep it once Loki holds data."),
      retention: duration.optional(),
      incusGroup: group.optional().describe("Hosts where Incus runs: their `loki.api.url` is set to this Loki (Incus ships its events and logs there)."),
    })
    .optional()
    .describe("One Loki, filesystem storage."),
  alloy: z
    .strictObject({
      hosts: group.optional().describe("The group whose hosts run Alloy; default the play's hosts."),
      release: release("alloy-linux-amd64"),
      logPaths: z.array(z.string()).default(["/var/log/*.log", "/var/log/*/*.log"]),
      port: port.default(12345),
    })
    .optional()
    .describe("Grafana Alloy shipping host logs (files, and the journal on systemd hosts) to Loki."),
  grafana: z
    .strictObject({
      host: z.string().optional().describe("The host that runs Grafana; default the server."),
      release: release("bin/grafana"),
      port: port.default(3000),
      adminUser: z.string().default("admin"),
      adminPassword: secretString().optional().describe("Grafana's admin password (grafana.ini, mode 0640)."),
      prometheusAuth: auth.describe("Basic auth for the Prometheus datasource (password a secret)."),
      lokiAuth: auth.describe("Basic auth for the Loki datasource (password a secret)."),
      dashboards: z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/), z.string()).default({}).describe("Dashboards by file name: the JSON model of each (/var/lib/grafana/dashboards/NAME.json)."),
    })
    .optional()
    .describe("Grafana with provisioned datasources (Prometheus, Loki) and dashboards from files."),
};

/** The role's parameters, as `run` receives them. */
export type LokiPrometheusGrafanaParams = Infer<typeof params>;

/** A command's first line of output, trimmed. */
const firstLine = (r: TaskResult) => (r.stdout ?? "").trim().split("\n")[0] ?? "";

/**
 * A local HTTP GET through bash's /dev/tcp (no curl or wget on a minimal
 * host), read-only: the status line, or nothing when the port is closed.
 */
export const httpStatus = (port: number, path: string) =>
  `timeout 5 bash -c ${shq(`exec 3<>/dev/tcp/127.0.0.1/${port} && printf 'GET ${path} HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3`)} 2>/dev/null || true`;

/** Tracks whether a daemon was started by this run (then a restart a moment later would be noise). */
class Restart {
  startedNow: "started" | "would start" | false = false;
  constructor(
    readonly h: Host,
    readonly name: string,
    readonly fn: () => Promise<unknown>,
    readonly verb = "restart",
  ) {}
  readonly handler = (): Handler =>
    this.h.handler(`${this.verb} ${this.name}`, async () => {
      if (this.startedNow) {
        this.h.log(`${this.name} ${this.startedNow === "started" ? "was started" : "would be started"} in this run with the current files: no restart needed`);
        return;
      }
      return this.fn();
    });
  /** Records a `service ... started` result. */
  saw(start: TaskResult): void {
    this.startedNow = start.predicted || start.skipped || start.status === "unknown" ? "would start" : start.changed ? "started" : false;
  }
}

/**
 * The loki-prometheus-grafana role (see the module doc and
 * roles/loki-prometheus-grafana/README.md).
 */
export const lokiPrometheusGrafana = role({
  name: "loki-prometheus-grafana",
  params,
  validate: (p) => {
    const names = p.rules.map((r) => r.alert);
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup) return { field: "rules", message: `alert ${dup} is listed twice` };
    if (p.alloy && !p.loki) return { field: "alloy", message: "Alloy ships logs to Loki: set `loki` too" };
    return undefined;
  },
  async run(h, p) {
    const family = h.facts.os.family;
    const server = p.server ?? h.play.hosts[0]!;
    const addressOf = async (name: string): Promise<string> => {
      const peer = (await h.peers()).find((x) => x.name === name) ?? (await h.peers("all")).find((x) => x.name === name);
      if (!peer) return h.fail(`loki-prometheus-grafana: ${name} is not in the inventory`);
      return peer.address;
    };
    const targetsOf = async (g: string | undefined, port: number): Promise<Target[]> => (await h.peers(g)).map((x) => ({ name: x.name, address: x.address, port }));
    const systemd = h.facts.initSystem === "systemd";

    // 1. The node exporter, on every host.
    if (family === "debian") {
      await h.package({ name: PACKAGES.nodeExporter.name });
      await h.service({ name: PACKAGES.nodeExporter.name, enabled: true, state: "started", pidfile: PACKAGES.nodeExporter.pidfile });
    } else {
      h.warn(`loki-prometheus-grafana: no node exporter on ${h.name}: it comes from Debian's package, and ${h.facts.os.prettyName || family} has none`);
    }

    // 2. Prometheus and Alertmanager, on the server.
    if (h.name === server) {
      if (family !== "debian") return h.fail(`loki-prometheus-grafana: Prometheus and Alertmanager come from Debian's packages; the server ${h.name} runs ${h.facts.os.prettyName || family}`);
      await prometheusServer(h, p, { systemd, nodes: await targetsOf(p.targets, p.nodeExporterPort), targetsOf });
    }

    // 3. Loki, Alloy, Grafana from release archives.
    const lokiHost = p.loki ? (p.loki.host ?? server) : undefined;
    if (p.loki && h.name === lokiHost) await loki(h, p, p.loki);
    if (p.alloy && (p.alloy.hosts === undefined || (h.groups[p.alloy.hosts] ?? []).includes(h.name))) {
      await alloy(h, p, p.alloy, `http://${await addressOf(lokiHost!)}:${p.loki!.port}/loki/api/v1/push`);
    }
    if (p.grafana && h.name === (p.grafana.host ?? server)) {
      await grafana(h, p, p.grafana, {
        prometheusUrl: `http://${await addressOf(server)}:${p.prometheusPort}`,
        lokiUrl: p.loki ? `http://${await addressOf(lokiHost!)}:${p.loki.port}` : undefined,
      });
    }
    if (p.loki?.incusGroup && (h.groups[p.loki.incusGroup] ?? []).includes(h.name)) {
      const url = `http://${await addressOf(lokiHost!)}:${p.loki.port}`;
      const now = await h.command("incus config get loki.api.url 2>/dev/null || true", { readOnly: true, title: "Incus' loki.api.url" });
      if (firstLine(now) !== url) await h.command(`incus config set loki.api.url=${shq(url)}`, { title: `Incus' loki.api.url = ${url}` });
    }
  },
});

interface ServerContext {
  systemd: boolean;
  nodes: Target[];
  targetsOf(group: string | undefined, port: number): Promise<Target[]>;
}

/** Reloads a packaged daemon: systemd's ExecReload (SIGHUP), else SIGHUP to the init script's pid file (its own `reload` sends SIGUSR1). */
function reload(h: Host, systemd: boolean, pkg: { name: string; pidfile: string }) {
  return systemd
    ? h.service({ name: pkg.name, state: "reloaded" })
    : h.command(`kill -HUP "$(cat ${shq(pkg.pidfile)})"`, { title: `reload ${pkg.name} (SIGHUP)` });
}

async function prometheusServer(h: Host, p: LokiPrometheusGrafanaParams, c: ServerContext): Promise<void> {
  const am = p.alertmanager;
  // A changed file is read again on SIGHUP; changed arguments (the port) need a restart.
  const prom = new Restart(h, "prometheus", () => reload(h, c.systemd, PACKAGES.prometheus), "reload");
  const promArgs = new Restart(h, "prometheus", () => h.service({ name: PACKAGES.prometheus.name, state: "restarted" }));
  const alert = new Restart(h, "alertmanager", () => reload(h, c.systemd, PACKAGES.alertmanager), "reload");
  const alertArgs = new Restart(h, "alertmanager", () => h.service({ name: PACKAGES.alertmanager.name, state: "restarted" }));
  const reloadProm = prom.handler();
  const reloadAm = alert.handler();

  await h.package({ name: [PACKAGES.prometheus.name, ...(am.enabled ? [PACKAGES.alertmanager.name] : [])] });
  // promtool comes with the package: on a fresh host in check mode it is not there yet, and the files cannot be checked now.
  const promtool = await h.command("command -v promtool || true", { readOnly: true, title: "is promtool installed" });
  if (!firstLine(promtool)) h.warn("prometheus: promtool is not installed yet (the prometheus package is installed first): prometheus.yml and the rules are checked by promtool when they are written");

  await h.file({ path: RULES_DIR, state: "directory", mode: "0755" });
  await h.copy({ dest: RULES_YML, content: rulesYml(p.rules), mode: "0644", validate: PROMTOOL_RULES }, { notify: reloadProm });
  const view = {
    scrapeInterval: p.scrapeInterval,
    evaluationInterval: p.evaluationInterval,
    alertmanagers: am.enabled ? [`localhost:${am.port}`] : [],
    ruleFiles: [`${RULES_DIR}/*.yml`],
    selfPort: p.prometheusPort,
    nodes: c.nodes,
    incus: p.incus ? { targets: await c.targetsOf(p.incus.group, p.incus.port), tls: p.incus } : undefined,
    ceph: p.ceph ? await c.targetsOf(p.ceph.group, p.ceph.port) : undefined,
    frr: p.frr ? await c.targetsOf(p.frr.group, p.frr.port) : undefined,
    extraScrapeConfigs: p.extraScrapeConfigs,
  };
  await h.copy({ dest: PROMETHEUS_YML, content: prometheusYml(view), mode: "0644", validate: PROMTOOL_CONFIG }, { notify: reloadProm });
  await h.lineinfile({ path: "/etc/default/prometheus", regexp: /^ARGS=/, line: `ARGS="--web.listen-address=:${p.prometheusPort}"` }, { title: "/etc/default/prometheus: the listen port", notify: promArgs.handler() });

  if (am.enabled) {
    await h.copy({ dest: ALERTMANAGER_YML, content: alertmanagerYml(am), mode: "0644", validate: AMTOOL_CONFIG }, { notify: reloadAm });
    // One Alertmanager: no cluster gossip (its default would listen on 9094 and look for peers).
    await h.lineinfile(
      { path: "/etc/default/prometheus-alertmanager", regexp: /^ARGS=/, line: `ARGS="--web.listen-address=:${am.port} --cluster.listen-address="` },
      { title: "/etc/default/prometheus-alertmanager: port, no cluster", notify: alertArgs.handler() },
    );
    await h.service({ name: PACKAGES.alertmanager.name, enabled: true });
    const started = await h.service({ name: PACKAGES.alertmanager.name, state: "started", pidfile: PACKAGES.alertmanager.pidfile });
    alert.saw(started);
    alertArgs.saw(started);
  }
  await h.service({ name: PACKAGES.prometheus.name, enabled: true });
  const started = await h.service({ name: PACKAGES.prometheus.name, state: "started", pidfile: PACKAGES.prometheus.pidfile });
  prom.saw(started);
  promArgs.saw(started);
  await h.waitUntil(
    "Prometheus is ready",
    async () => {
      const r = await h.command(httpStatus(p.prometheusPort, "/-/ready"), { readOnly: true, title: "GET /-/ready" });
      return / 200 /.test(firstLine(r)) || [`Prometheus on port ${p.prometheusPort}: ${firstLine(r) || "no answer"}`];
    },
    { timeout: 120, interval: 1 },
  );
}

/** A release-archive daemon: its archive, user, directories, config files and service. */
interface Daemon {
  name: "loki" | "alloy" | "grafana";
  release: Release;
  args: string[];
  description: string;
  groups?: string[];
  /** More directories (root:NAME 0750), made before the files. */
  dirs?: string[];
  /** Its config files, written before the service starts; a change restarts it. */
  files: { dest: string; content: string | Secret; mode?: string; secret?: boolean }[];
}

/**
 * Installs a release archive: `/opt/NAME/NAME-VERSION` (fetched by the
 * runner, sha256 checked before anything is written, unpacked once, then
 * recorded there), `/opt/NAME/current` pointing at it; a relink notifies
 * `restart`. A version already unpacked with the same sha256 is not fetched.
 */
export async function installRelease(h: Host, optRoot: string, name: string, rel: Release, restart: Handler): Promise<void> {
  const format: ArchiveFormat | undefined = archiveFormat(rel.url, rel.format);
  if (!format) h.fail(`${name}: cannot tell the archive format of ${rel.url} (.tar.gz, .tgz or .zip): set release.format`);
  const base = `${optRoot}/${name}`;
  const dir = `${base}/${name}-${rel.version}`;
  const sha = rel.sha256.toLowerCase();
  await h.file({ path: base, state: "directory", mode: "0755" });
  const have = await h.command(`cat ${shq(`${dir}/.runbook-release`)} 2>/dev/null || true`, { readOnly: true, title: `is ${name} ${rel.version} unpacked` });
  if (firstLine(have) !== sha) {
    if (format === "zip") await h.package({ name: h.facts.os.family === "slackware" ? "infozip" : "unzip" });
    const archive = `${base}/.${name}-${rel.version}.${format}`;
    await h.download({ url: rel.url, dest: archive, sha256: sha, mode: "0600" }, { title: `download ${name} ${rel.version}` });
    await h.command(unpackScript({ archive, dir, format, binary: rel.binary, sha256: sha }), { title: `unpack ${name} ${rel.version} into ${dir}` });
  }
  await h.file({ path: `${base}/current`, state: "link", src: `${name}-${rel.version}` }, { title: `${base}/current -> ${name}-${rel.version}`, notify: restart });
}

async function releaseDaemon(h: Host, p: LokiPrometheusGrafanaParams, d: Daemon): Promise<void> {
  const family = h.facts.os.family;
  const systemd = h.facts.initSystem === "systemd";
  const rcPath = family === "slackware" ? `/etc/rc.d/rc.${d.name}` : `/etc/init.d/${d.name}`;
  const restart = new Restart(h, d.name, () => h.service({ name: d.name, state: "restarted" }));
  const notify = restart.handler();

  await h.group({ name: d.name, system: true });
  await h.user({ name: d.name, group: d.name, groups: d.groups, home: `/var/lib/${d.name}`, shell: "/bin/false", createHome: false, system: true, comment: d.description });
  for (const dir of [`/var/lib/${d.name}`, `/var/log/${d.name}`]) await h.file({ path: dir, state: "directory", owner: d.name, group: d.name, mode: "0750" });
  await h.file({ path: `/etc/${d.name}`, state: "directory", owner: "root", group: d.name, mode: "0750" });
  for (const dir of d.dirs ?? []) await h.file({ path: dir, state: "directory", owner: "root", group: d.name, mode: "0750" });
  await installRelease(h, p.optRoot, d.name, d.release, notify);
  for (const f of d.files) {
    await h.copy({ dest: f.dest, content: f.content, owner: "root", group: d.name, mode: f.mode ?? "0640" }, { notify, ...(f.secret ? { secret: true } : {}) });
  }
  const view: DaemonView = { name: d.name, user: d.name, binary: `${p.optRoot}/${d.name}/current/${d.release.binary}`, args: d.args, workDir: `/var/lib/${d.name}`, description: d.description };
  if (systemd) await h.copy({ dest: `/etc/systemd/system/${d.name}.service`, content: systemdUnit(view), mode: "0644" }, { notify });
  else await h.copy({ dest: rcPath, content: rcScript(view), mode: "0755" }, { notify });
  if (family === "slackware") {
    await h.lineinfile({ path: "/etc/rc.d/rc.local", line: `[ -x ${rcPath} ] && ${rcPath} start`, create: true, mode: "0755" }, { title: `rc.local starts ${d.name}` });
  }
  await h.service({ name: d.name, enabled: true });
  restart.saw(await h.service({ name: d.name, state: "started" }));
}

async function loki(h: Host, p: LokiPrometheusGrafanaParams, l: NonNullable<LokiPrometheusGrafanaParams["loki"]>): Promise<void> {
  await releaseDaemon(h, p, {
    name: "loki",
    release: l.release,
    description: "Loki (log store)",
    args: ["-config.file=/etc/loki/config.yml"],
    files: [{ dest: "/etc/loki/config.yml", content: lokiYml({ port: l.port, grpcPort: l.grpcPort, dataDir: "/var/lib/loki", schemaFrom: l.schemaFrom, retention: l.retention }) }],
  });
}

async function alloy(h: Host, p: LokiPrometheusGrafanaParams, a: NonNullable<LokiPrometheusGrafanaParams["alloy"]>, lokiUrl: string): Promise<void> {
  const journal = h.facts.initSystem === "systemd";
  await releaseDaemon(h, p, {
    name: "alloy",
    release: a.release,
    description: "Grafana Alloy (ships logs to Loki)",
    // adm reads /var/log and, on Debian, the journal.
    groups: ["adm"],
    args: ["run", "/etc/alloy/config.alloy", "--storage.path=/var/lib/alloy/data", `--server.http.listen-addr=127.0.0.1:${a.port}`],
    files: [{ dest: "/etc/alloy/config.alloy", content: alloyConfig({ host: h.name, lokiUrl, logPaths: a.logPaths, journal }) }],
  });
}

async function grafana(h: Host, p: LokiPrometheusGrafanaParams, g: NonNullable<LokiPrometheusGrafanaParams["grafana"]>, urls: { prometheusUrl: string; lokiUrl?: string }): Promise<void> {
  const prov = "/etc/grafana/provisioning";
  const dashDir = "/var/lib/grafana/dashboards";
  const ini = grafanaIni({ port: g.port, dataDir: "/var/lib/grafana", logDir: "/var/log/grafana", provisioningDir: prov, adminUser: g.adminUser, adminPassword: g.adminPassword?.reveal() });
  const ds = datasourcesYml({
    ...urls,
    prometheusAuth: g.prometheusAuth ? { user: g.prometheusAuth.user, password: g.prometheusAuth.password.reveal() } : undefined,
    lokiAuth: g.lokiAuth ? { user: g.lokiAuth.user, password: g.lokiAuth.password.reveal() } : undefined,
  });
  await releaseDaemon(h, p, {
    name: "grafana",
    release: g.release,
    description: "Grafana",
    args: ["server", "--homepath", `${p.optRoot}/grafana/current`, "--config", "/etc/grafana/grafana.ini"],
    dirs: [prov, `${prov}/datasources`, `${prov}/dashboards`, dashDir],
    files: [
      { dest: "/etc/grafana/grafana.ini", content: g.adminPassword ? new Secret(ini) : ini, secret: !!g.adminPassword },
      // The datasources' credentials are secrets: the file is 0640 root:grafana and its diff shows sizes only.
      { dest: `${prov}/datasources/runbook.yaml`, content: new Secret(ds), secret: true },
      { dest: `${prov}/dashboards/runbook.yaml`, content: dashboardsYml(dashDir) },
      ...Object.entries(g.dashboards).map(([name, json]) => ({ dest: `${dashDir}/${name}.json`, content: json })),
    ],
  });
}
