/** Pieces shared by the commands that reach hosts (run, facts). */
import { openConnection } from "../connection/index.ts";
import type { Connection } from "../connection/types.ts";
import { loadInventory, type Inventory } from "../inventory/index.ts";
import { resolvePattern } from "../patterns.ts";
import { hostVars } from "../vars.ts";

export const HOST_OPTIONS = {
  inventory: { type: "string", short: "i", multiple: true },
  "accept-new-host-keys": { type: "boolean" },
  forks: { type: "string", short: "f" },
  json: { type: "boolean" },
} as const;

export async function hostsFor(pattern: string, inventory: string[] | undefined): Promise<{ inv: Inventory; hosts: string[] }> {
  const inv = await loadInventory(inventory?.length ? inventory : ["inventory"]);
  return { inv, hosts: resolvePattern(inv, pattern) };
}

/** Runs `fn` on every host (up to `forks` at once) over its own connection; errors are per host. */
export async function eachHost<T>(
  inv: Inventory,
  hosts: string[],
  opts: { acceptNewHostKeys: boolean; forks: number },
  fn: (conn: Connection, host: string) => Promise<T>,
): Promise<Map<string, { ok: true; value: T } | { ok: false; error: string }>> {
  const results = new Map<string, { ok: true; value: T } | { ok: false; error: string }>();
  const queue = [...hosts];
  const worker = async () => {
    for (let host = queue.shift(); host !== undefined; host = queue.shift()) {
      let conn: Connection | undefined;
      try {
        conn = await openConnection(inv.hosts.get(host)!, { acceptNewHostKeys: opts.acceptNewHostKeys, vars: hostVars(inv, host).vars });
        results.set(host, { ok: true, value: await fn(conn, host) });
      } catch (err) {
        results.set(host, { ok: false, error: (err as Error).message });
      } finally {
        await conn?.close().catch(() => undefined);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.forks, hosts.length) }, worker));
  return results;
}
