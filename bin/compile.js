// Prebuilt JavaScript for runbook's own modules, and one-file bundles of the
// user's playbooks and inventory modules, so that start-up does not pay for
// TypeScript loader hooks on every module (tsx: ~0.5 s for a one-task play;
// this: ~0.15 s).
//
// runbook's sources (index.ts, runner/, tasks/, roles/) are compiled file for file
// with esbuild into dist/<build>/, imports rewritten from .ts to .js. A
// build is reused while every source file keeps the size and mtime recorded
// in dist/current.json, and rebuilt (in ~0.3 s) when one changed: editing a
// role needs no build command. A new build goes to a new directory and
// current.json is replaced atomically, so a runbook process that is running
// keeps importing from the build it started with.
//
// A playbook is bundled with the files it imports, except runbook's own
// modules, which stay imports of the prebuilt ones, so the playbook's roles
// and the runner share one copy of every module. Bundles are cached per
// build, keyed by path, valid while their inputs are unchanged.
//
// `import.meta.url` in every compiled file is replaced by the URL of the
// source file, so roles find their templates beside their source.
//
// What every `runbook play` loads (CORE_ENTRIES and all they import
// statically: ~100 of runbook's modules, zod, yaml, diff, ssh2) is also
// bundled into one CommonJS file, dist/<build>/core.cjs, which
// bin/load-core.js runs with V8's code cache: this takes a start from
// ~0.29 to ~0.15 CPU-seconds. The compiled files of those modules (and
// vendor/NAME.js for zod, yaml and diff) are replaced by shims that export
// the core's instances, so the modules outside the core (roles, serve, the
// other commands) and users' bundles, which import those files, share one
// instance of each module. The core's dynamic imports go through the
// loader (see load-core.js).
//
// A user who cannot write dist/ keeps bundles in a private cache under the
// temp dir, and falls back to tsx while the build is stale.
import { createHash } from "node:crypto";
import { accessSync, constants, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createRequire, SourceMap } from "node:module";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
const DIST = join(ROOT, "dist");
const CURRENT = join(DIST, "current.json");
/** Where a user who cannot write dist/ (a root-owned install) keeps playbook bundles. */
const USER_CACHE = join(tmpdir(), `runbook-cache-${process.getuid?.() ?? "user"}`);
const SOURCE_DIRS = ["runner", "tasks", "roles"];
/** The public API module ("runbook"): the engine with the task library installed. */
const SOURCE_FILES = ["index.ts", "cli.ts"];
/** npm packages bundled into one file each (see the top); imported by these exact names only. */
// (ssh2 is in the core, but not vendored: as an ES module bundle its lazily
// required parts, such as the server and SFTP, became eager.)
const VENDOR = ["zod", "yaml", "diff"];
/**
 * The core (bin/load-core.js): these modules and everything they import
 * statically, bundled into one CommonJS file that starts from V8's code cache.
 */
const CORE_ENTRIES = ["cli.ts", "runner/cli/play.ts"];
/** npm packages the core leaves to node_modules: native addons, and the build tools. */
const CORE_EXTERNAL = ["cpu-features", "esbuild", "tsx"];
/** Files whose change invalidates every build (the build logic itself). */
const META = ["bin/compile.js", "bin/load-core.js", "package.json", "package-lock.json"];
/** Old builds are removed once this old: a long run may still import from one. */
const KEEP_OLD_MS = 24 * 3600_000;

/** @typedef {{ id: string; dir: string; sources: Record<string, [number, number]>; vendor?: string[] }} Build */

const stamp = (file) => {
  const s = statSync(file);
  return [s.mtimeMs, s.size];
};

