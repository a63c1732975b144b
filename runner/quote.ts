/**
 * POSIX shell quoting for remote command lines. zx's quote() emits bash
 * `$'...'` strings that dash (Debian's /bin/sh) does not understand, so
 * remote commands use plain single quotes: every byte is literal inside
 * them, and an embedded `'` becomes `'\''`.
 */

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Quotes one argument for POSIX sh; safe words are left bare for readability. */
export function shq(arg: string): string {
  if (arg !== "" && SAFE.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Quotes and joins an argv into one POSIX sh command line. */
export function shjoin(argv: readonly string[]): string {
  return argv.map(shq).join(" ");
}
