/**
 * Files on the runner's own machine that tasks read (templates, scripts) or
 * write (fetch): where a `src` points, and how to name it in messages.
 */
import { randomBytes } from "node:crypto";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname, isAbsolute, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * A local file given by a playbook or role: a path relative to the
 * playbook's directory, an absolute path, or a `file:` URL (how a role names
 * files beside itself: `new URL("./templates/ntp.conf.njk", import.meta.url)`).
 */
export type LocalSrc = string | URL;

/** The absolute path of a local `src`. */
export function localPath(baseDir: string, src: LocalSrc): string {
  if (src instanceof URL) {
    if (src.protocol !== "file:") throw new Error(`${src.href}: only file: URLs name local files`);
    return fileURLToPath(src);
  }
  return isAbsolute(src) ? src : resolve(baseDir, src);
}

/**
 * How messages name a local file: a relative `src` as the user wrote it,
 * anything else relative to the working directory when it lies below it.
 */
export function localName(src: LocalSrc, path: string): string {
  if (typeof src === "string" && !isAbsolute(src)) return src;
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : path;
}

/** Writes a local file atomically (temp file beside it, then rename), creating its directory. */
export async function writeLocalAtomic(path: string, content: Buffer): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.runbook-${randomBytes(6).toString("hex")}`;
  try {
    await writeFile(tmp, content, { flag: "wx" });
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
