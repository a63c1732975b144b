/**
 * Loading the user's TypeScript modules (playbooks, TS inventories). The
 * `runbook` command runs prebuilt JavaScript and installs a loader that
 * bundles the module with esbuild (bin/compile.js); without it (runbook's
 * own tests, RUNBOOK_TSX=1) tsx is registered and a plain import does.
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

type Loader = (file: string) => Promise<unknown>;

export async function importModule(file: string): Promise<Record<string, unknown>> {
  const bundled = (globalThis as Record<symbol, Loader | undefined>)[Symbol.for("runbook.importModule")];
  return (await (bundled ? bundled(file) : import(pathToFileURL(resolve(file)).href))) as Record<string, unknown>;
}

/** An error's stack, positions in TypeScript sources (the prebuilt JS maps them back). */
export function errorStack(err: unknown): string {
  if (!(err instanceof Error) || !err.stack) return String(err);
  const map = (globalThis as Record<symbol, ((stack: string) => string) | undefined>)[Symbol.for("runbook.sourceStack")];
  return map ? map(err.stack) : err.stack;
}
