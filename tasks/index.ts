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
