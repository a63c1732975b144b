/**
 * The frr role without a lab: parameter checks (data-driven), prefixes and
 * areas, and frr.conf rendered for the reference inventory's nodes, compared
 * with reference 001's frr.conf. test/e2e/role-frr.test.ts proves the role
 * with real FRR daemons on the lab's triangle.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parse as parseYaml } from "yaml";
import { checkFrrParams, frr, frrConfTemplate, parseArea, parsePrefix, type FrrParams } from "../../roles/frr/index.ts";
import { resolveParams } from "../../runner/role.ts";
import { renderTemplate } from "../../tasks/template.ts";

const params = (p: Record<string, unknown>): FrrParams => frr.schema.parse(p);
const MIN = { routerId: "10.50.1.1" };

test("frr: defaults: no interfaces or networks, ospfd only, syslog, no redistribution", async () => {
  assert.equal(params(MIN), { routerId: "10.50.1.1", interfaces: [], passiveInterfaces: [], networks: [], redistribute: {}, extraDaemons: [], log: "syslog informational" });
  assert.equal(params({ ...MIN, interfaces: [{ name: "eth1" }], networks: [{ prefix: "10.50.1.1/32" }], redistribute: { kernel: { prefixes: ["10.50.1.11/32"] } } }), {
    ...params(MIN),
    interfaces: [{ name: "eth1", network: "point-to-point", passive: false }],
    networks: [{ prefix: "10.50.1.1/32", area: 0 }],
    redistribute: { kernel: { routeMap: "REDIST-KERNEL", prefixList: "VM-ROUTE", prefixes: ["10.50.1.11/32"] } },
  });
});

const cases: [string, Record<string, unknown>, string | null][] = [
  ["reference 001's node1", { interfaces: [{ name: "eth1" }, { name: "eth2" }], passiveInterfaces: ["vxlan0"], networks: [{ prefix: "192.168.11.0/24", area: 0 }], redistribute: { kernel: { prefixes: ["10.50.1.11/32"] } } }, null],
  ["areas as numbers, digits and dotted quads", { networks: [{ prefix: "10.0.0.0/8", area: 0 }, { prefix: "10.1.0.0/16", area: "1" }, { prefix: "10.2.0.0/16", area: "0.0.0.2" }] }, null],
  ["timers", { interfaces: [{ name: "eth1", helloInterval: 1, deadInterval: 4, cost: 100 }] }, null],
  ["a router id that is not an address", { routerId: "10.50.1.300" }, 'routerId: "10.50.1.300" is not an IPv4 address (OSPF router ids are written as one: the loopback\'s, e.g. 10.50.1.1)'],
  ["a router id with a prefix", { routerId: "10.50.1.1/32" }, 'routerId: "10.50.1.1/32" is not an IPv4 address (OSPF router ids are written as one: the loopback\'s, e.g. 10.50.1.1)'],
  ["a network with host bits", { networks: [{ prefix: "192.168.11.1/30", area: 0 }] }, 'networks[0].prefix: "192.168.11.1/30" has host bits set (the network is 192.168.11.0/30)'],
  ["a network without a length", { networks: [{ prefix: "192.168.11.0", area: 0 }] }, 'networks[0].prefix: "192.168.11.0" is not an IPv4 prefix (ADDRESS/LENGTH, e.g. 10.50.1.1/32)'],
  ["an area that is neither", { networks: [{ prefix: "10.0.0.0/8", area: "backbone" }] }, 'networks[0].area: "backbone" is not an OSPF area (a number such as 0, or a dotted quad such as 0.0.0.0)'],
  ["a negative area", { networks: [{ prefix: "10.0.0.0/8", area: -1 }] }, "networks[0].area: -1 is not an OSPF area (a number such as 0, or a dotted quad such as 0.0.0.0)"],
  ["an interface listed twice", { interfaces: [{ name: "eth1" }, { name: "eth1" }] }, "interfaces[1].name: eth1 is listed twice"],
  ["an interface name with a space", { interfaces: [{ name: "eth 1" }] }, 'interfaces[0].name: "eth 1" is not an interface name'],
  ["passive and also in interfaces", { interfaces: [{ name: "eth1" }], passiveInterfaces: ["eth1"] }, "passiveInterfaces[0]: eth1 is also in interfaces: set `passive: true` on that entry instead"],
  ["a dead interval not above hello", { interfaces: [{ name: "eth1", helloInterval: 4, deadInterval: 4 }] }, "interfaces[0].deadInterval: 4 s must be longer than the hello interval (4 s): neighbours would be declared dead between two hellos"],
  ["a dead interval under FRR's default hello", { interfaces: [{ name: "eth1", deadInterval: 5 }] }, "interfaces[0].deadInterval: 5 s must be longer than the hello interval (10 s): neighbours would be declared dead between two hellos"],
  ["a cost of 0", { interfaces: [{ name: "eth1", cost: 0 }] }, "interfaces[0].cost: must be 1-65535, got 0"],
  ["redistribution of nothing", { redistribute: { kernel: { prefixes: [] } } }, "redistribute.kernel.prefixes: empty: the route map would redistribute nothing (list the kernel routes, e.g. a VM's 10.50.1.11/32, or leave out redistribute.kernel)"],
  ["a route map name with a space", { redistribute: { kernel: { routeMap: "REDIST KERNEL", prefixes: ["10.50.1.11/32"] } } }, 'redistribute.kernel.routeMap: "REDIST KERNEL" is not a route-map name (one word)'],
  ["a bad redistributed prefix", { redistribute: { kernel: { prefixes: ["10.50.1.11"] } } }, 'redistribute.kernel.prefixes[0]: "10.50.1.11" is not an IPv4 prefix (ADDRESS/LENGTH, e.g. 10.50.1.1/32)'],
  ["an unknown daemon", { extraDaemons: ["bgp"] }, 'extraDaemons[0]: "bgp" is not an FRR daemon (known: bgpd, ospfd, ospf6d, ripd, ripngd, isisd, pimd, pim6d, ldpd, nhrpd, eigrpd, babeld, sharpd, pbrd, bfdd, fabricd, vrrpd, pathd)'],
  ["a log line with a newline", { log: "syslog\nrouter bgp 1" }, 'log: "syslog\\nrouter bgp 1" is not an FRR log target (syslog, stdout or file /PATH, then an optional level such as informational)'],
  ["a host name with a space", { hostname: "node 1" }, 'hostname: "node 1" is not a host name'],
];
for (const [name, p, want] of cases) {
  test(`frr params: ${name}`, () => {
    const problem = checkFrrParams(params({ ...MIN, ...p }));
    assert.is(problem ? `${problem.field}: ${problem.message}` : null, want);
  });
}

test("frr: a bad value stops the run at start, naming host, role and field", async () => {
  const host = { name: "tnode2", vars: { frr: { routerId: "10.50.1.2", networks: [{ prefix: "10.50.1.2/24" }] } } };
  assert.throws(() => resolveParams(frr(), host, { low: host.vars, high: {} }), /^host tnode2, role frr, field networks\[0\]\.prefix: "10\.50\.1\.2\/24" has host bits set \(the network is 10\.50\.1\.0\/24\)$/);
  const none = { name: "tnode2", vars: {} };
  assert.throws(() => resolveParams(frr(), none, { low: {}, high: {} }), /host tnode2, role frr, field routerId: missing \(string required\)/);
});

test("frr: prefixes and areas", async () => {
  assert.equal(parsePrefix("10.50.1.1/32"), { network: "10.50.1.1/32" });
  assert.equal(parsePrefix("0.0.0.0/0"), { network: "0.0.0.0/0" });
  assert.ok("error" in parsePrefix("10.0.0.0/33"));
  assert.ok("error" in parsePrefix("fd00::/8"));
  assert.is(parseArea(0), "0");
  assert.is(parseArea("0.0.0.0"), "0.0.0.0");
  assert.is(parseArea("007"), "7");
  assert.is(parseArea(4294967296), null);
  assert.is(parseArea(1.5), null);
});

/** Renders frr.conf exactly as the role asks for it. */
async function render(p: FrrParams, host: string): Promise<string> {
  const t = frrConfTemplate(p, host);
  const path = fileURLToPath(t.src);
  return renderTemplate("nunjucks", readFileSync(path, "utf8"), t.vars, { path, name: path });
}
/** frr.conf without its header comment. */
const body = (text: string) => text.split("\n").filter((l) => !l.startsWith("! ")).join("\n");

