/**
 * Shared by the data-driven plan tests (package, service, kernel module):
 * facts from the captured fixtures, a canned state reader that proves one
 * round trip, and a plan rendered as the lines a user would see.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import * as assert from "uvu/assert";
import { parseFacts, type Facts } from "../../runner/facts/index.ts";
import type { Plan } from "../../runner/task.ts";
import type { Section } from "../../tasks/probe.ts";

const FIXTURES = fileURLToPath(new URL("../fixtures/facts/", import.meta.url));

/** Captured hosts: debian-12-vm (apt, systemd), debian-12-container (apt, no init), almalinux-9 (dnf, systemd), slackware-15.0 (slackpkg), slackware-current (pkgtools). */
export type FactsFixture = "debian-12-vm" | "debian-12-container" | "raspios-12-arm64" | "almalinux-9" | "slackware-15.0" | "slackware-current";

const cache = new Map<string, Facts>();
export function fixtureFacts(name: FactsFixture): Facts {
  let f = cache.get(name);
  if (!f) {
    f = parseFacts(readFileSync(join(FIXTURES, `${name}.txt`), "utf8"), { strict: true });
    cache.set(name, f);
  }
  return f;
}

/** A section's canned output: a string (exit 0) or output and exit code. */
export type Canned = string | { out: string; code: number };

/**
 * A state reader answering from `state`; fails on a section the case did
 * not provide. `calls` counts round trips.
 */
export function cannedReader(state: Record<string, Canned>) {
  const seen: { calls: number; parts: Record<string, string> } = { calls: 0, parts: {} };
  const read = async (parts: Record<string, string>): Promise<Record<string, Section>> => {
    seen.calls++;
    seen.parts = parts;
    const out: Record<string, Section> = {};
    for (const key of Object.keys(parts)) {
      const c = state[key];
      if (c === undefined) throw new Error(`test case gives no state for probe section "${key}"`);
      out[key] = typeof c === "string" ? { out: c, code: 0 } : c;
    }
    return out;
  };
  return { read, seen };
}

/** Changes as lines: the command of a run, `put PATH (mode M)` for a write. */
export function planLines(plan: Plan): string[] {
  return plan.changes.map((c) => (c.kind === "run" ? c.command : c.kind === "local" ? c.describe : c.kind === "reconnect" ? `reconnect until ${c.probe} changes` : `put ${c.path}${c.mode ? ` (mode ${c.mode})` : ""}`));
}

export interface PlanCase<P> {
  name: string;
  facts: FactsFixture;
  params: P;
  state: Record<string, Canned>;
  /** Expected planned changes (see planLines); [] for a no-op. */
  changes?: string[];
  /** The reason, exactly (string) or matching (RegExp). */
  reason?: string | RegExp;
  /** The plan must fail with a message matching this. */
  error?: RegExp;
  /** Extra checks on the plan and the probe parts sent. */
  check?: (plan: Plan, parts: Record<string, string>) => void;
}

/** Runs one case against a planner. */
export async function runPlanCase<P>(c: PlanCase<P>, planner: (facts: Facts, p: P, read: ReturnType<typeof cannedReader>["read"]) => Promise<Plan>): Promise<void> {
  const { read, seen } = cannedReader(c.state);
  let plan: Plan;
  try {
    plan = await planner(fixtureFacts(c.facts), c.params, read);
  } catch (err) {
    if (!c.error) throw err;
    assert.match((err as Error).message, c.error);
    return;
  }
  if (c.error) assert.unreachable(`expected an error matching ${c.error}, got plan: ${JSON.stringify(planLines(plan))}`);
  assert.is(seen.calls, 1, "state is read in exactly one round trip");
  if (c.changes) assert.equal(planLines(plan), c.changes);
  if (typeof c.reason === "string") assert.is(plan.reason, c.reason);
  else if (c.reason) assert.match(plan.reason, c.reason);
  c.check?.(plan, seen.parts);
}
