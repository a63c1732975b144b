/**
 * Opening a host's connection from the inventory: local for localhost,
 * otherwise SSH with the inventory's settings first, then `~/.ssh/config`
 * (as OpenSSH reads it), then defaults.
 */
import { homedir, userInfo } from "node:os";
import { join } from "node:path";
import type { InventoryHost } from "../inventory/types.ts";
import { foldNodeset } from "../nodeset.ts";
import { LocalConnection } from "./local.ts";
import { ReopeningConnection } from "./reopen.ts";
import { proxyJumpTarget, resolveSshConfig } from "./sshconfig.ts";
import { SshConnection, type SshTarget } from "./ssh.ts";
import type { Connection } from "./types.ts";

export interface OpenOptions {
  acceptNewHostKeys: boolean;
  /** SSH login password (from `-k`), tried after keys and the agent. */
  password?: string;
  /** The host's variables: `known_hosts_file` (path or list) adds known_hosts files. */
  vars: Record<string, unknown>;
  /**
   * OpenSSH client config to read (`-F FILE`): wins over the inventory's
   * `sshConfig`, which wins over ~/.ssh/config. `"none"` reads none, as ssh.
   */
  sshConfig?: string;
  /** Called before a refused or timed-out connection is tried again (live output while it waits). */
  onRetry?: SshTarget["onRetry"];
}

export async function openConnection(host: InventoryHost, opts: OpenOptions): Promise<Connection> {
  if (host.conn.local) return new LocalConnection(host.name);
  const target = sshTarget(host.name, host.conn, opts);
  return ReopeningConnection.open(host.name, () => SshConnection.open(target));
}

/**
 * Builds the SSH target of a host. OpenSSH matches `Host` blocks against the
 * name given on its command line, so the config is looked up by inventory
 * name; an address the inventory sets explicitly beats the config's HostName.
 */
export function sshTarget(name: string, conn: InventoryHost["conn"], opts: OpenOptions): SshTarget {
  const configFile = opts.sshConfig ?? conn.sshConfig ?? join(homedir(), ".ssh", "config");
  const options = conn.sshOptions;
  const cfg = configFile === "none" ? resolveSshConfig({ text: "" }, name, { options }) : resolveSshConfig(configFile, name, { options });
  const extraKnown = opts.vars.known_hosts_file;
  const knownHostsFiles = [
    ...(Array.isArray(extraKnown) ? extraKnown.map(String) : typeof extraKnown === "string" ? [extraKnown] : []),
    ...(cfg.userKnownHostsFiles ?? [join(homedir(), ".ssh", "known_hosts")]),
  ];
  const explicitAddress = conn.address !== name;
  const jumpSpec = conn.jump ?? cfg.proxyJump;
  const keyFiles = conn.key ? [conn.key] : cfg.identityFiles.length ? cfg.identityFiles : undefined;
  return {
    host: name,
    address: explicitAddress ? conn.address : (cfg.hostName ?? conn.address),
    port: conn.port ?? cfg.port ?? 22,
    user: conn.user ?? cfg.user ?? userInfo().username,
    keyFiles,
    // IdentitiesOnly: the configured (or default) key files, not the agent's keys.
    agent: cfg.identitiesOnly ? "" : process.env.SSH_AUTH_SOCK,
    jump: jumpSpec
      ? proxyJumpTarget(jumpSpec, (hop) => {
          const t = sshTarget(hop.host, { address: hop.host, user: hop.user, port: hop.port, sshConfig: conn.sshConfig }, { ...opts, vars: {} });
          return { ...t, knownHostsFiles: [...new Set([...knownHostsFiles, ...t.knownHostsFiles])] };
        })
      : undefined,
    proxyCommand: conn.jump ? undefined : cfg.proxyCommand,
    knownHostsFiles,
    acceptNewHostKeys: opts.acceptNewHostKeys || cfg.strictHostKeyChecking === "accept-new",
    checkHostKeys: cfg.strictHostKeyChecking !== "no",
    password: opts.password,
    connectTimeoutMs: cfg.connectTimeout ? cfg.connectTimeout * 1000 : undefined,
    keepaliveMs: cfg.serverAliveInterval === undefined ? undefined : cfg.serverAliveInterval * 1000,
    keepaliveCountMax: cfg.serverAliveCountMax,
    onRetry: opts.onRetry,
  };
}

/**
 * The hosts whose host key is not checked (`StrictHostKeyChecking no` from
 * their inventory's ssh options or their ssh config), for the one warning a
 * run prints. Hosts whose settings cannot be read are left to fail when
 * they connect.
 *
 * @example uncheckedHostKeys(inv, ["tnode1", "tnode2"], { acceptNewHostKeys: false, vars: {} }) // ["tnode1", "tnode2"]
 */
export function uncheckedHostKeys(hosts: InventoryHost[], opts: Omit<OpenOptions, "vars">): string[] {
  return hosts
    .filter((h) => {
      if (h.conn.local) return false;
      try {
        return sshTarget(h.name, h.conn, { ...opts, vars: {} }).checkHostKeys === false;
      } catch {
        return false;
      }
    })
    .map((h) => h.name);
}

/**
 * The one warning of a run where some hosts' keys are not checked
 * (`StrictHostKeyChecking no`), so nobody runs that way unknowingly.
 */
export function uncheckedWarning(hosts: string[]): string {
  return `host key checking is off for ${foldNodeset(hosts)} (StrictHostKeyChecking no in the inventory's ssh options or the ssh config): their identity is not verified`;
}
