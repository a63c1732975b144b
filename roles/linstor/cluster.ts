/**
 * The controller host's part of the linstor role: wait until the controller
 * answers, read its `-m` lists, plan ({@link planCluster}), and apply the
 * plan in its phases with the ONLINE wait between them. Written against a
 * small I/O interface so that the role drives it through its host
 * (`h.command`, `h.waitUntil`) and unit tests through canned `-m` output.
 */
import { EMPTY_STATE, notOnline, parseMachineReadable, planCluster, type ClusterPlan, type ClusterState, type DesiredCluster, type LsNode, type LsResourceGroup, type LsStoragePool, type LsVolumeGroup, type Step } from "./plan.ts";

/** What the cluster step needs from a host. */
export interface ControllerIo {
  /** `linstor -m ARGS...`'s JSON, or the client's error text (never throws for a client error). */
  list(args: string[]): Promise<string>;
  /** Runs one planned step (a task that changes something). */
  run(step: Step): Promise<void>;
  /**
   * Tries `check` until it returns true or the timeout passes (then throws
   * with what it last said). In check mode it may return after one unmet
   * try: the controller is still to be started.
   */
  waitUntil(title: string, check: () => Promise<true | string[]>, timeout: number): Promise<void>;
  log(text: string): void;
}

export interface ConvergeOptions {
  controller: string;
  controllerTimeout: number;
  onlineTimeout: number;
  /** Where a node's satellite logs (for the ONLINE wait's failure). */
  satelliteLog(node: string): string;
}

/** `linstor -m node list`, parsed; or the reason it is not an answer. */
async function nodeList(io: ControllerIo): Promise<LsNode[] | string> {
  try {
    return parseMachineReadable<LsNode>(await io.list(["node", "list"]), "node list");
  } catch (err) {
    return (err as Error).message;
  }
}

/** What the controller holds: its four lists (volume groups of the groups `want` names that exist). */
export async function readState(io: ControllerIo, want: DesiredCluster): Promise<ClusterState> {
  const list = async <T>(args: string[]) => parseMachineReadable<T>(await io.list(args), args.join(" "));
  const state: ClusterState = {
    nodes: await list<LsNode>(["node", "list"]),
    storagePools: await list<LsStoragePool>(["storage-pool", "list"]),
    resourceGroups: await list<LsResourceGroup>(["resource-group", "list"]),
    volumeGroups: {},
  };
  for (const g of want.resourceGroups) {
    if (state.resourceGroups.some((x) => x.name === g.name)) state.volumeGroups[g.name] = await list<LsVolumeGroup>(["volume-group", "list", g.name]);
  }
  return state;
}

/**
 * Brings the controller to `want`: returns the plan it applied, whose
 * `problems` the caller fails with (after the steps that could be taken).
 */
export async function convergeCluster(io: ControllerIo, want: DesiredCluster, o: ConvergeOptions): Promise<ClusterPlan> {
  let answered = false;
  await io.waitUntil(
    `the LINSTOR controller on ${o.controller} answers`,
    async () => {
      const r = await nodeList(io);
      if (typeof r === "string") return [r];
      answered = true;
      return true;
    },
    o.controllerTimeout,
  );
  let state = EMPTY_STATE;
  if (answered) state = await readState(io, want);
  // Only in check mode, where the controller is still to be started: it would start empty.
  else io.log("linstor: the controller does not answer yet (it would be started by this run): planned as for a new, empty controller");

  const plan = planCluster(state, want);
  for (const note of plan.notes) io.log(`linstor: ${note}`);
  const run = async (phase: Step["phase"]) => {
    for (const s of plan.steps.filter((x) => x.phase === phase)) await io.run(s);
  };
  await run("nodes");
  if (plan.waitOnline.length) {
    await io.waitUntil(
      `LINSTOR nodes ONLINE: ${plan.waitOnline.join(", ")}`,
      async () => {
        const nodes = await nodeList(io);
        if (typeof nodes === "string") return [nodes];
        const missing = plan.waitOnline.flatMap((n) => {
          const why = notOnline(nodes, n);
          return why ? [`${why} (its satellite's log: ${o.satelliteLog(n)} on ${n})`] : [];
        });
        return missing.length ? missing : true;
      },
      o.onlineTimeout,
    );
  }
  await run("storage");
  await run("groups");
  return plan;
}
