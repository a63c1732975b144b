/**
 * The task library. Each entry becomes a method of the host context
 * (installed on import, below): add a task by writing tasks/NAME.ts (a
 * `defineTask` with TSDoc and an example) and listing it here. A task's
 * parameters and the common task options are two arguments, so a parameter
 * can never be taken for an option:
 *
 *   await h.copy({ dest: "/etc/motd", content: "hi\n" }, { notify: restart });
 */
import { Host, installTasks, sh, type TaskOptions } from "../runner/host.ts";
import type { TaskDef, TaskResult } from "../runner/task.ts";
import { commandTask, COMMAND_KEYS, type CommandParams } from "./command.ts";
import { copyTask } from "./copy.ts";
import { fileTask } from "./file.ts";
import { packageTask } from "./package.ts";
import { serviceTask } from "./service.ts";
import { kernelModuleTask } from "./kernelModule.ts";
import { templateTask } from "./template.ts";
import { lineinfileTask } from "./lineinfile.ts";
import { blockinfileTask } from "./blockinfile.ts";
import { replaceTask } from "./replace.ts";
import { fetchTask } from "./fetch.ts";
import { scriptTask } from "./script.ts";
import { userTask } from "./user.ts";
import { groupTask } from "./group.ts";
import { authorizedKeyTask } from "./authorizedKey.ts";
import { sysctlTask } from "./sysctl.ts";
import { mountTask } from "./mount.ts";
import { downloadTask } from "./download.ts";
import { waitForTask } from "./waitFor.ts";
import { rebootTask } from "./reboot.ts";
import { hostnameTask } from "./hostname.ts";
import { hostsFileTask } from "./hostsFile.ts";

export const TASKS = {
  copy: copyTask,
  file: fileTask,
  package: packageTask,
  service: serviceTask,
  kernelModule: kernelModuleTask,
  template: templateTask,
  lineinfile: lineinfileTask,
  blockinfile: blockinfileTask,
  replace: replaceTask,
  fetch: fetchTask,
  script: scriptTask,
  user: userTask,
  group: groupTask,
  authorizedKey: authorizedKeyTask,
  sysctl: sysctlTask,
  mount: mountTask,
  download: downloadTask,
  waitFor: waitForTask,
  reboot: rebootTask,
  hostname: hostnameTask,
  hostsFile: hostsFileTask,
} as const;

type ParamsOf<D> = D extends TaskDef<infer P> ? P : never;

/** `h.NAME(params, options)` for every task in TASKS, plus `h.command` and `h.$`. */
export type TaskMethods = {
  [K in keyof typeof TASKS]: (params: ParamsOf<(typeof TASKS)[K]>, opts?: TaskOptions) => Promise<TaskResult>;
} & {
  /**
   * Runs a shell command line, or an argv quoted word by word. Reports
   * changed; `readOnly: true` for a command that changes nothing (it then
   * runs in check mode too). Its options are the command's own (readOnly,
   * creates, removes, cwd, env, stdin) and the task options: the two sets
   * are disjoint by type (checked below), so one object is unambiguous.
   *
   * @example await h.command("ntpq -pn", { readOnly: true });
   */
  command(cmd: string | string[], opts?: CommandOptions): Promise<TaskResult>;
  /**
   * zx-style command: every interpolation is shell-quoted for POSIX sh,
   * arrays become several quoted words. Reports changed.
   *
   * @example await h.$`mkdir -p ${dir} && touch ${dir}/stamp`
   */
  $(strings: TemplateStringsArray, ...values: unknown[]): Promise<TaskResult>;
};

/** Options of `h.command`: the command's own parameters and the task options. */
export type CommandOptions = Omit<CommandParams, "cmd"> & TaskOptions;

// A command parameter named like a task option would make `h.command`'s
// options ambiguous: this line stops compiling if one is ever added.
const _disjoint: [keyof Omit<CommandParams, "cmd"> & keyof TaskOptions] extends [never] ? true : never = true;
void _disjoint;

declare module "../runner/host.ts" {
  interface Host extends TaskMethods {}
}

installTasks({
  ...TASKS,
  command(this: Host, cmd: string | string[], opts: CommandOptions = {}) {
    const params: Record<string, unknown> = { cmd };
    const options: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(opts)) (k in COMMAND_KEYS ? params : options)[k] = v;
    return this.task(commandTask, params as unknown as CommandParams, options as TaskOptions);
  },
  $(this: Host, strings: TemplateStringsArray, ...values: unknown[]) {
    return this.command(sh(strings, ...values));
  },
});

export { commandTask } from "./command.ts";
export { copyTask } from "./copy.ts";
export { fileTask } from "./file.ts";
export type { CommandParams } from "./command.ts";
export type { CopyParams } from "./copy.ts";
export type { FileParams } from "./file.ts";
export { packageTask } from "./package.ts";
export type { PackageParams, PackageState, PackageBackend } from "./package.ts";
export { serviceTask } from "./service.ts";
export type { ServiceParams, ServiceState, ServiceBackend } from "./service.ts";
export { kernelModuleTask } from "./kernelModule.ts";
export type { KernelModuleParams } from "./kernelModule.ts";
export { templateTask } from "./template.ts";
export type { TemplateParams } from "./template.ts";
export { lineinfileTask } from "./lineinfile.ts";
export type { LineInFileParams } from "./lineinfile.ts";
export { blockinfileTask } from "./blockinfile.ts";
export type { BlockInFileParams } from "./blockinfile.ts";
export { replaceTask } from "./replace.ts";
export type { ReplaceParams } from "./replace.ts";
export { fetchTask } from "./fetch.ts";
export type { FetchParams } from "./fetch.ts";
export { scriptTask } from "./script.ts";
export type { ScriptParams } from "./script.ts";
export { userTask } from "./user.ts";
export type { UserParams } from "./user.ts";
export { groupTask } from "./group.ts";
export type { GroupParams } from "./group.ts";
export { authorizedKeyTask } from "./authorizedKey.ts";
export type { AuthorizedKeyParams } from "./authorizedKey.ts";
export { sysctlTask } from "./sysctl.ts";
export type { SysctlParams } from "./sysctl.ts";
export { mountTask } from "./mount.ts";
export type { MountParams } from "./mount.ts";
export { downloadTask } from "./download.ts";
export type { DownloadParams } from "./download.ts";
export { waitForTask } from "./waitFor.ts";
export type { WaitForParams } from "./waitFor.ts";
export { rebootTask } from "./reboot.ts";
export type { RebootParams } from "./reboot.ts";
export { hostnameTask } from "./hostname.ts";
export type { HostnameParams } from "./hostname.ts";
export { hostsFileTask } from "./hostsFile.ts";
export type { HostsFileParams } from "./hostsFile.ts";
