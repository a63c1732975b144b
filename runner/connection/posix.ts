/**
 * What SSH and local connections share: become (sudo), timeouts, atomic
 * put and get, all as POSIX sh over one primitive, "run this command line
 * with these stdin bytes". A subclass supplies only that primitive, so the
 * sudo and file-transfer semantics cannot drift between the two.
 *
 * Only POSIX sh and coreutils are assumed on the target (a minimal
 * Slackware has no Python): sudo, mktemp, cat, wc, sha256sum, stat, chmod,
 * chown, mv, timeout.
 */
import { createHash, randomBytes } from "node:crypto";
import { constants as osConstants } from "node:os";
import { posix } from "node:path";
import { shq } from "../quote.ts";
import type { Become, Connection, PutOptions, RunOptions, RunResult } from "./types.ts";

/**
 * How sudo behaves for the login user on a host, as `becomeProbe` found it:
 * `root` means no sudo is needed (the login user already is the target
 * user, e.g. root becoming root); `nopasswd` means sudo runs without a
 * password; `password` means sudo asks for one (and it was checked).
 *
 * @example const mode: BecomeMode = await conn.becomeProbe(password, "postgres");
 */
export type BecomeMode = "root" | "nopasswd" | "password";

/**
 * A host-side failure of a connection verb (put, get, become), with the
 * host in the message. The host is reachable; the task fails.
 *
 * @example
 * try { await conn.get("/etc/missing"); }
 * catch (e) { if (e instanceof RemoteError) console.log(e.message); } // "tnode1: get /etc/missing failed: No such file or directory"
 */
export class RemoteError extends Error {
  constructor(
    readonly host: string,
    message: string,
  ) {
    super(`${host}: ${message}`);
    this.name = "RemoteError";
  }
}

/**
 * Why sudo cannot be used: `needs-password` (none was given: the CLI can
 * prompt and probe again), `wrong-password`, `no-sudo` (not installed), or
 * `other` (e.g. not in sudoers, requiretty).
 */
export type BecomeFailure = "needs-password" | "wrong-password" | "no-sudo" | "other";

/**
 * sudo refused: a wrong or missing password, or no sudo rights.
 *
 * @example
 * try { await conn.becomeProbe(); }
 * catch (e) { if (e instanceof BecomeError && e.reason === "needs-password") await conn.becomeProbe(await ask()); }
 */
export class BecomeError extends RemoteError {
  constructor(
    host: string,
    readonly reason: BecomeFailure,
    message: string,
  ) {
    super(host, message);
    this.name = "BecomeError";
  }
}

/** What a subclass's primitive is asked to do. */
export interface RawExecOptions {
  stdin?: Buffer;
  /**
   * Last-resort deadline: kill what can be killed and answer 124. The
   * command's own `timeout(1)` normally fires first; this one covers a host
   * that stopped answering.
   */
  deadlineMs?: number;
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
}

/** Raw output: Buffers, so binary files survive (`get`). */
export interface RawResult {
  code: number;
  signal?: string;
  stdout: Buffer;
  stderr: Buffer;
}

/** Seconds timeout(1) waits after TERM before it sends KILL. */
const KILL_AFTER_S = 2;
/** How long after that the local deadline gives up on the host. */
const DEADLINE_GRACE_MS = (KILL_AFTER_S + 3) * 1000;

/**
 * The base of `SshConnection` and `LocalConnection`: implements the
 * Connection verbs over `exec`, a subclass's "run this sh command line"
 * primitive.
 *
 * Become and the password: with a NOPASSWD rule, commands run as
 * `sudo -n -H -u USER -- /bin/sh -c CMD` and no password is ever sent. When
 * sudo needs a password, commands run as
 * `sudo -k -S -p '' -H -u USER -- /bin/sh -c GUARD runbook-become CMD` with
 * stdin = password, newline, a per-connection sentinel line, then the
 * caller's stdin. `-k` ignores cached credentials, so sudo always reads the
 * password line itself when its policy wants one; GUARD then reads up to two
 * lines until it has seen the sentinel, so if sudo did NOT ask (say a role
 * turned the rule into NOPASSWD mid-run) the password line is swallowed by
 * the guard and never reaches the command. The password is only ever on
 * stdin, never in an argv or the environment.
 *
 * @example
 * class RecordingConnection extends PosixConnection {
 *   readonly host = "test"; readonly loginUser = "root";
 *   protected async exec(line: string) { this.lines.push(line); return { code: 0, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) }; }
 *   lines: string[] = [];
 *   async close() {}
 * }
 */
