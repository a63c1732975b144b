/**
 * The long-lived shell's framing, on output split every way a network can
 * split it (the lab test in test/lab/ssh.test.ts runs it on real hosts).
 */
import { EventEmitter } from "node:events";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { ClientChannel } from "ssh2";
import { RemoteShell } from "../../runner/connection/shell.ts";

/** A channel that records what is written and lets the test answer. */
class FakeChannel extends EventEmitter {
  stderr = new EventEmitter();
  written: string[] = [];
  write(s: string) {
    this.written.push(s);
    return true;
  }
  end() {}
  close() {
    this.emit("close");
  }
}

/** The marker the shell wrote into its last command (the `printf ... MARKERo $?` part). */
const markerOf = (ch: FakeChannel) => /printf '\\n%s %d\\n' (:runbook-[0-9a-f]+:)o/.exec(ch.written.at(-1)!)![1]!;

/** Feeds `text` in chunks of `size` bytes. */
function feed(emitter: EventEmitter, bytes: Buffer, size: number) {
  for (let i = 0; i < bytes.length; i += size) emitter.emit("data", bytes.subarray(i, i + size));
}

test("output and status are found whatever the chunking, byte-exact", async () => {
  const payload = Buffer.concat([Buffer.from("line\n\n"), Buffer.from([0, 1, 2, 0x0a, 0xff]), Buffer.from("no newline")]);
  for (const size of [1, 2, 3, 7, 64, 4096]) {
    const ch = new FakeChannel();
    const shell = new RemoteShell(ch as unknown as ClientChannel, () => undefined, () => {});
    assert.ok(shell.claim());
    const running = shell.run("anything");
    const m = markerOf(ch);
    feed(ch, Buffer.concat([payload, Buffer.from(`\n${m}o 42\n`)]), size);
    feed(ch.stderr, Buffer.from(`warn\n${m}e 0\n`), size);
    const r = await running;
    assert.is(r.code, 42, `chunks of ${size}`);
    assert.ok(r.stdout.equals(payload), `chunks of ${size}: ${JSON.stringify(r.stdout.toString("latin1"))}`);
    assert.is(r.stderr.toString(), "warn");
    assert.is(shell.busy, false);
  }
});

test("live output: every byte before the marker is passed on once, in order, whatever the chunking; the marker never", async () => {
  // (The newline that starts the marker line may be passed on when the output did not end with one.)
  const payload = Buffer.from("first line\nsecond line\n" + "x".repeat(300) + "\nno newline at the end");
  for (const size of [1, 5, 17, 64, 4096]) {
    const ch = new FakeChannel();
    const shell = new RemoteShell(ch as unknown as ClientChannel, () => undefined, () => {});
    const live: Buffer[] = [];
    let seenBeforeEnd = 0;
    const running = shell.run("anything", undefined, { onStdout: (c) => live.push(Buffer.from(c)) });
    const m = markerOf(ch);
    const all = Buffer.concat([payload, Buffer.from(`\n${m}o 0\n`)]);
    feed(ch, all.subarray(0, 200), size);
    seenBeforeEnd = Buffer.concat(live).length;
    feed(ch, all.subarray(200), size);
    feed(ch.stderr, Buffer.from(`\n${m}e 0\n`), size);
    const r = await running;
    assert.ok(seenBeforeEnd >= 200 - 1, `chunks of ${size}: output flowed before the command ended (${seenBeforeEnd} bytes)`);
    const got = Buffer.concat(live).toString("latin1");
    assert.ok(got === payload.toString("latin1") || got === payload.toString("latin1") + "\n", `chunks of ${size}: ${JSON.stringify(got)}`);
    assert.ok(r.stdout.equals(payload));
  }
});

test("the command is quoted for eval, in a subshell with stdin from /dev/null", async () => {
  const ch = new FakeChannel();
  const shell = new RemoteShell(ch as unknown as ClientChannel, () => undefined, () => {});
  void shell.run("echo 'it''s' $HOME");
  const q = "'\\''"; // an embedded ' inside single quotes
  assert.ok(ch.written[0]!.startsWith(`( eval 'echo ${q}it${q}${q}s${q} $HOME'\n) </dev/null; `), ch.written[0]);
});

test("a channel lost mid-command rejects with the connection's error; a shell that died answers 255", async () => {
  const ch = new FakeChannel();
  const lost = new Error("tnode1: connection lost");
  let gone = false;
  const shell = new RemoteShell(ch as unknown as ClientChannel, () => lost, () => (gone = true));
  const p = shell.run("sleep 9");
  ch.emit("close");
  try {
    await p;
    assert.unreachable("should reject");
  } catch (e) {
    assert.is(e, lost);
  }
  assert.ok(gone && !shell.alive);

  const ch2 = new FakeChannel();
  const shell2 = new RemoteShell(ch2 as unknown as ClientChannel, () => undefined, () => {});
  const p2 = shell2.run("kill $PPID");
  ch2.emit("data", Buffer.from("partial"));
  ch2.emit("close");
  const r = await p2;
  assert.is(r.code, 255);
  assert.is(r.stdout.toString(), "partial");
});

test.run();
