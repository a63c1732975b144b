/**
 * Collects hosts, groups and variables from any number of inventory files,
 * then checks and finishes the whole (implicit `all`, cycles, depths, each
 * host's groups and connection).
 *
 * Defining a host or group again merges: group memberships and children are
 * added, variables and connection fields are replaced key by key (the later
 * file wins), and `source` stays where it was first defined.
 */

import { InputError } from "../errors.ts";
import { ANSIBLE_KEYS, mergeConnection, resolveConnection, splitConnection } from "./connection.ts";
import { secretStrings } from "./vault.ts";
import type { ConnectionDefaults, Inventory, InventoryGroup, InventoryHost, SourceRef } from "./types.ts";

/** Variables read from one place, as a loader hands them over. */
export interface VarBlock {
  file: string;
  vars: Record<string, unknown>;
  /** The line of each key, when the format has lines. */
  lines?: Record<string, number>;
  /** Written inside an inventory file (not group_vars/host_vars): sources then name the group or host. */
  inline?: boolean;
}

interface Draft {
  name: string;
  source: SourceRef;
  vars: Record<string, unknown>;
  varSources: Record<string, string>;
  conn: ConnectionDefaults;
}

interface GroupDraft extends Draft {
  hosts: Set<string>;
  /** Child group -> where the parent/child link was written (to point at a cycle). */
  children: Map<string, SourceRef | undefined>;
}

const BUILT_IN: SourceRef = { file: "(built-in)" };

/** Accumulates inventory files; `build()` returns the checked inventory. */
export class InventoryBuilder {
  private readonly hosts = new Map<string, Draft>();
  private readonly groups = new Map<string, GroupDraft>();
  /** Ansible keys runbook does not use -> where each was set. */
  private readonly ignored = new Map<string, string[]>();
  /** While set, every string variable added is made a Secret (a vault-encrypted inventory file). */
  secretStrings = false;

  constructor() {
    this.group("all", BUILT_IN);
  }

  /** True when some file defined host `name`. */
  hasHost(name: string): boolean {
    return this.hosts.has(name);
  }

  /** True when some file defined group `name` (`all` always exists). */
  hasGroup(name: string): boolean {
    return this.groups.has(name);
  }

  /** Defines a host, or does nothing if it exists. */
  host(name: string, source: SourceRef): void {
    if (!this.hosts.has(name)) this.hosts.set(name, draft(name, source));
  }

  /** Defines a group, or does nothing if it exists. */
  group(name: string, source: SourceRef): void {
    const existing = this.groups.get(name);
    if (!existing) this.groups.set(name, { ...draft(name, source), hosts: new Set(), children: new Map() });
    else if (existing.source === BUILT_IN) existing.source = source;
  }

  /** Makes `host` a direct member of `group`, defining either if needed. */
  member(group: string, host: string, source: SourceRef): void {
    this.host(host, source);
    this.group(group, source);
    this.groups.get(group)!.hosts.add(host);
  }

  /** Makes `child` a child group of `parent`, defining either if needed. */
  child(parent: string, child: string, source: SourceRef): void {
    this.group(parent, source);
    this.group(child, source);
    const links = this.groups.get(parent)!.children;
    if (!links.has(child)) links.set(child, source);
  }

  /** Sets variables (and connection keys, see connection.ts) on an existing host. */
  hostVars(name: string, block: VarBlock, aliases = ANSIBLE_KEYS): void {
    this.addVars(this.hosts.get(name)!, `host ${name}`, block, aliases);
  }

  /** Sets variables (and connection defaults) on an existing group. */
  groupVars(name: string, block: VarBlock, aliases = ANSIBLE_KEYS): void {
    this.addVars(this.groups.get(name)!, `group ${name}`, block, aliases);
  }

