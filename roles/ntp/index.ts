/**
 * `ntp`: keep the host's clock in step, as a client of upstream servers or
 * as the cluster's own time server (reference 003: a local server with
 * `allow SUBNET` and `local stratum N`, clients pointing at it; reference
 * 000: `server 1.pool.ntp.org iburst` in Slackware's /etc/ntp.conf).
 *
 * - **Slackware**: ntpd. The `ntp` package (installed from `packageSrc` on
 *   hosts without slackpkg), /etc/ntp.conf templated, /etc/rc.d/rc.ntpd
 *   executable (= enabled at boot) and started; a config change restarts it.
 * - **Debian family** (Debian, Ubuntu, Raspberry Pi OS) and **RHEL-likes**:
 *   chrony. The daemon's options file (/etc/default/chrony `DAEMON_OPTS`,
 *   /etc/sysconfig/chronyd `OPTIONS`) is written *before* the package is
 *   installed, so a postinst that starts chronyd already starts it with the
 *   options asked for; then the package, chrony.conf, and the service
 *   (`chrony` / `chronyd`) enabled and started; changes restart it.
 *
 * `clockControl: false` keeps the daemon from ever steering the system
 * clock (chronyd `-x`; ntpd `disable ntp` + `disable kernel`): it still
 * measures its sources, selects one and serves time, but leaves the clock
 * alone. Use it where the clock is not the host's own (containers, the test
 * lab, which shares the test machine's clock) or is disciplined by
 * something else.
 *
 * @example
 *   // the cluster's time server, and clients pointing at it
 *   play({ name: "time server", hosts: "tnode1", roles: [ntp({ mode: "server", allow: ["10.50.0.0/16"], localStratum: 8 })] }),
 *   play({ name: "time clients", hosts: "clusternode:!tnode1", roles: [ntp({ servers: ["10.50.0.1"] })] }),
 */
import { isIP } from "node:net";
import { z } from "zod";
import { role, type Host, type Infer } from "../../runner/index.ts";

const params = {
  mode: z.enum(["client", "server"] as const).default("client").describe("`client`: follow `servers`. `server`: also serve time to `allow`ed networks, with `localStratum` as a fallback."),
  servers: z.array(z.string()).default(["1.pool.ntp.org"]).describe("Upstream servers (names or addresses). Reference 000: `1.pool.ntp.org`."),
  iburst: z.boolean().default(true).describe("Send a burst of requests at start-up so the first sync takes seconds, not minutes."),
  allow: z.array(z.string()).default([]).describe("Server mode: networks (`10.50.0.0/16`) or addresses allowed to ask this host for time."),
  localStratum: z.int().optional().describe("Server mode: keep serving from the local clock at this stratum (1-15) when no upstream is reachable (chrony `local stratum N`)."),
  clockControl: z.boolean().default(true).describe("false: never steer the system clock (chronyd `-x`, ntpd `disable ntp`); time is still measured and served."),
  packageSrc: z.string().optional().describe("Slackware without slackpkg: where the ntp package is on the host (a .txz file, directory or glob, or a URL)."),
};

/** The ntp role's parameters, as `run` receives them. */
export type NtpParams = Infer<typeof params>;

const template = (file: string) => new URL(`./templates/${file}`, import.meta.url);

/** A name or address that can go on a config line as one word. */
const SERVER = /^[A-Za-z0-9][A-Za-z0-9.:%_-]*$/;

/**
 * Checks the parameters together (the schema checks each alone); returns
 * what is wrong, or null. Pure, for unit tests.
 *
 * @example checkNtpParams({ ...defaults, mode: "client", allow: ["10.0.0.0/8"] }) // "allow is a server-mode setting ..."
 */
