/**
 * `runbook inventory [PATTERN]`: hosts and their groups; `--graph` the group
 * tree; `--vars HOST` every variable of a host and where it came from.
 */
import { parseArgs } from "node:util";
import { EXIT, ExitError } from "../errors.ts";
import { loadInventory, type Inventory } from "../inventory/index.ts";
import { resolvePattern } from "../patterns.ts";
import { hostVars } from "../vars.ts";
import type { Command } from "./main.ts";
import { VAULT_OPTIONS, vaultUsage, vaultKeys } from "./vault.ts";

const USAGE = `runbook inventory [PATTERN] [options]

  -i, --inventory PATH   inventory file or directory (default: inventory/)
      --graph            the group tree with its hosts
      --vars HOST        each variable of HOST and where it came from
      --json             machine-readable output
${vaultUsage(25)}`;

export const command: Command = {
  summary: "show the inventory",
  usage: USAGE,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        inventory: { type: "string", short: "i", multiple: true },
        graph: { type: "boolean" },
        vars: { type: "string" },
        json: { type: "boolean" },
        ...VAULT_OPTIONS,
      },
    });
    const vault = await vaultKeys(values, { interactive: !!process.stdin.isTTY });
    const inv = await loadInventory(values.inventory?.length ? values.inventory : ["inventory"], { vault });
    // On stderr: stdout may be JSON for a script.
    if (inv.ignored.size) process.stderr.write(ignoredNote(inv.ignored));
    if (values.vars) {
      if (!inv.hosts.has(values.vars)) throw new ExitError(EXIT.input, `host "${values.vars}" is not in the inventory`);
      const { vars, sources } = hostVars(inv, values.vars);
      const conn = inv.hosts.get(values.vars)!.conn;
      if (values.json) {
        console.log(JSON.stringify({ connection: conn, vars, sources }, null, 2));
        return 0;
      }
      console.log(`${values.vars}\n  connection: ${JSON.stringify(conn)}`);
      for (const [k, v] of Object.entries(vars)) console.log(`  ${k} = ${JSON.stringify(v)}    # ${sources[k]}`);
      return 0;
    }
    const hosts = positionals[0] ? resolvePattern(inv, positionals[0]) : [...inv.hosts.keys()];
    if (values.graph) {
      console.log(graph(inv, "all", new Set(hosts), 0).join("\n"));
      return 0;
    }
    const rows = hosts.map((h) => {
      const host = inv.hosts.get(h)!;
      return { host: h, address: host.conn.local ? "(local)" : `${host.conn.user ? `${host.conn.user}@` : ""}${host.conn.address}${host.conn.port ? `:${host.conn.port}` : ""}`, groups: host.groups.filter((g) => g !== "all") };
    });
    if (values.json) console.log(JSON.stringify(rows, null, 2));
    else {
      const w = Math.max(4, ...rows.map((r) => r.host.length));
      const a = Math.max(7, ...rows.map((r) => r.address.length));
      for (const r of rows) console.log(`${r.host.padEnd(w)}  ${r.address.padEnd(a)}  ${r.groups.join(",")}`);
    }
    return 0;
  },
};

/**
 * Ansible's own settings runbook has no use for, each once with where it
 * was set, so a user moving over sees what will not take effect.
 */
function ignoredNote(ignored: Map<string, string[]>): string {
  const lines = [...ignored].map(([key, where]) => `  ${key}    # ${where[0]}${where.length > 1 ? ` and ${where.length - 1} more` : ""}`);
  return `understood by Ansible, ignored by runbook (not passed on as variables):\n${lines.join("\n")}\n`;
}

/** ansible-inventory --graph style. */
function graph(inv: Inventory, group: string, only: Set<string>, depth: number): string[] {
  const g = inv.groups.get(group);
  if (!g) return [];
  const pad = "  ".repeat(depth);
  const lines = [`${pad}@${group}:`];
  for (const child of g.children) lines.push(...graph(inv, child, only, depth + 1));
  for (const h of g.hosts) if (only.has(h)) lines.push(`${pad}  |--${h}`);
  return lines;
}