test("frr: reference 001's frr.conf for node1, from the reference inventory's host_vars/tnode1.yml", async () => {
  const vars = parseYaml(readFileSync(new URL("../../inventory/host_vars/tnode1.yml", import.meta.url), "utf8")) as { frr: Record<string, unknown> };
  const p = params(vars.frr);
  assert.is(checkFrrParams(p), undefined);
  // 001 differs in: `frr version` (FRR writes it itself), the hostname
  // (node1.cluster.local there), a log line, and /30 networks where 001 writes /24s.
  assert.is(
    body(await render(p, "tnode1")),
    [
      "frr defaults traditional",
      "hostname tnode1",
      "log syslog informational",
      "service integrated-vtysh-config",
      "!",
      "ip prefix-list VM-ROUTE seq 10 permit 10.50.1.11/32",
      "!",
      "route-map REDIST-KERNEL permit 10",
      " match ip address prefix-list VM-ROUTE",
      "exit",
      "!",
      "interface eth1",
      " ip ospf network point-to-point",
      "exit",
      "!",
      "interface eth2",
      " ip ospf network point-to-point",
      "exit",
      "!",
      "interface vxlan0",
      " ip ospf passive",
      "exit",
      "!",
      "router ospf",
      " ospf router-id 10.50.1.1",
      " redistribute kernel route-map REDIST-KERNEL",
      " network 192.168.11.0/30 area 0",
      " network 192.168.33.0/30 area 0",
      " network 10.50.1.1/32 area 0",
      "exit",
      "!",
      "",
    ].join("\n"),
  );
});

