import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { InputError } from "../../runner/errors.ts";
import { Secret } from "../../runner/secret.ts";
import { defineInventory, loadInventory } from "../../runner/inventory/index.ts";
import type { Inventory } from "../../runner/inventory/types.ts";
import { splitWords } from "../../runner/inventory/words.ts";

const F = relative(process.cwd(), fileURLToPath(new URL("../fixtures/inventory", import.meta.url)));

async function rejects(promise: Promise<unknown>, message: string): Promise<void> {
  try {
    await promise;
  } catch (e) {
    assert.instance(e, InputError);
    assert.is((e as Error).message, message);
    return;
  }
  assert.unreachable(`expected InputError: ${message}`);
}

function host(inv: Inventory, name: string) {
  const h = inv.hosts.get(name);
  if (!h) throw new Error(`no host ${name} in the inventory`);
  return h;
}

test("Rundeck nodes.yaml of the reference cluster: nodes, tags as groups, localhost local", async () => {
  const inv = await loadInventory([`${F}/rundeck/nodes.yaml`]);
  assert.equal([...inv.hosts.keys()], ["localhost", "tnode3", "tnode2", "tnode1"]);
  assert.equal([...inv.groups.keys()], ["all", "clusternode"]);
  assert.equal(inv.groups.get("clusternode")?.hosts, ["tnode3", "tnode2", "tnode1"]);
  assert.equal(inv.groups.get("all")?.children, ["clusternode"]);

  const localhost = host(inv, "localhost");
  assert.equal(localhost.groups, ["all"], "tags: '' is no group");
  assert.equal(localhost.vars, { description: "Rundeck server node" });
  assert.equal(localhost.conn, { address: "localhost", local: true });

  const tnode3 = host(inv, "tnode3");
  assert.equal(tnode3.groups, ["all", "clusternode"]);
  assert.is(tnode3.conn.address, "tnode3.i131.net");
  assert.equal(tnode3.vars, {}, "nodename, hostname and tags are not variables");
  assert.equal(host(inv, "tnode2").source, { file: `${F}/rundeck/nodes.yaml`, line: 10 });
});

test("group_vars and host_vars beside a file or in a directory apply; connection keys leave the variables", async () => {
  const fromFile = await loadInventory([`${F}/rundeck/nodes.yaml`]);
  const inv = await loadInventory([`${F}/rundeck`]);
  assert.equal(fromFile, inv);
  assert.equal(host(inv, "tnode2").conn, {
    address: "tnode2.i131.net",
    port: 2222,
    user: "clusteradm",
    become: true,
    local: false,
  });
  assert.equal(host(inv, "tnode1").conn, { address: "tnode1.i131.net", user: "clusteradm", become: true, local: false });
  assert.equal(host(inv, "localhost").conn, { address: "localhost", local: true });
  const clusternode = inv.groups.get("clusternode")!;
  assert.equal(clusternode.conn, { user: "clusteradm", become: true });
  assert.equal(Object.keys(clusternode.vars), ["ntp_server", "admin"]);
  assert.equal(clusternode.varSources.ntp_server, `${F}/rundeck/group_vars/clusternode.yml:4`);
  assert.equal(host(inv, "tnode2").vars, { ntp_server: "10.0.0.1", admin: { name: "tnode2adm" } });
  assert.not.ok(inv.hosts.has("tnode9"), "host_vars of a host the inventory lacks are ignored");
});

test("Rundeck list form: host:port, [v6]:port, tag lists, ssh-keypath; other attributes are variables", async () => {
  const inv = await loadInventory([`${F}/rundeck-list/nodes.yaml`]);
  const tnode1 = host(inv, "tnode1");
  assert.equal(tnode1.conn, { address: "10.0.0.1", port: 2201, user: "clusteradm", local: false });
  assert.equal(tnode1.groups, ["all", "clusternode", "storage"]);
  assert.equal(tnode1.vars, { osFamily: "unix", "ssh-key-storage-path": "keys/project/cluster/id_ed25519" });
  const build = host(inv, "build");
  assert.equal(build.conn, { address: "fd00::5", port: 2222, key: "/home/clusteradm/.ssh/id_build", local: false });
  assert.equal(build.groups, ["all", "builder", "clusternode"]);
  assert.equal(build.source, { file: `${F}/rundeck-list/nodes.yaml`, line: 7 });
});

