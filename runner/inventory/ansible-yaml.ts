/**
 * Ansible's YAML inventory: groups nest under `all` (or sit at the top) with
 * `hosts`, `children` and `vars`; host names may be ranges (`node[01:03]`).
 *
 * ```yaml
 * all:
 *   vars: { ntp_server: 1.pool.ntp.org }
 *   children:
 *     clusternode:
 *       hosts:
 *         tnode[1:3]:
 *           ansible_user: clusteradm
 * ```
 */

import type { Node } from "yaml";
import { InputError } from "../errors.ts";
import { expandNodeRange } from "../patterns.ts";
import type { InventoryBuilder } from "./builder.ts";
import type { YamlFile } from "./yaml.ts";

/** Keys of an Ansible group; one of them (or a top-level `all`) tells an Ansible file from a Rundeck one. */
export const GROUP_KEYS = new Set(["hosts", "children", "vars"]);

/**
 * Adds the groups and hosts of an Ansible YAML inventory.
 *
 * @example loadAnsibleYaml(YamlFile.parse("hosts.yml", text), builder)
 */
export function loadAnsibleYaml(y: YamlFile, b: InventoryBuilder): void {
  for (const e of y.entries(y.root, "an Ansible inventory")) addGroup(y, b, e.key, e.value, e.line);
}

function addGroup(y: YamlFile, b: InventoryBuilder, name: string, node: Node | null, line: number): void {
  b.group(name, { file: y.file, line });
  for (const e of y.entries(node, `group "${name}"`)) {
    if (e.key === "hosts") {
      for (const h of y.entries(e.value, `hosts of group "${name}"`)) addHosts(y, b, name, h.key, h.value, h.line);
    } else if (e.key === "children") {
      for (const c of y.entries(e.value, `children of group "${name}"`)) {
        b.child(name, c.key, { file: y.file, line: c.line });
        addGroup(y, b, c.key, c.value, c.line);
      }
    } else if (e.key === "vars") {
      b.groupVars(name, y.varBlock(e.value, `vars of group "${name}"`, true));
    } else {
      throw new InputError(`group "${name}" has an unknown key "${e.key}" (expected hosts, children or vars)`, { file: y.file, line: e.line });
    }
  }
}

function addHosts(y: YamlFile, b: InventoryBuilder, group: string, key: string, node: Node | null, line: number): void {
  const where = { file: y.file, line };
  const block = y.varBlock(node, `host "${key}"`, true);
  for (const name of expandNodeRange(key, where)) {
    b.member(group, name, where);
    b.hostVars(name, block);
  }
}
