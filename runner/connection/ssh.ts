/**
 * The SSH connection: one ssh2 `Client` per host for the whole run, with
 * many exec channels on it (at most 8 at once: sshd's default MaxSessions
 * is 10, and a refused channel would be a spurious failure).
 *
 * Connection setup is kept to what the protocol needs: our own TCP socket
 * (so "refused" and "timed out" are told apart, and with Nagle off: with it,
 * ssh2's small back-to-back handshake writes stalled ~40 ms on a delayed
 * ACK), no `none` auth probe (a round trip), keys tried in order, the host
 * key checked against known_hosts during the handshake.
 */
import { readFileSync } from "node:fs";
import net from "node:net";
import { homedir, userInfo } from "node:os";
import { spawn } from "node:child_process";
import { Duplex } from "node:stream";
import ssh2 from "ssh2";
import type { AnyAuthMethod, AuthenticationType, ClientChannel, ConnectConfig, NextAuthHandler, ParsedKey } from "ssh2";
import {
  appendKnownHost,
  checkHostKey,
  describeKey,
  hostEntries,
  knownHostName,
  loadKnownHosts,
  preferredHostKeyAlgorithms,
  type KnownHostEntry,
} from "./knownhosts.ts";
import { PosixConnection, signalStatus, type RawExecOptions, type RawResult } from "./posix.ts";
import { RemoteShell } from "./shell.ts";
import { UnreachableError } from "./types.ts";
import { shq } from "../quote.ts";

const { Client, utils } = ssh2;

/**
 * How to reach one host over SSH.
 *
 * @example
 * const target: SshTarget = {
 *   host: "tnode2", address: "192.168.1.12", user: "root", keyFiles: ["/root/.ssh/id_ed25519"],
 *   knownHostsFiles: ["/root/.ssh/known_hosts"], jump: { host: "bastion", address: "bastion.example", knownHostsFiles: ["/root/.ssh/known_hosts"] },
 * };
 */
