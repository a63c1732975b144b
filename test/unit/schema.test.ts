/**
 * Role parameters and prompts as zod schemas (runner/schema.ts glue): every
 * bad field reported at once in the plain style, Secret as a schema type,
 * and the JSON Schema export of every shipped role and of a playbook's prompts.
 */
import { Ajv2020 } from "ajv/dist/2020.js";
import { test } from "uvu";
import * as assert from "uvu/assert";
import * as roles from "../../roles/index.ts";
import { InputError } from "../../runner/errors.ts";
import { promptSchema, promptsJsonSchema, type Playbook, type Prompt } from "../../runner/playbook.ts";
import { answerPrompts, typedAnswer, type Ask } from "../../runner/prompts.ts";
import { resolveParams, roleJsonSchema, type Role } from "../../runner/role.ts";
import { check, secretString, type Shape } from "../../runner/schema.ts";
import { Secret } from "../../runner/secret.ts";
import { z } from "../../runner/index.ts";
import { runbook } from "../e2e/harness.ts";
import prompts from "../fixtures/playbooks/prompts.ts";

const shipped = (Object.values(roles) as unknown[]).filter((r): r is Role<Shape> => typeof r === "function" && "spec" in r);

test("three bad fields to one role: three messages in one error, each naming host, role and field", () => {
  const bad = { admin: { uid: "1200" }, packages: "vim", sshd: { permitRootLogin: "maybe" } };
  let err: unknown;
  try {
    resolveParams(roles.baseOs(), { name: "web2", vars: {} }, { low: { "base-os": bad }, high: {} });
  } catch (e) {
    err = e;
  }
  assert.instance(err, InputError);
  assert.equal((err as Error).message.split("\n"), [
    'host web2, role base-os, field admin.uid: expected an integer, got the string "1200"',
    'host web2, role base-os, field sshd.permitRootLogin: expected one of yes, no, prohibit-password, forced-commands-only, got the string "maybe"',
    'host web2, role base-os, field packages: expected a list, got the string "vim"',
  ]);
});

test("typos in nested maps and missing fields are named too", () => {
  const r = check(roles.frr.schema, { interfaces: [{ name: "eth1", cots: 5 }] });
  assert.ok(!r.ok);
  assert.equal(
    r.ok ? [] : r.problems.map((p) => `${p.field}: ${p.message}`),
    ["routerId: missing (string required)", "interfaces[0].cots: unknown field (known: name, network, cost, helloInterval, deadInterval, passive)"],
  );
});

test("secretString: a string becomes a Secret, a Secret stays one, and a Secret never becomes a plain string", () => {
  const s = z.strictObject({ password: secretString(), user: z.string() });
  const fromString = s.parse({ password: "hunter22", user: "ops" });
  assert.instance(fromString.password, Secret);
  assert.is(fromString.password.reveal(), "hunter22");
  const given = new Secret("from-a-prompt");
  assert.is(s.parse({ password: given, user: "ops" }).password, given);
  const r = check(s, { password: 5, user: new Secret("hunter22") });
  assert.equal(r.ok ? [] : r.problems, [
    { field: "password", message: "expected a secret string, got number 5" },
    { field: "user", message: "expected a string, got a secret" },
  ]);
});

test("every shipped role's JSON Schema is valid 2020-12, names every param and describes each", () => {
  assert.ok(shipped.length >= 6, `found ${shipped.length} roles`);
  for (const r of shipped) {
    const schema = roleJsonSchema(r);
    const ajv = new Ajv2020({ strict: false, formats: { password: true } });
    assert.ok(ajv.validateSchema(schema), `${r.spec.name}: ${ajv.errorsText(ajv.errors)}`);
    const props = schema.properties as Record<string, { description?: string }>;
    assert.equal(Object.keys(props).sort(), Object.keys(r.spec.params).sort(), r.spec.name);
    for (const [k, v] of Object.entries(props)) assert.ok(v.description, `${r.spec.name}.${k} has no description`);
    // What the schema accepts, the role accepts: its defaults alone (plus what is required) pass both.
    const required = Object.fromEntries(((schema.required as string[] | undefined) ?? []).map((k) => [k, "10.50.1.1"]));
    assert.ok(ajv.compile(schema)(required), `${r.spec.name}: ${ajv.errorsText(ajv.errors)}`);
    assert.ok(check(r.schema, required).ok, r.spec.name);
  }
});

test("a playbook's prompts export as JSON Schema: secret as a write-only string, a choice as its enum", () => {
  const schema = promptsJsonSchema(prompts as Playbook);
  assert.ok(new Ajv2020({ strict: false, formats: { password: true } }).validateSchema(schema));
  assert.equal(schema.properties, {
    adminPassword: { type: "string", format: "password", writeOnly: true, description: "admin password" },
    channel: { type: "string", enum: ["stable", "testing"], default: "stable", description: "release channel" },
    site: { type: "string", description: "site name" },
    verbose: { type: "boolean", default: false, description: "verbose logging" },
    replicas: { type: "integer", minimum: 1, maximum: 9, default: 1, description: "replicas" },
  });
});

