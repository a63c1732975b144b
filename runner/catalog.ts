/**
 * The roles `runbook describe` (and later `runbook serve`) can list. The
 * engine does not import the role library: the program's entry point
 * (cli.ts) says where it is.
 */
let load: (() => Promise<Record<string, unknown>>) | undefined;

/** Sets the module whose exports are the built-in roles. */
export function setRoleCatalog(loader: () => Promise<Record<string, unknown>>): void {
  load = loader;
}

/** The built-in roles' module exports (empty when no catalog was set). */
export async function roleCatalog(): Promise<Record<string, unknown>> {
  return load ? load() : {};
}
