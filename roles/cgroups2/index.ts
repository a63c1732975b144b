/**
 * `cgroups2`: configure which control-group hierarchy the host boots with
 * (v2, the unified hierarchy Incus, LXC and systemd want; or v1), and say
 * when the running one differs and a reboot is needed. The role never
 * reboots unless `reboot: true`.
 *
 * Where the setting lives:
 * - **Slackware**: `CGROUPS_VERSION=N` in /etc/default/cgroups (read by
 *   rc.S at boot; reference 001). The file is created if missing.
 * - **systemd** hosts: `systemd.unified_cgroup_hierarchy=1` (v2) or `=0`
 *   (v1) on the kernel command line: in /etc/default/grub
 *   `GRUB_CMDLINE_LINUX` (then `update-grub`, or `grub2-mkconfig` where
 *   that is missing), or on a Raspberry Pi in cmdline.txt.
 * - **systemd in a container** (`facts.container`: LXC, Incus, nspawn, the
 *   test lab): nothing to configure. A container boots with no kernel
 *   command line of its own; systemd uses the hierarchy its manager gives
 *   it. The role reports the running one, and warns (never reboots) when
 *   it is not `version`: only the container's manager can change it.
 * - Other hosts (Debian with sysvinit, containers): /etc/fstab mounts the
 *   unified hierarchy at boot,
 *   `cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime 0 0`
 *   (v2); for v1 that line is removed (v1 hierarchies are then mounted by
 *   whatever does it there, e.g. Debian's cgroupfs-mount).
 *
 * The running hierarchy is a fact (`h.facts.cgroup.version`). When it is
 * not the configured one, the role's "running hierarchy" task reports
 * `reboot needed: ...` as its reason (status ok: the configuration is
 * already right, the host only has to boot with it, so a second run
 * reports 0 changed), and the message is logged for the host. With
 * `reboot: true` the host is rebooted (after pending handlers such as
 * update-grub have run) and the runner waits for it to come back.
 *
 * @example
 *   cgroups2()                       // v2 at next boot; tells you when a reboot is needed
 *   cgroups2({ reboot: true })       // and reboots when the running hierarchy differs
 */
import type { CgroupFacts, Facts } from "../../runner/facts/types.ts";
import { z } from "zod";
import { defineTask, role, type Host, type Infer } from "../../runner/index.ts";
import { joinLines, planTextEdit, splitLines, type EditResult } from "../../tasks/textfile.ts";

const params = {
  version: z.literal([1, 2]).default(2).describe("The hierarchy to boot with: 2 (unified) or 1 (legacy). Reference 001: 2."),
  reboot: z.boolean().default(false).describe("Reboot when the running hierarchy differs from `version` (default: only report it)."),
};

/** The cgroups2 role's parameters, as `run` receives them. */
export type Cgroups2Params = Infer<typeof params>;

/** Where a host's boot-time cgroup setting lives. */
export type CgroupSwitch =
  | { kind: "slackware"; file: "/etc/default/cgroups" }
  | { kind: "grub"; file: "/etc/default/grub" }
  | { kind: "rpi-cmdline"; file: string }
  | { kind: "container"; manager: string }
  | { kind: "fstab"; file: "/etc/fstab" };

/**
 * Where the setting lives on a host with these facts (see the module doc).
 * Pure, for unit tests.
 *
 * @example cgroupSwitch({ os: { family: "slackware" }, initSystem: "slackware-bsd" }).kind // "slackware"
 */
export function cgroupSwitch(facts: Pick<Facts, "os" | "initSystem"> & Partial<Pick<Facts, "container">>): CgroupSwitch {
  if (facts.os.family === "slackware") return { kind: "slackware", file: "/etc/default/cgroups" };
  if (facts.initSystem === "systemd") {
    if (facts.container) return { kind: "container", manager: facts.container };
    if (facts.os.id !== "raspbian") return { kind: "grub", file: "/etc/default/grub" };
    // Raspberry Pi OS moved the firmware partition to /boot/firmware in bookworm (12).
    return { kind: "rpi-cmdline", file: Number(facts.os.versionId) >= 12 ? "/boot/firmware/cmdline.txt" : "/boot/cmdline.txt" };
  }
  return { kind: "fstab", file: "/etc/fstab" };
}

