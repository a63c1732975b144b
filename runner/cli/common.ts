/** Pieces shared by the commands that reach hosts (play, run, facts). */
import { existsSync } from "node:fs";
import { openConnection, uncheckedHostKeys, uncheckedWarning, type OpenOptions } from "../connection/index.ts";
import { InputError } from "../errors.ts";
import type { Connection } from "../connection/types.ts";
import { loadInventory, type Inventory } from "../inventory/index.ts";
import { resolvePattern } from "../patterns.ts";
import type { VaultKeys } from "../inventory/vault.ts";
import { hostVars } from "../vars.ts";
import { VAULT_OPTIONS, vaultKeys, type VaultValues } from "./vault.ts";

export const HOST_OPTIONS = {
  inventory: { type: "string", short: "i", multiple: true },
  "ssh-config": { type: "string", short: "F" },
  user: { type: "string", short: "u" },
  "accept-new-host-keys": { type: "boolean" },
  forks: { type: "string", short: "f" },
  json: { type: "boolean" },
  ...VAULT_OPTIONS,
} as const;

/** The inventory and the hosts a pattern selects; `-F` (or the inventory's sshConfig) checked. */
export async function hostsFor(pattern: string, values: { inventory?: string[]; "ssh-config"?: string } & VaultValues): Promise<{ inv: Inventory; hosts: string[]; vault: VaultKeys }> {
  const vault = await vaultKeys(values, { interactive: !!process.stdin.isTTY });
  const inv = await loadInventory(values.inventory?.length ? values.inventory : ["inventory"], { vault });
  const hosts = resolvePattern(inv, pattern);
  checkSshConfigs(inv, hosts, values["ssh-config"]);
  return { inv, hosts, vault };
}

/** The connection options of `eachHost` from the shared command-line options. */
export function connectOptions(values: { forks?: string; "accept-new-host-keys"?: boolean; "ssh-config"?: string; user?: string }) {
  const forks = Number(values.forks ?? 50);
  if (!Number.isInteger(forks) || forks < 1) throw new InputError(`--forks must be a positive integer, got ${values.forks}`);
  return { acceptNewHostKeys: !!values["accept-new-host-keys"], forks, sshConfig: values["ssh-config"], user: values.user };
}

/**
 * The OpenSSH config files the selected hosts would read, checked before any
 * host is touched: `-F FILE` (wins), else each host's inventory `sshConfig`.
 * A missing file is an input error, as it is for `ssh -F`; the default
 * `~/.ssh/config` may be absent.
 */
export function checkSshConfigs(inv: Inventory, hosts: string[], flag: string | undefined): void {
  if (flag !== undefined) {
    if (flag !== "none" && !existsSync(flag)) throw new InputError(`-F ${flag}: no such ssh config file`);
    return;
  }
  for (const name of hosts) {
    const file = inv.hosts.get(name)?.conn.sshConfig;
    if (file && file !== "none" && !existsSync(file)) throw new InputError(`host ${name}: sshConfig ${file}: no such file`);
  }
}

/** Prints a connection retry as it happens (12 s of silence otherwise), on stderr: stdout may be JSON. */
export const retryToStderr: OpenOptions["onRetry"] = (r) =>
  process.stderr.write(`${r.host}: ${r.reason}; trying again in ${r.waitMs / 1000} s (attempt ${r.attempt} of ${r.attempts})\n`);

/**
 * Runs `fn` on every host (up to `forks` at once) over its own connection;
 * errors are per host. Once `stop` is aborted no further host starts (those
 * have no result); once `cutoff` is aborted the open connections are closed,
 * cutting off what still runs on them.
 */
export async function eachHost<T>(
  inv: Inventory,
  hosts: string[],
  opts: { acceptNewHostKeys: boolean; forks: number; sshConfig?: string; user?: string; password?: string; stop?: AbortSignal; cutoff?: AbortSignal },
  fn: (conn: Connection, host: string) => Promise<T>,
): Promise<Map<string, { ok: true; value: T } | { ok: false; error: string }>> {
  const results = new Map<string, { ok: true; value: T } | { ok: false; error: string }>();
  const unchecked = uncheckedHostKeys(hosts.map((h) => inv.hosts.get(h)!), opts);
  if (unchecked.length) process.stderr.write(`warning: ${uncheckedWarning(unchecked)}\n`);
  const open = new Set<Connection>();
  const cut = () => {
    for (const c of open) void c.close().catch(() => undefined);
  };
  opts.cutoff?.addEventListener("abort", cut, { once: true });
  const queue = [...hosts];
  const worker = async () => {
    for (let host = queue.shift(); host !== undefined && !opts.stop?.aborted; host = queue.shift()) {
      let conn: Connection | undefined;
      try {
        const h = inv.hosts.get(host)!;
        conn = await openConnection(opts.user ? { ...h, conn: { ...h.conn, user: opts.user } } : h, {
          acceptNewHostKeys: opts.acceptNewHostKeys,
          vars: hostVars(inv, host).vars,
          sshConfig: opts.sshConfig,
          password: opts.password ?? h.conn.password?.reveal(),
          onRetry: retryToStderr,
        });
        // Stopped while connecting: the command does not start.
        if (opts.stop?.aborted) break;
        open.add(conn);
        results.set(host, { ok: true, value: await fn(conn, host) });
      } catch (err) {
        results.set(host, { ok: false, error: (err as Error).message });
      } finally {
        if (conn) open.delete(conn);
        await conn?.close().catch(() => undefined);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.forks, hosts.length) }, worker));
  opts.cutoff?.removeEventListener("abort", cut);
  return results;
}
