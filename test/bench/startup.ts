/**
 * Where runbook's start-up goes before it touches a host: Node itself,
 * registering tsx, loading the CLI and `play`'s module graph as TypeScript,
 * the npm packages that graph imports eagerly (each alone, in a fresh
 * process), and the same graph pre-bundled to one JavaScript file (what a
 * build step would save).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ROOT, stats } from "./harness.ts";

export interface StartupBreakdown {
  /** `node -e 0`: the floor of any Node CLI (ms, wall). */
  nodeMs: number;
  /** Importing tsx's API and registering it (ms, in-process). */
  tsxRegisterMs: number;
  /** `runbook play` with no arguments: CLI + play's module graph loaded, then a usage error (ms, wall). */
  playLoadMs: number;
  /** play's module graph bundled by esbuild into one ESM file, npm packages left external (ms, in-process import). */
  bundledImportMs: number | null;
  /** The same graph through tsx (ms, in-process import after register). */
  tsxImportMs: number;
  /** runbook's own modules in that graph. */
  ownModules: number | null;
  /** npm packages play's graph imports eagerly, each imported alone in a fresh process (ms). */
  packages: { name: string; ms: number }[];
}

function node(args: string[]): Promise<{ code: number; stdout: string; wallMs: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "ignore"] });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, wallMs: performance.now() - started }));
  });
}

async function medianOf(n: number, f: () => Promise<number>): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) xs.push(await f());
  return stats(xs).median;
}

/** Runs ESM source in a fresh node (cwd: the repository) and returns the number it prints. */
async function evalMs(source: string): Promise<number> {
  const r = await node(["--input-type=module", "-e", source]);
  const ms = Number(r.stdout.trim().split("\n").pop());
  if (r.code !== 0 || !Number.isFinite(ms)) throw new Error(`start-up probe failed (exit ${r.code}): ${source}`);
  return ms;
}

export async function startupBreakdown(runs = 5): Promise<StartupBreakdown> {
  const nodeMs = await medianOf(runs, async () => (await node(["-e", "0"])).wallMs);
  const tsxRegisterMs = await medianOf(runs, () =>
    evalMs(`const t = performance.now(); const { register } = await import("tsx/esm/api"); register(); console.log(performance.now() - t);`),
  );
  const playUrl = new URL("../../runner/cli/play.ts", import.meta.url).href;
  const tsxImportMs = await medianOf(runs, () =>
    evalMs(`const { register } = await import("tsx/esm/api"); register(); const t = performance.now(); await import(${JSON.stringify(playUrl)}); console.log(performance.now() - t);`),
  );
  const playLoadMs = await medianOf(runs, async () => (await node(["bin/runbook.js", "play"])).wallMs);

  // The graph as one bundle: its externals are exactly the npm packages play loads eagerly.
  let bundledImportMs: number | null = null;
  let ownModules: number | null = null;
  let external: string[] = ["ssh2", "yaml", "ora", "diff", "nunjucks", "mustache"];
  // Inside node_modules so the bundle's bare imports resolve from the repository's packages.
  const cache = join(ROOT, "node_modules/.cache");
  const hadCache = existsSync(cache);
  const dir = join(cache, "runbook-bench");
  try {
    const esbuild = await import("esbuild");
    mkdirSync(dir, { recursive: true });
    const outfile = join(dir, "play-bundle.mjs");
    const res = await esbuild.build({
      entryPoints: [join(ROOT, "runner/cli/play.ts")],
      bundle: true,
      platform: "node",
      format: "esm",
      packages: "external",
      metafile: true,
      outfile,
      logLevel: "silent",
    });
    ownModules = Object.keys(res.metafile.inputs).length;
    const pkgs = new Set<string>();
    for (const o of Object.values(res.metafile.outputs)) {
      for (const i of o.imports) {
        if (!i.external || i.path.startsWith("node:") || i.kind === "dynamic-import") continue;
        pkgs.add(i.path.startsWith("@") ? i.path.split("/").slice(0, 2).join("/") : i.path.split("/")[0]!);
      }
    }
    external = [...pkgs].filter((p) => p !== "runbook").sort();
    bundledImportMs = await medianOf(runs, () =>
      evalMs(`const t = performance.now(); await import(${JSON.stringify(new URL(`file://${outfile}`).href)}); console.log(performance.now() - t);`),
    );
  } catch {
    /* esbuild (a tsx dependency) unavailable: leave the bundle numbers out */
  } finally {
    rmSync(hadCache ? dir : cache, { recursive: true, force: true });
  }

  const packages: { name: string; ms: number }[] = [];
  for (const name of external) {
    packages.push({ name, ms: await medianOf(runs, () => evalMs(`const t = performance.now(); await import(${JSON.stringify(name)}); console.log(performance.now() - t);`)) });
  }
  packages.sort((a, b) => b.ms - a.ms);
  return { nodeMs, tsxRegisterMs, playLoadMs, bundledImportMs, tsxImportMs, ownModules, packages };
}
