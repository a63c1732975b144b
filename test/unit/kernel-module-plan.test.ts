/**
 * `kernelModule` plans, data-driven: facts, params and module state in;
 * commands and boot files out. The lab kernel has no loadable modules, so
 * the lab test covers built-ins; loading and unloading are covered here.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { editRcModulesLocal, planKernelModule, type KernelModuleParams } from "../../tasks/kernelModule.ts";
import { runPlanCase, type PlanCase } from "./plan-helpers.ts";

const MISSING = { out: "", code: 3 };
const RC_LOCAL = "#!/bin/sh\n# local modules\n/sbin/modprobe tun\n";
const put = (plan: { changes: unknown[] }, i: number) => (plan.changes[i] as { content: string | Buffer }).content.toString();

const cases: PlanCase<KernelModuleParams>[] = [
  {
    name: "debian: load a module",
    facts: "debian-12-vm",
    params: { name: "br_netfilter" },
    state: { loaded: "absent\n" },
    changes: ["modprobe br_netfilter"],
    reason: "load br_netfilter",
  },
  {
    name: "debian: loaded",
    facts: "debian-12-vm",
    params: { name: "br-netfilter" },
    state: { loaded: "loaded\n" },
    changes: [],
    reason: "br-netfilter is loaded",
    check: (_p, parts) => assert.match(parts.loaded ?? "", /grep -q '\^br_netfilter ' \/proc\/modules/),
  },
  {
    name: "debian: a built-in with persist writes modules-load.d",
    facts: "debian-12-vm",
    params: { name: "bridge", persist: true },
    state: { loaded: "builtin\n", boot: MISSING },
    changes: ["mkdir -p -- /etc/modules-load.d", "put /etc/modules-load.d/bridge.conf (mode 0644)"],
    reason: "create /etc/modules-load.d/bridge.conf",
    check: (plan) => assert.is(put(plan, 1), "bridge\n"),
  },
  {
    name: "debian: params go to modprobe and modprobe.d",
    facts: "debian-12-vm",
    params: { name: "loop", params: { max_loop: 64, debug: false }, persist: true },
    state: { loaded: "absent\n", boot: "loop\n", options: "options loop max_loop=8\n" },
    changes: ["modprobe loop max_loop=64 debug=0", "put /etc/modprobe.d/loop.conf"],
    reason: "load loop; update /etc/modprobe.d/loop.conf",
    check: (plan) => assert.is(put(plan, 1), "options loop max_loop=64 debug=0\n"),
  },
  {
    name: "debian: everything in place",
    facts: "debian-12-container",
    params: { name: "bridge", persist: true },
    state: { loaded: "builtin\n", boot: "bridge\n" },
    changes: [],
    reason: "bridge is built into the kernel; /etc/modules-load.d/bridge.conf loads it at boot",
  },
  {
    name: "absent: unload and drop the boot entry",
    facts: "almalinux-9",
    params: { name: "floppy", state: "absent", persist: true },
    state: { loaded: "loaded\n", boot: "floppy\n" },
    changes: ["modprobe -r floppy", "rm -f -- /etc/modules-load.d/floppy.conf"],
  },
  {
    name: "absent: a built-in cannot be unloaded",
    facts: "debian-12-vm",
    params: { name: "bridge", state: "absent" },
    state: { loaded: "builtin\n" },
    error: /bridge is built into the kernel and cannot be unloaded/,
  },
  {
    name: "slackware: a line in rc.modules.local",
    facts: "slackware-15.0",
    params: { name: "br_netfilter", persist: true },
    state: { loaded: "loaded\n", boot: RC_LOCAL },
    changes: ["put /etc/rc.d/rc.modules.local"],
    reason: "update /etc/rc.d/rc.modules.local",
    check: (plan) => {
      assert.is(put(plan, 0), `${RC_LOCAL}/sbin/modprobe br_netfilter\n`);
      assert.equal(plan.diffs?.[0], { path: "/etc/rc.d/rc.modules.local", before: RC_LOCAL, after: `${RC_LOCAL}/sbin/modprobe br_netfilter\n` });
    },
  },
  {
    name: "slackware: other parameters replace the module's line",
    facts: "slackware-current",
    params: { name: "tun", params: { debug: 1 }, persist: true },
    state: { loaded: "loaded\n", boot: RC_LOCAL },
    check: (plan) => assert.is(put(plan, 0), "#!/bin/sh\n# local modules\n/sbin/modprobe tun debug=1\n"),
  },
  {
    name: "slackware: created when missing, executable",
    facts: "slackware-15.0",
    params: { name: "overlay", persist: true },
    state: { loaded: "builtin\n", boot: MISSING },
    changes: ["mkdir -p -- /etc/rc.d", "put /etc/rc.d/rc.modules.local (mode 0755)"],
    check: (plan) => assert.is(put(plan, 1), "#!/bin/sh\n/sbin/modprobe overlay\n"),
  },
  {
    name: "slackware: absent removes the line",
    facts: "slackware-15.0",
    params: { name: "tun", state: "absent", persist: true },
    state: { loaded: "absent\n", boot: RC_LOCAL },
    changes: ["put /etc/rc.d/rc.modules.local"],
    check: (plan) => assert.is(put(plan, 0), "#!/bin/sh\n# local modules\n"),
  },
  {
    name: "bad parameter value",
    facts: "debian-12-vm",
    params: { name: "loop", params: { max_loop: "64 ; reboot" } },
    state: {},
    error: /must not contain spaces/,
  },
];

for (const c of cases) test(c.name, () => runPlanCase(c, planKernelModule));

test("rc.modules.local edits keep everything else", () => {
  assert.is(editRcModulesLocal("a\n  modprobe br-netfilter\nb", "br_netfilter", "/sbin/modprobe br_netfilter"), "a\n/sbin/modprobe br_netfilter\nb\n");
  assert.is(editRcModulesLocal("# /sbin/modprobe tun\n", "tun", null), "# /sbin/modprobe tun\n");
});

test.run();
