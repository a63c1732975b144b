/**
 * A small schema for role parameters: one definition gives the TypeScript
 * type (checked by the compiler in playbooks) and the run-time check of
 * values that come from inventory files, `-e` and prompts (checked at run
 * start, with the host, role and field in the message).
 *
 * @example
 *   const params = { servers: t.array(t.string()).default(["pool.ntp.org"]), stratum: t.integer().optional() };
 *   type P = Infer<typeof params>; // { servers: string[]; stratum?: number }
 */
import { Secret } from "./secret.ts";

export class SchemaError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * One parameter: the type `T` a role receives, `D` whether it has a default,
 * and the type `I` a caller may pass (differs for maps whose fields have
 * defaults, and for secrets, which accept plain strings).
 */
export interface Field<T, D extends boolean = boolean, I = T> {
  readonly description: string;
  readonly hasDefault: D;
  readonly isOptional: boolean;
  readonly defaultValue?: T;
  /** Returns the value typed, or throws SchemaError naming the field path. */
  check(value: unknown, path: string): T;
  default(value: T): Field<T, true, I>;
  optional(): Field<T | undefined, D, I | undefined>;
  /** Phantom: the caller-side type (never set at run time). */
  readonly __input?: I;
}

function field<T, I = T>(description: string, check: (v: unknown, path: string) => T): Field<T, false, I> {
  const make = (hasDefault: boolean, isOptional: boolean, defaultValue?: T): Field<T, boolean, I> => ({
    description,
    hasDefault,
    isOptional,
    defaultValue,
    check,
    default: (v: T) => make(true, isOptional, v) as Field<T, true, I>,
    optional: () => make(hasDefault, true, defaultValue) as unknown as Field<T | undefined, boolean, I | undefined>,
  });
  return make(false, false) as Field<T, false, I>;
}

function got(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "string") return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v)}`;
  if (typeof v === "object") return "a map";
  return `${typeof v} ${String(v)}`;
}

function fail(path: string, want: string, v: unknown): never {
  throw new SchemaError(path, `expected ${want}, got ${got(v)}`);
}

// `any` here only lets every Field<T> fit the record; Infer/Input recover each T.
export type Shape = Record<string, Field<any, boolean, any>>;

type ValueOf<F> = F extends Field<infer T, boolean, any> ? T : never;
type InputOf<F> = F extends Field<any, boolean, infer I> ? I : never;
type MayOmit<F> = F extends Field<infer T, infer D, any> ? (D extends true ? true : undefined extends T ? true : false) : false;
type Absent<F> = F extends Field<infer T, infer D, any> ? (D extends true ? false : undefined extends T ? true : false) : false;

/** The type a role's `run` receives: defaults filled in, optional fields may be absent. */
export type Infer<S extends Shape> = { [K in keyof S as Absent<S[K]> extends true ? never : K]: Exclude<ValueOf<S[K]>, undefined> } & {
  [K in keyof S as Absent<S[K]> extends true ? K : never]?: ValueOf<S[K]>;
};

/** What a caller may pass: fields with a default, and optional ones, may be left out. */
export type Input<S extends Shape> = { [K in keyof S as MayOmit<S[K]> extends true ? never : K]: InputOf<S[K]> } & {
  [K in keyof S as MayOmit<S[K]> extends true ? K : never]?: InputOf<S[K]>;
};

export const t = {
  string: () => field<string>("string", (v, p) => (typeof v === "string" ? v : fail(p, "a string", v))),
  number: () => field<number>("number", (v, p) => (typeof v === "number" && Number.isFinite(v) ? v : fail(p, "a number", v))),
  integer: () => field<number>("integer", (v, p) => (Number.isInteger(v) ? (v as number) : fail(p, "an integer", v))),
  boolean: () => field<boolean>("boolean", (v, p) => (typeof v === "boolean" ? v : fail(p, "true or false", v))),
  /** One of the given strings or numbers: `t.enum(["client", "server"])`, `t.enum([1, 2])`. */
  enum: <const V extends readonly (string | number)[]>(values: V) =>
    field<V[number]>(values.join("|"), (v, p) => (values.includes(v as V[number]) ? (v as V[number]) : fail(p, `one of ${values.join(", ")}`, v))),
  array: <T, I>(item: Field<T, boolean, I>) =>
    field<T[], I[]>(`list of ${item.description}`, (v, p) => (Array.isArray(v) ? v.map((x, i) => item.check(x, `${p}[${i}]`)) : fail(p, `a list of ${item.description}`, v))),
  record: <T, I>(item: Field<T, boolean, I>) =>
    field<Record<string, T>, Record<string, I>>(`map of ${item.description}`, (v, p) => {
      if (!v || typeof v !== "object" || Array.isArray(v)) fail(p, `a map of ${item.description}`, v);
      return Object.fromEntries(Object.entries(v as object).map(([k, x]) => [k, item.check(x, `${p}.${k}`)]));
    }),
  object: <S extends Shape>(shape: S) =>
    field<Infer<S>, Input<S>>("map", (v, p) => {
      if (!v || typeof v !== "object" || Array.isArray(v)) fail(p, "a map", v);
      return checkShape(shape, v as Record<string, unknown>, p);
    }),
  /** A secret: a Secret (from a hidden prompt) or a plain string, which is wrapped so it never prints. */
  secret: () => field<Secret, Secret | string>("secret string", (v, p) => (v instanceof Secret ? v : typeof v === "string" ? new Secret(v) : fail(p, "a secret string", v))),
  /** Any value, unchecked (for pass-through data such as template vars). */
  any: <T = unknown>() => field<T>("any value", (v) => v as T),
};

/** Checks a record against a shape, filling defaults; unknown keys are errors (typos). */
export function checkShape<S extends Shape>(shape: S, value: Record<string, unknown>, path = ""): Infer<S> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    if (!(key in shape)) {
      const known = Object.keys(shape).join(", ");
      throw new SchemaError(join(path, key), `unknown field (known: ${known})`);
    }
  }
  for (const [key, f] of Object.entries(shape)) {
    const v = value[key];
    if (v === undefined) {
      if (f.hasDefault) out[key] = structuredClone(f.defaultValue);
      else if (!f.isOptional) throw new SchemaError(join(path, key), `missing (${f.description} required)`);
      continue;
    }
    out[key] = f.check(v, join(path, key));
  }
  return out as Infer<S>;
}

const join = (path: string, key: string) => (path ? `${path}.${key}` : key);
