/**
 * The linstor role's files and host-local decisions, pure: the Slackware
 * rc.d scripts and /etc/default files (the names reference 000 copies:
 * rc.linstor-satellite, rc.linstor-controller, rc.drbd, rc.zfs,
 * /etc/default/linstor-satellite, linstor-controller, zfs), LINSTOR's own
 * TOML config, the systemd drop-in, and the LVM thin-pool steps decided from
 * what `lvm` says on the host.
 */
import { shq } from "../../runner/quote.ts";

/** Where LINBIT's build puts the daemons' start scripts (linstor-server's gradle `installDist`; SBo's linstor-server keeps it). */
export const LINSTOR_BIN = "/usr/share/linstor-server/bin";

/** The two daemons: script name, program, /etc/default file and its options variable. */
export const DAEMONS = {
  satellite: { service: "linstor-satellite", program: "Satellite", mainClass: "com.linbit.linstor.core.Satellite", optsVar: "SATELLITE_OPTS", log: "/var/log/linstor/satellite" },
  controller: { service: "linstor-controller", program: "Controller", mainClass: "com.linbit.linstor.core.Controller", optsVar: "CONTROLLER_OPTS", log: "/var/log/linstor/controller" },
} as const;
export type Daemon = keyof typeof DAEMONS;

/**
 * `/etc/rc.d/rc.linstor-satellite` or `rc.linstor-controller`, in the shape
 * of reference 000's scripts (source /etc/default/NAME, start
 * `/usr/share/linstor-server/bin/PROGRAM $OPTS` with JAVA_HOME in the
 * background, output appended to /var/log/linstor/DAEMON), with what
 * theirs lack: a pid file, a `status` action (the service task tells
 * running from it), a start that does nothing when the daemon runs (the
 * reference's `pgrep -f linstore.core.Satellite` is misspelt, so its start
 * never saw a running daemon and started a second), and a stop that waits
 * until the daemon is gone. A daemon without the pid file (started by the
 * reference's script) is found by LINSTOR's main class and adopted, never
 * started twice.
 */
export function rcScript(d: Daemon): string {
  const x = DAEMONS[d];
  return `#!/bin/sh
# /etc/rc.d/rc.${x.service}: start, stop, restart or report the LINSTOR ${d}.
# Written by runbook (role linstor); options in /etc/default/${x.service}.

${x.optsVar}=""
JAVA_HOME=""
if [ -r /etc/default/${x.service} ]; then
  . /etc/default/${x.service}
fi
PROGRAM=${LINSTOR_BIN}/${x.program}
PIDFILE=/var/run/${x.service}.pid
LOG=${x.log}

# The daemon's pid: from the pid file, else the JVM running LINSTOR's ${d} class
# (one started another way, e.g. by the reference's own rc script).
daemonpid() {
  if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    cat "$PIDFILE"
  else
    pgrep -o -f '${x.mainClass.replace(/\./g, "\\.")}( |$)'
  fi
}

running() {
  [ -n "$(daemonpid)" ]
}

start() {
  if running; then
    echo "LINSTOR ${d} is already running (pid $(daemonpid))."
    return 0
  fi
  if [ ! -x "$PROGRAM" ]; then
    echo "$PROGRAM is missing: is linstor-server installed?" >&2
    return 1
  fi
  mkdir -p "$(dirname "$LOG")"
  echo "Starting LINSTOR ${d}: $PROGRAM $${x.optsVar}"
  if [ -n "$JAVA_HOME" ]; then export JAVA_HOME; fi
  # The start script ends in exec java, so $! is the daemon itself.
  nohup "$PROGRAM" $${x.optsVar} >> "$LOG" 2>&1 < /dev/null &
  echo $! > "$PIDFILE"
}

stop() {
  pid=$(daemonpid)
  if [ -z "$pid" ]; then
    rm -f "$PIDFILE"
    return 0
  fi
  echo "Stopping LINSTOR ${d}."
  kill "$pid"
  i=0
  while kill -0 "$pid" 2>/dev/null && [ $i -lt 300 ]; do
    sleep 0.1
    i=$((i + 1))
  done
  rm -f "$PIDFILE"
}

case "$1" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status)
    if running; then
      echo "LINSTOR ${d} is running (pid $(daemonpid))."
    else
      echo "LINSTOR ${d} is stopped."
      exit 3
    fi
    ;;
  *) echo "usage: $0 start|stop|restart|status" >&2; exit 1 ;;
esac
`;
}

