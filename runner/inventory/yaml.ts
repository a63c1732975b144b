/** YAML (and JSON) inventory files read with line numbers for error messages. */

import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, type Document, type Node, type ScalarTag } from "yaml";
import { InputError, type InputLocation } from "../errors.ts";
import { Secret } from "../secret.ts";
import type { VarBlock } from "./builder.ts";
import { VaultKeys } from "./vault.ts";

/**
 * `!secret`: marks a value sensitive where it enters, in an inventory or an
 * extra vars file (`password: !secret "s3cret"`). It loads as a Secret: masked
 * in all output, kept off command lines.
 */
const secretTag: ScalarTag = {
  tag: "!secret",
  identify: (v) => v instanceof Secret,
  resolve: (text) => new Secret(text),
};

/**
 * `!vault |`: an Ansible Vault value (`ansible-vault encrypt_string`),
 * decrypted as the file is read into a Secret; a value no password opens is
 * an error at its line.
 */
function vaultTag(keys: VaultKeys): ScalarTag {
  return {
    tag: "!vault",
    identify: () => false,
    resolve: (text, onError) => {
      try {
        return new Secret(keys.decrypt(text));
      } catch (e) {
        onError((e as Error).message);
        return null;
      }
    },
  };
}

const NO_KEYS = new VaultKeys([]);

/** One entry of a YAML map. */
export interface Entry {
  key: string;
  /** The value, aliases resolved; null for an empty value. */
  value: Node | null;
  line: number;
}

/** A parsed YAML file that can say where each node is. */
export class YamlFile {
  private constructor(
    readonly file: string,
    private readonly doc: Document.Parsed,
    private readonly lines: LineCounter,
  ) {}

  /**
   * Parses `text`; a syntax error becomes `file:line: message`. `!vault`
   * values are decrypted with `vault`'s passwords.
   *
   * @example YamlFile.parse("hosts.yml", "all:\n  hosts: {}\n").root
   */
  static parse(file: string, text: string, vault: VaultKeys = NO_KEYS): YamlFile {
    const lines = new LineCounter();
    // merge: Ansible users write `<<: *defaults` (YAML 1.1 merge keys, as PyYAML reads them).
    const doc = parseDocument(text, { lineCounter: lines, merge: true, prettyErrors: false, customTags: [secretTag, vaultTag(vault)] });
    const error = doc.errors[0];
    if (error) throw new InputError(error.message, { file, line: lines.linePos(error.pos[0]).line });
    return new YamlFile(file, doc, lines);
  }

  /** The document's top node; null for an empty file. */
  get root(): Node | null {
    return this.resolve(this.doc.contents);
  }

  /** Where `node` starts, for an error message. */
  at(node: Node | null | undefined): InputLocation {
    const start = node?.range?.[0];
    return { file: this.file, line: start === undefined ? undefined : this.lines.linePos(start).line };
  }

  /** The entries of a map node; an empty value is an empty map. Throws if `node` is not a map. */
  entries(node: Node | null, what: string): Entry[] {
    if (node === null || (isScalar(node) && node.value === null)) return [];
    if (!isMap(node)) throw new InputError(`${what} must be a map, got ${kind(node)}`, this.at(node));
    return node.items.map((pair) => {
      const key = pair.key as Node | null;
      if (!isScalar(key)) throw new InputError(`${what} has a key that is not a plain name`, this.at(key ?? node));
      const name = typeof key.value === "symbol" ? "<<" : String(key.value);
      return { key: name, value: this.resolve(pair.value as Node | null), line: this.at(key).line! };
    });
  }

  /** The items of a sequence node. */
  items(node: Node): (Node | null)[] {
    return isSeq(node) ? node.items.map((n) => this.resolve(n as Node | null)) : [];
  }

  /** The plain JS value of a node (merge keys and aliases applied). */
  js(node: Node | null): unknown {
    return node === null ? null : node.toJS(this.doc);
  }

  /** A map node (or an empty value) as variables with the line of each key. */
  varBlock(node: Node | null, what: string, inline: boolean): VarBlock {
    const lines: Record<string, number> = {};
    for (const e of this.entries(node, what)) lines[e.key] = e.line;
    const vars = (this.js(node) ?? {}) as Record<string, unknown>;
    // Keys pulled in by a merge key (<<) have no line of their own: use the map's.
    for (const key of Object.keys(vars)) lines[key] ??= this.at(node).line!;
    return { file: this.file, vars, lines, inline };
  }

  private resolve(node: unknown): Node | null {
    if (node === null || node === undefined) return null;
    return (isAlias(node) ? node.resolve(this.doc) ?? null : node) as Node | null;
  }
}

/** Describes a node's type for an error message: "a map", "a list", "a string"... */
export function kind(node: Node | null): string {
  if (node === null) return "nothing";
  if (isMap(node)) return "a map";
  if (isSeq(node)) return "a list";
  if (isScalar(node)) {
    if (node.value === null) return "nothing";
    if (node.value instanceof Secret) return "a secret";
    return typeof node.value === "string" ? `a string (${JSON.stringify(node.value)})` : `a ${typeof node.value} (${String(node.value)})`;
  }
  return "an unsupported YAML node";
}