test("frr: every reference node's parameters check, with its own router id, loopback and VM route", async () => {
  for (const n of [1, 2, 3]) {
    const vars = parseYaml(readFileSync(new URL(`../../inventory/host_vars/tnode${n}.yml`, import.meta.url), "utf8")) as { frr: Record<string, unknown>; "base-os": { addresses: Record<string, string[]> } };
    const p = params(vars.frr);
    assert.is(checkFrrParams(p), undefined, `tnode${n}`);
    const conf = await render(p, `tnode${n}`);
    assert.match(conf, new RegExp(`^ ospf router-id 10\\.50\\.1\\.${n}$`, "m"));
    assert.match(conf, new RegExp(`^ network 10\\.50\\.1\\.${n}/32 area 0$`, "m"));
    assert.match(conf, new RegExp(`^ip prefix-list VM-ROUTE seq 10 permit 10\\.50\\.1\\.1${n}/32$`, "m"));
    // Each link address base-os puts on eth1/eth2 is inside a network OSPF runs on.
    for (const iface of ["eth1", "eth2"]) {
      const [addr] = vars["base-os"].addresses[iface]![0]!.split("/");
      const net = addr!.split(".").slice(0, 3).join(".");
      assert.match(conf, new RegExp(`^ network ${net.replace(/\./g, "\\.")}\\.0/30 area 0$`, "m"), `tnode${n} ${iface}`);
    }
  }
});

test("frr: timers, cost, passive entries, several prefixes and extra config render in order", async () => {
  const p = params({
    ...MIN,
    hostname: "node1.cluster.local",
    interfaces: [{ name: "eth1", cost: 50, helloInterval: 1, deadInterval: 4 }, { name: "eth2", network: "broadcast", passive: true }],
    passiveInterfaces: ["vxlan0"],
    networks: [{ prefix: "10.50.1.1/32", area: "0.0.0.0" }],
    redistribute: { kernel: { routeMap: "RM", prefixList: "PL", prefixes: ["10.50.1.11/32", "10.50.2.0/24"] } },
    extraDaemons: ["bfdd"],
    log: "file /var/log/frr/frr.log debugging",
    extraConfig: "ip route 10.99.0.0/16 blackhole\n\n",
  });
  assert.is(checkFrrParams(p), undefined);
  const conf = body(await render(p, "tnode1"));
  assert.match(conf, /^hostname node1\.cluster\.local\nlog file \/var\/log\/frr\/frr\.log debugging\n/m);
  assert.match(conf, /^ip prefix-list PL seq 10 permit 10\.50\.1\.11\/32\nip prefix-list PL seq 20 permit 10\.50\.2\.0\/24\n!\nroute-map RM permit 10\n match ip address prefix-list PL\nexit\n/m);
  assert.match(conf, /^interface eth1\n ip ospf network point-to-point\n ip ospf cost 50\n ip ospf hello-interval 1\n ip ospf dead-interval 4\nexit\n!\ninterface eth2\n ip ospf network broadcast\n ip ospf passive\nexit\n!\ninterface vxlan0\n ip ospf passive\nexit\n/m);
  assert.match(conf, /^ redistribute kernel route-map RM\n network 10\.50\.1\.1\/32 area 0\.0\.0\.0\nexit\n!\nip route 10\.99\.0\.0\/16 blackhole\n!\n$/m);
});

test.run();
