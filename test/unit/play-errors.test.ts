/**
 * Bad input stops `runbook play` before any host is touched, with a message
 * naming the file and line, or the host, role and field. (The inventories
 * point at 192.0.2.0/24, TEST-NET: a run that got as far as connecting
 * would show as unreachable, not as these messages.)
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { runbook } from "../e2e/harness.ts";

const E = "test/fixtures/errors";
const PB = "test/fixtures/playbooks";

async function fails(args: string[], message: string | RegExp): Promise<void> {
  const r = await runbook(args);
  assert.is(r.code, 1, `expected exit 1, got ${r.code}\n${r.stdout}${r.stderr}`);
  assert.is(r.stdout, "", "nothing ran");
  if (typeof message === "string") assert.is(r.stderr.trim(), message);
  else assert.match(r.stderr, message);
}

test("malformed inventory YAML names the file and line", async () => {
  await fails(["play", `${PB}/params.ts`, "-i", `${E}/bad-yaml.yml`], /^runbook: test\/fixtures\/errors\/bad-yaml\.yml:[45]: /);
});

test("a role parameter of the wrong type names host, role and field", async () => {
  await fails(["play", `${PB}/params.ts`, "-i", `${E}/wrong-type.yml`], 'runbook: host tnode1, role greet, field times: expected an integer, got the string "three"');
});

test("a missing required role parameter names host, role and field", async () => {
  await fails(["play", `${PB}/params.ts`, "-i", `${E}/missing.yml`], "runbook: host tnode1, role greet, field text: missing (string required)");
});

test("a bad -e value for a role parameter is caught the same way", async () => {
  await fails(["play", `${PB}/params.ts`, "-i", `${E}/ok.yml`, "-e", '{"greet": {"text": 5}}'], "runbook: host tnode1, role greet, field text: expected a string, got number 5");
});

test("a play whose hosts pattern matches nothing names the pattern and the play", async () => {
  await fails(["play", `${E}/bad-hosts.ts`, "-i", `${E}/ok.yml`], /pattern "clusternodes" matches no host/);
  await fails(["play", `${E}/bad-hosts.ts`, "-i", `${E}/ok.yml`], /play "typo" hosts/);
});

test("a bad --limit pattern is an error naming it", async () => {
  await fails(["play", `${PB}/params.ts`, "-i", `${E}/ok.yml`, "--limit", "tnode[3-"], /--limit: .*tnode\[3-/);
});

test("a file that is not a playbook, or is missing, says so", async () => {
  await fails(["play", `${E}/not-a-playbook.ts`, "-i", `${E}/ok.yml`], /not-a-playbook\.ts: the default export must be a playbook/);
  await fails(["play", `${E}/nope.ts`, "-i", `${E}/ok.yml`], /nope\.ts: playbook not found/);
});

test("an unknown option is a usage error", async () => {
  const r = await runbook(["play", `${PB}/params.ts`, "--frobnicate"]);
  assert.is(r.code, 1);
  assert.match(r.stderr, /Unknown option '--frobnicate'/);
});

test.run();