/** `/etc/default/linstor-satellite` or `linstor-controller`: the options and JAVA_HOME the rc script reads. */
export function defaultFile(d: Daemon, opts: string, javaHome: string): string {
  const x = DAEMONS[d];
  return `# Options of the LINSTOR ${d}, read by /etc/rc.d/rc.${x.service}. Managed by runbook (role linstor).
${x.optsVar}=${shq(opts)}
JAVA_HOME=${shq(javaHome)}
`;
}

/**
 * `/etc/rc.d/rc.drbd` (reference 000 ships one): at boot, the DRBD module
 * and the resources /etc/drbd.conf names (`drbdadm up all`; LINSTOR's own
 * resources are the satellite's to bring up, through the include it
 * writes); at shutdown `drbdadm down all`.
 */
export const RC_DRBD = `#!/bin/sh
# /etc/rc.d/rc.drbd: the DRBD kernel module and the resources /etc/drbd.conf names.
# Written by runbook (role linstor).

start() {
  /sbin/modprobe drbd || return 1
  if [ -x /usr/sbin/drbdadm ]; then
    echo "Starting DRBD resources: drbdadm up all"
    /usr/sbin/drbdadm up all
  fi
}

stop() {
  if [ -x /usr/sbin/drbdadm ]; then
    echo "Stopping DRBD resources: drbdadm down all"
    /usr/sbin/drbdadm down all
  fi
}

case "$1" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  *) echo "usage: $0 start|stop|restart" >&2; exit 1 ;;
esac
`;

/** `/etc/rc.d/rc.zfs` (reference 000 ships one): import the pools at boot, before LINSTOR's satellite looks for them. */
export const RC_ZFS = `#!/bin/sh
# /etc/rc.d/rc.zfs: import the ZFS pools at boot. Options in /etc/default/zfs.
# Written by runbook (role linstor).

ZPOOL_IMPORT_OPTS=""
if [ -r /etc/default/zfs ]; then
  . /etc/default/zfs
fi

case "$1" in
  start)
    /sbin/modprobe zfs || exit 1
    echo "Importing ZFS pools: zpool import -a $ZPOOL_IMPORT_OPTS"
    /usr/sbin/zpool import -a $ZPOOL_IMPORT_OPTS
    ;;
  stop) : ;;
  restart) "$0" start ;;
  *) echo "usage: $0 start|stop|restart" >&2; exit 1 ;;
esac
`;

/** `/etc/default/zfs`: what rc.zfs passes to `zpool import -a` (OpenZFS's variable name). */
export function zfsDefault(importOpts: string): string {
  return `# Read by /etc/rc.d/rc.zfs. Managed by runbook (role linstor).
ZPOOL_IMPORT_OPTS=${shq(importOpts)}
`;
}

/**
 * The rc.local block that starts, in order, what Slackware's own rc.M does
 * not know: rc.zfs (pools first), rc.drbd, the satellite, the controller.
 * Each runs only when executable, as rc.M treats its own scripts.
 */
export function rcLocalBlock(scripts: readonly string[], action: "start" | "stop"): string {
  return scripts.map((s) => `if [ -x /etc/rc.d/${s} ]; then\n  /etc/rc.d/${s} ${action}\nfi`).join("\n");
}

/** `/etc/linstor/linstor_satellite.toml`: where the satellite listens for its controller (LINSTOR's `[netcom]`). */
export function satelliteToml(address: string, port: number): string {
  return `# LINSTOR satellite: where it listens for the controller. Managed by runbook (role linstor).
[netcom]
  type = "plain"
  bind_address = "${address}"
  port = ${port}
`;
}

/** `/etc/linstor/linstor.toml`: the controller's REST API (LINSTOR's `[http]`), which the client and Incus use. */
export function controllerToml(address: string, port: number): string {
  return `# LINSTOR controller: the REST API. Managed by runbook (role linstor).
[http]
  enabled = true
  listen_addr = "${address}"
  port = ${port}
`;
}

/**
 * The systemd drop-in for LINBIT's units (`linstor-satellite.service.d`,
 * `linstor-controller.service.d`): LINBIT's units (linstor-server
 * scripts/*.service) already start after network-online.target but never
 * restart a daemon that died; this brings the JVM back (LINSTOR's own
 * exit 70, a critical error, is still restarted only by
 * RestartForceExitStatus, as LINBIT intends).
 */
export const SYSTEMD_DROPIN = `# Managed by runbook (role linstor).
[Service]
Restart=on-failure
RestartSec=5s
`;

/** The daemons' options on Slackware by default: the same log and config directories as LINBIT's systemd units. */
export const DEFAULT_OPTS = {
  satellite: "--logs=/var/log/linstor-satellite --config-directory=/etc/linstor",
  controller: "--logs=/var/log/linstor-controller --config-directory=/etc/linstor",
} as const;

