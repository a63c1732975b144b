/**
 * The `runbook` command: parses the command name and loads that command's
 * module lazily (one file per command), so start-up costs only what the
 * command uses. Expected exits are ExitError(code); anything else is a bug,
 * printed as an internal error with a request to report it.
 */
import { EXIT, ExitError } from "../errors.ts";
import { errorStack } from "../modules.ts";

export interface Command {
  summary: string;
  usage: string;
  run(args: string[]): Promise<number>;
}

/** Command name -> its module (imported by a literal path, which the prebuilt JS rewrites). */
const COMMANDS: Record<string, { load: () => Promise<{ command: Command }>; summary: string }> = {
  play: { load: () => import("./play.ts"), summary: "apply a playbook to its hosts" },
  run: { load: () => import("./run.ts"), summary: "run an ad-hoc command on hosts (output grouped like clush -b)" },
  facts: { load: () => import("./facts.ts"), summary: "show what runbook knows about hosts" },
  inventory: { load: () => import("./inventory.ts"), summary: "list hosts and groups, or a host's variables and their sources" },
  history: { load: () => import("./history.ts"), summary: "list recorded runs" },
  show: { load: () => import("./show.ts"), summary: "show one recorded run: per-host tasks, diffs, output" },
  describe: { load: () => import("./describe.ts"), summary: "a role's parameters or a playbook's prompts as JSON Schema" },
  serve: { load: () => import("./serve.ts"), summary: "web UI: jobs, nodes, live logs and history in a browser" },
  init: { load: () => import("./init.ts"), summary: "scaffold a typed lab repository (inventory, site.ts, tsconfig)" },
};

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return [
    "usage: runbook <command> [options]",
    "",
    "commands:",
    ...lines,
    "",
    "  runbook <command> --help    options of one command",
    "  runbook --version",
    "",
    "exit codes: 0 ok, 1 usage or input error, 2 a host failed, 4 a host unreachable,",
    "            70 internal error, 130 interrupted (SIGINT), 143 terminated (SIGTERM)",
  ].join("\n");
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(help());
    return name ? 0 : 1;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    console.error(`runbook: unknown command "${name}"\n\n${help()}`);
    return 1;
  }
  try {
    const mod = await entry.load();
    if (rest.includes("--help") || rest.includes("-h")) {
      console.log(`usage: ${mod.command.usage}`);
      return 0;
    }
    return await mod.command.run(rest);
  } catch (err) {
    if (err instanceof ExitError) {
      if (err.message) console.error(`runbook: ${err.message}`);
      return err.code;
    }
    if ((err as { code?: string }).code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" || (err as { code?: string }).code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
      console.error(`runbook ${name}: ${(err as Error).message}`);
      return 1;
    }
    console.error(`runbook: internal error: ${errorStack(err)}\nThis is a bug in runbook; please report it with the command you ran.`);
    return EXIT.internal;
  }
}
