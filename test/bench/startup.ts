/**
 * Where runbook's start-up goes before it touches a host: Node itself, the
 * `runbook play` module graph from the prebuilt JavaScript (bin/compile.js),
 * the same through tsx (the fallback, and what start-up was before the
 * prebuilt JS), a full recompile of runbook's sources (what the first start
 * after an edit pays), and the npm packages the graph imports eagerly (each
 * alone, in a fresh process).
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { ROOT, stats } from "./harness.ts";

export interface StartupBreakdown {
  /** `node -e 0`: the floor of any Node CLI (ms, wall). */
  nodeMs: number;
  /** `runbook play` with no arguments: CLI + play's module graph loaded, then a usage error (ms, wall). */
  playLoadMs: number;
  /** The same with RUNBOOK_TSX=1: everything loaded as TypeScript through tsx (ms, wall). */
  playLoadTsxMs: number;
  /** Importing play's graph from the prebuilt JS, in-process (ms). */
  prebuiltImportMs: number;
  /** Compiling all of runbook's sources into a new build (ms, in-process; once after any edit). */
  compileMs: number;
  /** runbook's own modules in play's graph. */
  ownModules: number | null;
  /** npm packages play's graph imports eagerly, each imported alone in a fresh process (ms). */
  packages: { name: string; ms: number }[];
}

function node(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; wallMs: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "ignore"], env: { ...process.env, ...env } });
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
  const compile = JSON.stringify(new URL("../../bin/compile.js", import.meta.url).href);
  const nodeMs = await medianOf(runs, async () => (await node(["-e", "0"])).wallMs);
  await node(["bin/runbook.js", "play"]); // a current build
  const playLoadMs = await medianOf(runs, async () => (await node(["bin/runbook.js", "play"])).wallMs);
  const playLoadTsxMs = await medianOf(runs, async () => (await node(["bin/runbook.js", "play"], { RUNBOOK_TSX: "1" })).wallMs);
  const prebuiltImportMs = await medianOf(runs, () =>
    evalMs(
      `const { ensureBuild } = await import(${compile}); const b = await ensureBuild(); const t = performance.now(); ` +
        `await import(new URL("file://" + b.dir + "/runner/cli/play.js").href); console.log(performance.now() - t);`,
    ),
  );
  // A full compile writes a new build and makes it current: what the next start after an edit does.
  const compileMs = await medianOf(Math.min(runs, 3), () =>
    evalMs(`const { build } = await import(${compile}); const t = performance.now(); await build(); console.log(performance.now() - t);`),
  );

  // play's graph, from esbuild's metafile: runbook's own modules and the npm packages it imports eagerly.
  let ownModules: number | null = null;
  let external: string[] = ["ssh2", "yaml", "diff"];
  try {
    const esbuild = await import("esbuild");
    const res = await esbuild.build({
      entryPoints: [join(ROOT, "runner/cli/play.ts")],
      bundle: true,
      write: false,
      platform: "node",
      format: "esm",
      packages: "external",
      metafile: true,
      outdir: "/nonexistent",
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
  } catch {
    /* leave the module count out */
  }

  const packages: { name: string; ms: number }[] = [];
  for (const name of external) {
    packages.push({ name, ms: await medianOf(runs, () => evalMs(`const t = performance.now(); await import(${JSON.stringify(name)}); console.log(performance.now() - t);`)) });
  }
  packages.sort((a, b) => b.ms - a.ms);
  return { nodeMs, playLoadMs, playLoadTsxMs, prebuiltImportMs, compileMs, ownModules, packages };
}
