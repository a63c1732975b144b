/**
 * Playbooks and plays: the top of the DSL.
 *
 * @example
 *   export default playbook("site", [
 *     play({ name: "base", hosts: "clusternode", become: true, roles: [ntp({ servers: ["1.pool.ntp.org"] })] }),
 *   ]);
 */
import { z } from "zod";
import type { Host } from "./host.ts";
import type { RoleInstance } from "./role.ts";
import { jsonSchema, secretString, type Shape } from "./schema.ts";
import type { Secret } from "./secret.ts";

/** A value asked once before any host is touched (hidden when secret). */
export interface Prompt {
  /** Variable name; also settable with `-e NAME=...` or env `RUNBOOK_VAR_NAME`. */
  name: string;
  /** The question; also the description in the JSON Schema (`runbook describe`, job options). */
  message: string;
  /** Hidden answer; the play's tasks see a `Secret`. */
  secret?: boolean;
  /** Ask twice and require both answers to match. */
  confirm?: boolean;
  default?: string;
  /** The answer must be one of these (asked as a choice); its type is their union. */
  choices?: readonly [string, ...string[]];
}

/** What a prompt's answer is in `h.vars`: a Secret, one of the choices, or a string. */
type PromptValue<P extends Prompt> = P extends { secret: true } ? Secret : P extends { choices: readonly (infer C)[] } ? C : string;
/** `h.vars` as a play's prompts type it: each prompt's answer by name, plus the (untyped) inventory and play vars. */
export type PromptVars<P extends readonly Prompt[]> = {
  readonly [Q in P[number] as string extends Q["name"] ? never : Q["name"]]: PromptValue<Q>;
} & { readonly [name: string]: unknown };
/** The host context of a play's inline `tasks`, with `vars` typed by its prompts. */
export type PlayHost<P extends readonly Prompt[]> = Omit<Host, "vars"> & { readonly vars: PromptVars<P> };

/** The zod schema of prompt answers: what `-e`, `RUNBOOK_VAR_*` and the terminal give is checked against it. */
export function promptSchema(prompts: readonly Prompt[]) {
  const shape: Shape = {};
  for (const p of prompts) {
    const base: z.ZodType = p.secret ? secretString() : p.choices ? z.enum(p.choices) : z.string();
    shape[p.name] = (p.default === undefined ? base : base.prefault(p.default)).describe(p.message);
  }
  return z.object(shape);
}

/** A playbook's prompts (every play's) as JSON Schema: the job options a form or `runbook describe` shows. */
export function promptsJsonSchema(pb: Playbook): Record<string, unknown> {
  return { ...jsonSchema(promptSchema(pb.plays.flatMap((p) => p.prompts ?? []))), title: pb.name };
}

export interface PlayOptions<P extends readonly Prompt[] = readonly Prompt[]> {
  name: string;
  /** Host pattern (DESIGN §4): names, groups, globs, ranges, `a,b`, `a:&b`, `a:!b`. */
  hosts: string;
  /** Run tasks through sudo. */
  become?: boolean;
  becomeUser?: string;
  vars?: Record<string, unknown>;
  prompts?: P;
  roles?: RoleInstance<Shape>[];
  /** Tasks after the roles, written inline; `h.vars` is typed by `prompts`. */
  tasks?: (h: PlayHost<P>) => Promise<void>;
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

export function play<const P extends readonly Prompt[] = []>(opts: PlayOptions<P>): Play {
  return { kind: "play", ...(opts as PlayOptions) };
}

export function playbook(name: string, plays: Play[]): Playbook {
  return { kind: "playbook", name, plays };
}
