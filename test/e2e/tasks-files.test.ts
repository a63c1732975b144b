/**
 * The file tasks on real lab hosts (tnode1 Debian, tnode2 Slackware
 * flavour): template (nunjucks, mustache), lineinfile, blockinfile,
 * replace, fetch, script; validation, quoting of hostile names and
 * contents, and a connection dropped in the middle of a write.
 *
 * Every task is proven the same way (`prove`): check mode on the host as it
 * is predicts the change (with its diff) and leaves the overlay upper dir
 * byte for byte as it was, the first real run changes with the same diff,
 * the second reports ok with its no-op reason, and check mode then agrees.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import * as assert from "uvu/assert";
import { UnreachableError } from "../../runner/connection/types.ts";
import type { Host } from "../../runner/host.ts";
import { shq } from "../../runner/quote.ts";
import { secret } from "../../runner/secret.ts";
import type { FileDiff, TaskResult } from "../../runner/task.ts";
import { labSuite } from "../lab/fixture.ts";
import type { Lab, LabHost } from "../lab/lab.ts";
import { hostContext, upperSnapshot, type HostHarness } from "./harness.ts";

const s = await labSuite("tasks: files", { hosts: 2, slackware: [2] });

/** The playbook directory of these tests: templates/, files/, fetched/. */
const base = mkdtempSync(join(tmpdir(), "rb-files-"));
const local = (p: string) => join(base, p);
function writeLocal(p: string, content: string | Buffer): string {
  mkdirSync(join(local(p), ".."), { recursive: true });
  writeFileSync(local(p), content);
  return local(p);
}

/** One real and one check-mode context per host, opened once, closed after the suite. */
const contexts = new Map<string, HostHarness>();
async function ctx(lab: Lab, host: LabHost, check: boolean): Promise<HostHarness> {
  const key = `${host.name}/${check}`;
  let c = contexts.get(key);
  if (!c) {
    c = await hostContext(lab, host, { check, diff: true, baseDir: base });
    contexts.set(key, c);
  }
  return c;
}
s.after(async () => {
  for (const c of contexts.values()) await c.close();
  contexts.clear();
  rmSync(base, { recursive: true, force: true });
});

/** Runs a command as root on the host (through the real context's connection); fails on a non-zero exit. */
async function sh(lab: Lab, host: LabHost, cmd: string, stdin?: string | Buffer): Promise<string> {
  const r = await (await ctx(lab, host, false)).conn.run(cmd, { stdin });
  assert.is(r.code, 0, `${cmd}: ${r.stderr}`);
  return r.stdout;
}

/** Makes a remote file hold `content` (or not exist), its directory created. */
async function seed(lab: Lab, host: LabHost, path: string, content: string | Buffer | null): Promise<void> {
  const conn = (await ctx(lab, host, false)).conn;
  await sh(lab, host, `rm -rf -- ${shq(path)}; mkdir -p -- "$(dirname -- ${shq(path)})"`);
  if (content !== null) await conn.put(path, content);
}

const remote = async (lab: Lab, host: LabHost, path: string) => (await ctx(lab, host, false)).conn.get(path);

interface Expect {
  /** The predicted and real change's reason. */
  change: string | RegExp;
  /** The second run's no-op reason. */
  noop: string | RegExp;
  /** The first run's diffs, exactly (check mode must predict the same). */
  diffs?: FileDiff[];
  /** Runs after check mode: state outside the upper dir it must not have touched (a local file). */
  unchanged?: () => void;
}

const matches = (actual: string, want: string | RegExp, what: string) =>
  typeof want === "string" ? assert.is(actual, want, what) : assert.match(actual, want, what);

/** Check mode (predicts, writes nothing), run (changed), run (ok + why), check mode (ok). */
async function prove(lab: Lab, host: LabHost, run: (h: Host) => Promise<TaskResult>, e: Expect): Promise<TaskResult> {
  const chk = await ctx(lab, host, true);
  const real = await ctx(lab, host, false);
  const before = await upperSnapshot(host);
  const predicted = await run(chk.h);
  assert.is(await upperSnapshot(host), before, `${host.name}: check mode changed no file`);
  e.unchanged?.();
  assert.is(predicted.status, "changed", `check mode predicts a change: ${predicted.reason}`);
  assert.ok(predicted.predicted);
  matches(predicted.reason, e.change, "predicted reason");

  const first = await run(real.h);
  assert.is(first.status, "changed", `first run changes: ${first.reason}`);
  assert.not.ok(first.predicted);
  matches(first.reason, e.change, "reason");
  if (e.diffs) {
    assert.equal(first.diffs, e.diffs, "diff");
    assert.equal(predicted.diffs, first.diffs, "check mode shows the same diff");
  }

  const second = await run(real.h);
  assert.is(second.status, "ok", `second run is a no-op: ${second.reason}`);
  matches(second.reason, e.noop, "no-op reason");
  const again = await run(chk.h);
  assert.is(again.status, "ok", `check mode agrees after: ${again.reason}`);
  return first;
}

