/**
 * The SSH connection on real lab hosts: one TCP connection with many
 * channels, host keys, auth, become (NOPASSWD and password sudo), atomic put
 * through become, a connection dropped mid-put, timeouts, jump hosts.
 */
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as assert from "uvu/assert";
import { fingerprint } from "../../runner/connection/knownhosts.ts";
import { BecomeError, RemoteError } from "../../runner/connection/posix.ts";
import { SshConnection, type SshTarget } from "../../runner/connection/ssh.ts";
import { UnreachableError } from "../../runner/connection/types.ts";
import { shq } from "../../runner/quote.ts";
import { labSuite, until } from "./fixture.ts";
import { hostAddress, type Lab } from "./lab.ts";

const PW = `pw-${randomBytes(6).toString("hex")}-Zq!`;
let tmp = "";
const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

/** A target for lab host `i` (0-based) as root with the lab key. */
function target(lab: Lab, i: number, extra: Partial<SshTarget> = {}): SshTarget {
  const h = lab.hosts[i]!;
  return { host: h.name, address: h.address, user: "root", keyFiles: [lab.key], agent: "", knownHostsFiles: [lab.knownHosts], ...extra };
}

/** Awaits a promise that must reject; returns the error for more checks. */
async function rejection(p: Promise<unknown>, cls: abstract new (...a: never[]) => Error, pattern: RegExp): Promise<Error> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, cls, `expected ${cls.name}, got ${(e as Error).name}: ${(e as Error).message}`);
    assert.match((e as Error).message, pattern);
    return e as Error;
  }
  return assert.unreachable(`expected a rejection matching ${pattern}`) as never;
}

const s = await labSuite("ssh connection", { hosts: 2 });
let root: SshConnection;

s.before(() => void (tmp = mkdtempSync(join(tmpdir(), "rb-ssh-"))));
s.after(() => rmSync(tmp, { recursive: true, force: true }));

s("connect, run: stdout, stderr, exit code, stdin; timings", async ({ lab }) => {
  root = await SshConnection.open(target(lab, 0));
  const r = await root.run("echo out; echo err >&2; cat; exit 3", { stdin: "in\n" });
  assert.equal(r, { code: 3, stdout: "out\nin\n", stderr: "err\n" });
  // The contract says POSIX sh: root's login shell is bash, the command runs in dash.
  assert.is((await root.run("readlink /proc/$$/exe")).stdout.trim(), "/usr/bin/dash");

  const t0 = performance.now();
  for (let i = 0; i < 50; i++) await root.run("true");
  const rtt = (performance.now() - t0) / 50;
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const c = await SshConnection.open(target(lab, 0));
    times.push(c.connectMs);
    await c.close();
  }
  console.error(`  [ssh] connect ${Math.min(...times)}-${Math.max(...times)} ms, exec round trip ${rtt.toFixed(2)} ms`);
});

s("commands without stdin share a long-lived shell: byte-exact output, nothing leaks between commands", async () => {
  // One shell ran all of them: the same parent process (an exec channel each would be a new sshd session each).
  const parents = new Set<string>();
  for (let i = 0; i < 5; i++) parents.add((await root.run("echo $PPID")).stdout);
  assert.is(parents.size, 1, [...parents].join(","));

  // Exit status, stdout and stderr apart, output without a final newline, text that looks like a marker.
  assert.equal(await root.run("printf 'a\\n\\nb'; printf 'e1\\ne2' >&2; exit 7"), { code: 7, stdout: "a\n\nb", stderr: "e1\ne2" });
  assert.equal(await root.run("printf '\\n:runbook-0123:o 0\\n'"), { code: 0, stdout: "\n:runbook-0123:o 0\n", stderr: "" });
  assert.equal(await root.run("true"), { code: 0, stdout: "", stderr: "" });
  // A syntax error, `exit`, `cd`, variables, `set -e`, reading stdin: none of it reaches the next command.
  assert.is((await root.run("if then")).code, 2);
  assert.is((await root.run("cd /tmp; X=1; set -e; export Y=2; exit 5")).code, 5);
  assert.equal(await root.run('pwd; echo "${X-unset} ${Y-unset}"; cat'), { code: 0, stdout: "/root\nunset unset\n", stderr: "" });
  // A signal is 128+n, as sh reports it.
  assert.is((await root.run("kill -TERM $$")).code, 143);

  // 3 MB of random bytes through `get` (no stdin: the shell path), byte for byte.
  await root.run("head -c 3000000 /dev/urandom > /tmp/rb-random");
  const bytes = await root.get("/tmp/rb-random");
  assert.is(sha(bytes), (await root.run("sha256sum < /tmp/rb-random")).stdout.split(" ")[0]);

  // A command that kills the shell itself: 255 for it, a new shell for the next one.
  assert.is((await root.run("kill -KILL $PPID; sleep 5")).code, 255);
  assert.equal(await root.run("echo again"), { code: 0, stdout: "again\n", stderr: "" });
});

