/**
 * `kernelModule`: a kernel module loaded (or not), and optionally loaded at
 * every boot.
 *
 * Loaded = listed in /proc/modules. A module built into the kernel (in
 * /sys/module without an `initstate`, or in modules.builtin) counts as
 * present and needs no modprobe; it cannot be made absent. Loading uses
 * `modprobe NAME [k=v...]`, unloading `modprobe -r NAME`; `params` apply
 * when the module is loaded (a loaded module is not reloaded for them).
 *
 * `persist: true` also records the module for boot, where the OS looks:
 * - Slackware: a `/sbin/modprobe NAME k=v` line in /etc/rc.d/rc.modules.local
 *   (created, mode 0755, when missing; a line for the same module with other
 *   parameters is replaced);
 * - elsewhere (systemd's modules-load.d, Debian's kmod init script, RHEL):
 *   /etc/modules-load.d/NAME.conf, and with `params` an `options` line in
 *   /etc/modprobe.d/NAME.conf.
 * With `state: absent`, `persist: true` removes the boot entry (the
 * modprobe.d options file is left: it only matters when the module loads).
 *
 * @example
 *   await h.kernelModule({ name: "br_netfilter", persist: true });
 *   await h.kernelModule({ name: "loop", params: { max_loop: 64 }, persist: true });
 *   await h.kernelModule({ name: "floppy", state: "absent", persist: true });
 */
import type { Facts } from "../runner/facts/types.ts";
import { shjoin, shq } from "../runner/quote.ts";
import { defineTask, type Change, type FileDiff, type Plan } from "../runner/task.ts";
import { fileContent, probeSections, readScript, textFileChange, type Section } from "./probe.ts";

export interface KernelModuleParams {
  /** Module name as modprobe takes it (`br_netfilter`; `-` and `_` are the same module). */
  name: string;
  /** Default `present`. */
  state?: "present" | "absent";
  /** Parameters for modprobe and the boot entry: `{ max_loop: 64 }`; booleans become 1/0. */
  params?: Record<string, string | number | boolean>;
  /** Also load it at boot (or, with `absent`, no longer). Default false: boot config untouched. */
  persist?: boolean;
}

export const RC_MODULES_LOCAL = "/etc/rc.d/rc.modules.local";

export type ModuleProbeReader = (parts: Record<string, string>) => Promise<Record<string, Section>>;

