/**
 * Playbooks and plays: the top of the DSL.
 *
 * @example
 *   export default playbook("site", [
 *     play({ name: "base", hosts: "clusternode", become: true, roles: [ntp({ servers: ["1.pool.ntp.org"] })] }),
 *   ]);
 */
import type { Host } from "./host.ts";
import type { RoleInstance } from "./role.ts";
import type { Shape } from "./schema.ts";

/** A value asked once before any host is touched (hidden when secret). */
export interface Prompt {
  /** Variable name; also settable with `-e NAME=...` or env `RUNBOOK_VAR_NAME`. */
  name: string;
  message: string;
  secret?: boolean;
  /** Ask twice and require both answers to match. */
  confirm?: boolean;
  default?: string;
}

export interface PlayOptions {
  name: string;
  /** Host pattern (DESIGN §4): names, groups, globs, ranges, `a,b`, `a:&b`, `a:!b`. */
  hosts: string;
  /** Run tasks through sudo. */
  become?: boolean;
  becomeUser?: string;
  vars?: Record<string, unknown>;
  prompts?: Prompt[];
  roles?: RoleInstance<Shape>[];
  /** Tasks after the roles, written inline. */
  tasks?: (h: Host) => Promise<void>;
  /** Rolling batches: a number of hosts, or a percentage such as "30%". */
  serial?: number | `${number}%`;
  /** One failed host stops the play on all hosts. */
  anyErrorsFatal?: boolean;
  /** Stop when more than this share of hosts (percent) has failed. */
  maxFailPercentage?: number;
  /** Gather facts before the play (default true). */
  gatherFacts?: boolean;
  tags?: string[];
}

export interface Play extends PlayOptions {
  readonly kind: "play";
}

export interface Playbook {
  readonly kind: "playbook";
  readonly name: string;
  readonly plays: Play[];
}

export function play(opts: PlayOptions): Play {
  return { kind: "play", ...opts };
}

export function playbook(name: string, plays: Play[]): Playbook {
  return { kind: "playbook", name, plays };
}
