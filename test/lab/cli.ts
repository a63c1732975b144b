/**
 * `npm run lab -- up|down|status|ssh|build`: the test lab from the shell.
 *
 *   npm run lab -- up 3 [--topology triangle] [--slackware 3] [--systemd 1,2] [--id 0] [--prefix tnode] [--python] [--replace]
 *   npm run lab -- status [--id 0]
 *   npm run lab -- ssh tnode1 [--id 0] [-- CMD...]
 *   npm run lab -- down [--id 0 | --all]
 *   npm run lab -- build [--python]     build (or check) the cached rootfs only
 */
import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";
import { defaultId, down, hostList, labUnavailable, status, up } from "./lab.ts";
import { ensureRootfs } from "./rootfs.ts";
import { ensureLabTools } from "./tools.ts";

const USAGE = `usage: npm run lab -- <command>
  up N [--topology triangle] [--slackware LIST] [--systemd LIST] [--prefix tnode] [--python] [--id ID] [--replace]
     (a lab already up on ID is reused when it is the one asked for; --replace rebuilds it)
  status [--id ID]
  ssh HOST [--id ID] [-- CMD...]
  down [--id ID | --all]
  build [--python]`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      id: { type: "string" },
      topology: { type: "string" },
      slackware: { type: "string" },
      systemd: { type: "string" },
      replace: { type: "boolean" },
      prefix: { type: "string" },
      python: { type: "boolean" },
      all: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  const [cmd, ...rest] = positionals;
  const id = values.id === undefined ? defaultId() : Number(values.id);
  const log = (line: string) => console.error(line);
  if (values.help || !cmd) {
    console.log(USAGE);
    return cmd ? 0 : 1;
  }
  switch (cmd) {
    case "build": {
      await ensureLabTools(log);
      const reason = await labUnavailable();
      if (reason) throw new Error(`lab unavailable: ${reason}`);
      console.log(await ensureRootfs({ python: values.python, log }));
      return 0;
    }
    case "up": {
      const count = Number(rest[0] ?? 3);
      const topology = values.topology === "triangle" ? "triangle" : "none";
      if (values.topology && values.topology !== "triangle") throw new Error(`unknown topology ${values.topology} (known: triangle)`);
      const lab = await up({
        id,
        hosts: count,
        topology,
        slackware: hostList(values.slackware),
        systemd: hostList(values.systemd),
        prefix: values.prefix,
        python: values.python,
        replace: values.replace,
        log,
      });
      printStatus(lab.id);
      return 0;
    }
    case "status":
      return printStatus(id) ? 0 : 3;
    case "ssh": {
      const lab = status(id);
      if (!lab) throw new Error(`lab ${id} is not up`);
      const host = rest[0] ?? lab.hosts[0]!.name;
      const r = spawnSync("ssh", ["-F", lab.sshConfig, host, ...rest.slice(1)], { stdio: "inherit" });
      return r.status ?? 1;
    }
    case "down": {
      const ids = values.all ? Array.from({ length: 16 }, (_, i) => i) : [id];
      for (const i of ids) await down(i);
      return 0;
    }
    default:
      console.error(`unknown lab command: ${cmd}\n${USAGE}`);
      return 1;
  }
}

function printStatus(id: number): boolean {
  const lab = status(id);
  if (!lab) {
    console.log(`lab ${id}: down`);
    return false;
  }
  console.log(`lab ${id}: ${lab.hosts.length} host(s), topology ${lab.topology}`);
  for (const h of lab.hosts) console.log(`  ${h.name.padEnd(10)} ${h.address.padEnd(14)} ${h.flavour.padEnd(9)} ${h.init}`);
  console.log(`  inventory:  ${lab.inventory}\n  ssh config: ${lab.sshConfig}  (ssh -F ${lab.sshConfig} ${lab.hosts[0]!.name})`);
  return true;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`lab: ${err.message}`);
    process.exit(1);
  },
);