export interface SshTarget {
  /** Inventory name, for messages (and also looked up in known_hosts). */
  host: string;
  /** Address or DNS name to connect to (as the jump host sees it, with `jump`). */
  address: string;
  /** Default 22. */
  port?: number;
  /** Login user; default the local user name, as ssh does. */
  user?: string;
  /**
   * Private key files, tried in order. Encrypted keys are skipped unless
   * `passphrase` opens them. Default: ~/.ssh/id_ed25519, id_ecdsa, id_rsa
   * (those that exist); `[]` means no key files.
   */
  keyFiles?: string[];
  /** Passphrase for encrypted key files. */
  passphrase?: string;
  /** Login password, tried after keys and agent. */
  password?: string;
  /** ssh-agent socket; default `SSH_AUTH_SOCK` when set. `""` disables the agent. */
  agent?: string;
  /**
   * ProxyJump: connect through this host (forwarded TCP over its SSH
   * connection). A target is opened for this host alone and closed with
   * it; pass an open `SshConnection` to share one jump connection between
   * many hosts (it is then left open).
   */
  jump?: SshTarget | SshConnection;
  /** OpenSSH known_hosts files to check the host key against (in order). */
  knownHostsFiles: string[];
  /** Record an unknown host key in the first known_hosts file (never a changed one). */
  acceptNewHostKeys?: boolean;
  /**
   * false: accept any host key but a revoked one, as OpenSSH's
   * `StrictHostKeyChecking no` (an unknown key is recorded when it can be).
   * The caller says so to the user. Default true.
   */
  checkHostKeys?: boolean;
  /**
   * OpenSSH's ProxyCommand: a local `sh -c` command whose stdin and stdout
   * carry the connection (`%h`, `%p`, `%r`, `%n` and `%%` expanded); instead
   * of a direct TCP connection, and not with `jump`.
   */
  proxyCommand?: string;
  /** ssh-level keepalive interval (OpenSSH's ServerAliveInterval); 0 turns it off; default 15 000. */
  keepaliveMs?: number;
  /** Unanswered keepalives before the connection counts as lost (ServerAliveCountMax); default 4. */
  keepaliveCountMax?: number;
  /** TCP connect and SSH handshake, each; default 10 000. */
  connectTimeoutMs?: number;
  /** Extra attempts after a refused or timed out connection; default 2. Never for auth or host key failures. */
  retries?: number;
  /**
   * Called before each retry with why the attempt failed, the attempt about
   * to start (2, 3, ...), the number of attempts in all and the wait first,
   * so a waiting user sees the retries as they happen.
   */
  onRetry?: (info: { host: string; reason: string; attempt: number; attempts: number; waitMs: number }) => void;
  /** Exec channels open at once; default 8 (sshd allows 10 sessions per connection by default). */
  maxChannels?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_RETRIES = 2;
const DEFAULT_CHANNELS = 8;
/** `$$`, `${$}`, `$PPID`, `${PPID}` in a command line. */
const OWN_PID = /\$(\$|\{\$\}|PPID\b|\{PPID\})/;

/** Long-lived remote shells per connection (each holds one channel slot); see shell.ts. */
const MAX_SHELLS = 2;
/** ssh-level keepalive: a vanished host fails its runs within about a minute. */
const KEEPALIVE_MS = 15_000;
const KEEPALIVE_MAX = 4;
/**
 * What sshd answers at MaxSessions: OpenSSH sends SSH2_OPEN_CONNECT_FAILED
 * (2) "open failed" for a session it cannot open; others may send
 * ADMINISTRATIVELY_PROHIBITED (1).
 */
const SESSION_REFUSED = new Set<unknown>([1, 2]);
/** How long a refused channel open is retried while other channels finish. */
const CHANNEL_RETRY_MS = 10_000;

/** A connect failure: the message for the user, and whether trying again could help. */
class ConnectFailure extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

/** A FIFO counting semaphore: channels are handed out in the order asked for. */
class Slots {
  private waiting: (() => void)[] = [];
  constructor(private free: number) {}
  /** A slot now, or false when none is free. */
  tryAcquire(): boolean {
    if (this.free === 0) return false;
    this.free--;
    return true;
  }
  acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}

const seconds = (ms: number) => `${Number((ms / 1000).toFixed(1))} s`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A Connection over SSH (ssh2), opened once per host and reused for every
 * command, upload and download of the run. Errors reaching the host, and a
 * connection lost later, are `UnreachableError`s.
 *
 * @example
 * const conn = await SshConnection.open({
 *   host: "tnode1", address: "10.88.0.11", user: "root",
 *   keyFiles: ["/root/.ssh/id_ed25519"], knownHostsFiles: ["/root/.ssh/known_hosts"],
 * });
 * const { stdout } = await conn.run("uname -r");
 * await conn.close();
 */
export class SshConnection extends PosixConnection {
  readonly host: string;
  readonly loginUser: string;
  /** Milliseconds `open` took, retries included (for timing reports). */
  connectMs = 0;

  private readonly slots: Slots;
  /** Set once the connection is gone; every later call rejects with it. */
  private lost: UnreachableError | undefined;
  private lastError: string | undefined;
  private closing = false;
  private readonly inFlight = new Set<(err: UnreachableError) => void>();
  private readonly shells: RemoteShell[] = [];
  private shellsOpening = 0;

  private constructor(
    private readonly client: InstanceType<typeof Client>,
    readonly target: SshTarget,
    private readonly ownedJump: SshConnection | undefined,
  ) {
    super();
    this.host = target.host;
    this.loginUser = target.user ?? userInfo().username;
    this.slots = new Slots(target.maxChannels ?? DEFAULT_CHANNELS);
    client.on("error", (err: Error) => (this.lastError = err.message));
    client.on("close", () => this.markLost(this.closing ? "connection closed" : `connection lost${this.lastError ? ` (${this.lastError})` : ""}`));
  }

