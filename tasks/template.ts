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
 * when the output uses one, the diff shows neither the old nor the new
 * content, only that the file changed and its sizes (the old file may hold
 * an old secret that no mask knows).
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
import { readFile } from "node:fs/promises";
import { extname } from "node:path";
import { MASK, Secret } from "../runner/secret.ts";
import { defineTask, LocalInputError, type Plan } from "../runner/task.ts";
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
export class TemplateError extends LocalInputError {
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
 * @example await renderTemplate("nunjucks", "server {{ s }}\n", { s: "a" }, { path: "/t/x.njk", name: "x.njk" }) // "server a\n"
 */
export async function renderTemplate(engine: TemplateEngine, text: string, view: Record<string, unknown>, src: TemplateSource): Promise<string> {
  // Engines load on first use: a play without templates does not pay for them.
  const { render } = engine === "nunjucks" ? await import("./template-nunjucks.ts") : await import("./template-mustache.ts");
  return render(text, view, src);
}

// ---- the task

/**
 * Replaces every Secret in plain objects and arrays (facts and vars are plain
 * data), copying only what holds one: `hostvars` holds every host's vars, so
 * copying it whole for every host's template was quadratic in hosts (713 MB
 * of RSS on 200 hosts whose vars list all 200).
 */
function mapSecrets(value: unknown, fn: (s: Secret) => unknown): unknown {
  if (value instanceof Secret) return fn(value);
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    value.forEach((v, i) => {
      const m = mapSecrets(v, fn);
      if (m !== v) (out ??= value.slice())[i] = m;
    });
    return out ?? value;
  }
  if (value && typeof value === "object") {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return value;
    let out: Record<string, unknown> | undefined;
    for (const [k, v] of Object.entries(value)) {
      const m = mapSecrets(v, fn);
      if (m !== v) (out ??= { ...value })[k] = m;
    }
    return out ?? value;
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
      throw new LocalInputError(`template: local file ${name} not found${name === file ? "" : ` (${file})`}`);
    });
    const view: Record<string, unknown> = { ...ctx.vars, facts: ctx.facts, ...(p.vars as Record<string, unknown> | undefined) };
    let secrets = 0;
    const real = mapSecrets(view, (s) => {
      secrets++;
      return s.reveal();
    }) as Record<string, unknown>;
    const src = { path: file, name };
    const content = await renderTemplate(engine, text, real, src);
    // The output holds a secret when rendering with masks gives other text.
    const usesSecret = secrets > 0 && (await renderTemplate(engine, text, mapSecrets(view, () => MASK) as Record<string, unknown>, src).catch(() => "")) !== content;
    return planFile(ctx, p, Buffer.from(content), usesSecret);
  },
});
