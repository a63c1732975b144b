/**
 * The task library. Each entry becomes a method of the host context: add a
 * task by writing tasks/NAME.ts (a `defineTask` with TSDoc and an example)
 * and listing it here.
 *
 *   await h.copy({ dest: "/etc/motd", content: "hi\n", notify: restart });
 */
import type { TaskOptions } from "../runner/host.ts";
import type { TaskDef, TaskResult } from "../runner/task.ts";
import { copyTask } from "./copy.ts";
import { fileTask } from "./file.ts";

export const TASKS = {
  copy: copyTask,
  file: fileTask,
} as const;

type ParamsOf<D> = D extends TaskDef<infer P> ? P : never;

/** `h.NAME(params & options)` for every task in TASKS. */
export type TaskMethods = {
  [K in keyof typeof TASKS]: (p: ParamsOf<(typeof TASKS)[K]> & TaskOptions) => Promise<TaskResult>;
};

export { commandTask } from "./command.ts";
export { copyTask } from "./copy.ts";
export { fileTask } from "./file.ts";
export type { CommandParams } from "./command.ts";
export type { CopyParams } from "./copy.ts";
export type { FileParams } from "./file.ts";