export abstract class PosixConnection implements Connection {
  abstract readonly host: string;
  /** The user commands run as without become. */
  abstract readonly loginUser: string;

  /** Runs one POSIX sh command line on the host (see RawExecOptions). */
  protected abstract exec(line: string, opts: RawExecOptions): Promise<RawResult>;

  abstract close(): Promise<void>;

  /**
   * Turns a caller's command into the line `exec` runs when no sudo is
   * involved. SSH hands the line to the login shell, so it wraps it in
   * `/bin/sh -c` there; locally the line already goes to /bin/sh.
   */
  protected plain(command: string): string {
    return command;
  }

  // Not secret: it only has to differ from any password and any stdin.
  private readonly sentinel = `runbook-become-${randomBytes(16).toString("hex")}`;
  private readonly modes = new Map<string, Promise<BecomeMode>>();

  /**
   * Finds out (once per become user and password, then cached for the
   * connection's life) whether sudo needs a password here, and checks the
   * password when it does. One round trip.
   *
   * @throws BecomeError "wrong sudo password for deploy on tnode1", or
   *   "sudo on tnode1 needs a password for deploy ..." when none was given.
   * @example
   * const mode = await conn.becomeProbe(await askPassword()); // "nopasswd" | "password" | "root"
   */
  becomeProbe(password?: string, user = "root"): Promise<BecomeMode> {
    if (user === this.loginUser) return Promise.resolve("root");
    const key = `${user}\0${password === undefined ? "-" : createHash("sha256").update(password).digest("hex")}`;
    let mode = this.modes.get(key);
    if (!mode) {
      mode = this.probe(password, user);
      this.modes.set(key, mode);
      // A connection failure is not an answer about sudo: let a later call ask again.
      mode.catch((err) => {
        if (!(err instanceof BecomeError)) this.modes.delete(key);
      });
    }
    return mode;
  }

  private async probe(password: string | undefined, user: string): Promise<BecomeMode> {
    const u = shq(user);
    const check = `sudo -k -n -u ${u} -- /bin/sh -c :`;
    // -k everywhere: a credential cached by an earlier sudo must not make a
    // password rule look like NOPASSWD.
    const script =
      password === undefined
        ? `if ${check} 2>/dev/null; then echo nopasswd; else echo needpw; ${check}; fi`
        : `if ${check} 2>/dev/null; then echo nopasswd; elif sudo -k -S -p '' -u ${u} -- /bin/sh -c :; then echo password; else echo wrong; fi`;
    const r = await this.exec(this.plain(script), { stdin: password === undefined ? undefined : Buffer.from(password + "\n") });
    const answer = r.stdout.toString("utf8").trim();
    const why = r.stderr.toString("utf8").trim().replace(/\s*\n\s*/g, "; ");
    if (answer === "nopasswd" || answer === "password") return answer;
    if (/sudo: (not found|command not found)/.test(why) || r.code === 127) {
      throw new BecomeError(this.host, "no-sudo", `sudo is not installed, so ${this.loginUser} cannot become ${user}`);
    }
    if (answer === "needpw") {
      throw new BecomeError(this.host, "needs-password", `sudo needs a password for ${this.loginUser} to become ${user} (give one with --ask-become-pass)${why ? `: ${why}` : ""}`);
    }
    if (answer === "wrong") {
      const detail = /incorrect password|try again|no password was provided/i.test(why) ? "" : ` (${why})`;
      throw new BecomeError(this.host, "wrong-password", `wrong sudo password for ${this.loginUser} on ${this.host}${detail}`);
    }
    throw new BecomeError(this.host, "other", `cannot check sudo for ${this.loginUser} (exit ${r.code}${why ? `: ${why}` : ""})`);
  }