/** Whether a running hierarchy is the wanted one (a hybrid host runs v1 controllers, so it counts as v1). */
export function hierarchyMatches(running: CgroupFacts["version"], wanted: 1 | 2): boolean {
  return wanted === 2 ? running === 2 : running === 1 || running === "hybrid";
}

const showRunning = (v: CgroupFacts["version"]) => (v === null ? "no cgroup hierarchy" : v === "hybrid" ? "hybrid cgroups (v1 controllers + v2)" : `cgroup v${v}`);

/**
 * The kernel command line `cmdline` with `key=value` set: an existing
 * `key=...` word is replaced in place, else the word is appended.
 *
 * @example withKernelArg("quiet splash", "systemd.unified_cgroup_hierarchy", "1") // "quiet splash systemd.unified_cgroup_hierarchy=1"
 */
export function withKernelArg(cmdline: string, key: string, value: string): string {
  const words = cmdline.split(/\s+/).filter(Boolean);
  const word = `${key}=${value}`;
  const isKey = (w: string) => w === key || w.startsWith(`${key}=`);
  if (!words.some(isKey)) return [...words, word].join(" ");
  // Set in place of the first occurrence; later duplicates go.
  let done = false;
  return words.flatMap((w) => (!isKey(w) ? [w] : done ? [] : ((done = true), [word]))).join(" ");
}

/**
 * Sets `key=value` on a kernel command line kept in a text file, pure:
 * in /etc/default/grub the `GRUB_CMDLINE_LINUX=` line (the last one, as the
 * shell reads it; added when there is none; its quote style kept), in a
 * Raspberry Pi's cmdline.txt its first non-empty line.
 *
 * @example editCmdlineFile('GRUB_CMDLINE_LINUX="quiet"\n', { path: "/etc/default/grub", style: "grub", key: "a", value: "1" }).content // 'GRUB_CMDLINE_LINUX="quiet a=1"\n'
 */
export function editCmdlineFile(text: string, p: KernelArgParams): EditResult {
  const { lines, trailing } = splitLines(text);
  const word = `${p.key}=${p.value}`;
  let at = -1;
  let next: string;
  if (p.style === "grub") {
    lines.forEach((l, i) => {
      if (l.startsWith("GRUB_CMDLINE_LINUX=")) at = i;
    });
    // "double", 'single' or bare words; anything else (a trailing comment, $(...)) is left to a human.
    const m = at < 0 ? null : /^GRUB_CMDLINE_LINUX=(?:"([^"$`\\]*)"|'([^']*)'|([^\s"'#$`\\]*))\s*$/.exec(lines[at]!);
    if (at >= 0 && !m) throw new Error(`${p.path}: cannot parse line ${at + 1}: ${lines[at]}`);
    const quote = m?.[2] !== undefined ? "'" : '"';
    next = `GRUB_CMDLINE_LINUX=${quote}${withKernelArg(m?.[1] ?? m?.[2] ?? m?.[3] ?? "", p.key, p.value)}${quote}`;
  } else {
    at = lines.findIndex((l) => l.trim() !== "");
    next = withKernelArg(at < 0 ? "" : lines[at]!, p.key, p.value);
  }
  if (at >= 0 && lines[at] === next) return { content: text, reason: `${word} already set in ${p.path}` };
  const out = [...lines];
  if (at >= 0) out[at] = next;
  else out.push(next);
  return { content: joinLines(out, trailing || at < 0), reason: `set ${word} in ${p.path}` };
}

/** Parameters of {@link kernelArgTask}. */
export interface KernelArgParams {
  path: string;
  /** `grub`: /etc/default/grub's GRUB_CMDLINE_LINUX; `cmdline`: a one-line cmdline.txt. */
  style: "grub" | "cmdline";
  key: string;
  value: string;
}

/**
 * A kernel command-line argument set in the boot configuration file (a
 * missing file fails: the host does not boot the way the role expected).
 * Read, edited and written like lineinfile: atomically, with a diff.
 */
export const kernelArgTask = defineTask<KernelArgParams>({
  kind: "kernel-arg",
  describe: (p) => `kernel argument ${p.key}=${p.value} in ${p.path}`,
  plan: (ctx, p) => planTextEdit(ctx, { path: p.path }, (text) => editCmdlineFile(text, p), { mustExist: true }),
});

