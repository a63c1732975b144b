/**
 * Cross-host values as typed declarations (like handlers, never looked up
 * by string): a join token, an fsid, a keyring. Declared once at module
 * level; their values live in one run (see PlayCoordinator.shared).
 *
 * @example
 * const fsid = shared.string("ceph fsid");
 * const adminKey = shared.secret("client.admin keyring");
 * const monmap = shared<{ epoch: number; mons: string[] }>("monmap", { placeholder: () => ({ epoch: 0, mons: [] }) });
 */
import { Secret } from "./secret.ts";
import { markUnknown, unknownText } from "./unknown.ts";

export interface Shared<T> {
  readonly name: string;
  /** Registered with the run's redactor when made or read (a Secret always is). */
  readonly secret: boolean;
  /** What check mode gives for a value that does not exist yet. */
  placeholder(): T;
  /** Brand: the value's type. */
  readonly __shared?: (v: T) => T;
}

export interface SharedOptions<T> {
  /** The value is secret (masked everywhere once known). */
  secret?: boolean;
  /** Check mode's stand-in for a value that does not exist yet (marked so `isKnown` is false). */
  placeholder: (text: string) => T;
}

/** Declares a cross-host value of type T. */
export function shared<T>(name: string, opts: SharedOptions<T>): Shared<T> {
  return {
    name,
    secret: !!opts.secret,
    placeholder: () => {
      const v = opts.placeholder(unknownText(name));
      return v && typeof v === "object" && !(v instanceof Secret) ? markUnknown(v) : v;
    },
  };
}

/** A string every host shares (an fsid, a cluster address). */
shared.string = (name: string): Shared<string> => shared(name, { placeholder: (t) => t });

/** A secret every host shares (a keyring, a join token): a Secret, masked everywhere. */
shared.secret = (name: string): Shared<Secret> => shared(name, { secret: true, placeholder: (t) => new Secret(t) });