// ---------------------------------------------------------------- template

const NTP_NJK = [
  "# {{ facts.os.id }} ntp.conf for {{ cluster }}",
  "{% for s in servers %}",
  "server {{ s }} iburst",
  "{% endfor %}",
  "driftfile {{ drift }}",
  "",
].join("\n");

s("template (nunjucks): host vars, facts and task vars; diff; then a var changes", async ({ lab }) => {
  writeLocal("templates/ntp.conf.njk", NTP_NJK);
  for (const host of lab.hosts) {
    const path = "/srv/rb/tpl/ntp.conf";
    await seed(lab, host, path, "old\n");
    for (const check of [false, true]) Object.assign((await ctx(lab, host, check)).h.vars, { cluster: "tnodes", drift: "/var/lib/ntp/drift" });
    const os = host.flavour === "slackware" ? "slackware" : "debian";
    const want = `# ${os} ntp.conf for tnodes\nserver 0.pool.ntp.org iburst\nserver 1.pool.ntp.org iburst\ndriftfile /var/lib/ntp/drift\n`;
    const run = (servers: string[]) => (h: Host) => h.template({ src: "templates/ntp.conf.njk", dest: path, vars: { servers }, mode: "0640" });
    await prove(lab, host, run(["0.pool.ntp.org", "1.pool.ntp.org"]), {
      change: `update ${path} (content differs)`,
      noop: `${path} content and attributes match`,
      diffs: [{ path, before: "old\n", after: want }],
    });
    assert.is((await remote(lab, host, path)).toString(), want);
    assert.is(await sh(lab, host, `stat -c %a ${path}`), "640\n");

    // Task vars win over host vars; only the changed line differs.
    await prove(lab, host, (h) => h.template({ src: "templates/ntp.conf.njk", dest: path, vars: { servers: ["0.pool.ntp.org", "1.pool.ntp.org"], drift: "/tmp/d" } }), {
      change: `update ${path} (content differs)`,
      noop: `${path} content and attributes match`,
      diffs: [{ path, before: want, after: want.replace("/var/lib/ntp/drift", "/tmp/d") }],
    });
  }
});

s("template (mustache): src as a file: URL, a new file", async ({ lab }) => {
  const file = writeLocal("roles/motd/templates/motd.mustache", "Welcome to {{ name }}.\n{{#admins}}\nadmin: {{ . }}\n{{/admins}}\n");
  const [t1] = lab.hosts as [LabHost];
  const path = "/srv/rb/tpl/motd";
  await seed(lab, t1, path, null);
  const want = "Welcome to tnode.\nadmin: ann\nadmin: bob\n";
  await prove(lab, t1, (h) => h.template({ src: pathToFileURL(file), dest: path, vars: { name: "tnode", admins: ["ann", "bob"] } }), {
    change: `create ${path}`,
    noop: `${path} content and attributes match`,
    diffs: [{ path, before: null, after: want }],
  });
  assert.is((await remote(lab, t1, path)).toString(), want);
  assert.is(await sh(lab, t1, `stat -c %a ${path}`), "644\n");
});

s("template: a Secret renders in the file; the diff shows only sizes (not even the old text), and no event holds it", async ({ lab }) => {
  writeLocal("templates/app.conf.njk", "user = app\npassword = {{ password }}\nport = {{ port }}\n");
  const [t1] = lab.hosts as [LabHost];
  const path = "/srv/rb/tpl/app.conf";
  const pw = "s3cr3t-" + randomBytes(6).toString("hex");
  await seed(lab, t1, path, `user = app\npassword = ${pw}\nport = 1\n`);
  // The secret is not registered with the run's redactor: the task itself keeps it out.
  await prove(lab, t1, (h) => h.template({ src: "templates/app.conf.njk", dest: path, vars: { password: secret(pw), port: 2 } }), {
    change: `update ${path} (content differs)`,
    noop: `${path} content and attributes match`,
    diffs: [{ path, before: "(old secret content hidden: 3 lines, 51 bytes)\n", after: "(new secret content hidden: 3 lines, 51 bytes)\n", secret: true }],
  });
  assert.is((await remote(lab, t1, path)).toString(), `user = app\npassword = ${pw}\nport = 2\n`);
  const all = JSON.stringify([(await ctx(lab, t1, false)).events, (await ctx(lab, t1, true)).events]);
  assert.not.ok(all.includes(pw), "the secret is in no event");
});

