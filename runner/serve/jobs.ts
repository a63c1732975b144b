/**
 * Jobs: every playbook under the playbooks directory is a job, its prompts
 * the job's options. A playbook is loaded (imported) when its page is
 * asked for and kept while its file's mtime and size do not change.
 */
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import type { Prompt } from "../playbook.ts";
import { loadPlaybook } from "../run.ts";

export interface Job {
  /** Path relative to the playbooks directory, without `.ts` (`site`, `net/frr`). */
  name: string;
  /** The playbook file as `startRun` gets it (relative to the server's directory). */
  file: string;
}

export interface JobDetail extends Job {
  title: string;
  plays: { name: string; hosts: string }[];
  /** The playbook's prompts (first of each name), `required` when it has no default. */
  prompts: (Prompt & { required: boolean })[];
  error?: string;
}

const PLAYBOOK = /\.(ts|mts|js|mjs)$/;

export class Jobs {
  readonly #cache = new Map<string, { stamp: string; detail: JobDetail }>();
  constructor(readonly dir: string) {}

  list(): Job[] {
    const out: Job[] = [];
    const walk = (d: string) => {
      let entries;
      try {
        entries = readdirSync(d, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
        if (e.name.startsWith(".") || e.name === "node_modules") continue;
        const p = join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (PLAYBOOK.test(e.name) && !e.name.endsWith(".d.ts")) out.push({ name: relative(this.dir, p).replace(PLAYBOOK, ""), file: p });
      }
    };
    walk(this.dir);
    return out;
  }

  /** A job by name, with its plays and prompts (or the error loading it gave). */
  async get(name: string): Promise<JobDetail | undefined> {
    const job = this.list().find((j) => j.name === name);
    if (!job) return undefined;
    const st = statSync(job.file);
    const stamp = `${st.mtimeMs}:${st.size}`;
    const cached = this.#cache.get(name);
    if (cached?.stamp === stamp) return cached.detail;
    let detail: JobDetail;
    try {
      const pb = await loadPlaybook(job.file);
      const prompts = new Map<string, Prompt>();
      for (const p of pb.plays) for (const q of p.prompts ?? []) if (!prompts.has(q.name)) prompts.set(q.name, q);
      detail = { ...job, title: pb.name, plays: pb.plays.map((p) => ({ name: p.name, hosts: p.hosts })), prompts: [...prompts.values()].map((p) => ({ ...p, required: p.default === undefined })) };
    } catch (err) {
      detail = { ...job, title: job.name, plays: [], prompts: [], error: (err as Error).message };
    }
    this.#cache.set(name, { stamp, detail });
    return detail;
  }
}
