/**
 * A long-lived remote `/bin/sh` on one SSH channel, running many commands
 * one after another: the fast path for commands without stdin, which is
 * nearly every state check. An exec channel per command costs a channel
 * open, an exec request, sshd forking a session and the login shell, and
 * ~10 SSH packets each way; here a command is one packet out, its output
 * back, and one fork on the host.
 *
 * Each command runs as `( eval 'LINE' ) </dev/null` — a subshell, so `cd`,
 * `exit`, `set -e` or variables cannot leak into the next command, with no
 * access to the shell's own stdin — followed by a marker line on stdout
 * (with the exit status) and on stderr. The marker is random per shell, so
 * output cannot fake it. Output is split at the markers, byte-exact.
 *
 * Live output: bytes are passed on as they arrive, except a tail that could
 * be the start of the marker (it waits for the next chunk). A final newline
 * that turns out to be the marker's own may have been passed on: live
 * output can end with a newline the result does not have.
 *
 * What the exec path does that this does not: stdin for the command (put,
 * sudo with a password), signal names (a command killed by a signal reports
 * 128+n, as sh does). SshConnection routes those to exec channels.
 */
import { randomBytes } from "node:crypto";
import type { ClientChannel } from "ssh2";
import type { RawResult } from "./posix.ts";
import { shq } from "../quote.ts";

/** One output stream of the shell, read up to the next marker line. */
class Stream {
  private chunks: Buffer[] = [];
  private total = 0;
  /** The last bytes seen, kept to find a marker split across chunks. */
  private tail = Buffer.alloc(0);
  private done: { code: number; size: number } | undefined;
  /** Bytes already passed to `onData`. */
  private sent = 0;

  constructor(
    private readonly needle: Buffer,
    private readonly onData?: (chunk: Buffer) => void,
  ) {}

  get complete(): boolean {
    return this.done !== undefined;
  }

  /** Takes a chunk of output. */
  push(d: Buffer): void {
    if (this.done) return; // output after the marker: a stray background process; dropped
    const before = this.total - this.tail.length;
    this.chunks.push(d);
    this.total += d.length;
    const region = Buffer.concat([this.tail, d]);
    const at = region.indexOf(this.needle);
    if (at >= 0) {
      const end = region.indexOf(0x0a, at + this.needle.length);
      if (end >= 0) {
        this.done = { code: Number(region.subarray(at + this.needle.length, end).toString("latin1")), size: before + at };
        this.forward(this.done.size);
        return;
      }
      // The marker is here, its status line not yet: output ends before it.
      this.forward(before + at);
    }
    // Keep enough to find the marker line when its start is in this chunk.
    this.tail = region.subarray(Math.max(0, region.length - this.needle.length - 16));
    if (this.onData && at < 0) this.forward(this.total - this.heldBack(region));
  }

  /** How many bytes at the end of `region` could be the start of the marker (with its newline). */
  private heldBack(region: Buffer): number {
    const bare = this.needle.subarray(1);
    for (let k = Math.min(bare.length - 1, region.length); k > 0; k--) {
      if (region.subarray(region.length - k).equals(bare.subarray(0, k))) return region[region.length - k - 1] === 0x0a ? k + 1 : k;
    }
    return 0;
  }

  /** Passes on the output up to byte `upto` not passed on yet. */
  private forward(upto: number): void {
    if (!this.onData || upto <= this.sent) return;
    let offset = 0;
    for (const c of this.chunks) {
      const from = Math.max(this.sent, offset);
      const to = Math.min(upto, offset + c.length);
      if (to > from) this.onData(c.subarray(from - offset, to - offset));
      offset += c.length;
      if (offset >= upto) break;
    }
    this.sent = upto;
  }

  /** The command's output (without the marker) and the status on the marker line. */
  take(): { bytes: Buffer; code: number } {
    const all = Buffer.concat(this.chunks);
    return { bytes: all.subarray(0, this.done?.size ?? all.length), code: this.done?.code ?? 255 };
  }
}

interface Pending {
  out: Stream;
  err: Stream;
  resolve: (r: RawResult) => void;
  reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
}

export class RemoteShell {
  private readonly marker = `:runbook-${randomBytes(12).toString("hex")}:`;
  private current: Pending | undefined;
  private claimed = false;
  private ended = false;

  /**
   * @param channel an exec channel running `/bin/sh` and nothing else
   * @param lostError what a command still running gets when the channel ends with the connection
   */
  constructor(
    private readonly channel: ClientChannel,
    private readonly lostError: () => Error | undefined,
    private readonly onEnd: () => void,
  ) {
    channel.on("data", (d: Buffer) => this.data("out", d));
    channel.stderr.on("data", (d: Buffer) => this.data("err", d));
    channel.on("error", () => {});
    channel.on("close", () => this.end());
  }

  get busy(): boolean {
    return this.claimed || this.current !== undefined;
  }

  /** Reserves an idle shell for the caller's next `run` (so two callers cannot pick the same one). */
  claim(): boolean {
    if (this.busy || this.ended) return false;
    this.claimed = true;
    return true;
  }

  get alive(): boolean {
    return !this.ended;
  }

  /** Runs one sh command line; `deadlineMs` kills the shell and answers 124. */
  run(line: string, deadlineMs?: number, live: { onStdout?: (c: Buffer) => void; onStderr?: (c: Buffer) => void } = {}): Promise<RawResult> {
    this.claimed = false;
    if (this.ended || this.current) return Promise.reject(new Error("remote shell is not available"));
    return new Promise<RawResult>((resolve, reject) => {
      const needle = (stream: string) => Buffer.from(`\n${this.marker}${stream} `);
      const p: Pending = { out: new Stream(needle("o"), live.onStdout), err: new Stream(needle("e"), live.onStderr), resolve, reject };
      this.current = p;
      if (deadlineMs !== undefined) {
        p.timer = setTimeout(() => {
          this.finish(124);
          this.close();
        }, deadlineMs);
      }
      const m = this.marker;
      this.channel.write(`( eval ${shq(line)}\n) </dev/null; printf '\\n%s %d\\n' ${m}o $?; printf '\\n%s 0\\n' ${m}e >&2\n`);
    });
  }

  /** Ends the shell (EOF: sh exits); a running command is answered as lost. */
  close(): void {
    if (this.ended) return;
    this.channel.end();
    this.channel.close();
  }

  private data(which: "out" | "err", d: Buffer): void {
    const p = this.current;
    if (!p) return;
    (which === "out" ? p.out : p.err).push(d);
    if (p.out.complete && p.err.complete) this.finish();
  }

  private finish(code?: number): void {
    const p = this.current;
    if (!p) return;
    this.current = undefined;
    clearTimeout(p.timer);
    const out = p.out.take();
    const err = p.err.take();
    p.resolve({ code: code ?? out.code, stdout: out.bytes, stderr: err.bytes });
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    const p = this.current;
    if (p) {
      // The channel went away mid-command: with the connection (unreachable),
      // or the shell was killed on the host.
      const lost = this.lostError();
      if (lost) {
        this.current = undefined;
        clearTimeout(p.timer);
        p.reject(lost);
      } else {
        this.finish(255);
      }
    }
    this.onEnd();
  }
}