s("template: an undefined variable fails with file and line (nunjucks, mustache); nothing is written", async ({ lab }) => {
  writeLocal("templates/bad.conf.njk", "# ntp\n{% for s in servers %}\nserver {{ servres }}\n{% endfor %}\n");
  writeLocal("templates/bad.mustache", "a\n{{#servers}}\nserver {{ naem }}\n{{/servers}}\n");
  const [t1] = lab.hosts as [LabHost];
  const path = "/srv/rb/tpl/bad.conf";
  await seed(lab, t1, path, "old\n");
  // A fresh check-mode context: after earlier predicted changes, check mode reports failures as skipped.
  const fresh = await hostContext(lab, t1, { check: true, baseDir: base });
  for (const { h } of [fresh, await ctx(lab, t1, false)]) {
    const njk = await h.template({ src: "templates/bad.conf.njk", dest: path, vars: { servers: ["a"] } }, { ignoreErrors: true });
    assert.is(njk.status, "failed");
    assert.is(njk.reason, 'templates/bad.conf.njk:3: undefined variable "servres" (did you mean "servers"?)');
    const mst = await h.template({ src: "templates/bad.mustache", dest: path, vars: { servers: [{ name: "a" }] } }, { ignoreErrors: true });
    assert.is(mst.status, "failed");
    assert.is(mst.reason, 'templates/bad.mustache:3: undefined variable "naem" (did you mean "name"?)');
    const missing = await h.template({ src: "templates/nope.njk", dest: path }, { ignoreErrors: true });
    assert.is(missing.reason, `template: local file templates/nope.njk not found (${local("templates/nope.njk")})`);
  }
  await fresh.close();
  assert.is((await remote(lab, t1, path)).toString(), "old\n");
});

// ---------------------------------------------------------------- lineinfile, blockinfile, replace

s("lineinfile: replace by regexp, insert after, remove; create", async ({ lab }) => {
  for (const host of lab.hosts) {
    const path = "/srv/rb/edit/sshd_config";
    const orig = "Port 22\n#PermitRootLogin yes\nUsePAM yes\n";
    await seed(lab, host, path, orig);
    await sh(lab, host, `chmod 600 ${path}`);
    const step1 = "Port 22\nPermitRootLogin no\nUsePAM yes\n";
    await prove(lab, host, (h) => h.lineinfile({ path, regexp: "^#?PermitRootLogin ", line: "PermitRootLogin no" }), {
      change: `line 2 replaced in ${path}`,
      noop: `line 2 of ${path} is as wanted`,
      diffs: [{ path, before: orig, after: step1 }],
    });
    assert.is((await remote(lab, host, path)).toString(), step1);
    assert.is(await sh(lab, host, `stat -c %a ${path}`), "600\n", "the file keeps its mode");

    const step2 = "Port 22\nListenAddress 0.0.0.0\nPermitRootLogin no\nUsePAM yes\n";
    await prove(lab, host, (h) => h.lineinfile({ path, line: "ListenAddress 0.0.0.0", insertafter: /^Port / }), {
      change: `line added to ${path} at line 2`,
      noop: `line present in ${path}`,
      diffs: [{ path, before: step1, after: step2 }],
    });
    await prove(lab, host, (h) => h.lineinfile({ path, regexp: /^ListenAddress/, state: "absent" }), {
      change: `1 line(s) removed from ${path}`,
      noop: `no line matching /^ListenAddress/ in ${path}`,
      diffs: [{ path, before: step2, after: step1 }],
    });

    const fresh = "/srv/rb/edit/new.conf";
    await seed(lab, host, fresh, null);
    const r = await (await ctx(lab, host, false)).h.lineinfile({ path: fresh, line: "x=1" }, { ignoreErrors: true });
    assert.is(r.reason, `${fresh} does not exist (set create: true to create it)`);
    await prove(lab, host, (h) => h.lineinfile({ path: fresh, line: "x=1", create: true, mode: "0600" }), {
      change: `create ${fresh}: line added to ${fresh}`,
      noop: `line present in ${fresh}`,
      diffs: [{ path: fresh, before: null, after: "x=1\n" }],
    });
    assert.is(await sh(lab, host, `stat -c %a ${fresh}`), "600\n");
  }
});

