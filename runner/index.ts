/**
 * runbook's public API for playbooks and roles:
 *
 *   import { playbook, play, role, t } from "runbook";
 */
export { playbook, play } from "./playbook.ts";
export type { Playbook, Play, PlayOptions, Prompt } from "./playbook.ts";
export { role } from "./role.ts";
export type { Role, RoleSpec, RoleInstance, RoleOptions, HostInfo } from "./role.ts";
export { t } from "./schema.ts";
export type { Field, Infer, Input, Shape } from "./schema.ts";
export { Host, sh } from "./host.ts";
export type { Handler, TaskOptions, CommandOptions } from "./host.ts";
export { secret, Secret } from "./secret.ts";
export { defineTask } from "./task.ts";
export type { TaskDef, TaskResult, TaskStatus, Plan, PlanContext, Change, FileDiff } from "./task.ts";
export type { Facts } from "./facts/index.ts";
export { defineInventory } from "./inventory/index.ts";
export type { Inventory, InventorySpec } from "./inventory/index.ts";
