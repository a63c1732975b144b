import { relative } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { fails } from "./helpers.ts";
import { InputError } from "../../runner/errors.ts";
import { loadInventory } from "../../runner/inventory/index.ts";
import { expandNodeRange, limitHosts, resolvePattern } from "../../runner/patterns.ts";

const F = relative(process.cwd(), fileURLToPath(new URL("../fixtures/inventory", import.meta.url)));

// localhost, tnode3, tnode2, tnode1 (tag clusternode), then odin, heimdall, valkyrie01, valkyrie02.
const inv = await loadInventory([`${F}/rundeck/nodes.yaml`, `${F}/ansible-yaml/hosts.yml`]);
const ALL = ["localhost", "tnode3", "tnode2", "tnode1", "odin", "heimdall", "valkyrie01", "valkyrie02"];


const cases: [string, string[]][] = [
  ["tnode2", ["tnode2"]],
  ["clusternode", ["tnode3", "tnode2", "tnode1"]],
  ["compute", ["valkyrie01", "valkyrie02"]], // a parent group holds its children's hosts
  ["all", ALL],
  ["*", ALL],
  ["tnode*", ["tnode3", "tnode2", "tnode1"]],
  ["valkyrie0?", ["valkyrie01", "valkyrie02"]],
  ["clu*", ["tnode3", "tnode2", "tnode1"]], // globs match group names too
  ["tnode[1-2]", ["tnode2", "tnode1"]], // inventory order, not range order
  ["valkyrie[01-02]", ["valkyrie01", "valkyrie02"]],
  ["valkyrie[01:02]", ["valkyrie01", "valkyrie02"]],
  ["tnode[1,3]", ["tnode3", "tnode1"]],
  ["tnode[1,2-3]", ["tnode3", "tnode2", "tnode1"]],
  ["tnode1,odin", ["tnode1", "odin"]],
  ["odin, tnode1", ["tnode1", "odin"]],
  ["tnode1:odin", ["tnode1", "odin"]],
  ["all:&compute", ["valkyrie01", "valkyrie02"]],
  ["clusternode:&tnode[1-2]", ["tnode2", "tnode1"]],
  ["clusternode,&tnode[1-2]", ["tnode2", "tnode1"]],
  ["clusternode:!tnode2", ["tnode3", "tnode1"]],
  ["!clusternode", ["localhost", "odin", "heimdall", "valkyrie01", "valkyrie02"]], // an exclusion first starts from all
  ["tnode1:!tnode1:tnode2", ["tnode2"]], // unions first, then exclusions
  ["&clusternode,tnode1,odin", ["tnode1"]], // intersections after all unions
  ["clusternode:odin:&tnode*:!tnode3", ["tnode2", "tnode1"]],
  ["~tnode[13]", ["tnode3", "tnode1"]],
  ["~(valk|heim)", ["heimdall", "valkyrie01", "valkyrie02"]],
  ["~clu", ["tnode3", "tnode2", "tnode1"]], // regexes match group names too
  ["~valkyrie0[12]:!valkyrie01", ["valkyrie02"]],
  [`@${F}/limit.txt`, ["tnode1", "odin", "valkyrie01", "valkyrie02"]],
  [`@${F}/limit.txt:!odin`, ["tnode1", "valkyrie01", "valkyrie02"]],
];

for (const [pattern, hosts] of cases) {
  test(`pattern ${pattern}`, () => {
    assert.equal(resolvePattern(inv, pattern), hosts);
  });
}