  /**
   * Connects and authenticates, retrying a refused or timed out connection
   * with backoff (0.25 s, 0.5 s, 1 s ...).
   *
   * @throws UnreachableError with the reason: "connection refused",
   *   "timed out after 10 s", "authentication failed for root (tried key
   *   /root/.ssh/id_ed25519)", "host key mismatch ...", "host key unknown ...".
   * @example const conn = await SshConnection.open({ host: "tnode1", address: "10.88.0.11", knownHostsFiles: [kh] });
   */
  static async open(target: SshTarget): Promise<SshConnection> {
    const started = Date.now();
    const retries = target.retries ?? DEFAULT_RETRIES;
    for (let attempt = 0; ; attempt++) {
      try {
        const conn = await SshConnection.connectOnce(target);
        conn.connectMs = Date.now() - started;
        return conn;
      } catch (err) {
        if (err instanceof UnreachableError) throw err; // the jump host's failure: already worded and retried
        if (!(err instanceof ConnectFailure)) throw err;
        if (!err.retryable || attempt >= retries) {
          const tries = attempt > 0 ? ` (${attempt + 1} attempts)` : "";
          throw new UnreachableError(target.host, err.message + tries);
        }
        const waitMs = 250 * 2 ** attempt;
        target.onRetry?.({ host: target.host, reason: err.message, attempt: attempt + 2, attempts: retries + 1, waitMs });
        await sleep(waitMs);
      }
    }
  }

  protected async exec(line: string, opts: RawExecOptions): Promise<RawResult> {
    if (this.lost) throw this.lost;
    if (opts.stdin === undefined) {
      const shell = await this.idleShell();
      // A command that names its own shell's pid ($$, $PPID: temp names,
      // `kill $$`) gets a shell of its own, as on an exec channel; in the
      // subshell they would name the long-lived shell.
      if (shell) return shell.run(OWN_PID.test(line) ? `exec /bin/sh -c ${shq(line)}` : line, opts.deadlineMs, opts);
    }
    await this.slots.acquire();
    try {
      if (this.lost) throw this.lost;
      // An exec channel hands the line to the login shell (bash for root on
      // Debian): make it /bin/sh, as the contract says. (The long-lived shell
      // above is /bin/sh already: wrapping there cost an execve of sh per
      // command, ~0.7 ms of the host's CPU.)
      return await this.channel(`exec /bin/sh -c ${shq(line)}`, opts);
    } finally {
      this.slots.release();
    }
  }

  /**
   * A remote shell free to run a command: an idle one, or a new one while
   * fewer than MAX_SHELLS are open and a channel slot is free; otherwise
   * undefined, and the command takes an exec channel of its own.
   */
  private async idleShell(): Promise<RemoteShell | undefined> {
    const idle = this.shells.find((s) => s.claim());
    if (idle) return idle;
    // Counted while they open, so concurrent callers do not open more.
    if (this.shells.length + this.shellsOpening >= MAX_SHELLS || !this.slots.tryAcquire()) return undefined;
    this.shellsOpening++;
    let ch: ClientChannel;
    try {
      ch = await new Promise<ClientChannel>((resolve, reject) => {
        try {
          this.client.exec("exec /bin/sh", (err, c) => (err ? reject(err) : resolve(c)));
        } catch (err) {
          reject(err);
        }
      });
    } catch {
      // Refused (MaxSessions) or the connection is going: the exec path copes and reports.
      this.slots.release();
      return undefined;
    } finally {
      this.shellsOpening--;
    }
    const shell = new RemoteShell(ch, () => this.lost, () => {
      this.shells.splice(this.shells.indexOf(shell), 1);
      this.slots.release();
    });
    this.shells.push(shell);
    shell.claim();
    return shell;
  }

