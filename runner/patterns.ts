/**
 * Host patterns, as in a play's `hosts:` and `--limit`.
 *
 * A pattern is a list of terms separated by `,` (or `:` as Ansible writes
 * it); a term prefixed with `&` intersects, one prefixed with `!` excludes:
 * `clusternode:&web:!tnode3`, `clusternode,&web,!tnode3`. As in Ansible,
 * unions are taken first, then intersections, then exclusions, and a pattern
 * that starts with an exclusion starts from `all`.
 *
 * A term is one of
 * - a host or group name (a Rundeck tag is a group); `all` and `*` are every host
 * - a glob: `tnode*`, `web?` (matched against group and host names)
 * - a node range: `tnode[1-3]`, `valkyrie[01-02]` (zero padding kept),
 *   `node[1,4-5]`, Ansible's `node[01:03]`; each name it expands to must match
 *   (brackets are always ranges, never Ansible's `group[0]` subscripts)
 * - a regular expression after `~`, matched from the start of group and host
 *   names as Ansible's `re.match`: `~(web|db)\d+`; wrap a `,` or `:` of the
 *   expression in parentheses or brackets
 * - `@file` (relative to the current directory): the union of the patterns
 *   in a file, one per line, `#` comments
 *
 * A term, or the whole pattern, that matches no host is an error naming it:
 * a typo in `--limit` must not silently run on nothing (or everything).
 */

import { readFileSync } from "node:fs";
import { InputError, type InputLocation } from "./errors.ts";
import { didYouMean } from "./suggest.ts";
import type { Inventory } from "./inventory/types.ts";

/** Options of `resolvePattern`. */
export interface PatternOptions {
  /** The file the pattern was written in (e.g. a playbook), named in error messages. */
  file?: string;
}

/**
 * The hosts a pattern selects, in inventory order.
 *
 * @example resolvePattern(inv, "clusternode:!tnode3") // ["tnode1", "tnode2"]
 */
export function resolvePattern(inv: Inventory, pattern: string, opts: PatternOptions = {}): string[] {
  const selected = evaluate(new Matcher(inv), pattern, { file: opts.file }, true);
  return [...inv.hosts.keys()].filter((h) => selected.has(h));
}

/**
 * A play's hosts narrowed by `--limit` (none: all of them), in the play's
 * order. The limit must match some host in the inventory, but may leave the
 * play with none (the play is then skipped, as in Ansible).
 *
 * @example limitHosts(inv, ["tnode1", "tnode2", "tnode3"], "tnode2") // ["tnode2"]
 */
export function limitHosts(inv: Inventory, hosts: string[], limit: string | undefined, opts: PatternOptions = {}): string[] {
  if (limit === undefined) return hosts;
  const allowed = new Set(resolvePattern(inv, limit, opts));
  return hosts.filter((h) => allowed.has(h));
}

/**
 * The names a node range stands for (clush's and Ansible's syntax); a name
 * without brackets is itself. Several brackets multiply out.
 *
 * @example expandNodeRange("valkyrie[01-02]") // ["valkyrie01", "valkyrie02"]
 * @example expandNodeRange("node[1,4-5]") // ["node1", "node4", "node5"]
 * @example expandNodeRange("web[a:c]") // ["weba", "webb", "webc"]
 */
export function expandNodeRange(s: string, where: InputLocation = {}): string[] {
  try {
    return expand(s);
  } catch (e) {
    if (!(e instanceof RangeSyntaxError)) throw e;
    throw new InputError(`bad node range "${s}": ${e.message}`, where);
  }
}

class RangeSyntaxError extends Error {}

function expand(s: string): string[] {
  const open = s.indexOf("[");
  const close = s.indexOf("]");
  if (open < 0 && close < 0) return [s];
  if (close < 0) throw new RangeSyntaxError(`"[" without "]"`);
  if (open < 0 || close < open) throw new RangeSyntaxError(`"]" without "["`);
  const head = s.slice(0, open);
  const tails = expand(s.slice(close + 1));
  return rangeItems(s.slice(open + 1, close)).flatMap((item) => tails.map((tail) => head + item + tail));
}

/** `1,4-5`, `01-10/2`, `01:10:2`, `a:c`: the strings one bracket stands for. */
function rangeItems(body: string): string[] {
  if (body === "") throw new RangeSyntaxError("empty brackets");
  return body.split(",").flatMap((part) => {
    const m = /^([0-9]+|[a-zA-Z])(?:([-:])([0-9]+|[a-zA-Z])(?:[/:]([0-9]+))?)?$/.exec(part);
    if (!m) throw new RangeSyntaxError(`"${part}" is not N, N-M or N:M`);
    const [, from = "", , to = from, step = "1"] = m;
    if (/\d/.test(from) !== /\d/.test(to)) throw new RangeSyntaxError(`"${part}" mixes a number and a letter`);
    return /\d/.test(from) ? numbers(from, to, Number(step)) : letters(from, to, Number(step));
  });
}

function numbers(from: string, to: string, step: number): string[] {
  const [lo, hi] = [Number(from), Number(to)];
  if (lo > hi) throw new RangeSyntaxError(`${from} is greater than ${to}`);
  if (step < 1) throw new RangeSyntaxError("the step must be at least 1");
  // Zero padding follows the first bound, as clush and Ansible do: 01-10 -> 01 02 ... 10.
  const width = from.startsWith("0") ? from.length : 0;
  const out: string[] = [];
  for (let n = lo; n <= hi; n += step) out.push(String(n).padStart(width, "0"));
  return out;
}

