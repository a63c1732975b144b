/**
 * Values unknown until apply (Pulumi's `isKnown` during a preview): in check
 * mode a cross-host value that does not exist yet (a join token, an fsid
 * on fresh hosts) is a placeholder that says so. Tasks that use it are
 * predicted with the placeholder in their name and diff, and a plan that
 * fails on it is `unknown`, never `failed` and never `undefined`.
 */
import { Secret } from "./secret.ts";

const PREFIX = "(known after apply";

/** The placeholder text for a value named `name`. */
export function unknownText(name: string): string {
  return `${PREFIX}: ${name})`;
}

const unknownObjects = new WeakSet<object>();

/** Marks an object placeholder (a typed cross-host value that is not a string). */
export function markUnknown<T extends object>(value: T): T {
  unknownObjects.add(value);
  return value;
}

/** False for check mode's placeholder of a value not made yet (strings, Secrets, marked objects). */
export function isKnown(value: unknown): boolean {
  if (typeof value === "string") return !value.startsWith(PREFIX);
  if (value instanceof Secret) return !value.reveal().startsWith(PREFIX);
  if (value && typeof value === "object") return !unknownObjects.has(value);
  return true;
}

/** The placeholders a task's parameters hold (as text), for its result line. */
export function unknownsIn(value: unknown, seen = new WeakSet<object>()): string[] {
  if (typeof value === "string") return value.includes(PREFIX) ? [...value.matchAll(/\(known after apply: ([^)]*)\)/g)].map((m) => m[1]!) : [];
  if (value instanceof Secret) return unknownsIn(value.reveal(), seen);
  if (!value || typeof value !== "object" || seen.has(value)) return [];
  seen.add(value);
  if (unknownObjects.has(value)) return ["a value"];
  const found = (Array.isArray(value) ? value : Object.values(value)).flatMap((v) => unknownsIn(v, seen));
  return [...new Set(found)];
}