const FSTAB_LINE = "cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime 0 0";
const SYSTEMD_ARG = "systemd.unified_cgroup_hierarchy";

interface HierarchyCheck {
  wanted: 1 | 2;
  /** Where the setting lives, for the message. */
  configuredIn: string;
  reboot: boolean;
  /** The container manager that sets the hierarchy instead (a systemd container). */
  container?: string;
}

/**
 * Compares the running hierarchy (a fact) with the configured one. Changes
 * nothing, so it is always `ok`: its reason says whether a reboot is needed.
 */
export const cgroupHierarchyTask = defineTask<HierarchyCheck>({
  kind: "cgroups",
  describe: (p) => `running cgroup hierarchy (want v${p.wanted})`,
  async plan(ctx, p) {
    const running = ctx.facts.cgroup.version;
    if (p.container) {
      const given = `${showRunning(running)}, as the container manager (${p.container}) gives it: a container has no kernel command line of its own`;
      if (hierarchyMatches(running, p.wanted)) return { changes: [], reason: `the running hierarchy is ${given}` };
      return { changes: [], reason: `cannot switch to cgroup v${p.wanted} here: the host runs ${given}` };
    }
    if (hierarchyMatches(running, p.wanted)) return { changes: [], reason: `the running hierarchy is ${showRunning(running)}, as configured` };
    return {
      changes: [],
      reason: `reboot needed: the host runs ${showRunning(running)}, configured cgroup v${p.wanted} in ${p.configuredIn}${p.reboot ? "" : " (reboot: false, not rebooting)"}`,
    };
  },
});

async function configure(h: Host, p: Cgroups2Params, how: CgroupSwitch): Promise<string> {
  switch (how.kind) {
    case "container":
      return `its container manager (${how.manager})`;
    case "slackware":
      await h.lineinfile({ path: how.file, regexp: /^\s*#?\s*CGROUPS_VERSION=/, line: `CGROUPS_VERSION=${p.version}`, create: true, mode: "0644" });
      return how.file;
    case "grub": {
      const updateGrub = h.handler("update grub", () =>
        h.command("if command -v update-grub >/dev/null 2>&1; then update-grub; else grub2-mkconfig -o /boot/grub2/grub.cfg; fi", { title: "update grub.cfg" }),
      );
      await h.task(kernelArgTask, { path: how.file, style: "grub", key: SYSTEMD_ARG, value: p.version === 2 ? "1" : "0" }, { notify: updateGrub });
      return `${how.file} (GRUB_CMDLINE_LINUX)`;
    }
    case "rpi-cmdline":
      await h.task(kernelArgTask, { path: how.file, style: "cmdline", key: SYSTEMD_ARG, value: p.version === 2 ? "1" : "0" });
      return how.file;
    case "fstab":
      if (p.version === 2) {
        await h.lineinfile({ path: how.file, regexp: /^\s*\S+\s+\/sys\/fs\/cgroup\/?\s/, line: FSTAB_LINE, create: true, mode: "0644" });
      } else {
        await h.lineinfile({ path: how.file, regexp: /^\s*\S+\s+\/sys\/fs\/cgroup\/?\s+cgroup2\s/, state: "absent" });
      }
      return how.file;
  }
}

/**
 * The cgroups2 role (see the module doc and roles/cgroups2/README.md).
 *
 * @example cgroups2({ version: 2, reboot: false })
 */
export const cgroups2 = role({
  name: "cgroups2",
  params,
  async run(h, p) {
    const how = cgroupSwitch(h.facts);
    const configuredIn = await configure(h, p, how);
    const container = how.kind === "container" ? how.manager : undefined;
    const check = await h.task(cgroupHierarchyTask, { wanted: p.version, configuredIn, reboot: p.reboot, container });
    if (hierarchyMatches(h.facts.cgroup.version, p.version)) return;
    h.warn(`cgroups2: ${check.reason}`);
    // A reboot cannot change what a container's manager gives it.
    if (!p.reboot || container) return;
    // The boot configuration must be complete (update-grub) before the host goes down.
    await h.flushHandlers();
    await h.reboot({ msg: `runbook cgroups2: booting with cgroup v${p.version}` });
  },
});