test("Ansible YAML: nesting, depths, ranges, connection keys and runbook's names", async () => {
  const inv = await loadInventory([`${F}/ansible-yaml`]);
  assert.equal([...inv.hosts.keys()], ["odin", "heimdall", "valkyrie01", "valkyrie02"]);
  assert.equal(inv.groups.get("all")?.children, ["management", "login", "admin", "compute"]);
  assert.equal(inv.groups.get("compute")?.children, ["valkyries"]);
  assert.equal(inv.groups.get("compute")?.hosts, []);
  assert.is(inv.groups.get("valkyries")?.depth, 2);
  assert.is(inv.groups.get("compute")?.depth, 1);
  assert.equal(inv.groups.get("all")?.hosts, ["odin"]);

  assert.equal(host(inv, "odin").conn, { user: "admin", local: true, address: "odin" }, "ansible_connection: local wins over the default");
  assert.equal(host(inv, "heimdall").groups, ["all", "admin", "login"], "equal depth: by name");
  assert.equal(
    host(inv, "heimdall").conn,
    { user: "admin", address: "10.10.2.1", jump: "admin@odin:22", local: false },
    "address (runbook) wins over ansible_host in the same map",
  );
  const v1 = host(inv, "valkyrie01");
  assert.equal(v1.groups, ["all", "compute", "valkyries"]);
  assert.equal(v1.conn, { user: "admin", becomeUser: "slurm", become: true, jump: "heimdall", address: "valkyrie01", local: false });
  assert.equal(v1.source, { file: `${F}/ansible-yaml/hosts.yml`, line: 33 });
  assert.equal(host(inv, "valkyrie02").conn.address, "valkyrie02");
  assert.is(inv.groups.get("valkyries")?.vars.slurm_partition, "debug", "group_vars/NAME/ files apply in name order");
  assert.is(inv.groups.get("valkyries")?.varSources.slurm_partition, `${F}/ansible-yaml/group_vars/valkyries/20-override.yaml:1`);
});

test("Ansible INI: sections, ranges, host:port, typed values, comments", async () => {
  const inv = await loadInventory([`${F}/ansible-ini/hosts.ini`]);
  assert.equal([...inv.hosts.keys()], ["odin", "heimdall", "thor", "valkyrie01", "valkyrie02"]);
  assert.equal(host(inv, "odin").groups, ["all", "management"]);
  assert.equal(inv.groups.get("all")?.hosts, ["odin"], "a host before any section is a member of all");
  assert.is(host(inv, "odin").conn.local, true);

  assert.equal(host(inv, "heimdall").vars, { motd: "welcome to heimdall" });
  assert.equal(host(inv, "heimdall").conn, { address: "10.10.2.1", local: false });
  const thor = host(inv, "thor");
  assert.equal(thor.conn, { port: 2200, user: "root", address: "thor", local: false });
  assert.equal(thor.vars, { gpus: 0, ratio: 1.5, debug: true, mode: "0755", empty: "" });
  assert.equal(thor.varSources.gpus, `${F}/ansible-ini/hosts.ini:9 (host thor)`);

  const valkyries = inv.groups.get("valkyries")!;
  assert.equal(valkyries.hosts, ["valkyrie01", "valkyrie02"]);
  assert.equal(valkyries.vars, { slurm_role: "compute", greeting: "hello world", count: 3, banner: "welcome to the farm" });
  assert.equal(inv.groups.get("compute")?.children, ["valkyries"]);
  assert.equal(inv.groups.get("compute")?.conn, { user: "slurm" });
  assert.equal(host(inv, "valkyrie02").conn, { user: "slurm", become: true, address: "valkyrie02", local: false });
});

test("an extension-less file (Ansible's `hosts`) is sniffed as INI", async () => {
  const ini = await loadInventory([`${F}/ansible-ini/hosts.ini`]);
  const bare = await loadInventory([`${F}/ansible-ini/hosts`]);
  const strip = (inv: Inventory) => [...inv.hosts.values()].map((h) => [h.name, h.groups, h.vars, h.conn]);
  assert.equal(strip(bare), strip(ini));
});

test("TS module: typed connection fields, group defaults, ranges, localhost", async () => {
  const inv = await loadInventory([`${F}/ts/lab.ts`]);
  assert.equal([...inv.hosts.keys()], ["rpi1", "rpi2", "rpi3", "laptop", "localhost"]);
  assert.equal(host(inv, "rpi1").conn, { port: 22, user: "pi", become: true, address: "192.168.1.101", local: false });
  assert.equal(host(inv, "rpi1").vars, { role: "controller" }, "a host defined twice: the later definition wins");
  assert.equal(host(inv, "rpi2").conn, { port: 2200, user: "pi", become: true, address: "rpi2", local: false });
  assert.equal(host(inv, "rpi3").groups, ["all", "cluster", "pis"]);
  assert.equal(inv.groups.get("pis")?.vars, { arch: "arm64" });
  assert.equal(inv.groups.get("all")?.vars, { domain: "lab.local" });
  assert.equal(host(inv, "laptop").conn, { address: "127.0.0.1", user: "me", local: false }, "a user on localhost means ssh");
  assert.equal(host(inv, "localhost").conn, { user: "admin", address: "localhost", local: true }, "a group-wide user keeps localhost local");
  assert.equal(inv.groups.get("all")?.conn, { user: "admin" });
});

