import { relative } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { fails } from "./helpers.ts";
import { InputError } from "../../runner/errors.ts";
import { loadInventory } from "../../runner/inventory/index.ts";
import { hostVars, layer, parseExtraVars, resolveVars, scoped } from "../../runner/vars.ts";

const F = relative(process.cwd(), fileURLToPath(new URL("../fixtures/inventory", import.meta.url)));

const rundeck = await loadInventory([`${F}/rundeck`]);
const ansible = await loadInventory([`${F}/ansible-yaml`]);


test("hostVars: all < group < host, with where each value came from", () => {
  assert.equal(hostVars(rundeck, "tnode2"), {
    vars: { ntp_server: "10.0.0.1", timezone: "UTC", admin: { name: "tnode2adm" } },
    sources: {
      ntp_server: `${F}/rundeck/host_vars/tnode2.yml:2`,
      timezone: `${F}/rundeck/group_vars/all.yml:2`,
      admin: `${F}/rundeck/host_vars/tnode2.yml:3`,
    },
  });
  assert.equal(hostVars(rundeck, "tnode1").vars, {
    ntp_server: "1.pool.ntp.org",
    timezone: "UTC",
    admin: { name: "clusteradm", uid: 1050 },
  });
  assert.equal(hostVars(rundeck, "localhost").vars, { ntp_server: "pool.ntp.org", timezone: "UTC", description: "Rundeck server node" });
  assert.is(hostVars(rundeck, "localhost").sources.description, `${F}/rundeck/nodes.yaml:4 (host localhost)`);
});

test("hostVars: a map replaces the whole map below it (hash_behaviour=replace)", () => {
  assert.equal(hostVars(rundeck, "tnode2").vars.admin, { name: "tnode2adm" });
});

test("hostVars: a child group beats its parent; at equal depth the later name wins", () => {
  const valkyrie = hostVars(ansible, "valkyrie01");
  assert.is(valkyrie.vars.slurm_role, "compute");
  assert.is(valkyrie.sources.slurm_role, `${F}/ansible-yaml/hosts.yml:37 (group valkyries)`);
  // heimdall is in admin and login (both depth 1): login sorts later and wins, though admin is written later.
  const heimdall = hostVars(ansible, "heimdall");
  assert.is(heimdall.vars.motd, "from login");
  assert.is(heimdall.sources.motd, `${F}/ansible-yaml/hosts.yml:20 (group login)`);
  assert.is(heimdall.sources.ntp_server, `${F}/ansible-yaml/hosts.yml:4 (group all)`);
  assert.not.ok("ansible_user" in heimdall.vars, "connection keys are in conn, not in the variables");
});

test("hostVars: an unknown host is an input error", () => {
  fails(() => hostVars(rundeck, "tnode7"), `host "tnode7" is not in the inventory`);
});

test("layer: later layers win key by key and keep their source; missing layers are skipped", () => {
  const merged = layer(
    scoped({ a: 1, b: 1, m: { x: 1, y: 1 } }, "role ntp defaults"),
    undefined,
    scoped({ b: 2, m: { x: 2 } }, "play base"),
    scoped({ c: 3 }, "-e"),
  );
  assert.equal(merged.vars, { a: 1, b: 2, m: { x: 2 }, c: 3 });
  assert.equal(merged.sources, { a: "role ntp defaults", b: "play base", m: "play base", c: "-e" });
});

test("resolveVars: role defaults < inventory < play < role params < prompts < extra vars", () => {
  const layers = {
    roleDefaults: scoped({ ntp_server: "default", timezone: "default", d: 0 }, "role ntp defaults"),
    play: scoped({ p: "play", r: "play", q: "play", e: "play" }, "play base"),
    roleParams: scoped({ r: "params", q: "params", e: "params" }, "role ntp parameters"),
    prompts: scoped({ q: "prompt", e: "prompt" }, "prompt"),
    extraVars: scoped({ e: "extra", timezone: "extra" }, "-e"),
  };
  const v = resolveVars(rundeck, "tnode1", layers);
  assert.equal(v.vars, {
    ntp_server: "1.pool.ntp.org",
    timezone: "extra",
    d: 0,
    admin: { name: "clusteradm", uid: 1050 },
    p: "play",
    r: "params",
    q: "prompt",
    e: "extra",
  });
  assert.equal(v.sources, {
    ntp_server: `${F}/rundeck/group_vars/clusternode.yml:4`,
    timezone: "-e",
    d: "role ntp defaults",
    admin: `${F}/rundeck/group_vars/clusternode.yml:5`,
    p: "play base",
    r: "role ntp parameters",
    q: "prompt",
    e: "-e",
  });
  assert.equal(resolveVars(rundeck, "tnode1"), hostVars(rundeck, "tnode1"));
});

test("parseExtraVars: key=value with quoting, JSON, @file; later arguments win", () => {
  assert.equal(parseExtraVars([`ntp_server=10.0.0.1 motd='hello world' note="say \\"hi\\"" empty=`]), {
    ntp_server: "10.0.0.1",
    motd: "hello world",
    note: 'say "hi"',
    empty: "",
  });
  assert.equal(parseExtraVars(["n=1"]), { n: "1" }, "key=value values stay strings, as in Ansible");
  assert.equal(parseExtraVars(['{"debug": true, "servers": ["a", "b"]}']), { debug: true, servers: ["a", "b"] });
  assert.equal(parseExtraVars([`@${F}/extra-vars/vars.yml`]), { ntp_servers: ["1.pool.ntp.org"], admin: { name: "clusteradm", uid: 1050 } });
  assert.equal(parseExtraVars([`@${F}/extra-vars/vars.json`, "retries=5 x=y"]), { debug: true, retries: "5", x: "y" });
  assert.equal(parseExtraVars([]), {});
});

test("parseExtraVars: bad input names the argument or the file", () => {
  fails(() => parseExtraVars(["debug"]), `-e #1: expected key=value, a JSON object or @file; word 1 is not key=value (not shown: it may be a secret)`);
  fails(() => parseExtraVars(["x=1", "a=1 =2"]), `-e #2: expected key=value, a JSON object or @file; word 2 is not key=value (not shown: it may be a secret)`);
  fails(() => parseExtraVars(["  "]), `-e #1: expected key=value, a JSON object or @file`);
  fails(() => parseExtraVars(["motd='hi"]), `-e #1: unterminated ' quote`);
  fails(() => parseExtraVars(['["a"]']), `-e #1: expected a JSON object`);
  fails(() => parseExtraVars([`@${F}/extra-vars/missing.yml`]), `-e @${F}/extra-vars/missing.yml: cannot read the file (ENOENT)`);
  fails(() => parseExtraVars([`@${F}/extra-vars/list.yml`]), `${F}/extra-vars/list.yml:2: an extra vars file must be a map, got a list`);
  fails(() => parseExtraVars([`@${F}/extra-vars/syntax.yml`]), `${F}/extra-vars/syntax.yml:3: Flow sequence in block collection must be sufficiently indented and end with a ]`);
});

test("parseExtraVars: invalid JSON names the argument", () => {
  try {
    parseExtraVars(['{"debug": }']);
    assert.unreachable("expected an error");
  } catch (e) {
    assert.instance(e, InputError);
    assert.is((e as Error).message, "-e #1: invalid JSON");
  }
});

test.run();