  /** Checks the group graph and returns the finished inventory. */
  build(): Inventory {
    this.linkTopGroupsToAll();
    this.checkCycles();
    const depths = this.depths();
    const groups = new Map<string, InventoryGroup>();
    for (const g of this.groups.values()) {
      groups.set(g.name, { ...finish(g), hosts: [...g.hosts], children: [...g.children.keys()], depth: depths.get(g.name)! });
    }
    const parents = this.parents();
    const hosts = new Map<string, InventoryHost>();
    for (const h of this.hosts.values()) {
      const memberOf = this.groupsOf(h.name, parents, depths);
      const conn = resolveConnection(h.name, memberOf.map((g) => this.groups.get(g)!.conn), h.conn);
      hosts.set(h.name, { ...finish(h), groups: memberOf, conn });
    }
    return { hosts, groups, ignored: this.ignored };
  }

  private addVars(target: Draft, owner: string, block: VarBlock, aliases: typeof ANSIBLE_KEYS): void {
    const vars = this.secretStrings ? (secretStrings(block.vars) as Record<string, unknown>) : block.vars;
    const { conn, rest, ignored } = splitConnection({ ...block, vars }, owner, aliases);
    target.conn = mergeConnection(target.conn, conn);
    for (const [key, value] of Object.entries(rest.vars)) {
      target.vars[key] = value;
      target.varSources[key] = sourceOf(rest, key, owner);
    }
    for (const key of ignored) this.ignored.set(key, [...(this.ignored.get(key) ?? []), sourceOf(block, key, owner)]);
  }

  /** As Ansible: a group with no parent is a child of `all`. */
  private linkTopGroupsToAll(): void {
    const hasParent = new Set([...this.groups.values()].flatMap((g) => [...g.children.keys()]));
    const all = this.groups.get("all")!;
    for (const name of this.groups.keys()) {
      if (name !== "all" && !hasParent.has(name) && !all.children.has(name)) all.children.set(name, undefined);
    }
  }

  private checkCycles(): void {
    const done = new Set<string>();
    const path: string[] = [];
    const visit = (name: string): void => {
      path.push(name);
      for (const [child, source] of this.groups.get(name)!.children) {
        if (path.includes(child)) {
          const cycle = [...path.slice(path.indexOf(child)), child].join(" -> ");
          throw new InputError(`group "${child}" is its own ancestor (${cycle})`, { ...source });
        }
        if (!done.has(child)) visit(child);
      }
      path.pop();
      done.add(name);
    };
    for (const name of this.groups.keys()) if (!done.has(name)) visit(name);
  }

  /** Longest distance of each group from `all`, which orders group variables as Ansible does. */
  private depths(): Map<string, number> {
    const depths = new Map<string, number>();
    const visit = (name: string, depth: number): void => {
      if ((depths.get(name) ?? -1) >= depth) return;
      depths.set(name, depth);
      for (const child of this.groups.get(name)!.children.keys()) visit(child, depth + 1);
    };
    visit("all", 0);
    return depths;
  }

  private parents(): Map<string, string[]> {
    const parents = new Map<string, string[]>();
    for (const g of this.groups.values()) {
      for (const child of g.children.keys()) parents.set(child, [...(parents.get(child) ?? []), g.name]);
    }
    return parents;
  }

  /** Direct and inherited groups of a host, in variable precedence order. */
  private groupsOf(host: string, parents: Map<string, string[]>, depths: Map<string, number>): string[] {
    const found = new Set<string>(["all"]);
    const climb = (group: string): void => {
      if (found.has(group)) return;
      found.add(group);
      for (const p of parents.get(group) ?? []) climb(p);
    };
    for (const g of this.groups.values()) if (g.hosts.has(host)) climb(g.name);
    return [...found].sort((a, b) => depths.get(a)! - depths.get(b)! || (a < b ? -1 : a > b ? 1 : 0));
  }
}

function draft(name: string, source: SourceRef): Draft {
  return { name, source, vars: {}, varSources: {}, conn: {} };
}

/** `inventory/hosts:3 (group web)`, or `inventory/group_vars/web.yml:2`. */
function sourceOf(block: VarBlock, key: string, owner: string): string {
  const line = block.lines?.[key];
  return `${block.file}${line ? `:${line}` : ""}${block.inline ? ` (${owner})` : ""}`;
}

function finish(d: Draft) {
  return { name: d.name, source: d.source, vars: d.vars, varSources: d.varSources, conn: d.conn };
}
