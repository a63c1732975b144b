/**
 * The CLI as a user meets it on lab hosts: prompts and secrets, --limit
 * patterns, unreachable and failing hosts, host keys, ad-hoc commands and
 * the messages for bad input.
 */
import { readdirSync, readFileSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as assert from "uvu/assert";
import type { Lab } from "../lab/lab.ts";
import { labSuite, ssh, until } from "../lab/fixture.ts";
import { run } from "../lab/sh.ts";
import { runbook, stateDir, underPty } from "./harness.ts";

const PB = "test/fixtures/playbooks";
const SECRET = "Sup3r-s3cret!x9";

/** Hosts that ran a play, from the recap of a --json run. */
function ranOn(stdout: string): string[] {
  const end = stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l)).find((e) => e.type === "run.end");
  return Object.keys(end?.recap ?? {}).sort();
}

const s = await labSuite("cli: prompts, secrets, limits, failures", { hosts: 3 });

s("a secret prompt answered on a terminal reaches the host but no output, history or process list", async ({ lab }) => {
  const state = stateDir();
  const seen: string[] = [];
  let watching = true;
  // Watches tnode1's processes until the run ends; once the waiting command
  // shows up, opens its gate.
  const watcher = (async () => {
    while (watching) {
      const ps = await ssh(lab, "tnode1", "ps -eo args", { allowFail: true });
      seen.push(ps.stdout);
      if (ps.stdout.includes("rb-ps-gate")) await ssh(lab, "tnode1", "touch /tmp/rb-ps-gate");
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const r = await underPty(
    ["play", `${PB}/secret.ts`, "-i", lab.inventory, "-l", "tnode1", "-v", "-e", "psGate=yes"],
    [
      [/vault password/, `${SECRET}\r`],
      [/vault password \(again\)/, `${SECRET}\r`],
    ],
    { RUNBOOK_STATE_DIR: state },
  );
  watching = false;
  await watcher;
  assert.is(r.code, 0, r.out);
  assert.match(r.out, /read-only command/);
  assert.not.ok(r.out.includes(SECRET), "secret in terminal output");
  assert.ok(seen.some((p) => p.includes("rb-ps-gate")), "the watcher saw the command while it ran");
  assert.not.ok(seen.some((p) => p.includes(SECRET)), "secret in the host's process list");
  const config = await ssh(lab, "tnode1", "cat /srv/s/config");
  assert.is(config.stdout, `user=admin\npassword=${SECRET}\n`);
  for (const f of readdirSync(join(state, "runs"))) assert.not.ok(readFileSync(join(state, "runs", f), "utf8").includes(SECRET), "secret in history");
});

s("the same play with no terminal fails before touching a host, naming the variable and the ways to give it", async ({ lab }) => {
  const r = await runbook(["play", `${PB}/secret.ts`, "-i", lab.inventory, "-l", "tnode2"]);
  assert.is(r.code, 1);
  assert.is(
    r.stderr.trim(),
    'runbook: prompt "vaultPassword" (vault password) needs a value and there is no terminal to ask on; give it with -e vaultPassword=..., -e @vars.yml, or the environment variable RUNBOOK_VAR_vaultPassword',
  );
  assert.is((await ssh(lab, "tnode2", "test -e /srv/s && echo touched || echo untouched")).stdout, "untouched\n");
});

s("a secret given non-interactively is masked in --diff, --json and history", async ({ lab }) => {
  const state = stateDir();
  const r = await runbook(["play", `${PB}/secret.ts`, "-i", lab.inventory, "-l", "tnode2", "--diff", "--json"], {
    env: { RUNBOOK_VAR_vaultPassword: SECRET },
    stateDir: state,
  });
  assert.is(r.code, 0, r.stderr);
  assert.not.ok(r.stdout.includes(SECRET));
  // The file holds a known secret: its diff shows only sizes.
  assert.match(r.stdout, /\(new secret content hidden: 2 lines, 36 bytes\)/);
  const text = await runbook(["play", `${PB}/secret.ts`, "-i", lab.inventory, "-l", "tnode3", "--diff"], { env: { RUNBOOK_VAR_vaultPassword: SECRET }, stateDir: state });
  assert.match(text.stdout, /\+\(new secret content hidden: 2 lines, 36 bytes\)\n/);
  assert.not.ok(text.stdout.includes(SECRET));
  const show = await runbook(["show", "--diff", readdirSync(join(state, "runs"))[0]!.replace(".jsonl", "")], { stateDir: state });
  assert.not.ok(show.stdout.includes(SECRET));
  for (const f of readdirSync(join(state, "runs"))) assert.not.ok(readFileSync(join(state, "runs", f), "utf8").includes(SECRET));
});

s("--limit accepts every pattern form", async ({ lab }) => {
  const limitFile = join(mkdtempSync(join(tmpdir(), "rb-limit-")), "hosts");
  writeFileSync(limitFile, "# two hosts\ntnode1\ntnode3\n");
  const cases: [string, string[]][] = [
    ["tnode2", ["tnode2"]],
    ["clusternode", ["tnode1", "tnode2", "tnode3"]],
    ["tnode*", ["tnode1", "tnode2", "tnode3"]],
    ["tnode[1-2]", ["tnode1", "tnode2"]],
    ["tnode[1,3]", ["tnode1", "tnode3"]],
    ["tnode1,tnode3", ["tnode1", "tnode3"]],
    ["clusternode:&tnode[2-3]", ["tnode2", "tnode3"]],
    ["clusternode:!tnode2", ["tnode1", "tnode3"]],
    ["~tnode[13]", ["tnode1", "tnode3"]],
    [`@${limitFile}`, ["tnode1", "tnode3"]],
  ];
  for (const [limit, expected] of cases) {
    const r = await runbook(["play", `${PB}/tiny.ts`, "-i", lab.inventory, "--limit", limit, "--json"]);
    assert.is(r.code, 0, `${limit}: ${r.stderr}`);
    assert.equal(ranOn(r.stdout), expected, `--limit ${limit}`);
  }
  const none = await runbook(["play", `${PB}/tiny.ts`, "-i", lab.inventory, "--limit", "tnode9"]);
  assert.is(none.code, 1);
  assert.match(none.stderr, /pattern "tnode9" matches no host/);
});

s("a failing task stops only its host and exits 2", async ({ lab }) => {
  const r = await runbook(["play", `${PB}/slow.ts`, "-i", lab.inventory, "-e", "fail=yes", "-l", "tnode1"]);
  assert.is(r.code, 2, r.stdout);
  assert.match(r.stdout, /tnode1\s+failed\s+fail on purpose\s+\(exit 5: exit code 5\)|tnode1\s+failed\s+fail on purpose/);
});

s("a host lost mid-run is unreachable, the others finish, exit 4", async ({ lab }) => {
  const child = runbook(["play", `${PB}/slow.ts`, "-i", lab.inventory, "--json"]);
  // Processes of tnode2 (its network namespace) whose command line starts with `prefix`.
  const procs = async (prefix: string) => {
    const pids = (await run("ip", ["netns", "pids", lab.hosts[1]!.netns])).stdout.split("\n").filter(Boolean);
    return pids.filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").startsWith(prefix);
      } catch {
        return false; // gone since the listing
      }
    });
  };
  // Mid-`sleep 3` on tnode2, kill its sshd (the listener and every session).
  await until("tnode2 runs the slow task", async () => (await procs("sleep")).length > 0, 60_000);
  const sshd = await procs("sshd");
  assert.ok(sshd.length > 0);
  await run("sh", ["-c", `kill -9 ${sshd.join(" ")} 2>/dev/null; true`]);
  const r = await child;
  assert.is(r.code, 4, r.stdout + r.stderr);
  const end = r.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l)).find((e) => e.type === "run.end");
  assert.is(end.recap.tnode2.unreachable, 1);
  assert.is(end.recap.tnode1.ok, 2);
  assert.is(end.recap.tnode3.ok, 2);
  assert.is(end.recap.tnode1.unreachable, 0);
});

