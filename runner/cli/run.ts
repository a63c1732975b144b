/**
 * `runbook run PATTERN -- CMD`: an ad-hoc command on many hosts, like clush or
 * a Rundeck command. Output is grouped by identical result (`clush -b`):
 * hosts that printed the same thing and exited the same way share a block.
 */
import { parseArgs } from "node:util";
import { EXIT, ExitError } from "../errors.ts";
import { foldNodeset } from "../nodeset.ts";
import type { Command } from "./main.ts";
import { eachHost, HOST_OPTIONS, hostsFor } from "./common.ts";

const USAGE = `runbook run PATTERN [options] -- COMMAND...

  -i, --inventory PATH        inventory file or directory (default: inventory/)
  -b, --become                run through sudo (password: RUNBOOK_BECOME_PASSWORD)
  -f, --forks N               hosts at once (default 50)
      --accept-new-host-keys  trust and record unknown SSH host keys
      --json                  one JSON object per host`;

export const command: Command = {
  summary: "run an ad-hoc command",
  usage: USAGE,
  async run(args) {
    const dash = args.indexOf("--");
    const optArgs = dash === -1 ? args : args.slice(0, dash);
    const cmdArgs = dash === -1 ? [] : args.slice(dash + 1);
    const { values, positionals } = parseArgs({
      args: optArgs,
      allowPositionals: true,
      options: { ...HOST_OPTIONS, become: { type: "boolean", short: "b" } },
    });
    const pattern = positionals[0];
    const cmd = [...positionals.slice(1), ...cmdArgs].join(" ");
    if (!pattern || !cmd) throw new ExitError(EXIT.input, `usage: ${USAGE}`);
    const { inv, hosts } = await hostsFor(pattern, values.inventory);
    const become = values.become ? { user: "root", password: process.env.RUNBOOK_BECOME_PASSWORD } : undefined;
    const results = await eachHost(inv, hosts, { acceptNewHostKeys: !!values["accept-new-host-keys"], forks: Number(values.forks ?? 50) }, (conn) =>
      conn.run(cmd, { become }),
    );

    let exit: number = EXIT.ok;
    if (values.json) {
      for (const host of hosts) {
        const r = results.get(host)!;
        process.stdout.write(JSON.stringify(r.ok ? { host, rc: r.value.code, stdout: r.value.stdout, stderr: r.value.stderr } : { host, unreachable: r.error }) + "\n");
      }
    }
    // Group hosts by identical output and status.
    const groups = new Map<string, string[]>();
    for (const host of hosts) {
      const r = results.get(host)!;
      const key = r.ok ? `${r.value.stdout}${r.value.stderr}\u0000${r.value.code}` : `\u0001${r.error}`;
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key)!.push(host);
      if (!r.ok) exit = exit === EXIT.failed ? exit : EXIT.unreachable;
      else if (r.value.code !== 0) exit = EXIT.failed;
    }
    if (values.json) return exit;
    for (const [key, members] of groups) {
      const [out, code] = key.startsWith("\u0001") ? [`UNREACHABLE: ${key.slice(1)}\n`, "unreachable"] : key.split("\u0000");
      const title = `${foldNodeset(members)} (${members.length})${code !== "0" ? `  exit ${code}` : ""}`;
      const rule = "-".repeat(Math.min(78, title.length));
      process.stdout.write(`${rule}\n${title}\n${rule}\n${out}${out!.endsWith("\n") || out === "" ? "" : "\n"}`);
    }
    return exit;
  },
};
