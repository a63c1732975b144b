/**
 * `package`: software packages installed, at the latest version, or absent,
 * through the host's package manager (from `facts.packageManager`, or
 * `manager` to override it).
 *
 * Backends:
 * - **apt** (Debian, Ubuntu, Raspberry Pi OS): state from `dpkg-query`,
 *   `apt-get install -y --no-install-recommends` with
 *   `DEBIAN_FRONTEND=noninteractive` (changed config files keep the local
 *   version, as Ansible's `force-confdef,force-confold`), `apt-get remove -y`.
 * - **dnf** / **yum** (RHEL-likes): state from `rpm -q`, `dnf install -y`,
 *   `dnf upgrade -y` for `latest` (what needs it, from `dnf -C check-update`),
 *   `dnf remove -y`. dnf refreshes its own metadata when it expires.
 * - **pkgtools** (Slackware): state from `/var/log/packages`, whose entries
 *   are named `NAME-VERSION-ARCH-BUILD` (the name is everything before the
 *   last three dash-separated fields). Packages come from `src` on the host:
 *   `installpkg` for `present`, `upgradepkg --install-new` for `latest`
 *   (which installs or upgrades, or downgrades, to exactly the package in
 *   `src`), `removepkg NAME` for `absent`.
 * - **slackpkg** (Slackware with a mirror configured): `slackpkg install` /
 *   `slackpkg upgrade` (`latest`: when /var/lib/slackpkg/pkglist names
 *   another build than the installed one), and `removepkg` for `absent`
 *   (slackpkg's own `remove` matches patterns and whole series). With `src`
 *   the pkgtools backend is used instead.
 *
 * The state of every name is read in one round trip.
 *
 * Package lists (apt's /var/lib/apt/lists, slackpkg's pkglist) are
 * refreshed only when that is needed, decided by `updateCache`:
 * - not set (default): when the lists are missing and something must be
 *   installed;
 * - `N` (seconds, Ansible's `cache_valid_time`): also when they are older
 *   than N seconds and something must be installed, or for `state: latest`
 *   (whose answer depends on fresh lists); `true` means 3600;
 * - `false`: never.
 * A refresh is a change of its own (reported changed); after it, apt stamps
 * /var/lib/apt/periodic/update-success-stamp so the age is known even when
 * the mirror had nothing new.
 *
 * @example
 *   await h.package({ name: ["ntp", "chrony"], state: "absent" });
 *   await h.package({ name: "frr", src: "/tmp/packages/frr-*.txz" });          // Slackware: SBo build
 *   await h.package({ name: ["frr", "libyang"], src: "/tmp/packages", state: "latest" });
 *   await h.package({ name: "hello", state: "latest", updateCache: 3600 });     // apt
 */
import type { Facts, PackageManager } from "../runner/facts/types.ts";
import { shq, shjoin } from "../runner/quote.ts";
import { defineTask, type Plan, type RunChange } from "../runner/task.ts";
import { probeSections, type Section } from "./probe.ts";

export type PackageState = "present" | "absent" | "latest";

/** Package managers the task drives. */
export type PackageBackend = "apt" | "dnf" | "yum" | "pkgtools" | "slackpkg";

export interface PackageParams {
  /** One package name or several (handled in one command). */
  name: string | string[];
  /** Default `present`: installed, any version. */
  state?: PackageState;
  /** Override the package manager from facts. */
  manager?: PackageBackend;
  /**
   * Slackware only: where the packages are on the host — a package file
   * (`/tmp/packages/frr-10.4.1-x86_64-1_SBo.txz`), a directory, a glob in the
   * file name (`/tmp/packages/frr-*.txz`), or an http(s)/ftp URL (fetched
   * with curl or wget). When several files match a name, the highest
   * version (then build) wins.
   */
  src?: string;
  /** When to refresh the package lists (see the module doc); `true` = 3600 s. */
  updateCache?: boolean | number;
}

/** The state probes a backend needs, by section name (run in one round trip). */
export type ProbeParts = Record<string, string>;

