/**
 * The play's topology as roles see it (Ansible's `groups` and `hostvars`,
 * typed): the play's hosts, the inventory's groups, and other hosts' vars
 * and facts, so a role derives its peers (Ceph `mon_host`, OVN raft
 * members, Incus members) from a group instead of repeating them.
 */
import type { Facts } from "./facts/index.ts";
import { InputError } from "./errors.ts";
import { didYouMean } from "./suggest.ts";

/** Another host as a role sees it. */
export interface Peer {
  readonly name: string;
  /** The address runbook reaches it on (the inventory's `address`, `ansible_host`, Rundeck's `hostname`). */
  readonly address: string;
  readonly vars: Readonly<Record<string, unknown>>;
  readonly facts: Facts;
}

export interface Topology {
  /** The play's hosts after --limit, in inventory order. */
  readonly hosts: readonly string[];
  readonly groups: Readonly<Record<string, readonly string[]>>;
  varsOf(host: string): Readonly<Record<string, unknown>>;
  /** A group's hosts with vars and facts (default: the play's hosts). */
  peers(group?: string): Promise<Peer[]>;
  /** Facts gathered again on a host (refreshFacts). */
  setFacts?(host: string, facts: Facts): void;
}

/** A topology over an inventory: facts come from `factsOf` (the run's, gathered at most once per host). */
export function makeTopology(opts: {
  hosts: readonly string[];
  groups: Readonly<Record<string, readonly string[]>>;
  varsOf(host: string): Record<string, unknown> | undefined;
  /** The inventory address of a host (default: its name). */
  addressOf?(host: string): string | undefined;
  factsOf(host: string): Promise<Facts>;
  setFacts?(host: string, facts: Facts): void;
}): Topology {
  const known = (host: string, what: string) => {
    const vars = opts.varsOf(host);
    if (!vars) throw new InputError(`${what}: no host "${host}" in the inventory${didYouMean(host, opts.groups.all ?? [])}`);
    return vars;
  };
  return {
    hosts: opts.hosts,
    groups: opts.groups,
    varsOf: (host) => known(host, "hostvars"),
    setFacts: opts.setFacts,
    async peers(group) {
      let names: readonly string[] = opts.hosts;
      if (group !== undefined) {
        const g = opts.groups[group];
        if (!g) throw new InputError(`peers: no group "${group}" in the inventory${didYouMean(group, Object.keys(opts.groups))}`);
        names = g;
      }
      return Promise.all(names.map(async (name) => ({ name, address: opts.addressOf?.(name) ?? name, vars: known(name, "peers"), facts: await opts.factsOf(name) })));
    },
  };
}