s("50 commands in parallel on ONE connection: all succeed, ≤ 8 channels at once, one TCP connection", async ({ lab }) => {
  const t0 = performance.now();
  const rs = await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      root.run(`echo "$SSH_CONNECTION"; sleep 0.2 & ps -eo args= | grep -cx 'sleep 0.2'; ss -Htn state established '( sport = :22 )' | wc -l; wait; echo ${i}`),
    ),
  );
  const ms = performance.now() - t0;
  for (const [i, r] of rs.entries()) assert.is(r.code, 0, `command ${i}: ${r.stderr}`);
  const lines = rs.map((r) => r.stdout.trim().split("\n"));
  assert.equal(lines.map((l) => l[3]), rs.map((_, i) => String(i)));
  // Same client address AND port for all 50: one TCP connection carried them.
  assert.is(new Set(lines.map((l) => l[0])).size, 1);
  assert.ok(lines[0]![0]!.startsWith(`${lab.gateway} `), lines[0]![0]);
  assert.ok(Math.max(...lines.map((l) => Number(l[1]))) <= 8, `too many channels at once: ${lines.map((l) => l[1])}`);
  assert.equal([...new Set(lines.map((l) => l[2]))], ["1"]); // and sshd saw only that one
  // 0.2 s each, 8 at a time: at least 7 waves.
  assert.ok(ms >= 7 * 200, `50 × 0.2 s finished in ${ms} ms: more than 8 at once?`);

  const q0 = performance.now();
  const quick = await Promise.all(Array.from({ length: 50 }, (_, i) => root.run(`echo ${i}`)));
  const quickMs = performance.now() - q0;
  assert.ok(quick.every((r, i) => r.stdout === `${i}\n`));
  console.error(`  [ssh] 50 parallel \`echo\` on one connection: ${quickMs.toFixed(0)} ms`);
});

s("put writes exact bytes, names with spaces, quotes, $(), backticks, newlines; get returns them", async () => {
  await root.run("rm -rf /tmp/put && mkdir /tmp/put");
  const names = ["plain", "with space", `quote'd "x"`, "$(touch pwned)", "`touch pwned2`", "new\nline", "-dash", "ünï €", "trailing newline\n"];
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  for (const name of names) {
    const path = `/tmp/put/${name}`;
    const content = Buffer.concat([all, randomBytes(70_000), Buffer.from(`\n${name} ✓\n`)]);
    await root.put(path, content);
    const remote = await root.run(`sha256sum < ${shq(path)}`);
    assert.is(remote.stdout.split(" ")[0], sha(content), name);
    assert.ok((await root.get(path)).equals(content), `get ${name}`);
  }
  await root.put("/tmp/put/empty", "");
  assert.is((await root.get("/tmp/put/empty")).length, 0);
  const ls = await root.run("ls -A /tmp/put; ls /root/pwned* /tmp/put/pwned* 2>/dev/null || echo no-injection");
  assert.not.match(ls.stdout, /\.runbook\./);
  assert.match(ls.stdout, /no-injection/);
});

s("put: mode and owner set before the rename; old mode/owner kept; a new inode", async () => {
  const p = "/tmp/put/perm";
  await root.put(p, "one\n");
  assert.is((await root.run(`stat -c '%a %U %G' ${p}`)).stdout.trim(), "644 root root");
  await root.put(p, "two\n", { mode: "0640", owner: "nobody", group: "nogroup" });
  const ino = (await root.run(`stat -c %i ${p}`)).stdout;
  assert.is((await root.run(`stat -c '%a %U %G' ${p}`)).stdout.trim(), "640 nobody nogroup");
  await root.put(p, "three\n");
  assert.is((await root.run(`stat -c '%a %U %G' ${p}; cat ${p}`)).stdout, "640 nobody nogroup\nthree\n");
  assert.is.not((await root.run(`stat -c %i ${p}`)).stdout, ino); // renamed over, not rewritten in place
  await root.put(p, "four\n", { mode: "4755", owner: "daemon" }); // chown before chmod keeps setuid
  assert.is((await root.run(`stat -c '%a %U %G' ${p}`)).stdout.trim(), "4755 daemon nogroup");
});