/** Reads state: runs the probe parts on the host and returns each one's output. */
export type ProbeReader = (parts: ProbeParts) => Promise<Record<string, Section>>;

interface Request {
  names: string[];
  state: PackageState;
  params: PackageParams;
}

interface Backend {
  probe(req: Request): ProbeParts;
  plan(req: Request, s: Record<string, Section>): Plan;
}

const APT_ENV = "DEBIAN_FRONTEND=noninteractive";
const APT_INSTALL = `${APT_ENV} apt-get install -y --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold`;
const APT_STAMP = "/var/lib/apt/periodic/update-success-stamp";
const SLACKPKG = "slackpkg -batch=on -default_answer=y";
const SLACKPKG_LIST = "/var/lib/slackpkg/pkglist";
const DEFAULT_MAX_AGE = 3600;

/** Which backend a host uses: `manager`, else facts; `src` means pkgtools on Slackware. */
export function packageBackend(facts: Facts, p: Pick<PackageParams, "manager" | "src">): PackageBackend {
  const pm: PackageManager | null = p.manager ?? facts.packageManager;
  if (pm === "slackpkg" && p.src !== undefined) return "pkgtools";
  switch (pm) {
    case "apt":
    case "dnf":
    case "yum":
    case "pkgtools":
    case "slackpkg":
      return pm;
    case null:
      throw new Error("no package manager found on the host (facts.packageManager is null); set `manager`");
    default:
      throw new Error(`package manager ${pm} is not supported (supported: apt, dnf, yum, pkgtools, slackpkg)`);
  }
}

/**
 * The plan for `params` on a host with `facts`, reading host state through
 * `read` (the task passes a one-round-trip probe; unit tests pass canned
 * output).
 */
export async function planPackage(facts: Facts, params: PackageParams, read: ProbeReader): Promise<Plan> {
  const names = (Array.isArray(params.name) ? params.name : [params.name]).filter((n, i, all) => all.indexOf(n) === i);
  if (names.length === 0) throw new Error("package: name is empty");
  for (const n of names) {
    if (!/^[A-Za-z0-9+_.:@~-]+$/.test(n) || n.startsWith("-")) throw new Error(`package: invalid package name ${JSON.stringify(n)}`);
  }
  const backend = packageBackend(facts, params);
  if (params.src !== undefined && backend !== "pkgtools") throw new Error(`package: src is for Slackware packages (pkgtools), not ${backend}`);
  const req: Request = { names, state: params.state ?? "present", params };
  const b = BACKENDS[backend];
  return b.plan(req, await read(b.probe(req)));
}

export const packageTask = defineTask<PackageParams>({
  kind: "package",
  describe: (p) => `package ${(Array.isArray(p.name) ? p.name : [p.name]).join(", ")} (${p.state ?? "present"})`,
  plan: (ctx, p) => planPackage(ctx.facts, p, (parts) => probeSections(ctx, parts)),
});

// ---------------------------------------------------------------- helpers

function section(s: Record<string, Section>, key: string): Section {
  const found = s[key];
  if (!found) throw new Error(`package: state probe returned no ${key} section`);
  return found;
}

function lines(text: string): string[] {
  return text.split("\n").filter((l) => l.trim() !== "");
}

const list = (xs: string[]) => xs.join(", ");

function maxAge(updateCache: boolean | number | undefined): number | undefined {
  if (updateCache === true) return DEFAULT_MAX_AGE;
  if (typeof updateCache === "number") {
    if (!(updateCache >= 0)) throw new Error(`package: updateCache must be a number of seconds >= 0, got ${updateCache}`);
    return updateCache;
  }
  return undefined;
}

/** Lines `now EPOCH`, `list EPOCH`, `stamp EPOCH` -> lists present?, age in seconds. */
function parseAge(text: string): { present: boolean; age: number } {
  let now = 0;
  let newest = 0;
  let present = false;
  for (const l of lines(text)) {
    const [kind, value] = l.trim().split(/\s+/);
    const n = Number(value);
    if (kind === "now") now = n;
    else if (kind === "list" || kind === "stamp") {
      if (kind === "list") present = true;
      newest = Math.max(newest, n);
    }
  }
  return { present, age: present ? Math.max(0, now - newest) : Infinity };
}

