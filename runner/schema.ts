/**
 * Glue between zod (the schema library role parameters and play prompts are
 * declared with) and runbook: the `secret()` schema type, the plain-style
 * messages naming every bad field at once, and the JSON Schema export.
 *
 * @example
 *   const params = { servers: z.array(z.string()).default(["pool.ntp.org"]).describe("NTP servers") };
 *   type P = Infer<typeof params>; // { servers: string[] }
 */
import { z } from "zod";
import { Secret } from "./secret.ts";

/** A role's parameters: a record of zod schemas, checked as a strict object (unknown keys are typos). */
export type Shape = Record<string, z.ZodType>;
/** The type a role's `run` receives: defaults filled in. */
export type Infer<S extends Shape> = z.output<z.ZodObject<S, z.core.$strict>>;
/** What a caller may pass: fields with a default, and optional ones, may be left out. */
export type Input<S extends Shape> = z.input<z.ZodObject<S, z.core.$strict>>;

/**
 * A secret string. A plain string (inventory, `-e`, a prompt) becomes a
 * Secret here; a Secret stays one. Never the other way: a Secret given where
 * a schema wants a plain string is an error that does not show the value.
 */
export const secretString = () =>
  z
    .union([z.instanceof(Secret), z.string()])
    .transform((v) => (v instanceof Secret ? v : new Secret(v)))
    .meta({ format: "password", writeOnly: true });

const objects = new WeakMap<Shape, z.ZodObject>();
/** The strict object a role's shape is checked as (made once per shape). */
export function objectOf<S extends Shape>(shape: S): z.ZodObject<S, z.core.$strict> {
  let o = objects.get(shape);
  if (!o) objects.set(shape, (o = z.strictObject(shape)));
  return o as z.ZodObject<S, z.core.$strict>;
}

function got(v: unknown): string {
  if (v === null) return "null";
  if (v === undefined) return "nothing";
  if (v instanceof Secret) return "a secret";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "string") return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v)}`;
  if (typeof v === "object") return "a map";
  return `${typeof v} ${String(v)}`;
}

/** The schema at a path, seen through optional/default/transform wrappers. */
function at(schema: z.ZodType, path: PropertyKey[]): z.ZodType | undefined {
  let s: z.ZodType | undefined = schema;
  const unwrap = () => {
    for (;;) {
      const def = (s as { def?: { type: string; innerType?: z.ZodType; in?: z.ZodType } } | undefined)?.def;
      if (def?.innerType) s = def.innerType;
      else if (def?.type === "pipe" && def.in) s = def.in;
      else return;
    }
  };
  unwrap();
  for (const key of path) {
    if (s instanceof z.ZodObject) s = s.shape[String(key)] as z.ZodType | undefined;
    else if (s instanceof z.ZodArray) s = s.element as z.ZodType;
    else if (s instanceof z.ZodRecord) s = s.valueType as z.ZodType;
    else return undefined;
    unwrap();
  }
  return s;
}

const isSecretUnion = (s: unknown) => s instanceof z.ZodUnion && s.options.some((o) => o instanceof z.ZodCustom);

function want(s: z.ZodType | undefined, expected: string): string {
  if (s instanceof z.ZodNumber && s.format?.includes("int")) return "an integer";
  if (s instanceof z.ZodArray) return "a list";
  if (isSecretUnion(s)) return "a secret string";
  const words: Record<string, string> = { string: "a string", number: "a number", int: "an integer", boolean: "true or false", array: "a list", object: "a map", record: "a map" };
  return words[expected] ?? expected;
}

const pathText = (path: PropertyKey[]) => path.map((k, i) => (typeof k === "number" ? `[${k}]` : i ? `.${String(k)}` : String(k))).join("");

/** One problem with an input, in runbook's plain words. */
export interface Problem {
  field: string;
  message: string;
}

/** Every problem zod found, one per field, in the plain style (`expected an integer, got the string "1200"`). */
export function problems(schema: z.ZodType, error: z.ZodError): Problem[] {
  return error.issues.flatMap((i): Problem[] => {
    const input = (i as { input?: unknown }).input;
    switch (i.code) {
      case "unrecognized_keys": {
        const known = Object.keys((at(schema, i.path) as z.ZodObject | undefined)?.shape ?? {}).join(", ");
        return i.keys.map((k) => ({ field: pathText([...i.path, k]), message: `unknown field (known: ${known})` }));
      }
      case "invalid_type":
        return [{ field: pathText(i.path), message: input === undefined ? `missing (${want(at(schema, i.path), i.expected).replace(/^an? /, "")} required)` : `expected ${want(at(schema, i.path), i.expected)}, got ${got(input)}` }];
      case "invalid_union":
        return [{ field: pathText(i.path), message: `expected ${want(at(schema, i.path), "a valid value")}, got ${got(input)}` }];
      case "too_small":
      case "too_big":
        if (i.origin !== "number") return [{ field: pathText(i.path), message: i.message }];
        return [{ field: pathText(i.path), message: `expected ${i.code === "too_small" ? "at least" : "at most"} ${i.code === "too_small" ? i.minimum : i.maximum}, got ${got(input)}` }];
      case "invalid_value":
        return [{ field: pathText(i.path), message: `expected one of ${i.values.join(", ")}, got ${got(input)}` }];
      default:
        return [{ field: pathText(i.path), message: i.message }];
    }
  });
}

/** Checks a value: the typed value, or every problem at once. */
export function check<T extends z.ZodType>(schema: T, value: unknown): { ok: true; value: z.output<T> } | { ok: false; problems: Problem[] } {
  const r = schema.safeParse(value, { reportInput: true });
  return r.success ? { ok: true, value: r.data } : { ok: false, problems: problems(schema, r.error) };
}

/** JSON Schema (draft 2020-12) of what a caller may give, with the declarations' descriptions. */
export function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  return z.toJSONSchema(schema, {
    io: "input",
    unrepresentable: "any",
    // A Secret instance is how a prompt hands a secret over; to a form or a file it is a string.
    override: (ctx) => {
      if (isSecretUnion(ctx.zodSchema)) {
        delete ctx.jsonSchema.anyOf;
        ctx.jsonSchema.type = "string";
      }
    },
  }) as Record<string, unknown>;
}
