/**
 * `package` plans, data-driven (STYLE lesson 12): facts from a captured
 * host, params, and the host's state in; the commands the task would run
 * out. Real installs are proven on lab hosts (test/e2e/tasks-system.test.ts);
 * dnf/yum and slackpkg only here, as no lab host has them.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { compareVersions, globToRegExp, parseSlackPackage, planPackage, type PackageParams } from "../../tasks/package.ts";
import { runPlanCase, type PlanCase } from "./plan-helpers.ts";

const APT_INSTALL = "DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold";
const APT_UPDATE = "apt-get update && mkdir -p /var/lib/apt/periodic && touch /var/lib/apt/periodic/update-success-stamp";
const SLACKPKG = "slackpkg -batch=on -default_answer=y";
const FRESH = "list 1000\nnow 1100\n"; // lists 100 s old
const STALE = "list 1000\nstamp 1200\nnow 9000\n"; // refreshed 7800 s ago
const NO_LISTS = "now 1100\n";
const hello = (status: string, version = "2.10-3") => `hello\t${status}\t${version}\n`;

const cases: PlanCase<PackageParams>[] = [
  // ---------------------------------------------------------------- apt
  {
    name: "apt: present, not installed",
    facts: "debian-12-vm",
    params: { name: "hello" },
    state: { installed: "", lists: FRESH },
    changes: [`${APT_INSTALL} hello`],
    reason: "install hello",
  },
  {
    name: "apt: present, installed",
    facts: "debian-12-vm",
    params: { name: "hello" },
    state: { installed: hello("install ok installed"), lists: FRESH },
    changes: [],
    reason: "hello 2.10-3 installed",
  },
  {
    name: "apt: only config files left counts as not installed",
    facts: "debian-12-vm",
    params: { name: "hello" },
    state: { installed: hello("deinstall ok config-files"), lists: FRESH },
    changes: [`${APT_INSTALL} hello`],
  },
  {
    name: "apt: lists missing -> refresh before installing",
    facts: "debian-12-vm",
    params: { name: ["hello", "tree"] },
    state: { installed: hello("install ok installed"), lists: NO_LISTS },
    changes: [APT_UPDATE, `${APT_INSTALL} tree`],
    reason: "refresh package lists (package lists missing); install tree",
  },
  {
    name: "apt: updateCache false never refreshes",
    facts: "debian-12-vm",
    params: { name: "tree", updateCache: false },
    state: { installed: "", lists: NO_LISTS },
    changes: [`${APT_INSTALL} tree`],
  },
  {
    name: "apt: updateCache N refreshes lists older than N before an install",
    facts: "debian-12-vm",
    params: { name: "tree", updateCache: 60 },
    state: { installed: "", lists: FRESH },
    changes: [APT_UPDATE, `${APT_INSTALL} tree`],
    reason: "refresh package lists (package lists older than 60 s (100 s)); install tree",
  },
  {
    name: "apt: updateCache N, nothing to install -> no refresh",
    facts: "debian-12-vm",
    params: { name: "hello", updateCache: 60 },
    state: { installed: hello("install ok installed"), lists: STALE },
    changes: [],
  },
  {
    name: "apt: the stamp counts as the last refresh",
    facts: "debian-12-vm",
    params: { name: "tree", updateCache: 7900 },
    state: { installed: "", lists: STALE },
    changes: [`${APT_INSTALL} tree`],
  },
  {
    name: "apt: latest, newer candidate",
    facts: "debian-12-vm",
    params: { name: "hello", state: "latest" },
    state: {
      installed: hello("install ok installed", "2.10-2"),
      lists: FRESH,
      policy: "hello:\n  Installed: 2.10-2\n  Candidate: 2.10-3\n  Version table:\n",
    },
    changes: [`${APT_INSTALL} hello`],
    reason: "upgrade hello 2.10-2 -> 2.10-3",
  },
  {
    name: "apt: latest, already the candidate",
    facts: "debian-12-vm",
    params: { name: "hello", state: "latest" },
    state: { installed: hello("install ok installed"), lists: FRESH, policy: "hello:\n  Installed: 2.10-3\n  Candidate: 2.10-3\n" },
    changes: [],
    reason: "hello 2.10-3 at the latest version",
  },
  {
    name: "apt: latest with stale lists (updateCache true = 3600 s) -> refresh, then let apt decide",
    facts: "debian-12-vm",
    params: { name: "hello", state: "latest", updateCache: true },
    state: { installed: hello("install ok installed"), lists: STALE, policy: "hello:\n  Installed: 2.10-3\n  Candidate: 2.10-3\n" },
    changes: [APT_UPDATE, `${APT_INSTALL} hello`],
    reason: /^refresh package lists \(package lists older than 3600 s/,
  },
  {
    name: "apt: latest, no candidate anywhere",
    facts: "debian-12-vm",
    params: { name: "nosuchpkg", state: "latest" },
    state: { installed: "", lists: FRESH, policy: "" },
    error: /no installation candidate for nosuchpkg/,
  },
  {
    name: "apt: absent, installed",
    facts: "debian-12-vm",
    params: { name: ["hello", "tree"], state: "absent" },
    state: { installed: hello("install ok installed"), lists: FRESH },
    changes: ["DEBIAN_FRONTEND=noninteractive apt-get remove -y hello"],
    reason: "remove hello 2.10-3",
  },
  {
    name: "apt: absent, not installed",
    facts: "debian-12-container",
    params: { name: "hello", state: "absent" },
    state: { installed: hello("deinstall ok config-files"), lists: FRESH },
    changes: [],
    reason: "hello not installed",
  },
  {
    name: "apt: names are validated, never pasted into a command",
    facts: "debian-12-vm",
    params: { name: "hello; rm -rf /" },
    state: {},
    error: /invalid package name/,
  },
  {
    name: "apt: src is for Slackware",
    facts: "debian-12-vm",
    params: { name: "hello", src: "/tmp/hello.deb" },
    state: {},
    error: /src is for Slackware packages \(pkgtools\), not apt/,
  },
  // ----------------------------------------------------------- dnf / yum
  {
    name: "dnf: present, not installed",
    facts: "almalinux-9",
    params: { name: ["htop", "chrony"] },
    state: { installed: "package htop is not installed\nchrony\t4.3-1.el9\n" },
    changes: ["dnf install -y htop"],
    reason: "install htop",
  },
  {
    name: "dnf: present, installed",
    facts: "almalinux-9",
    params: { name: "chrony" },
    state: { installed: "chrony\t4.3-1.el9\n" },
    changes: [],
    reason: "chrony 4.3-1.el9 installed",
  },
  {
    name: "dnf: latest, an update listed (exit 100)",
    facts: "almalinux-9",
    params: { name: ["chrony", "htop"], state: "latest" },
    state: {
      installed: "chrony\t4.3-1.el9\npackage htop is not installed\n",
      updates: { out: "\nchrony.x86_64                4.5-1.el9              baseos\n", code: 100 },
    },
    changes: ["dnf install -y htop", "dnf upgrade -y chrony"],
    reason: "install htop; upgrade chrony",
    check: (_plan, parts) => assert.match(parts.updates ?? "", /^dnf -q -C check-update chrony htop$/),
  },
  {
    name: "dnf: latest, nothing to update (exit 0)",
    facts: "almalinux-9",
    params: { name: "chrony", state: "latest" },
    state: { installed: "chrony\t4.5-1.el9\n", updates: { out: "", code: 0 } },
    changes: [],
    reason: "chrony 4.5-1.el9 at the latest version",
  },
  {
    name: "dnf: latest without a metadata cache -> dnf decides",
    facts: "almalinux-9",
    params: { name: "chrony", state: "latest" },
    state: { installed: "chrony\t4.3-1.el9\n", updates: { out: "Error: Cache-only enabled but no cache for 'baseos'\n", code: 1 } },
    changes: ["dnf upgrade -y chrony"],
    reason: /if newer \(no dnf metadata cache/,
  },
  {
    name: "dnf: absent",
    facts: "almalinux-9",
    params: { name: "chrony", state: "absent" },
    state: { installed: "chrony\t4.3-1.el9\n" },
    changes: ["dnf remove -y chrony"],
  },
  {
    name: "yum: manager override",
    facts: "almalinux-9",
    params: { name: "htop", manager: "yum" },
    state: { installed: "package htop is not installed\n" },
    changes: ["yum install -y htop"],
  },
  // ------------------------------------------------------------ pkgtools
  {
    name: "pkgtools: present from a glob",
    facts: "slackware-current",
    params: { name: "frr", src: "/tmp/packages/frr-*.txz" },
    state: {
      installed: "bash-5.2.037-x86_64-1\nlibyang-3.13.5-x86_64-1_SBo\n",
      src: "dir\nfrr-10.4.1-x86_64-1_SBo.txz\nfrr-doc-10.4.1-noarch-1_SBo.txz\nlibyang-3.13.5-x86_64-1_SBo.txz\nREADME\n",
    },
    changes: ["installpkg /tmp/packages/frr-10.4.1-x86_64-1_SBo.txz"],
    reason: "install frr-10.4.1-x86_64-1_SBo",
    check: (_plan, parts) => assert.match(parts.src ?? "", /ls -1 -- \/tmp\/packages;/),
  },
  {
    name: "pkgtools: present, installed (any version)",
    facts: "slackware-current",
    params: { name: "frr", src: "/tmp/packages" },
    state: { installed: "frr-10.3.0-x86_64-1_SBo\n", src: "dir\nfrr-10.4.1-x86_64-1_SBo.txz\n" },
    changes: [],
    reason: "installed: frr (frr-10.3.0-x86_64-1_SBo)",
  },
  {
    name: "pkgtools: several names from a directory, in one installpkg",
    facts: "slackware-current",
    params: { name: ["protobuf-c", "libyang", "frr"], src: "/tmp/packages/" },
    state: {
      installed: "aaa_base-15.1-x86_64-1\n",
      src: "dir\nfrr-10.4.1-x86_64-1_SBo.txz\nlibyang-3.13.5-x86_64-1_SBo.txz\nprotobuf-c-1.5.2-x86_64-1_SBo.txz\n",
    },
    changes: ["installpkg /tmp/packages/protobuf-c-1.5.2-x86_64-1_SBo.txz /tmp/packages/libyang-3.13.5-x86_64-1_SBo.txz /tmp/packages/frr-10.4.1-x86_64-1_SBo.txz"],
  },
  {
    name: "pkgtools: latest upgrades to the highest version in src",
    facts: "slackware-current",
    params: { name: "frr", src: "/tmp/packages", state: "latest" },
    state: {
      installed: "frr-10.3.0-x86_64-1_SBo\n",
      src: "dir\nfrr-10.3.0-x86_64-1_SBo.txz\nfrr-10.10.0-x86_64-1_SBo.txz\nfrr-10.4.1-x86_64-2_SBo.txz\n",
    },
    changes: ["upgradepkg --install-new /tmp/packages/frr-10.10.0-x86_64-1_SBo.txz"],
    reason: "upgrade frr-10.3.0-x86_64-1_SBo -> frr-10.10.0-x86_64-1_SBo",
  },
  {
    name: "pkgtools: latest installs what is missing with upgradepkg --install-new",
    facts: "slackware-current",
    params: { name: "frr", src: "/tmp/packages/frr-10.4.1-x86_64-1_SBo.txz", state: "latest" },
    state: { installed: "", src: "file\n" },
    changes: ["upgradepkg --install-new /tmp/packages/frr-10.4.1-x86_64-1_SBo.txz"],
    reason: "install frr-10.4.1-x86_64-1_SBo",
  },
  {
    name: "pkgtools: latest, the package in src is installed",
    facts: "slackware-current",
    params: { name: "frr", src: "/tmp/packages/frr-10.4.1-x86_64-1_SBo.txz", state: "latest" },
    state: { installed: "frr-10.4.1-x86_64-1_SBo\n", src: "file\n" },
    changes: [],
    reason: "frr-10.4.1-x86_64-1_SBo installed, as in /tmp/packages/frr-10.4.1-x86_64-1_SBo.txz",
  },
  {
    name: "pkgtools: absent removes by name (every installed version)",
    facts: "slackware-current",
    params: { name: "frr", state: "absent" },
    state: { installed: "frr-10.3.0-x86_64-1_SBo\nfrr-10.4.1-x86_64-1_SBo\n" },
    changes: ["removepkg frr"],
    reason: "remove frr (frr-10.3.0-x86_64-1_SBo frr-10.4.1-x86_64-1_SBo)",
  },
  {
    name: "pkgtools: absent, not installed (frr-doc is another package)",
    facts: "slackware-current",
    params: { name: "frr", state: "absent" },
    state: { installed: "frr-doc-10.4.1-noarch-1_SBo\n" },
    changes: [],
    reason: "frr not installed",
  },
  {
    name: "pkgtools: a path with spaces and quotes is quoted",
    facts: "slackware-current",
    params: { name: "frr", src: "/tmp/it's here/frr-10.4.1-x86_64-1_SBo.txz" },
    state: { installed: "", src: "file\n" },
    changes: ["installpkg '/tmp/it'\\''s here/frr-10.4.1-x86_64-1_SBo.txz'"],
    check: (_plan, parts) => assert.ok(parts.src?.includes("'/tmp/it'\\''s here/frr-10.4.1-x86_64-1_SBo.txz'")),
  },
  {
    name: "pkgtools: a URL is fetched to a temp dir, installed, cleaned up",
    facts: "slackware-current",
    params: { name: "frr", src: "https://build.example/pkgs/frr-10.4.1-x86_64-1_SBo.txz" },
    state: { installed: "" },
    check: (plan, parts) => {
      assert.equal(Object.keys(parts), ["installed"]);
      const c = plan.changes[0]!;
      assert.is(c.kind, "run");
      if (c.kind !== "run") return;
      assert.is(c.label, "fetch https://build.example/pkgs/frr-10.4.1-x86_64-1_SBo.txz; installpkg frr-10.4.1-x86_64-1_SBo");
      assert.match(c.command, /fetch https:\/\/build\.example\/pkgs\/frr-10\.4\.1-x86_64-1_SBo\.txz "\$d"\/frr-10\.4\.1-x86_64-1_SBo\.txz && installpkg "\$d"\/frr-10\.4\.1-x86_64-1_SBo\.txz/);
      assert.match(c.command, /rm -rf -- "\$d"/);
    },
  },
  {
    name: "pkgtools: not installed and no src",
    facts: "slackware-current",
    params: { name: "frr" },
    state: { installed: "" },
    error: /frr not installed; pkgtools needs `src`/,
  },
  {
    name: "pkgtools: src names another package",
    facts: "slackware-current",
    params: { name: "frr", src: "/tmp/packages/libyang-3.13.5-x86_64-1_SBo.txz" },
    state: { installed: "", src: "file\n" },
    error: /is package libyang, not frr/,
  },
  {
    name: "pkgtools: nothing for the name in src",
    facts: "slackware-current",
    params: { name: "frr", src: "/tmp/packages" },
    state: { installed: "", src: "dir\nlibyang-3.13.5-x86_64-1_SBo.txz\n" },
    error: /no package for frr in \/tmp\/packages/,
  },
  {
    name: "pkgtools: src missing on the host",
    facts: "slackware-current",
    params: { name: "frr", src: "/tmp/nowhere/frr-*.txz" },
    state: { installed: "", src: { out: "", code: 3 } },
    error: /src \/tmp\/nowhere not found on the host/,
  },
  // ------------------------------------------------------------ slackpkg
  {
    name: "slackpkg: present, not installed",
    facts: "slackware-15.0",
    params: { name: "ntp" },
    state: { installed: "bash-5.1.016-x86_64-1\n", lists: FRESH },
    changes: [`${SLACKPKG} install ntp`],
  },
  {
    name: "slackpkg: present, pkglist never fetched -> update first",
    facts: "slackware-15.0",
    params: { name: "ntp" },
    state: { installed: "", lists: NO_LISTS },
    changes: [`${SLACKPKG} update`, `${SLACKPKG} install ntp`],
  },
  {
    name: "slackpkg: latest, the mirror has another build",
    facts: "slackware-15.0",
    params: { name: ["openssh", "bash"], state: "latest" },
    state: {
      installed: "openssh-9.9p1-x86_64-1\nbash-5.2.037-x86_64-1\n",
      lists: FRESH,
      pkglist:
        "slackware64 openssh 9.9p2 x86_64 1 openssh-9.9p2-x86_64-1 ./patches/packages txz\n" +
        "slackware64 bash 5.2.037 x86_64 1 bash-5.2.037-x86_64-1 ./slackware64/a txz\n",
    },
    changes: [`${SLACKPKG} upgrade openssh`],
    reason: "upgrade openssh-9.9p1-x86_64-1 -> openssh-9.9p2-x86_64-1",
  },
  {
    name: "slackpkg: latest, up to date",
    facts: "slackware-15.0",
    params: { name: "bash", state: "latest" },
    state: { installed: "bash-5.2.037-x86_64-1\n", lists: FRESH, pkglist: "slackware64 bash 5.2.037 x86_64 1 bash-5.2.037-x86_64-1 ./slackware64/a txz\n" },
    changes: [],
    reason: "at the latest version: bash (bash-5.2.037-x86_64-1)",
  },
  {
    name: "slackpkg: latest without a pkglist -> update, then slackpkg decides",
    facts: "slackware-15.0",
    params: { name: "bash", state: "latest" },
    state: { installed: "bash-5.2.037-x86_64-1\n", lists: NO_LISTS, pkglist: "" },
    changes: [`${SLACKPKG} update`, `${SLACKPKG} upgrade bash`],
  },
  {
    name: "slackpkg: absent uses removepkg (slackpkg remove matches patterns)",
    facts: "slackware-15.0",
    params: { name: "ntp", state: "absent" },
    state: { installed: "ntp-4.2.8p18-x86_64-1\n" },
    changes: ["removepkg ntp"],
  },
  {
    name: "slackpkg host with src -> pkgtools",
    facts: "slackware-15.0",
    params: { name: "frr", src: "/tmp/packages/frr-10.4.1-x86_64-1_SBo.txz" },
    state: { installed: "", src: "file\n" },
    changes: ["installpkg /tmp/packages/frr-10.4.1-x86_64-1_SBo.txz"],
  },
];

for (const c of cases) test(c.name, () => runPlanCase(c, planPackage));

test("Slackware package names: the name is everything before the last three fields", () => {
  assert.equal(parseSlackPackage("python-setuptools-80.9.0-x86_64-1"), {
    full: "python-setuptools-80.9.0-x86_64-1",
    name: "python-setuptools",
    version: "80.9.0",
    arch: "x86_64",
    build: "1",
  });
  assert.is(parseSlackPackage("frr-10.4.1-x86_64-1_SBo")?.name, "frr");
  assert.is(parseSlackPackage("libblkio-v1.5.0-x86_64-1_SBo")?.name, "libblkio");
  assert.is(parseSlackPackage("bcrypt-4.3.0-x86_64-1_SBo-subint")?.name, "bcrypt-4.3.0");
  assert.is(parseSlackPackage("not-a-package"), null);
});

test("version order and globs", () => {
  assert.ok(compareVersions("10.10.0", "10.4.1") > 0);
  assert.ok(compareVersions("9.9p1", "9.9p2") < 0);
  assert.ok(compareVersions("1_SBo", "2_SBo") < 0);
  assert.is(compareVersions("1.0", "1.0"), 0);
  assert.ok(globToRegExp("frr-*.txz").test("frr-10.4.1-x86_64-1_SBo.txz"));
  assert.not.ok(globToRegExp("frr-*.txz").test("frr-10.4.1-x86_64-1_SBo.tgz"));
  assert.ok(globToRegExp("lib[xy]ang-?.*").test("libyang-3.13.5-x86_64-1_SBo.txz"));
  assert.not.ok(globToRegExp("a.b").test("axb"));
});

test.run();