/**
 * Why the package lists need a refresh first, or null (the rule in the
 * module doc). `needInstall`: something is to be installed or upgraded.
 */
function refreshReason(req: Request, lists: { present: boolean; age: number }, needInstall: boolean): string | null {
  const { updateCache } = req.params;
  if (updateCache === false) return null;
  const relevant = needInstall || req.state === "latest";
  if (!lists.present) return needInstall || (req.state === "latest" && updateCache !== undefined) ? "package lists missing" : null;
  const limit = maxAge(updateCache);
  if (limit !== undefined && relevant && lists.age > limit) return `package lists older than ${limit} s (${lists.age} s)`;
  return null;
}

// ------------------------------------------------------------------- apt

/** `dpkg-query` lines `NAME\tSTATUS\tVERSION` -> installed versions by name. */
export function parseDpkgQuery(text: string): Map<string, string> {
  const installed = new Map<string, string>();
  for (const l of lines(text)) {
    const [name, status, version] = l.split("\t");
    // Status is "want flag status": only "installed" counts (not config-files, half-installed...).
    if (name && status?.split(" ")[2] === "installed") installed.set(name, version ?? "");
  }
  return installed;
}

/** `apt-cache policy` -> candidate version by name ("(none)" when no source has it). */
export function parseAptPolicy(text: string): Map<string, string> {
  const candidates = new Map<string, string>();
  let current: string | undefined;
  for (const l of text.split("\n")) {
    const head = l.match(/^(\S+):$/);
    if (head) current = head[1]!.replace(/:[a-z0-9]+$/, "");
    const cand = l.match(/^\s+Candidate:\s*(\S+)/);
    if (cand && current) candidates.set(current, cand[1]!);
  }
  return candidates;
}

const apt: Backend = {
  probe: (req) => {
    const parts: ProbeParts = {
      // Exit 1 when a name is unknown to dpkg: that is "not installed".
      installed: `dpkg-query -W -f '\${Package}\\t\${Status}\\t\${Version}\\n' ${shjoin(req.names)} 2>/dev/null; [ $? -le 1 ]`,
      lists: [
        // One stat for all the lists (a host has one per suite and component).
        "set --; for f in /var/lib/apt/lists/*_Packages /var/lib/apt/lists/*_Packages.*; do [ -f \"$f\" ] && set -- \"$@\" \"$f\"; done",
        "[ $# -eq 0 ] || stat -c 'list %Y' -- \"$@\"",
        `[ -f ${APT_STAMP} ] && stat -c 'stamp %Y' ${APT_STAMP}`,
        "date +'now %s'",
      ].join("\n"),
    };
    // Empty cache file names: apt-cache builds its cache in memory instead of
    // rewriting /var/cache/apt/*.bin, so the probe changes nothing.
    if (req.state === "latest") parts.policy = `LC_ALL=C apt-cache -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= policy ${shjoin(req.names)}`;
    return parts;
  },
  plan: (req, s) => {
    const inst = section(s, "installed");
    if (inst.code !== 0) throw new Error(`dpkg-query failed (exit ${inst.code})`);
    const installed = parseDpkgQuery(inst.out);
    const have = req.names.filter((n) => installed.has(n));
    const missing = req.names.filter((n) => !installed.has(n));
    const versions = (ns: string[]) => list(ns.map((n) => `${n} ${installed.get(n)}`));

    if (req.state === "absent") {
      if (have.length === 0) return { changes: [], reason: `${list(req.names)} not installed` };
      return { changes: [{ kind: "run", command: `${APT_ENV} apt-get remove -y ${shjoin(have)}` }], reason: `remove ${versions(have)}` };
    }

    const lists = parseAge(section(s, "lists").out);
    if (req.state === "present") {
      if (missing.length === 0) return { changes: [], reason: `${versions(have)} installed` };
      const refresh = refreshReason(req, lists, true);
      return {
        changes: [...(refresh ? [aptUpdate()] : []), { kind: "run", command: `${APT_INSTALL} ${shjoin(missing)}` }],
        reason: [refresh && `refresh package lists (${refresh})`, `install ${list(missing)}`].filter(Boolean).join("; "),
      };
    }

    // latest: with lists about to be refreshed the candidates are not known yet;
    // apt-get install then installs what is missing and upgrades what is old.
    const refresh = refreshReason(req, lists, missing.length > 0);
    if (refresh) {
      return {
        changes: [aptUpdate(), { kind: "run", command: `${APT_INSTALL} ${shjoin(req.names)}` }],
        reason: `refresh package lists (${refresh}); install or upgrade ${list(req.names)} to the latest version`,
      };
    }
    const policy = section(s, "policy");
    const candidates = parseAptPolicy(policy.out);
    const unknown = req.names.filter((n) => !candidates.has(n) || candidates.get(n) === "(none)");
    const absentUnknown = unknown.filter((n) => !installed.has(n));
    if (absentUnknown.length) throw new Error(`no installation candidate for ${list(absentUnknown)} (apt-cache policy)`);
    const outdated = have.filter((n) => candidates.has(n) && candidates.get(n) !== "(none)" && candidates.get(n) !== installed.get(n));
    if (missing.length === 0 && outdated.length === 0) return { changes: [], reason: `${versions(have)} at the latest version` };
    const what = [
      missing.length ? `install ${list(missing.map((n) => `${n} ${candidates.get(n)}`))}` : "",
      outdated.length ? `upgrade ${list(outdated.map((n) => `${n} ${installed.get(n)} -> ${candidates.get(n)}`))}` : "",
    ].filter(Boolean);
    return { changes: [{ kind: "run", command: `${APT_INSTALL} ${shjoin([...missing, ...outdated])}` }], reason: what.join("; ") };
  },
};

