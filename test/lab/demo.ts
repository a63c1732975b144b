/**
 * `npm run demo`: bring up a 3-host lab (the reference triangle) and play the
 * demo playbook against it twice — the second run must report 0 changed.
 * The lab stays up afterwards for exploring (`npm run lab -- ssh tnode1`);
 * `npm run lab -- down` removes it.
 */
import { spawnSync } from "node:child_process";

import { up } from "./lab.ts";

const PLAYBOOK = process.env.RUNBOOK_DEMO_PLAYBOOK ?? "playbooks/site.ts";

const lab = await up({ id: Number(process.env.RUNBOOK_LAB_ID ?? 0), hosts: 3, topology: "triangle", log: (l) => console.error(l) });
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
console.log(`Explore: npm run lab -- ssh tnode1   |   cat ${lab.inventory}   |   npm run lab -- down`);

