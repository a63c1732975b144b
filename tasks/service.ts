/**
 * `service`: a daemon running or stopped, and started at boot or not,
 * through the host's init system (from `facts.initSystem`, or `manager` to
 * override it).
 *
 * Backends:
 * - **slackware-bsd** (Slackware): `/etc/rc.d/rc.NAME`. Enabled at boot =
 *   the script is executable (`chmod +x` / `chmod -x`, as rc.M and rc.inet2
 *   test `-x`); start/stop/restart/reload through the script (with `sh` when
 *   it is not executable). Running = the script's `status` exit code when it
 *   has a status action, else `pidfile` or `pattern` must say (give one
 *   too for a script whose status always exits 0).
 * - **systemd**: `systemctl show` (LoadState, ActiveState, UnitFileState,
 *   NeedDaemonReload) in one call; `systemctl start/stop/restart/reload`,
 *   `enable/disable`, and `daemon-reload` first when a unit file changed.
 * - **sysvinit**: `/etc/init.d/NAME` (or /etc/rc.d/init.d). Running = the
 *   script's LSB `status` (0 = running), else `pidfile`/`pattern`. Enabled =
 *   an `S` link in /etc/rc[2-5].d; changed with `update-rc.d NAME
 *   defaults|enable|disable` (Debian) or `chkconfig NAME on|off`.
 *   A host whose init is not recognised (a container whose PID 1 is tini)
 *   gets this backend, or slackware-bsd on Slackware.
 *
 * `restarted` and `reloaded` always report changed: that is what they mean,
 * and why they are typically the body of a handler.
 *
 * @example
 *   await h.service({ name: "ntpd", enabled: true, state: "started" });   // Slackware: chmod +x rc.ntpd, rc.ntpd start
 *   const restart = h.handler("restart frr", () => h.service({ name: "frr", state: "restarted" }));
 *   await h.service({ name: "myd", state: "started", pattern: "^/usr/sbin/myd" }); // script without status
 */
import type { Facts } from "../runner/facts/types.ts";
import { shq } from "../runner/quote.ts";
import { defineTask, type Plan, type RunChange } from "../runner/task.ts";
import { probeSections, type Section } from "./probe.ts";

export type ServiceState = "started" | "stopped" | "restarted" | "reloaded";

/** Init systems the task drives. */
export type ServiceBackend = "slackware-bsd" | "systemd" | "sysvinit";

interface ServiceCommon {
  /** Service name: `ntpd` is /etc/rc.d/rc.ntpd, /etc/init.d/ntpd or ntpd.service. */
  name: string;
  /** What the daemon should be doing now (at least one of state and enabled). */
  state?: ServiceState;
  /** Started at boot. */
  enabled?: boolean;
  /** Override the init system from facts. */
  manager?: ServiceBackend;
}

/**
 * How to tell whether the daemon runs when its rc.d/init.d script has no
 * `status` action (or to override it): a pid file whose process is alive,
 * or a `pgrep -f` pattern (an extended regex over full command lines).
 * systemd ignores both.
 */
export type ServiceParams = ServiceCommon & ({ pattern?: string; pidfile?: never } | { pidfile?: string; pattern?: never });

export type ServiceProbeReader = (parts: Record<string, string>) => Promise<Record<string, Section>>;

/** Exit code of the running probe when the script has no status action. */
const NO_STATUS = 125;

/** Which backend a host uses: `manager`, else facts (see the module doc). */
export function serviceBackend(facts: Facts, p: Pick<ServiceParams, "manager">): ServiceBackend {
  if (p.manager) return p.manager;
  switch (facts.initSystem) {
    case "systemd":
    case "slackware-bsd":
    case "sysvinit":
      return facts.initSystem;
    case "unknown":
      return facts.os.family === "slackware" ? "slackware-bsd" : "sysvinit";
    default:
      throw new Error(`init system ${facts.initSystem} is not supported (supported: slackware-bsd, systemd, sysvinit); set \`manager\``);
  }
}