function aptUpdate(): RunChange {
  return { kind: "run", command: `apt-get update && mkdir -p ${APT_STAMP.replace(/\/[^/]+$/, "")} && touch ${APT_STAMP}` };
}

// ------------------------------------------------------------ dnf / yum

/** `rpm -q --qf 'NAME\tVERSION-RELEASE\n'` -> installed versions ("package X is not installed" lines skipped). */
export function parseRpmQuery(text: string): Map<string, string> {
  const installed = new Map<string, string>();
  for (const l of lines(text)) {
    const [name, version] = l.split("\t");
    if (name && version !== undefined && !installed.has(name)) installed.set(name, version);
  }
  return installed;
}

/** `dnf check-update` lines `NAME.ARCH VERSION REPO` -> names with an update. */
export function parseCheckUpdate(text: string): Set<string> {
  const names = new Set<string>();
  for (const l of lines(text)) {
    const f = l.trim().split(/\s+/);
    if (f.length !== 3 || !f[0]!.includes(".")) continue;
    names.add(f[0]!.replace(/\.[^.]+$/, ""));
  }
  return names;
}

function rpmBackend(tool: "dnf" | "yum"): Backend {
  return {
    probe: (req) => {
      const parts: ProbeParts = {
        // rpm exits with the number of names not installed.
        installed: `rpm -q --qf '%{NAME}\\t%{VERSION}-%{RELEASE}\\n' ${shjoin(req.names)}; true`,
      };
      // -C: from the metadata cache only, so the probe changes nothing. Exit 100: updates listed.
      if (req.state === "latest") parts.updates = `${tool} -q -C check-update ${shjoin(req.names)}`;
      return parts;
    },
    plan: (req, s) => {
      const installed = parseRpmQuery(section(s, "installed").out);
      const have = req.names.filter((n) => installed.has(n));
      const missing = req.names.filter((n) => !installed.has(n));
      const versions = (ns: string[]) => list(ns.map((n) => `${n} ${installed.get(n)}`));
      if (req.state === "absent") {
        if (have.length === 0) return { changes: [], reason: `${list(req.names)} not installed` };
        return { changes: [{ kind: "run", command: `${tool} remove -y ${shjoin(have)}` }], reason: `remove ${versions(have)}` };
      }
      const install: RunChange[] = missing.length ? [{ kind: "run", command: `${tool} install -y ${shjoin(missing)}` }] : [];
      if (req.state === "present") {
        if (missing.length === 0) return { changes: [], reason: `${versions(have)} installed` };
        return { changes: install, reason: `install ${list(missing)}` };
      }
      const updates = section(s, "updates");
      let outdated: string[];
      let why: string;
      if (updates.code === 0 || updates.code === 100) {
        const withUpdate = parseCheckUpdate(updates.out);
        outdated = have.filter((n) => withUpdate.has(n));
        why = outdated.length ? `upgrade ${list(outdated)}` : "";
      } else {
        // No metadata cache yet: cannot tell, so let dnf decide (the next run has a cache).
        outdated = have;
        why = have.length ? `upgrade ${list(have)} if newer (no ${tool} metadata cache to compare with)` : "";
      }
      if (missing.length === 0 && outdated.length === 0) return { changes: [], reason: `${versions(have)} at the latest version` };
      const upgrade: RunChange[] = outdated.length ? [{ kind: "run", command: `${tool} upgrade -y ${shjoin(outdated)}` }] : [];
      return { changes: [...install, ...upgrade], reason: [missing.length ? `install ${list(missing)}` : "", why].filter(Boolean).join("; ") };
    },
  };
}

