/**
 * Role `base-os`: what every cluster node gets first (reference 000/001):
 * its name and the cluster's names in /etc/hosts, the timezone, extra
 * packages and removals, the admin account (`clusteradm`, uid 1050, group
 * users, member of wheel) with its SSH keys, sshd without password logins,
 * and the cluster-LAN addresses — in Slackware's startup-script layout
 * (rc.inet1.conf, rc.local calling rc.inet3) or Debian's ifupdown files,
 * and applied to the running host without touching its management link.
 *
 * See roles/base-os/README.md for the parameters and what happens on each
 * OS family.
 *
 * @example
 *   baseOs({ admin: { name: "clusteradm", uid: 1050, groups: ["wheel"], authorizedKeys: ["ssh-ed25519 AAAA... me@laptop"] } })
 *   // per host, from host vars:
 *   baseOs((host) => ({ addresses: host.vars.cluster_lan as Record<string, string[]>, timezone: "America/Chicago" }))
 */
import { z } from "zod";
import { role, secretString, sh, type Host, type Infer, type TaskResult } from "../../runner/index.ts";
import type { LineInFileParams } from "../../tasks/index.ts";
import { sudoGroupFor } from "../sudo/index.ts";
import { liveAddressPlan, parseAddresses, parseLive, rcInet1Index, type InterfaceAddresses } from "./network.ts";

/** The reference's admin account (reference 000: `useradd -g users -u 1050 -s /bin/bash clusteradm; usermod -a -G wheel`). */
export const ADMIN_DEFAULTS = {
  name: "clusteradm",
  uid: 1050,
  group: "users",
  groups: ["wheel"] as string[],
  shell: "/bin/bash",
  sudoGroup: true,
  authorizedKeys: [] as string[],
  /** Reference 000 does `chmod 644 authorized_keys`; ~/.ssh is always 0700 (its `chmod 600 ~/.ssh` would lock the key out). */
  authorizedKeysMode: "0644",
  exclusiveKeys: false,
};

/** Slackware packages from the D set a system without it needs (reference 001), installed by `perlPython`. */
export const PERL_PYTHON_PACKAGES = ["perl", "python3", "python-pip", "python-setuptools"];

/** Removed by default on Slackware (reference 001: they cause problems when all of D was installed). */
export const SLACKWARE_REMOVE = ["gcc-go", "gcc-rust"];

export const SSHD_CONFIG = "/etc/ssh/sshd_config";
export const IFUPDOWN_FILE = "/etc/network/interfaces.d/runbook";

const yesNo = (b: boolean) => (b ? "yes" : "no");

