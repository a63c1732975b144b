/**
 * The shipped roles, importable as `runbook/roles`:
 *
 *   import { baseOs, sudo } from "runbook/roles";
 */
export { baseOs, ADMIN_DEFAULTS } from "./base-os/index.ts";
export type { BaseOsParams } from "./base-os/index.ts";
export { sudo, sudoGroupFor } from "./sudo/index.ts";
export type { SudoParams } from "./sudo/index.ts";
export { ntp } from "./ntp/index.ts";
export type { NtpParams } from "./ntp/index.ts";
export { cgroups2 } from "./cgroups2/index.ts";
export type { Cgroups2Params } from "./cgroups2/index.ts";
export { frr } from "./frr/index.ts";
export type { FrrParams } from "./frr/index.ts";
export { bridgeStp } from "./bridge-stp/index.ts";
export type { BridgeStpParams } from "./bridge-stp/index.ts";
export { ovn } from "./ovn/index.ts";
export type { OvnParams } from "./ovn/index.ts";
export { ceph } from "./ceph/index.ts";
export type { CephParams } from "./ceph/index.ts";
export { incus } from "./incus/index.ts";
export type { IncusParams } from "./incus/index.ts";
export { linstor } from "./linstor/index.ts";
export type { LinstorParams } from "./linstor/index.ts";
export { lokiPrometheusGrafana } from "./loki-prometheus-grafana/index.ts";
export type { LokiPrometheusGrafanaParams } from "./loki-prometheus-grafana/index.ts";