/**
 * A POSIX sh word that evaluates to `text` without `text` appearing in any
 * command line: `pgrep -f` would otherwise match the probe's own `sh -c`
 * (and sudo) processes, whose command lines contain the pattern.
 */
export function hiddenWord(text: string): string {
  const octal = [...Buffer.from(text, "utf8")].map((b) => `\\${b.toString(8).padStart(3, "0")}`).join("");
  return `"$(printf '${octal}')"`;
}

/** Exit 0 when running, 1 when not, NO_STATUS when the script cannot tell. */
function runningProbe(p: ServiceParams, script: string, scriptVar: string): string {
  if (p.pidfile) {
    const f = shq(p.pidfile);
    return `[ -f ${f} ] && pid=$(cat -- ${f}) && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null`;
  }
  if (p.pattern) return `pgrep -f -- ${hiddenWord(p.pattern)} >/dev/null`;
  return [
    `${scriptVar}=${shq(script)}`,
    `[ -f "$${scriptVar}" ] && ${HAS_STATUS(`"$${scriptVar}"`)} || exit ${NO_STATUS}`,
    `if [ -x "$${scriptVar}" ]; then "$${scriptVar}" status; else sh "$${scriptVar}" status; fi >/dev/null 2>&1`,
  ].join("\n");
}

/** A case label for `status` in an rc script, at the start of a line: `status)`, `'status')`, `stop|status)`. */
const STATUS_LABEL = "^[[:space:]]*([^[:space:]#]*\\|)?[\"']?status[\"']?[[:space:]]*\\)";
const HAS_STATUS = (file: string) => `grep -Eq ${shq(STATUS_LABEL)} ${file}`;

function validate(p: ServiceParams): void {
  if (!/^[A-Za-z0-9@._+:-]+$/.test(p.name) || p.name.startsWith("-")) throw new Error(`service: invalid service name ${JSON.stringify(p.name)}`);
  if (p.state === undefined && p.enabled === undefined) throw new Error("service: give state and/or enabled");
}

/** "ntpd is running and enabled" from what holds. */
function okReason(name: string, running: boolean | undefined, enabled: boolean | undefined): string {
  const parts = [running === undefined ? "" : running ? "running" : "stopped", enabled === undefined ? "" : enabled ? "enabled" : "disabled"].filter(Boolean);
  return `${name} is ${parts.join(" and ")}`;
}

interface Step {
  change: RunChange;
  what: string;
}

/** Assembles enable, action, disable steps in that order into a plan. */
function assemble(p: ServiceParams, steps: Step[], running: boolean | undefined, enabled: boolean | undefined): Plan {
  if (steps.length === 0) {
    return { changes: [], reason: okReason(p.name, p.state === "started" || p.state === "stopped" ? running : undefined, p.enabled === undefined ? undefined : enabled) };
  }
  return { changes: steps.map((s) => s.change), reason: steps.map((s) => s.what).join("; ") };
}

function wantRunning(p: ServiceParams, running: boolean | undefined): string | null {
  if (p.state !== "started" && p.state !== "stopped") return null;
  if (running === undefined) throw new Error(`cannot tell whether ${p.name} is running: its script has no status action; set \`pattern\` or \`pidfile\``);
  if (p.state === "started" && !running) return "start";
  if (p.state === "stopped" && running) return "stop";
  return null;
}

function parseRunning(s: Section | undefined): boolean | undefined {
  if (!s || s.code === NO_STATUS) return undefined;
  return s.code === 0;
}

// ------------------------------------------------------------ slackware

