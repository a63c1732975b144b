/**
 * Signed webhooks: a job started by a POST whose body is signed with the
 * hook's secret, as GitHub signs its deliveries (X-Hub-Signature-256), with
 * a timestamp inside the signature so a delivery cannot be replayed later.
 *
 *   X-Runbook-Timestamp: 1764930000            (Unix seconds)
 *   X-Runbook-Signature-256: sha256=HEX        HMAC-SHA256(secret, "1764930000." + body)
 *
 * A delivery more than 5 minutes from the server's clock is refused, and
 * one whose signature was already accepted within that window too.
 *
 * No hook secret is stored: each is HMAC(server key, hook id), the server
 * key being 32 random bytes in `<state>/webhook.key` (mode 0600, made on
 * first use). The secret is shown once when the hook is made; the database
 * holds the hook's id, job and options only.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { InputError } from "../errors.ts";

export const SIGNATURE_HEADER = "X-Runbook-Signature-256";
export const TIMESTAMP_HEADER = "X-Runbook-Timestamp";
/** How far a delivery's timestamp may be from the server's clock. */
export const WINDOW_S = 300;

/** The hooks' secrets, derived from the server key (never stored). */
export class HookKeys {
  readonly #key: Buffer;
  constructor(stateDir: string) {
    const file = join(stateDir, "webhook.key");
    if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString("hex") + "\n", { mode: 0o600, flag: "wx" });
    const mode = statSync(file).mode & 0o777;
    if (mode & 0o077) throw new InputError(`${file} is readable by others (mode ${mode.toString(8)}); chmod 600 it`);
    this.#key = Buffer.from(readFileSync(file, "utf8").trim(), "hex");
    if (this.#key.length < 32) throw new InputError(`${file}: not a webhook key (64 hex digits)`);
  }

  secret(hookId: string): string {
    return `rbh_${createHmac("sha256", this.#key).update(`hook:${hookId}`).digest("hex")}`;
  }
}

/** The signature header's value for a body sent at `timestamp` (Unix seconds). */
export function signDelivery(secret: string, timestamp: string, body: Uint8Array | string): string {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.`).update(body).digest("hex")}`;
}

/** Signatures accepted within the window: the same delivery twice is a replay. */
export class Deliveries {
  readonly #seen = new Map<string, number>();

  /**
   * Why a delivery is refused, or undefined when its signature is the
   * hook's over this body and time, the time within the window, and it was
   * not accepted before (it is then remembered).
   */
  check(secret: string, timestamp: string | undefined, signature: string | undefined, body: Uint8Array, now = Date.now()): string | undefined {
    if (!timestamp || !/^\d{1,12}$/.test(timestamp)) return `no ${TIMESTAMP_HEADER} header (Unix seconds)`;
    if (!signature) return `no ${SIGNATURE_HEADER} header`;
    const want = Buffer.from(signDelivery(secret, timestamp, body));
    const got = Buffer.from(signature);
    if (got.length !== want.length || !timingSafeEqual(got, want)) return "bad signature";
    if (Math.abs(now / 1000 - Number(timestamp)) > WINDOW_S) return `timestamp more than ${WINDOW_S} s from the server's clock`;
    for (const [sig, until] of this.#seen) if (until < now) this.#seen.delete(sig);
    if (this.#seen.has(signature)) return "this delivery was already accepted (replay)";
    this.#seen.set(signature, now + 2 * WINDOW_S * 1000);
    return undefined;
  }
}
