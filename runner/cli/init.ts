/**
 * `runbook init DIR`: scaffold a lab repository that type-checks out of the
 * box — an inventory, a site playbook using runbook's roles, a tsconfig and
 * a package.json depending on this runbook (linked, so no registry is needed).
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";
import { EXIT, ExitError, InputError } from "../errors.ts";
import type { Command } from "./main.ts";

const USAGE = `runbook init DIR [--no-install]

  Creates DIR with inventory/hosts.yml, playbooks/site.ts, tsconfig.json and
  package.json (depending on this runbook), then runs npm install unless
  --no-install. DIR must not exist or be empty.`;

const RUNBOOK_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

export function scaffold(dir: string): Record<string, string> {
  const name = dir.split("/").filter(Boolean).pop() ?? "lab";
  return {
    "package.json": JSON.stringify(
      {
        name,
        private: true,
        type: "module",
        scripts: { check: "tsc --noEmit -p .", site: "runbook play playbooks/site.ts", "site:check": "runbook play playbooks/site.ts --check --diff" },
        dependencies: { runbook: `file:${relative(resolve(dir), RUNBOOK_ROOT) || "."}` },
        devDependencies: { typescript: "~5.9.3", "@types/node": "^20.19.0" },
      },
      null,
      2,
    ) + "\n",
    // npm's progress spinner would flash before runbook's first prompt under `npx runbook`.
    ".npmrc": "progress=false\n",
    "tsconfig.json": JSON.stringify(
      {
        compilerOptions: {
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          strict: true,
          allowImportingTsExtensions: true,
          noEmit: true,
          skipLibCheck: true,
          types: ["node"],
        },
        include: ["playbooks", "inventory", "roles"],
      },
      null,
      2,
    ) + "\n",
    "inventory/hosts.yml": `# Rundeck-style resource YAML: tags become groups.
node1:
  nodename: node1
  hostname: node1.example.net
  username: root
  tags: clusternode
node2:
  nodename: node2
  hostname: node2.example.net
  username: root
  tags: clusternode
`,
    "inventory/group_vars/clusternode.yml": `# Role parameters by role name (see each role's README).
ntp:
  servers: [1.pool.ntp.org]
`,
    "roles/motd.ts": `import { role, z } from "runbook";

/** This lab's own role: parameters are zod schemas (runbook describe shows them as JSON Schema). */
export const motd = role({
  name: "motd",
  params: {
    text: z.string().default("managed by runbook\\n").describe("The message of the day."),
    mode: z.enum(["0644", "0600"]).default("0644").describe("File mode of /etc/motd."),
  },
  async run(h, p) {
    await h.copy({ dest: "/etc/motd", content: p.text, mode: p.mode });
  },
});
`,
    "playbooks/site.ts": `import { play, playbook } from "runbook";
import { ntp } from "runbook/roles";
import { motd } from "../roles/motd.ts";

export default playbook("${name}", [
  play({
    name: "cluster nodes",
    hosts: "clusternode",
    become: true,
    roles: [ntp(), motd({ text: "${name}\\n" })],
  }),
]);
`,
    ".gitignore": "node_modules/\n.runbook/\n",
  };
}

export const command: Command = {
  summary: "scaffold a lab repository",
  usage: USAGE,
  async run(args) {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { "no-install": { type: "boolean" } } });
    const dir = positionals[0];
    if (!dir) throw new ExitError(EXIT.input, `usage: ${USAGE}`);
    if (existsSync(dir) && readdirSync(dir).length > 0) throw new InputError(`${dir} exists and is not empty`);
    for (const [path, content] of Object.entries(scaffold(dir))) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), content);
    }
    console.log(`created ${dir}: inventory/hosts.yml, inventory/group_vars/clusternode.yml, playbooks/site.ts, roles/motd.ts, tsconfig.json, package.json, .npmrc`);
    if (!values["no-install"]) {
      const r = spawnSync("npm", ["install", "--no-audit", "--no-fund"], { cwd: dir, stdio: "inherit" });
      if (r.status !== 0) throw new ExitError(EXIT.input, `npm install failed in ${dir}`);
      console.log(`next: cd ${dir} && npm run check && npx runbook play playbooks/site.ts --check`);
    }
    return 0;
  },
};
