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

interface PromptBase {
  /** Variable name; also settable with `-e NAME=...` or env `RUNBOOK_VAR_NAME`. */
  name: string;
  /** The question; also the description in the JSON Schema (`runbook describe`, job options). */
  message: string;
}

/** A text answer: free text, one of `choices`, or hidden when `secret`. */
export interface TextPrompt extends PromptBase {
  type?: "text";
  /** Hidden answer; the play's tasks see a `Secret`. */
  secret?: boolean;
  /** Ask twice and require both answers to match. */
  confirm?: boolean;
  default?: string;
  /** The answer must be one of these (asked as a choice); its type is their union. */
  choices?: readonly [string, ...string[]];
  min?: never;
  max?: never;
  integer?: never;
}

/** A yes/no answer; the play's tasks see a boolean (`-e NAME=true|false|yes|no|1|0`). */
export interface BooleanPrompt extends PromptBase {
  type: "boolean";
  default?: boolean;
  secret?: never;
  confirm?: never;
  choices?: never;
}

/** A number answer, within `min`..`max` when given; `integer` refuses fractions. */
export interface NumberPrompt extends PromptBase {
  type: "number";
  default?: number;
  min?: number;
  max?: number;
  integer?: boolean;
  secret?: never;
  confirm?: never;
  choices?: never;
}

/** A value asked once before any host is touched: text (hidden when secret, or a choice), a boolean or a number. */
export type Prompt = TextPrompt | BooleanPrompt | NumberPrompt;

/** What a prompt's answer is in `h.vars`: a Secret, a boolean, a number, one of the choices, or a string. */
type PromptValue<P extends Prompt> = P extends { secret: true }
  ? Secret
  : P extends { type: "boolean" }
    ? boolean
    : P extends { type: "number" }
      ? number
      : P extends { choices: readonly (infer C)[] }
        ? C
        : string;
/** `h.vars` as a play's prompts type it: each prompt's answer by name, plus the (untyped) inventory and play vars. */
export type PromptVars<P extends readonly Prompt[]> = {
  readonly [Q in P[number] as string extends Q["name"] ? never : Q["name"]]: PromptValue<Q>;
} & { readonly [name: string]: unknown };
/** The host context of a play's inline `tasks`, with `vars` typed by its prompts. */
export type PlayHost<P extends readonly Prompt[]> = Omit<Host, "vars"> & { readonly vars: PromptVars<P> };

/** One prompt's answer as a zod schema (its default not applied). */
function answerSchema(p: Prompt): z.ZodType {
  if (p.type === "boolean") return z.boolean();
  if (p.type === "number") {
    let n = p.integer ? z.int() : z.number();
    if (p.min !== undefined) n = n.min(p.min);
    if (p.max !== undefined) n = n.max(p.max);
    return n;
  }
  return p.secret ? secretString() : p.choices ? z.enum(p.choices) : z.string();
}

/** The zod schema of prompt answers: what `-e`, `RUNBOOK_VAR_*`, a form and the terminal give is checked against it (after `typedAnswer`). */
export function promptSchema(prompts: readonly Prompt[]) {
  const shape: Shape = {};
  for (const p of prompts) {
    const base = answerSchema(p);
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
