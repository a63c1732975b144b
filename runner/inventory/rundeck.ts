/**
 * Rundeck resource YAML: a map of node name to attributes, or a list of
 * attribute maps with `nodename`.
 *
 * ```yaml
 * tnode1:
 *   nodename: tnode1
 *   hostname: tnode1.i131.net      # may be host:port
 *   username: clusteradm
 *   tags: clusternode, storage     # or a list; each tag is a group
 * ```
 *
 * `hostname`, `username`, `ssh-port` and `ssh-keypath` set the connection
 * (see connection.ts); every other attribute (`description`, `osFamily`,
 * `ssh-key-storage-path`...) becomes a host variable of the same name.
 */

import { isMap, isScalar, isSeq, type Node } from "yaml";
import { InputError } from "../errors.ts";
import type { InventoryBuilder } from "./builder.ts";
import { RUNDECK_KEYS } from "./connection.ts";
import { kind, type YamlFile } from "./yaml.ts";

/** Attributes only Rundeck nodes have; one of them tells a Rundeck file from an Ansible one. */
export const RUNDECK_ATTRIBUTES = new Set(["nodename", "hostname", "username", "tags", "description", "osFamily", "osName", "osArch", "osVersion"]);

/**
 * Adds the nodes of a Rundeck resource file.
 *
 * @example loadRundeck(YamlFile.parse("nodes.yaml", text), builder)
 */
export function loadRundeck(y: YamlFile, b: InventoryBuilder): void {
  const root = y.root;
  if (root !== null && isSeq(root)) {
    for (const item of y.items(root)) addNode(y, b, undefined, item, y.at(item).line);
  } else {
    for (const e of y.entries(root, "a Rundeck resource file")) addNode(y, b, e.key, e.value, e.line);
  }
}

function addNode(y: YamlFile, b: InventoryBuilder, key: string | undefined, node: Node | null, line: number | undefined): void {
  const what = key === undefined ? "a node" : `node "${key}"`;
  if (node === null || !isMap(node)) throw new InputError(`${what} must be a map of attributes, got ${kind(node)}`, { file: y.file, line });
  const attrs = y.entries(node, what);
  const nodename = attrs.find((a) => a.key === "nodename");
  const name = nodename ? nodeName(y, nodename.value) : key;
  if (name === undefined) throw new InputError(`${what} has no nodename`, { file: y.file, line });
  b.host(name, { file: y.file, line });
  const block = y.varBlock(node, what, true);
  for (const a of attrs.filter((a) => a.key === "tags")) {
    for (const tag of tags(y, a.value)) b.member(tag, name, { file: y.file, line: a.line });
  }
  delete block.vars.nodename;
  delete block.vars.tags;
  b.hostVars(name, block, RUNDECK_KEYS);
}

function nodeName(y: YamlFile, node: Node | null): string {
  if (isScalar(node) && (typeof node.value === "string" || typeof node.value === "number") && String(node.value) !== "") {
    return String(node.value);
  }
  throw new InputError(`nodename must be a name, got ${kind(node)}`, y.at(node));
}

/** Tags are a comma-separated string (`"a, b"`), as Rundeck writes them, or a list. */
function tags(y: YamlFile, node: Node | null): string[] {
  const value = y.js(node) ?? [];
  const list = typeof value === "string" ? value.split(",") : Array.isArray(value) ? value : null;
  if (list === null || list.some((t) => typeof t !== "string" && typeof t !== "number")) {
    throw new InputError(`tags must be a comma-separated string or a list of names, got ${kind(node)}`, y.at(node));
  }
  return list.map((t) => String(t).trim()).filter((t) => t !== "");
}