function paramWords(p: KernelModuleParams): string[] {
  return Object.entries(p.params ?? {}).map(([k, v]) => {
    if (!/^[A-Za-z0-9_.-]+$/.test(k)) throw new Error(`kernelModule: invalid parameter name ${JSON.stringify(k)}`);
    const value = typeof v === "boolean" ? (v ? "1" : "0") : String(v);
    if (/[\s"]/.test(value)) throw new Error(`kernelModule: parameter ${k}: value must not contain spaces or quotes`);
    return `${k}=${value}`;
  });
}

/** The rc.modules.local line that loads the module. */
function bootLine(name: string, words: string[]): string {
  return ["/sbin/modprobe", name, ...words].join(" ");
}

/** True for an rc.modules.local line that loads `name` (either spelling of - and _). */
function loadsModule(line: string, name: string): boolean {
  const m = line.match(/^\s*(?:\/s?bin\/|\/usr\/s?bin\/)?modprobe\s+(\S+)/);
  return !!m && m[1]!.replace(/-/g, "_") === name.replace(/-/g, "_");
}

/** rc.modules.local with the module's line in place (`want`), or removed (`want` null). */
export function editRcModulesLocal(before: string | null, name: string, want: string | null): string {
  const text = before ?? "#!/bin/sh\n";
  const out: string[] = [];
  let placed = false;
  const body = text.endsWith("\n") ? text.slice(0, -1) : text;
  for (const line of body.split("\n")) {
    if (!loadsModule(line, name)) {
      out.push(line);
      continue;
    }
    if (want !== null && !placed) {
      out.push(want);
      placed = true;
    }
  }
  if (want !== null && !placed) out.push(want);
  return out.join("\n") + "\n";
}

/** Which state reads the plan needs (one round trip). */
export function kernelModuleProbe(facts: Facts, p: KernelModuleParams): Record<string, string> {
  const n = p.name.replace(/-/g, "_");
  const dashed = p.name.replace(/_/g, "-");
  const parts: Record<string, string> = {
    loaded: [
      `if grep -q ${shq(`^${n} `)} /proc/modules 2>/dev/null; then echo loaded`,
      `elif [ -d /sys/module/${shq(n)} ] && [ ! -e /sys/module/${shq(n)}/initstate ]; then echo builtin`,
      `elif grep -qE ${shq(`/(${n}|${dashed})\\.ko$`)} /lib/modules/"$(uname -r)"/modules.builtin 2>/dev/null; then echo builtin`,
      "else echo absent; fi",
    ].join("\n"),
  };
  if (p.persist) {
    if (facts.os.family === "slackware") parts.boot = readScript(RC_MODULES_LOCAL);
    else {
      parts.boot = readScript(`/etc/modules-load.d/${p.name}.conf`);
      if (p.params && (p.state ?? "present") === "present") parts.options = readScript(`/etc/modprobe.d/${p.name}.conf`);
    }
  }
  return parts;
}

/** The plan for `params` on a host with `facts`, reading state through `read`. */
export async function planKernelModule(facts: Facts, p: KernelModuleParams, read: ModuleProbeReader): Promise<Plan> {
  if (!/^[A-Za-z0-9_-]+$/.test(p.name) || p.name.startsWith("-")) throw new Error(`kernelModule: invalid module name ${JSON.stringify(p.name)}`);
  const words = paramWords(p);
  const present = (p.state ?? "present") === "present";
  const s = await read(kernelModuleProbe(facts, p));
  const loaded = (s.loaded?.out ?? "").trim();
  const changes: Change[] = [];
  const diffs: FileDiff[] = [];
  const what: string[] = [];
  const ok: string[] = [];

  if (present) {
    if (loaded === "loaded") ok.push(`${p.name} is loaded`);
    else if (loaded === "builtin") ok.push(`${p.name} is built into the kernel`);
    else {
      changes.push({ kind: "run", command: `modprobe ${shjoin([p.name, ...words])}` });
      what.push(`load ${p.name}`);
    }
  } else if (loaded === "builtin") {
    throw new Error(`${p.name} is built into the kernel and cannot be unloaded`);
  } else if (loaded === "loaded") {
    changes.push({ kind: "run", command: `modprobe -r ${shq(p.name)}` });
    what.push(`unload ${p.name}`);
  } else ok.push(`${p.name} is not loaded`);

  if (p.persist) {
    const files: { path: string; before: string | null; after: string | null; mode?: string }[] = [];
    if (facts.os.family === "slackware") {
      const before = fileContent(s.boot!, RC_MODULES_LOCAL);
      const after = present ? editRcModulesLocal(before, p.name, bootLine(p.name, words)) : before === null ? null : editRcModulesLocal(before, p.name, null);
      files.push({ path: RC_MODULES_LOCAL, before, after, mode: before === null ? "0755" : undefined });
    } else {
      const conf = `/etc/modules-load.d/${p.name}.conf`;
      files.push({ path: conf, before: fileContent(s.boot!, conf), after: present ? `${p.name}\n` : null });
      if (s.options) {
        const opts = `/etc/modprobe.d/${p.name}.conf`;
        files.push({ path: opts, before: fileContent(s.options, opts), after: `options ${[p.name, ...words].join(" ")}\n` });
      }
    }
    for (const f of files) {
      if (f.after === null) {
        if (f.before === null) ok.push(`${f.path} absent`);
        else {
          changes.push({ kind: "run", command: `rm -f -- ${shq(f.path)}` });
          diffs.push({ path: f.path, before: f.before, after: null });
          what.push(`remove ${f.path}`);
        }
        continue;
      }
      const edit = textFileChange(f.path, f.before, f.after, f.mode ? { mode: f.mode } : {});
      if (!edit) {
        ok.push(`${f.path} ${present ? "loads it at boot" : "does not load it"}`);
        continue;
      }
      // Directories such as /etc/modules-load.d may not exist on a minimal host.
      const dir = f.path.slice(0, f.path.lastIndexOf("/"));
      if (f.before === null) changes.push({ kind: "run", command: `mkdir -p -- ${shq(dir)}` });
      changes.push(edit.change);
      diffs.push(edit.diff);
      what.push(`${f.before === null ? "create" : "update"} ${f.path}`);
    }
  }

  if (what.length === 0) return { changes: [], reason: ok.join("; ") };
  return { changes, reason: what.join("; "), diffs };
}

export const kernelModuleTask = defineTask<KernelModuleParams>({
  kind: "kernelModule",
  describe: (p) => `kernel module ${p.name} (${p.state ?? "present"}${p.persist ? ", at boot" : ""})`,
  plan: (ctx, p) => planKernelModule(ctx.facts, p, (parts) => probeSections(ctx, parts)),
});