s("lineinfile: edits through a symlink reach its target", async ({ lab }) => {
  const [t1] = lab.hosts as [LabHost];
  await seed(lab, t1, "/srv/rb/edit/real.conf", "a\n");
  await sh(lab, t1, "ln -sfn real.conf /srv/rb/edit/link.conf");
  await prove(lab, t1, (h) => h.lineinfile({ path: "/srv/rb/edit/link.conf", line: "b" }), {
    change: "line added to /srv/rb/edit/link.conf",
    noop: "line present in /srv/rb/edit/link.conf",
    diffs: [{ path: "/srv/rb/edit/real.conf", before: "a\n", after: "a\nb\n" }],
  });
  assert.is(await sh(lab, t1, "readlink /srv/rb/edit/link.conf; cat /srv/rb/edit/real.conf"), "real.conf\na\nb\n");
});

s("blockinfile: insert, update in place, remove", async ({ lab }) => {
  for (const host of lab.hosts) {
    const path = "/srv/rb/edit/hosts";
    const orig = "127.0.0.1 localhost\n::1 localhost\n";
    await seed(lab, host, path, orig);
    const block = (n: number) => `# BEGIN cluster nodes\n${Array.from({ length: n }, (_, i) => `10.0.0.${i + 1} tnode${i + 1}\n`).join("")}# END cluster nodes\n`;
    const nodes = (n: number) => Array.from({ length: n }, (_, i) => `10.0.0.${i + 1} tnode${i + 1}`).join("\n");
    const with2 = `127.0.0.1 localhost\n${block(2)}::1 localhost\n`;
    await prove(lab, host, (h) => h.blockinfile({ path, marker: "# {mark} cluster nodes", block: nodes(2), insertafter: /^127\./ }), {
      change: `block inserted in ${path}`,
      noop: `block up to date in ${path}`,
      diffs: [{ path, before: orig, after: with2 }],
    });
    const with3 = `127.0.0.1 localhost\n${block(3)}::1 localhost\n`;
    await prove(lab, host, (h) => h.blockinfile({ path, marker: "# {mark} cluster nodes", block: nodes(3) }), {
      change: `block updated in ${path}`,
      noop: `block up to date in ${path}`,
      diffs: [{ path, before: with2, after: with3 }],
    });
    assert.is((await remote(lab, host, path)).toString(), with3);
    await prove(lab, host, (h) => h.blockinfile({ path, marker: "# {mark} cluster nodes", state: "absent" }), {
      change: `block removed from ${path}`,
      noop: `no block in ${path}`,
      diffs: [{ path, before: with3, after: orig }],
    });
  }
});

s("blockinfile: default markers, create", async ({ lab }) => {
  const [t1] = lab.hosts as [LabHost];
  const path = "/srv/rb/edit/rc.local";
  await seed(lab, t1, path, null);
  const want = "# BEGIN RUNBOOK MANAGED BLOCK\nmodprobe br_netfilter\n# END RUNBOOK MANAGED BLOCK\n";
  await prove(lab, t1, (h) => h.blockinfile({ path, block: "modprobe br_netfilter\n", create: true, mode: "0755" }), {
    change: `create ${path}: block inserted in ${path}`,
    noop: `block up to date in ${path}`,
    diffs: [{ path, before: null, after: want }],
  });
  assert.is(await sh(lab, t1, `stat -c %a ${path}; cat ${path}`), `755\n${want}`);
});

s("replace: every match, with groups; a missing file fails", async ({ lab }) => {
  for (const host of lab.hosts) {
    const path = "/srv/rb/edit/sources.list";
    const orig = "deb http://deb.debian.org/debian bookworm main\ndeb http://deb.debian.org/debian bookworm-updates main\n";
    const want = orig.replace(/main$/gm, "main contrib non-free");
    await seed(lab, host, path, orig);
    await prove(lab, host, (h) => h.replace({ path, regexp: "(bookworm\\S*) main$", replace: "$1 main contrib non-free" }), {
      change: `2 replacement(s) in ${path}`,
      noop: `no match for /(bookworm\\S*) main$/ in ${path}`,
      diffs: [{ path, before: orig, after: want }],
    });
    assert.is((await remote(lab, host, path)).toString(), want);
    const r = await (await ctx(lab, host, false)).h.replace({ path: "/srv/rb/edit/nope", regexp: "x" }, { ignoreErrors: true });
    assert.is(r.reason, "/srv/rb/edit/nope does not exist");
  }
});

// ---------------------------------------------------------------- fetch

