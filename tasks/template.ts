/**
 * `template`: render a local template and write the result like `copy`
 * (atomically, only when the checksum differs, with attributes, diff,
 * `backup` and `validate`).
 *
 * Engines by file extension: nunjucks (Jinja2-like) for `.njk`, `.j2`,
 * `.jinja`, `.jinja2`; mustache for `.mustache`. Nunjucks runs with
 * Ansible's defaults: no autoescaping, `trim_blocks` on (a newline after a
 * block tag is dropped), `lstrip_blocks` off. `{% include %}` and mustache
 * partials (`{{> name}}` reads `name.mustache`) resolve beside the template.
 *
 * Variables, later ones winning: the host's merged variables (`h.vars`,
 * at the top level as in Ansible), `facts` (`h.facts`), then the task's
 * `vars`. An undefined variable fails the task with the template file and
 * line, e.g. `templates/ntp.conf.njk:3: undefined variable "servres"`.
 * (Nunjucks checks what a template outputs, `{{ x }}`; like nunjucks, an
 * undefined name in `{% if %}` or `{% for %}` is falsy / empty.)
 *
 * A {@link Secret} in the variables renders as its real value in the file;
 * the diff shows `********` in its place (in the old content as well).
 *
 * Parameters:
 * - `src`: the template: a path relative to the playbook's directory, an
 *   absolute path, or a `file:` URL (roles: `new URL("./templates/x.njk", import.meta.url)`).
 * - `dest`: the remote file.
 * - `vars`: variables for this template (highest precedence).
 * - `engine`: `"nunjucks"` or `"mustache"` when the extension does not say.
 * - `mode`, `owner`, `group`, `backup`, `validate`: as for `copy`.
 *
 * @example
 *   await h.template({
 *     src: new URL("./templates/ntp.conf.njk", import.meta.url),
 *     dest: "/etc/ntp.conf",
 *     vars: { servers: p.servers },
 *     mode: "0644",
 *     notify: restartNtpd,
 *   });
 */
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, extname, resolve } from "node:path";
import Mustache from "mustache";
import nunjucks from "nunjucks";
import { MASK, Redactor, Secret } from "../runner/secret.ts";
import { defineTask, type Plan } from "../runner/task.ts";
import { planFile } from "./copy.ts";
import { localName, localPath, type LocalSrc } from "./local.ts";

export type TemplateEngine = "nunjucks" | "mustache";

export interface TemplateParams {
  /** The template file (relative to the playbook's directory, absolute, or a file: URL). */
  src: LocalSrc;
  /** The remote file to write. */
  dest: string;
  /** Variables for this template, over the host's vars and facts. Any object: a role passes its params. */
  vars?: object;
  /** The engine, when the file's extension does not tell. */
  engine?: TemplateEngine;
  mode?: string;
  owner?: string;
  group?: string;
  backup?: boolean;
  /** Validator run on the new file before it replaces the old one; `%s` is its path. */
  validate?: string;
}

const ENGINES: Record<string, TemplateEngine> = {
  ".njk": "nunjucks",
  ".j2": "nunjucks",
  ".jinja": "nunjucks",
  ".jinja2": "nunjucks",
  ".mustache": "mustache",
};

/** The engine for a template file, from its extension. */
export function engineFor(file: string): TemplateEngine {
  const engine = ENGINES[extname(file).toLowerCase()];
  if (!engine) throw new Error(`${file}: unknown template type (use .njk, .j2 or .mustache, or set engine)`);
  return engine;
}

/** A template failed to render: the message names the file and line. */
export class TemplateError extends Error {
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly detail: string,
  ) {
    super(`${file}${line === undefined ? "" : `:${line}`}: ${detail}`);
    this.name = "TemplateError";
  }
}

/** Where a template comes from: its absolute path (includes resolve beside it) and its name in messages. */
export interface TemplateSource {
  path: string;
  name: string;
}

/**
 * Renders template text with a view, strictly: an undefined variable is a
 * {@link TemplateError} naming the file, line and variable.
 *
 * @example renderTemplate("nunjucks", "server {{ s }}\n", { s: "a" }, { path: "/t/x.njk", name: "x.njk" }) // "server a\n"
 */
export function renderTemplate(engine: TemplateEngine, text: string, view: Record<string, unknown>, src: TemplateSource): string {
  return engine === "nunjucks" ? renderNunjucks(text, view, src) : renderMustache(text, view, src);
}

// ---- nunjucks

interface NjNode {
  typename: string;
  fields: string[];
  lineno: number;
  colno: number;
  [field: string]: unknown;
}

const njParser = (nunjucks as unknown as { parser: { parse(src: string, extensions?: unknown[], opts?: object): NjNode } }).parser;

function renderNunjucks(text: string, view: Record<string, unknown>, src: TemplateSource): string {
  const opts = { autoescape: false, throwOnUndefined: true, trimBlocks: true, lstripBlocks: false };
  // A fresh environment per render: nothing is cached across runs.
  const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(dirname(src.path), { noCache: true }), opts);
  try {
    return new nunjucks.Template(text, env, src.path, true).render(view);
  } catch (err) {
    throw nunjucksError(err as Error, text, view, src, opts);
  }
}

