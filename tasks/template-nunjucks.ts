/** The nunjucks engine of the template task (loaded on first use). */
import { readFileSync } from "node:fs";
import { dirname } from "node:path";
import nunjucks from "nunjucks";
import { didYouMean } from "../runner/suggest.ts";
import { localName } from "./local.ts";
import { TemplateError, type TemplateSource } from "./template.ts";

interface NjNode {
  typename: string;
  fields: string[];
  lineno: number;
  colno: number;
  [field: string]: unknown;
}

const njParser = (nunjucks as unknown as { parser: { parse(src: string, extensions?: unknown[], opts?: object): NjNode } }).parser;

export function render(text: string, view: Record<string, unknown>, src: TemplateSource): string {
  const opts = { autoescape: false, throwOnUndefined: true, trimBlocks: true, lstripBlocks: false };
  // A fresh environment per render: nothing is cached across runs.
  const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(dirname(src.path), { noCache: true }), opts);
  try {
    return new nunjucks.Template(text, env, src.path, true).render(view);
  } catch (err) {
    throw nunjucksError(err as Error, text, view, src, opts, Object.keys((env as unknown as { filters: object }).filters));
  }
}

/** Turns nunjucks' `(path) [Line 3, Column 5]\n  message` into `name:3: message`, naming an undefined variable. */
function nunjucksError(err: Error, text: string, view: Record<string, unknown>, src: TemplateSource, opts: object, filters: string[]): Error {
  // An unknown filter fails at compile time, where nunjucks gives no line: find it in the template.
  const filter = /filter not found: (\S+)/.exec(err.message)?.[1];
  if (filter) return new TemplateError(src.name, filterLine(text, filter, opts), `filter not found: ${filter}${didYouMean(filter, filters)}`);
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
    message = name ? `undefined variable "${name}"${didYouMean(name.split(".").pop()!, siblings(view, name))}` : "undefined value in output";
  }
  return new TemplateError(file, line, message);
}

/** Names beside the last step of `a.b.c` (the keys of `a.b`), for "did you mean". */
function siblings(view: Record<string, unknown>, dottedName: string): string[] {
  let cur: unknown = view;
  for (const step of dottedName.split(".").slice(0, -1)) cur = cur && typeof cur === "object" ? (cur as Record<string, unknown>)[step] : undefined;
  return cur && typeof cur === "object" ? Object.keys(cur) : [];
}

/** The 1-based line of the first use of filter `name`, or undefined. */
function filterLine(source: string, name: string, opts: object): number | undefined {
  const node = findNode(source, opts, (n) => (n.typename === "Filter" || n.typename === "FilterAsync") && (n.name as NjNode | undefined)?.value === name);
  return node && node.lineno + 1;
}

/** The first node of a template's parse tree (depth first) that `pred` accepts; undefined when none does or it does not parse. */
function findNode(source: string, opts: object, pred: (n: NjNode) => boolean): NjNode | undefined {
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
    if (pred(n)) {
      found = n;
      return;
    }
    for (const f of n.fields ?? []) {
      const v = n[f];
      if (Array.isArray(v)) v.forEach(walk);
      else walk(v);
    }
  };
  walk(root);
  return found;
}

/** The variable an output tag `{{ ... }}` at (line, col) (0-based) prints, e.g. `servers` or `ntp.servres`. */
function outputName(source: string, line: number, col: number, opts: object, view: Record<string, unknown>): string | undefined {
  const output = findNode(source, opts, (n) => n.typename === "Output" && n.lineno === line && n.colno === col);
  const found = (output?.children as NjNode[] | undefined)?.find((c) => c.typename !== "TemplateData");
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
