/**
 * Play prompts: asked once, before any host is touched. A value may come from
 * `-e NAME=...`, from the environment (`RUNBOOK_VAR_NAME`), or from a prompt
 * on a terminal (hidden for a secret, yes/no for a boolean, a validated
 * number); with no terminal and no value the run stops with a message naming
 * the variable and those non-interactive ways.
 */
import { InputError } from "./errors.ts";
import { promptSchema, type Prompt } from "./playbook.ts";
import { check } from "./schema.ts";
import { Secret } from "./secret.ts";

/** Asks one question; tests pass their own, the CLI uses @inquirer/prompts. The answer is text ("true", "3" for typed prompts). */
export type Ask = (p: {
  message: string;
  secret: boolean;
  default?: string;
  choices?: readonly string[];
  type?: "boolean" | "number";
  min?: number;
  max?: number;
  integer?: boolean;
}) => Promise<string>;

export async function inquirerAsk(p: Parameters<Ask>[0]): Promise<string> {
  const { password, input, select, confirm, number } = await import("@inquirer/prompts");
  if (p.type === "boolean") return String(await confirm({ message: p.message, default: p.default === undefined ? undefined : p.default === "true" }));
  if (p.type === "number") {
    const n = await number({ message: p.message, default: p.default === undefined ? undefined : Number(p.default), min: p.min, max: p.max, step: p.integer ? 1 : "any", required: true });
    return String(n);
  }
  if (p.choices) return select({ message: p.message, choices: p.choices, default: p.default });
  return p.secret ? password({ message: p.message, mask: "*" }) : input({ message: p.message, default: p.default });
}

export interface PromptAnswers {
  /** Values by variable name, typed: secret ones are Secret instances, boolean and number prompts' are booleans and numbers. */
  values: Record<string, unknown>;
  /** Secret strings, for the redactor. */
  secrets: string[];
}

const YES = new Set(["true", "yes", "y", "on", "1"]);
const NO = new Set(["false", "no", "n", "off", "0"]);

/**
 * A prompt's answer as its type wants it: text (`-e replicas=3`, the
 * environment, a form field, the terminal) becomes a boolean or a number;
 * text that is neither stays text, for the prompts' schema to refuse by name
 * (`prompt replicas: expected a number, got the string "abc"`).
 */
export function typedAnswer(p: Prompt, value: unknown): unknown {
  if (typeof value !== "string") return value;
  const text = value.trim();
  if (p.type === "boolean") return YES.has(text.toLowerCase()) ? true : NO.has(text.toLowerCase()) ? false : value;
  if (p.type === "number") return text !== "" && Number.isFinite(Number(text)) ? Number(text) : value;
  return value;
}

/**
 * Checks answers to some prompts (those named in `values`, typed with
 * `typedAnswer` first): the typed values, or an InputError naming every bad
 * one. A schedule's fixed options are checked with it when it is made.
 */
export function checkAnswers(prompts: readonly Prompt[], values: Record<string, unknown>): Record<string, unknown> {
  // The first prompt of each name, as `answerPrompts` asks them.
  const given = prompts.filter((p, i) => p.name in values && prompts.findIndex((q) => q.name === p.name) === i);
  const typed = Object.fromEntries(given.map((p) => [p.name, typedAnswer(p, values[p.name])]));
  const r = check(promptSchema(given), typed);
  if (!r.ok) throw new InputError(r.problems.map((p) => `prompt ${p.field}: ${p.message}`).join("\n"));
  return r.value;
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
    let value: unknown;
    const typedKind = p.type === "boolean" || p.type === "number";
    const given = opts.extraVars[p.name] ?? opts.env[`RUNBOOK_VAR_${p.name}`];
    if (given !== undefined) value = given instanceof Secret ? given.reveal() : typedKind ? given : String(given);
    else if (opts.interactive) {
      const question = { message: p.message, secret: !!p.secret, default: p.default === undefined ? undefined : String(p.default), choices: p.choices };
      const typed = p.type === "number" ? { type: p.type, min: p.min, max: p.max, integer: p.integer } : p.type === "boolean" ? { type: p.type } : {};
      for (;;) {
        value = await ask({ ...question, ...typed });
        // A typed answer that is not one is asked again, saying why.
        const bad = typedKind ? problemWith(p, value) : undefined;
        if (bad) {
          process.stderr.write(`${bad}; try again.\n`);
          continue;
        }
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
      out.values[p.name] = new Secret(value as string);
      out.secrets.push(value as string);
    } else out.values[p.name] = value;
  }
  // The prompts' schema has the last word (a choice not among its choices, a number that is not one), naming every bad answer.
  out.values = checkAnswers(prompts, out.values);
  return out;
}

/** Why one answer is refused, or undefined. */
function problemWith(p: Prompt, value: unknown): string | undefined {
  try {
    checkAnswers([p], { [p.name]: value });
    return undefined;
  } catch (err) {
    if (err instanceof InputError) return err.message;
    throw err;
  }
}