export const baseOs = role({
  name: "base-os",
  params: {
    setHostname: z.boolean().default(true).describe("Manage the host name (hostname task: /etc/hostname, /etc/HOSTNAME on Slackware, and the live name)."),
    hostname: z.string().optional().describe("The host name; default the inventory name (`tnode1`). An FQDN is fine (`tnode1.i131.net`)."),
    hosts: z.array(z.strictObject({ ip: z.string(), names: z.array(z.string()) })).default([]).describe("/etc/hosts lines for the cluster: each address gets exactly one line with these names."),
    timezone: z.string().optional().describe("A zoneinfo name (`America/Chicago`); /etc/localtime links to it (and /etc/timezone on Debian). Unset: left alone."),
    admin: z
      .strictObject({
        name: z.string().optional(),
        uid: z.int().optional(),
        group: z.string().optional().describe("Primary group."),
        groups: z.array(z.string()).optional().describe("Supplementary groups; missing ones are created (Debian has no `wheel`)."),
        sudoGroup: z.boolean().optional().describe("Also join the sudo role's group (`sudo` on Debian; `wheel` elsewhere, already in `groups`)."),
        shell: z.string().optional(),
        authorizedKeys: z.array(z.string()).optional().describe("Public key lines for ~/.ssh/authorized_keys."),
        authorizedKeysMode: z.string().optional(),
        exclusiveKeys: z.boolean().optional().describe("authorized_keys holds exactly `authorizedKeys` (others are removed)."),
        passwordHash: secretString().optional().describe("A crypt(3) hash (`openssl passwd -6`), never clear text."),
      })
      .default({}).describe("The admin account. Fields left out take the reference's values: name clusteradm, uid 1050, group users, groups [wheel], shell /bin/bash, sudoGroup true (also a member of the sudo role's group: `sudo` on Debian), no keys, authorizedKeysMode 0644, exclusiveKeys false, no password (key login only)."),
    sshd: z
      .strictObject({
        passwordAuthentication: z.boolean().optional(),
        kbdInteractiveAuthentication: z.boolean().optional(),
        permitRootLogin: z.enum(["yes", "no", "prohibit-password", "forced-commands-only"] as const).optional(),
        settings: z.record(z.string(), z.string()).optional(),
      })
      .default({}).describe("sshd_config settings, each a line edited in place (validated with `sshd -t`): passwordAuthentication and kbdInteractiveAuthentication default false (no password logins, the reference's `PasswordAuthentication no`, and PAM's keyboard-interactive twin); permitRootLogin is left alone unless given; `settings` adds any other keyword (`{ X11Forwarding: \"no\" }`)."),
    packages: z.array(z.string()).default([]).describe("Extra packages to install (apt; on Slackware pkgtools needs `packageSrc`)."),
    removePackages: z.array(z.string()).optional().describe("Packages to remove. Default: gcc-go and gcc-rust on Slackware (reference 001), none elsewhere."),
    packageSrc: z.string().optional().describe("Slackware: where `packages` are on the host (a directory, file, glob or URL: the package task's `src`)."),
    perlPython: z
      .strictObject({
        src: z.string(),
        packages: z.array(z.string()).optional(),
        updateCaCertificates: z.boolean().optional(),
      })
      .optional().describe("Slackware without the D set (reference 001): install perl and python3 (+ pip, setuptools) from `src`, then rebuild the CA bundle once perl is there (`update-ca-certificates --fresh`). Ignored elsewhere."),
    addresses: z.record(z.string(), z.array(z.string())).default({}).describe("Cluster-LAN addresses by interface (`{ eth1: [\"192.168.11.1/30\"], lo: [\"10.50.1.1/32\"] }`), usually from host vars. Slackware: `IPADDRS[n]` in rc.inet1.conf for ethN, rc.inet3 lines for the others (lo). Debian: an ifupdown file."),
    applyAddresses: z.boolean().default(true).describe("Add missing `addresses` to the running host too (never on the interface of the default route: the management link)."),
    pruneAddresses: z.boolean().default(false).describe("With `applyAddresses`: remove global addresses on the interfaces named in `addresses` that it does not list (an address dropped from the parameter). Default: leave them and warn, since a DHCP or hand-made address is not the role's to drop unasked."),
    rcInet3: z.array(z.string()).default([]).describe("Slackware: more commands for /etc/rc.d/rc.inet3, after the address lines."),
    rcLocalShutdown: z.array(z.string()).default([]).describe("Slackware: commands for /etc/rc.d/rc.local_shutdown (a managed block)."),
  },
  async run(h, p) {
    const family = h.facts.os.family;
    const slackware = family === "slackware";
    // Values the schema cannot check, checked before anything changes.
    const ifaces = checked(h, () => parseAddresses(p.addresses));
    const sshd = checked(h, () => sshdSettings(p.sshd));
    if (p.timezone !== undefined && !/^[A-Za-z0-9_+-]+(\/[A-Za-z0-9_+-]+)*$/.test(p.timezone)) {
      h.fail(`base-os: invalid timezone ${JSON.stringify(p.timezone)} (a zoneinfo name such as America/Chicago)`);
    }

    // ---- name and /etc/hosts
    if (p.setHostname) {
      // Later tasks and roles (templates with facts.hostname) see the new name.
      const named = await h.hostname({ name: p.hostname ?? h.name });
      if (named.changed && !named.predicted) await h.refreshFacts();
    }
    if (p.hosts.length) await h.hostsFile({ entries: p.hosts });

    // ---- timezone
    if (p.timezone !== undefined) await timezone(h, p.timezone, family === "debian");

    // ---- packages
    if (p.packages.length) await h.package({ name: p.packages, ...(slackware && p.packageSrc ? { src: p.packageSrc } : {}) });
    const remove = p.removePackages ?? (slackware ? SLACKWARE_REMOVE : []);
    if (remove.length) await h.package({ name: remove, state: "absent" });
    if (slackware && p.perlPython) {
      const pp = p.perlPython;
      const refreshCa = h.handler("rebuild the CA certificate bundle", () => h.command("update-ca-certificates --fresh", { title: "update-ca-certificates --fresh" }));
      await h.package(
        { name: pp.packages ?? PERL_PYTHON_PACKAGES, src: pp.src },
        { title: "perl and python (Slackware without the D set)", notify: pp.updateCaCertificates === false ? [] : refreshCa },
      );
    }

    // ---- admin account
    const admin = { ...ADMIN_DEFAULTS, ...p.admin };
    const groups = [...admin.groups, ...(admin.sudoGroup ? [sudoGroupFor(h.facts)] : [])].filter((g, i, all) => g !== admin.group && all.indexOf(g) === i);
    for (const g of [admin.group, ...groups]) await h.group({ name: g });
    await h.user({
      name: admin.name,
      uid: admin.uid,
      group: admin.group,
      groups,
      shell: admin.shell,
      ...(admin.passwordHash ? { password: admin.passwordHash } : {}),
    });
    if (admin.authorizedKeys.length || admin.exclusiveKeys) {
      await h.authorizedKey({ user: admin.name, key: admin.authorizedKeys, mode: admin.authorizedKeysMode, exclusive: admin.exclusiveKeys });
    }

    // ---- sshd
    await hardenSshd(h, sshd);

    // ---- network: startup scripts, cluster-LAN addresses
    if (slackware) await slackwareNetwork(h, ifaces, p.rcInet3, p.rcLocalShutdown);
    else if (family === "debian") await debianNetwork(h, ifaces);
    else if (ifaces.length) h.log(`base-os: addresses are applied live only on ${family} (no persistent network file for this family yet)`);
    if (p.applyAddresses && ifaces.length) await applyLive(h, ifaces, p.pruneAddresses);
  },
});

