/**
 * `npm run demo`: bring up a 3-host lab (the reference triangle) and play the
 * demo playbook against it twice — the second run must report 0 changed.
 * The lab stays up afterwards for exploring (`npm run lab -- ssh tnode1`);
 * `npm run lab -- down` removes it.
 *
 *   npm run demo [-- --id ID] [--systemd LIST] [--slackware LIST]
 *
 * The lab id is `--id`, else `RUNBOOK_LAB_ID`, else 0. A lab already up on
 * that id is played on again when it is the demo's triangle, and the demo
 * refuses to start when it is some other lab (see `up`).
 */
import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";

import { defaultId, hostList, up } from "./lab.ts";

const PLAYBOOK = process.env.RUNBOOK_DEMO_PLAYBOOK ?? "playbooks/site.ts";

const { values } = parseArgs({ options: { id: { type: "string" }, systemd: { type: "string" }, slackware: { type: "string" } } });
const lab = await up({
  id: values.id === undefined ? defaultId() : Number(values.id),
  hosts: 3,
  topology: "triangle",
  systemd: hostList(values.systemd),
  slackware: hostList(values.slackware),
  log: (l) => console.error(l),
}).catch((err: Error) => {
  console.error(`demo: ${err.message}`);
  process.exit(1);
});
console.log(`lab ${lab.id} up: ${lab.hosts.map((h) => `${h.name} ${h.address}`).join(", ")}\n`);

function play(extra: string[] = []): { code: number; recap: string } {
  const args = ["bin/runbook.js", "play", PLAYBOOK, "-i", lab.inventory, ...extra];
  console.log(`$ runbook ${args.slice(1).join(" ")}`);
  const r = spawnSync(process.execPath, args, { stdio: ["inherit", "pipe", "inherit"], encoding: "utf8" });
  process.stdout.write(r.stdout);
  return { code: r.status ?? 1, recap: r.stdout };
}

const first = play(["--diff"]);
if (first.code !== 0) process.exit(first.code);
console.log("\nSecond run: the hosts have converged, so nothing should change.\n");
const second = play();
if (second.code !== 0) process.exit(second.code);
const changed = [...second.recap.matchAll(/^(\S+)\s+\d+\s+(\d+)\s+\d+\s+\d+\s+\d+\s+\S+$/gm)].map((m) => Number(m[2]));
if (changed.length === 0 || changed.some((n) => n !== 0)) {
  console.error("demo: the second run changed something; it should have been idempotent");
  process.exit(2);
}
console.log(`\nDemo done: first run changed the hosts, second run changed nothing.`);
const idFlag = `--id ${lab.id}`;
console.log(`Explore: npm run lab -- ssh tnode1 ${idFlag}   |   ssh -F ${lab.sshConfig} tnode1`);
console.log(`         node bin/runbook.js play ${PLAYBOOK} -i ${lab.inventory} --check --diff -v`);
console.log(`Remove:  npm run lab -- down ${idFlag}`);

