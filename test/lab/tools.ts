/**
 * What the lab needs on the machine, installed on demand: a fresh machine
 * has neither debootstrap nor an SSH client, and the quick start promises
 * two commands, so the lab installs them itself (as root, with apt).
 */
import { run } from "./sh.ts";

/** Command -> the Debian package that provides it. */
const TOOLS: Record<string, string> = {
  debootstrap: "debootstrap",
  ip: "iproute2",
  "ssh-keygen": "openssh-client",
  ssh: "openssh-client",
  unshare: "util-linux",
  pivot_root: "util-linux",
  mount: "mount",
  ps: "procps",
};

export async function missingTools(tools: Record<string, string> = TOOLS): Promise<string[]> {
  const missing: string[] = [];
  for (const tool of Object.keys(tools)) {
    const found = await run("sh", ["-c", `command -v ${tool}`], { allowFail: true });
    if (found.code !== 0) missing.push(tool);
  }
  return missing;
}

/** Installs missing lab tools with apt when running as root; a no-op otherwise. */
export async function ensureLabTools(log: (line: string) => void = () => {}): Promise<void> {
  await ensureCommands(TOOLS, (line) => log(`lab: ${line}`));
}

/**
 * Installs the Debian packages of missing commands (command -> package)
 * with apt when running as root, as CI does; a no-op otherwise.
 *
 * @example await ensureCommands({ "ansible-inventory": "ansible-core" })
 */
export async function ensureCommands(tools: Record<string, string>, log: (line: string) => void = () => {}): Promise<void> {
  const missing = await missingTools(tools);
  if (missing.length === 0 || process.getuid?.() !== 0) return;
  const hasApt = await run("sh", ["-c", "command -v apt-get"], { allowFail: true });
  if (hasApt.code !== 0) return;
  const pkgs = [...new Set(missing.map((t) => tools[t]!))];
  log(`installing ${pkgs.join(", ")} with apt-get`);
  const env = "DEBIAN_FRONTEND=noninteractive";
  await run("sh", ["-c", `apt-get update -qq && ${env} apt-get install -y -qq --no-install-recommends ${pkgs.join(" ")}`]);
}