// --------------------------------------------------------------- Slackware

/** A Slackware package name split: `frr-10.4.1-x86_64-1_SBo`. */
export interface SlackPackage {
  /** The full name without extension: `frr-10.4.1-x86_64-1_SBo`. */
  full: string;
  name: string;
  version: string;
  arch: string;
  build: string;
}

/** Splits `NAME-VERSION-ARCH-BUILD` (the name is everything before the last three fields); null if it has fewer fields. */
export function parseSlackPackage(full: string): SlackPackage | null {
  const parts = full.split("-");
  if (parts.length < 4) return null;
  const build = parts.pop()!;
  const arch = parts.pop()!;
  const version = parts.pop()!;
  const name = parts.join("-");
  if (!name || !version || !arch || !build) return null;
  return { full, name, version, arch, build };
}

const PKG_EXT = /\.(txz|tgz|tbz|tlz)$/;

/** Compares versions the way `sort -V` roughly does: digit runs as numbers. */
export function compareVersions(a: string, b: string): number {
  const ta = a.match(/\d+|\D+/g) ?? [];
  const tb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.max(ta.length, tb.length); i++) {
    const x = ta[i];
    const y = tb[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    if (x === y) continue;
    const nx = /^\d/.test(x);
    const ny = /^\d/.test(y);
    if (nx && ny) return Number(x) - Number(y) || x.length - y.length;
    return x < y ? -1 : 1;
  }
  return 0;
}

/** Installed packages from `/var/log/packages` entry names, grouped by package name. */
export function parseInstalledSlack(text: string): Map<string, SlackPackage[]> {
  const byName = new Map<string, SlackPackage[]>();
  for (const l of lines(text)) {
    const p = parseSlackPackage(l.trim());
    if (!p) continue;
    byName.set(p.name, [...(byName.get(p.name) ?? []), p]);
  }
  return byName;
}

const installedScript = `for f in /var/log/packages/*; do [ -f "$f" ] && printf '%s\\n' "\${f##*/}"; done; true`;

/** A package file that `src` offers on the host. */
interface Candidate extends SlackPackage {
  /** Path on the host, or the URL. */
  path: string;
  url: boolean;
}

type SrcKind = { kind: "url"; url: string } | { kind: "glob"; dir: string; pattern: RegExp } | { kind: "path"; path: string };

