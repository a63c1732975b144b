/**
 * Secrets: values that must never reach output, logs, diffs, history or a
 * remote command line. A run keeps one Redactor; every event is redacted at
 * the source (before any printer or the history sees it), so a new output
 * format cannot leak by forgetting to redact.
 *
 * Secrecy travels with the value (a `Secret`); the redactor learns every
 * Secret where it enters the run (prompts, `-e`, `!secret` in YAML, role
 * parameters declared `t.secret()`, `h.secret()` in a role, a task's
 * parameters) and masks its text, whole, before any formatting.
 */
import { createHash } from "node:crypto";
import type { FileDiff } from "./task.ts";

export const MASK = "********";

/** A value marked secret. `String(secret)` and JSON give the mask, never the value. */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  /** The real value: only for stdin of a command or the content of a file. */
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return MASK;
  }
  toJSON(): string {
    return MASK;
  }
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return MASK;
  }
}

/** Marks a value secret. */
export function secret(value: string): Secret {
  return new Secret(value);
}

/** Replaces every known secret in text with the mask. */
export class Redactor {
  readonly #values = new Set<string>();

  /** Remembers a secret; short values are ignored because masking them would garble output. */
  add(value: string | Secret): void {
    const v = value instanceof Secret ? value.reveal() : value;
    if (v.length < 3) return;
    this.#values.add(v);
    // Also the forms a secret takes in JSON and in shell single quotes, and
    // the encodings a command could print it in.
    const json = JSON.stringify(v).slice(1, -1);
    if (json !== v) this.#values.add(json);
    const sq = v.replace(/'/g, `'\\''`);
    if (sq !== v) this.#values.add(sq);
    const bytes = Buffer.from(v);
    for (const form of [bytes.toString("base64"), bytes.toString("hex"), createHash("sha256").update(bytes).digest("hex")]) this.#values.add(form);
    // Each line of a multi-line secret (a keyring): output is often cut to
    // its first line (a failure's reason), which would not hold the whole.
    if (v.includes("\n")) for (const line of v.split("\n")) if (line.trim().length >= 6) this.add(line.trim());
  }

  /**
   * Learns every Secret inside a value (objects and arrays, as role
   * parameters and variables are); answers whether there was one.
   */
  collect(value: unknown, seen = new WeakSet<object>()): boolean {
    if (value instanceof Secret) {
      this.add(value);
      return true;
    }
    if (!value || typeof value !== "object" || Buffer.isBuffer(value) || seen.has(value)) return false;
    seen.add(value);
    let found = false;
    for (const v of Array.isArray(value) ? value : Object.values(value)) if (this.collect(v, seen)) found = true;
    return found;
  }

  get size(): number {
    return this.#values.size;
  }

  redact(text: string): string {
    if (this.#values.size === 0 || text.length === 0) return text;
    let out = text;
    // Longest first, so a secret containing another is masked whole.
    for (const v of [...this.#values].sort((a, b) => b.length - a.length)) {
      if (out.includes(v)) out = out.split(v).join(MASK);
    }
    return out;
  }

  /** Redacts every string inside a JSON-like value (events, results). */
  deep<T>(value: T): T {
    if (this.#values.size === 0) return value;
    return walk(value, (s) => this.redact(s)) as T;
  }
}

function walk(value: unknown, fn: (s: string) => string): unknown {
  if (typeof value === "string") return fn(value);
  if (value instanceof Secret) return MASK;
  if (Array.isArray(value)) return value.map((v) => walk(v, fn));
  if (value && typeof value === "object" && !(value instanceof Buffer)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = walk(v, fn);
    return out;
  }
  return value;
}

/**
 * A file diff that shows no content, only that the file changed and its
 * sizes: for files with secret content, where even the old text may hold
 * an old secret the run never learned.
 *
 * @example concealDiff({ path: "/etc/ceph/keyring", before: "old\n", after: "new\n" }).after // "(secret content hidden: 1 line, 4 bytes)\n"
 */
export function concealDiff(d: FileDiff): FileDiff {
  const size = (which: string, text: string | null) => {
    if (text === null) return null;
    const lines = text === "" ? 0 : text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
    return `(${which} secret content hidden: ${lines} line${lines === 1 ? "" : "s"}, ${Buffer.byteLength(text)} bytes)\n`;
  };
  return { path: d.path, before: size("old", d.before), after: size("new", d.after), secret: true };
}
