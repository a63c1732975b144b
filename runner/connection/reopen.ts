/**
 * A connection that can be opened again: what the runner hands to tasks, so
 * a reboot can drop the SSH session and wait for the host to come back
 * (tasks/reboot.ts) while every other task keeps one connection per host.
 */
import type { Connection, PutOptions, RunOptions, RunResult } from "./types.ts";

export class ReopeningConnection implements Connection {
  #inner: Connection;

  private constructor(
    readonly host: string,
    private readonly open: () => Promise<Connection>,
    inner: Connection,
  ) {
    this.#inner = inner;
  }

  static async open(host: string, open: () => Promise<Connection>): Promise<ReopeningConnection> {
    return new ReopeningConnection(host, open, await open());
  }

  run(command: string, opts?: RunOptions): Promise<RunResult> {
    return this.#inner.run(command, opts);
  }
  put(path: string, content: string | Buffer, opts?: PutOptions): Promise<void> {
    return this.#inner.put(path, content, opts);
  }
  get(path: string, opts?: Parameters<Connection["get"]>[1]): Promise<Buffer> {
    return this.#inner.get(path, opts);
  }

  /** Drops the current connection and opens a new one to the same target. */
  async reconnect(): Promise<void> {
    await this.#inner.close().catch(() => undefined);
    this.#inner = await this.open();
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
