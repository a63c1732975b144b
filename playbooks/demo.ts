/**
 * The quick start's demo: a small, real change on every lab host, with a
 * role, a handler, facts in a file's content and an idempotent command.
 * `npm run demo` plays it twice; the second run reports 0 changed.
 */
import { play, playbook, role, z } from "../runner/index.ts";

/** A message of the day, and a marker file whose write a handler reacts to. */
export const motd = role({
  name: "motd",
  params: {
    text: z.string().default("This host is managed by runbook. Local changes will be overwritten.\n"),
  },
  async run(h, p) {
    const stamp = h.handler("record the motd change", () =>
      h.command("date -u +%FT%TZ > /var/lib/runbook-demo/motd-changed", { title: "record the motd change time" }),
    );
    await h.file({ path: "/var/lib/runbook-demo", state: "directory", mode: "0755" });
    await h.copy({ dest: "/etc/motd", content: `${h.name}: ${p.text}`, mode: "0644" }, { notify: stamp });
  },
});

export default playbook("demo", [
  play({
    name: "demo: a small change on every lab host",
    hosts: "clusternode",
    roles: [motd()],
    async tasks(h) {
      await h.file({ path: "/opt/runbook-demo", state: "directory", mode: "0755" });
      const os = h.facts.os;
      await h.copy({
        dest: "/opt/runbook-demo/about.txt",
        content: `${h.name} runs ${os.prettyName} (${os.family}), kernel ${h.facts.kernel.release}, ${h.facts.cpu.count} CPU(s)\n`,
      });
      await h.command("date -u +%FT%TZ > /opt/runbook-demo/first-run", { creates: "/opt/runbook-demo/first-run" });
    },
  }),
]);