s("fetch: a text file to a local path per host; check mode writes nothing locally", async ({ lab }) => {
  for (const host of lab.hosts) {
    const src = "/srv/rb/fetch/fstab";
    const text = `# fstab of ${host.name} — ünïcödé\n/dev/sda1 / ext4 defaults 0 1\n`;
    await seed(lab, host, src, text);
    const dest = `fetched/${host.name}/fstab`;
    await prove(lab, host, (h) => h.fetch({ src, dest: `fetched/${h.name}/fstab` }), {
      change: `create ${dest} from ${host.name}:${src}`,
      noop: `${dest} matches ${host.name}:${src}`,
      diffs: [{ path: dest, before: null, after: text }],
      unchanged: () => assert.not.ok(existsSync(local(dest)), "check mode wrote no local file"),
    });
    assert.is(readFileSync(local(dest), "utf8"), text);

    await seed(lab, host, src, text + "tmpfs /tmp tmpfs defaults 0 0\n");
    await prove(lab, host, (h) => h.fetch({ src, dest }), {
      change: `update ${dest} from ${host.name}:${src}`,
      noop: `${dest} matches ${host.name}:${src}`,
      diffs: [{ path: dest, before: text, after: text + "tmpfs /tmp tmpfs defaults 0 0\n" }],
      unchanged: () => assert.is(readFileSync(local(dest), "utf8"), text, "check mode left the local file"),
    });
  }
});

s("fetch: binary content byte for byte; a missing src fails or is ok", async ({ lab }) => {
  const [t1] = lab.hosts as [LabHost];
  const bytes = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(300_000)]);
  await seed(lab, t1, "/srv/rb/fetch/blob.bin", bytes);
  const dest = local("fetched/blob.bin");
  await prove(lab, t1, (h) => h.fetch({ src: "/srv/rb/fetch/blob.bin", dest }), {
    change: `create ${dest} from tnode1:/srv/rb/fetch/blob.bin`,
    noop: `${dest} matches tnode1:/srv/rb/fetch/blob.bin`,
    diffs: [{ path: dest, before: null, after: "(binary content)\n" }],
  });
  assert.ok(readFileSync(dest).equals(bytes), "the bytes round-trip");
  const { h } = await ctx(lab, t1, false);
  const missing = await h.fetch({ src: "/srv/rb/fetch/none", dest: "fetched/none" }, { ignoreErrors: true });
  assert.is(missing.status, "failed");
  assert.is(missing.reason, "/srv/rb/fetch/none does not exist on tnode1");
  const ok = await h.fetch({ src: "/srv/rb/fetch/none", dest: "fetched/none", failOnMissing: false });
  assert.is(ok.status, "ok");
  assert.is(ok.reason, "/srv/rb/fetch/none does not exist on tnode1 (failOnMissing: false)");
});

// ---------------------------------------------------------------- script

s("script: runs from stdin with quoted args, no temp file; creates; stdin is not the script", async ({ lab }) => {
  writeLocal(
    "files/setup.sh",
    [
      "#!/bin/sh",
      "set -e",
      // A command that reads stdin must not swallow the rest of the script.
      "cat > /srv/rb/script/stdin.txt",
      'printf "%s|" "$#" "$@" > /srv/rb/script/out.txt',
      'echo "after cat" >> /srv/rb/script/out.txt',
      "",
    ].join("\n"),
  );
  for (const host of lab.hosts) {
    await seed(lab, host, "/srv/rb/script/x", null);
    const args = ["a b", "it's", "$(id)", "-n", "ünï"];
    const first = await prove(lab, host, (h) => h.script({ src: "files/setup.sh", args, creates: "/srv/rb/script/out.txt" }), {
      change: "script files/setup.sh run",
      noop: "/srv/rb/script/out.txt exists (creates)",
    });
    assert.is(first.diffs, undefined);
    assert.is(await sh(lab, host, "cat /srv/rb/script/out.txt"), `5|a b|it's|$(id)|-n|ünï|after cat\n`);
    assert.is(await sh(lab, host, "wc -c < /srv/rb/script/stdin.txt"), "0\n", "the script's stdin is empty");
    assert.is(await sh(lab, host, "ls -A /tmp /root | grep -c runbook || true"), "0\n", "no temp file");
  }
});