s.run();

const keys = await labSuite("cli: host keys", { hosts: 1 });

/** A copy of the lab inventory whose hosts use `known` as known_hosts. */
function inventoryWith(lab: Lab, known: string): string {
  const dir = mkdtempSync(join(tmpdir(), "rb-inv-"));
  writeFileSync(join(dir, "hosts.yml"), readFileSync(lab.inventory, "utf8").replaceAll(lab.knownHosts, known));
  return join(dir, "hosts.yml");
}

keys("an unknown host key is refused; --accept-new-host-keys records it; a changed key is always refused", async ({ lab }) => {
  const known = join(mkdtempSync(join(tmpdir(), "rb-known-")), "known_hosts");
  writeFileSync(known, "");
  const inv = inventoryWith(lab, known);
  const refused = await runbook(["play", `${PB}/tiny.ts`, "-i", inv]);
  assert.is(refused.code, 4);
  assert.match(refused.stdout, /tnode1\s+UNREACHABLE\s+.*unknown/i);
  assert.match(refused.stdout, /--accept-new-host-keys/);
  const accepted = await runbook(["play", `${PB}/tiny.ts`, "-i", inv, "--accept-new-host-keys"]);
  assert.is(accepted.code, 0, accepted.stdout);
  assert.match(readFileSync(known, "utf8"), /ssh-ed25519 /);
  const again = await runbook(["play", `${PB}/tiny.ts`, "-i", inv]);
  assert.is(again.code, 0);
  // Another key for the same host: refused even with --accept-new-host-keys.
  const other = (await run("sh", ["-c", `d=$(mktemp -d); ssh-keygen -q -t ed25519 -N '' -f "$d/k"; cut -d' ' -f1,2 "$d/k.pub"`])).stdout.trim();
  writeFileSync(known, `tnode1,${lab.hosts[0]!.address} ${other}\n`);
  const changed = await runbook(["play", `${PB}/tiny.ts`, "-i", inv, "--accept-new-host-keys"]);
  assert.is(changed.code, 4);
  assert.match(changed.stdout, /changed|mismatch/i);
  assert.match(changed.stdout, /SHA256:/);
});