/** Turns nunjucks' `(path) [Line 3, Column 5]\n  message` into `name:3: message`, naming an undefined variable. */
function nunjucksError(err: Error, text: string, view: Record<string, unknown>, src: TemplateSource, opts: object): Error {
  // An error in an included template is wrapped once per include level: the last header is where it happened.
  const header = /(?:Template render error: )?\(([^\n]*?)\)(?: \[Line (\d+), Column (\d+)\])?\n\s*/g;
  let m: RegExpExecArray | null = null;
  for (let h = header.exec(err.message); h; h = header.exec(err.message)) m = h;
  if (!m) return new TemplateError(src.name, undefined, err.message);
  const [, where = "", lineStr, colStr] = m;
  const detail = err.message.slice(m.index + m[0].length);
  const inMain = where === src.path || where === "unknown path";
  const file = inMain ? src.name : localName(where, where);
  const line = lineStr === undefined ? undefined : Number(lineStr);
  let message = detail.replace(/^Error: /, "").trim();
  if (line !== undefined && /attempted to output null or undefined value/.test(message)) {
    let source = text;
    if (!inMain) {
      try {
        source = readFileSync(where, "utf8");
      } catch {
        source = "";
      }
    }
    const name = outputName(source, line - 1, Number(colStr) - 1, opts, view);
    message = name ? `undefined variable "${name}"` : "undefined value in output";
  }
  return new TemplateError(file, line, message);
}

/** The variable an output tag `{{ ... }}` at (line, col) (0-based) prints, e.g. `servers` or `ntp.servres`. */
function outputName(source: string, line: number, col: number, opts: object, view: Record<string, unknown>): string | undefined {
  let root: NjNode;
  try {
    root = njParser.parse(source, [], opts);
  } catch {
    return undefined;
  }
  let found: NjNode | undefined;
  const walk = (node: unknown): void => {
    if (found || !node || typeof node !== "object") return;
    const n = node as NjNode;
    if (n.typename === "Output" && n.lineno === line && n.colno === col) {
      found = (n.children as NjNode[] | undefined)?.find((c) => c.typename !== "TemplateData");
      return;
    }
    for (const f of n.fields ?? []) {
      const v = n[f];
      if (Array.isArray(v)) v.forEach(walk);
      else walk(v);
    }
  };
  walk(root);
  const path = found && dotted(found);
  if (!path) return undefined;
  // The first undefined step when the root is a known variable (`ntp.servres`, not `ntp`).
  if (path[0]! in view) {
    let cur: unknown = view;
    for (let i = 0; i < path.length; i++) {
      if (cur === null || cur === undefined || (cur as Record<string, unknown>)[path[i]!] === undefined) return path.slice(0, i + 1).join(".");
      cur = (cur as Record<string, unknown>)[path[i]!];
    }
  }
  return path.join(".");
}

/** `a.b.c` of a Symbol / LookupVal chain, or undefined for other expressions. */
function dotted(node: NjNode): string[] | undefined {
  if (node.typename === "Symbol") return [String(node.value)];
  if (node.typename === "LookupVal") {
    const target = dotted(node.target as NjNode);
    const val = node.val as NjNode;
    if (target && val.typename === "Literal") return [...target, String(val.value)];
  }
  return undefined;
}

// ---- mustache

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
        throw new TemplateError(this.#files.at(-1) ?? this.main, line, `undefined variable "${name}"`);
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

function renderMustache(text: string, view: Record<string, unknown>, src: TemplateSource): string {
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

// ---- the task

/** Replaces every Secret in plain objects and arrays (facts and vars are plain data). */
function mapSecrets(value: unknown, fn: (s: Secret) => unknown): unknown {
  if (value instanceof Secret) return fn(value);
  if (Array.isArray(value)) return value.map((v) => mapSecrets(v, fn));
  if (value && typeof value === "object") {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return value;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = mapSecrets(v, fn);
    return out;
  }
  return value;
}

export const templateTask = defineTask<TemplateParams>({
  kind: "template",
  describe: (p) => `template ${p.dest}`,
  async plan(ctx, p): Promise<Plan> {
    const file = localPath(ctx.baseDir, p.src);
    const name = localName(p.src, file);
    const engine = p.engine ?? engineFor(file);
    const text = await readFile(file, "utf8").catch(() => {
      throw new Error(`template: local file ${name} not found${name === file ? "" : ` (${file})`}`);
    });
    const view: Record<string, unknown> = { ...ctx.vars, facts: ctx.facts, ...(p.vars as Record<string, unknown> | undefined) };
    const secrets = new Redactor();
    const real = mapSecrets(view, (s) => {
      secrets.add(s);
      return s.reveal();
    }) as Record<string, unknown>;
    const src = { path: file, name };
    const content = renderTemplate(engine, text, real, src);
    const plan = await planFile(ctx, p, Buffer.from(content), false);
    if (secrets.size === 0 || !plan.diffs) return plan;
    // Secrets never reach the diff: render again with masks, and mask the old text.
    let masked: string;
    try {
      masked = renderTemplate(engine, text, mapSecrets(view, () => MASK) as Record<string, unknown>, src);
    } catch {
      masked = "(content hidden: the template uses secret values)\n";
    }
    const diffs = plan.diffs.map((d) => ({
      ...d,
      before: d.before === null ? null : secrets.redact(d.before),
      after: d.after === content ? masked : d.after === null ? null : secrets.redact(d.after),
    }));
    return { ...plan, diffs };
  },
});
