/**
 * Human output: plain lines when stdout is not a terminal, and on a TTY the
 * same lines plus a live status line (ora) naming what each busy host is
 * doing. Changed and failed tasks always print; ok and skipped ones with -v,
 * each with the reason a task needed nothing.
 */
import type { Ora, Options as OraOptions } from "ora";
import type { EventSink, HostCounts, RunEvent, StampedEvent } from "../events.ts";
import { colorDiff, unifiedDiff } from "./diff.ts";

export interface ConsoleOptions {
  verbose: number;
  diff: boolean;
  tty: boolean;
  write?: (text: string) => void;
  /**
   * ora, for the live status line on a terminal; loaded by the caller only
   * when stdout is one (it costs ~50 ms of start-up).
   */
  ora?: (opts: OraOptions) => Ora;
}

/** Loads ora when a live status line can be shown. */
export async function loadSpinner(tty: boolean): Promise<ConsoleOptions["ora"]> {
  return tty ? (await import("ora")).default : undefined;
}

const STATUS_COLOR: Record<string, string> = { ok: "32", changed: "33", failed: "31", skipped: "36", unreachable: "31", unknown: "35" };

export function consolePrinter(opts: ConsoleOptions): EventSink {
  const write = opts.write ?? ((t: string) => process.stdout.write(t));
  const color = (code: string, text: string) => (opts.tty ? `\x1b[${code}m${text}\x1b[0m` : text);
  const busy = new Map<string, string>();
  let spinner: Ora | undefined;
  let check = false;
  let hostWidth = 8;

  const line = (text: string) => {
    spinner?.clear();
    write(text + "\n");
    spinner?.render();
  };
  const status = () => {
    if (!spinner) return;
    const parts = [...busy].map(([h, t]) => `${h}: ${t}`);
    spinner.text = parts.length ? parts.join("  |  ").slice(0, (process.stdout.columns ?? 100) - 4) : "";
  };

  return (e: StampedEvent) => {
    switch (e.type) {
      case "run.start":
        check = e.check;
        line(`runbook: ${e.playbook}${e.check ? " (check mode: nothing will change)" : ""}  [run ${e.runId}]`);
        // A terminal that reports no width (some pseudo-terminals) would make
        // ora's line accounting meaningless: plain lines only there.
        if (opts.ora && opts.tty && (process.stdout.columns ?? 0) >= 20) spinner = opts.ora({ stream: process.stdout, discardStdin: false }).start();
        break;
      case "play.start":
        hostWidth = Math.max(hostWidth, ...e.hosts.map((h) => h.length));
        line(`\n${color("1", `PLAY ${e.play}`)}  [${e.hosts.join(", ")}]`);
        break;
      case "task.start":
        busy.set(e.host, `${e.role ? `${e.role} › ` : ""}${e.task}`);
        status();
        break;
      case "task.result": {
        busy.delete(e.host);
        status();
        const show = e.status === "changed" || e.status === "failed" || e.status === "unknown" || opts.verbose > 0;
        if (show) {
          const label = e.status === "changed" && e.predicted ? "would change" : e.status === "unknown" ? "would fail?" : e.status;
          const where = `${e.role ? `${e.role} › ` : ""}${e.task}`;
          line(`  ${e.host.padEnd(hostWidth)}  ${color(STATUS_COLOR[e.status]!, label.padEnd(12))} ${where}  ${color("2", `(${e.reason})`)}`);
          if (opts.verbose > 1 && e.commands?.length) for (const c of e.commands) line(color("2", `      $ ${c.split("\n")[0]}`));
          if ((e.status === "failed" || e.status === "unknown") && (e.stderr || e.stdout)) line(indent((e.stderr || e.stdout || "").trim(), 6));
        }
        if (opts.diff && e.diffs?.length && e.status !== "ok") {
          for (const d of e.diffs) {
            const text = unifiedDiff(d).trimEnd();
            line(indent(opts.tty ? colorDiff(text) : text, 4));
          }
        }
        break;
      }
      case "task.output":
        // -v: a long command's output as it comes.
        if (opts.verbose > 0) for (const l of e.text.replace(/\n$/, "").split("\n")) line(color("2", `  ${e.host.padEnd(hostWidth)}  │ ${l}`));
        break;
      case "handler.notified":
        if (opts.verbose > 0) line(`  ${e.host.padEnd(hostWidth)}  ${color("2", `notified handler "${e.handler}" (by ${e.by})`)}`);
        break;
      case "handler.pending":
        line(`  ${e.host.padEnd(hostWidth)}  ${color("33", "pending")}      handler "${e.handler}" was left pending by run ${e.fromRun} (the host failed before it ran): queued now`);
        break;
      case "host.failed":
        busy.delete(e.host);
        status();
        // A failed task already printed its line, with the reason.
        if (!e.task) line(`  ${e.host.padEnd(hostWidth)}  ${color("31", "FAILED")}       ${e.message}`);
        break;
      case "host.unreachable":
        busy.delete(e.host);
        status();
        line(`  ${e.host.padEnd(hostWidth)}  ${color("31", "UNREACHABLE")}  ${e.message}`);
        break;
      case "message":
        if (e.level === "warn" || opts.verbose > 0) line(`${e.host ? `  ${e.host.padEnd(hostWidth)}  ` : ""}${e.level === "warn" ? color("33", "warning: ") : ""}${e.text}`);
        break;
      case "run.end":
        spinner?.stop();
        spinner = undefined;
        line(recapTable(e.recap, check, color));
        if (e.error) line(color("31", e.error.split("\n")[0]!));
        line(`${(e.ms / 1000).toFixed(1)} s, run ${e.runId}${e.interrupted ? ` (interrupted by ${e.interrupted}: exit ${e.exitCode})` : ""}`);
        break;
    }
  };
}

function indent(text: string, n: number): string {
  return text
    .split("\n")
    .map((l) => " ".repeat(n) + l)
    .join("\n");
}

/** The recap: one row per host. */
export function recapTable(recap: Record<string, HostCounts>, check: boolean, color: (c: string, t: string) => string = (_c, t) => t): string {
  const hosts = Object.keys(recap);
  const w = Math.max(4, ...hosts.map((h) => h.length));
  // `unknown` (check mode) gets a column only when a host has one.
  const cols = hosts.some((h) => (recap[h]!.unknown ?? 0) > 0)
    ? (["ok", "changed", "failed", "skipped", "unreachable", "unknown"] as const)
    : (["ok", "changed", "failed", "skipped", "unreachable"] as const);
  const head = `${"host".padEnd(w)}  ${cols.map((c) => c.padStart(c.length)).join("  ")}  ${"time".padStart(7)}`;
  const rows = hosts.map((h) => {
    const c = recap[h]!;
    const cells = cols.map((k) => {
      const n = c[k] ?? 0;
      const v = String(n).padStart(k.length);
      return n > 0 && k !== "ok" && k !== "skipped" ? color(STATUS_COLOR[k]!, v) : v;
    });
    return `${h.padEnd(w)}  ${cells.join("  ")}  ${`${(c.time / 1000).toFixed(1)}s`.padStart(7)}`;
  });
  return `\nRECAP${check ? " (check mode: changes predicted, none made)" : ""}\n${head}\n${rows.join("\n")}`;
}
