/**
 * Type tests for the public DSL (STYLE lesson 11): each `@ts-expect-error`
 * line is a misuse that must fail `tsc` (part of `npm test`); if it ever
 * compiles, tsc reports the unused directive and the suite fails. The
 * run-time half checks the same schema at run start.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { isKnown, play, playbook, role, secretString, shared, z, type Handler, type Peer, type Secret } from "../../runner/index.ts";
import { resolveParams } from "../../runner/role.ts";

const web = role({
  name: "web",
  params: {
    port: z.int().default(80),
    mode: z.enum(["http", "https"]).default("http"),
    version: z.literal([1, 2]).default(2),
    admin: z.strictObject({ name: z.string().default("ops"), keys: z.array(z.string()).default([]) }).default({ name: "ops", keys: [] }),
    token: secretString().optional(),
    hosts: z.array(z.strictObject({ ip: z.string(), names: z.array(z.string()) })).default([]),
  },
  async run(h, p) {
    const port: number = p.port;
    const token: string | undefined = p.token?.reveal();
    const restart: Handler = h.handler("restart", async () => {});
    await h.copy({ dest: "/etc/web.conf", content: `${port} ${p.admin.name} ${token ?? ""}` }, { notify: restart });
    // @ts-expect-error notify takes a handler value, not its name
    await h.copy({ dest: "/etc/x", content: "" }, { notify: "restart" });
    // @ts-expect-error the display-name option is `title`
    await h.copy({ dest: "/etc/x", content: "", name: "write x" });
    // @ts-expect-error copy needs content or src
    await h.copy({ dest: "/etc/x" });
    // @ts-expect-error content and src together
    await h.copy({ dest: "/etc/x", content: "", src: "files/x" });
    // @ts-expect-error lineinfile state absent takes no insertafter
    await h.lineinfile({ path: "/etc/x", regexp: "^a", state: "absent", insertafter: "EOF" });
  },
});

export const ok = playbook("types", [
  play({
    name: "ok",
    hosts: "all",
    roles: [
      web(),
      // Nested maps with defaults may leave fields out; secrets accept plain strings.
      web({ admin: { name: "root" }, token: "s3cret", version: 1 }),
      web((host) => ({ port: Number(host.vars.port ?? 8080) })),
      // @ts-expect-error a typo in a parameter name
      web({ prot: 80 }),
      // @ts-expect-error a wrong type
      web({ port: "80" }),
      // @ts-expect-error not one of the enum's values
      web({ mode: "ftp" }),
      // @ts-expect-error numeric enum
      web({ version: 3 }),
    ],
  }),
]);

// A play's prompts type `h.vars` in its tasks: a secret prompt is a Secret, a choice is its union.
export const prompted = play({
  name: "prompted",
  hosts: "all",
  prompts: [
    { name: "adminPassword", message: "admin password", secret: true },
    { name: "channel", message: "channel", choices: ["stable", "testing"] },
    { name: "site", message: "site" },
  ],
  async tasks(h) {
    const pw: Secret = h.vars.adminPassword;
    const channel: "stable" | "testing" = h.vars.channel;
    const site: string = h.vars.site;
    await h.copy({ dest: "/etc/x", content: `${pw.reveal()} ${channel} ${site}` });
    // @ts-expect-error a secret prompt is a Secret, not a string
    const leak: string = h.vars.adminPassword;
    // @ts-expect-error a choice is its union, not any string
    const wrong: "stable" = h.vars.channel;
    // @ts-expect-error a typo'd prompt name is not the Secret it was meant to be
    await h.copy({ dest: "/etc/x", content: h.vars.adminPasword.reveal() });
    // @ts-expect-error a typo'd prompt name
    const typo: string = h.vars.sitee;
    void [leak, wrong, typo];
  },
});

// Boolean and number prompts type `h.vars` as boolean and number; a default of the wrong type, or a secret boolean, does not compile.
export const typedPrompts = play({
  name: "typed prompts",
  hosts: "all",
  prompts: [
    { name: "verbose", message: "verbose", type: "boolean", default: false },
    { name: "replicas", message: "replicas", type: "number", min: 1, max: 9, integer: true },
    { name: "motd", message: "motd", type: "text", default: "hi" },
  ],
  async tasks(h) {
    const verbose: boolean = h.vars.verbose;
    const replicas: number = h.vars.replicas;
    const motd: string = h.vars.motd;
    // @ts-expect-error a boolean prompt is a boolean, not a string
    const asText: string = h.vars.verbose;
    // @ts-expect-error a number prompt is a number, not a string
    const count: string = h.vars.replicas;
    void [verbose, replicas, motd, asText, count];
  },
});
export const badTypedPrompts = [
  // @ts-expect-error a boolean's default is a boolean
  play({ name: "x", hosts: "all", prompts: [{ name: "b", message: "b", type: "boolean", default: "yes" }] }),
  // @ts-expect-error a number's default is a number
  play({ name: "x", hosts: "all", prompts: [{ name: "n", message: "n", type: "number", default: "3" }] }),
  // @ts-expect-error a boolean is not secret
  play({ name: "x", hosts: "all", prompts: [{ name: "b", message: "b", type: "boolean", secret: true }] }),
  // @ts-expect-error a number has no choices
  play({ name: "x", hosts: "all", prompts: [{ name: "n", message: "n", type: "number", choices: ["1", "2"] }] }),
  // @ts-expect-error bounds are for numbers
  play({ name: "x", hosts: "all", prompts: [{ name: "t", message: "t", min: 1 }] }),
];

// Cross-host values and topology are typed: a shared value has its declared type, peers are typed records.
const fsid = shared.string("ceph fsid");
const joinToken = shared.secret("join token");
const monmap = shared<{ epoch: number; mons: string[] }>("monmap", { placeholder: () => ({ epoch: 0, mons: [] }) });

export const cluster = role({
  name: "cluster",
  params: { group: z.string().default("mons") },
  async run(h, p) {
    const id: string = await h.shared(fsid, { read: async () => undefined, make: async () => "a-uuid" });
    const token: Secret = await h.shared(joinToken, { on: h.groups[p.group]![0], make: async (m) => m.secret("t") });
    const map = await h.shared(monmap, { make: async () => ({ epoch: 1, mons: [h.name] }) });
    const epoch: number = map.epoch;
    const peers: Peer[] = await h.peers(p.group);
    const addrs: string[] = peers.map((m) => `${m.address} ${m.facts.hostname}`);
    const batch: readonly string[] = h.play.batch;
    await h.oneAtATime("join", async () => h.copy({ dest: "/etc/x", content: token }));
    await h.waitUntil("all in quorum", async () => (isKnown(id) ? addrs.filter((a) => !a) : false));
    void [epoch, batch];
    // @ts-expect-error a shared value is looked up by its declaration, not by a string key
    await h.shared("ceph fsid", { make: async () => "x" });
    // @ts-expect-error make must return the declared type
    await h.shared(fsid, { make: async () => 42 });
    // @ts-expect-error a secret shared value is a Secret, not a string
    const plain: string = await h.shared(joinToken, { make: async (m) => m.secret("t") });
    // @ts-expect-error `on` names one host, not a list
    await h.shared(fsid, { on: ["tnode1"], make: async () => "x" });
    // @ts-expect-error peers have no `ip`; the field is `address`
    void peers[0]!.ip;
    // @ts-expect-error a wait's check returns true, false or what is missing, not a count
    await h.waitUntil("n up", async () => 3);
    // @ts-expect-error the play's hosts are read-only
    h.play.hosts.push("tnode9");
    void plain;
  },
});

test("the same schema checks values from inventory and -e at run start, naming host, role and field", () => {
  const host = { name: "tnode1", vars: {} };
  const check = (low: Record<string, unknown>) => () => resolveParams(web(), host, { low: { web: low }, high: {} });
  assert.throws(check({ prot: 80 }), /^host tnode1, role web, field prot: unknown field \(known: port, mode, version, admin, token, hosts\)$/);
  assert.throws(check({ port: "80" }), /^host tnode1, role web, field port: expected an integer, got the string "80"$/);
  assert.throws(check({ hosts: [{ ip: "10.0.0.1", names: "a" }] }), /field hosts\[0\]\.names: expected a list, got the string "a"/);
  assert.throws(check({ admin: { name: 5 } }), /field admin\.name: expected a string, got number 5/);
  const p = resolveParams(web({ admin: { name: "root" } }), host, { low: { web: { admin: { keys: ["k1"] } } }, high: {} });
  assert.equal(p.admin, { name: "root", keys: ["k1"] }, "maps merge key by key across layers");
  assert.is(String(resolveParams(web({ token: "s3cret" }), host, { low: {}, high: {} }).token), "********");
});

test("a role's own validate() runs at run start too", () => {
  const r = role({ name: "addr", params: { cidr: z.string() }, validate: (p) => (/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(p.cidr) ? undefined : { field: "cidr", message: `not an address/prefix: ${p.cidr}` }), async run() {} });
  assert.throws(() => resolveParams(r({ cidr: "10.0.0.1" }), { name: "h1", vars: {} }, { low: {}, high: {} }), /^host h1, role addr, field cidr: not an address\/prefix: 10\.0\.0\.1$/);
});

test.run();