  /**
   * The command line and stdin that run `command` as the become user.
   * `command` is a POSIX sh command line, already quoted.
   */
  private async wrap(command: string, stdin: Buffer | undefined, become: Become | undefined, timeoutMs?: number): Promise<{ line: string; stdin?: Buffer }> {
    // timeout(1) puts itself and the command in their own process group and
    // kills the whole group, so a pipeline or a forked daemon cannot outlive
    // the timeout (a signal over SSH would reach the top process only).
    const inner = timeoutMs === undefined ? command : `timeout -k ${KILL_AFTER_S} ${(timeoutMs / 1000).toFixed(3)} /bin/sh -c ${shq(command)}`;
    const user = become?.user ?? "root";
    const mode = become ? await this.becomeProbe(become.password, user) : "root";
    if (mode === "root") return { line: timeoutMs === undefined ? this.plain(command) : inner, stdin };
    const u = shq(user);
    if (mode === "nopasswd") return { line: `sudo -n -H -u ${u} -- /bin/sh -c ${shq(inner)}`, stdin };
    const guard =
      `IFS= read -r l || exit 125; [ "$l" = ${this.sentinel} ] || { IFS= read -r l && [ "$l" = ${this.sentinel} ]; } ` +
      `|| { echo 'runbook: become stdin out of step' >&2; exit 125; }; unset l; eval "$1"`;
    const head = Buffer.from(`${become!.password}\n${this.sentinel}\n`);
    return {
      line: `sudo -k -S -p '' -H -u ${u} -- /bin/sh -c ${shq(guard)} runbook-become ${shq(inner)}`,
      stdin: stdin ? Buffer.concat([head, stdin]) : head,
    };
  }

  /**
   * Runs a POSIX sh command line and collects its output (UTF-8). Resolves
   * for any exit status; rejects only when the connection fails (or become
   * cannot work: BecomeError).
   *
   * @example
   * const r = await conn.run("uname -r", { become: { password }, timeoutMs: 10_000 });
   * if (r.code !== 0) throw new Error(r.stderr);
   */
  async run(command: string, opts: RunOptions = {}): Promise<RunResult> {
    const stdin = opts.stdin === undefined ? undefined : typeof opts.stdin === "string" ? Buffer.from(opts.stdin) : opts.stdin;
    const { line, stdin: input } = await this.wrap(command, stdin, opts.become, opts.timeoutMs);
    const started = Date.now();
    const r = await this.exec(line, {
      stdin: input,
      deadlineMs: opts.timeoutMs === undefined ? undefined : opts.timeoutMs + DEADLINE_GRACE_MS,
      onStdout: opts.onStdout,
      onStderr: opts.onStderr,
    });
    let code = r.code;
    // timeout(1) says 124, or 137 when the command ignored TERM and took the KILL.
    if (opts.timeoutMs !== undefined && code === 137 && Date.now() - started >= opts.timeoutMs) code = 124;
    const result: RunResult = { code, stdout: r.stdout.toString("utf8"), stderr: r.stderr.toString("utf8") };
    if (r.signal !== undefined) result.signal = r.signal;
    return result;
  }

  /**
   * Writes a file atomically in one round trip: the bytes go to a temp file
   * beside `path`, are checked (size and sha256), get their mode and owner,
   * and only then are renamed over `path`. Any failure, a lost connection
   * included, leaves the old file as it was and removes the temp file.
   *
   * @example await conn.put("/etc/ntp.conf", text, { mode: "0644", owner: "root", group: "root", become: {} });
   */
  async put(path: string, content: string | Buffer, opts: PutOptions = {}): Promise<void> {
    const bytes = typeof content === "string" ? Buffer.from(content) : content;
    const script = putScript(path, opts);
    const { line, stdin } = await this.wrap(script, Buffer.concat([putHeader(bytes), bytes]), opts.become);
    const r = await this.exec(line, { stdin });
    if (r.code !== 0) {
      const why = r.stderr.toString("utf8").trim() || `exit status ${r.code}`;
      throw new RemoteError(this.host, `put ${path} failed: ${why}`);
    }
  }

  /**
   * Reads a remote file, byte for byte.
   *
   * @example const conf = (await conn.get("/etc/ntp.conf")).toString("utf8");
   */
  async get(path: string, opts: { become?: Become } = {}): Promise<Buffer> {
    const { line, stdin } = await this.wrap(`cat -- ${shq(path)}`, undefined, opts.become);
    const r = await this.exec(line, { stdin });
    if (r.code !== 0) {
      const why = r.stderr.toString("utf8").trim().replace(/^cat: /, "") || `exit status ${r.code}`;
      throw new RemoteError(this.host, `get ${path} failed: ${why}`);
    }
    return r.stdout;
  }
}

