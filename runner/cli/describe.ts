/**
 * `runbook describe ROLE|PLAYBOOK`: a shipped role's parameters, or a
 * playbook's prompts (its job options), as JSON Schema with the
 * declarations' descriptions: what a form in the web UI or an editor reads.
 */
import { existsSync } from "node:fs";
import { roleCatalog } from "../catalog.ts";
import { ExitError, EXIT, InputError } from "../errors.ts";
import { promptsJsonSchema } from "../playbook.ts";
import { roleJsonSchema, type Role } from "../role.ts";
import type { Shape } from "../schema.ts";
import type { Command } from "./main.ts";

const USAGE = `runbook describe ROLE|PLAYBOOK

  Prints JSON Schema: a shipped role's parameters (by its name, base-os, or
  its export, baseOs), or the prompts of a playbook file.`;

export const command: Command = {
  summary: "a role's parameters or a playbook's prompts as JSON Schema",
  usage: USAGE,
  async run(args) {
    const what = args[0];
    if (!what || args.length > 1) throw new ExitError(EXIT.input, `usage: ${USAGE}`);
    if (existsSync(what)) {
      const { loadPlaybook } = await import("../run.ts");
      console.log(JSON.stringify(promptsJsonSchema(await loadPlaybook(what)), null, 2));
      return 0;
    }
    const roles = Object.entries(await roleCatalog()).filter(
      (e): e is [string, Role<Shape>] => typeof e[1] === "function" && "spec" in e[1],
    );
    const found = roles.find(([exp, r]) => exp === what || r.spec.name === what);
    if (!found) throw new InputError(`no role or playbook file named "${what}" (roles: ${roles.map(([, r]) => r.spec.name).join(", ")})`);
    console.log(JSON.stringify(roleJsonSchema(found[1]), null, 2));
    return 0;
  },
};
