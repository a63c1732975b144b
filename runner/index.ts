/**
 * runbook's public API for playbooks and roles:
 *
 *   import { playbook, play, role, z, secretString } from "runbook";
 *
 * ("runbook" itself is ../index.ts: this module plus the task library,
 * which installs its methods on Host. The engine never imports tasks/.)
 *
 * `z` is zod itself (re-exported so a lab repository and runbook share one
 * copy): role parameters and prompts are zod schemas.
 */
export { playbook, play } from "./playbook.ts";
export type { Playbook, Play, PlayOptions, Prompt } from "./playbook.ts";
export { role, roleJsonSchema } from "./role.ts";
export type { Role, RoleSpec, RoleInstance, RoleOptions, HostInfo } from "./role.ts";
export { z } from "zod";
export { secretString, jsonSchema } from "./schema.ts";
export type { Infer, Input, Shape } from "./schema.ts";
export { Host, sh } from "./host.ts";
export type { Handler, TaskOptions, PlayInfo, WaitOptions, Peer } from "./host.ts";
export { shared } from "./shared.ts";
export type { Shared, SharedOptions } from "./shared.ts";
export type { SharedSpec } from "./coordinator.ts";
export { isKnown } from "./unknown.ts";
export { secret, Secret } from "./secret.ts";
export { defineTask } from "./task.ts";
export type { TaskDef, TaskResult, TaskStatus, Plan, PlanContext, Change, FileDiff } from "./task.ts";
export type { Facts } from "./facts/index.ts";
export { defineInventory } from "./inventory/index.ts";
export type { Inventory, InventorySpec } from "./inventory/index.ts";
export { startRun, loadRun } from "./run.ts";
export type { Run, RunOptions, RunTarget, LoadedRun } from "./run.ts";
export type { RunEvent, StampedEvent, EventSink } from "./events.ts";
