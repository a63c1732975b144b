/**
 * The shape of a fact unit and of the raw output it parses.
 *
 * A unit is pyinfra's fact in miniature: what it needs from the host (files
 * to read, paths to test, commands to look up, or a script fragment), a
 * parser, and a default. Needs are declared rather than scripted so the
 * builder can batch them: every unit's files are read by ONE `grep`, every
 * path tested and command looked up by shell builtins, which keeps the whole
 * gathering to a handful of processes on the host.
 */

/**
 * Prefix of the lines that open a section in the script's output. Chosen so
 * that no file or command output the script prints starts with it.
 *
 * @example
 * `${MARKER} files` // "@@runbook-facts@@ files"
 */
export const MARKER = "@@runbook-facts@@";

/**
 * A piece of POSIX sh that prints one or more sections. It opens each with
 * `s NAME` (a function the script defines) and prints raw data after it.
 * Fragments are shared by identity between units and emitted once.
 *
 * @example
 * const uptime: ScriptFragment = { id: "uname-m", script: "s uname-m\nuname -m" };
 */
export interface ScriptFragment {
  /** Unique id; two fragments with the same id must be the same fragment. */
  id: string;
  script: string;
}

/**
 * One fact: where its data comes from, how to parse it, and what it is when
 * the host gives nothing usable.
 *
 * @example
 * const uptimeSeconds: FactUnit<number | null> = {
 *   name: "uptimeSeconds",
 *   files: ["/proc/uptime"],
 *   parse: (raw) => { const s = raw.file("/proc/uptime")?.split(" ")[0]; return s ? Math.floor(Number(s)) : null; },
 *   default: null,
 * };
 */
export interface FactUnit<T> {
  name: string;
  /**
   * Files to read. A nested list names alternatives: the first readable one
   * is read (e.g. /etc/os-release, else /usr/lib/os-release).
   */
  files?: readonly (string | readonly string[])[];
  /** Paths whose existence the parser needs (tested with `[ -e ]`, no process). */
  exists?: readonly string[];
  /** Commands to look up on the PATH (`command -v`, no process). */
  commands?: readonly string[];
  /** Script fragments printing their own sections. */
  fragments?: readonly ScriptFragment[];
  parse(raw: RawFacts): T;
  /** The value when parsing throws; copied, never shared. */
  default: T;
}

/**
 * The script's output, split up for parsers.
 *
 * @example
 * raw.file("/proc/1/comm")      // "systemd"
 * raw.exists("/etc/rc.d/rc.M")  // false
 * raw.command("ip")             // "/usr/sbin/ip"
 * raw.section("ip-link")        // "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 ..."
 */
export interface RawFacts {
  /** A file's content (lines joined with "\n", no trailing newline), or undefined if it was missing or empty. */
  file(path: string): string | undefined;
  /** Whether the path existed. */
  exists(path: string): boolean;
  /** The path `command -v` found for a command, or undefined. */
  command(name: string): string | undefined;
  /** A section's text with its trailing blank line removed, or undefined if the script did not print it. */
  section(name: string): string | undefined;
}

/**
 * Thrown when the output is not the facts script's (no begin or end marker):
 * the host's sh failed to run it, or the connection cut it short.
 *
 * @example
 * try { await gatherFacts(run); } catch (e) { if (e instanceof FactsOutputError) markUnreachable(host, e.message); }
 */
export class FactsOutputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FactsOutputError";
  }
}

/**
 * Splits the facts script's stdout into sections and files.
 *
 * @example
 * const raw = splitRaw(stdout);
 * raw.file("/etc/os-release");
 */
export function splitRaw(stdout: string): RawFacts {
  const sections = new Map<string, string[]>();
  let current: string[] | undefined;
  const head = `${MARKER} `;
  for (const line of stdout.split("\n")) {
    if (line.startsWith(head)) {
      const name = line.slice(head.length).trim();
      current = [];
      sections.set(name, current);
    } else if (current) {
      current.push(line);
    }
  }
  if (!sections.has("begin")) throw new FactsOutputError("facts output has no begin marker");
  if (!sections.has("end")) throw new FactsOutputError("facts output is truncated (no end marker)");

  // Each marker is printed after a newline so that a file without a trailing
  // newline cannot swallow it; that leaves one blank line to drop.
  const text = (name: string): string | undefined => {
    const lines = sections.get(name);
    if (!lines) return undefined;
    const copy = lines.slice();
    if (copy.length && copy[copy.length - 1] === "") copy.pop();
    return copy.join("\n");
  };

  const files = new Map<string, string[]>();
  for (const line of sections.get("files") ?? []) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const path = line.slice(0, colon);
    let list = files.get(path);
    if (!list) files.set(path, (list = []));
    list.push(line.slice(colon + 1));
  }
  const existing = new Set((sections.get("exists") ?? []).filter((l) => l !== ""));
  const commands = new Map<string, string>();
  for (const line of sections.get("commands") ?? []) {
    const path = line.trim();
    if (!path) continue;
    const name = path.slice(path.lastIndexOf("/") + 1);
    if (!commands.has(name)) commands.set(name, path);
  }

  return {
    file: (path) => {
      const lines = files.get(path);
      return lines ? lines.join("\n") : undefined;
    },
    exists: (path) => existing.has(path),
    command: (name) => commands.get(name),
    section: text,
  };
}