export function checkNtpParams(p: NtpParams): string | null {
  for (const s of p.servers) if (!SERVER.test(s)) return `servers: ${JSON.stringify(s)} is not a host name or address`;
  for (const a of p.allow) if (!parseNet(a)) return `allow: ${JSON.stringify(a)} is not an address or network (10.50.0.0/16, fd00::/8)`;
  if (p.localStratum !== undefined && !(p.localStratum >= 1 && p.localStratum <= 15)) return `localStratum must be 1-15, got ${p.localStratum}`;
  if (p.mode === "client") {
    if (p.allow.length) return `allow is a server-mode setting (set mode: "server" to serve time to ${p.allow.join(", ")})`;
    if (p.localStratum !== undefined) return `localStratum is a server-mode setting (set mode: "server")`;
    if (p.servers.length === 0) return "a client needs at least one server";
  }
  return null;
}

interface Net {
  family: 4 | 6;
  address: string;
  prefix: number;
}

/** `10.50.0.0/16` -> its parts; a bare address is a host (/32, /128); null when malformed. */
export function parseNet(text: string): Net | null {
  const m = /^([^/\s]+)(?:\/(\d{1,3}))?$/.exec(text);
  if (!m) return null;
  const family = isIP(m[1]!);
  if (family !== 4 && family !== 6) return null;
  const max = family === 4 ? 32 : 128;
  const prefix = m[2] === undefined ? max : Number(m[2]);
  if (prefix > max) return null;
  return { family, address: m[1]!, prefix };
}

/** A prefix length as a netmask: 16 -> `255.255.0.0`, 64 (IPv6) -> `ffff:ffff:ffff:ffff:0:0:0:0`. */
export function prefixMask(family: 4 | 6, prefix: number): string {
  const bits = family === 4 ? 32 : 128;
  const ones = "1".repeat(prefix) + "0".repeat(bits - prefix);
  if (family === 4) return [0, 8, 16, 24].map((i) => parseInt(ones.slice(i, i + 8), 2)).join(".");
  return Array.from({ length: 8 }, (_, i) => parseInt(ones.slice(i * 16, i * 16 + 16), 2).toString(16)).join(":");
}

/**
 * ntpd `restrict` lines that let `allow`ed networks query this server
 * (ntpd serves time to anyone by default, as Slackware's and Debian's
 * ntp.conf do; these lines also lift `noquery`, so `ntpq -p SERVER` works
 * from the cluster network).
 *
 * @example ntpdAllowLines(["10.50.0.0/16"]) // ["restrict 10.50.0.0 mask 255.255.0.0 limited kod nomodify notrap nopeer"]
 */
export function ntpdAllowLines(allow: string[]): string[] {
  return allow.map((a) => {
    const n = parseNet(a);
    if (!n) throw new Error(`allow: ${JSON.stringify(a)} is not an address or network`);
    const six = n.family === 6 ? "-6 " : "";
    return `restrict ${six}${n.address} mask ${prefixMask(n.family, n.prefix)} limited kod nomodify notrap nopeer`;
  });
}

/** Where chrony keeps its files on a distribution family. */
export interface ChronyLayout {
  conf: string;
  /** The file the init script / unit reads the daemon's options from, and the variable. */
  optionsFile: string;
  optionsVar: string;
  /** The distribution's default options (the seccomp filter level). */
  baseOptions: string[];
  service: string;
  keyfile: string;
  driftfile: string;
  /** Debian's conf.d / sources.d / DHCP source directories. */
  debianDirs: boolean;
}

/** chrony's layout per supported family. */
export const CHRONY_LAYOUTS: Record<"debian" | "redhat", ChronyLayout> = {
  debian: {
    conf: "/etc/chrony/chrony.conf",
    optionsFile: "/etc/default/chrony",
    optionsVar: "DAEMON_OPTS",
    baseOptions: ["-F", "1"],
    service: "chrony",
    keyfile: "/etc/chrony/chrony.keys",
    driftfile: "/var/lib/chrony/chrony.drift",
    debianDirs: true,
  },
  redhat: {
    conf: "/etc/chrony.conf",
    optionsFile: "/etc/sysconfig/chronyd",
    optionsVar: "OPTIONS",
    baseOptions: ["-F", "2"],
    service: "chronyd",
    keyfile: "/etc/chrony.keys",
    driftfile: "/var/lib/chrony/drift",
    debianDirs: false,
  },
};