/** base-os's parameters as its `run` receives them (defaults filled in). */
export type BaseOsParams = Infer<typeof baseOs.spec.params>;

/** `fn()`, or the host fails with its error's message. */
function checked<T>(h: Host, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    return h.fail(`base-os: ${(err as Error).message}`);
  }
}

/** /etc/localtime -> /usr/share/zoneinfo/ZONE (and /etc/timezone on Debian), after checking the zone exists. */
async function timezone(h: Host, zone: string, debian: boolean): Promise<void> {
  const file = `/usr/share/zoneinfo/${zone}`;
  const r = await h.command(sh`if [ -f ${file} ]; then echo found; else echo missing; fi`, { readOnly: true, title: `zoneinfo ${zone} exists` });
  if (r.stdout?.trim() !== "found") h.fail(`base-os: timezone ${zone}: ${file} not found on the host (is tzdata installed?)`);
  // force: Slackware's timeconfig leaves a copy there, not a link.
  await h.file({ path: "/etc/localtime", state: "link", src: file, force: true });
  if (debian) await h.copy({ dest: "/etc/timezone", content: `${zone}\n`, mode: "0644" });
}

type SshdParams = {
  passwordAuthentication?: boolean;
  kbdInteractiveAuthentication?: boolean;
  permitRootLogin?: "yes" | "no" | "prohibit-password" | "forced-commands-only";
  settings?: Record<string, string>;
};

/** The sshd_config keywords and values to enforce, typed ones first; `settings` wins on the same keyword. */
export function sshdSettings(s: SshdParams): [string, string][] {
  const out = new Map<string, [string, string]>();
  const put = (k: string, v: string) => out.set(k.toLowerCase(), [k, v]);
  put("PasswordAuthentication", yesNo(s.passwordAuthentication ?? false));
  put("KbdInteractiveAuthentication", yesNo(s.kbdInteractiveAuthentication ?? false));
  if (s.permitRootLogin) put("PermitRootLogin", s.permitRootLogin);
  for (const [k, v] of Object.entries(s.settings ?? {})) {
    if (!/^[A-Za-z][A-Za-z0-9]*$/.test(k)) throw new Error(`sshd.settings: invalid keyword ${JSON.stringify(k)}`);
    if (!v.trim() || /[\r\n]/.test(v)) throw new Error(`sshd.settings.${k}: the value must be one non-empty line`);
    put(k, v);
  }
  return [...out.values()];
}

/**
 * The lineinfile edit for one sshd_config keyword: the first line at
 * column 0 setting it, or its commented default, is replaced; otherwise the
 * line goes before the first `Match` block.
 */
export function sshdLine(key: string, value: string): LineInFileParams {
  return {
    path: SSHD_CONFIG,
    // Column 0 only: indented lines belong to Match blocks.
    regexp: new RegExp(`^#? ?${key}(\\s|$)`, "i"),
    line: `${key} ${value}`,
    firstmatch: true,
    insertbefore: /^Match\s/i,
  };
}

