/**
 * `hostsFile`: lines of /etc/hosts for given addresses, other lines kept.
 *
 * With `state: "present"` (default) each entry's address gets exactly one
 * line, `IP<TAB>name1 name2`: the first existing line for that address is
 * rewritten in place (names compared word by word, so spacing and a
 * trailing comment do not count as a difference), later lines for it are
 * dropped, and addresses not there yet are appended in the order given.
 * With `state: "absent"` the lines for the given addresses are removed.
 * The file is written atomically with a diff; comments, blank lines and
 * lines for other addresses are never touched.
 *
 * @example
 *   // reference 003: the cluster's names on every node
 *   await h.hostsFile({ entries: [
 *     { ip: "10.10.0.1", names: ["odin.cluster.local", "odin"] },
 *     { ip: "10.10.3.1", names: ["valkyrie01.cluster.local", "valkyrie01"] },
 *   ] });
 */
import net from "node:net";
import { defineTask, type Plan } from "../runner/task.ts";
import { fileContent, lines, probeSections, readScript, textFileChange, unlines } from "./probe.ts";

export interface HostsEntry {
  ip: string;
  names: readonly string[];
}

export type HostsFileParams =
  | { entries: readonly HostsEntry[]; state?: "present"; /** Default /etc/hosts. */ path?: string; /** Keep a timestamped copy of the old file. */ backup?: boolean }
  | { entries: readonly { ip: string; names?: readonly string[] }[]; state: "absent"; path?: string; backup?: boolean };

/** Address and names of a hosts line (comment stripped); undefined for comments and blank lines. */
export function parseHostsLine(line: string): { ip: string; names: string[] } | undefined {
  const words = line.replace(/#.*/, "").trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return undefined;
  return { ip: words[0]!, names: words.slice(1) };
}

/** Compares addresses as the resolver does (`::1` and `0:0::1` are one address). */
function normIp(ip: string): string {
  if (!net.isIPv6(ip)) return ip;
  try {
    return new net.SocketAddress({ address: ip, family: "ipv6" }).address;
  } catch {
    return ip.toLowerCase(); // a scoped address (fe80::1%eth0)
  }
}

/**
 * The hosts file with the entries applied, or null when nothing changes;
 * `what` says what changed per address. Pure: unit-tested.
 */
export function editHosts(before: string | null, entries: readonly { ip: string; names?: readonly string[] }[], state: "present" | "absent"): { after: string; what: string[] } | null {
  const want = new Map(entries.map((e) => [normIp(e.ip), e]));
  const done = new Set<string>();
  const what: string[] = [];
  const out: string[] = [];
  for (const l of lines(before)) {
    const cur = parseHostsLine(l);
    const key = cur && normIp(cur.ip);
    const e = key !== undefined ? want.get(key) : undefined;
    if (!cur || !e || key === undefined) {
      out.push(l);
      continue;
    }
    if (state === "absent") {
      what.push(`remove ${cur.ip} (${cur.names.join(" ")})`);
      continue;
    }
    if (done.has(key)) {
      what.push(`drop duplicate line for ${cur.ip}`);
      continue;
    }
    done.add(key);
    const names = e.names ?? [];
    if (names.join(" ") === cur.names.join(" ")) out.push(l);
    else {
      out.push(`${e.ip}\t${names.join(" ")}`);
      what.push(`${e.ip}: ${cur.names.join(" ") || "(no names)"} -> ${names.join(" ")}`);
    }
  }
  if (state === "present") {
    for (const e of entries) {
      const key = normIp(e.ip);
      if (done.has(key)) continue;
      done.add(key);
      out.push(`${e.ip}\t${(e.names ?? []).join(" ")}`);
      what.push(`add ${e.ip} ${(e.names ?? []).join(" ")}`);
    }
  }
  return what.length ? { after: unlines(out), what } : null;
}

export const hostsFileTask = defineTask<HostsFileParams>({
  kind: "hostsFile",
  describe: (p) => `hosts file ${p.entries.map((e) => e.ip).join(", ")}${p.state === "absent" ? " (absent)" : ""}`.slice(0, 80),
  async plan(ctx, p): Promise<Plan> {
    const path = p.path ?? "/etc/hosts";
    const seen = new Set<string>();
    for (const e of p.entries) {
      if (!net.isIP(e.ip)) throw new Error(`hostsFile: invalid address ${JSON.stringify(e.ip)}`);
      if (seen.has(normIp(e.ip))) throw new Error(`hostsFile: ${e.ip} is listed twice`);
      seen.add(normIp(e.ip));
      if (p.state !== "absent" && !e.names?.length) throw new Error(`hostsFile: ${e.ip} has no names`);
      for (const n of e.names ?? []) {
        if (!/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(n)) throw new Error(`hostsFile: invalid name ${JSON.stringify(n)} for ${e.ip}`);
      }
    }
    const s = await probeSections(ctx, { hosts: readScript(path) });
    const before = fileContent(s.hosts, path);
    const edit = editHosts(before, p.entries, p.state ?? "present");
    if (!edit) {
      return { changes: [], reason: p.state === "absent" ? `${path} has no lines for ${p.entries.map((e) => e.ip).join(", ")}` : `${path} has ${p.entries.length} entr${p.entries.length > 1 ? "ies" : "y"} as given` };
    }
    const put = textFileChange(path, before, edit.after, { backup: p.backup })!;
    return { changes: [put.change], reason: `${path}: ${edit.what.join(", ")}`, diffs: [put.diff] };
  },
});
