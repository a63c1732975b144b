/** The distribution fact: os-release, with Slackware's own version file. */
import type { FactUnit, RawFacts } from "./unit.ts";
import type { OsFacts, OsFamily } from "./types.ts";

const OS_RELEASE = ["/etc/os-release", "/usr/lib/os-release"] as const;
const SLACKWARE_VERSION = "/etc/slackware-version";
/** Raspberry Pi OS's image stamp; present on its 32- and 64-bit images. */
const RPI_ISSUE = "/etc/rpi-issue";

const FAMILY_BY_ID: Readonly<Record<string, OsFamily>> = {
  slackware: "slackware",
  debian: "debian",
  ubuntu: "debian",
  raspbian: "debian",
  devuan: "debian",
  linuxmint: "debian",
  pop: "debian",
  kali: "debian",
  rhel: "redhat",
  centos: "redhat",
  fedora: "redhat",
  almalinux: "redhat",
  rocky: "redhat",
  ol: "redhat",
  amzn: "redhat",
  scientific: "redhat",
  suse: "suse",
  sles: "suse",
  sled: "suse",
  opensuse: "suse",
  "opensuse-leap": "suse",
  "opensuse-tumbleweed": "suse",
  arch: "arch",
  archarm: "arch",
  manjaro: "arch",
  endeavouros: "arch",
  alpine: "alpine",
};

/**
 * Parses os-release text (KEY=value lines, values optionally quoted with
 * shell-style escapes) without evaluating it.
 *
 * @example
 * parseOsRelease('ID=debian\nVERSION_ID="12"\n').VERSION_ID // "12"
 */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2]!.trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
      value = value.slice(1, -1).replace(/\\([\\"$`])/g, "$1");
    } else if (value.length >= 2 && value.startsWith("'") && value.endsWith("'")) {
      value = value.slice(1, -1);
    }
    out[m[1]!] = value;
  }
  return out;
}

/**
 * The family for an os-release ID, falling back to its ID_LIKE list.
 *
 * @example
 * osFamily("almalinux", ["rhel", "centos", "fedora"]) // "redhat"
 */
export function osFamily(id: string, idLike: readonly string[] = []): OsFamily {
  for (const candidate of [id, ...idLike]) {
    const family = FAMILY_BY_ID[candidate];
    if (family) return family;
  }
  return "unknown";
}

function parseOs(raw: RawFacts): OsFacts {
  const text = raw.file(OS_RELEASE[0]) ?? raw.file(OS_RELEASE[1]) ?? "";
  const osr = parseOsRelease(text);
  const idLike = (osr.ID_LIKE ?? "").split(/\s+/).filter(Boolean);
  let id = (osr.ID ?? "").toLowerCase() || "linux";
  let name = osr.NAME ?? "Linux";
  let version = osr.VERSION ?? osr.VERSION_ID ?? "";
  let versionId = osr.VERSION_ID ?? "";
  let codename = osr.VERSION_CODENAME || undefined;

  // /etc/slackware-version is what Slackware's own tools read, and the only
  // place -current says it is past the release ("Slackware 15.0+").
  const slack = /^Slackware\s+(\S+)/.exec(raw.file(SLACKWARE_VERSION)?.trim() ?? "");
  if (slack) {
    id = "slackware";
    if (!osr.NAME) name = "Slackware";
    version = slack[1]!;
    if (!versionId) versionId = version.replace(/\+$/, "");
    if (!codename) codename = version.endsWith("+") ? "current" : "stable";
  }
  if (id === "debian" && raw.exists(RPI_ISSUE)) id = "raspbian";

  const prettyName = osr.PRETTY_NAME || `${name}${version ? ` ${version}` : ""}`;
  const os: OsFacts = { id, family: osFamily(id, idLike), name, version, versionId, prettyName, idLike };
  if (codename) os.codename = codename;
  return os;
}

/**
 * `os`: distribution id, family, version.
 *
 * @example
 * osUnit.parse(splitRaw(stdout)).family // "slackware"
 */
export const osUnit: FactUnit<OsFacts> = {
  name: "os",
  files: [OS_RELEASE, SLACKWARE_VERSION],
  exists: [RPI_ISSUE],
  parse: parseOs,
  default: { id: "linux", family: "unknown", name: "Linux", version: "", versionId: "", prettyName: "Linux", idLike: [] },
};