test("defineInventory checks the shape at compile time and returns it unchanged", () => {
  const spec = { hosts: { tnode1: { address: "10.0.0.1", groups: ["clusternode"] } } };
  assert.is(defineInventory(spec), spec);
  // @ts-expect-error: "adress" is not a host field (tsc fails if this line compiles)
  defineInventory({ hosts: { tnode1: { adress: "10.0.0.1" } } });
  // @ts-expect-error: a port is a number
  defineInventory({ groups: { clusternode: { port: "22" } } });
});

test("a host in two files: groups add up, the later file wins per variable, source is the first", async () => {
  const inv = await loadInventory([`${F}/merge`]);
  const tnode1 = host(inv, "tnode1");
  assert.equal(tnode1.groups, ["all", "clusternode", "storage"]);
  assert.equal(tnode1.vars, { rack: "A", disk: "nvme0n1" });
  assert.equal(tnode1.varSources, {
    rack: `${F}/merge/10-nodes.yaml:5 (host tnode1)`,
    disk: `${F}/merge/20-storage.ini:2 (host tnode1)`,
  });
  assert.equal(tnode1.conn, { address: "tnode1.i131.net", user: "ceph", local: false });
  assert.equal(tnode1.source, { file: `${F}/merge/10-nodes.yaml`, line: 1 });
  assert.equal(inv.groups.get("storage")?.hosts, ["tnode1", "tnode9"]);
});

test("several paths merge in order", async () => {
  const inv = await loadInventory([`${F}/rundeck`, `${F}/merge`]);
  assert.equal([...inv.hosts.keys()], ["localhost", "tnode3", "tnode2", "tnode1", "tnode9"]);
  assert.equal(host(inv, "tnode1").source, { file: `${F}/rundeck/nodes.yaml`, line: 14 });
  assert.equal(host(inv, "tnode1").conn.user, "ceph", "the host's ansible_user beats clusternode's user");
  assert.equal(host(inv, "tnode9").groups, ["all", "storage"]);
});

const broken: [string, string][] = [
  ["broken/syntax.yml", "broken/syntax.yml:5: All mapping items must start at the same column"],
  ["broken/node-not-map.yaml", `broken/node-not-map.yaml:5: node "tnode2" must be a map of attributes, got a string ("tnode2.i131.net")`],
  ["broken/host-not-map.yml", `broken/host-not-map.yml:7: host "tnode2" must be a map, got a list`],
  ["broken/bad-port.yml", `broken/bad-port.yml:5: host tnode1: ansible_port must be a port number from 1 to 65535, got "ssh"`],
  ["broken/bad-hostname-port.yaml", `broken/bad-hostname-port.yaml:3: host tnode1: hostname "tnode1.i131.net:ssh" has a port that is not a number`],
  ["broken/bad-become.yml", `broken/bad-become.yml:3: group all: become must be true or false, got "maybe"`],
  ["broken/cycle.yml", `broken/cycle.yml:11: group "cluster" is its own ancestor (cluster -> storage -> ceph -> cluster)`],
  ["broken/unknown-key.yml", `broken/unknown-key.yml:4: group "web" has an unknown key "host" (expected hosts, children or vars)`],
  [
    "broken/unknown-format.yml",
    "broken/unknown-format.yml:2: cannot tell the inventory format: expected Rundeck nodes (NAME: {nodename, hostname, tags}) or an Ansible inventory (all: {hosts, children, vars})",
  ],
  ["broken/bad-range.yml", `broken/bad-range.yml:3: bad node range "node[03:01]": 03 is greater than 01`],
  [
    "broken/bad-section.ini",
    `broken/bad-section.ini:4: unknown section type ":hosts" in "[web:hosts]" (expected [group], [group:vars] or [group:children])`,
  ],
  ["broken/bad-header.ini", `broken/bad-header.ini:1: bad section header "[web" (expected [group], [group:vars] or [group:children])`],
  ["broken/bad-hostvar.ini", `broken/bad-hostvar.ini:2: expected key=value after the host name, got "sudo"`],
  ["broken/bad-quote.ini", `broken/bad-quote.ini:2: unterminated " quote`],
  ["broken/bad-ini-port.ini", `broken/bad-ini-port.ini:2: port in "web1:http" is not a number`],
  [
    "broken/ssh-args.ini",
    `broken/ssh-args.ini:2: host web1: ansible_ssh_common_args: -o "ForwardAgent=yes": runbook does not support the ssh option ForwardAgent (supported: HostName, User, Port, IdentityFile, IdentitiesOnly, ProxyJump, ProxyCommand, UserKnownHostsFile, StrictHostKeyChecking, ConnectTimeout, ServerAliveInterval, ServerAliveCountMax; ignored as having no effect: LogLevel, ControlMaster, ControlPersist, ControlPath, Compression, BatchMode)`,
  ],
  [
    "broken/bad-field.ts",
    `broken/bad-field.ts: host "tnode1": unknown field "adress" (expected address, port, user, key, become, becomeUser, becomePassword, password, jump, local, sshConfig, sshOptions, groups, vars)`,
  ],
  ["broken/no-export.ts", `broken/no-export.ts: expected a default export (or an export named "inventory") made with defineInventory()`],
  ["broken-vars", `broken-vars/group_vars/web.yml:1: group variables must be a map, got a list`],
  ["missing.yml", "missing.yml: no such inventory file or directory"],
];