s("script: the #! line picks the interpreter; interpreter overrides; exit status fails the task", async ({ lab }) => {
  writeLocal("files/bashism.sh", '#!/bin/bash\nif [[ "$1" == b* ]]; then echo "bash ${BASH_VERSINFO[0]} $1"; fi\n');
  writeLocal("files/fail.sh", "echo going; echo broken >&2; exit 7\n");
  const [t1] = lab.hosts as [LabHost];
  const { h } = await ctx(lab, t1, false);
  const r = await h.script({ src: "files/bashism.sh", args: ["bx"] });
  assert.is(r.status, "changed");
  assert.match(r.stdout ?? "", /^bash \d+ bx\n$/);
  const ro = await h.script({ src: local("files/fail.sh"), interpreter: ["sh", "-c", 'echo "via $0"', "custom"], readOnly: true });
  assert.is(ro.status, "ok");
  assert.is(ro.stdout, "via custom\n");
  const bad = await h.script({ src: "files/fail.sh" }, { ignoreErrors: true });
  assert.is(bad.status, "failed");
  assert.is(bad.rc, 7);
  assert.is(bad.reason, "script files/fail.sh: broken");
});

// ---------------------------------------------------------------- validate

s("validate: a failing validator leaves the old file and fails with its message (copy, template, lineinfile, blockinfile)", async ({ lab }) => {
  const [t1] = lab.hosts as [LabHost];
  const { h } = await ctx(lab, t1, false);
  const sudoers = "/etc/sudoers.d/rb-test";
  const good = "%wheel ALL=(ALL:ALL) ALL\n";
  await seed(lab, t1, sudoers, good);
  await sh(lab, t1, `chmod 440 ${sudoers}`);
  writeLocal("templates/sudoers.njk", "{{ rule }}\n");
  const attempts: [string, () => Promise<TaskResult>][] = [
    ["copy", () => h.copy({ dest: sudoers, content: "%wheel ALL=(ALL BROKEN\n", validate: "visudo -cf %s" }, { ignoreErrors: true })],
    ["template", () => h.template({ src: "templates/sudoers.njk", dest: sudoers, vars: { rule: "wheel ALL ==" }, validate: "visudo -cf %s" }, { ignoreErrors: true })],
    ["lineinfile", () => h.lineinfile({ path: sudoers, line: "Defaults secure_path=", insertbefore: "BOF", validate: "visudo -cf %s" }, { ignoreErrors: true })],
    ["blockinfile", () => h.blockinfile({ path: sudoers, block: "User_Alias X = (", validate: "visudo -cf %s" }, { ignoreErrors: true })],
  ];
  for (const [task, attempt] of attempts) {
    const r = await attempt();
    assert.is(r.status, "failed", `${task}: ${r.reason}`);
    assert.match(r.reason, new RegExp(`^write ${sudoers}.*validated by: visudo -cf %s: .*syntax error`), `${task}: ${r.reason}`);
    assert.is((await remote(lab, t1, sudoers)).toString(), good, `${task}: the old file is intact`);
    assert.is(await sh(lab, t1, "ls -A /etc/sudoers.d | grep -c runbook || true"), "0\n", `${task}: no temp file left`);
  }
  // A passing validator lets the write through.
  const ok = await h.lineinfile({ path: sudoers, line: "Defaults:%wheel !lecture", validate: "visudo -cf %s" });
  assert.is(ok.status, "changed");
  assert.is((await remote(lab, t1, sudoers)).toString(), good + "Defaults:%wheel !lecture\n");
  assert.is(await sh(lab, t1, `stat -c %a ${sudoers}`), "440\n", "mode kept through validation");
  await seed(lab, t1, sudoers, null);
});

// ---------------------------------------------------------------- quoting

