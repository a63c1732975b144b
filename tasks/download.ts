/**
 * `download`: a file fetched from a URL, verified by sha256 when one is
 * given, written atomically with mode and owner.
 *
 * Where it is fetched (`via`):
 * - `"runner"` (default): the runner fetches it (Node's fetch) and uploads
 *   it with the same atomic put as `copy`. The host needs nothing (a minimal
 *   Slackware or Debian has neither curl nor wget) and no internet access:
 *   the usual case in a lab behind a management network. Hosts fetching the
 *   same URL with the same sha256 at the same time share one fetch. The
 *   fetch happens while planning (it reads, it changes no host), so check
 *   mode fetches too and can report a bad checksum before a real run.
 * - `"host"`: the host runs curl (or wget) into a temp file beside `dest`,
 *   checks the sha256 there and renames it in place: for large files the
 *   host can reach faster than the runner. In check mode nothing is fetched.
 *
 * Idempotence: with `sha256`, a `dest` that already has that checksum is
 * left alone without fetching; a different one is replaced. Without
 * `sha256`, an existing `dest` is left alone unless `force: true`, which
 * fetches and replaces it when the content differs (runner side) or always
 * (host side, where the content is unknown until fetched).
 *
 * @example
 *   await h.download({
 *     url: "https://dl.grafana.com/oss/release/grafana-11.1.0.linux-amd64.tar.gz",
 *     dest: "/opt/pkgs/grafana-11.1.0.tar.gz",
 *     sha256: "5f1a...e2", mode: "0644",
 *   });
 */
import { createHash } from "node:crypto";
import { posix } from "node:path";
import { shq } from "../runner/quote.ts";
import { defineTask, type Plan } from "../runner/task.ts";
import { planFile } from "./copy.ts";
import { attrChanges, normMode, statPath } from "./stat.ts";

export interface DownloadParams {
  /** http(s) URL. */
  url: string;
  /** Absolute path of the file on the host. */
  dest: string;
  /** Expected sha256 (hex): verified before anything is written, and the idempotence key. */
  sha256?: string;
  mode?: string;
  owner?: string;
  group?: string;
  /** Fetch on the runner (default) or on the host. */
  via?: "runner" | "host";
  /** Without sha256: fetch even when dest exists. */
  force?: boolean;
  /**
   * Extra request headers, runner side only (on the host they would be on
   * curl's command line). A token here stays out of output: it is never part
   * of a command, a reason or a diff.
   */
  headers?: Record<string, string>;
  /** Seconds the fetch may take (default 300); not the common `timeout` option, which bounds commands on the host. */
  fetchTimeout?: number;
}

const sha256hex = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** Fetches in progress, shared by hosts asking for the same URL and checksum at once. */
const inflight = new Map<string, Promise<Buffer>>();

/** Fetches `url` on the runner, checking the status and the checksum. */
export async function fetchUrl(url: string, opts: { sha256?: string; headers?: Record<string, string>; timeoutS?: number } = {}): Promise<Buffer> {
  const key = opts.sha256 && !opts.headers ? `${url}\0${opts.sha256}` : undefined;
  const existing = key ? inflight.get(key) : undefined;
  if (existing) return existing;
  const job = (async () => {
    let res: Response;
    try {
      res = await fetch(url, { headers: opts.headers, redirect: "follow", signal: AbortSignal.timeout((opts.timeoutS ?? 300) * 1000) });
    } catch (err) {
      const cause = (err as { cause?: { message?: string } }).cause?.message;
      throw new Error(`download ${url}: ${(err as Error).name === "TimeoutError" ? `no answer within ${opts.timeoutS ?? 300} s` : cause ?? (err as Error).message}`);
    }
    if (!res.ok) throw new Error(`download ${url}: HTTP ${res.status} ${res.statusText}`.trim());
    const body = Buffer.from(await res.arrayBuffer());
    if (opts.sha256) {
      const got = sha256hex(body);
      if (got !== opts.sha256) throw new Error(`download ${url}: sha256 mismatch (expected ${opts.sha256}, got ${got})`);
    }
    return body;
  })();
  if (key) {
    inflight.set(key, job);
    // Only while in flight: no cache outlives the fetch.
    void job.then(
      () => inflight.delete(key),
      () => inflight.delete(key),
    );
  }
  return job;
}

