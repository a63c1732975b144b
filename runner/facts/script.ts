/**
 * Builds the one POSIX sh script that gathers every fact in one round trip.
 *
 * Written for dash and busybox sh: no bash-isms, and no Python, Perl or awk
 * on the host. Speed comes from spawning few processes: all files are read by
 * a single `grep -H ''` (each line comes back as `path:line`), existence
 * tests and command lookups are builtins, sysfs attributes are read with the
 * `read` builtin, and the remaining commands (uname, id, date, hostname, ip,
 * sed) run once each. Nothing in it can fail the whole: every command's
 * errors go to /dev/null and the script always exits 0.
 */
import { MARKER, type FactUnit, type ScriptFragment } from "./unit.ts";

/** Paths and command names are interpolated unquoted, so they must stay plain. */
const PLAIN = /^[A-Za-z0-9_./+-]+$/;

function plain(word: string): string {
  if (!PLAIN.test(word)) throw new Error(`facts: unsafe path or command name ${JSON.stringify(word)}`);
  return word;
}

/**
 * Combines units' needs into the facts script.
 *
 * @example
 * const script = buildFactsScript([osUnit, kernelUnit]);
 * // run it on the host as `sh -c SCRIPT` and feed stdout to splitRaw()
 */
export function buildFactsScript(units: readonly FactUnit<unknown>[]): string {
  const files: string[] = [];
  const alternatives: string[][] = [];
  const exists: string[] = [];
  const commands: string[] = [];
  const fragments: ScriptFragment[] = [];
  const addUnique = (list: string[], item: string) => {
    if (!list.includes(item)) list.push(plain(item));
  };
  for (const unit of units) {
    for (const f of unit.files ?? []) {
      if (typeof f === "string") addUnique(files, f);
      else if (!alternatives.some((a) => a.join(" ") === f.join(" "))) alternatives.push(f.map(plain));
    }
    for (const p of unit.exists ?? []) addUnique(exists, p);
    for (const c of unit.commands ?? []) addUnique(commands, c);
    for (const fragment of unit.fragments ?? []) {
      const known = fragments.find((f) => f.id === fragment.id);
      if (!known) fragments.push(fragment);
      else if (known !== fragment) throw new Error(`facts: two different script fragments named ${fragment.id}`);
    }
  }

  const alternativeVars = alternatives.map((_, i) => `$a${i}`);
  const allFiles = [...files, ...alternativeVars].join(" ");
  const lines = [
    // Braces: the whole script is parsed before it runs, so it also works fed
    // on stdin (sh -s), and stdin/stderr are redirected for every command.
    "{",
    "LC_ALL=C; export LC_ALL",
    // A non-root login's PATH often lacks the sbin directories (ip, ifconfig, installpkg).
    'PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin:/usr/local/bin:/usr/bin:/bin"; export PATH',
    `s() { printf '\\n${MARKER} %s\\n' "$1"; }`,
    "s begin",
    ...alternatives.map(
      (paths, i) => `a${i}=; for f in ${paths.join(" ")}; do if [ -r "$f" ]; then a${i}=$f; break; fi; done`,
    ),
    "s files",
    "if command -v grep >/dev/null 2>&1; then",
    `grep -sH '' ${allFiles}`,
    "else",
    `for f in ${allFiles}; do [ -r "$f" ] || continue; while IFS= read -r l || [ -n "$l" ]; do printf '%s:%s\\n' "$f" "$l"; done < "$f"; done`,
    "fi",
    "s exists",
    `for p in ${exists.join(" ")}; do [ -e "$p" ] && printf '%s\\n' "$p"; done`,
    "s commands",
    `for c in ${commands.join(" ")}; do command -v "$c"; done`,
    ...fragments.map((f) => f.script),
    "s end",
    "} </dev/null 2>/dev/null",
    "exit 0",
  ];
  return lines.join("\n") + "\n";
}