  private channel(line: string, opts: RawExecOptions): Promise<RawResult> {
    return new Promise<RawResult>((resolve, reject) => {
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      let code: number | undefined;
      let signal: string | undefined;
      let deadline: NodeJS.Timeout | undefined;
      let settled = false;
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        this.inFlight.delete(onLost);
        fn();
      };
      const result = (status: number): RawResult => {
        const r: RawResult = { code: status, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr) };
        if (signal !== undefined) r.signal = signal;
        return r;
      };
      const onLost = (err: UnreachableError) => finish(() => reject(err));
      this.inFlight.add(onLost);

      let refusals = 0;
      const firstTry = Date.now();
      const started = (err: (Error & { reason?: number | string }) | undefined, ch: ClientChannel) => {
        if (err) {
          // sshd frees a session only after it has processed our CLOSE and
          // garbage-collected the channel; a new OPEN in the same read can
          // find the old session still counted against MaxSessions ("no more
          // sessions"). That is transient: try again shortly.
          if (!this.lost && !settled && SESSION_REFUSED.has(err.reason) && Date.now() - firstTry < CHANNEL_RETRY_MS) {
            setTimeout(open, Math.min(2 * 2 ** refusals++, 100));
            return;
          }
          return finish(() => reject(this.lost ?? new UnreachableError(this.host, `cannot open an exec channel: ${err.message}`)));
        }
        if (settled) return ch.close();
        ch.on("data", (d: Buffer) => {
          stdout.push(d);
          opts.onStdout?.(d);
        });
        ch.stderr.on("data", (d: Buffer) => {
          stderr.push(d);
          opts.onStderr?.(d);
        });
        ch.on("exit", (status: number | null, sig?: string) => {
          if (typeof status === "number") code = status;
          else if (sig) signal = sig.replace(/^SIG/, "");
        });
        ch.on("error", () => {}); // a write after the remote side closed: the exit status tells the story
        ch.on("close", () => {
          // A channel closed without an exit status is one the connection
          // took down with it; the client's close handler may run just after.
          setImmediate(() =>
            finish(() => {
              if (code === undefined && signal === undefined && this.lost) reject(this.lost);
              else resolve(result(code ?? (signal ? signalStatus(signal) : 255)));
            }),
          );
        });
        if (opts.deadlineMs !== undefined) {
          deadline = setTimeout(() => {
            ch.signal("KILL");
            ch.close();
            finish(() => resolve(result(124)));
          }, opts.deadlineMs);
        }
        if (opts.stdin !== undefined && opts.stdin.length > 0) ch.end(opts.stdin);
        else ch.end();
      };
      const open = () => {
        if (settled) return;
        try {
          this.client.exec(line, started);
        } catch (err) {
          finish(() => reject(this.lost ?? new UnreachableError(this.host, `connection lost (${(err as Error).message})`)));
        }
      };
      open();
    });
  }

  /**
   * Opens a TCP stream from this host to `address:port` (direct-tcpip), for
   * connecting to a host behind it (ProxyJump).
   *
   * @example const sock = await bastion.forward("10.0.0.5", 22);
   */
  forward(address: string, port: number, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Duplex> {
    if (this.lost) return Promise.reject(this.lost);
    return new Promise((resolve, reject) => {
      let late = false;
      const timer = setTimeout(() => {
        late = true;
        reject(new ConnectFailure(`timed out after ${seconds(timeoutMs)} (via ${this.host})`, true));
      }, timeoutMs);
      try {
        this.client.forwardOut("127.0.0.1", 0, address, port, (err, stream) => {
          clearTimeout(timer);
          if (late) stream?.destroy(); // nobody is waiting for it any more
          else if (err) {
            const refused = /refused/i.test(err.message);
            reject(new ConnectFailure(`${refused ? "connection refused" : err.message} (via ${this.host})`, true));
          } else resolve(stream);
        });
      } catch (err) {
        clearTimeout(timer);
        reject(this.lost ?? new ConnectFailure(`${(err as Error).message} (via ${this.host})`, true));
      }
    });
  }

  /** Whether the connection is still usable. */
  get alive(): boolean {
    return this.lost === undefined;
  }

  /**
   * Ends the connection (and a jump connection opened for it). Commands
   * still running are rejected.
   *
   * @example await conn.close();
   */
  async close(): Promise<void> {
    if (!this.lost) {
      this.closing = true;
      const closed = new Promise<void>((resolve) => {
        this.client.once("close", () => resolve());
        setTimeout(resolve, 2000).unref();
      });
      this.client.end();
      await closed;
      this.markLost("connection closed");
    }
    await this.ownedJump?.close();
  }

  private markLost(reason: string): void {
    if (this.lost) return;
    this.lost = new UnreachableError(this.host, reason);
    for (const fail of [...this.inFlight]) fail(this.lost);
    // A jump connection opened for this host alone has nothing left to do.
    if (this.ownedJump && !this.closing) void this.ownedJump.close();
  }

  /** One attempt: socket (direct or through the jump host), handshake, host key, auth. */
  private static async connectOnce(target: SshTarget): Promise<SshConnection> {
    const port = target.port ?? 22;
    const timeoutMs = target.connectTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    const user = target.user ?? userInfo().username;

    // Everything local is prepared before the socket opens: a missing key
    // file is a clear error, not a half-open connection.
    const auth = authMethods(target, user);
    const names = [...new Set([knownHostName(target.address, port), knownHostName(target.host, port)])];
    let entries: KnownHostEntry[];
    try {
      entries = loadKnownHosts(target.knownHostsFiles);
    } catch (err) {
      throw new ConnectFailure(`cannot read known_hosts: ${(err as Error).message}`, false);
    }
    const recorded = hostEntries(entries, names);

    let ownedJump: SshConnection | undefined;
    let sock: Duplex;
    if (target.jump) {
      let jump: SshConnection;
      try {
        jump = target.jump instanceof SshConnection ? target.jump : await SshConnection.open(target.jump);
      } catch (err) {
        // Reported against this host: it is the one that cannot be reached.
        if (err instanceof UnreachableError) throw new UnreachableError(target.host, `jump host ${err.message}`);
        throw err;
      }
      if (!(target.jump instanceof SshConnection)) ownedJump = jump;
      try {
        sock = await jump.forward(target.address, port, timeoutMs);
      } catch (err) {
        await ownedJump?.close();
        throw err;
      }
    } else if (target.proxyCommand) {
      sock = proxyCommandSocket(target, port, user);
    } else {
      sock = await tcpConnect(target.address, port, timeoutMs);
    }

    const client = new Client();
    let hostKeyProblem: string | undefined;
    const config: ConnectConfig = {
      sock,
      username: user,
      readyTimeout: timeoutMs,
      keepaliveInterval: target.keepaliveMs ?? KEEPALIVE_MS,
      keepaliveCountMax: target.keepaliveCountMax ?? KEEPALIVE_MAX,
      hostVerifier: (key: Buffer) => {
        hostKeyProblem = verifyHostKey(target, names, entries, key);
        return hostKeyProblem === undefined;
      },
      authHandler: auth.handler,
    };
    const algorithms = preferredHostKeyAlgorithms(recorded);
    if (algorithms) config.algorithms = { serverHostKey: algorithms as NonNullable<ConnectConfig["algorithms"]>["serverHostKey"] };

    // ssh2 may emit more than one error while failing; none may go unheard.
    client.on("error", () => {});
    try {
      await new Promise<void>((resolve, reject) => {
        let settled = false;
        const fail = (err: Error & { level?: string; code?: string }) => {
          if (settled) return;
          settled = true;
          sock.destroy();
          if (hostKeyProblem) return reject(new ConnectFailure(hostKeyProblem, false));
          if (err.level === "client-authentication") {
            return reject(new ConnectFailure(`authentication failed for ${user} (${auth.describe()})`, false));
          }
          if (err.level === "client-timeout") return reject(new ConnectFailure(`timed out after ${seconds(timeoutMs)} during the SSH handshake`, true));
          if (err.level === "client-socket") return reject(new ConnectFailure(`connection lost during the SSH handshake (${err.message})`, true));
          reject(new ConnectFailure(`SSH handshake failed: ${err.message}`, false));
        };
        client.once("ready", () => {
          if (settled) return;
          settled = true;
          client.removeListener("error", fail);
          resolve();
        });
        client.on("error", fail);
        client.once("close", () => fail(Object.assign(new Error("the server closed the connection"), { level: "client-socket" })));
        client.connect(config);
      });
    } catch (err) {
      await ownedJump?.close();
      throw err;
    }
    return new SshConnection(client, target, ownedJump);
  }
}