s("put failures: clear error, old file intact, no temp file left", async () => {
  await root.put("/tmp/put/keep", "old\n");
  await rejection(root.put("/tmp/put/keep", "new\n", { owner: "no-such-user" }), RemoteError, /tnode1: put \/tmp\/put\/keep failed: chown: invalid user/);
  await rejection(root.put("/nonexistent/dir/f", "x"), RemoteError, /mktemp: .*No such file or directory/);
  await rejection(root.put("/tmp/put", "x"), RemoteError, /is a directory/);
  assert.is((await root.get("/tmp/put/keep")).toString(), "old\n");
  assert.not.match((await root.run("ls -A /tmp/put /nonexistent 2>&1")).stdout, /\.runbook\./);
  await rejection(root.get("/tmp/put/missing"), RemoteError, /tnode1: get \/tmp\/put\/missing failed: \/tmp\/put\/missing: No such file or directory/);
});

s("timeoutMs: 124 and the whole command tree is killed (also through sudo)", async () => {
  const t0 = Date.now();
  const r = await root.run("sleep 7.71 | cat; echo never", { timeoutMs: 400 });
  assert.is(r.code, 124);
  assert.is(r.stdout, "");
  assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
  await until("sleep 7.71 to be gone", async () => (await root.run("ps -eo args= | grep -cx 'sleep 7.71' || :")).stdout.trim() === "0", 2000);
  const ok = await root.run("echo fine", { timeoutMs: 5000 });
  assert.equal(ok, { code: 0, stdout: "fine\n", stderr: "" });
});

s("become: users with NOPASSWD and with password sudo", async () => {
  const setup = [
    "set -e",
    "for u in rbalice rbbob; do",
    "  id $u >/dev/null 2>&1 || useradd -m -s /bin/sh $u",
    "  install -d -o $u -g $u -m 700 /home/$u/.ssh",
    "  install -o $u -g $u -m 600 /root/.ssh/authorized_keys /home/$u/.ssh/authorized_keys",
    "done",
    "echo 'rbalice ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/rbalice",
    "echo 'rbbob ALL=(ALL) ALL' > /etc/sudoers.d/rbbob",
    "chmod 440 /etc/sudoers.d/rbalice /etc/sudoers.d/rbbob",
    // The password on stdin, as everywhere.
    "chpasswd",
  ].join("\n");
  const r = await root.run(setup, { stdin: `rbbob:${PW}\n` });
  assert.is(r.code, 0, r.stderr);
});

s("become NOPASSWD: probe, run, put/get as root via sudo; no password is sent", async ({ lab }) => {
  const alice = await SshConnection.open(target(lab, 0, { user: "rbalice" }));
  try {
    assert.is(await alice.becomeProbe(), "nopasswd");
    assert.is(await alice.becomeProbe(PW), "nopasswd"); // a password is not needed, so it is not used
    const r = await alice.run("id -un; echo $HOME; cat", { become: {}, stdin: "data\n" });
    assert.equal(r, { code: 0, stdout: "root\n/root\ndata\n", stderr: "" });
    const as = await alice.run("id -un", { become: { user: "rbbob" } });
    assert.is(as.stdout, "rbbob\n");
    const bytes = randomBytes(100_000);
    await alice.put("/etc/rb-alice.bin", bytes, { become: {}, mode: "0640" });
    assert.is((await root.run("stat -c '%a %U %G' /etc/rb-alice.bin")).stdout.trim(), "640 root root");
    assert.ok((await alice.get("/etc/rb-alice.bin", { become: {} })).equals(bytes));
    // Without become the same write is refused, cleanly.
    await rejection(alice.put("/etc/rb-alice.bin", "x"), RemoteError, /Permission denied/);
    await rejection(alice.get("/etc/shadow"), RemoteError, /get \/etc\/shadow failed: .*Permission denied/);
    const t = await alice.run("sleep 7.72 | cat", { become: {}, timeoutMs: 300 });
    assert.is(t.code, 124);
    await until("root's sleep 7.72 to be gone", async () => (await root.run("ps -eo args= | grep -cx 'sleep 7.72' || :")).stdout.trim() === "0", 2000);
  } finally {
    await alice.close();
  }
});

