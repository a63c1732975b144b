/**
 * `file`: a path's kind and attributes — directory, symlink, empty file,
 * or absent.
 *
 * @example
 *   await h.file({ path: "/opt/go", state: "directory", mode: "0755" });
 *   await h.file({ path: "/etc/localtime", state: "link", src: "/usr/share/zoneinfo/UTC" });
 *   await h.file({ path: "/etc/motd", state: "absent" });
 */
import { shq } from "../runner/quote.ts";
import { defineTask, type Plan } from "../runner/task.ts";
import { attrChanges, normMode, statPath } from "./stat.ts";

interface Attrs {
  path: string;
  mode?: string;
  owner?: string;
  group?: string;
}

export type FileParams =
  | (Attrs & { state: "directory"; /** Apply owner/group (and mode) to everything below too. */ recurse?: boolean })
  | (Attrs & { state: "file" })
  | (Attrs & { state: "touch" })
  | { path: string; state: "link"; src: string; force?: boolean }
  | { path: string; state: "absent" };

export const fileTask = defineTask<FileParams>({
  kind: "file",
  describe: (p) => `file ${p.path} (${p.state})`,
  async plan(ctx, p): Promise<Plan> {
    const state = await statPath(ctx, p.path);
    const path = shq(p.path);
    switch (p.state) {
      case "absent":
        if (state.type === "absent") return { changes: [], reason: `${p.path} is absent` };
        return { changes: [{ kind: "run", command: `rm -rf -- ${path}` }], reason: `remove ${p.path} (${state.type})` };
      case "link":
        if (state.type === "link" && state.target === p.src) return { changes: [], reason: `${p.path} links to ${p.src}` };
        if (state.type !== "absent" && state.type !== "link" && !p.force) {
          throw new Error(`${p.path} exists as a ${state.type}; set force: true to replace it with a link`);
        }
        return {
          changes: [{ kind: "run", command: `ln -sfn -- ${shq(p.src)} ${path}.runbook-link && mv -Tf -- ${path}.runbook-link ${path}` }],
          reason: state.type === "absent" ? `link ${p.path} -> ${p.src}` : `relink ${p.path} -> ${p.src} (was ${state.target ?? state.type})`,
        };
      case "directory":
      case "file":
      case "touch": {
        const mode = normMode(p.mode);
        const want = { mode, owner: p.owner, group: p.group };
        if (p.state === "file" && state.type === "absent") throw new Error(`${p.path} does not exist (state: file only sets attributes; use touch or copy)`);
        const wrongKind = p.state === "directory" ? state.type !== "directory" && state.type !== "absent" : state.type === "directory";
        if (wrongKind) throw new Error(`${p.path} exists as a ${state.type}, not a ${p.state === "directory" ? "directory" : "file"}`);
        if (state.type === "absent") {
          const create = p.state === "directory" ? `mkdir -p -- ${path}` : `: >> ${path}`;
          const attrs = attrChanges(p.path, { type: "absent" }, want).commands;
          return { changes: [{ kind: "run", command: [create, ...attrs].join(" && ") }], reason: `create ${p.state === "directory" ? "directory" : "file"} ${p.path}` };
        }
        const attrs = attrChanges(p.path, state, want);
        if (p.state === "directory" && p.recurse && (p.owner || p.group || mode)) {
          // Recursion checks every entry below in the same round trip.
          const owner = p.owner || p.group ? `${p.owner ?? ""}${p.group ? `:${p.group}` : ""}` : "";
          const checks = [
            p.owner && `find ${path} ! -user ${shq(p.owner)} -print -quit`,
            p.group && `find ${path} ! -group ${shq(p.group)} -print -quit`,
          ].filter(Boolean);
          const stray = checks.length ? (await ctx.probe(checks.join("; "))).stdout.trim() : "";
          if (stray) {
            return { changes: [{ kind: "run", command: `chown -R ${shq(owner)} -- ${path}` }], reason: `${p.path}: ownership below differs (${stray.split("\n")[0]})` };
          }
        }
        if (attrs.commands.length) return { changes: [{ kind: "run", command: attrs.commands.join(" && ") }], reason: `${p.path}: ${attrs.what.join(", ")}` };
        return { changes: [], reason: `${p.path} is a ${state.type} with matching attributes` };
      }
    }
  },
});
