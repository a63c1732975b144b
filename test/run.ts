/**
 * `npm test`: the type check, then every uvu suite (unit, then lab, then
 * end-to-end), ending with one line `N passed, N failed, N skipped`.
 *
 *   npm test                 everything
 *   npm test -- unit         only suites whose path matches /unit/
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";

interface Tally {
  passed: number;
  failed: number;
  skipped: number;
}

const filter = process.argv[2] ? new RegExp(process.argv[2]) : null;
const GROUPS = ["test/unit", "test/lab", "test/e2e"];

/** Runs a command, echoing its output, and returns the output. */
function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, FORCE_COLOR: process.stdout.isTTY ? "1" : "0" } });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d;
      process.stdout.write(d);
    });
    child.stderr.on("data", (d: Buffer) => {
      out += d;
      process.stderr.write(d);
    });
    child.on("close", (code) => resolve({ code: code ?? 1, out }));
  });
}

const strip = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "");

async function main(): Promise<number> {
  const tally: Tally = { passed: 0, failed: 0, skipped: 0 };
  const started = Date.now();

  if (!filter || filter.test("typecheck")) {
    console.log("typecheck: tsc --noEmit");
    const tsc = await run(process.execPath, ["node_modules/typescript/bin/tsc", "--noEmit", "-p", "."]);
    if (tsc.code === 0) tally.passed++;
    else tally.failed++;
  }

  for (const dir of GROUPS) {
    const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".test.ts") && (!filter || filter.test(`${dir}/${f}`))) : [];
    if (files.length === 0) continue;
    // uvu matches its pattern against paths relative to the group directory.
    const pattern = `^(${files.map((f) => f.replace(/[.]/g, "\\.")).join("|")})$`;
    const color = process.stdout.isTTY ? [] : ["--no-color"];
    const res = await run(process.execPath, ["--import", "tsx", "node_modules/uvu/bin.js", dir, pattern, ...color]);
    const text = strip(res.out);
    const total = Number(text.match(/Total:\s+(\d+)/)?.[1] ?? NaN);
    const passed = Number(text.match(/Passed:\s+(\d+)/)?.[1] ?? NaN);
    const skipped = Number(text.match(/Skipped:\s+(\d+)/)?.[1] ?? 0);
    if (Number.isNaN(total) || Number.isNaN(passed)) {
      // The suite died before uvu could summarize: count it as one failure.
      console.error(`${dir}: the test process exited (${res.code}) without a summary`);
      tally.failed++;
      continue;
    }
    tally.passed += passed;
    tally.failed += total - passed + (res.code !== 0 && total === passed ? 1 : 0);
    tally.skipped += skipped;
  }

  console.log(`\n(${((Date.now() - started) / 1000).toFixed(0)} s)`);
  console.log(`${tally.passed} passed, ${tally.failed} failed, ${tally.skipped} skipped`);
  return tally.failed === 0 && tally.passed > 0 ? 0 : 1;
}

main().then((code) => process.exit(code));