keys("runbook run groups identical output like clush -b", async ({ lab }) => {
  const r = await runbook(["run", "all", "-i", lab.inventory, "--", "echo same; uname -s"]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /^-+\ntnode1 \(1\)\n-+\nsame\nLinux\n$/);
});

keys.run();

const three = await labSuite("cli: ad-hoc on three hosts", { hosts: 3 });

three("runbook run clusternode -- CMD folds hosts with identical output into one block", async ({ lab }) => {
  const same = await runbook(["run", "clusternode", "-i", lab.inventory, "--", "cat /etc/debian_version"]);
  assert.is(same.code, 0);
  const blocks = same.stdout.match(/^tnode\S+ \(\d+\)/gm);
  assert.equal(blocks, ["tnode[1-3] (3)"]);
  const differ = await runbook(["run", "clusternode", "-i", lab.inventory, "--", "hostname; test $(hostname) != tnode2"]);
  assert.is(differ.code, 2);
  assert.equal(differ.stdout.match(/^tnode\S+ \(\d+\).*$/gm), ["tnode1 (1)", "tnode2 (1)  exit 1", "tnode3 (1)"]);
});

three.run();

const become = await labSuite("cli: become", { hosts: 3 });

/** Creates `ops` (sudo with a password) and `nop` (NOPASSWD) on every host, both logging in with the lab key. */
async function sudoUsers(lab: Lab): Promise<void> {
  const setup = [
    "for u in ops nop; do useradd -m -s /bin/sh $u; mkdir -p /home/$u/.ssh; cp /root/.ssh/authorized_keys /home/$u/.ssh/; chown -R $u: /home/$u/.ssh; done",
    "echo 'ops:opspw-4711' | chpasswd",
    "echo 'ops ALL=(ALL:ALL) ALL' > /etc/sudoers.d/ops",
    "echo 'nop ALL=(ALL:ALL) NOPASSWD: ALL' > /etc/sudoers.d/nop",
  ].join(" && ");
  await Promise.all(lab.hosts.map((h) => ssh(lab, h, setup)));
}