s("become with a password: probe, run, put; the password is on no command line and in no environment", async ({ lab }) => {
  const bob = await SshConnection.open(target(lab, 0, { user: "rbbob" }));
  try {
    assert.is(await bob.becomeProbe(PW), "password");
    const r = await bob.run("id -un; cat", { become: { password: PW }, stdin: "exact stdin\n" });
    assert.equal(r, { code: 0, stdout: "root\nexact stdin\n", stderr: "" });

    const long = bob.run("sleep 1.5; echo done", { become: { password: PW } });
    await until("the become command to start", async () => /sleep 1\.5/.test((await root.run("ps -eo args=")).stdout));
    const ps = await root.run("ps -eo user=,args=");
    assert.match(ps.stdout, /sudo -k -S -p {1,2}-H -u root --/);
    assert.not.ok(ps.stdout.includes(PW), `password on a command line:\n${ps.stdout}`);
    const env = await root.run(`cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n' | grep -cF -e ${shq(PW)} || :`);
    assert.is(env.stdout.trim(), "0");
    assert.equal(await long, { code: 0, stdout: "done\n", stderr: "" });

    const bytes = randomBytes(200_000);
    await bob.put("/etc/rb-bob.bin", bytes, { become: { password: PW }, owner: "rbbob", mode: "0600" });
    assert.is((await root.run("stat -c '%a %U' /etc/rb-bob.bin")).stdout.trim(), "600 rbbob");
    assert.ok((await bob.get("/etc/rb-bob.bin", { become: { password: PW } })).equals(bytes));

    // The rule turns NOPASSWD mid-run (a sudo role does exactly that): the
    // cached mode still sends the password, sudo no longer reads it, and the
    // guard must swallow it so the command's stdin is untouched.
    await root.run("echo 'rbbob ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/rbbob");
    const after = await bob.run("cat", { become: { password: PW }, stdin: "only this\n" });
    assert.equal(after, { code: 0, stdout: "only this\n", stderr: "" });
    await bob.put("/etc/rb-bob.txt", "still exact\n", { become: { password: PW } });
    assert.is((await root.get("/etc/rb-bob.txt")).toString(), "still exact\n");
    await root.run("echo 'rbbob ALL=(ALL) ALL' > /etc/sudoers.d/rbbob");
  } finally {
    await bob.close();
  }
});

s("become: wrong or missing sudo password is a clear error", async ({ lab }) => {
  const bob = await SshConnection.open(target(lab, 0, { user: "rbbob" }));
  try {
    const wrong = await rejection(bob.becomeProbe("not-the-password"), BecomeError, /^tnode1: wrong sudo password for rbbob on tnode1$/);
    assert.is((wrong as BecomeError).reason, "wrong-password");
    await rejection(bob.run("true", { become: { password: "not-the-password" } }), BecomeError, /wrong sudo password for rbbob on tnode1/);
    const e = await rejection(bob.run("true", { become: {} }), BecomeError, /sudo needs a password for rbbob to become root \(give one with --ask-become-pass\)/);
    assert.is((e as BecomeError).reason, "needs-password");
    // The right one still works on the same connection.
    assert.is((await bob.run("id -un", { become: { password: PW } })).stdout, "root\n");
  } finally {
    await bob.close();
  }
});

s("host keys: unknown refused with how to accept; acceptNewHostKeys records it; hashed entries work", async ({ lab }) => {
  const h = lab.hosts[0]!;
  const fp = fingerprint(Buffer.from(readFileSync(lab.knownHosts, "utf8").split("\n")[0]!.split(" ")[2]!, "base64"));
  const fresh = join(tmp, "fresh_known_hosts");
  writeFileSync(fresh, "");
  const e = await rejection(SshConnection.open(target(lab, 0, { knownHostsFiles: [fresh] })), UnreachableError, /host key unknown/);
  assert.ok(e.message.includes(`presented ED25519 key ${fp}`), e.message);
  assert.match(e.message, /--accept-new-host-keys/);
  assert.not.match(e.message, /attempts/); // not retried

  const c = await SshConnection.open(target(lab, 0, { knownHostsFiles: [fresh], acceptNewHostKeys: true }));
  await c.close();
  assert.match(readFileSync(fresh, "utf8"), new RegExp(`^${h.address.replace(/\./g, "\\.")},${h.name} ssh-ed25519 `));
  const again = await SshConnection.open(target(lab, 0, { knownHostsFiles: [fresh] }));
  await again.close();

  const hashed = join(tmp, "hashed_known_hosts");
  copyFileSync(lab.knownHosts, hashed);
  execFileSync("ssh-keygen", ["-q", "-H", "-f", hashed], { stdio: "ignore" });
  assert.not.match(readFileSync(hashed, "utf8"), /tnode1/);
  const viaHashed = await SshConnection.open(target(lab, 0, { knownHostsFiles: [hashed] }));
  await viaHashed.close();
});

