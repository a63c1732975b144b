/**
 * The lab's cached Debian root file system.
 *
 * Built once with debootstrap from the mirror apt on this machine already
 * uses (never a hard-coded one), stored under /var/cache/runbook-lab and
 * shared read-only by every lab host as the lowest overlay layer. A build
 * goes to a temporary directory and is renamed into place only when complete,
 * so an interrupted build is never mistaken for a good cache.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { run } from "./sh.ts";

export const CACHE_DIR = process.env.RUNBOOK_LAB_CACHE ?? "/var/cache/runbook-lab";
export const SUITE = "bookworm";

/**
 * Packages every lab host has; deliberately no Python (runbook needs none).
 * xz-utils: Slackware packages are .txz, and the Slackware-flavoured hosts
 * extract them for real (test/lab/slackware/usr/sbin/installpkg).
 * systemd and dbus: PID 1 of the systemd-flavoured hosts (tini hosts have
 * them too, unused: their /run has no /run/systemd/system, so maintainer
 * scripts and runbook's facts see no systemd there). Part of the cache
 * key, so a cache from before they were added is rebuilt.
 */
export const BASE_PACKAGES = ["openssh-server", "sudo", "iproute2", "procps", "iputils-ping", "tini", "xz-utils", "systemd", "dbus"];

export interface RootfsOptions {
  /** Add python3 (the benchmark's Ansible needs it; runbook must not). */
  python?: boolean;
  /** Log progress lines here. */
  log?: (line: string) => void;
}

/** Files whose presence proves a usable rootfs (checked on every reuse). */
const REQUIRED = ["usr/sbin/sshd", "usr/bin/tini", "usr/lib/systemd/systemd", "usr/bin/systemctl", "usr/bin/sudo", "bin/sh", "usr/bin/apt-get", "sbin/ip"];
const STAMP = ".runbook-lab-complete";

/**
 * The Debian mirror apt is configured with, read from /etc/apt/sources.list
 * and /etc/apt/sources.list.d (one-line and deb822 formats). The entry
 * serving the plain suite (not -security or -updates) wins.
 */
export function aptMirror(root = "/etc/apt"): string {
  const entries: { uri: string; suites: string[] }[] = [];
  const files: string[] = [];
  if (existsSync(join(root, "sources.list"))) files.push(join(root, "sources.list"));
  const dir = join(root, "sources.list.d");
  if (existsSync(dir)) for (const f of readdirSync(dir).sort()) files.push(join(dir, f));
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    if (file.endsWith(".sources")) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const field = (name: string) => stanza.match(new RegExp(`^${name}:\\s*(.+)$`, "mi"))?.[1]?.trim();
        const types = field("Types") ?? "";
        const uris = field("URIs");
        const suites = field("Suites");
        if (!types.split(/\s+/).includes("deb") || !uris || !suites) continue;
        for (const uri of uris.split(/\s+/)) entries.push({ uri, suites: suites.split(/\s+/) });
      }
    } else if (file.endsWith(".list")) {
      for (const line of text.split("\n")) {
        const m = line.trim().match(/^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/);
        if (m) entries.push({ uri: m[1]!, suites: [m[2]!] });
      }
    }
  }
  const hit = entries.find((e) => e.suites.includes(SUITE) && /debian/.test(e.uri) && !/security/.test(e.uri));
  if (!hit) {
    throw new Error(
      `no apt source for Debian ${SUITE} found under ${root}/sources.list{,.d}; the lab builds its hosts from the mirror apt uses`,
    );
  }
  return hit.uri.replace(/\/+$/, "");
}

function packagesFor(opts: RootfsOptions): string[] {
  return opts.python ? [...BASE_PACKAGES, "python3"] : BASE_PACKAGES;
}

/** Cache directory for a package set and mirror: changing either rebuilds. */
export function rootfsPath(opts: RootfsOptions = {}): string {
  const key = createHash("sha256")
    .update(JSON.stringify({ suite: SUITE, pkgs: packagesFor(opts), mirror: aptMirror() }))
    .digest("hex")
    .slice(0, 12);
  return join(CACHE_DIR, `rootfs-${SUITE}${opts.python ? "-python" : ""}-${key}`);
}

/** True when the cached rootfs exists and looks whole. */
export function rootfsValid(path: string): boolean {
  if (!existsSync(join(path, STAMP))) return false;
  return REQUIRED.every((f) => existsSync(join(path, f)));
}

/** Returns the path of a valid cached rootfs, building it first if needed. */
export async function ensureRootfs(opts: RootfsOptions = {}): Promise<string> {
  const log = opts.log ?? (() => {});
  const path = rootfsPath(opts);
  if (rootfsValid(path)) return path;
  if (existsSync(path)) {
    log(`lab: cached rootfs ${path} is incomplete or corrupt; rebuilding`);
    rmSync(path, { recursive: true, force: true });
  }
  mkdirSync(CACHE_DIR, { recursive: true });
  const tmp = `${path}.build-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  const mirror = aptMirror();
  log(`lab: building Debian ${SUITE} rootfs from ${mirror} (once; cached in ${CACHE_DIR})`);
  const started = Date.now();
  try {
    await run("debootstrap", [
      "--variant=minbase",
      `--include=${packagesFor(opts).join(",")}`,
      SUITE,
      tmp,
      mirror,
    ]);
    // Host keys are made per host at `up`; a shared key in the lower layer
    // would make every host look the same to known_hosts.
    for (const f of readdirSync(join(tmp, "etc/ssh"))) {
      if (f.startsWith("ssh_host_")) rmSync(join(tmp, "etc/ssh", f));
    }
    rmSync(join(tmp, "var/cache/apt/archives"), { recursive: true, force: true });
    mkdirSync(join(tmp, "var/cache/apt/archives/partial"), { recursive: true });
    // Login records go to /run (a tmpfs per host) so an SSH login leaves the
    // overlay's upper dir untouched: check mode is asserted on that dir.
    for (const f of ["wtmp", "btmp", "lastlog"]) {
      rmSync(join(tmp, "var/log", f), { force: true });
      await run("ln", ["-s", `/run/${f}`, join(tmp, "var/log", f)]);
    }
    writeFileSync(join(tmp, STAMP), `${new Date().toISOString()} ${mirror}\n`);
    try {
      renameSync(tmp, path);
    } catch (err) {
      // Another process (a parallel test run) finished the same build first.
      if (!rootfsValid(path)) throw err;
      rmSync(tmp, { recursive: true, force: true });
    }
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  log(`lab: rootfs ready in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return path;
}
