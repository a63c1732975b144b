/**
 * `hostname`: the host's name, persistent and live.
 *
 * - /etc/hostname holds `name` (Debian, RHEL-likes, Alpine...).
 * - On Slackware (`facts.os.family === "slackware"`) /etc/HOSTNAME holds it
 *   too: rc.M sets the name at boot from that file's first label, so the
 *   live name there is the short name (`tnode1` for `tnode1.i131.net`), and
 *   the next boot agrees with what this task set.
 * - Live: `hostname NAME` (or /proc/sys/kernel/hostname without the
 *   `hostname` binary), only when it differs.
 *
 * The run's facts (`h.facts.hostname`) keep the old name until
 * `await h.refreshFacts()` gathers them again.
 *
 * @example
 *   await h.hostname({ name: "tnode1.i131.net" });
 */
import { shq } from "../runner/quote.ts";
import { defineTask, type Change, type FileDiff, type Plan } from "../runner/task.ts";
import { fileContent, probeSections, readScript, textFileChange } from "./probe.ts";

export interface HostnameParams {
  /** Short name or FQDN (RFC 1123 labels). */
  name: string;
}

/** Which files hold the name and what the live name should be, per OS family. */
export function hostnameTargets(name: string, family: string): { files: string[]; live: string } {
  if (family === "slackware") return { files: ["/etc/HOSTNAME", "/etc/hostname"], live: name.split(".")[0]! };
  return { files: ["/etc/hostname"], live: name };
}

export function checkHostname(name: string): void {
  if (typeof name !== "string") throw new Error("hostname: a name is required");
  const label = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
  if (name.length > 253 || !name.split(".").every((l) => label.test(l))) throw new Error(`hostname: invalid name ${JSON.stringify(name)}`);
}

export const hostnameTask = defineTask<HostnameParams>({
  kind: "hostname",
  describe: (p) => `hostname ${p.name}`,
  async plan(ctx, p): Promise<Plan> {
    checkHostname(p.name);
    const { files, live } = hostnameTargets(p.name, ctx.facts.os.family);
    const parts: Record<string, string> = { live: "cat /proc/sys/kernel/hostname" };
    files.forEach((f, i) => (parts[`f${i}`] = readScript(f)));
    const s = await probeSections(ctx, parts);
    const changes: Change[] = [];
    const diffs: FileDiff[] = [];
    const what: string[] = [];
    files.forEach((f, i) => {
      const before = fileContent(s[`f${i}`]!, f);
      // A file with the name and no newline, or with trailing blanks, still says the name.
      if (before !== null && before.trim() === p.name) return;
      const put = textFileChange(f, before, `${p.name}\n`)!;
      changes.push(put.change);
      diffs.push(put.diff);
      what.push(`${f}: ${before?.trim() || "(none)"} -> ${p.name}`);
    });
    const now = s.live!.out.trim();
    if (now !== live) {
      const l = shq(live);
      changes.push({ kind: "run", command: `if command -v hostname >/dev/null 2>&1; then hostname ${l}; else printf '%s\\n' ${l} > /proc/sys/kernel/hostname; fi` });
      what.push(`live ${now} -> ${live}`);
    }
    if (!changes.length) return { changes, reason: `hostname is ${live}${files.length ? ` (${files.join(", ")}: ${p.name})` : ""}` };
    return { changes, reason: what.join("; "), diffs: diffs.length ? diffs : undefined };
  },
});
