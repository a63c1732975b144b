/**
 * `waitFor`: wait on the host until a port listens (or stops listening), a
 * path exists (or is gone), or a command succeeds. Read-only: it runs in
 * check mode too and never reports changed; it fails when `maxWait` runs out.
 *
 * The wait is one POSIX sh loop on the host (one round trip, however long
 * it waits). A port counts as listening when /proc/net/tcp or tcp6 has a
 * LISTEN socket on it: no nc, no bash `/dev/tcp`, nothing to install, and a
 * probe that never opens a connection to the service. `host` narrows that
 * to sockets bound to this local address (a socket bound to the wildcard
 * address matches any); it is not a remote host to connect to.
 *
 * Names: `maxWait`, `initialDelay` and `interval` rather than Ansible's
 * `timeout`/`delay`, which are the common task options here (a hard kill
 * of the command, the pause between retries). `timeout` still works as an
 * outer bound.
 *
 * @example
 *   await h.waitFor({ port: 6641, maxWait: 60 });                 // OVN NB raft listening
 *   await h.waitFor({ path: "/var/run/ceph/ceph-mon.tnode1.asok" });
 *   await h.waitFor({ command: "ceph health | grep -q HEALTH_OK", maxWait: 600, interval: 5 });
 */
import net from "node:net";
import { shq } from "../runner/quote.ts";
import { defineTask, type Plan } from "../runner/task.ts";

interface WaitTiming {
  /** Seconds to give up after (default 300). */
  maxWait?: number;
  /** Seconds to sleep before the first check (default 0). */
  initialDelay?: number;
  /** Seconds between checks (default 1). */
  interval?: number;
}

export type WaitForParams = WaitTiming &
  (
    | { port: number; /** Local address the socket is bound to. */ host?: string; state?: "started" | "stopped"; path?: never; command?: never }
    | { path: string; state?: "present" | "absent"; port?: never; command?: never }
    | { /** A read-only command line; waits until it exits 0. */ command: string; state?: never; port?: never; path?: never }
  );

/** /proc/net/tcp's hex for a local address: IPv4 as a little-endian word, IPv6 as four of them. */
export function procNetAddress(ip: string): string[] {
  const le = (bytes: number[]) => bytes.map((b) => b.toString(16).toUpperCase().padStart(2, "0")).reverse().join("");
  const v4 = (a: string) => a.split(".").map(Number);
  if (net.isIPv4(ip)) {
    const b = v4(ip);
    // A v4 address may also show in tcp6 as ::ffff:a.b.c.d.
    return [le(b), `0000000000000000FFFF0000${le(b)}`];
  }
  if (!net.isIPv6(ip)) throw new Error(`waitFor: host must be a local IP address, got ${JSON.stringify(ip)}`);
  const [head = "", tail = ""] = ip.split("::");
  const groups = (s: string) => (s ? s.split(":") : []);
  let h = groups(head);
  let t = groups(tail);
  // An embedded dotted quad at the end takes two groups.
  const last = (ip.includes("::") ? t : h).at(-1);
  if (last?.includes(".")) {
    const b = v4(last);
    const extra = [((b[0]! << 8) | b[1]!).toString(16), ((b[2]! << 8) | b[3]!).toString(16)];
    if (ip.includes("::")) t = [...t.slice(0, -1), ...extra];
    else h = [...h.slice(0, -1), ...extra];
  }
  const all = ip.includes("::") ? [...h, ...Array(8 - h.length - t.length).fill("0"), ...t] : h;
  const bytes = all.flatMap((g) => {
    const n = parseInt(g, 16);
    return [n >> 8, n & 0xff];
  });
  let out = "";
  for (let i = 0; i < 16; i += 4) out += le(bytes.slice(i, i + 4));
  return [out];
}

const WILDCARDS = ["00000000", "0".repeat(32)];

/** A shell condition true while the port has a LISTEN socket (on `host`, when given). */
export function listeningCheck(port: number, host?: string): string {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  const addrs = host ? [...procNetAddress(host), ...WILDCARDS] : ["*"];
  return [
    "listening() {",
    "  for f in /proc/net/tcp /proc/net/tcp6; do",
    '    [ -r "$f" ] || continue',
    "    while read -r sl local rem st rest; do",
    '      [ "$st" = 0A ] || continue',
    `      case "$local" in *:${hex}) ;; *) continue ;; esac`,
    `      case "\${local%:*}" in ${addrs.join("|")}) return 0 ;; esac`,
    '    done < "$f"',
    "  done",
    "  return 1",
    "}",
  ].join("\n");
}

/** What is waited for, in words, and the sh condition. */
export function waitCondition(p: WaitForParams): { what: string; setup: string; test: string } {
  if (p.port !== undefined) {
    if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535) throw new Error(`waitFor: invalid port ${p.port}`);
    const on = p.host ? ` on ${p.host}` : "";
    const stopped = p.state === "stopped";
    return { what: `port ${p.port}${on} to ${stopped ? "stop listening" : "listen"}`, setup: listeningCheck(p.port, p.host), test: stopped ? "! listening" : "listening" };
  }
  if (p.path !== undefined) {
    const absent = p.state === "absent";
    return { what: `${p.path} to ${absent ? "be gone" : "exist"}`, setup: "", test: `${absent ? "! " : ""}[ -e ${shq(p.path)} ]` };
  }
  if (p.command !== undefined) return { what: `\`${p.command}\` to succeed`, setup: "", test: `( ${p.command}\n) >/dev/null 2>&1 </dev/null` };
  throw new Error("waitFor: give port, path or command");
}

/** The whole wait as one POSIX sh script (prints how long it took). */
export function waitScript(p: WaitForParams): string {
  const { setup, test } = waitCondition(p);
  const num = (n: number | undefined, d: number, what: string) => {
    const v = n ?? d;
    if (!Number.isFinite(v) || v < 0) throw new Error(`waitFor: invalid ${what} ${n}`);
    return v;
  };
  const max = Math.ceil(num(p.maxWait, 300, "maxWait"));
  const delay = num(p.initialDelay, 0, "initialDelay");
  const interval = num(p.interval, 1, "interval");
  return [
    setup,
    `start=$(date +%s)`,
    delay > 0 && `sleep ${delay}`,
    // Whole seconds: `-gt` gives up no earlier than maxWait (at most a second later).
    "while :; do",
    `  if ${test}; then echo "ready after $(( $(date +%s) - start )) s"; exit 0; fi`,
    `  [ $(( $(date +%s) - start )) -gt ${max} ] && { echo 'gave up after ${max} s' >&2; exit 1; }`,
    `  sleep ${interval}`,
    "done",
  ]
    .filter(Boolean)
    .join("\n");
}

export const waitForTask = defineTask<WaitForParams>({
  kind: "waitFor",
  describe: (p) => `wait for ${waitCondition(p).what}`,
  async plan(_ctx, p): Promise<Plan> {
    const { what } = waitCondition(p);
    return {
      changes: [{ kind: "run", command: waitScript(p), label: `wait for ${what}` }],
      reason: `waited for ${what}`,
      readOnly: true,
    };
  },
});