/** A TCP connection with its own timeout, so refused, unreachable and timed out read differently. */
/**
 * ssh2 writes every SSH packet with its own `write()`: a command's channel
 * packets, or many hosts' worth in one tick, each a syscall. Corking the
 * socket until the end of the tick sends what one tick wrote in one
 * `writev`, with no added latency (Nagle stays off).
 */
function coalesceWrites(sock: net.Socket): net.Socket {
  const write = sock.write.bind(sock) as (...args: unknown[]) => boolean;
  let corked = false;
  const uncork = () => {
    corked = false;
    sock.uncork();
  };
  sock.write = ((...args: unknown[]) => {
    if (!corked) {
      corked = true;
      sock.cork();
      process.nextTick(uncork);
    }
    return write(...args);
  }) as typeof sock.write;
  return sock;
}

/**
 * The connection through a ProxyCommand: the command's stdout is what the
 * server sends, its stdin what we send. Its stderr is kept for the message
 * when the handshake fails; the command is killed with the socket.
 */
function proxyCommandSocket(target: SshTarget, port: number, user: string): Duplex {
  const tokens: Record<string, string> = { "%": "%", h: target.address, p: String(port), r: user, n: target.host };
  const command = target.proxyCommand!.replace(/%(.)/g, (m, t: string) => tokens[t] ?? m);
  const child = spawn("/bin/sh", ["-c", command], { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString("utf8")).slice(-2000)));
  const sock = new Duplex({
    read() {
      child.stdout.resume();
    },
    write(chunk: Buffer, _enc, done) {
      // A command that exited cannot take more; its exit (below) says why.
      if (!child.stdin.writable) return done();
      child.stdin.write(chunk, () => done());
    },
    final(done) {
      child.stdin.end();
      done();
    },
    destroy(err, done) {
      child.kill();
      done(err);
    },
  });
  child.stdout.on("data", (d: Buffer) => {
    if (!sock.push(d)) child.stdout.pause();
  });
  child.stdin.on("error", () => undefined);
  child.on("error", (err) => sock.destroy(new Error(`ProxyCommand ${JSON.stringify(command)}: ${err.message}`)));
  // The end of the stream is told once the command is gone, with its reason when it failed.
  child.on("close", (code, signal) => {
    const why = stderr.trim() ? `: ${stderr.trim().replace(/\s*\n\s*/g, "; ")}` : "";
    if (code === 0 || sock.destroyed) sock.push(null);
    else sock.destroy(new Error(`ProxyCommand ${JSON.stringify(command)} exited with ${signal ?? code}${why}`));
  });
  return sock;
}

