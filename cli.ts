/**
 * The `runbook` program: the public API with the task library installed,
 * the built-in roles as the catalog `runbook describe` reads, and the
 * command line. bin/runbook.js loads this (prebuilt) module.
 */
import "./index.ts";
import { setRoleCatalog } from "./runner/catalog.ts";

setRoleCatalog(() => import("./roles/index.ts"));

export { main } from "./runner/cli/main.ts";
