// Loads a build's core (bin/compile.js): runbook's modules that every
// `runbook play` needs, and the npm packages they import, bundled into one
// CommonJS file, dist/<build>/core.cjs. It runs through vm.Script with V8's
// code cache (core.play.cache beside it, written at the exit of the first
// `runbook play FILE`, so it holds the functions a play compiles; before
// that, core.cache from whatever command ran first): a start then neither
// reads ~100 files nor parses and compiles them again. Node 20 has no
// compile cache of its own (module.enableCompileCache is Node 22).
//
// The core's dynamic imports (`import(...)` in the sources) were rewritten
// by the build to calls of __runbookImport(sourceUrl, specifier), which
// imports runbook's lazily loaded modules from the build's file-for-file
// output (they import the core's modules through small shim files, so
// there is one instance of every module).
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import vm from "node:vm";

/**
 * The core's exports: `modules` (source path, e.g. "runner/index.ts" ->
 * its namespace) and `packages` (npm name -> namespace).
 *
 * @param {string} coreModuleUrl the URL of dist/<build>/core.js
 */
export function loadCore(coreModuleUrl) {
  const dir = dirname(fileURLToPath(coreModuleUrl));
  const root = join(dir, "..", "..");
  const file = join(dir, "core.cjs");
  // The cache a `runbook play` wrote holds what a play compiles; another command's holds less and is replaced by the next play's.
  const play = process.argv[2] === "play" && process.argv.length > 3 && !process.argv.includes("--help");
  const playCache = join(dir, "core.play.cache");
  const otherCache = join(dir, "core.cache");
  let cachedData;
  let from;
  for (const f of [playCache, otherCache]) {
    try {
      cachedData = readFileSync(f);
      from = f;
      break;
    } catch {
      // none yet
    }
  }
  // One line with the source's first, so line numbers (and the source map)
  // stay right. latin1: the build made the file ASCII (a copy, no decoding).
  const wrapped = `(function (exports, require, module, __filename, __dirname, __runbookImport) {${readFileSync(file, "latin1")}\n})`;
  // A file: URL as the name, so stack traces (and sourceStack) see it like the ES modules' files.
  const script = new vm.Script(wrapped, { filename: pathToFileURL(file).href, cachedData });
  if (cachedData === undefined || script.cachedDataRejected || (play && from !== playCache)) {
    // At exit, so it holds the functions this run compiled.
    process.once("exit", () => {
      const target = play ? playCache : otherCache;
      const tmp = `${target}.${process.pid}`;
      try {
        writeFileSync(tmp, script.createCachedData());
        renameSync(tmp, target);
      } catch {
        rmSync(tmp, { force: true }); // a build directory this user cannot write: no cache
      }
    });
  }
  /** @param {string} from the importing source file's URL @param {string} spec */
  const importFrom = (from, spec) => {
    if (spec.startsWith("./") || spec.startsWith("../")) {
      const source = fileURLToPath(new URL(spec, from));
      const rel = relative(root, source);
      // runbook's own module: its compiled file (or shim) in this build.
      if (!rel.startsWith(`..${sep}`)) return import(pathToFileURL(join(dir, rel.replace(/\.ts$/, ".js"))).href);
      return import(pathToFileURL(source).href);
    }
    return import(spec);
  };
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(file), module, file, dir, importFrom);
  return module.exports;
}