function tcpConnect(address: string, port: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: address, port, noDelay: true });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new ConnectFailure(`timed out after ${seconds(timeoutMs)}`, true));
    }, timeoutMs);
    sock.once("connect", () => {
      clearTimeout(timer);
      sock.removeAllListeners("error");
      resolve(coalesceWrites(sock));
    });
    sock.once("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      sock.destroy();
      const where = `${address}:${port}`;
      switch (err.code) {
        case "ECONNREFUSED":
          return reject(new ConnectFailure(`connection refused (${where})`, true));
        case "EHOSTUNREACH":
        case "ENETUNREACH":
          return reject(new ConnectFailure(`no route to host (${where})`, true));
        case "ETIMEDOUT":
          return reject(new ConnectFailure(`timed out (${where})`, true));
        case "ENOTFOUND":
        case "EAI_AGAIN":
          return reject(new ConnectFailure(`cannot resolve ${address}`, err.code === "EAI_AGAIN"));
        default:
          return reject(new ConnectFailure(`cannot connect to ${where}: ${err.message}`, true));
      }
    });
  });
}

/**
 * The host key verdict, as a refusal message or undefined when accepted
 * (recording a new key first when the target allows it).
 */
function verifyHostKey(target: SshTarget, names: string[], entries: KnownHostEntry[], key: Buffer): string | undefined {
  const verdict = checkHostKey(entries, names, key);
  const got = describeKey(key);
  const files = target.knownHostsFiles;
  switch (verdict.status) {
    case "ok":
      return undefined;
    case "changed":
      if (target.checkHostKeys !== false) return changedKey(names, verdict.expected, got);
      return undefined;
    case "revoked":
      return `host key REVOKED: ${got} is marked @revoked in ${verdict.entry.file}:${verdict.entry.line}; refusing to connect`;
    case "unknown": {
      const first = files[0];
      if ((target.acceptNewHostKeys || target.checkHostKeys === false) && first) {
        // Record the inventory name too (when it differs), as the lab's files do.
        const record = [...new Set([knownHostName(target.address, target.port ?? 22), knownHostName(target.host, target.port ?? 22)])];
        try {
          appendKnownHost(first, record, key);
        } catch (err) {
          if (target.checkHostKeys === false) return undefined; // recording is a courtesy then, as in OpenSSH
          return `host key unknown (${got}) and it cannot be recorded in ${first}: ${(err as Error).message}`;
        }
        return undefined;
      }
      if (target.checkHostKeys === false) return undefined;
      return (
        `host key unknown: ${names.join(" / ")} presented ${got}, which is not in ${files.length ? files.join(", ") : "any known_hosts file"}. ` +
        `Check the fingerprint, then rerun with --accept-new-host-keys to record it${first ? ` in ${first}` : ""}`
      );
    }
  }
}

