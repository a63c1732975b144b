/**
 * Who may do what in the web UI: password hashes (scrypt from node:crypto),
 * sessions (a random id in an HttpOnly, SameSite=Strict cookie; the session
 * itself only in this process's memory, so a restart logs everyone out),
 * one CSRF token per session for every state-changing request, and a limit
 * on failed logins.
 */
import { createHash, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from "node:crypto";
import type { Role } from "./store.ts";

// scrypt's cost: N=2^15, r=8 (32 MiB, ~50-100 ms here); the parameters are
// stored with each hash so they can be raised later.
const SCRYPT = { N: 32768, r: 8, p: 1 };
const KEYLEN = 32;

function scryptAsync(password: string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(password, salt, keylen, { ...opts, maxmem: 128 * opts.N! * opts.r! * 2 }, (err, key) => (err ? reject(err) : resolve(key))));
}

/** `scrypt$N$r$p$salt$key` (salt and key base64). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, KEYLEN, SCRYPT);
  return ["scrypt", SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString("base64"), key.toString("base64")].join("$");
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [kind, n, r, p, salt, key] = stored.split("$");
  if (kind !== "scrypt" || !salt || !key) return false;
  const want = Buffer.from(key, "base64");
  const got = await scryptAsync(password, Buffer.from(salt, "base64"), want.length, { N: Number(n), r: Number(r), p: Number(p) });
  return timingSafeEqual(want, got);
}

export interface Session {
  id: string;
  user: string;
  role: Role;
  csrf: string;
  expires: number;
}

const token = () => randomBytes(32).toString("base64url");

/** Sessions by id, in memory; idle ones expire. */
export class Sessions {
  readonly #byId = new Map<string, Session>();
  constructor(readonly idleMs = 8 * 3600_000) {}

  create(user: string, role: Role): Session {
    const s: Session = { id: token(), user, role, csrf: token(), expires: Date.now() + this.idleMs };
    this.#byId.set(s.id, s);
    return s;
  }

  get(id: string | undefined): Session | undefined {
    if (!id) return undefined;
    const s = this.#byId.get(id);
    if (!s) return undefined;
    if (s.expires < Date.now()) {
      this.#byId.delete(id);
      return undefined;
    }
    s.expires = Date.now() + this.idleMs;
    return s;
  }

  delete(id: string | undefined): void {
    if (id) this.#byId.delete(id);
  }

  /** A user's role changed or the user was removed: their sessions follow. */
  updateUser(user: string, role: Role | undefined): void {
    for (const s of this.#byId.values()) {
      if (s.user !== user) continue;
      if (role) s.role = role;
      else this.#byId.delete(s.id);
    }
  }
}

/** Compares two tokens in constant time (false when either is missing). */
export function sameToken(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export { token as newToken };

/** What the store keeps of an API token: its SHA-256 (a token is random, 32 bytes: no salt or slow hash needed). */
export const tokenHash = (t: string): string => createHash("sha256").update(t).digest("hex");

/**
 * Failed logins per key (a client address, a user name) in a sliding
 * window: after `max` failures a key is refused until its oldest failure
 * leaves the window. Successful logins do not count.
 */
export class LoginLimiter {
  readonly #failures = new Map<string, number[]>();
  constructor(
    readonly max = 5,
    readonly windowMs = 15 * 60_000,
  ) {}

  /** Milliseconds until `key` may try again, or 0. */
  retryAfter(key: string, now = Date.now()): number {
    const recent = (this.#failures.get(key) ?? []).filter((t) => t > now - this.windowMs);
    this.#failures.set(key, recent);
    return recent.length >= this.max ? recent[0]! + this.windowMs - now : 0;
  }

  fail(key: string, now = Date.now()): void {
    const list = this.#failures.get(key) ?? [];
    list.push(now);
    this.#failures.set(key, list);
  }
}

/** What each role may do. */
export const CAN = {
  run: (role: Role) => role === "admin" || role === "operator",
  admin: (role: Role) => role === "admin",
};
