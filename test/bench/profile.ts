/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): where the runner's
 * CPU time goes, by function (self time) and by area (runbook's runner and
 * tasks, ssh2, module loading, GC; Node internals and natives such as
 * socket writes count for their nearest user-land caller), plus how much
 * of the wall time the process was idle (waiting on the network and the
 * hosts).
 */
import { readFileSync } from "node:fs";
import { SourceMap } from "node:module";
import { dirname, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber?: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** Wall time the profile covers (ms). */
  totalMs: number;
  /** Time with no JS running and nothing to do: waiting for I/O (ms). */
  idleMs: number;
  gcMs: number;
  /** Self time by area, largest first (ms). */
  areas: { area: string; ms: number }[];
  /** Self time by function, largest first (ms). */
  functions: { name: string; where: string; ms: number }[];
}

const SSH2 = "ssh2 (SSH protocol, crypto, socket writes)";

/** The area a script URL belongs to, or null for Node's own code and natives (attributed to their caller). */
export function areaOfUrl(url: string): string | null {
  if (!url || url.startsWith("node:")) return null;
  if (/node_modules\/(tsx|esbuild|get-tsconfig)\//.test(url)) return "tsx + esbuild (loading TypeScript)";
  if (/node_modules\/ssh2\//.test(url)) return SSH2;
  const m = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
  if (m) return `npm: ${m[1]}`;
  // A package bin/compile.js bundled into the build (dist/<build>/vendor/NAME.js).
  const vendored = url.match(/\/dist\/[^/]+\/vendor\/([^/]+)\.js$/);
  if (vendored) return `npm: ${vendored[1]}`;
  // runbook's sources, or their prebuilt JS (dist/<build>/runner/...).
  const own = url.match(/\/(runner\/[^/]+(?:\/[^/]+)?|tasks\/[^/]+|test\/bench\/[^/]+)\.[jt]s/);
  if (own) return own[1]!.startsWith("runner/") ? `runner: ${own[1]!.replace(/^runner\//, "")}` : own[1]!;
  return url.replace(/^file:\/\//, "");
}

/**
 * Frames in a bundled file with a source map beside it (the build's
 * dist/<build>/core.cjs: runbook's modules and npm packages in one file)
 * get the URL and line of their original source, so areas stay apart.
 */
function unbundle(prof: CpuProfile): void {
  const maps = new Map<string, SourceMap | null>();
  const mapOf = (url: string): SourceMap | null => {
    if (!maps.has(url)) {
      try {
        maps.set(url, new SourceMap(JSON.parse(readFileSync(`${fileURLToPath(url)}.map`, "utf8"))));
      } catch {
        maps.set(url, null);
      }
    }
    return maps.get(url)!;
  };
  for (const n of prof.nodes) {
    const f = n.callFrame;
    if (!f.url.endsWith(".cjs") || !f.url.startsWith("file:")) continue;
    const e = mapOf(f.url)?.findEntry(f.lineNumber, f.columnNumber ?? 0);
    if (!e || !("originalSource" in e) || !e.originalSource) continue;
    const src = e.originalSource.startsWith("file:") ? e.originalSource : pathToFileURL(resolve(dirname(fileURLToPath(f.url)), e.originalSource)).href;
    f.url = src;
    f.lineNumber = e.originalLine;
  }
}

/** Reads and summarises one profile. */
export function summariseProfile(file: string, top = 12): ProfileSummary {
  const prof = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  unbundle(prof);
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  for (let i = 0; i < prof.samples.length; i++) {
    const dt = (prof.timeDeltas[i + 1] ?? 0) / 1000;
    self.set(prof.samples[i]!, (self.get(prof.samples[i]!) ?? 0) + dt);
  }
  // Node internals and natives (socket writes, crypto, fs) count for the
  // nearest caller that is runbook's code or an npm package.
  const areaOf = (id: number): string => {
    const fn = byId.get(id)!.callFrame.functionName;
    if (fn === "(idle)") return "idle (waiting on I/O)";
    if (fn === "(garbage collector)") return "garbage collector";
    if (fn === "(program)") return "V8/native (program)";
    let loading = false;
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const { url, functionName } = byId.get(cur)!.callFrame;
      if (url.startsWith("node:internal/modules")) loading = true;
      // ssh2's packets reach the socket through the connection's corking write wrapper.
      if (/\/runner\/connection\/ssh\.[jt]s$/.test(url) && /(write|uncork)$/.test(functionName)) return SSH2;
      const area = areaOfUrl(url);
      if (area) return area;
    }
    return loading ? "loading modules (ESM loader)" : "node internals (timers, streams, no user-land caller)";
  };
  const areas = new Map<string, number>();
  const fns = new Map<string, { name: string; where: string; ms: number }>();
  let idleMs = 0;
  let gcMs = 0;
  for (const [id, ms] of self) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const area = areaOf(id);
    areas.set(area, (areas.get(area) ?? 0) + ms);
    if (functionName === "(idle)") idleMs += ms;
    if (functionName === "(garbage collector)") gcMs += ms;
    // Natives have no URL: name them with the area that called them.
    const where = url ? `${url.replace(/^.*\/(node_modules|runner|tasks|test)\//, "$1/").replace(/^file:\/\//, "")}:${lineNumber + 1}` : `native, for ${area}`;
    const key = `${functionName}@${where}`;
    const f = fns.get(key) ?? { name: functionName || "(anonymous)", where, ms: 0 };
    f.ms += ms;
    fns.set(key, f);
  }
  return {
    totalMs: (prof.endTime - prof.startTime) / 1000,
    idleMs,
    gcMs,
    areas: [...areas].map(([area, ms]) => ({ area, ms })).sort((a, b) => b.ms - a.ms),
    functions: [...fns.values()].filter((f) => f.name !== "(idle)").sort((a, b) => b.ms - a.ms).slice(0, top),
  };
}
