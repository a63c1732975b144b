/**
 * Host facts: gathered once per host per run, in one round trip, with only
 * POSIX sh and coreutils on the host (DESIGN.md §5).
 *
 * Each fact is a small unit (./unit.ts): what it needs from the host, a
 * parser tested on captured output from each OS family, and a default. The
 * units' needs are combined into {@link FACTS_SCRIPT}; its output is parsed
 * by {@link parseFacts}.
 */
import { buildFactsScript } from "./script.ts";
import { FactsOutputError, splitRaw, type FactUnit, type RawFacts } from "./unit.ts";
import type { Facts } from "./types.ts";
import type { FactsSummary } from "../events.ts";
import { osUnit } from "./os.ts";
import {
  archUnit,
  cgroupUnit,
  containerUnit,
  epochUnit,
  fqdnUnit,
  gidUnit,
  groupsUnit,
  hostnameUnit,
  initSystemUnit,
  kernelUnit,
  nodenameUnit,
  packageManagerUnit,
  python3Unit,
  shUnit,
  uidUnit,
  uptimeUnit,
  userUnit,
} from "./system.ts";
import { blockDevicesUnit, boardUnit, cpuUnit, memoryUnit } from "./hardware.ts";
import { defaultRouteUnit, interfacesUnit } from "./network.ts";

export type * from "./types.ts";
export type { FactUnit, RawFacts, ScriptFragment } from "./unit.ts";
export { FactsOutputError, MARKER, splitRaw } from "./unit.ts";
export { buildFactsScript } from "./script.ts";
export { parseOsRelease, osFamily } from "./os.ts";
export { hostsFqdn, parseId } from "./system.ts";
export { countCpuList } from "./hardware.ts";
export { ipv6FromHex, parseIfconfig, parseIpAddr, parseIpLink } from "./network.ts";
export type { NamedAddress } from "./network.ts";

/**
 * Every fact and the unit that produces it. The mapped type makes a fact
 * without a unit (or a unit of the wrong type) a compile error.
 *
 * @example
 * FACT_UNITS.cgroup.parse(splitRaw(stdout)).version // 2
 */
export const FACT_UNITS: { readonly [K in keyof Facts]: FactUnit<Facts[K]> } = {
  os: osUnit,
  kernel: kernelUnit,
  arch: archUnit,
  hostname: hostnameUnit,
  nodename: nodenameUnit,
  fqdn: fqdnUnit,
  board: boardUnit,
  cpu: cpuUnit,
  memory: memoryUnit,
  interfaces: interfacesUnit,
  defaultRoute: defaultRouteUnit,
  initSystem: initSystemUnit,
  container: containerUnit,
  packageManager: packageManagerUnit,
  cgroup: cgroupUnit,
  blockDevices: blockDevicesUnit,
  user: userUnit,
  uid: uidUnit,
  gid: gidUnit,
  groups: groupsUnit,
  epoch: epochUnit,
  uptimeSeconds: uptimeUnit,
  python3: python3Unit,
  sh: shUnit,
};

const FACT_NAMES = Object.keys(FACT_UNITS) as (keyof Facts)[];

/**
 * The POSIX sh script that prints every fact's raw data, in sections opened
 * by `@@runbook-facts@@ NAME` lines. Run it with `sh -c` (or feed it to
 * `sh -s`); it never fails as a whole and always exits 0.
 *
 * @example
 * import { shq } from "../quote.ts";
 * const { stdout } = await conn.exec(`sh -c ${shq(FACTS_SCRIPT)}`);
 */
export const FACTS_SCRIPT: string = buildFactsScript(Object.values(FACT_UNITS) as FactUnit<unknown>[]);

/**
 * A fact whose parser threw; its default was used instead.
 *
 * @example
 * parseFacts(stdout, { onProblem: (p: FactProblem) => log.warn(`fact ${p.fact}: ${p.message}`) });
 */
export interface FactProblem {
  fact: keyof Facts;
  message: string;
}