s("host keys: a changed key is ALWAYS refused, with both fingerprints and the file:line", async ({ lab }) => {
  const [l1, l2] = readFileSync(lab.knownHosts, "utf8").split("\n");
  const key1 = l1!.split(" ").slice(1).join(" ");
  const key2 = l2!.split(" ").slice(1).join(" ");
  const wrong = join(tmp, "wrong_known_hosts");
  writeFileSync(wrong, `# other hosts\nodin ${key1}\ntnode1,${lab.hosts[0]!.address} ${key2}\n`);
  for (const accept of [false, true]) {
    const e = await rejection(SshConnection.open(target(lab, 0, { knownHostsFiles: [wrong], acceptNewHostKeys: accept })), UnreachableError, /host key mismatch/);
    const fp1 = fingerprint(Buffer.from(key1.split(" ")[1]!, "base64"));
    const fp2 = fingerprint(Buffer.from(key2.split(" ")[1]!, "base64"));
    assert.ok(e.message.includes(`expected ED25519 key ${fp2} (${wrong}:3), got ED25519 key ${fp1}`), e.message);
    assert.match(e.message, /ssh-keygen -R/);
  }
  assert.is(readFileSync(wrong, "utf8").split("\n").length, 4); // nothing was recorded
});

s("host keys on another port: [addr]:port entries", async ({ lab }) => {
  const h = lab.hosts[1]!;
  await root.run(`ssh -q -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null ${h.address} true 2>/dev/null; true`);
  const two = await SshConnection.open(target(lab, 1));
  await two.run("/usr/sbin/sshd -p 2222");
  const key2 = readFileSync(lab.knownHosts, "utf8").split("\n")[1]!.split(" ").slice(1).join(" ");
  const plain = join(tmp, "plain22");
  writeFileSync(plain, `${h.address} ${key2}\n`);
  await rejection(SshConnection.open(target(lab, 1, { port: 2222, knownHostsFiles: [plain] })), UnreachableError, /host key unknown: \[10\.88\.\d+\.\d+\]:2222/);
  const bracketed = join(tmp, "port2222");
  writeFileSync(bracketed, `[${h.address}]:2222 ${key2}\n`);
  const c = await SshConnection.open(target(lab, 1, { port: 2222, knownHostsFiles: [bracketed] }));
  assert.match((await c.run("echo $SSH_CONNECTION")).stdout, / 2222\n$/);
  await c.close();
  await two.close();
});

s("auth: a wrong key fails at once with what was tried; encrypted keys are skipped or opened", async ({ lab }) => {
  const other = join(tmp, "other_key");
  const locked = join(tmp, "locked_key");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", other]);
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "sesame", "-f", locked]);
  const t0 = Date.now();
  const e = await rejection(SshConnection.open(target(lab, 0, { keyFiles: [other] })), UnreachableError, /authentication failed for root \(tried key /);
  assert.ok(e.message.includes(`tried key ${other}`), e.message);
  assert.not.match(e.message, /attempts/);
  assert.ok(Date.now() - t0 < 2000);
  await rejection(SshConnection.open(target(lab, 0, { keyFiles: [locked] })), UnreachableError, /key .*locked_key skipped: encrypted and no passphrase given/);
  // Encrypted first, usable second: connects.
  await (await SshConnection.open(target(lab, 0, { keyFiles: [locked, lab.key] }))).close();
  await root.run(`cat >> /root/.ssh/authorized_keys`, { stdin: readFileSync(`${locked}.pub`) });
  const c = await SshConnection.open(target(lab, 0, { keyFiles: [locked], passphrase: "sesame" }));
  assert.is((await c.run("id -un")).stdout, "root\n");
  await c.close();
});

