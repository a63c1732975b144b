/**
 * Errors the CLI expects. Anything else that escapes is a bug: the CLI prints
 * it as an internal error and asks the user to report it.
 */

/**
 * Exit codes (docs/guide.md, "Exit codes"): as Ansible's for 0 ok, 1 usage
 * or input, 2 a host failed, 4 a host unreachable; 130 and 143 (128 + the
 * signal) for a run stopped by SIGINT or SIGTERM; 70 an internal error.
 */
export const EXIT = { ok: 0, input: 1, failed: 2, unreachable: 4, internal: 70, interrupted: 130, sigterm: 143 } as const;

/** An expected exit with a code and a message for the user (no stack trace). */
export class ExitError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = "ExitError";
  }
}

/** Where bad input came from: a file and line, a host, a role, a field. */
export interface InputLocation {
  file?: string;
  line?: number;
  host?: string;
  role?: string;
  field?: string;
}

/**
 * Bad input from the user (inventory, playbook, pattern, variables). The
 * message starts with its location, e.g. `inventory/hosts.yml:12: ...` or
 * `host tnode2, role ntp, field servers: ...`. Exit code 1; raised before any
 * host is touched.
 */
export class InputError extends ExitError {
  constructor(
    message: string,
    readonly where: InputLocation = {},
  ) {
    super(1, prefix(where) + message);
    this.name = "InputError";
  }
}

function prefix(w: InputLocation): string {
  if (w.file) return `${w.file}${w.line ? `:${w.line}` : ""}: `;
  const parts: string[] = [];
  if (w.host) parts.push(`host ${w.host}`);
  if (w.role) parts.push(`role ${w.role}`);
  if (w.field) parts.push(`field ${w.field}`);
  return parts.length ? `${parts.join(", ")}: ` : "";
}
