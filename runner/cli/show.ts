/** `runbook show RUN`: one recorded run, as it printed, from its history. */
import { parseArgs } from "node:util";
import { InputError } from "../errors.ts";
import { findRun, readRun } from "../history.ts";
import { consolePrinter } from "../output/console.ts";
import type { Command } from "./main.ts";

const USAGE = `runbook show RUN [options]

  RUN is a run id, a prefix of exactly one (20261204-1852), or last (with
  --host: the last run that touched HOST)

      --host HOST   only this host's tasks and recap row
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
    let runId: string;
    try {
      runId = findRun(id, { host: values.host });
    } catch (err) {
      throw new InputError((err as Error).message);
    }
    const events = readRun(runId);
    if (!events) throw new InputError(`no recorded run ${id} (see runbook history)`);
    const host = values.host;
    const mine = !host
      ? events
      : events
          .filter((e) => !("host" in e) || e.host === host)
          .map((e) => {
            if (e.type === "play.start") return { ...e, hosts: e.hosts.filter((h) => h === host) };
            if (e.type === "run.end") return { ...e, recap: Object.fromEntries(Object.entries(e.recap).filter(([h]) => h === host)) };
            return e;
          });
    if (values.json) {
      for (const e of mine) console.log(JSON.stringify(e));
      return 0;
    }
    const print = consolePrinter({ verbose: values.verbose?.length ?? 0, diff: !!values.diff, tty: !!process.stdout.isTTY });
    for (const e of mine) print(e);
    return 0;
  },
};