function inventoryAs(lab: Lab, user: string): string {
  const dir = mkdtempSync(join(tmpdir(), "rb-inv-"));
  writeFileSync(join(dir, "hosts.yml"), readFileSync(lab.inventory, "utf8").replaceAll("username: root", `username: ${user}\n  become: true`));
  return join(dir, "hosts.yml");
}

become("sudo with a password: asked once on a terminal, reused for every host, never on a command line", async ({ lab }) => {
  await sudoUsers(lab);
  const seen: string[] = [];
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      seen.push((await ssh(lab, "tnode2", "ps -eo args", { allowFail: true })).stdout);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const r = await underPty(["play", `${PB}/three-plays.ts`, "-i", inventoryAs(lab, "ops"), "-K"], [[/BECOME \(sudo\) password/, "opspw-4711\r"]], { RUNBOOK_STATE_DIR: stateDir() });
  watching = false;
  await watcher;
  assert.is(r.code, 0, r.out.slice(-3000));
  assert.is((r.out.match(/BECOME \(sudo\) password/g) ?? []).length >= 1, true);
  assert.not.ok(r.out.includes("opspw-4711"));
  assert.not.ok(seen.some((p) => p.includes("opspw-4711")));
  for (const h of lab.hosts) assert.is((await ssh(lab, h, "stat -c %U /srv/rb/marker")).stdout, "root\n");
});

become("a wrong sudo password stops that host with a clear message", async ({ lab }) => {
  const r = await runbook(["play", `${PB}/tiny.ts`, "-i", inventoryAs(lab, "ops"), "-l", "tnode1"], { env: { RUNBOOK_BECOME_PASSWORD: "wrong-pw" } });
  assert.is(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stdout, /tnode1.*wrong sudo password for ops/);
  assert.not.ok(r.stdout.includes("wrong-pw"));
});

become("NOPASSWD sudo needs no password", async ({ lab }) => {
  const r = await runbook(["play", `${PB}/tiny.ts`, "-i", inventoryAs(lab, "nop")]);
  assert.is(r.code, 0, r.stdout + r.stderr);
});

become("an SSH password (-k or RUNBOOK_SSH_PASSWORD) logs in where no key is offered", async ({ lab }) => {
  const dir = mkdtempSync(join(tmpdir(), "rb-inv-"));
  const text = readFileSync(lab.inventory, "utf8").replaceAll("username: root", "username: ops").replace(/^\s*ssh-keypath: .*\n/gm, "");
  writeFileSync(join(dir, "hosts.yml"), text);
  const env = { HOME: mkdtempSync(join(tmpdir(), "rb-home-")), SSH_AUTH_SOCK: "" };
  const ok = await runbook(["play", `${PB}/tiny.ts`, "-i", join(dir, "hosts.yml"), "-l", "tnode1"], { env: { ...env, RUNBOOK_SSH_PASSWORD: "opspw-4711" } });
  assert.is(ok.code, 0, ok.stdout + ok.stderr);
  const bad = await runbook(["play", `${PB}/tiny.ts`, "-i", join(dir, "hosts.yml"), "-l", "tnode1"], { env: { ...env, RUNBOOK_SSH_PASSWORD: "nope-nope" } });
  assert.is(bad.code, 4);
  assert.match(bad.stdout, /authentication failed for ops/);
  assert.not.ok(bad.stdout.includes("nope-nope"));
});

become.run();
