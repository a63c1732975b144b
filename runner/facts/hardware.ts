/** Hardware facts: CPU, memory, board model, block devices. */
import type { FactUnit, RawFacts, ScriptFragment } from "./unit.ts";
import type { BlockDevice, BlockDeviceType, CpuFacts, MemoryFacts } from "./types.ts";

const CPU_ONLINE = "/sys/devices/system/cpu/online";
const MEMINFO = "/proc/meminfo";
const PARTITIONS = "/proc/partitions";
const DMI_VENDOR = "/sys/class/dmi/id/sys_vendor";
const DMI_PRODUCT = "/sys/class/dmi/id/product_name";

/*
 * /proc/cpuinfo repeats a ~1.5 KB block per CPU; only the first block (model
 * and flags), the `processor` lines (a count when /sys is missing) and the
 * board lines ARM kernels print at the end are sent back.
 */
const cpuinfo: ScriptFragment = {
  id: "cpuinfo",
  script: [
    "s cpuinfo",
    "sed -n -e '1,/^$/p' -e '/^processor/p' -e '/^Hardware/p' -e '/^Model/p' /proc/cpuinfo || cat /proc/cpuinfo",
  ].join("\n"),
};

/*
 * One line per attribute, read with the `read` builtin: no process per
 * device. Partitions are the block's subdirectories with a `partition` file.
 */
const sysBlock: ScriptFragment = {
  id: "sys-block",
  script: [
    "s sys-block",
    "for b in /sys/block/*; do",
    '[ -r "$b/size" ] || continue',
    "n=${b##*/}",
    "printf 'dev %s\\n' \"$n\"",
    "for a in size removable ro queue/rotational device/model device/name dm/name loop/backing_file; do",
    '[ -r "$b/$a" ] && read -r v < "$b/$a" && printf \'%s=%s\\n\' "$a" "$v"',
    "done",
    'for p in "$b/$n"*; do',
    '[ -r "$p/partition" ] || continue',
    "printf 'part %s\\n' \"${p##*/}\"",
    'read -r v < "$p/size" && printf \'size=%s\\n\' "$v"',
    "done",
    "done",
  ].join("\n"),
};

function cpuinfoFields(raw: RawFacts): { pairs: [string, string][]; processors: Set<string> } {
  const pairs: [string, string][] = [];
  const processors = new Set<string>();
  for (const line of (raw.section("cpuinfo") ?? "").split("\n")) {
    const m = /^([^:]+?)\s*:\s?(.*)$/.exec(line);
    if (!m) continue;
    const key = m[1]!.trim();
    const value = m[2]!.trim();
    if (key === "processor") processors.add(value);
    pairs.push([key, value]);
  }
  return { pairs, processors };
}

function field(pairs: readonly [string, string][], key: string): string | undefined {
  return pairs.find(([k]) => k === key)?.[1];
}

/**
 * Counts CPUs in a kernel CPU list such as `0-3,8-11` (the format of
 * /sys/devices/system/cpu/online).
 *
 * @example
 * countCpuList("0-3,8-11") // 8
 */
export function countCpuList(list: string): number {
  let n = 0;
  for (const part of list.trim().split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) continue;
    n += m[2] === undefined ? 1 : Number(m[2]) - Number(m[1]) + 1;
  }
  return n;
}

/** ARM Ltd. cores by `CPU part` (aarch64 /proc/cpuinfo has no model name). */
const ARM_PARTS: Readonly<Record<string, string>> = {
  "0xd03": "Cortex-A53",
  "0xd04": "Cortex-A35",
  "0xd05": "Cortex-A55",
  "0xd07": "Cortex-A57",
  "0xd08": "Cortex-A72",
  "0xd09": "Cortex-A73",
  "0xd0a": "Cortex-A75",
  "0xd0b": "Cortex-A76",
  "0xd0c": "Neoverse-N1",
  "0xd0d": "Cortex-A77",
  "0xd40": "Neoverse-V1",
  "0xd41": "Cortex-A78",
  "0xd49": "Neoverse-N2",
  "0xd4f": "Neoverse-V2",
};

/**
 * `cpu`: count, model, and hardware virtualization flags.
 *
 * @example
 * cpuUnit.parse(raw) // { count: 4, model: "Cortex-A72", virtualization: null, hypervisor: false }
 */
export const cpuUnit: FactUnit<CpuFacts> = {
  name: "cpu",
  files: [CPU_ONLINE],
  fragments: [cpuinfo],
  parse: (raw) => {
    const { pairs, processors } = cpuinfoFields(raw);
    const online = countCpuList(raw.file(CPU_ONLINE) ?? "");
    const count = online || processors.size;
    if (!count) throw new Error("no CPU count in /sys or /proc/cpuinfo");

    let model = field(pairs, "model name") ?? field(pairs, "cpu model") ?? null;
    if (!model && field(pairs, "CPU implementer") === "0x41") model = ARM_PARTS[field(pairs, "CPU part") ?? ""] ?? null;
    if (!model) model = field(pairs, "Hardware") ?? null;

    const flags = new Set((field(pairs, "flags") ?? "").split(/\s+/));
    const virtualization = flags.has("vmx") ? "vmx" : flags.has("svm") ? "svm" : null;
    return { count, model: model || null, virtualization, hypervisor: flags.has("hypervisor") };
  },
  default: { count: 1, model: null, virtualization: null, hypervisor: false },
};

