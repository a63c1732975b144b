/**
 * Role `sudo`: the admin group may run anything as root (without a password
 * by default), with extra directories on sudo's `secure_path` — reference
 * 000/001's `visudo` edits, done as a drop-in that is validated before it
 * lands.
 *
 * - Installs sudo when it is missing (apt on Debian; on Slackware pkgtools
 *   needs `packageSrc`, a package file or directory on the host).
 * - Writes `/etc/sudoers.d/runbook` (root:root 0440) from
 *   templates/sudoers.njk: `Defaults secure_path="..."`, the group rule
 *   (`%wheel ALL=(ALL:ALL) NOPASSWD: ALL`) and any raw `rules`. The file is
 *   checked with `visudo -cf` as a temp file beside it and only renamed into
 *   place when it parses, so a bad rule can never lock the admin out: the
 *   task fails and the old file stays.
 * - Makes sure `/etc/sudoers` reads the drop-in directory
 *   (`@includedir /etc/sudoers.d`, or `#includedir` for sudo before 1.9.1);
 *   that edit is validated with `visudo -cf` too. Debian's and Slackware's
 *   sudoers already have it, so this is normally a no-op.
 * - Ends with `visudo -c` over the whole configuration (read-only).
 *
 * Why a drop-in rather than uncommenting lines in /etc/sudoers as the
 * reference does by hand: the distribution's file stays pristine (package
 * upgrades replace it without conflicts), and everything runbook manages is
 * in one file. sudo reads the drop-in last, so its `Defaults secure_path`
 * wins over the one in /etc/sudoers.
 *
 * The group: `wheel` on Slackware (and other families), `sudo` on Debian and
 * its derivatives, where that is the admin group. The base-os role puts its
 * admin user in both `wheel` (as the reference does, created if missing)
 * and this group (see {@link sudoGroupFor}).
 *
 * @example
 *   sudo({ wheelNopasswd: true, securePathExtra: ["/opt/java17/bin", "/opt/go/bin"] })
 *   sudo({ rules: ["Cmnd_Alias PKG = /sbin/installpkg, /sbin/upgradepkg", "%build ALL=(root) NOPASSWD: PKG"] })
 */
import { z } from "zod";
import { role, type Facts, type Infer } from "../../runner/index.ts";

/** sudo's own default `secure_path`, the start of the reference's line. */
export const DEFAULT_SECURE_PATH = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/** The drop-in this role owns. */
export const SUDOERS_DROP_IN = "/etc/sudoers.d/runbook";

/**
 * The group whose members the sudo role lets run anything as root:
 * `sudo` on the Debian family (Debian, Ubuntu, Raspberry Pi OS), `wheel`
 * elsewhere (Slackware, RHEL-likes, Arch, Alpine).
 *
 * @example sudoGroupFor(h.facts) // "wheel" on tnode1 (Slackware)
 */
export function sudoGroupFor(facts: Pick<Facts, "os">): string {
  return facts.os.family === "debian" ? "sudo" : "wheel";
}

/**
 * Checks `secure_path` entries: absolute, and nothing that would break the
 * quoted `Defaults` value or the `:` list. Returns an error message or null.
 */
export function checkSecurePath(dirs: readonly string[]): string | null {
  for (const d of dirs) {
    if (!d.startsWith("/")) return `securePath: ${JSON.stringify(d)} is not an absolute path`;
    if (/[\s:"\\,=]/.test(d)) return `securePath: ${JSON.stringify(d)} contains a character sudoers cannot take here (space, : " \\ , =)`;
  }
  return null;
}

export const sudo = role({
  name: "sudo",
  params: {
    group: z.string().optional().describe("The group given full sudo rights; default {@link sudoGroupFor} (wheel on Slackware, sudo on Debian)."),
    wheelNopasswd: z.boolean().default(true).describe("The group's rule needs no password (`NOPASSWD: ALL`), as in the reference."),
    securePath: z.array(z.string()).default([...DEFAULT_SECURE_PATH]).describe("The start of `secure_path` (sudo's default)."),
    securePathExtra: z.array(z.string()).default(["/opt/java17/bin", "/opt/go/bin"]).describe("Appended to `secure_path`: the reference's JDK and Go for SlackBuilds run through sudo."),
    rules: z.array(z.string()).default([]).describe("More sudoers lines, verbatim, after the group rule (validated with the rest)."),
    packageSrc: z.string().optional().describe("Slackware: where the sudo package is on the host when it must be installed (pkgtools `src`)."),
  },
  async run(h, p) {
    const slackware = h.facts.os.family === "slackware";
    const group = p.group ?? sudoGroupFor(h.facts);
    if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(group)) h.fail(`sudo: invalid group name ${JSON.stringify(group)}`);
    const path = [...p.securePath, ...p.securePathExtra].filter((d, i, all) => all.indexOf(d) === i);
    const bad = checkSecurePath(path);
    if (bad) h.fail(bad);

    await h.package({ name: "sudo", ...(slackware && p.packageSrc ? { src: p.packageSrc } : {}) });
    await h.file({ path: "/etc/sudoers.d", state: "directory" });

    // Does /etc/sudoers read the drop-in directory? (Either spelling counts:
    // `#includedir` is what sudo before 1.9.1 understands.)
    const probe = await h.command(
      [
        `if grep -Eq '^[#@]includedir[[:space:]]+/etc/sudoers\\.d/?[[:space:]]*$' /etc/sudoers 2>/dev/null; then echo included; else echo missing; fi`,
        `sudo -V 2>/dev/null | sed -n '1s/^Sudo version //p'`,
      ].join("\n"),
      { readOnly: true, title: "does /etc/sudoers include /etc/sudoers.d" },
    );
    const [state = "", version = ""] = (probe.stdout ?? "").split("\n").map((l) => l.trim());
    if (state === "missing") {
      await h.lineinfile({
        path: "/etc/sudoers",
        line: `${atIncludeDirSupported(version) ? "@" : "#"}includedir /etc/sudoers.d`,
        validate: "visudo -cf %s",
      }, { title: "include /etc/sudoers.d from /etc/sudoers" });
    }

    await h.template({
      src: new URL("./templates/sudoers.njk", import.meta.url),
      dest: SUDOERS_DROP_IN,
      vars: { group, nopasswd: p.wheelNopasswd, securePath: path.join(":"), rules: p.rules },
      mode: "0440",
      owner: "root",
      group: "root",
      validate: "visudo -cf %s",
    });
    await h.command("visudo -c", { readOnly: true, title: "visudo -c (whole sudoers configuration parses)" });
  },
});

/** sudo's parameters as its `run` receives them (defaults filled in). */
export type SudoParams = Infer<typeof sudo.spec.params>;

/** `@includedir` exists from sudo 1.9.1; an unknown version gets the old spelling, which every sudo reads. */
export function atIncludeDirSupported(version: string): boolean {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(version);
  if (!m) return false;
  const [maj, min, patch] = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
  return maj > 1 || (maj === 1 && (min > 9 || (min === 9 && patch >= 1)));
}