/** chronyd's command-line options for the parameters. */
export function chronyOptions(layout: ChronyLayout, p: Pick<NtpParams, "clockControl">): string {
  return [...layout.baseOptions, ...(p.clockControl ? [] : ["-x"])].join(" ");
}

/** The files the role writes and the variables each template gets (unit tests render the same). */
export const NTP_TEMPLATES = {
  /** Slackware's /etc/ntp.conf. */
  ntpConf: (p: NtpParams) => ({
    src: template("ntp.conf.njk"),
    dest: "/etc/ntp.conf",
    vars: { ntp: { ...p, restrictAllow: p.mode === "server" ? ntpdAllowLines(p.allow) : [] } },
  }),
  /** chronyd's options file (/etc/default/chrony, /etc/sysconfig/chronyd). */
  chronyOptions: (p: NtpParams, layout: ChronyLayout) => ({
    src: template("chrony-options.njk"),
    dest: layout.optionsFile,
    vars: { chrony: { optionsFile: layout.optionsFile, optionsVar: layout.optionsVar, options: chronyOptions(layout, p), clockControl: p.clockControl } },
  }),
  /** chrony.conf. */
  chronyConf: (p: NtpParams, layout: ChronyLayout) => ({
    src: template("chrony.conf.njk"),
    dest: layout.conf,
    vars: { ntp: p, chrony: layout },
  }),
};

async function slackware(h: Host, p: NtpParams): Promise<void> {
  const restart = h.handler("restart ntpd", () => h.service({ name: "ntpd", state: "restarted" }));
  await h.package({ name: "ntp", ...(p.packageSrc === undefined ? {} : { src: p.packageSrc }) });
  await h.template({ ...NTP_TEMPLATES.ntpConf(p), mode: "0644" }, { notify: restart });
  await h.service({ name: "ntpd", enabled: true, state: "started" });
}

async function chrony(h: Host, p: NtpParams, layout: ChronyLayout): Promise<void> {
  const restart = h.handler(`restart ${layout.service}`, () => h.service({ name: layout.service, state: "restarted" }));
  // First, before the package: a postinst that starts chronyd (Debian's
  // does, where an init system lets it) reads its options from this file,
  // so with clockControl false chronyd never runs a moment without -x.
  await h.template({ ...NTP_TEMPLATES.chronyOptions(p, layout), mode: "0644" }, { notify: restart });
  await h.package({ name: "chrony" });
  await h.template({ ...NTP_TEMPLATES.chronyConf(p, layout), mode: "0644" }, { notify: restart });
  await h.service({ name: layout.service, enabled: true, state: "started" });
}

/**
 * The ntp role (see the module doc and roles/ntp/README.md).
 *
 * @example ntp({ mode: "server", allow: ["10.50.0.0/16"], localStratum: 8 })
 */
export const ntp = role({
  name: "ntp",
  params,
  async run(h, p) {
    const wrong = checkNtpParams(p);
    if (wrong) h.fail(`ntp: ${wrong}`);
    if (p.mode === "server" && p.servers.length === 0 && p.localStratum === undefined) {
      h.log("ntp: server mode with no upstream servers and no localStratum: clients will not accept this host's time until it has a source");
    }
    const family = h.facts.os.family;
    if (family === "slackware") return slackware(h, p);
    if (family === "debian" || family === "redhat") return chrony(h, p, CHRONY_LAYOUTS[family]);
    h.fail(`ntp: ${h.facts.os.prettyName || family} is not supported (Slackware: ntpd; Debian family and RHEL-likes: chrony)`);
  },
});