function changedKey(names: string[], expected: KnownHostEntry[], got: string): string {
  const was = expected.map((e) => `${describeKey(e.key)} (${e.file}:${e.line})`).join(", ");
  const fix = expected.map((e) => `ssh-keygen -R ${shq(names[0]!)} -f ${shq(e.file)}`);
  return (
    `host key mismatch for ${names.join(" / ")}: expected ${was}, got ${got}. ` +
    `The host was reinstalled or someone is intercepting the connection. ` +
    `If the change is expected, remove the old key with \`${[...new Set(fix)].join("; ")}\` and connect again`
  );
}

/** Default identities, as OpenSSH tries them when none is configured. */
function defaultKeyFiles(): string[] {
  return ["id_ed25519", "id_ecdsa", "id_rsa"].map((f) => `${homedir()}/.ssh/${f}`);
}

interface AuthPlan {
  handler: (methodsLeft: AuthenticationType[] | null, partial: boolean | null, next: NextAuthHandler) => void;
  /** What was tried (and skipped), for the failure message. */
  describe(): string;
}

/**
 * The auth attempts, in order: key files, agent, password. Skipping the
 * `none` probe ssh2 would start with saves a round trip per connection.
 */
function authMethods(target: SshTarget, username: string): AuthPlan {
  const attempts: { label: string; method: AnyAuthMethod; needs: AuthenticationType }[] = [];
  const skipped: string[] = [];
  const explicit = target.keyFiles !== undefined;
  for (const file of target.keyFiles ?? defaultKeyFiles()) {
    let data: Buffer;
    try {
      data = readFileSync(file);
    } catch (err) {
      if (explicit) skipped.push(`key ${file} unreadable: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      continue;
    }
    const parsed = utils.parseKey(data, target.passphrase);
    const key = Array.isArray(parsed) ? (parsed[0] as ParsedKey | undefined) : parsed;
    if (key === undefined || key instanceof Error) {
      const why = key instanceof Error ? key.message : "no key in the file";
      skipped.push(/encrypted/i.test(why) && !target.passphrase ? `key ${file} skipped: encrypted and no passphrase given` : `key ${file} skipped: ${why}`);
      continue;
    }
    attempts.push({ label: `key ${file}`, method: { type: "publickey", username, key }, needs: "publickey" });
  }
  const agent = target.agent ?? process.env.SSH_AUTH_SOCK;
  if (agent) attempts.push({ label: `agent ${agent}`, method: { type: "agent", username, agent }, needs: "publickey" });
  if (target.password !== undefined) {
    attempts.push({ label: "password", method: { type: "password", username, password: target.password }, needs: "password" });
  }
  const tried: string[] = [];
  return {
    handler(methodsLeft, _partial, next) {
      for (;;) {
        const a = attempts.shift();
        if (!a) return (next as unknown as (m: false) => void)(false); // ssh2 takes false for "no more methods"; its types miss it
        if (methodsLeft && !methodsLeft.includes(a.needs)) {
          skipped.push(`${a.label} not offered: the server accepts ${methodsLeft.join(", ")}`);
          continue;
        }
        tried.push(a.label);
        return next(a.method);
      }
    },
    describe() {
      const parts = [tried.length ? `tried ${tried.join(", ")}` : "no key, agent or password to try", ...skipped];
      return parts.join("; ");
    },
  };
}