/**
 * `board`: a Raspberry Pi's cpuinfo `Model`, else DMI vendor + product.
 *
 * @example
 * boardUnit.parse(raw) // "Raspberry Pi 4 Model B Rev 1.4"
 */
export const boardUnit: FactUnit<string | null> = {
  name: "board",
  files: [DMI_VENDOR, DMI_PRODUCT],
  fragments: [cpuinfo],
  parse: (raw) => {
    const model = field(cpuinfoFields(raw).pairs, "Model");
    if (model) return model;
    const vendor = raw.file(DMI_VENDOR)?.trim() ?? "";
    const product = raw.file(DMI_PRODUCT)?.trim() ?? "";
    if (!product) return vendor || null;
    return product.startsWith(vendor) ? product : `${vendor} ${product}`.trim();
  },
  default: null,
};

function meminfo(raw: RawFacts): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of (raw.file(MEMINFO) ?? "").split("\n")) {
    const m = /^(\w+(?:\(\w+\))?):\s+(\d+)/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

/**
 * `memory`: total, available and swap in MiB.
 *
 * @example
 * memoryUnit.parse(raw) // { totalMiB: 7811, availableMiB: 7102, swapTotalMiB: 199 }
 */
export const memoryUnit: FactUnit<MemoryFacts> = {
  name: "memory",
  files: [MEMINFO],
  parse: (raw) => {
    const kb = meminfo(raw);
    const total = kb.get("MemTotal");
    if (total === undefined) throw new Error("no MemTotal in /proc/meminfo");
    const available =
      kb.get("MemAvailable") ?? (kb.get("MemFree") ?? 0) + (kb.get("Buffers") ?? 0) + (kb.get("Cached") ?? 0);
    const mib = (k: number) => Math.floor(k / 1024);
    return { totalMiB: mib(total), availableMiB: mib(available), swapTotalMiB: mib(kb.get("SwapTotal") ?? 0) };
  },
  default: { totalMiB: 0, availableMiB: 0, swapTotalMiB: 0 },
};

function blockType(name: string): BlockDeviceType {
  if (name.startsWith("loop")) return "loop";
  if (/^(sr|scd)\d/.test(name)) return "rom";
  if (/^md\d/.test(name)) return "raid";
  if (name.startsWith("dm-")) return "dm";
  if (name.startsWith("zram")) return "zram";
  return "disk";
}

/** Ram disks and unattached loop devices are noise in every listing. */
function wanted(d: BlockDevice): boolean {
  if (/^ram\d/.test(d.name)) return false;
  if ((d.type === "loop" || d.type === "zram") && d.sizeBytes === 0) return false;
  return true;
}

function parseSysBlock(text: string): BlockDevice[] {
  const out: BlockDevice[] = [];
  let disk: BlockDevice | undefined;
  let cur: BlockDevice | undefined;
  for (const line of text.split("\n")) {
    let m: RegExpExecArray | null;
    if ((m = /^dev (\S+)$/.exec(line))) {
      disk = cur = { name: m[1]!, type: blockType(m[1]!), sizeBytes: 0 };
      out.push(cur);
    } else if ((m = /^part (\S+)$/.exec(line)) && disk) {
      cur = { name: m[1]!, type: "part", sizeBytes: 0, parent: disk.name };
      out.push(cur);
    } else if ((m = /^([\w/]+)=(.*)$/.exec(line)) && cur) {
      const key = m[1]!;
      const value = m[2]!.trim();
      if (key === "size") cur.sizeBytes = Number(value) * 512;
      else if (key === "queue/rotational") cur.rotational = value === "1";
      else if (key === "removable") cur.removable = value === "1";
      else if (key === "ro") cur.readOnly = value === "1";
      else if ((key === "device/model" || key === "device/name") && value && cur.model === undefined) cur.model = value;
      else if (key === "dm/name" && value) cur.dmName = value;
      else if (key === "loop/backing_file" && value) cur.backingFile = value;
    }
  }
  return out;
}

/** /proc/partitions: `major minor #blocks name`, sizes in KiB. Used when /sys/block is missing. */
function parseProcPartitions(text: string): BlockDevice[] {
  const rows: { name: string; kib: number }[] = [];
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length === 4 && /^\d+$/.test(f[0]!)) rows.push({ name: f[3]!, kib: Number(f[2]) });
  }
  const names = new Set(rows.map((r) => r.name));
  return rows.map(({ name, kib }) => {
    const m = /^(.*?\d)p\d+$/.exec(name) ?? /^(\D+)\d+$/.exec(name);
    const parent = m && names.has(m[1]!) ? m[1]! : undefined;
    const d: BlockDevice = { name, type: parent ? "part" : blockType(name), sizeBytes: kib * 1024 };
    if (parent) d.parent = parent;
    return d;
  });
}

/**
 * `blockDevices`: disks and their partitions from /sys/block.
 *
 * @example
 * blockDevicesUnit.parse(raw).filter((d) => d.type === "disk").map((d) => d.name) // ["sda", "sdb"]
 */
export const blockDevicesUnit: FactUnit<BlockDevice[]> = {
  name: "blockDevices",
  files: [PARTITIONS],
  fragments: [sysBlock],
  parse: (raw) => {
    const fromSys = parseSysBlock(raw.section("sys-block") ?? "");
    const all = fromSys.length ? fromSys : parseProcPartitions(raw.file(PARTITIONS) ?? "");
    return all.filter(wanted);
  },
  default: [],
};
