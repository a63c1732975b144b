/**
 * Roles: reusable, typed units of configuration. A role is a function that
 * takes typed parameters and returns a value a play lists; its body is
 * ordinary async TypeScript over a per-host context.
 *
 * @example
 *   export const motd = role({
 *     name: "motd",
 *     params: { text: z.string().default("welcome\n").describe("the message") },
 *     async run(h, p) {
 *       await h.copy({ dest: "/etc/motd", content: p.text });
 *     },
 *   });
 *   // in a play: roles: [motd({ text: "hello\n" })]
 */
import type { Host } from "./host.ts";
import type { z } from "zod";
import { check, jsonSchema, objectOf, type Infer, type Input, type Shape } from "./schema.ts";
import { InputError } from "./errors.ts";

/** What a role's parameters may be computed from, per host, at run start. */
export interface HostInfo {
  name: string;
  vars: Record<string, unknown>;
}

export interface RoleSpec<S extends Shape> {
  /** Also the key under which inventory vars may set this role's params (`ntp: { servers: [...] }`). */
  name: string;
  params: S;
  tags?: string[];
  /**
   * Checks the schema cannot express (an address's syntax, a keyword),
   * run for every host at run start: return or throw a message and nothing
   * runs anywhere. Return `{ field, message }` to name the field.
   */
  validate?(params: Infer<S>): string | { field: string; message: string } | undefined | void;
  run(h: Host, params: Infer<S>): Promise<void>;
}

/** A role with its call-site parameters, as listed in a play. */
export interface RoleInstance<S extends Shape = Shape> {
  readonly kind: "role";
  readonly spec: RoleSpec<S>;
  readonly input: Input<S> | ((host: HostInfo) => Input<S>) | undefined;
  readonly tags: string[];
  /**
   * Run the role only on hosts where this is true (decided at run start,
   * from inventory vars). Elsewhere its parameters are not resolved and the
   * role shows as skipped.
   */
  readonly when?: (host: HostInfo) => boolean;
}

/** Options of a role in a play. */
export interface RoleOptions {
  tags?: string[];
  when?: (host: HostInfo) => boolean;
}

/** A role factory: call it with parameters (or a function of the host) to list it in a play. */
export type Role<S extends Shape> = ((input?: Input<S> | ((host: HostInfo) => Input<S>), opts?: RoleOptions) => RoleInstance<S>) & {
  readonly spec: RoleSpec<S>;
  /** The parameters as one strict zod object (unknown keys are typos). */
  readonly schema: z.ZodObject<S, z.core.$strict>;
};

/** Defines a role. */
export function role<S extends Shape>(spec: RoleSpec<S>): Role<S> {
  const make = (input?: Input<S> | ((host: HostInfo) => Input<S>), opts: RoleOptions = {}): RoleInstance<S> => ({
    kind: "role",
    spec,
    input,
    tags: [...(spec.tags ?? []), ...(opts.tags ?? [])],
    when: opts.when,
  });
  return Object.assign(make, { spec, schema: objectOf(spec.params) });
}

/** A role's parameters as JSON Schema, with their descriptions: what `runbook describe ROLE` prints. */
export function roleJsonSchema(r: Role<Shape>): Record<string, unknown> {
  return { ...jsonSchema(r.schema), title: r.spec.name };
}

/**
 * A role's parameters for one host, by precedence (DESIGN §4): the role's
 * defaults, then `vars[roleName]` from inventory and play vars, then the
 * call's parameters, then `vars[roleName]` from prompts and extra vars.
 * Maps merge key by key (inventory sets `admin.authorizedKeys`, the playbook
 * `admin.passwordHash`); lists and other values replace; `undefined` in a
 * higher layer leaves the lower value alone.
 * Checked against the role's schema; bad values are one InputError with a
 * line per problem, each naming the host, role and field.
 */
export function resolveParams<S extends Shape>(
  inst: RoleInstance<S>,
  host: HostInfo,
  layers: { low: Record<string, unknown>; high: Record<string, unknown> },
): Infer<S> {
  const name = inst.spec.name;
  const fromVars = (vars: Record<string, unknown>, which: string): Record<string, unknown> => {
    const v = vars[name];
    if (v === undefined) return {};
    if (!v || typeof v !== "object" || Array.isArray(v)) {
      throw new InputError(`variable "${name}" (${which}) must be a map of the role's parameters`, { host: host.name, role: name });
    }
    return v as Record<string, unknown>;
  };
  const call = typeof inst.input === "function" ? inst.input(host) : inst.input;
  const merged = deepMerge(deepMerge(fromVars(layers.low, "inventory or play vars"), (call ?? {}) as Record<string, unknown>), fromVars(layers.high, "prompts or extra vars"));
  const where = `host ${host.name}, role ${name}`;
  const r = check(objectOf(inst.spec.params), merged);
  if (!r.ok) throw new InputError(r.problems.map((p) => `${where}, field ${p.field}: ${p.message}`).join("\n"));
  const problem = inst.spec.validate?.(r.value);
  if (problem) {
    throw typeof problem === "string" ? new InputError(problem, { host: host.name, role: name }) : new InputError(problem.message, { host: host.name, role: name, field: problem.field });
  }
  return r.value;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  !!v && typeof v === "object" && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;

/** Merges `over` into `base`: plain objects recursively, everything else replaced. */
export function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    out[k] = isPlainObject(v) && isPlainObject(out[k]) ? deepMerge(out[k] as Record<string, unknown>, v) : v;
  }
  return out;
}
