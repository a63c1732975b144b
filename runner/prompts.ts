/**
 * Play prompts: asked once, before any host is touched. A value may come from
 * `-e NAME=...`, from the environment (`RUNBOOK_VAR_NAME`), or from a hidden
 * prompt on a terminal; with no terminal and no value the run stops with a
 * message naming the variable and those non-interactive ways.
 */
import { InputError } from "./errors.ts";
import { promptSchema, type Prompt } from "./playbook.ts";
import { check } from "./schema.ts";
import { Secret } from "./secret.ts";

/** Asks one question; tests pass their own, the CLI uses @inquirer/prompts. */
export type Ask = (p: { message: string; secret: boolean; default?: string; choices?: readonly string[] }) => Promise<string>;

export async function inquirerAsk(p: Parameters<Ask>[0]): Promise<string> {
  const { password, input, select } = await import("@inquirer/prompts");
  if (p.choices) return select({ message: p.message, choices: p.choices, default: p.default });
  return p.secret ? password({ message: p.message, mask: "*" }) : input({ message: p.message, default: p.default });
}

export interface PromptAnswers {
  /** Values by variable name; secret ones are Secret instances. */
  values: Record<string, unknown>;
  /** Secret strings, for the redactor. */
  secrets: string[];
}

export async function answerPrompts(
  prompts: readonly Prompt[],
  opts: { extraVars: Record<string, unknown>; env: NodeJS.ProcessEnv; interactive: boolean; ask?: Ask },
): Promise<PromptAnswers> {
  const out: PromptAnswers = { values: {}, secrets: [] };
  const ask = opts.ask ?? inquirerAsk;
  const seen = new Set<string>();
  for (const p of prompts) {
    if (seen.has(p.name)) continue;
    seen.add(p.name);
    let value: string | undefined;
    const given = opts.extraVars[p.name] ?? opts.env[`RUNBOOK_VAR_${p.name}`];
    if (given !== undefined) value = given instanceof Secret ? given.reveal() : String(given);
    else if (opts.interactive) {
      for (;;) {
        value = await ask({ message: p.message, secret: !!p.secret, default: p.default, choices: p.choices });
        if (!p.confirm) break;
        const again = await ask({ message: `${p.message} (again)`, secret: !!p.secret });
        if (again === value) break;
        process.stderr.write("The two answers differ; try again.\n");
      }
    } else if (p.default !== undefined) value = p.default;
    else {
      throw new InputError(
        `prompt "${p.name}" (${p.message}) needs a value and there is no terminal to ask on; ` +
          `give it with -e ${p.name}=..., -e @vars.yml, or the environment variable RUNBOOK_VAR_${p.name}`,
      );
    }
    if (p.secret) {
      out.values[p.name] = new Secret(value!);
      out.secrets.push(value!);
    } else out.values[p.name] = value;
  }
  // The prompts' schema has the last word (a choice not among its choices), naming every bad answer.
  const r = check(promptSchema(prompts), out.values);
  if (!r.ok) throw new InputError(r.problems.map((p) => `prompt ${p.field}: ${p.message}`).join("\n"));
  out.values = r.value;
  return out;
}