const errors: [string, string][] = [
  ["tnode9", `pattern "tnode9" matches no host in the inventory`],
  ["clusternode:!tnode9", `pattern "tnode9" (in "clusternode:!tnode9") matches no host in the inventory`],
  ["tnode[3-4]", `pattern "tnode4" (in "tnode[3-4]") matches no host in the inventory`],
  ["web*", `pattern "web*" matches no host in the inventory`],
  ["~node", `pattern "~node" matches no host in the inventory`], // anchored at the start, as Ansible's re.match
  ["tnode1:&odin", `pattern "tnode1:&odin" matches no host in the inventory`],
  ["clusternode:!tnode*", `pattern "clusternode:!tnode*" matches no host in the inventory`],
  ["fe80::1", `pattern "fe80::1" matches no host in the inventory`], // an IPv6 address is one term
  ["tnode[3-1]", `bad node range "tnode[3-1]": 3 is greater than 1`],
  ["", `empty host pattern ""`],
  [" , ", `empty host pattern " , "`],
  [`@${F}/limit-bad.txt`, `${F}/limit-bad.txt:3: pattern "tnode7" matches no host in the inventory`],
  [`@${F}/nope.txt`, `cannot read pattern file "${F}/nope.txt": ENOENT`],
  // a typo gets the nearest host or group; another node number (tnode9 above) does not
  ["clustrenode", `pattern "clustrenode" matches no host in the inventory (did you mean "clusternode"?)`],
  ["tnod2", `pattern "tnod2" matches no host in the inventory (did you mean "tnode2"?)`],
  ["odin,valkryie01", `pattern "valkryie01" (in "odin,valkryie01") matches no host in the inventory (did you mean "valkyrie01"?)`],
];

for (const [pattern, message] of errors) {
  test(`pattern ${JSON.stringify(pattern)} is an error`, () => {
    fails(() => resolvePattern(inv, pattern), message);
  });
}

test("a bad regular expression is an error naming the pattern", () => {
  try {
    resolvePattern(inv, "~(");
    assert.unreachable("expected an error");
  } catch (e) {
    assert.instance(e, InputError);
    assert.match((e as Error).message, /^pattern "~\(" is not a valid regular expression: /);
  }
});

test("errors name the file the pattern was written in", () => {
  fails(() => resolvePattern(inv, "tnode9", { file: "playbooks/site.ts" }), `playbooks/site.ts: pattern "tnode9" matches no host in the inventory`);
});

test("expandNodeRange: clush and Ansible syntax", () => {
  assert.equal(expandNodeRange("tnode1"), ["tnode1"]);
  assert.equal(expandNodeRange("tnode[1-3]"), ["tnode1", "tnode2", "tnode3"]);
  assert.equal(expandNodeRange("valkyrie[01-02]"), ["valkyrie01", "valkyrie02"]);
  assert.equal(expandNodeRange("node[1,4-5]"), ["node1", "node4", "node5"]);
  assert.equal(expandNodeRange("node[01:03]"), ["node01", "node02", "node03"]);
  assert.equal(expandNodeRange("n[08-11]"), ["n08", "n09", "n10", "n11"]);
  assert.equal(expandNodeRange("compute[1-9/4]"), ["compute1", "compute5", "compute9"]);
  assert.equal(expandNodeRange("compute[1:9:4]"), ["compute1", "compute5", "compute9"]);
  assert.equal(expandNodeRange("web[a:c].lab"), ["weba.lab", "webb.lab", "webc.lab"]);
  assert.equal(expandNodeRange("r[1-2]n[1-2]"), ["r1n1", "r1n2", "r2n1", "r2n2"]);
});

test("expandNodeRange: malformed ranges", () => {
  fails(() => expandNodeRange("node[1-"), `bad node range "node[1-": "[" without "]"`);
  fails(() => expandNodeRange("node1]"), `bad node range "node1]": "]" without "["`);
  fails(() => expandNodeRange("node[]"), `bad node range "node[]": empty brackets`);
  fails(() => expandNodeRange("node[1-a]"), `bad node range "node[1-a]": "1-a" mixes a number and a letter`);
  fails(() => expandNodeRange("node[1..3]"), `bad node range "node[1..3]": "1..3" is not N, N-M or N:M`);
  fails(() => expandNodeRange("node[1-3/0]"), `bad node range "node[1-3/0]": the step must be at least 1`);
  fails(() => expandNodeRange("node[c:a]", { file: "hosts", line: 3 }), `hosts:3: bad node range "node[c:a]": c is after a`);
});

test("limitHosts keeps the play's order and may leave no host", () => {
  const play = ["tnode1", "tnode2", "tnode3"];
  assert.equal(limitHosts(inv, play, undefined), play);
  assert.equal(limitHosts(inv, play, "tnode3,tnode1"), ["tnode1", "tnode3"]);
  assert.equal(limitHosts(inv, play, "odin"), []);
  fails(() => limitHosts(inv, play, "tnode7"), `pattern "tnode7" matches no host in the inventory`);
});

test.run();