/** What the LVM probe found on a host for one thin pool. */
export interface LvmState {
  /** `lvm` is not installed. */
  noLvm: boolean;
  vgExists: boolean;
  /** lv_attr of VG/THIN ("twi-a-tz--" for a thin pool), or null when there is no such LV. */
  thinAttr: string | null;
  /** For each device: the VG it is a PV of ("" for a PV in no VG), or null when it is not a PV. */
  pvs: Record<string, string | null>;
}

/** The read-only probe whose output {@link parseLvmProbe} reads. */
export function lvmProbe(vg: string, thinpool: string, devices: readonly string[]): string {
  return [
    "if ! command -v lvm >/dev/null 2>&1; then echo nolvm; exit 0; fi",
    `if vgs ${shq(vg)} >/dev/null 2>&1; then echo vg yes; else echo vg no; fi`,
    `a=$(lvs --noheadings -o lv_attr ${shq(`${vg}/${thinpool}`)} 2>/dev/null | tr -d ' '); echo "lv \${a:--}"`,
    ...devices.map((d) => `if pvs ${shq(d)} >/dev/null 2>&1; then v=$(pvs --noheadings -o vg_name ${shq(d)} 2>/dev/null | tr -d ' '); echo "pv \${v:-.} ${d}"; else echo "pv - ${d}"; fi`),
  ].join("\n");
}

export function parseLvmProbe(out: string): LvmState {
  const s: LvmState = { noLvm: false, vgExists: false, thinAttr: null, pvs: {} };
  for (const line of out.split("\n")) {
    const t = line.trim();
    if (t === "nolvm") s.noLvm = true;
    else if (t === "vg yes") s.vgExists = true;
    else if (t.startsWith("lv ")) s.thinAttr = t.slice(3) === "-" ? null : t.slice(3);
    else if (t.startsWith("pv ")) {
      const [, vg, ...dev] = t.split(" ");
      s.pvs[dev.join(" ")] = vg === "-" ? null : vg === "." ? "" : vg!;
    }
  }
  return s;
}

/** One LVM command of a thin pool's preparation. */
export interface LvmStep {
  argv: string[];
  title: string;
}

/**
 * The commands that make VG `vg` (from `devices`) with thin pool `thinpool`
 * (`size`: `100%FREE`-style extents or an absolute size), from what the probe
 * found; or the reason it cannot. A VG that exists is used as it is (devices
 * are only for making it); a thin pool that exists is left alone.
 */
export function planThinPool(s: LvmState, pool: { vg: string; thinpool: string; devices: readonly string[]; size: string }): { steps: LvmStep[]; problem?: string } {
  const where = `${pool.vg}/${pool.thinpool}`;
  if (s.noLvm) return { steps: [], problem: `the LVM tools are not installed (lvm2), needed for ${where}` };
  const steps: LvmStep[] = [];
  if (!s.vgExists) {
    if (!pool.devices.length) return { steps: [], problem: `volume group ${pool.vg} does not exist and no devices are given to make it from` };
    for (const d of pool.devices) {
      const inVg = s.pvs[d];
      if (inVg) return { steps: [], problem: `${d} is already a physical volume of volume group ${inVg}, not ${pool.vg}: refusing to take it` };
      if (inVg === undefined || inVg === null) steps.push({ argv: ["pvcreate", d], title: `pvcreate ${d}` });
    }
    steps.push({ argv: ["vgcreate", pool.vg, ...pool.devices], title: `vgcreate ${pool.vg} ${pool.devices.join(" ")}` });
  }
  if (s.thinAttr === null) {
    const size = /%/.test(pool.size) ? ["-l", pool.size] : ["-L", pool.size];
    steps.push({ argv: ["lvcreate", "--type", "thin-pool", ...size, "-n", pool.thinpool, pool.vg], title: `lvcreate thin pool ${where} (${pool.size})` });
  } else if (!s.thinAttr.startsWith("t")) {
    return { steps: [], problem: `${where} exists but is not a thin pool (lv_attr ${s.thinAttr})` };
  }
  return { steps };
}

/** The Incus server setting that points Incus' linstor driver at the controller. */
export const INCUS_CONTROLLER_KEY = "storage.linstor.controller_connection";

/** The probe {@link incusStep} reads: the setting's value, or `__no_incus__`. */
export const INCUS_PROBE = `if command -v incus >/dev/null 2>&1; then incus config get ${INCUS_CONTROLLER_KEY}; else echo __no_incus__; fi`;

/** What to do about Incus' controller connection, from the probe's output. */
export function incusStep(probeOut: string, url: string): "no-incus" | "ok" | "set" {
  const now = probeOut.trim();
  return now === "__no_incus__" ? "no-incus" : now === url ? "ok" : "set";
}
