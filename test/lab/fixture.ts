/**
 * Lab fixtures for uvu suites: `labSuite()` brings a lab up before the
 * suite's tests and always tears it down after them. When the lab cannot run
 * here (not root, no namespaces) every test of the suite is registered as
 * skipped and the reason is printed: a skip, never a silent pass.
 */
import { suite, type Test } from "uvu";
import * as assert from "uvu/assert";
import { down, labUnavailable, up, type Lab, type LabHost, type UpOptions } from "./lab.ts";
import { run, type RunResult } from "./sh.ts";
import { ensureLabTools } from "./tools.ts";

/** Lab instance id used by tests (the demo uses 0). */
export const TEST_LAB_ID = Number(process.env.RUNBOOK_TEST_LAB_ID ?? 1);

export interface LabContext {
  lab: Lab;
}

let unavailable: Promise<string | null> | undefined;

/** Why lab tests are skipped here, or null (checked once per process). */
export function labSkipReason(): Promise<string | null> {
  unavailable ??= ensureLabTools((l) => console.error(l))
    .catch(() => undefined)
    .then(() => labUnavailable());
  return unavailable;
}

/**
 * A uvu suite whose context holds a running lab. If bringing the lab up
 * fails, every test fails with that error (uvu would otherwise swallow a
 * failing `before` hook).
 */
export async function labSuite(name: string, opts: Omit<UpOptions, "id">): Promise<Test<LabContext>> {
  const reason = await labSkipReason();
  const s = suite<LabContext>(name, {} as LabContext);
  if (reason) {
    console.error(`SKIP ${name}: ${reason}`);
    const skipping = ((_name: string) => s.skip()) as unknown as Test<LabContext>;
    return Object.assign(skipping, { run: s.run, skip: s.skip, only: s.only, before: s.before, after: s.after });
  }
  let upError: unknown;
  s.before(async (ctx) => {
    try {
      // A lab left on this id by a crashed run is this suite's to replace.
      ctx.lab = await up({ ...opts, id: opts.python ? TEST_LAB_ID + 1 : TEST_LAB_ID, replace: true });
    } catch (err) {
      upError = err;
    }
  });
  s.after(async (ctx) => {
    await down(ctx.lab?.id ?? TEST_LAB_ID);
  });
  s.before.each(() => {
    if (upError) throw upError;
  });
  return s;
}

/** Runs a shell command on a lab host with the system ssh client (tests of the lab itself). */
export function ssh(lab: Lab, host: LabHost | string, command: string, opts: { allowFail?: boolean; input?: string } = {}): Promise<RunResult> {
  const name = typeof host === "string" ? host : host.name;
  return run("ssh", ["-F", lab.sshConfig, "-o", "BatchMode=yes", name, command], opts);
}

/**
 * Polls `fn` until it returns a truthy value, and returns that value; an
 * error thrown by `fn` counts as "not yet". Fails after `seconds` naming
 * `what` and the last result or error. Waits on a condition, never a sleep
 * in place of one.
 *
 * @example const leader = await poll(60, () => healthy(lab, "nb"), "one NB leader");
 */
export async function poll<T>(seconds: number, fn: () => Promise<T | undefined | null | false>, what: string, intervalMs = 500): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`${what}: not within ${seconds} s (last: ${last instanceof Error ? last.message : String(last)})`);
}

/** Polls `check` every 25 ms until it returns true (or fails after `ms`). */
export async function until(what: string, check: () => Promise<boolean>, ms = 5000): Promise<void> {
  try {
    await poll(ms / 1000, check, what, 25);
  } catch (err) {
    assert.unreachable(`timed out waiting for ${what} (${err instanceof Error ? err.message : String(err)})`);
  }
}