/** The host-side fetch: curl or wget into a temp file, checksum, attributes, rename. */
export function hostFetchScript(p: DownloadParams): string {
  const dest = shq(p.dest);
  const url = shq(p.url);
  const dir = shq(`${posix.dirname(p.dest)}/.runbook-dl.`);
  const mode = normMode(p.mode);
  const s = p.fetchTimeout ?? 300;
  return [
    `t=$(mktemp ${dir}XXXXXX) || exit 1`,
    `trap 'rm -f "$t"' EXIT`,
    `if command -v curl >/dev/null 2>&1; then curl -fsSL --max-time ${s} -o "$t" -- ${url} || exit 1`,
    `elif command -v wget >/dev/null 2>&1; then wget -q -T ${s} -O "$t" -- ${url} || exit 1`,
    `else echo 'neither curl nor wget on the host (use via: "runner")' >&2; exit 1; fi`,
    p.sha256 && `s=$(sha256sum < "$t"); [ "\${s%% *}" = ${shq(p.sha256)} ] || { echo "sha256 mismatch (got \${s%% *})" >&2; exit 1; }`,
    (p.owner || p.group) && `chown -- ${shq(`${p.owner ?? ""}${p.group ? `:${p.group}` : ""}`)} "$t" || exit 1`,
    `chmod ${mode ? mode.padStart(4, "0") : "0644"} "$t" || exit 1`,
    `mv -f -- "$t" ${dest} && trap - EXIT`,
  ]
    .filter(Boolean)
    .join("\n");
}

export const downloadTask = defineTask<DownloadParams>({
  kind: "download",
  describe: (p) => `download ${p.dest}`,
  async plan(ctx, p): Promise<Plan> {
    if (!/^https?:\/\//i.test(p.url)) throw new Error(`download: only http(s) URLs are supported, got ${JSON.stringify(p.url)}`);
    if (!p.dest.startsWith("/")) throw new Error(`download: dest must be an absolute path, got ${JSON.stringify(p.dest)}`);
    const sha = p.sha256?.toLowerCase();
    if (sha !== undefined && !/^[0-9a-f]{64}$/.test(sha)) throw new Error("download: sha256 must be 64 hex digits");
    const mode = normMode(p.mode);
    const state = await statPath(ctx, p.dest);
    if (state.type === "directory" || state.type === "other") throw new Error(`${p.dest} exists and is not a regular file (${state.type})`);
    const exists = state.type === "file";

    // Decide without fetching whenever the host's file already answers.
    if (exists && ((sha && state.sha256 === sha) || (!sha && !p.force))) {
      const attrs = attrChanges(p.dest, state, { mode, owner: p.owner, group: p.group });
      if (attrs.commands.length) return { changes: [{ kind: "run", command: attrs.commands.join(" && ") }], reason: `${p.dest}: ${attrs.what.join(", ")}` };
      return { changes: [], reason: sha ? `${p.dest} exists with sha256 ${sha.slice(0, 12)}…` : `${p.dest} exists (no sha256 given; force: true to fetch again)` };
    }

    if (p.via === "host") {
      if (p.headers && Object.keys(p.headers).length) throw new Error('download: headers need via: "runner" (on the host they would be on a command line)');
      const why = !exists ? "absent" : sha ? "checksum differs" : "force";
      return {
        changes: [{ kind: "run", command: hostFetchScript({ ...p, sha256: sha }), label: `fetch ${p.url} to ${p.dest} on the host` }],
        reason: `download ${p.url} to ${p.dest} on the host (${why})`,
      };
    }
    const body = await fetchUrl(p.url, { sha256: sha, headers: p.headers, timeoutS: p.fetchTimeout });
    const plan = await planFile(ctx, { dest: p.dest, mode: p.mode, owner: p.owner, group: p.group }, body, false);
    // Same content (force without sha256): planFile's own no-op or attribute fix.
    if (!plan.changes.some((c) => c.kind === "put")) return plan;
    const what = exists ? `replace ${p.dest} (content differs)` : `create ${p.dest}`;
    return { ...plan, reason: `download ${p.url}: ${what}, ${body.length} bytes, sha256 ${sha256hex(body).slice(0, 12)}…` };
  },
});
