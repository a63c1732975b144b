/**
 * Secrets: values that must never reach output, logs, diffs, history or a
 * remote command line. A run keeps one Redactor; every event is redacted at
 * the source (before any printer or the history sees it), so a new output
 * format cannot leak by forgetting to redact.
 */

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
    if (v.length >= 3) this.#values.add(v);
    // Also the forms a secret takes in JSON and in shell single quotes.
    const json = JSON.stringify(v).slice(1, -1);
    if (json !== v && json.length >= 3) this.#values.add(json);
    const sq = v.replace(/'/g, `'\\''`);
    if (sq !== v) this.#values.add(sq);
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