/** mulberry32: a small seeded PRNG, so a failure names a reproducible case. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = [" ", "'", '"', "$(id)", "`id`", "\n", "*", "?", "[a]", "-", "--", "é", "日本", "\\", "$HOME", ";", "&&", "|", "<", ">", "#", "~", "\t", "%s", "{a,b}", "a", "Z", "0", "!"];

function hostileNames(seed: number, n: number): string[] {
  const rnd = prng(seed);
  const pick = () => PIECES[Math.floor(rnd() * PIECES.length)]!;
  const names = new Set<string>();
  while (names.size < n) {
    let name = (rnd() < 0.3 ? "-" : "") + Array.from({ length: 1 + Math.floor(rnd() * 6) }, pick).join("");
    if (name === "." || name === ".." || Buffer.byteLength(name) > 200) continue;
    // A file's name may not be `.`, `..`, contain `/` or NUL; everything else goes.
    names.add(name);
  }
  return [...names];
}

s("quoting: 30 hostile names and contents round-trip exactly through copy and file", async ({ lab }) => {
  const SEED = 20240611;
  const [t1] = lab.hosts as [LabHost];
  const dir = "/srv/rb/q 'dir' $(x)";
  await seed(lab, t1, `${dir}/.keep`, null);
  // Plus the two endings a shell's $(...) and a tab-separated parser get wrong.
  const names = [...hostileNames(SEED, 28), "ends in a newline\n\n", "tab\tin a link\t"];
  const rnd = prng(SEED + 1);
  const contents = names.map((n, i) =>
    i % 3 === 0 ? randomBytes(1 + Math.floor(rnd() * 5000)) : Buffer.from(`${n}\n${PIECES.join("")}\r\n${i % 2 ? "" : "no final newline"}`),
  );
  const { h, conn } = await ctx(lab, t1, false);
  const runAll = async () => {
    const statuses: string[] = [];
    for (const [i, name] of names.entries()) {
      const path = `${dir}/${name}`;
      statuses.push((await h.copy({ dest: path, content: contents[i]!, mode: "0600" })).status);
      statuses.push((await h.file({ path: `${path}.d`, state: "directory", mode: "0750" })).status);
      statuses.push((await h.file({ path: `${path}.l`, state: "link", src: path })).status);
    }
    return statuses;
  };
  assert.equal(await runAll(), names.flatMap(() => ["changed", "changed", "changed"]), `seed ${SEED}: first run`);

  // What is on the host: names, kinds, modes, link targets (NUL-separated), and the bytes.
  const listing = (await conn.run(`find ${shq(dir)} -mindepth 1 -maxdepth 1 -printf '%f\\0%y\\0%m\\0%l\\0'`)).stdout.split("\0").slice(0, -1);
  const found = new Map<string, string>();
  for (let i = 0; i < listing.length; i += 4) found.set(listing[i]!, `${listing[i + 1]} ${listing[i + 2]} ${listing[i + 3]}`);
  const want = new Map<string, string>();
  for (const name of names) {
    want.set(name, "f 600 ");
    want.set(`${name}.d`, "d 750 ");
    want.set(`${name}.l`, `l 777 ${dir}/${name}`);
  }
  assert.equal(new Map([...found].sort()), new Map([...want].sort()), `seed ${SEED}: names on the host`);
  for (const [i, name] of names.entries()) {
    const got = await conn.get(`${dir}/${name}`);
    assert.ok(got.equals(contents[i]!), `seed ${SEED}: bytes of ${JSON.stringify(name)}`);
  }

  const second = await runAll();
  assert.equal(second, names.flatMap(() => ["ok", "ok", "ok"]), `seed ${SEED}: second run changes nothing`);
  for (const name of names) {
    await h.file({ path: `${dir}/${name}.l`, state: "absent" });
    await h.file({ path: `${dir}/${name}.d`, state: "absent" });
    await h.file({ path: `${dir}/${name}`, state: "absent" });
  }
  assert.is((await conn.run(`ls -A ${shq(dir)} | wc -l`)).stdout, "0\n", "all removed");
});

// ---------------------------------------------------------------- dropped connection

/**
 * Starts a write of 64 MB through a task on a connection of its own and
 * kills that connection's sshd session once the temp file is 2 MB along.
 */
