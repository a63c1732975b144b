/** The mustache engine of the template task (loaded on first use). */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import Mustache from "mustache";
import { didYouMean } from "../runner/suggest.ts";
import { TemplateError, type TemplateSource } from "./template.ts";

type Token = string[];

/**
 * A mustache writer that refuses names the view does not define, where
 * they are rendered (so a name inside a section is looked up in the
 * section's context, as mustache itself does).
 */
class StrictWriter extends Mustache.Writer {
  readonly #files: string[] = [];
  constructor(readonly main: string) {
    super();
  }

  override renderTokens(tokens: Token[], context: Mustache.Context, partials?: Mustache.PartialsOrLookupFn, originalTemplate?: string, config?: Mustache.RenderOptions): string {
    for (const t of tokens) {
      const [type, name = ""] = t;
      if ((type === "name" || type === "&" || type === "#" || type === "^") && !defined(context, name)) {
        const at = Number(t[2]);
        const line = originalTemplate === undefined ? undefined : originalTemplate.slice(0, at).split("\n").length;
        throw new TemplateError(this.#files.at(-1) ?? this.main, line, `undefined variable "${name}"${didYouMean(name.split(".").pop()!, namesNear(context, name))}`);
      }
    }
    return super.renderTokens(tokens, context, partials, originalTemplate, config);
  }

  override renderPartial(token: Token, context: Mustache.Context, partials?: Mustache.PartialsOrLookupFn, config?: Mustache.OpeningAndClosingTags | Mustache.RenderOptions): string {
    this.#files.push(`${token[1]}.mustache`);
    try {
      return super.renderPartial(token, context, partials, config);
    } finally {
      this.#files.pop();
    }
  }
}

/** The names a typo of `name` could have meant: beside its last step, in every context of the stack. */
function namesNear(context: Mustache.Context, name: string): string[] {
  const out: string[] = [];
  for (let c: Mustache.Context | undefined = context; c; c = c.parent) {
    let cur: unknown = c.view;
    for (const step of name.split(".").slice(0, -1)) cur = cur && typeof cur === "object" ? (cur as Record<string, unknown>)[step] : undefined;
    if (cur && typeof cur === "object") out.push(...Object.keys(cur));
  }
  return out;
}

/** Whether mustache would find `name` (dotted or not) in the context stack with a value other than undefined. */
function defined(context: Mustache.Context, name: string): boolean {
  if (name === ".") return true;
  const has = (obj: unknown, key: string) =>
    obj !== null && obj !== undefined && (typeof obj === "object" ? key in (obj as object) : Object.prototype.hasOwnProperty.call(obj, key));
  for (let c: Mustache.Context | undefined = context; c; c = c.parent) {
    if (name.indexOf(".") > 0) {
      let cur: unknown = c.view;
      const names = name.split(".");
      let hit = false;
      for (let i = 0; cur !== null && cur !== undefined && i < names.length; i++) {
        if (i === names.length - 1) hit = has(cur, names[i]!);
        cur = (cur as Record<string, unknown>)[names[i]!];
      }
      if (hit) return cur !== undefined;
    } else if (c.view !== null && typeof c.view === "object" && name in c.view) {
      return (c.view as Record<string, unknown>)[name] !== undefined;
    }
  }
  return false;
}

export function render(text: string, view: Record<string, unknown>, src: TemplateSource): string {
  const dir = dirname(src.path);
  const partial = (name: string): string => {
    const file = resolve(dir, `${name}.mustache`);
    try {
      return readFileSync(file, "utf8");
    } catch {
      throw new TemplateError(src.name, undefined, `partial "${name}" not found (${file})`);
    }
  };
  try {
    return new StrictWriter(src.name).render(text, view, partial, { escape: (v: unknown) => String(v) });
  } catch (err) {
    if (err instanceof TemplateError) throw err;
    // Parse errors: "Unclosed section "x" at 12" (a character offset).
    const msg = (err as Error).message;
    const at = /\bat (\d+)$/.exec(msg);
    let offset = at ? Number(at[1]) : undefined;
    // An unclosed section is reported at the end of the text: point at its opening tag instead.
    const unclosed = /^Unclosed section "(.*)"/.exec(msg);
    if (unclosed && offset !== undefined) {
      const name = unclosed[1]!.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      const opens = [...text.slice(0, offset).matchAll(new RegExp(`\\{\\{\\s*[#^]\\s*${name}\\s*\\}\\}`, "g"))];
      offset = opens.at(-1)?.index ?? offset;
    }
    const line = offset === undefined ? undefined : text.slice(0, offset).split("\n").length;
    throw new TemplateError(src.name, line, at ? msg.slice(0, at.index).trimEnd() : msg);
  }
}
