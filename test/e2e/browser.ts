/**
 * A real headless browser for the web UI's tests: Debian's `chromium`,
 * installed with apt-get when missing (CI is root on a fresh Debian
 * machine), driven by puppeteer-core, which never downloads a browser of
 * its own.
 */
import { existsSync } from "node:fs";
import puppeteer, { type Browser } from "puppeteer-core";
import { run } from "../lab/sh.ts";

const CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser"];

/** The chromium binary, installing Debian's package first when there is none; null where that cannot be done. */
export async function ensureChromium(log: (line: string) => void = () => {}): Promise<string | null> {
  const found = () => CANDIDATES.find((c) => existsSync(c)) ?? null;
  if (found()) return found();
  if (process.getuid?.() !== 0) return null;
  const apt = await run("sh", ["-c", "command -v apt-get"], { allowFail: true });
  if (apt.code !== 0) return null;
  log("serve test: installing chromium with apt-get");
  await run("sh", ["-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core"]);
  return found();
}

export async function launch(executablePath: string): Promise<Browser> {
  return puppeteer.launch({
    executablePath,
    headless: true,
    // Root in CI: chromium's sandbox needs an unprivileged user.
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--font-render-hinting=none"],
    defaultViewport: { width: 1280, height: 900 },
  });
}
