/**
 * `runbook facts PATTERN`: gather and print what runbook knows about hosts
 * (one round trip per host, POSIX sh only). `--json` for the typed object.
 */
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { EXIT, ExitError } from "../errors.ts";
import { gatherFacts } from "../facts/index.ts";
import type { Command } from "./main.ts";
import { vaultUsage } from "./vault.ts";
import { connectOptions, eachHost, HOST_OPTIONS, hostsFor } from "./common.ts";

const USAGE = `runbook facts PATTERN [options]

  -i, --inventory PATH        inventory file or directory (default: inventory/)
  -F, --ssh-config FILE       OpenSSH client config to read instead of ~/.ssh/config (as ssh -F)
  -u, --user USER             log in as USER (over the inventory and the ssh config)
  -f, --forks N               hosts at once (default 50)
      --json                  one JSON object per host
      --accept-new-host-keys  trust and record unknown SSH host keys
${vaultUsage(30)}`;

export const command: Command = {
  summary: "show host facts",
  usage: USAGE,
  async run(args) {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: HOST_OPTIONS });
    if (positionals.length !== 1) throw new ExitError(EXIT.input, `usage: ${USAGE}`);
    const { inv, hosts } = await hostsFor(positionals[0]!, values);
    const results = await eachHost(inv, hosts, connectOptions(values), (conn) =>
      gatherFacts((script) => conn.run(script)),
    );
    let exit: number = EXIT.ok;
    for (const host of hosts) {
      const r = results.get(host)!;
      if (!r.ok) exit = EXIT.unreachable;
      if (values.json) process.stdout.write(JSON.stringify(r.ok ? { host, facts: r.value } : { host, unreachable: r.error }) + "\n");
      else process.stdout.write(`${host}:\n${r.ok ? indent(stringify(r.value, { lineWidth: 0 })) : `  unreachable: ${r.error}\n`}`);
    }
    return exit;
  },
};

const indent = (s: string) => s.replace(/^(?=.)/gm, "  ");
