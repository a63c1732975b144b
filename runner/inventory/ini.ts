/**
 * Ansible's INI inventory.
 *
 * ```ini
 * localhost ansible_connection=local   # before any section: a member of all
 * [clusternode]
 * tnode[1:3] ansible_user=clusteradm
 * web1:2222 motd="hello world"
 * [clusternode:vars]
 * ntp_server=1.pool.ntp.org
 * [cluster:children]
 * clusternode
 * ```
 *
 * Values are read the same way on host lines and in `[group:vars]` (Ansible
 * keeps the latter as strings; one rule is easier to predict): a quoted value
 * is a string, an integer or decimal without leading zeros is a number,
 * `true`/`false` (any case) is a boolean, anything else is a string.
 */

import { InputError, type InputLocation } from "../errors.ts";
import { expandNodeRange } from "../patterns.ts";
import type { InventoryBuilder } from "./builder.ts";
import type { SourceRef } from "./types.ts";
import { splitWords, type Word } from "./words.ts";

type SectionKind = "hosts" | "vars" | "children";

interface Section {
  group: string;
  kind: SectionKind;
}

const HEADER = /^\[([^\]:\s]*)(?::([^\]\s]*))?\]\s*(?:[#;].*)?$/;

/**
 * Adds the groups and hosts of an INI inventory.
 *
 * @example loadIni("inventory/hosts", "[web]\nweb[1:3]\n", builder)
 */
export function loadIni(file: string, text: string, b: InventoryBuilder): void {
  let section: Section = { group: "all", kind: "hosts" };
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    const where = { file, line: i + 1 };
    if (line === "" || line.startsWith("#") || line.startsWith(";")) return;
    if (line.startsWith("[")) {
      section = header(line, where);
      b.group(section.group, where);
    } else if (section.kind === "hosts") {
      hostLine(line, section.group, where, b);
    } else if (section.kind === "vars") {
      const [key, value] = assignment(line, section.group, where);
      b.groupVars(section.group, { file, vars: { [key]: value }, lines: { [key]: i + 1 }, inline: true });
    } else {
      const words = splitWords(line, where, { comments: true });
      if (words.length !== 1) throw new InputError(`expected one group name per line in [${section.group}:children], got "${line}"`, where);
      b.child(section.group, words[0]!.text, where);
    }
  });
}

function header(line: string, where: InputLocation): Section {
  const m = HEADER.exec(line);
  if (!m || m[1] === "") throw new InputError(`bad section header "${line}" (expected [group], [group:vars] or [group:children])`, where);
  const [, group = "", suffix] = m;
  if (suffix === undefined) return { group, kind: "hosts" };
  if (suffix === "vars" || suffix === "children") return { group, kind: suffix };
  throw new InputError(`unknown section type ":${suffix}" in "${line}" (expected [group], [group:vars] or [group:children])`, where);
}

/** `name[:port] [key=value ...]`; the name may be a range. */
function hostLine(line: string, group: string, where: Required<SourceRef>, b: InventoryBuilder): void {
  const [first, ...rest] = splitWords(line, where, { comments: true });
  if (!first) return;
  const { name, port } = hostAndPort(first.text, where);
  const vars: Record<string, unknown> = port === undefined ? {} : { ansible_port: port };
  for (const word of rest) {
    const eq = word.text.indexOf("=");
    if (eq < 1) throw new InputError(`expected key=value after the host name, got "${word.text}"`, where);
    vars[word.text.slice(0, eq)] = typed({ text: word.text.slice(eq + 1), quoted: word.quoted });
  }
  const lines = Object.fromEntries(Object.keys(vars).map((k) => [k, where.line]));
  for (const host of expandNodeRange(name, where)) {
    b.member(group, host, where);
    b.hostVars(host, { file: where.file, vars, lines, inline: true });
  }
}

/** `web1:2222`; a range's own colons (`web[1:3]`) and IPv6 addresses are not ports. */
function hostAndPort(text: string, where: InputLocation): { name: string; port?: number } {
  const outside = text.replace(/\[[^\]]*\]/g, (m) => "_".repeat(m.length));
  const colon = outside.indexOf(":");
  if (colon < 0 || outside.indexOf(":", colon + 1) >= 0) return { name: text };
  const port = text.slice(colon + 1);
  if (!/^\d+$/.test(port)) throw new InputError(`port in "${text}" is not a number`, where);
  return { name: text.slice(0, colon), port: Number(port) };
}

/** `key=value` in a `[group:vars]` section; the value is the rest of the line. */
function assignment(line: string, group: string, where: InputLocation): [string, unknown] {
  const eq = line.indexOf("=");
  if (eq < 1) throw new InputError(`expected key=value in [${group}:vars], got "${line}"`, where);
  const raw = line.slice(eq + 1).trim();
  const words = /^(["']).*\1$/.test(raw) ? splitWords(raw, where) : [];
  const value = words.length === 1 ? words[0]! : { text: raw, quoted: false };
  return [line.slice(0, eq).trim(), typed(value)];
}

function typed(w: Word): unknown {
  if (w.quoted) return w.text;
  if (/^-?(0|[1-9]\d*)(\.\d+)?$/.test(w.text)) return Number(w.text);
  if (/^(true|false)$/i.test(w.text)) return w.text.toLowerCase() === "true";
  return w.text;
}