for (const [file, message] of broken) {
  test(`malformed input: ${file}`, async () => {
    await rejects(loadInventory([`${F}/${file}`]), `${F}/${message}`);
  });
}

/** Writes files (path -> text) into a new directory; returns it. */
function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "runbook-inv-"));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, ".."), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

test("Ansible ssh args: -o options mapped, each variable with its own precedence, -C/LogLevel dropped", async () => {
  const dir = tree({
    hosts: [
      "[web]",
      "web1 ansible_ssh_extra_args='-o ServerAliveInterval=5 -i /k/web1'",
      "web2 ansible_ssh_common_args='-o ConnectTimeout=3'",
      "[web:vars]",
      "ansible_ssh_common_args='-C -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -J admin@bastion'",
      "",
    ].join("\n"),
  });
  const inv = await loadInventory([`${dir}/hosts`]);
  assert.equal(host(inv, "web1").conn, {
    address: "web1",
    jump: "admin@bastion",
    sshOptions: ["StrictHostKeyChecking no", "UserKnownHostsFile /dev/null", "ServerAliveInterval 5", "IdentityFile /k/web1"],
    local: false,
  });
  // web2's own common args replace the group's (as in Ansible); the jump host came with the group's.
  assert.equal(host(inv, "web2").conn.sshOptions, ["ConnectTimeout 3"]);
});

test("inventory passwords are Secrets; become_method other than sudo refused; unused ansible_* keys listed, not passed on", async () => {
  const dir = tree({
    "hosts.yml": [
      "all:",
      "  vars:",
      "    ansible_python_interpreter: /usr/bin/python3",
      "    ansible_become_method: sudo",
      "  hosts:",
      "    db1:",
      "      ansible_become_password: sudo-pw",
      "      ansible_password: login-pw",
      "      ansible_pipelining: true",
      "",
    ].join("\n"),
  });
  const inv = await loadInventory([`${dir}/hosts.yml`]);
  const db1 = host(inv, "db1");
  assert.instance(db1.conn.becomePassword, Secret);
  assert.is(db1.conn.becomePassword?.reveal(), "sudo-pw");
  assert.is(db1.conn.password?.reveal(), "login-pw");
  assert.is(JSON.stringify(db1.conn).includes("pw"), false);
  assert.equal(db1.vars, {});
  assert.equal(inv.groups.get("all")?.vars, {});
  assert.equal([...inv.ignored], [
    ["ansible_python_interpreter", [`${dir}/hosts.yml:3 (group all)`]],
    ["ansible_pipelining", [`${dir}/hosts.yml:9 (host db1)`]],
  ]);
  const su = tree({ hosts: "db1 ansible_become_method=su\n" });
  await rejects(loadInventory([`${su}/hosts`]), `${su}/hosts:1: host db1: ansible_become_method "su" is not supported: runbook becomes another user with sudo only`);
});

test("splitWords: POSIX quoting, comments on request", () => {
  const words = splitWords(`a "b c" 'd "e"' f\\ g "h\\"i" x=""  # note`, {}, { comments: true });
  assert.equal(
    words.map((w) => [w.text, w.quoted]),
    [
      ["a", false],
      ["b c", true],
      ['d "e"', true],
      ["f g", false],
      ['h"i', true],
      ["x=", true],
    ],
  );
  assert.equal(
    splitWords("a #b", {}).map((w) => w.text),
    ["a", "#b"],
  );
});

test.run();