function srcKind(src: string): SrcKind {
  if (/^(https?|ftp):\/\//.test(src)) return { kind: "url", url: src };
  const slash = src.lastIndexOf("/");
  const base = src.slice(slash + 1);
  if (/[*?[]/.test(src.slice(0, slash + 1))) throw new Error(`package: src ${src}: a glob may only be in the file name`);
  if (/[*?[]/.test(base)) return { kind: "glob", dir: slash > 0 ? src.slice(0, slash) : slash === 0 ? "/" : ".", pattern: globToRegExp(base) };
  return { kind: "path", path: src };
}

/** A shell glob (`*`, `?`, `[...]`) over one file name, as a RegExp; matched here, never expanded by a shell. */
export function globToRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = glob.indexOf("]", i + 2);
      if (end < 0) re += "\\[";
      else {
        const body = glob.slice(i + 1, end).replace(/^!/, "^").replace(/\\/g, "\\\\");
        re += `[${body}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\\]]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

function srcProbe(src: string): string | undefined {
  const k = srcKind(src);
  if (k.kind === "url") return undefined;
  if (k.kind === "glob") return `if [ -d ${shq(k.dir)} ]; then echo dir; ls -1 -- ${shq(k.dir)}; else exit 3; fi`;
  const p = shq(k.path);
  return `if [ -d ${p} ]; then echo dir; ls -1 -- ${p}; elif [ -f ${p} ]; then echo file; else exit 3; fi`;
}

function joinPath(dir: string, base: string): string {
  return dir.endsWith("/") ? dir + base : `${dir}/${base}`;
}

function candidatesFrom(src: string, s: Section | undefined): Candidate[] {
  const k = srcKind(src);
  const make = (path: string, base: string, url: boolean): Candidate | null => {
    if (!PKG_EXT.test(base)) return null;
    const p = parseSlackPackage(base.replace(PKG_EXT, ""));
    return p ? { ...p, path, url } : null;
  };
  if (k.kind === "url") {
    const base = decodeURIComponent(new URL(k.url).pathname.split("/").pop() ?? "");
    const c = make(k.url, base, true);
    if (!c) throw new Error(`package: src ${src} does not name a Slackware package (NAME-VERSION-ARCH-BUILD.txz)`);
    return [c];
  }
  if (!s) throw new Error("package: state probe returned no src section");
  if (s.code === 3) throw new Error(`package: src ${k.kind === "glob" ? k.dir : src} not found on the host`);
  if (s.code !== 0) throw new Error(`package: cannot list src ${src} (exit ${s.code})`);
  const [kind, ...entries] = lines(s.out);
  if (kind === "file") {
    const base = src.slice(src.lastIndexOf("/") + 1);
    const c = make(src, base, false);
    if (!c) throw new Error(`package: src ${src} is not a Slackware package file (NAME-VERSION-ARCH-BUILD.txz)`);
    return [c];
  }
  const dir = k.kind === "glob" ? k.dir : k.path;
  const out: Candidate[] = [];
  for (const e of entries) {
    if (k.kind === "glob" && !k.pattern.test(e)) continue;
    const c = make(joinPath(dir, e), e, false);
    if (c) out.push(c);
  }
  return out;
}

/** The package `src` offers for `name`: the highest version, then build. */
function pick(cands: Candidate[], name: string): Candidate | undefined {
  return cands
    .filter((c) => c.name === name)
    .sort((a, b) => compareVersions(a.version, b.version) || compareVersions(a.build, b.build))
    .pop();
}

/** Commands that fetch URL candidates to a temp dir, run `tool` on them, and clean up. */
function installCommand(tool: string, cands: Candidate[]): RunChange {
  const local = cands.filter((c) => !c.url);
  const remote = cands.filter((c) => c.url);
  if (remote.length === 0) return { kind: "run", command: `${tool} ${shjoin(local.map((c) => c.path))}` };
  const files = remote.map((c) => `"$d"/${shq(`${c.full}${c.path.match(PKG_EXT)![0]}`)}`);
  const fetches = remote.map((c, i) => `fetch ${shq(c.path)} ${files[i]}`);
  return {
    kind: "run",
    command: [
      "d=$(mktemp -d /tmp/runbook-pkg.XXXXXX) || exit 1",
      `fetch() { if command -v curl >/dev/null 2>&1; then curl -fsSL -o "$2" "$1"; else wget -q -O "$2" "$1"; fi; }`,
      `${[...fetches, `${tool} ${[...local.map((c) => shq(c.path)), ...files].join(" ")}`].join(" && ")}`,
      'rc=$?; rm -rf -- "$d"; exit $rc',
    ].join("\n"),
    label: `fetch ${list(remote.map((c) => c.path))}; ${tool} ${list(cands.map((c) => c.full))}`,
  };
}

function describeInstalled(installed: Map<string, SlackPackage[]>, names: string[]): string {
  return list(names.map((n) => `${n} (${(installed.get(n) ?? []).map((p) => p.full).join(" ")})`));
}

/**
 * What /var/log/packages says about the requested names (pkgtools and
 * slackpkg read it alike), and the plan for `state: absent`: removepkg in
 * both cases (`slackpkg remove` matches patterns and whole series).
 */
function slackState(req: Parameters<Backend["plan"]>[0], s: Parameters<Backend["plan"]>[1]) {
  const installed = parseInstalledSlack(section(s, "installed").out);
  const have = req.names.filter((n) => installed.has(n));
  const missing = req.names.filter((n) => !installed.has(n));
  let absent: Plan | undefined;
  if (req.state === "absent") {
    absent = have.length === 0
      ? { changes: [], reason: `${list(req.names)} not installed` }
      : { changes: [{ kind: "run", command: `removepkg ${shjoin(have)}` }], reason: `remove ${describeInstalled(installed, have)}` };
  }
  return { installed, have, missing, absent };
}

const pkgtools: Backend = {
  probe: (req) => {
    const parts: ProbeParts = { installed: installedScript };
    const src = req.params.src !== undefined ? srcProbe(req.params.src) : undefined;
    if (src && req.state !== "absent") parts.src = src;
    return parts;
  },
  plan: (req, s) => {
    const { installed, have, missing, absent } = slackState(req, s);
    if (absent) return absent;
    if (req.state === "present" && missing.length === 0) return { changes: [], reason: `installed: ${describeInstalled(installed, have)}` };
    const src = req.params.src;
    if (src === undefined) {
      const what = req.state === "latest" ? "state: latest needs" : `${list(missing)} not installed; pkgtools needs`;
      throw new Error(`package: ${what} \`src\` (a package file, directory, glob or URL on the host), or use slackpkg`);
    }
    const cands = candidatesFrom(src, s.src);
    const single = srcKind(src).kind === "url" || lines(s.src?.out ?? "")[0] === "file";
    if (single && req.names.length === 1 && cands[0]!.name !== req.names[0]) {
      throw new Error(`package: src ${src} is package ${cands[0]!.name}, not ${req.names[0]}`);
    }
    const wanted = req.state === "latest" ? req.names : missing;
    const chosen: Candidate[] = [];
    for (const n of wanted) {
      const c = pick(cands, n);
      if (!c) throw new Error(`package: no package for ${n} in ${src}`);
      chosen.push(c);
    }
    if (req.state === "present") {
      return { changes: [installCommand("installpkg", chosen)], reason: `install ${list(chosen.map((c) => c.full))}` };
    }
    // latest: exactly the package src offers.
    const toInstall = chosen.filter((c) => {
      const cur = installed.get(c.name) ?? [];
      return !(cur.length === 1 && cur[0]!.full === c.full);
    });
    if (toInstall.length === 0) return { changes: [], reason: `${list(chosen.map((c) => c.full))} installed, as in ${src}` };
    const what = toInstall.map((c) => {
      const cur = installed.get(c.name);
      return cur ? `upgrade ${cur.map((p) => p.full).join(" ")} -> ${c.full}` : `install ${c.full}`;
    });
    return { changes: [installCommand("upgradepkg --install-new", toInstall)], reason: list(what) };
  },
};