/**
 * Edits sshd_config one keyword at a time: the first line setting it (or
 * its commented default, `#PasswordAuthentication yes`) becomes ours; a
 * keyword not there yet goes before the first `Match` block (sshd takes the
 * first value it reads, and a line after `Match` would only apply inside
 * that block). Each write is validated with `sshd -t`. Then `sshd -T`
 * confirms the effective values, which catches an Include'd drop-in that
 * sets a keyword before sshd_config does.
 */
async function hardenSshd(h: Host, settings: [string, string][]): Promise<void> {
  const reload = h.handler("reload sshd", () => reloadSshd(h));
  const results: TaskResult[] = [];
  for (const [key, value] of settings) {
    results.push(
      await h.lineinfile({ ...sshdLine(key, value), validate: "sshd -t -f %s" }, { title: `sshd_config: ${key} ${value}`, notify: reload }),
    );
  }
  // In check mode the file was not edited: there is nothing to confirm yet.
  if (results.some((r) => r.predicted)) return;
  const typed = settings.filter(([k]) => /^(PasswordAuthentication|KbdInteractiveAuthentication|PermitRootLogin)$/.test(k));
  const eff = await h.command("sshd -T", { readOnly: true, title: "sshd -T (effective settings)" });
  const have = new Map((eff.stdout ?? "").split("\n").map((l) => [l.split(" ")[0]!.toLowerCase(), l.slice(l.indexOf(" ") + 1).trim().toLowerCase()]));
  const norm = (v: string) => (v === "without-password" ? "prohibit-password" : v);
  for (const [k, v] of typed) {
    const got = have.get(k.toLowerCase());
    if (got !== undefined && norm(got) !== norm(v.toLowerCase())) {
      h.fail(`base-os: sshd -T says ${k} ${got}, wanted ${v}: a file sshd reads before ${SSHD_CONFIG}'s line sets it (an Include'd /etc/ssh/sshd_config.d/*.conf?)`);
    }
  }
}

/** sh: SIGHUP to the sshd listener from its pid file (sshd re-executes itself and rereads its config; sessions stay). */
const HUP_SSHD = [
  "for f in /run/sshd.pid /var/run/sshd.pid; do",
  `  if [ -r "$f" ] && pid=$(cat "$f") && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -HUP "$pid"; exit $?; fi`,
  "done",
  "if command -v service >/dev/null 2>&1 && [ -e /etc/init.d/ssh ]; then service ssh reload; exit $?; fi",
  "for s in /etc/init.d/ssh /etc/init.d/sshd; do if [ -x \"$s\" ]; then \"$s\" reload; exit $?; fi; done",
  "echo 'no running sshd found (no pid file) and no init script to reload it' >&2; exit 1",
].join("\n");

/**
 * The "reload sshd" handler: systemd reloads the unit; Slackware restarts
 * through /etc/rc.d/rc.sshd (which kills only the listener, so sessions
 * stay); elsewhere (sysvinit, or no init such as the lab's) a SIGHUP to the
 * listener from its pid file, else the init script's reload.
 */
async function reloadSshd(h: Host): Promise<TaskResult> {
  if (h.facts.initSystem === "systemd") return h.service({ name: h.facts.os.family === "debian" ? "ssh" : "sshd", state: "reloaded" });
  if (h.facts.os.family === "slackware") {
    const rc = await h.command("if [ -e /etc/rc.d/rc.sshd ]; then echo yes; else echo no; fi", { readOnly: true, title: "is there /etc/rc.d/rc.sshd" });
    if (rc.stdout?.trim() === "yes") return h.service({ name: "sshd", state: "restarted" });
  }
  return h.command(HUP_SSHD, { title: "reload sshd (SIGHUP to the listener)" });
}

/**
 * Slackware's layout (reference 001): rc.inet1.conf `IPADDRS[n]` /
 * `IP6ADDRS[n]` for ethN; rc.inet3 for the rest (a stable address on lo for
 * routing) and extra commands; rc.local runs rc.inet3 when it is
 * executable; rc.local_shutdown exists with an optional managed block.
 */