test("prompt answers are checked by the prompts' schema: -e strings become Secrets, a wrong choice is named", async () => {
  const list = (prompts as Playbook).plays[0]!.prompts!;
  const a = await answerPrompts(list, { extraVars: { adminPassword: "pw-from-e", site: "lab" }, env: {}, interactive: false });
  assert.instance(a.values.adminPassword, Secret);
  assert.equal({ ...a.values, adminPassword: String(a.values.adminPassword) }, { adminPassword: "********", channel: "stable", site: "lab", verbose: false, replicas: 1 });
  await answerPrompts(list, { extraVars: { adminPassword: "x", site: "lab", channel: "nightly" }, env: {}, interactive: false }).then(
    () => assert.unreachable("a choice outside its choices was accepted"),
    (e: Error) => assert.is(e.message, 'prompt channel: expected one of stable, testing, got the string "nightly"'),
  );
  assert.ok(!check(promptSchema(list), { adminPassword: "x" }).ok, "site has no default: required");
});

test("typedAnswer: text (-e, the environment, a form) becomes a boolean or a number; anything else is left for the schema", () => {
  const b = { name: "b", message: "b", type: "boolean" } as const;
  const n = { name: "n", message: "n", type: "number" } as const;
  const cases: [Prompt, unknown, unknown][] = [
    [b, "true", true], [b, "Yes", true], [b, "on", true], [b, "1", true], [b, true, true],
    [b, "false", false], [b, "no", false], [b, "off", false], [b, "0", false], [b, false, false],
    [b, "maybe", "maybe"], [b, "", ""],
    [n, "3", 3], [n, " 2.5 ", 2.5], [n, "-1", -1], [n, 7, 7], [n, "abc", "abc"], [n, "", ""], [n, "Infinity", "Infinity"],
    [{ name: "t", message: "t" }, "3", "3"],
  ];
  for (const [p, given, want] of cases) assert.equal(typedAnswer(p, given), want, `${p.type ?? "text"} ${JSON.stringify(given)}`);
});

test("boolean and number prompts: -e and RUNBOOK_VAR_ text is typed, a bad value is named, the terminal asks again", async () => {
  const list = (prompts as Playbook).plays[0]!.prompts!;
  const base = { adminPassword: "x", site: "lab" };
  const given = await answerPrompts(list, { extraVars: { ...base, replicas: "3" }, env: { RUNBOOK_VAR_verbose: "yes" }, interactive: false });
  assert.is(given.values.replicas, 3);
  assert.is(given.values.verbose, true);
  const json = await answerPrompts(list, { extraVars: { ...base, replicas: 4, verbose: false }, env: {}, interactive: false });
  assert.equal([json.values.replicas, json.values.verbose], [4, false]);
  const refused = async (extra: Record<string, unknown>) =>
    answerPrompts(list, { extraVars: { ...base, ...extra }, env: {}, interactive: false }).then(
      () => assert.unreachable(`${JSON.stringify(extra)} was accepted`),
      (e: Error) => (assert.instance(e, InputError), e.message),
    );
  assert.is(await refused({ replicas: "abc" }), 'prompt replicas: expected an integer, got the string "abc"');
  assert.is(await refused({ replicas: "12" }), "prompt replicas: expected at most 9, got number 12");
  assert.is(await refused({ replicas: "0" }), "prompt replicas: expected at least 1, got number 0");
  assert.is(await refused({ replicas: "2.5" }), "prompt replicas: expected an integer, got number 2.5");
  assert.is(await refused({ verbose: "maybe", replicas: "x" }), 'prompt verbose: expected true or false, got the string "maybe"\nprompt replicas: expected an integer, got the string "x"');
  // On a terminal: asked with its type, and a bad number is asked again.
  const asked: Parameters<Ask>[0][] = [];
  const answers = ["n", "abc", "5"];
  const err = process.stderr.write;
  let said = "";
  process.stderr.write = ((t: string) => ((said += t), true)) as typeof process.stderr.write;
  try {
    const a = await answerPrompts(list, { extraVars: { ...base, channel: "testing" }, env: {}, interactive: true, ask: async (q) => (asked.push(q), answers.shift()!) });
    assert.equal([a.values.replicas, a.values.verbose], [5, false]);
  } finally {
    process.stderr.write = err;
  }
  assert.equal(asked.map((q) => [q.message, q.type, q.default, q.min, q.max]), [
    ["verbose logging", "boolean", "false", undefined, undefined],
    ["replicas", "number", "1", 1, 9],
    ["replicas", "number", "1", 1, 9],
  ]);
  assert.match(said, /prompt replicas: expected an integer, got the string "abc"; try again/);
});

test("runbook play: a bad -e value for a number prompt stops the run before any host, naming the prompt", async () => {
  const r = await runbook(["play", "test/fixtures/playbooks/prompts.ts", "-i", "test/fixtures/engine/local.yml", "-e", "adminPassword=x site=lab replicas=abc"]);
  assert.is(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /prompt replicas: expected an integer, got the string "abc"/);
});

test("runbook describe prints a role's or a playbook's JSON Schema; an unknown name is an input error", async () => {
  const ntp = await runbook(["describe", "ntp"]);
  assert.is(ntp.code, 0, ntp.stderr);
  const schema = JSON.parse(ntp.stdout);
  assert.is(schema.title, "ntp");
  assert.equal(schema.properties.servers.default, ["1.pool.ntp.org"]);
  const pb = await runbook(["describe", "test/fixtures/playbooks/prompts.ts"]);
  assert.is(pb.code, 0, pb.stderr);
  assert.equal(Object.keys(JSON.parse(pb.stdout).properties), ["adminPassword", "channel", "site", "verbose", "replicas"]);
  const bad = await runbook(["describe", "ntpd"]);
  assert.is(bad.code, 1);
  assert.match(bad.stderr, /no role or playbook file named "ntpd" \(roles: base-os, bridge-stp, ceph, cgroups2, frr, incus, linstor, loki-prometheus-grafana, ntp, ovn, sudo\)/);
});

test.run();
