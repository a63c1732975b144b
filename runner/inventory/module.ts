/**
 * TS (or JS) inventory modules: the default export, or the export named
 * `inventory`, is an `InventorySpec` (see `defineInventory`). The shape is
 * checked again at load time: a JS module, or a TS one that skipped `tsc`,
 * gets the same clear errors as a YAML file (without line numbers).
 */

import { InputError } from "../errors.ts";
import { importModule } from "../modules.ts";
import { expandNodeRange } from "../patterns.ts";
import type { InventoryBuilder } from "./builder.ts";
import type { ConnectionSpec } from "./types.ts";

const CONNECTION_FIELDS = ["address", "port", "user", "key", "become", "becomeUser", "becomePassword", "password", "jump", "local", "sshConfig", "sshOptions"] as const;
const HOST_FIELDS = new Set<string>([...CONNECTION_FIELDS, "groups", "vars"]);
const GROUP_FIELDS = new Set<string>([...CONNECTION_FIELDS, "children", "vars"]);

type Obj = Record<string, unknown>;

/**
 * Imports a TS inventory module and adds its groups and hosts.
 *
 * @example await loadModule("inventory/lab.ts", builder)
 */
export async function loadModule(file: string, b: InventoryBuilder): Promise<void> {
  let mod: Obj;
  try {
    mod = await importModule(file);
  } catch (e) {
    throw new InputError(`cannot load inventory module: ${(e as Error).message}`, { file });
  }
  const spec = mod.default ?? mod.inventory;
  const at = { file };
  const fail = (what: string) => new InputError(what, at);
  if (!isObj(spec)) throw fail(`expected a default export (or an export named "inventory") made with defineInventory()`);
  checkFields(spec, new Set(["hosts", "groups", "vars"]), "the inventory", fail);

  if (spec.vars !== undefined) {
    b.group("all", at);
    b.groupVars("all", { file, vars: asObj(spec.vars, "vars", fail) });
  }
  for (const [name, g] of Object.entries(asObj(spec.groups ?? {}, "groups", fail))) {
    const what = `group "${name}"`;
    const group = asObj(g, what, fail);
    checkFields(group, GROUP_FIELDS, what, fail);
    b.group(name, at);
    for (const child of names(group.children, `${what}: children`, fail)) b.child(name, child, at);
    b.groupVars(name, { file, vars: varsOf(group, what, fail) });
  }
  for (const [key, h] of Object.entries(asObj(spec.hosts ?? {}, "hosts", fail))) {
    const what = `host "${key}"`;
    const host = asObj(h, what, fail);
    checkFields(host, HOST_FIELDS, what, fail);
    const groups = names(host.groups, `${what}: groups`, fail);
    const vars = varsOf(host, what, fail);
    for (const name of expandNodeRange(key, at)) {
      b.host(name, at);
      for (const g of groups) b.member(g, name, at);
      b.hostVars(name, { file, vars });
    }
  }
}

/** `vars` plus the typed connection fields, which win over connection keys in `vars`. */
function varsOf(spec: Obj, what: string, fail: (m: string) => InputError): Obj {
  const conn: ConnectionSpec = {};
  for (const f of CONNECTION_FIELDS) if (spec[f] !== undefined) Object.assign(conn, { [f]: spec[f] });
  return { ...asObj(spec.vars ?? {}, `${what}: vars`, fail), ...conn };
}

function checkFields(o: Obj, allowed: Set<string>, what: string, fail: (m: string) => InputError): void {
  const unknown = Object.keys(o).find((k) => !allowed.has(k));
  if (unknown !== undefined) throw fail(`${what}: unknown field "${unknown}" (expected ${[...allowed].join(", ")})`);
}

function names(v: unknown, what: string, fail: (m: string) => InputError): string[] {
  if (v === undefined) return [];
  if (Array.isArray(v) && v.every((n) => typeof n === "string" && n !== "")) return v as string[];
  throw fail(`${what} must be a list of names`);
}

function asObj(v: unknown, what: string, fail: (m: string) => InputError): Obj {
  if (isObj(v)) return v;
  throw fail(`${what} must be an object`);
}

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