s("unreachable: refused and timed out are UnreachableErrors, retried with backoff, quickly", async ({ lab }) => {
  let t0 = Date.now();
  await rejection(SshConnection.open(target(lab, 0, { port: 2223, retries: 2 })), UnreachableError, /^tnode1: connection refused \(10\.88\.\d+\.\d+:2223\) \(3 attempts\)$/);
  const refusedMs = Date.now() - t0;
  assert.ok(refusedMs >= 700 && refusedMs < 2000, `refused: ${refusedMs} ms (backoff 0.25 + 0.5 s)`);
  t0 = Date.now();
  const unused = hostAddress(lab.id, 200);
  await rejection(SshConnection.open({ ...target(lab, 0), address: unused, connectTimeoutMs: 1000, retries: 1 }), UnreachableError, /^tnode1: (timed out after 1 s|no route to host \(.*\)) \(2 attempts\)$/);
  const ms = Date.now() - t0;
  assert.ok(ms < 4000, `unreachable took ${ms} ms`);
});

s("jump host: tnode2 through tnode1 (forwarded TCP)", async ({ lab }) => {
  const c = await SshConnection.open(target(lab, 1, { jump: target(lab, 0) }));
  const r = await c.run("hostname; echo $SSH_CONNECTION");
  const [name, conn] = r.stdout.trim().split("\n");
  assert.is(name, "tnode2");
  assert.ok(conn!.startsWith(`${lab.hosts[0]!.address} `), `tnode2 should see tnode1 as the client: ${conn}`);
  await c.close();
  // A jump host that cannot be reached makes the target unreachable, by the target's name.
  await rejection(
    SshConnection.open(target(lab, 1, { jump: target(lab, 0, { port: 2223, retries: 0 }) })),
    UnreachableError,
    /^tnode2: jump host tnode1: connection refused/,
  );
  // A shared, already open jump connection stays open.
  const jump = await SshConnection.open(target(lab, 0));
  const a = await SshConnection.open(target(lab, 1, { jump }));
  await a.close();
  assert.ok(jump.alive);
  assert.is((await jump.run("hostname")).stdout, "tnode1\n");
  await jump.close();
});

s("a connection dropped mid-put (sshd killed, 64 MB streaming): old file intact, no temp file; runs reject", async ({ lab }) => {
  const victim = await SshConnection.open(target(lab, 0));
  await root.put("/root/big", "old content\n");
  const big = randomBytes(64 * 1024 * 1024);
  const putting = victim.put("/root/big", big);
  putting.catch(() => {});
  const pending = victim.run("sleep 30");
  pending.catch(() => {});
  const kill = [
    "i=0; n=0; t=",
    "while [ $i -lt 1000 ]; do",
    "  t=$(ls /root/.runbook.* 2>/dev/null | head -n1)",
    '  if [ -n "$t" ]; then n=$(stat -c %s "$t" 2>/dev/null || echo 0); [ "${n:-0}" -gt 2000000 ] && break; fi',
    "  i=$((i+1)); sleep 0.005",
    "done",
    "c=$(ps -eo pid=,comm= | awk '$2==\"cat\"{print $1; exit}')",
    "s=$(ps -o ppid= -p $c | tr -d ' '); d=$(ps -o ppid= -p $s | tr -d ' ')",
    'echo "$n $(ps -o args= -p $d)"',
    "kill -9 $d",
  ].join("\n");
  const killed = await root.run(kill);
  assert.match(killed.stdout, /^\d+ sshd: root@notty\n$/, `${killed.stdout}${killed.stderr}`);
  const size = Number(killed.stdout.split(" ")[0]);
  assert.ok(size > 0 && size < big.length, `the temp file had ${size} bytes when sshd died`);

  await rejection(putting, UnreachableError, /^tnode1: connection lost/);
  await rejection(pending, UnreachableError, /^tnode1: connection lost/);
  await rejection(victim.run("true"), UnreachableError, /^tnode1: connection lost/);
  assert.not.ok(victim.alive);

  await until("the orphaned put script to clean up", async () => !/\.runbook\./.test((await root.run("ls -A /root")).stdout));
  assert.is((await root.get("/root/big")).toString(), "old content\n");
  await victim.close();
});

s("close: later calls reject with UnreachableError", async () => {
  await root.close();
  await rejection(root.run("true"), UnreachableError, /connection closed/);
});

s.run();