/** Every runbook source file, relative to the package root. */
function listSources() {
  const out = [];
  const walk = (rel) => {
    for (const e of readdirSync(join(ROOT, rel), { withFileTypes: true })) {
      const r = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(r);
      else if (e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")) out.push(r);
    }
  };
  for (const d of SOURCE_DIRS) walk(d);
  return [...SOURCE_FILES, ...out];
}

/** The recorded build when every source is unchanged, else null. */
export function currentBuild() {
  let build;
  try {
    build = /** @type {Build} */ (JSON.parse(readFileSync(CURRENT, "utf8")));
  } catch {
    return null;
  }
  try {
    for (const [rel, [mtime, size]] of Object.entries(build.sources)) {
      const [m, s] = stamp(join(ROOT, rel));
      if (m !== mtime || s !== size) return null;
    }
  } catch {
    return null;
  }
  build.dir = join(DIST, build.id);
  return existsSync(build.dir) ? build : null;
}

/** Source text with `import.meta.url` (and dirname/filename) of the source file. */
function withSourceLocation(file, text = readFileSync(file, "utf8")) {
  if (!text.includes("import.meta.")) return text;
  return text
    .replaceAll("import.meta.url", JSON.stringify(pathToFileURL(file).href))
    .replaceAll("import.meta.dirname", JSON.stringify(resolve(file, "..")))
    .replaceAll("import.meta.filename", JSON.stringify(file));
}

const loaderFor = (file) => (file.endsWith(".ts") || file.endsWith(".mts") ? "ts" : "js");

/** esbuild's first error as `file:line:col: text`, the file relative to the working directory when inside it. */
function buildError(err, base) {
  const e = err?.errors?.[0];
  if (!e) return err;
  const file = e.location && resolve(base, e.location.file);
  const shown = file && (relative(process.cwd(), file).startsWith("..") ? file : relative(process.cwd(), file));
  const where = e.location ? `${shown}:${e.location.line}:${e.location.column + 1}: ` : "";
  return new Error(`${where}${e.text}`);
}

/** Compiles runbook's sources into a new build directory and records it. */
export async function build() {
  const esbuild = await import("esbuild");
  const sources = listSources();
  const id = `${Date.now().toString(36)}-${process.pid}`;
  const dir = join(DIST, id);
  /** @type {Record<string, [number, number]>} */
  const stamps = {};
  for (const rel of [...META.filter((f) => existsSync(join(ROOT, f))), ...sources]) stamps[rel] = stamp(join(ROOT, rel));
  try {
    const vendor = vendorExports();
    /** npm package -> the URL of its shim (dist/<build>/vendor/NAME.js), which hands out the core's copy. */
    const vendored = new Map([...vendor.keys()].map((pkg) => [pkg, pathToFileURL(join(dir, "vendor", `${pkg}.js`)).href]));
    const perFile = await esbuild.build({
      absWorkingDir: ROOT,
      entryPoints: sources,
      outdir: dir,
      outbase: ROOT,
      bundle: true,
      packages: "external",
      format: "esm",
      platform: "node",
      target: "node20",
      sourcemap: "linked",
      metafile: true,
      logLevel: "silent",
      plugins: [
        {
          name: "runbook-file-for-file",
          setup(b) {
            // Every relative import stays an import, of the compiled file.
            b.onResolve({ filter: /^\.\.?\// }, (a) => (a.kind === "entry-point" ? undefined : { path: a.path.replace(/\.ts$/, ".js"), external: true }));
            b.onResolve({ filter: /^[\w@]/ }, (a) => (vendored.has(a.path) ? { path: vendored.get(a.path), external: true } : undefined));
            b.onLoad({ filter: /\.ts$/ }, (a) => ({ contents: withSourceLocation(a.path), loader: "ts" }));
          },
        },
      ],
    });
    const core = await buildCore(esbuild, dir, [...vendor.keys()]);
    writeShims(dir, core, perFile.metafile, vendor);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw buildError(err, ROOT);
  }
  const tmp = `${CURRENT}.${process.pid}`;
  writeFileSync(tmp, JSON.stringify({ id, sources: stamps, vendor: VENDOR }));
  renameSync(tmp, CURRENT);
  removeOldBuilds(id);
  return { id, dir, sources: stamps, vendor: VENDOR };
}

/** Each VENDOR package's export names (a CommonJS package's are read by requiring it once, here); a package not installed is left out. */
function vendorExports() {
  const require = createRequire(join(ROOT, "package.json"));
  /** @type {Map<string, string[]>} */
  const out = new Map();
  for (const pkg of VENDOR) {
    try {
      out.set(
        pkg,
        Object.keys(require(pkg)).filter((n) => n !== "default" && n !== "__esModule" && /^[A-Za-z_$][\w$]*$/.test(n)),
      );
    } catch {
      // not installed
    }
  }
  return out;
}

/**
 * A core source: its dynamic imports call the loader's __runbookImport
 * (bin/load-core.js) with the source's URL, since a vm.Script cannot
 * `import()` on Node 20 without an experimental flag; then
 * withSourceLocation. (No source has `import(` in a string or comment.)
 */
function coreSource(file) {
  const url = JSON.stringify(pathToFileURL(file).href);
  return withSourceLocation(file, readFileSync(file, "utf8").replace(/(?<![\w$.])import\(/g, `__runbookImport(${url}, `));
}

/**
 * Bundles CORE_ENTRIES with every module they import statically (runbook's
 * and the npm packages', except native ones) into dist/<build>/core.cjs,
 * whose exports are `modules` (source path -> namespace) and `packages`
 * (the VENDOR packages' namespaces). Returns the core's runbook sources.
 */
async function buildCore(esbuild, dir, packages) {
  const plugin = {
    name: "runbook-core",
    setup(b) {
      b.onLoad({ filter: /\.ts$/ }, (a) => ({ contents: coreSource(a.path), loader: "ts" }));
      // A native addon stays where it was installed (ssh2's crypto binding).
      b.onResolve({ filter: /\.node$/ }, (a) => ({ path: resolve(a.resolveDir, a.path), external: true }));
    },
  };
  const common = { absWorkingDir: ROOT, bundle: true, platform: "node", target: "node20", logLevel: "silent", plugins: [plugin] };
  const probe = await esbuild.build({ ...common, entryPoints: CORE_ENTRIES, write: false, packages: "external", format: "esm", metafile: true, outdir: dir });
  const found = Object.keys(probe.metafile.inputs).filter((f) => f.endsWith(".ts"));
  // The entries first, so modules evaluate in the order `runbook play` imported them.
  const modules = [...CORE_ENTRIES, ...found.filter((f) => !CORE_ENTRIES.includes(f)).sort()];
  const entry = [
    ...modules.map((m, i) => `import * as m${i} from ${JSON.stringify(`./${m}`)};`),
    ...packages.map((p, i) => `import * as p${i} from ${JSON.stringify(p)};`),
    `export const modules = { ${modules.map((m, i) => `${JSON.stringify(m)}: m${i}`).join(", ")} };`,
    `export const packages = { ${packages.map((p, i) => `${JSON.stringify(p)}: p${i}`).join(", ")} };`,
  ].join("\n");
  await esbuild.build({
    ...common,
    stdin: { contents: entry, resolveDir: ROOT, sourcefile: "runbook-core.js", loader: "js" },
    format: "cjs",
    outfile: join(dir, "core.cjs"),
    sourcemap: "linked",
    external: CORE_EXTERNAL,
  });
  // esbuild escapes non-ASCII characters in code (charset "ascii"), not in
  // comments: with those replaced (one "?" per UTF-16 unit, so columns stay),
  // the file is ASCII and the loader reads it as latin1, a plain copy
  // (decoding 2 MB of UTF-8 took ~9 ms).
  const out = join(dir, "core.cjs");
  writeFileSync(out, readFileSync(out, "utf8").replace(/[^\x00-\x7f]/g, "?"));
  return modules;
}

/**
 * Replaces the compiled file of every core module by a shim that exports
 * the core's instance, and writes vendor/NAME.js (the core's copy of each
 * VENDOR package) and core.js (loads the core, once per process). Users'
 * bundles and the modules outside the core import these, so every module
 * has one instance.
 */
function writeShims(dir, modules, metafile, vendor) {
  writeFileSync(join(dir, "core.js"), `import { loadCore } from ${JSON.stringify(pathToFileURL(join(ROOT, "bin", "load-core.js")).href)};\nexport const core = loadCore(import.meta.url);\n`);
  /** `names` of the object `lookup` evaluates to, and `default` as `defaultOf` (an expression of \`__m\`) unless null. */
  const shim = (file, lookup, names, defaultOf) => {
    const coreRel = relative(dirname(file), join(dir, "core.js")).split(sep).join("/");
    const lines = [`import { core as __runbookCore } from ${JSON.stringify(coreRel.startsWith(".") ? coreRel : `./${coreRel}`)};`, `const __m = ${lookup};`];
    if (names.length) lines.push(`const ${names.map((n, i) => `__e${i} = __m[${JSON.stringify(n)}]`).join(", ")};`, `export { ${names.map((n, i) => `__e${i} as ${n}`).join(", ")} };`);
    if (defaultOf) lines.push(`export default ${defaultOf};`);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, lines.join("\n") + "\n");
    rmSync(`${file}.map`, { force: true });
  };
  /**
   * A module's export names: its own (esbuild's metafile), and those of the
   * modules it re-exports with `export * from`, which the file-for-file
   * build leaves as imports and so cannot list.
   */
  const exportsOf = (rel, seen = new Set()) => {
    if (seen.has(rel)) return [];
    seen.add(rel);
    const names = new Set(metafile.outputs[join("dist", basename(dir), rel.replace(/\.ts$/, ".js")).split(sep).join("/")]?.exports ?? []);
    for (const m of readFileSync(join(ROOT, rel), "utf8").matchAll(/^export \* from ["'](\.{1,2}\/[^"']+)["']/gm)) {
      const target = relative(ROOT, resolve(ROOT, dirname(rel), m[1])).split(sep).join("/");
      for (const n of exportsOf(target, seen)) if (n !== "default") names.add(n);
    }
    return [...names];
  };
  for (const rel of modules) {
    const exports = exportsOf(rel);
    shim(join(dir, rel.replace(/\.ts$/, ".js")), `__runbookCore.modules[${JSON.stringify(rel)}]`, exports.filter((n) => n !== "default"), exports.includes("default") ? `__m.default` : null);
  }
  for (const [pkg, names] of vendor) {
    // A CommonJS package's names may be on its default export only.
    const ns = `__runbookCore.packages[${JSON.stringify(pkg)}]`;
    const lookup = names.length ? `${ns}[${JSON.stringify(names[0])}] !== undefined ? ${ns} : (${ns}.default ?? ${ns})` : ns;
    shim(join(dir, "vendor", `${pkg}.js`), lookup, names, `${ns}.default ?? ${ns}`);
  }
}

function removeOldBuilds(keep) {
  for (const name of readdirSync(DIST)) {
    const p = join(DIST, name);
    if (name === keep || name === "current.json" || name.startsWith("current.json.")) continue;
    try {
      if (Date.now() - statSync(p).mtimeMs > KEEP_OLD_MS) rmSync(p, { recursive: true, force: true });
    } catch {
      // another process removed it
    }
  }
}

/** The current build, built now if missing or stale; null if this user cannot write one here. */
export async function ensureBuild() {
  const found = currentBuild();
  if (found) return found;
  try {
    mkdirSync(DIST, { recursive: true });
    accessSync(DIST, constants.W_OK);
  } catch {
    return null;
  }
  return build();
}

/**
 * Imports a user's TypeScript module (a playbook, a TS inventory): bundled
 * with its own imports, runbook's modules imported from the build.
 *
 * @param {Build} b
 * @param {string} file
 */
export async function importBundled(b, file) {
  const abs = realpathSync(resolve(file));
  const key = createHash("sha1").update(abs).digest("hex").slice(0, 16);
  const cacheDir = userCacheDir(b);
  const out = join(cacheDir, `${key}.mjs`);
  const inputsFile = join(cacheDir, `${key}.inputs.json`);
  if (!fresh(inputsFile)) {
    const { code, map, inputs } = await bundle(b, abs, cacheDir);
    const put = (file, text) => {
      writeFileSync(`${file}.${process.pid}`, text);
      renameSync(`${file}.${process.pid}`, file);
    };
    put(`${out}.map`, map);
    put(out, code.replace(/sourceMappingURL=bundle\.mjs\.map/, `sourceMappingURL=${key}.mjs.map`));
    writeFileSync(`${inputsFile}.${process.pid}`, JSON.stringify(inputs));
    renameSync(`${inputsFile}.${process.pid}`, inputsFile);
  }
  return import(pathToFileURL(out).href);
}

/** The build's bundle cache, or a private one under the temp dir when the build is not writable by this user. */
function userCacheDir(b) {
  const own = join(b.dir, "user");
  try {
    mkdirSync(own, { recursive: true });
    accessSync(own, constants.W_OK);
    return own;
  } catch {
    const mine = join(USER_CACHE, b.id);
    mkdirSync(mine, { recursive: true, mode: 0o700 });
    return mine;
  }
}

function fresh(inputsFile) {
  try {
    const inputs = JSON.parse(readFileSync(inputsFile, "utf8"));
    for (const [file, [mtime, size]] of Object.entries(inputs)) {
      const [m, s] = stamp(file);
      if (m !== mtime || s !== size) return false;
    }
    return true;
  } catch {
    return false;
  }
}

async function bundle(b, entry, outDir) {
  const esbuild = await import("esbuild");
  const ownPrefix = ROOT + sep;
  const resolving = Symbol("resolving");
  let result;
  try {
    result = await esbuild.build({
      entryPoints: [entry],
      bundle: true,
      write: false,
      metafile: true,
      format: "esm",
      platform: "node",
      target: "node20",
      sourcemap: "linked",
      outfile: join(outDir, "bundle.mjs"),
      logLevel: "silent",
      plugins: [
        {
          name: "runbook-user-bundle",
          setup(pb) {
            pb.onResolve({ filter: /.*/ }, async (a) => {
              if (a.kind === "entry-point" || a.pluginData === resolving || a.path.startsWith("node:")) return undefined;
              const r = await pb.resolve(a.path, { kind: a.kind, importer: a.importer, resolveDir: a.resolveDir, pluginData: resolving });
              if (r.errors.length || r.external || !r.path) return r.errors.length ? { errors: r.errors } : undefined;
              const real = realpathSync(r.path);
              const rel = real.startsWith(ownPrefix) ? relative(ROOT, real) : null;
              if (rel && b.sources[rel]) {
                return { path: pathToFileURL(join(b.dir, rel.replace(/\.ts$/, ".js"))).href, external: true };
              }
              // Packages runbook vendors: the same bundle its own modules import (one zod).
              if (VENDOR.includes(a.path) && b.vendor?.includes(a.path) && real.startsWith(join(ROOT, "node_modules") + sep)) {
                const vendored = join(b.dir, "vendor", `${a.path}.js`);
                if (existsSync(vendored)) return { path: pathToFileURL(vendored).href, external: true };
              }
              // Other packages are imported where they were found.
              if (real.includes(`${sep}node_modules${sep}`)) return { path: pathToFileURL(real).href, external: true };
              return { path: real };
            });
            pb.onLoad({ filter: /\.[cm]?[jt]s$/ }, (a) => ({ contents: withSourceLocation(a.path), loader: loaderFor(a.path) }));
          },
        },
      ],
    });
  } catch (err) {
    throw buildError(err, process.cwd());
  }
  const cwd = process.cwd();
  /** @type {Record<string, [number, number]>} */
  const inputs = {};
  for (const f of Object.keys(result.metafile.inputs)) {
    const abs = resolve(cwd, f);
    inputs[abs] = stamp(abs);
  }
  const text = (ext) => result.outputFiles.find((f) => f.path.endsWith(ext)).text;
  return { code: text(".mjs"), map: text(".mjs.map"), inputs };
}

/** @type {Map<string, SourceMap | null>} */
const sourceMaps = new Map();

/**
 * A stack trace with the compiled files' positions replaced by the
 * TypeScript sources'. Maps are read only here, when a stack is shown:
 * Node's own source-map support costs ~0.1 s at every start-up.
 */
export function sourceStack(stack) {
  return stack.replace(/file:\/\/[^\s)]+?:(\d+):(\d+)/g, (whole, line, col) => {
    const file = fileURLToPath(whole.slice(0, whole.length - line.length - col.length - 2));
    if (!file.startsWith(DIST + sep) && !file.startsWith(USER_CACHE + sep)) return whole;
    if (!sourceMaps.has(file)) {
      try {
        sourceMaps.set(file, new SourceMap(JSON.parse(readFileSync(`${file}.map`, "utf8"))));
      } catch {
        sourceMaps.set(file, null);
      }
    }
    const entry = sourceMaps.get(file)?.findEntry(Number(line) - 1, Number(col) - 1);
    if (!entry?.originalSource) return whole;
    const src = entry.originalSource.startsWith("file:") ? fileURLToPath(entry.originalSource) : resolve(dirname(file), entry.originalSource);
    return `${src}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
  });
}

// `node bin/compile.js` (npm's prepare step): build now if stale.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const b = currentBuild() ?? (await build());
  process.stdout.write(`runbook: compiled build ${b.id}\n`);
}
