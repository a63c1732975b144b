/**
 * The inventory as the rest of runbook sees it, whatever format it was read
 * from (Rundeck resource YAML, Ansible YAML or INI, a TS module).
 */

import type { Secret } from "../secret.ts";

/** Where something was defined: a file and, when the format has lines, a line. */
export interface SourceRef {
  file: string;
  line?: number;
}

/**
 * How to reach a host. Read from connection keys in any variable map
 * (see `CONNECTION_KEYS` in connection.ts), merged like variables: `all`,
 * then groups in precedence order, then the host; the most specific wins.
 */
export interface HostConnection {
  /** DNS name or IP address; defaults to the host's inventory name. */
  address: string;
  port?: number;
  user?: string;
  /** Path of an SSH identity (private key) file. */
  key?: string;
  /** Run tasks with sudo. */
  become?: boolean;
  /** The user sudo switches to (root when unset). */
  becomeUser?: string;
  /** An OpenSSH ProxyJump spec: `[user@]host[:port]`, comma-separated for a chain. */
  jump?: string;
  /**
   * An OpenSSH client config file (ssh_config(5)) read instead of
   * `~/.ssh/config`, as `ssh -F FILE` does; relative to the inventory file
   * that sets it. `-F` on the command line wins over it.
   */
  sshConfig?: string;
  /**
   * OpenSSH options as `ssh -o` takes them (`StrictHostKeyChecking no`),
   * in the order given; they win over the ssh config file, as on ssh's
   * command line. Ansible's `ansible_ssh_args`, `ansible_ssh_common_args`
   * and `ansible_ssh_extra_args` land here, in that order, after these.
   */
  sshOptions?: string[];
  /** The SSH login password, tried after keys and the agent (Ansible's `ansible_password`). */
  password?: Secret;
  /** The sudo password (Ansible's `ansible_become_password`). */
  becomePassword?: Secret;
  /**
   * Run commands on this machine instead of over SSH. Defaults to true only
   * when the address is `localhost`, `127.0.0.1` or `::1` and the host itself
   * sets no port, user, key or jump host. Loaded inventories always set it.
   */
  local?: boolean;
}

/** A connection setting given at group level, inherited by the group's hosts. */
export type ConnectionDefaults = Partial<HostConnection> & {
  /**
   * The options of Ansible's three ssh argument variables, kept apart while
   * loading so that each follows variable precedence on its own (a host's
   * `ansible_ssh_extra_args` does not replace its group's
   * `ansible_ssh_common_args`); joined into `sshOptions` at the end.
   */
  ansibleSshArgs?: Partial<Record<AnsibleSshArgs, string[]>>;
};

/** Ansible's variables of extra ssh arguments, in the order Ansible passes them to ssh. */
export const ANSIBLE_SSH_ARGS = ["ansible_ssh_args", "ansible_ssh_common_args", "ansible_ssh_extra_args"] as const;
export type AnsibleSshArgs = (typeof ANSIBLE_SSH_ARGS)[number];

/** One host, with everything the inventory says about it. */
export interface InventoryHost {
  name: string;
  /**
   * Every group the host is in, directly or through a parent group, `all`
   * included, in variable precedence order: `all` first, then by depth
   * (parents before children), then by name.
   */
  groups: string[];
  /** Variables set on the host itself (connection keys removed, see `conn`). */
  vars: Record<string, unknown>;
  /** For each key of `vars`, where it was set, e.g. `inventory/hosts.yml:12 (host tnode2)`. */
  varSources: Record<string, string>;
  conn: HostConnection;
  /** Where the host was first defined. */
  source: SourceRef;
}

/** A group (an Ansible group, or a Rundeck tag). */
export interface InventoryGroup {
  name: string;
  /** Hosts listed in this group directly (not through child groups). */
  hosts: string[];
  /** Direct child groups. */
  children: string[];
  /** Longest distance from `all` (0) through parent groups; orders group variables. */
  depth: number;
  /** Group variables (connection keys removed, see `conn`). */
  vars: Record<string, unknown>;
  /** For each key of `vars`, where it was set, e.g. `inventory/group_vars/clusternode.yml:2`. */
  varSources: Record<string, string>;
  /** Connection settings for the group's hosts. */
  conn: ConnectionDefaults;
  /** Where the group was first defined. */
  source: SourceRef;
}

/**
 * A loaded inventory. Both maps keep definition order (the order hosts were
 * first seen across files), which is the order patterns return hosts in.
 */
export interface Inventory {
  hosts: Map<string, InventoryHost>;
  groups: Map<string, InventoryGroup>;
  /**
   * Ansible variables (`ansible_*`) runbook has no use for, e.g.
   * `ansible_python_interpreter`: not passed on as variables; each with
   * where it was set, for `runbook inventory` to list.
   */
  ignored: Map<string, string[]>;
}

/** Connection fields a TS inventory may set on a host or a group. */
export type ConnectionSpec = Partial<HostConnection>;

/** A host in a TS inventory. */
export interface HostSpec extends ConnectionSpec {
  /** Groups the host is a direct member of. */
  groups?: string[];
  vars?: Record<string, unknown>;
}

/** A group in a TS inventory; its connection fields apply to its hosts. */
export interface GroupSpec extends ConnectionSpec {
  /** Names of child groups. */
  children?: string[];
  vars?: Record<string, unknown>;
}

/**
 * A TS inventory: the default export (or the export named `inventory`) of a
 * module given to `-i`. Host names may use node ranges (`node[01:03]`).
 */
export interface InventorySpec {
  hosts?: Record<string, HostSpec>;
  groups?: Record<string, GroupSpec>;
  /** Variables of the `all` group. */
  vars?: Record<string, unknown>;
}
