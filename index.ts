/**
 * runbook's public API, what `import ... from "runbook"` gives a playbook,
 * a role or a script: the engine (runner/) with the task library (tasks/)
 * installed on the host context, so `h.copy(...)`, `h.command(...)` work.
 *
 *   import { playbook, play, role, z, shared } from "runbook";
 */
import "./tasks/index.ts";

export * from "./runner/index.ts";
export type { TaskMethods, CommandOptions } from "./tasks/index.ts";