async function slackwareNetwork(h: Host, ifaces: InterfaceAddresses[], extra: string[], shutdown: string[]): Promise<void> {
  const inet3: string[] = [];
  for (const i of ifaces) {
    const n = rcInet1Index(i.name);
    if (n === null) {
      for (const a of [...i.v4, ...i.v6]) inet3.push(`ip addr replace ${a} dev ${i.name}`);
      continue;
    }
    for (const [key, list] of [["IPADDRS", i.v4], ["IP6ADDRS", i.v6]] as const) {
      if (!list.length) continue;
      await h.lineinfile({
        path: "/etc/rc.d/rc.inet1.conf",
        regexp: new RegExp(`^${key}\\[${n}\\]=`),
        line: `${key}[${n}]="${list.join(" ")}"`,
        insertafter: new RegExp(`^# IPv${key === "IPADDRS" ? 4 : 6} config options for ${i.name}:`),
      }, { title: `rc.inet1.conf: ${key}[${n}] (${i.name})` });
    }
  }
  await h.template({
    src: new URL("./templates/rc.inet3.njk", import.meta.url),
    dest: "/etc/rc.d/rc.inet3",
    vars: { commands: [...inet3, ...extra] },
    mode: "0755",
  });
  for (const [path, block, marker] of [
    ["/etc/rc.d/rc.local", "# Network configuration rc.inet1.conf does not cover (managed by runbook).\nif [ -x /etc/rc.d/rc.inet3 ]; then\n  /etc/rc.d/rc.inet3\nfi", "rc.inet3"],
    ["/etc/rc.d/rc.local_shutdown", shutdown.join("\n"), "shutdown commands"],
  ] as const) {
    // A missing script starts as an empty sh script (Slackware ships rc.local, not rc.local_shutdown).
    await h.command(`printf '#!/bin/sh\\n' > ${path} && chmod 0755 ${path}`, { creates: path, title: `create ${path}` });
    await h.blockinfile({ path, block, marker: `# {mark} runbook base-os: ${marker}`, mode: "0755" });
  }
}

/**
 * Debian: one ifupdown file with an `iface NAME inet|inet6 static` stanza
 * per address (ifupdown merges several stanzas of one interface), sourced
 * from /etc/network/interfaces when that file exists.
 */
async function debianNetwork(h: Host, ifaces: InterfaceAddresses[]): Promise<void> {
  if (!ifaces.length) {
    await h.file({ path: IFUPDOWN_FILE, state: "absent" });
    return;
  }
  await h.file({ path: "/etc/network/interfaces.d", state: "directory", mode: "0755" });
  await h.template({ src: new URL("./templates/interfaces.njk", import.meta.url), dest: IFUPDOWN_FILE, vars: { interfaces: ifaces }, mode: "0644" });
  const r = await h.command(
    [
      "if [ ! -f /etc/network/interfaces ]; then echo no-ifupdown",
      "elif grep -Eq '^[[:space:]]*source(-directory)?[[:space:]]+/etc/network/interfaces\\.d' /etc/network/interfaces; then echo sourced",
      "else echo not-sourced; fi",
    ].join("\n"),
    { readOnly: true, title: "does /etc/network/interfaces read interfaces.d" },
  );
  const state = r.stdout?.trim();
  if (state === "not-sourced") await h.lineinfile({ path: "/etc/network/interfaces", line: "source /etc/network/interfaces.d/*" });
  // The README promises "the run says so": a warning, shown without -v.
  if (state === "no-ifupdown") h.warn(`base-os: /etc/network/interfaces does not exist (ifupdown not installed): ${IFUPDOWN_FILE} is written for when it is`);
}

/**
 * Brings the running interfaces to `addresses` (see liveAddressPlan): one
 * read of `ip -o link` / `ip -o addr`, then a command per interface that
 * differs.
 */
async function applyLive(h: Host, ifaces: InterfaceAddresses[], prune: boolean): Promise<void> {
  const probe = await h.command("ip -o link show; echo ---; ip -o addr show", { readOnly: true, title: "live interfaces and addresses" });
  const plan = liveAddressPlan(ifaces, parseLive(probe.stdout ?? ""), h.facts.defaultRoute?.interface, prune);
  for (const n of plan.notes) (n.warn ? h.warn(n.text) : h.log(n.text));
  let moved = false;
  for (const step of plan.steps) moved = !(await h.command(step.cmd, { title: step.title })).predicted || moved;
  // Later tasks see the addresses in facts.interfaces (not in check mode: nothing moved).
  if (moved) await h.refreshFacts();
}
