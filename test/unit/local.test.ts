/** The local connection: run, put, get and timeouts on a temp dir, with the same semantics as SSH. */
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { LocalConnection } from "../../runner/connection/local.ts";
import { BecomeError, RemoteError } from "../../runner/connection/posix.ts";
import { shq } from "../../runner/quote.ts";

const dir = mkdtempSync(join(tmpdir(), "rb-local-"));
const conn = new LocalConnection();
const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

/** Awaits a promise that must reject with an error whose message matches. */
async function rejects(p: Promise<unknown>, check: RegExp | ((e: unknown) => boolean)): Promise<void> {
  try {
    await p;
  } catch (e) {
    const ok = check instanceof RegExp ? check.test((e as Error).message) : check(e);
    assert.ok(ok, `unexpected error: ${(e as Error).message}`);
    return;
  }
  assert.unreachable("expected a rejection");
}

test.after(async () => {
  await conn.close();
  rmSync(dir, { recursive: true, force: true });
});

test("run: stdout, stderr, exit code, stdin, streaming callbacks", async () => {
  const seen: string[] = [];
  const r = await conn.run("echo out; echo err >&2; cat; exit 3", { stdin: "in\n", onStdout: (c) => seen.push(c.toString()) });
  assert.equal({ code: r.code, stdout: r.stdout, stderr: r.stderr }, { code: 3, stdout: "out\nin\n", stderr: "err\n" });
  assert.is(seen.join(""), "out\nin\n");
  assert.is(conn.host, "localhost");
});

test("run is /bin/sh, and a multi-byte character split across chunks survives", async () => {
  const r = await conn.run(`printf '\\342\\202'; sleep 0.05; printf '\\254\\n'`);
  assert.is(r.stdout, "€\n");
});

test("timeoutMs: 124, quickly, and the whole pipeline is gone", async () => {
  const marker = `${Date.now() % 100000}.5`;
  const t = Date.now();
  const r = await conn.run(`sleep ${marker} | cat`, { timeoutMs: 300 });
  assert.is(r.code, 124);
  assert.ok(Date.now() - t < 2000, `took ${Date.now() - t} ms`);
  const left = await conn.run(`ps -eo args= | grep -c '^sleep ${marker}$' || :`);
  assert.is(left.stdout.trim(), "0");
});

test("put writes exact bytes atomically, names with quotes, $(), backticks, newlines", async () => {
  const names = ["plain", "with space", "quote'd \"x\"", "$(touch pwned)", "`touch pwned2`", "new\nline", "-dash", "ünï €"];
  for (const name of names) {
    const path = join(dir, name);
    const content = Buffer.concat([allBytes, Buffer.from(`\n${name}\n`)]);
    await conn.put(path, content);
    assert.ok(readFileSync(path).equals(content), name);
    assert.equal(await conn.get(path), content);
  }
  assert.not.ok(existsSync(join(process.cwd(), "pwned")));
  assert.not.ok(existsSync(join(dir, "pwned")));
  assert.equal(readdirSync(dir).filter((f) => f.startsWith(".runbook.")), []);
});

test("put: mode given, else the old file's, else 0644; replaces by rename", async () => {
  const path = join(dir, "modes");
  await conn.put(path, "a");
  assert.is(statSync(path).mode & 0o7777, 0o644);
  chmodSync(path, 0o600);
  const inode = statSync(path).ino;
  await conn.put(path, "b");
  assert.is(statSync(path).mode & 0o7777, 0o600);
  assert.is.not(statSync(path).ino, inode); // a new file renamed over the old one
  await conn.put(path, "c", { mode: "0751" });
  assert.is(statSync(path).mode & 0o7777, 0o751);
  assert.is(readFileSync(path, "utf8"), "c");
});

test("put with owner and group (running as root)", async () => {
  if (process.getuid?.() !== 0) return console.error("  (skipped owner check: not root)");
  const path = join(dir, "owned");
  await conn.put(path, "x", { owner: "nobody", group: "nogroup", mode: "4755" });
  const st = statSync(path);
  assert.is(st.uid, 65534);
  assert.is(st.mode & 0o7777, 0o4755); // chown before chmod keeps the setuid bit
  await conn.put(path, "y"); // keeps the old owner and mode
  assert.is(statSync(path).uid, 65534);
  assert.is(statSync(path).mode & 0o7777, 0o4755);
});

test("put failures leave the old file and no temp file; clear messages", async () => {
  await rejects(conn.put(join(dir, "missing-dir/f"), "x"), (e: unknown) => e instanceof RemoteError && /put .*missing-dir\/f failed: .*No such file or directory/.test((e as Error).message));
  await rejects(conn.put(dir, "x"), /is a directory/);
  await rejects(conn.put(join(dir, "m"), "x", { mode: "rw-r--r--" }), /mode must be octal/);
  const path = join(dir, "keep");
  writeFileSync(path, "old");
  await rejects(conn.put(path, "new", { owner: "no-such-user-xyz" }), /invalid user/);
  assert.is(readFileSync(path, "utf8"), "old");
  assert.equal(readdirSync(dir).filter((f) => f.startsWith(".runbook.")), []);
});

test("get: exact bytes; a missing file is a clear error", async () => {
  const path = join(dir, "bin");
  writeFileSync(path, allBytes);
  assert.ok((await conn.get(path)).equals(allBytes));
  await rejects(conn.get(join(dir, "nope")), /get .*nope failed: .*No such file or directory/);
});

test("become: the login user needs no sudo; another user needs sudo", async () => {
  const me = userInfo().username;
  assert.is(await conn.becomeProbe(undefined, me), "root");
  const r = await conn.run("id -un", { become: { user: me } });
  assert.is(r.stdout.trim(), me);
  const hasSudo = (await conn.run("command -v sudo")).code === 0;
  if (!hasSudo) {
    await rejects(conn.run("id -un", { become: { user: me === "root" ? "nobody" : "root" } }), (e: unknown) => e instanceof BecomeError && /sudo is not installed/.test((e as Error).message));
  }
});

test("a single quote in a command stays literal through shq", async () => {
  const r = await conn.run(`printf %s ${shq("it's $HOME `x`")}`);
  assert.is(r.stdout, "it's $HOME `x`");
});

test.run();