/** Octal modes chmod accepts, e.g. 644, 0600, 4755. */
const MODE = /^[0-7]{3,4}$/;

/**
 * The first line of `put`'s stdin, before the content: its size and sha256.
 * On stdin, not in the script: the script is the remote command line, which
 * any user on the host can read with `ps`, and the digest of a short secret
 * (a password) can be cracked offline.
 */
export function putHeader(content: Buffer): Buffer {
  return Buffer.from(`${content.length} ${createHash("sha256").update(content).digest("hex")}\n`);
}

/**
 * The POSIX sh script behind `put`; reads putHeader's line, then the
 * content, on stdin. Nothing derived from the content is in the script.
 * Exported for tests and for a dry-run printout.
 *
 * Why each step: `trap '' PIPE` keeps the script alive to clean up when
 * the client vanishes (writing an error to a dead stderr would otherwise
 * kill it before its EXIT trap); `read` takes the header line and no byte
 * more (sh reads a pipe a byte at a time), so `cat` gets the content; the
 * size and sha256 checks catch the truncated stdin a dropped connection
 * leaves; chown comes before chmod because chown clears setuid bits; the
 * EXIT trap is dropped only once `mv` has put the new file in place.
 *
 * @example putScript("/etc/motd", { mode: "0644" })
 */
export function putScript(path: string, opts: Pick<PutOptions, "mode" | "owner" | "group"> = {}): string {
  if (path === "") throw new Error("put: empty path");
  if (opts.mode !== undefined && !MODE.test(opts.mode)) throw new Error(`put ${path}: mode must be octal like "0644", got ${JSON.stringify(opts.mode)}`);
  if (opts.owner === "" || opts.group === "") throw new Error(`put ${path}: owner and group must not be empty`);
  let dir = posix.dirname(path);
  if (dir.startsWith("-")) dir = `./${dir}`; // never an option to mktemp
  const lines = [
    "trap '' PIPE",
    `p=${shq(path)}`,
    `[ -d "$p" ] && { echo "$p is a directory" >&2; exit 1; }`,
    `IFS=' ' read -r size sum || exit 1`,
    `case $size in ''|*[!0-9]*) echo "no size header on stdin" >&2; exit 1;; esac`,
    `t=$(mktemp ${shq(dir + "/.runbook.")}XXXXXX) || exit 1`,
    `trap 'rm -f "$t"' EXIT`,
    "trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 143' TERM",
    `cat > "$t" || exit 1`,
    `n=$(wc -c < "$t") || exit 1`,
    `[ "$n" -eq "$size" ] || { echo "received $n of $size bytes" >&2; exit 1; }`,
    `s=$(sha256sum < "$t") || exit 1`,
    `[ "\${s%% *}" = "$sum" ] || { echo "sha256 mismatch: the bytes were damaged on the way" >&2; exit 1; }`,
    // The old file's mode and owner, or 644 and nobody for a new file.
    `if [ -e "$p" ]; then set -- $(stat -L -c '%a %u %g' -- "$p") || exit 1; else set -- 644 '' ''; fi`,
  ];
  const owner = opts.owner === undefined ? undefined : shq(opts.owner);
  const group = opts.group === undefined ? undefined : shq(opts.group);
  if (owner !== undefined || group !== undefined) {
    // Asked for: a failure is an error. The side not asked for keeps the old file's.
    lines.push(`chown -- ${owner ?? '"$2"'}${group !== undefined ? `:${group}` : '${3:+:"$3"}'} "$t" || exit 1`);
  } else {
    // Keep the old owner where we may (root); elsewhere the file is ours, as any write would be.
    lines.push(`[ -n "$2" ] && { chown -- "$2:$3" "$t" 2>/dev/null || :; }`);
  }
  lines.push(
    `chmod -- ${opts.mode ?? '"$1"'} "$t" || exit 1`,
    `mv -f -- "$t" "$p" || exit 1`,
    "trap - EXIT",
  );
  return lines.join("\n");
}

/**
 * 128 + signal number, the shell's status for a command killed by a signal.
 *
 * @example signalStatus("KILL") // 137
 */
export function signalStatus(signal: string): number {
  const n = (osConstants.signals as Record<string, number | undefined>)[`SIG${signal.replace(/^SIG/, "")}`];
  return n === undefined ? 255 : 128 + n;
}