function planSlackware(p: ServiceParams, s: Record<string, Section>): Plan {
  const script = `/etc/rc.d/rc.${p.name}`;
  const info = lines(s.script?.out);
  if (!info.includes("exists")) throw new Error(`${script} not found`);
  const executable = info.includes("executable");
  const running = parseRunning(s.running);
  const steps: Step[] = [];
  if (p.enabled === true && !executable) steps.push({ change: run(`chmod +x -- ${shq(script)}`), what: `enable ${p.name} (chmod +x ${script})` });
  const action = p.state === "restarted" ? "restart" : p.state === "reloaded" ? "reload" : wantRunning(p, running);
  if (action) {
    // The script is executable at this point if it was, or was just enabled (disabling comes last).
    const execNow = p.enabled === true || executable;
    steps.push({ change: run(`${execNow ? shq(script) : `sh ${shq(script)}`} ${action}`), what: `${action} ${p.name}` });
  }
  if (p.enabled === false && executable) steps.push({ change: run(`chmod -x -- ${shq(script)}`), what: `disable ${p.name} (chmod -x ${script})` });
  return assemble(p, steps, running, executable);
}

// -------------------------------------------------------------- systemd

/** `systemctl show -p A -p B` output -> properties. */
export function parseSystemctlShow(text: string): Record<string, string> {
  const props: Record<string, string> = {};
  for (const l of lines(text)) {
    const at = l.indexOf("=");
    if (at > 0) props[l.slice(0, at)] = l.slice(at + 1);
  }
  return props;
}

/** Unit file states that need no `systemctl enable` (static units have no [Install] section). */
const ENABLED_LIKE = new Set(["enabled", "static", "indirect", "generated", "alias", "transient"]);

function planSystemd(p: ServiceParams, s: Record<string, Section>): Plan {
  const props = parseSystemctlShow(s.unit?.out ?? "");
  if (props.LoadState === "not-found" || !props.LoadState) throw new Error(`unit ${p.name} not found (systemctl show: LoadState=${props.LoadState ?? "?"})`);
  const running = ["active", "activating", "reloading"].includes(props.ActiveState ?? "");
  const unitState = props.UnitFileState ?? "";
  if (unitState === "masked" && (p.enabled === true || p.state === "started" || p.state === "restarted")) throw new Error(`unit ${p.name} is masked`);
  const enabled = ENABLED_LIKE.has(unitState);
  const n = shq(p.name);
  const steps: Step[] = [];
  if (props.NeedDaemonReload === "yes") steps.push({ change: run("systemctl daemon-reload"), what: `daemon-reload (${p.name}'s unit file changed)` });
  if (p.enabled === true && !enabled) steps.push({ change: run(`systemctl enable ${n}`), what: `enable ${p.name}` });
  const action = p.state === "restarted" ? "restart" : p.state === "reloaded" ? "reload" : wantRunning(p, running);
  if (action) steps.push({ change: run(`systemctl ${action} ${n}`), what: `${action} ${p.name}` });
  if (p.enabled === false && unitState === "enabled") steps.push({ change: run(`systemctl disable ${n}`), what: `disable ${p.name}` });
  return assemble(p, steps, running, p.enabled === false ? unitState === "enabled" : enabled);
}

// ------------------------------------------------------------- sysvinit

function planSysvinit(p: ServiceParams, s: Record<string, Section>): Plan {
  const info = lines(s.script?.out);
  const script = info.find((l) => l.startsWith("script "))?.slice("script ".length);
  if (!script) throw new Error(`no init script for ${p.name} in /etc/init.d or /etc/rc.d/init.d`);
  const links = info.filter((l) => l.startsWith("link ")).map((l) => l.slice("link ".length));
  const enabled = links.some((l) => /\/S\d\d[^/]*$/.test(l));
  const tool = info.includes("tool update-rc.d") ? "update-rc.d" : info.includes("tool chkconfig") ? "chkconfig" : null;
  const running = parseRunning(s.running);
  const n = shq(p.name);
  const steps: Step[] = [];
  const needTool = () => {
    if (!tool) throw new Error(`cannot ${p.enabled ? "enable" : "disable"} ${p.name}: neither update-rc.d nor chkconfig is installed`);
    return tool;
  };
  if (p.enabled === true && !enabled) {
    // `defaults` makes links where there are none; `enable` turns K links (from `disable`) back into S links.
    const cmd = needTool() === "chkconfig" ? `chkconfig ${n} on` : `update-rc.d ${n} ${links.length ? "enable" : "defaults"}`;
    steps.push({ change: run(cmd), what: `enable ${p.name} (${cmd})` });
  }
  const action = p.state === "restarted" ? "restart" : p.state === "reloaded" ? "reload" : wantRunning(p, running);
  if (action) steps.push({ change: run(`${shq(script)} ${action}`), what: `${action} ${p.name}` });
  if (p.enabled === false && enabled) {
    const cmd = needTool() === "chkconfig" ? `chkconfig ${n} off` : `update-rc.d ${n} disable`;
    steps.push({ change: run(cmd), what: `disable ${p.name} (${cmd})` });
  }
  return assemble(p, steps, running, enabled);
}

