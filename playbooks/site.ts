/**
 * The reference cluster's site playbook (references 000 and 001): the base
 * of every cluster node, then its cluster LAN: the host/group var
 * `cluster_lan` picks `frr` (OSPF over the triangle, reference 001) or
 * `bridge-stp` (reference 000) per host (see playbooks/cluster-lan.ts).
 * Later roles (ovn, ceph, incus, monitoring) join here as they land.
 *
 *   runbook play playbooks/site.ts --limit tnode2
 *   runbook play playbooks/site.ts --check --diff
 *
 * The admin's password hash is asked once (hidden); give an empty answer to
 * leave the password alone. Non-interactive: `RUNBOOK_VAR_adminPasswordHash`
 * or `-e adminPasswordHash=...` (make one with `openssl passwd -6`).
 */
import { play, playbook, type Secret } from "../runner/index.ts";
import { baseOs, bridgeStp, cgroups2, frr, ntp, sudo } from "../roles/index.ts";
import { forClusterLan } from "./cluster-lan.ts";

export default playbook("hyperconverged cluster", [
  play({
    name: "cluster nodes: base",
    hosts: "clusternode",
    become: true,
    prompts: [{ name: "adminPasswordHash", message: "clusteradm password hash (openssl passwd -6), empty to keep", secret: true, default: "" }],
    roles: [
      baseOs((host) => ({ admin: { passwordHash: passwordHash(host.vars.adminPasswordHash) } })),
      sudo({ wheelNopasswd: true, securePathExtra: ["/opt/java17/bin", "/opt/go/bin"] }),
      ntp(),
      cgroups2(),
    ],
  }),
  // After the base play: base-os has put the links' (frr mode) and the loopback's addresses in place;
  // in bridge-stp mode the ports have none and the role gives the bridge the node's address.
  play({
    name: "cluster LAN",
    hosts: "clusternode",
    become: true,
    roles: [forClusterLan("frr", frr()), forClusterLan("bridge-stp", bridgeStp())],
  }),
]);

/** An empty answer means "no password change". */
function passwordHash(v: unknown): Secret | undefined {
  const s = v as Secret | undefined;
  return s && s.reveal() !== "" ? s : undefined;
}