function letters(from: string, to: string, step: number): string[] {
  const [lo, hi] = [from.charCodeAt(0), to.charCodeAt(0)];
  if (lo > hi) throw new RangeSyntaxError(`${from} is after ${to}`);
  if (step < 1) throw new RangeSyntaxError("the step must be at least 1");
  const out: string[] = [];
  for (let c = lo; c <= hi; c += step) out.push(String.fromCharCode(c));
  return out;
}

/** One term of a pattern and how it combines with the others. */
interface Term {
  op: "union" | "intersect" | "exclude";
  text: string;
}

function evaluate(m: Matcher, pattern: string, where: InputLocation, filesAllowed: boolean): Set<string> {
  const terms = splitPattern(pattern);
  if (terms.length === 0) throw new InputError(`empty host pattern ${JSON.stringify(pattern)}`, where);
  if (terms[0]!.op === "exclude") terms.unshift({ op: "union", text: "all" });
  const match = (t: Term) => m.term(t.text, pattern, where, filesAllowed);
  const selected = new Set(terms.filter((t) => t.op === "union").flatMap((t) => [...match(t)]));
  for (const t of terms.filter((t) => t.op === "intersect")) {
    const other = match(t);
    for (const h of selected) if (!other.has(h)) selected.delete(h);
  }
  for (const t of terms.filter((t) => t.op === "exclude")) for (const h of match(t)) selected.delete(h);
  if (selected.size === 0) throw noMatch(pattern, pattern, where);
  return selected;
}

function noMatch(term: string, pattern: string, where: InputLocation, hint = ""): InputError {
  const context = term === pattern ? "" : ` (in "${pattern}")`;
  return new InputError(`pattern "${term}"${context} matches no host in the inventory${hint}`, where);
}

/** Splits on `,` and on `:` outside brackets, parentheses and braces (a regex's or a range's own). */
function splitPattern(pattern: string): Term[] {
  const terms: Term[] = [];
  for (const part of splitTop(pattern, ",")) {
    const pieces = isIPv6(part.trim()) ? [part] : splitTop(part, ":");
    for (const piece of pieces) {
      const text = piece.trim();
      if (text === "") continue;
      if (text.startsWith("&")) terms.push({ op: "intersect", text: text.slice(1).trim() });
      else if (text.startsWith("!")) terms.push({ op: "exclude", text: text.slice(1).trim() });
      else terms.push({ op: "union", text });
    }
  }
  return terms;
}

function splitTop(s: string, sep: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === "\\") i++;
    else if ("[({".includes(c)) depth++;
    else if ("])}".includes(c)) depth = Math.max(0, depth - 1);
    else if (c === sep && depth === 0) {
      parts.push(s.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(s.slice(start));
  return parts;
}

/** An IPv6 address as a host name (`fe80::1`) is one term, not a list of `:`-separated ones. */
function isIPv6(s: string): boolean {
  return /^[0-9a-f:.]+$/i.test(s) && s.split(":").length > 2;
}

/** Matches terms against one inventory; built once per pattern. */
class Matcher {
  private readonly members = new Map<string, Set<string>>();

  constructor(private readonly inv: Inventory) {
    for (const host of inv.hosts.values()) {
      for (const g of host.groups) {
        const set = this.members.get(g) ?? new Set<string>();
        this.members.set(g, set.add(host.name));
      }
    }
  }

  /** The hosts one term matches; matching none is an error. */
  term(text: string, pattern: string, where: InputLocation, filesAllowed: boolean): Set<string> {
    let found: Set<string>;
    if (text.startsWith("@")) {
      if (!filesAllowed) throw new InputError(`"${text}": a pattern file cannot include another`, where);
      found = this.file(text.slice(1), where);
    } else if (text.startsWith("~")) {
      found = this.byRegex(regex(text, where));
    } else if (text.includes("[") || text.includes("]")) {
      found = new Set();
      for (const name of expandNodeRange(text, where)) for (const h of this.term(name, pattern, where, false)) found.add(h);
    } else if (text === "all" || text === "*") {
      found = new Set(this.inv.hosts.keys());
    } else if (/[*?]/.test(text)) {
      found = this.byRegex(glob(text));
    } else {
      found = new Set([...(this.members.get(text) ?? []), ...(this.inv.hosts.has(text) ? [text] : [])]);
      // A name from a node range (tnode[1-4]) is not a typo: no suggestion there.
      const hint = pattern.includes("[") ? "" : didYouMean(text, [...this.inv.hosts.keys(), ...this.members.keys()]);
      if (found.size === 0) throw noMatch(text, pattern, where, hint);
    }
    if (found.size === 0) throw noMatch(text, pattern, where);
    return found;
  }

  private byRegex(re: RegExp): Set<string> {
    const found = new Set<string>();
    for (const [group, hosts] of this.members) if (re.test(group)) for (const h of hosts) found.add(h);
    for (const h of this.inv.hosts.keys()) if (re.test(h)) found.add(h);
    return found;
  }

  /** `@file`: each line is a pattern; errors point at the line. */
  private file(path: string, where: InputLocation): Set<string> {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (e) {
      throw new InputError(`cannot read pattern file "${path}": ${(e as NodeJS.ErrnoException).code ?? String(e)}`, where);
    }
    const found = new Set<string>();
    text.split("\n").forEach((raw, i) => {
      const line = raw.replace(/#.*/, "").trim();
      if (line !== "") for (const h of evaluate(this, line, { file: path, line: i + 1 }, false)) found.add(h);
    });
    return found;
  }
}

function regex(text: string, where: InputLocation): RegExp {
  try {
    // Anchored at the start only, like Python's re.match that Ansible uses.
    return new RegExp(`^(?:${text.slice(1)})`);
  } catch (e) {
    throw new InputError(`pattern "${text}" is not a valid regular expression: ${(e as Error).message}`, where);
  }
}

function glob(text: string): RegExp {
  const body = text.replace(/[.+^${}()|\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${body}$`);
}
