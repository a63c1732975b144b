/** `runbook show RUN`: one recorded run, as it printed, from its history. */
import { parseArgs } from "node:util";
import { InputError } from "../errors.ts";
import { readRun } from "../history.ts";
import { consolePrinter } from "../output/console.ts";
import type { Command } from "./main.ts";

const USAGE = `runbook show RUN [options]

      --host HOST   only this host's tasks
  -D, --diff        include diffs
  -v, --verbose     include ok and skipped tasks
      --json        the stored events, one per line`;

export const command: Command = {
  summary: "show a recorded run",
  usage: USAGE,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { host: { type: "string" }, diff: { type: "boolean", short: "D" }, verbose: { type: "boolean", short: "v", multiple: true }, json: { type: "boolean" } },
    });
    const id = positionals[0];
    if (!id) throw new InputError(`usage: ${USAGE}`);
    const events = readRun(id);
    if (!events) throw new InputError(`no recorded run ${id} (see runbook history)`);
    const mine = events.filter((e) => !values.host || !("host" in e) || e.host === values.host);
    if (values.json) {
      for (const e of mine) console.log(JSON.stringify(e));
      return 0;
    }
    const print = consolePrinter({ verbose: values.verbose?.length ?? 0, diff: !!values.diff, tty: !!process.stdout.isTTY });
    for (const e of mine) print(e);
    return 0;
  },
};