async function dropMidWrite(lab: Lab, host: LabHost, write: (h: Host) => Promise<TaskResult>): Promise<void> {
  const path = "/srv/rb/drop/big.conf";
  await seed(lab, host, path, "old content\n");
  const victim = await hostContext(lab, host, { baseDir: base });
  const { conn } = await ctx(lab, host, false);
  try {
    const writing = write(victim.h);
    writing.catch(() => {});
    const kill = [
      "i=0; n=0",
      "while [ $i -lt 2000 ]; do",
      "  t=$(ls /srv/rb/drop/.runbook.* 2>/dev/null | head -n1)",
      '  if [ -n "$t" ]; then n=$(stat -c %s "$t" 2>/dev/null || echo 0); [ "${n:-0}" -gt 2000000 ] && break; fi',
      "  i=$((i+1)); sleep 0.005",
      "done",
      // The writing `cat`'s sshd session: walk up from it to the first `sshd:` process.
      "p=$(ps -eo pid=,comm= | awk '$2==\"cat\"{print $1; exit}')",
      'while [ -n "$p" ] && [ "$p" -gt 1 ]; do',
      '  case "$(ps -o args= -p "$p")" in "sshd: "*) echo "$n $(ps -o args= -p "$p")"; kill -9 "$p"; exit 0;; esac',
      "  p=$(ps -o ppid= -p \"$p\" | tr -d ' ')",
      "done",
      "echo 'no sshd found' >&2; exit 1",
    ].join("\n");
    const killed = await conn.run(kill);
    assert.match(killed.stdout, /^\d+ sshd: root@notty\n$/, `${killed.stdout}${killed.stderr}`);
    const size = Number(killed.stdout.split(" ")[0]);
    assert.ok(size > 0 && size < 64 * 1024 * 1024, `the temp file had ${size} bytes when sshd died`);
    try {
      await writing;
      assert.unreachable("the task rejects");
    } catch (err) {
      assert.instance(err, UnreachableError);
    }
    const deadline = Date.now() + 10_000;
    while (/runbook/.test((await conn.run("ls -A /srv/rb/drop")).stdout) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.is((await conn.run("ls -A /srv/rb/drop")).stdout, "big.conf\n", "no temp file left");
    assert.is((await conn.get(path)).toString(), "old content\n", "the old file is intact");
  } finally {
    await victim.close();
  }
}

s("dropped connection mid-copy (64 MB): the old file intact, no temp file", async ({ lab }) => {
  const big = randomBytes(64 * 1024 * 1024);
  await dropMidWrite(lab, lab.hosts[0]!, (h) => h.copy({ dest: "/srv/rb/drop/big.conf", content: big }));
});

s("dropped connection mid-template (64 MB rendered): the old file intact, no temp file", async ({ lab }) => {
  writeLocal("templates/big.njk", "{% for c in chunks %}{{ c }}{% endfor %}\n");
  const chunk = "x".repeat(1024 * 1024 - 1) + "\n";
  await dropMidWrite(lab, lab.hosts[0]!, (h) => h.template({ src: "templates/big.njk", dest: "/srv/rb/drop/big.conf", vars: { chunks: Array(64).fill(chunk) } }));
});

// ---------------------------------------------------------------- copy, file, command

s("copy: create with a diff, change content, then only the mode", async ({ lab }) => {
  for (const host of lab.hosts) {
    const path = "/srv/rb/core/motd";
    await seed(lab, host, path, null);
    await prove(lab, host, (h) => h.copy({ dest: path, content: "hello\n", mode: "0640" }), {
      change: `create ${path}`,
      noop: `${path} content and attributes match`,
      diffs: [{ path, before: null, after: "hello\n" }],
    });
    await prove(lab, host, (h) => h.copy({ dest: path, content: "hello\nworld\n", mode: "0640" }), {
      change: `update ${path} (content differs)`,
      noop: `${path} content and attributes match`,
      diffs: [{ path, before: "hello\n", after: "hello\nworld\n" }],
    });
    await prove(lab, host, (h) => h.copy({ dest: path, content: "hello\nworld\n", mode: "0600" }), {
      change: `${path}: mode 640 -> 600`,
      noop: `${path} content and attributes match`,
    });
    assert.is(await sh(lab, host, `stat -c %a ${path}; cat ${path}`), "600\nhello\nworld\n");
  }
});

s("file: directory with a mode, a symlink, touch, then absent", async ({ lab }) => {
  for (const host of lab.hosts) {
    const dir = "/srv/rb/core/dir";
    await seed(lab, host, dir, null);
    await prove(lab, host, (h) => h.file({ path: dir, state: "directory", mode: "0750" }), {
      change: `create directory ${dir}`,
      noop: `${dir} is a directory with matching attributes`,
    });
    await prove(lab, host, (h) => h.file({ path: `${dir}/link`, state: "link", src: "/etc/hostname" }), {
      change: `link ${dir}/link -> /etc/hostname`,
      noop: `${dir}/link links to /etc/hostname`,
    });
    await prove(lab, host, (h) => h.file({ path: `${dir}/stamp`, state: "touch" }), {
      change: `create file ${dir}/stamp`,
      noop: `${dir}/stamp is a file with matching attributes`,
    });
    await prove(lab, host, (h) => h.file({ path: dir, state: "absent" }), {
      change: `remove ${dir} (directory)`,
      noop: `${dir} is absent`,
    });
  }
});

s("command: creates makes it idempotent; readOnly never reports changed", async ({ lab }) => {
  for (const host of lab.hosts) {
    const stamp = "/srv/rb/core/stamp";
    await seed(lab, host, stamp, null);
    await prove(lab, host, (h) => h.command(`echo made > ${stamp}`, { creates: stamp }), {
      change: "command run",
      noop: `${stamp} exists (creates)`,
    });
    const chk = await ctx(lab, host, true);
    const ro = await chk.h.command(`cat ${stamp}`, { readOnly: true });
    assert.is(ro.status, "ok");
    assert.is(ro.stdout, "made\n", "a read-only command runs in check mode too");
  }
});

s.run();