/** slackpkg's pkglist lines (`REPO NAME VERSION ARCH BUILD FULLNAME PATH EXT`) -> full names by package name. */
export function parseSlackpkgList(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const l of lines(text)) {
    const f = l.trim().split(/\s+/);
    const name = f[1];
    const full = f.find((x) => parseSlackPackage(x)?.name === name);
    if (name && full) out.set(name, full);
  }
  return out;
}

const slackpkg: Backend = {
  probe: (req) => {
    const parts: ProbeParts = { installed: installedScript };
    if (req.state !== "absent") {
      parts.lists = `[ -f ${SLACKPKG_LIST} ] && stat -c 'list %Y' ${SLACKPKG_LIST}; date +'now %s'`;
    }
    if (req.state === "latest") {
      parts.pkglist = [
        `[ -f ${SLACKPKG_LIST} ] || exit 0`,
        `awk -v names=${shq(req.names.join(" "))} 'BEGIN { n = split(names, a, " "); for (i = 1; i <= n; i++) want[a[i]] = 1 } ($2 in want)' ${SLACKPKG_LIST}`,
      ].join("\n");
    }
    return parts;
  },
  plan: (req, s) => {
    const { installed, have, missing, absent } = slackState(req, s);
    if (absent) return absent;
    const lists = parseAge(section(s, "lists").out);
    const update: RunChange = { kind: "run", command: `${SLACKPKG} update` };
    const install: RunChange[] = missing.length ? [{ kind: "run", command: `${SLACKPKG} install ${shjoin(missing)}` }] : [];
    if (req.state === "present") {
      if (missing.length === 0) return { changes: [], reason: `installed: ${describeInstalled(installed, have)}` };
      const refresh = refreshReason(req, lists, true);
      return {
        changes: [...(refresh ? [update] : []), ...install],
        reason: [refresh && `refresh package lists (${refresh})`, `install ${list(missing)}`].filter(Boolean).join("; "),
      };
    }
    let refresh = refreshReason(req, lists, missing.length > 0);
    if (!lists.present && !refresh) {
      // Which build is the latest is only known from the package list.
      if (req.params.updateCache === false) throw new Error(`package: ${SLACKPKG_LIST} missing (run slackpkg update, or allow updateCache)`);
      refresh = "package lists missing";
    }
    if (refresh) {
      const upgrade: RunChange[] = have.length ? [{ kind: "run", command: `${SLACKPKG} upgrade ${shjoin(have)}` }] : [];
      return {
        changes: [update, ...install, ...upgrade],
        reason: `refresh package lists (${refresh}); install or upgrade ${list(req.names)} to the latest version`,
      };
    }
    const latest = parseSlackpkgList(section(s, "pkglist").out);
    const unknown = req.names.filter((n) => !latest.has(n));
    if (unknown.length) throw new Error(`package: ${list(unknown)} not in slackpkg's package list (${SLACKPKG_LIST})`);
    const outdated = have.filter((n) => {
      const cur = installed.get(n)!;
      return !(cur.length === 1 && cur[0]!.full === latest.get(n));
    });
    if (missing.length === 0 && outdated.length === 0) return { changes: [], reason: `at the latest version: ${describeInstalled(installed, have)}` };
    const upgrade: RunChange[] = outdated.length ? [{ kind: "run", command: `${SLACKPKG} upgrade ${shjoin(outdated)}` }] : [];
    const what = [
      missing.length ? `install ${list(missing.map((n) => latest.get(n)!))}` : "",
      ...outdated.map((n) => `upgrade ${installed.get(n)!.map((p) => p.full).join(" ")} -> ${latest.get(n)}`),
    ].filter(Boolean);
    return { changes: [...install, ...upgrade], reason: list(what) };
  },
};

const BACKENDS: Record<PackageBackend, Backend> = {
  apt,
  dnf: rpmBackend("dnf"),
  yum: rpmBackend("yum"),
  pkgtools,
  slackpkg,
};
