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

/** One parameter: its type `T`, and `D` whether it has a default. */
export interface Field<T, D extends boolean = boolean> {
  readonly description: string;
  readonly hasDefault: D;
  readonly isOptional: boolean;
  readonly defaultValue?: T;
  /** Returns the value typed, or throws SchemaError naming the field path. */
  check(value: unknown, path: string): T;
  default(value: T): Field<T, true>;
  optional(): Field<T | undefined, D>;
}

function field<T>(description: string, check: (v: unknown, path: string) => T): Field<T, false> {
  const make = (hasDefault: boolean, isOptional: boolean, defaultValue?: T): Field<T, boolean> => ({
    description,
    hasDefault,
    isOptional,
    defaultValue,
    check,
    default: (v: T) => make(true, isOptional, v) as Field<T, true>,
    optional: () => make(hasDefault, true, defaultValue) as Field<T | undefined, boolean>,
  });
  return make(false, false) as Field<T, false>;
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
export type Shape = Record<string, Field<any, boolean>>;

type ValueOf<F> = F extends Field<infer T, boolean> ? T : never;
type MayOmit<F> = F extends Field<infer T, infer D> ? (D extends true ? true : undefined extends T ? true : false) : false;
type Absent<F> = F extends Field<infer T, infer D> ? (D extends true ? false : undefined extends T ? true : false) : false;

/** The type a role's `run` receives: defaults filled in, optional fields may be absent. */
export type Infer<S extends Shape> = { [K in keyof S as Absent<S[K]> extends true ? never : K]: Exclude<ValueOf<S[K]>, undefined> } & {
  [K in keyof S as Absent<S[K]> extends true ? K : never]?: ValueOf<S[K]>;
};

/** What a caller may pass: fields with a default, and optional ones, may be left out. */
export type Input<S extends Shape> = { [K in keyof S as MayOmit<S[K]> extends true ? never : K]: ValueOf<S[K]> } & {
  [K in keyof S as MayOmit<S[K]> extends true ? K : never]?: ValueOf<S[K]>;
};

export const t = {
  string: () => field<string>("string", (v, p) => (typeof v === "string" ? v : fail(p, "a string", v))),
  number: () => field<number>("number", (v, p) => (typeof v === "number" && Number.isFinite(v) ? v : fail(p, "a number", v))),
  integer: () => field<number>("integer", (v, p) => (Number.isInteger(v) ? (v as number) : fail(p, "an integer", v))),
  boolean: () => field<boolean>("boolean", (v, p) => (typeof v === "boolean" ? v : fail(p, "true or false", v))),
  enum: <const V extends readonly string[]>(values: V) =>
    field<V[number]>(values.join("|"), (v, p) => (values.includes(v as string) ? (v as V[number]) : fail(p, `one of ${values.join(", ")}`, v))),
  array: <T>(item: Field<T>) =>
    field<T[]>(`list of ${item.description}`, (v, p) => (Array.isArray(v) ? v.map((x, i) => item.check(x, `${p}[${i}]`)) : fail(p, `a list of ${item.description}`, v))),
  record: <T>(item: Field<T>) =>
    field<Record<string, T>>(`map of ${item.description}`, (v, p) => {
      if (!v || typeof v !== "object" || Array.isArray(v)) fail(p, `a map of ${item.description}`, v);
      return Object.fromEntries(Object.entries(v as object).map(([k, x]) => [k, item.check(x, `${p}.${k}`)]));
    }),
  object: <S extends Shape>(shape: S) =>
    field<Infer<S>>("map", (v, p) => {
      if (!v || typeof v !== "object" || Array.isArray(v)) fail(p, "a map", v);
      return checkShape(shape, v as Record<string, unknown>, p);
    }),
  /** A secret: a Secret (from a hidden prompt) or a plain string, which is wrapped so it never prints. */
  secret: () => field<Secret>("secret string", (v, p) => (v instanceof Secret ? v : typeof v === "string" ? new Secret(v) : fail(p, "a secret string", v))),
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