// ----------------------------------------------------------------- task

function run(command: string): RunChange {
  return { kind: "run", command };
}

function lines(text: string | undefined): string[] {
  return (text ?? "").split("\n").map((l) => l.trim()).filter(Boolean);
}

/** The state reads a backend needs, by section (one round trip). */
export function serviceProbe(backend: ServiceBackend, p: ServiceParams): Record<string, string> {
  const needRunning = p.state === "started" || p.state === "stopped";
  const n = shq(p.name);
  switch (backend) {
    case "slackware-bsd": {
      const f = shq(`/etc/rc.d/rc.${p.name}`);
      const parts: Record<string, string> = {
        script: `if [ -f ${f} ]; then echo exists; if [ -x ${f} ]; then echo executable; fi; else echo missing; fi`,
      };
      if (needRunning) parts.running = runningProbe(p, `/etc/rc.d/rc.${p.name}`, "rc");
      return parts;
    }
    case "systemd":
      return { unit: `systemctl show -p LoadState -p ActiveState -p UnitFileState -p NeedDaemonReload -- ${n}` };
    case "sysvinit": {
      const parts: Record<string, string> = {
        script: [
          `for d in /etc/init.d /etc/rc.d/init.d; do if [ -f "$d"/${n} ]; then echo "script $d/"${n}; break; fi; done`,
          `for l in /etc/rc[2345].d/[SK][0-9][0-9]${n} /etc/rc.d/rc[2345].d/[SK][0-9][0-9]${n}; do if [ -e "$l" ] || [ -L "$l" ]; then echo "link $l"; fi; done`,
          "if command -v update-rc.d >/dev/null 2>&1; then echo 'tool update-rc.d'; fi",
          "if command -v chkconfig >/dev/null 2>&1; then echo 'tool chkconfig'; fi",
        ].join("\n"),
      };
      if (needRunning) {
        parts.running = p.pidfile || p.pattern ? runningProbe(p, "", "s") : [
          `s=; for d in /etc/init.d /etc/rc.d/init.d; do if [ -f "$d"/${n} ]; then s="$d"/${n}; break; fi; done`,
          `[ -n "$s" ] && ${HAS_STATUS(`"$s"`)} || exit ${NO_STATUS}`,
          `"$s" status >/dev/null 2>&1`,
        ].join("\n");
      }
      return parts;
    }
  }
}

/** The plan for `params` on a host with `facts`, reading state through `read` (unit tests pass canned output). */
export async function planService(facts: Facts, params: ServiceParams, read: ServiceProbeReader): Promise<Plan> {
  validate(params);
  const backend = serviceBackend(facts, params);
  const s = await read(serviceProbe(backend, params));
  switch (backend) {
    case "slackware-bsd":
      return planSlackware(params, s);
    case "systemd":
      return planSystemd(params, s);
    case "sysvinit":
      return planSysvinit(params, s);
  }
}

export const serviceTask = defineTask<ServiceParams>({
  kind: "service",
  describe: (p) => `service ${p.name} (${[p.state, p.enabled === undefined ? "" : p.enabled ? "enabled" : "disabled"].filter(Boolean).join(", ")})`,
  plan: (ctx, p) => planService(ctx.facts, p, (parts) => probeSections(ctx, parts)),
});
