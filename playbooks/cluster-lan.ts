/**
 * The cluster LAN's mode, per host: how the three point-to-point links of
 * the triangle become one network.
 *
 * - `bridge-stp` (reference 000): the cluster ports in a Linux bridge with
 *   STP (role bridge-stp); the bridge has the node's cluster address and the
 *   ports have none.
 * - `frr` (reference 001): each link its own /30, routed by FRRouting OSPF
 *   with a stable /32 on lo (role frr).
 *
 * A host's mode is its `cluster_lan` variable (group_vars, host_vars, or
 * `-e cluster_lan=...`); a host without one gets neither role. site.ts's
 * "cluster LAN" play lists both roles, each wrapped in {@link forClusterLan}
 * so it runs only on the hosts of its mode.
 *
 * The two modes want different addresses on the cluster ports: frr gives
 * each port its link's /30 (base-os `addresses`), bridge-stp gives the ports
 * none (the bridge has the node's address). A bridge-stp host whose base-os
 * `addresses` still name a bridge port is refused at run start
 * ({@link clusterLanProblem}): base-os would put the address back on the
 * port at every run, and the bridge role would take it off again.
 *
 * @example
 *   play({ name: "cluster LAN", hosts: "clusternode", become: true, roles: [forClusterLan("bridge-stp", bridgeStp())] })
 */
import type { HostInfo, RoleInstance, Shape } from "../runner/index.ts";
import { InputError } from "../runner/errors.ts";

export const CLUSTER_LAN_MODES = ["bridge-stp", "frr"] as const;
export type ClusterLanMode = (typeof CLUSTER_LAN_MODES)[number];

/** The variable that holds a host's mode. */
export const CLUSTER_LAN_VAR = "cluster_lan";

/**
 * A host's cluster-LAN mode from its variables, or undefined when it has
 * none; a value that is not a mode is an input error naming the host.
 *
 * @example clusterLanMode({ name: "tnode1", vars: { cluster_lan: "frr" } }) // "frr"
 */
export function clusterLanMode(host: Pick<HostInfo, "name" | "vars">): ClusterLanMode | undefined {
  const v = host.vars[CLUSTER_LAN_VAR];
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v === "string" && (CLUSTER_LAN_MODES as readonly string[]).includes(v)) return v as ClusterLanMode;
  throw new InputError(`${CLUSTER_LAN_VAR} must be one of ${CLUSTER_LAN_MODES.join(", ")}, got ${JSON.stringify(v)}`, { host: host.name });
}

/**
 * What is inconsistent in a host's variables for its mode, or undefined:
 * in bridge-stp mode, base-os `addresses` on a port of the bridge
 * (`bridge-stp.ports`, default eth1 and eth2).
 *
 * @example clusterLanProblem({ name: "tnode1", vars: { cluster_lan: "bridge-stp", "base-os": { addresses: { eth1: ["192.168.11.1/30"] } } } })
 *   // "cluster_lan is bridge-stp, but base-os.addresses gives the bridge port eth1 an address: ..."
 */
export function clusterLanProblem(host: Pick<HostInfo, "name" | "vars">): string | undefined {
  if (clusterLanMode(host) !== "bridge-stp") return undefined;
  const map = (v: unknown): Record<string, unknown> => (v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
  const ports = map(host.vars["bridge-stp"]).ports;
  const bridgePorts = Array.isArray(ports) ? ports.map(String) : ["eth1", "eth2"];
  const addresses = map(map(host.vars["base-os"]).addresses);
  const addressed = bridgePorts.filter((p) => Array.isArray(addresses[p]) && (addresses[p] as unknown[]).length > 0);
  if (!addressed.length) return undefined;
  return (
    `${CLUSTER_LAN_VAR} is bridge-stp, but base-os.addresses gives the bridge port${addressed.length > 1 ? "s" : ""} ${addressed.join(", ")} an address ` +
    `(frr mode's /30s?): in bridge-stp mode the ports carry none and the bridge has the node's address (bridge-stp.address); remove them from base-os.addresses`
  );
}

/**
 * `inst`, run only on the hosts whose mode is `mode` (the role's `when`;
 * on the others it shows as skipped and its parameters are not needed). The
 * mode is checked for every host at run start: a misspelt mode, or
 * {@link clusterLanProblem}, stops the run before any host is touched.
 *
 * @example forClusterLan("frr", frr())
 */
export function forClusterLan<S extends Shape>(mode: ClusterLanMode, inst: RoleInstance<S>): RoleInstance<S> {
  return {
    ...inst,
    when: (host: HostInfo) => {
      const problem = clusterLanProblem(host);
      if (problem) throw new InputError(problem, { host: host.name });
      return clusterLanMode(host) === mode && (inst.when?.(host) ?? true);
    },
  };
}