/**
 * Options for {@link parseFacts}.
 *
 * @example
 * const opts: ParseFactsOptions = { strict: true };
 */
export interface ParseFactsOptions {
  /** Throw on the first fact that fails to parse instead of using its default (tests use this). */
  strict?: boolean;
  /** Called for each fact that fell back to its default. */
  onProblem?: (problem: FactProblem) => void;
}

function parseOne<K extends keyof Facts>(name: K, raw: RawFacts, opts: ParseFactsOptions): Facts[K] {
  const unit = FACT_UNITS[name];
  try {
    return unit.parse(raw);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (opts.strict) throw new Error(`fact ${name}: ${message}`);
    opts.onProblem?.({ fact: name, message });
    return structuredClone(unit.default);
  }
}

/**
 * Parses the stdout of {@link FACTS_SCRIPT} into typed facts. A fact the host
 * gave nothing usable for gets its unit's default (or throws with `strict`).
 * Throws {@link FactsOutputError} when the output is not the script's.
 *
 * @example
 * const facts = parseFacts(readFileSync("test/fixtures/facts/slackware-15.0.txt", "utf8"));
 * facts.initSystem // "slackware-bsd"
 */
export function parseFacts(stdout: string, opts: ParseFactsOptions = {}): Facts {
  const raw = splitRaw(stdout);
  const facts = {} as Facts;
  const set = <K extends keyof Facts>(name: K) => {
    facts[name] = parseOne(name, raw, opts);
  };
  for (const name of FACT_NAMES) set(name);
  return facts;
}

/**
 * Runs a script on a host: the one thing facts need from a connection.
 *
 * @example
 * const local: ScriptRunner = (script) => run("sh", ["-c", script], { allowFail: true });
 */
export type ScriptRunner = (script: string) => Promise<{ stdout: string; stderr: string; code: number }>;

/**
 * Gathers a host's facts in one round trip through `run`, which must execute
 * its argument with a POSIX sh on the host.
 *
 * @example
 * const facts = await gatherFacts((script) => conn.exec(`sh -c ${shq(script)}`));
 * if (facts.os.family === "slackware") ...
 */
export async function gatherFacts(run: ScriptRunner, opts: ParseFactsOptions = {}): Promise<Facts> {
  const result = await run(FACTS_SCRIPT);
  try {
    return parseFacts(result.stdout, opts);
  } catch (err) {
    if (err instanceof FactsOutputError) {
      const detail = result.stderr.trim() ? `: ${result.stderr.trim()}` : "";
      throw new FactsOutputError(`${err.message} (exit ${result.code})${detail}`);
    }
    throw err;
  }
}

/** The summary of facts a run records (`host.facts`), for the web UI's Nodes page. */
export function summarizeFacts(f: Facts): FactsSummary {
  const addresses = (f.interfaces ?? []).flatMap((i) => i.addresses.filter((a) => a.scope === undefined || a.scope === "global").map((a) => `${a.address}/${a.prefix} ${i.name}`));
  return {
    hostname: f.hostname,
    fqdn: f.fqdn,
    os: f.os?.prettyName || `${f.os?.name ?? "?"} ${f.os?.version ?? ""}`.trim(),
    family: f.os?.family ?? "unknown",
    kernel: f.kernel?.release ?? "",
    arch: f.arch,
    board: f.board ?? null,
    cpus: f.cpu?.count ?? 0,
    cpuModel: f.cpu?.model ?? null,
    memoryMiB: f.memory?.totalMiB ?? 0,
    addresses,
    defaultRoute: f.defaultRoute ? `${f.defaultRoute.gateway ? `via ${f.defaultRoute.gateway} ` : ""}dev ${f.defaultRoute.interface}` : null,
    init: f.initSystem,
    container: f.container ?? null,
    packageManager: f.packageManager ?? null,
    uptimeSeconds: f.uptimeSeconds ?? null,
  };
}
