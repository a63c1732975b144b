/**
 * The start-up benchmark's playbook: facts and one task, on a host the
 * bench playbook already converged (so the task is a no-op, `ok=1`).
 */
import { play, playbook } from "../../runner/index.ts";

export default playbook("bench: one task", [
  play({
    name: "one task",
    hosts: "lab",
    async tasks(h) {
      await h.file({ path: "/opt/cluster", state: "directory", owner: "root", group: "root", mode: "0755" });
    },
  }),
]);
