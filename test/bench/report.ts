/**
 * docs/BENCHMARKS.md from a benchmark's results: medians and ranges per
 * mode, ratios runbook/Ansible, scaling, start-up, the issue's targets met
 * or missed (and by how much), and the profile of the runner.
 */
import { MODE_LABEL, stats, type Mode, type Phase, type Sample } from "./harness.ts";
import type { ProfileSummary } from "./profile.ts";
import type { StartupBreakdown } from "./startup.ts";

export interface Row {
  mode: Mode;
  hosts: number;
  phase: Phase;
  samples: Sample[];
  /** The counts every sample was checked against. */
  counts: string;
}

export interface Results {
  date: string;
  command: string;
  runs: number;
  firstRuns: number;
  machine: { cpu: string; cores: number; memGiB: number; kernel: string; os: string };
  versions: Record<string, string>;
  /** Load averages (1 min) seen just before each run. */
  loads: number[];
  rows: Row[];
  /** Modes asked for but not measured, with the reason. */
  skipped: { mode: Mode; reason: string }[];
  scale: { hosts: number; samples: Sample[]; counts: string }[];
  /** The runbook first run that converged the scaling lab (once, with the forks given). */
  scaleFirst?: { hosts: number; forks: number; sample: Sample };
  startup?: {
    versionMs: number[];
    oneTask: Sample[];
    breakdown?: StartupBreakdown;
    /** One command on an open connection (ms), in the long-lived remote shell. */
    execMs?: number;
    /** One command on an exec channel of its own (ms). */
    channelMs?: number;
    /** bench.ts converged on one host. */
    oneHost?: Sample[];
  };
  /** `apt-get install tree` alone on a fresh host: wall and CPU ms. */
  aptInstall?: { wallMs: number; cpuMs: number };
  /** runbook's per-task durations (ms per host) in one run of each phase, at the largest host count. */
  taskTimes?: { hosts: number; source?: string; first?: Record<string, number[]>; converged?: Record<string, number[]> };
  /** Processes a converged run starts on one host, per mode (each host is a PID namespace). */
  processes: Partial<Record<Mode, number>>;
  profile?: { hosts: number; wallMs: number; summary: ProfileSummary; file: string };
  notes: string[];
  /** Notes added by hand to saved results (kept by `--render`, unlike the generated ones). */
  extraNotes?: string[];
}

const sec = (ms: number) => (ms >= 10_000 ? (ms / 1000).toFixed(1) : (ms / 1000).toFixed(2));
const mb = (kb: number | null) => (kb === null ? "—" : (kb / 1024).toFixed(0));
const fx = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

function median(samples: Sample[], key: "wallMs" | "rssKb" | "cpuMs" | "hostCpuMs"): number | null {
  const xs = samples.map((s) => s[key]).filter((x): x is number => x !== null && x !== undefined);
  return xs.length ? stats(xs).median : null;
}

export function find(r: Results, mode: Mode, hosts: number, phase: Phase): Row | undefined {
  return r.rows.find((x) => x.mode === mode && x.hosts === hosts && x.phase === phase);
}

export interface Target {
  target: string;
  measured: string;
  /** true met, false missed, null not measured in this run. */
  met: boolean | null;
}

/** The issue's targets against the results. */
export function evaluateTargets(r: Results): Target[] {
  const out: Target[] = [];
  const m = (mode: Mode, hosts: number, phase: Phase) => {
    const row = find(r, mode, hosts, phase);
    return row ? median(row.samples, "wallMs") : null;
  };
  const speedup = (target: string, want: number, base: number | null, rb: number | null, baseName: string) => {
    if (base === null || rb === null) return out.push({ target, measured: "not measured", met: null });
    const x = base / rb;
    const met = x >= want;
    out.push({
      target,
      measured: `${fx(x)}× (${baseName} ${sec(base)} s, runbook ${sec(rb)} s)${met ? "" : `: short by ${fx(want / x)}× (runbook would need ${sec(base / want)} s)`}`,
      met,
    });
  };
  const rb20c = m("runbook", 20, "converged");
  speedup("Converged, 20 hosts: ≥ 30× faster than stock Ansible", 30, m("ansible", 20, "converged"), rb20c, "Ansible");
  const best = (["ansible", "ansible-pipelining", "ansible-mitogen"] as const)
    .map((mode) => ({ mode, t: m(mode, 20, "converged") }))
    .filter((x): x is { mode: "ansible" | "ansible-pipelining" | "ansible-mitogen"; t: number } => x.t !== null)
    .sort((a, b) => a.t - b.t)[0];
  speedup("Converged, 20 hosts: ≥ 10× faster than the best Ansible mode", 10, best?.t ?? null, rb20c, best ? MODE_LABEL[best.mode] : "");
  speedup("First run, 20 hosts: ≥ 15× faster than stock Ansible", 15, m("ansible", 20, "first"), m("runbook", 20, "first"), "Ansible");

  for (const hosts of [...new Set(r.rows.filter((x) => x.mode === "floor").map((x) => x.hosts))].sort((a, b) => b - a)) {
    const floor = m("floor", hosts, "converged");
    const rb = m("runbook", hosts, "converged");
    const target = `Converged, ${hosts} hosts: within 2× of the hand-written floor`;
    if (floor === null || rb === null) out.push({ target, measured: "not measured", met: null });
    else {
      const x = rb / floor;
      out.push({ target, measured: `${fx(x)}× the floor (runbook ${sec(rb)} s, floor ${sec(floor)} s)${x <= 2 ? "" : `: over by ${fx(x / 2)}×`}`, met: x <= 2 });
    }
  }

  if (r.startup) {
    const v = stats(r.startup.versionMs).median;
    out.push({ target: "Start-up: `runbook --version` < 150 ms", measured: `${v.toFixed(0)} ms${v < 150 ? "" : `: over by ${(v - 150).toFixed(0)} ms`}`, met: v < 150 });
    const o = stats(r.startup.oneTask.map((s) => s.wallMs)).median;
    out.push({ target: "Start-up: a one-task play on one lab host < 0.5 s wall", measured: `${sec(o)} s${o < 500 ? "" : `: over by ${((o - 500) / 1000).toFixed(2)} s`}`, met: o < 500 });
  } else {
    out.push({ target: "Start-up targets", measured: "not measured", met: null });
  }

  const s200 = r.scale.find((s) => s.hosts === 200);
  if (s200 && rb20c !== null) {
    const t = stats(s200.samples.map((s) => s.wallMs)).median;
    const x = t / rb20c;
    out.push({
      target: "200 hosts converged: time grows at most linearly from 20 hosts (≤ 10× the 20-host time)",
      measured: `${fx(x)}× the 20-host time (${sec(t)} s vs ${sec(rb20c)} s)${x <= 10 ? "" : `: over by ${fx(x / 10)}×`}`,
      met: x <= 10,
    });
    const rss = median(s200.samples, "rssKb");
    out.push({ target: "200 hosts converged: runner RSS < 300 MB", measured: rss === null ? "not measured" : `${mb(rss)} MB`, met: rss === null ? null : rss / 1024 < 300 });
  } else {
    out.push({ target: "200 hosts converged (linear time, RSS < 300 MB)", measured: "not measured", met: null });
  }
  return out;
}

/** Numbers the cluster roles' lab tests print (update them from a test run). */
export const ROLE_RUNS: string[] = [
  "## Cluster roles (measured by their lab tests, not by `npm run bench`)",
  "",
  "- **ceph** (`test/e2e/role-ceph.test.ts`, 3 lab hosts, one with systemd, on this 2-core VM, 2026-12-05): fresh hosts to HEALTH_OK (3 monitors, 3 managers, 3 bluestore OSDs on sparse files, a pool of size 3) in **137 s**: the run 132 s, most of it three parallel `apt-get install` of Ceph 16 through the lab's apt proxy, then 5 s until HEALTH_OK with every manager reporting; a converged run in **2.9 s** (process wall time, 0 changed). With other test suites loading the same 2 cores (1-minute load average 25) the same test took 249 s (run 236 s) and 4.2 s. The test prints both numbers on every run.",
  ""
];

/** The results as docs/BENCHMARKS.md. */
export function renderMarkdown(r: Results): string {
  const L: string[] = [];
  const loads = r.loads.length ? stats(r.loads) : null;
  L.push("# Benchmarks: runbook and Ansible on the same lab hosts", "");
  L.push(
    `Measured ${r.date} with \`${r.command}\`: ${r.runs} converged run(s) per mode and host count, ` +
      `${r.firstRuns} first run(s) on freshly made hosts. Times are wall-clock medians with min–max; ` +
      "every run's counts were checked (see *Method*), so none of these numbers is from a run that did the wrong thing.",
    "",
  );

  L.push("## Machine and versions", "");
  L.push("| | |", "| --- | --- |");
  L.push(`| CPU | ${r.machine.cpu}, ${r.machine.cores} core(s) |`);
  L.push(`| memory | ${r.machine.memGiB.toFixed(1)} GiB |`);
  L.push(`| kernel | ${r.machine.kernel} (${r.machine.os}) |`);
  if (loads) {
    L.push(
      `| load (1-min average before each run) | median ${loads.median.toFixed(2)}, min ${loads.min.toFixed(2)}, max ${loads.max.toFixed(2)}; other engineers' test suites ran on this machine at the same time, so expect noise |`,
    );
  }
  for (const [k, v] of Object.entries(r.versions)) L.push(`| ${k} | ${v} |`);
  L.push("");

  L.push("## Results", "");
  L.push("How the CPU columns were brought down, with the profiles before and after: [PERFORMANCE.md](PERFORMANCE.md).", "");
  L.push(
    "Wall time in seconds; CPU seconds per host (medians over the runs): on the controller, the tool's whole process tree (user + system, as wait4 reports it for every descendant the tool waited for: Ansible's forks and ssh clients, the floor's ssh clients; for runbook its one node process), and on the lab hosts, everything the run made them do (sshd, shells, commands: each host's cgroup `usage_usec`, summed, divided by the hosts); peak RSS of the runner in MB; load: the median 1-minute load average just before the runs (it lags: it still counts earlier runs).",
    "",
  );
  L.push("| hosts | run | mode | median s | min–max s | controller CPU s/host | host CPU s/host | peak RSS MB | load | counts checked per run |", "| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
  const perHost = (ms: number | null, hosts: number) => (ms === null ? "—" : (ms / 1000 / hosts).toFixed(3));
  const hostCounts = [...new Set(r.rows.map((x) => x.hosts))].sort((a, b) => a - b);
  const order: Mode[] = ["runbook", "ansible", "ansible-pipelining", "ansible-mitogen", "floor"];
  for (const hosts of hostCounts) {
    for (const phase of ["first", "converged"] as Phase[]) {
      for (const mode of order) {
        const row = find(r, mode, hosts, phase);
        if (!row) continue;
        const s = stats(row.samples.map((x) => x.wallMs));
        L.push(
          `| ${hosts} | ${phase} | ${MODE_LABEL[mode]} | **${sec(s.median)}** | ${sec(s.min)}–${sec(s.max)} | ${perHost(median(row.samples, "cpuMs"), hosts)} | ${perHost(median(row.samples, "hostCpuMs"), hosts)} | ${mb(median(row.samples, "rssKb"))} | ${stats(row.samples.map((x) => x.load)).median.toFixed(1)} | ${row.counts} (n=${row.samples.length}) |`,
        );
      }
    }
  }
  L.push("");
  for (const s of r.skipped) L.push(`- **${MODE_LABEL[s.mode]}** was not measured: ${s.reason}`);
  if (r.skipped.length) L.push("");

  const ratioLines: string[] = [];
  for (const hosts of hostCounts) {
    for (const phase of ["first", "converged"] as Phase[]) {
      const rb = find(r, "runbook", hosts, phase);
      if (!rb) continue;
      const t = stats(rb.samples.map((x) => x.wallMs)).median;
      for (const mode of ["ansible", "ansible-pipelining", "ansible-mitogen", "floor"] as Mode[]) {
        const other = find(r, mode, hosts, phase);
        if (!other) continue;
        const o = stats(other.samples.map((x) => x.wallMs)).median;
        const faster = mode === "floor" ? `${fx(t / o)}× the floor's time` : `runbook ${fx(o / t)}× faster`;
        ratioLines.push(`| ${hosts} | ${phase} | ${MODE_LABEL[mode]} | ${sec(o)} | ${sec(t)} | ${(t / o).toFixed(3)} | ${faster} |`);
      }
    }
  }
  if (ratioLines.length) {
    L.push("### Ratios", "");
    L.push("runbook's median over the other mode's median (lower is better for runbook).", "");
    L.push("| hosts | run | against | its median s | runbook median s | runbook / it | |", "| ---: | --- | --- | ---: | ---: | ---: | --- |");
    L.push(...ratioLines, "");
  }

  if (r.scale.length) {
    const rb20 = find(r, "runbook", 20, "converged");
    const t20 = rb20 ? stats(rb20.samples.map((x) => x.wallMs)).median : null;
    L.push("### Scaling: runbook alone, converged", "");
    L.push(
      "One lab of the largest size, converged once by runbook; then converged runs on the first N hosts (`--limit`), " +
        "with `--forks N` (every host at once). These hosts have no Python at all.",
      "",
    );
    L.push("| hosts | median s | min–max s | ms per host | × the 20-host time | peak RSS MB |", "| ---: | ---: | ---: | ---: | ---: | ---: |");
    for (const s of r.scale) {
      const st = stats(s.samples.map((x) => x.wallMs));
      L.push(
        `| ${s.hosts} | **${sec(st.median)}** | ${sec(st.min)}–${sec(st.max)} | ${(st.median / s.hosts).toFixed(0)} | ${t20 ? fx(st.median / t20) : "—"} | ${mb(median(s.samples, "rssKb"))} |`,
      );
    }
    if (r.scale.length >= 2) {
      const [a, z] = [r.scale[0]!, r.scale[r.scale.length - 1]!];
      const ra = median(a.samples, "rssKb");
      const rz = median(z.samples, "rssKb");
      if (ra !== null && rz !== null && z.hosts > a.hosts) {
        const perHost = (rz - ra) / 1024 / (z.hosts - a.hosts);
        L.push(
          "",
          `Peak RSS grows ${perHost.toFixed(2)} MB per host from ${a.hosts} to ${z.hosts} hosts` +
            (perHost > 0 ? `; at that rate the runner reaches 300 MB at about ${Math.floor(z.hosts + (300 - rz / 1024) / perHost)} hosts.` : "."),
        );
      }
    }
    L.push("");
    if (r.scaleFirst) {
      L.push(
        `The first run that converged the ${r.scaleFirst.hosts}-host scaling lab (with \`--forks ${r.scaleFirst.forks}\`, ` +
          `so at most ${r.scaleFirst.forks} \`apt-get install\`s run at once on this 2-core machine) took ${sec(r.scaleFirst.sample.wallMs)} s, ` +
          `peak RSS ${mb(r.scaleFirst.sample.rssKb)} MB.`,
        "",
      );
    }
  }

  if (r.startup) {
    const v = stats(r.startup.versionMs);
    const o = stats(r.startup.oneTask.map((s) => s.wallMs));
    L.push("### Start-up", "");
    L.push("| what | median | min–max |", "| --- | ---: | ---: |");
    L.push(`| \`runbook --version\` | ${v.median.toFixed(0)} ms | ${v.min.toFixed(0)}–${v.max.toFixed(0)} ms |`);
    L.push(`| \`runbook play test/bench/one-task.ts\` on one lab host (facts + one task, converged) | ${(o.median / 1000).toFixed(2)} s | ${(o.min / 1000).toFixed(2)}–${(o.max / 1000).toFixed(2)} s |`);
    const oc = r.startup.oneTask.map((s) => s.cpuMs).filter((x): x is number => x !== undefined);
    if (oc.length) {
      const c = stats(oc);
      L.push(`| the same one-task play: controller CPU (user + system) | ${(c.median / 1000).toFixed(2)} s | ${(c.min / 1000).toFixed(2)}–${(c.max / 1000).toFixed(2)} s |`);
    }
    if (r.startup.oneHost?.length) {
      const h = stats(r.startup.oneHost.map((x) => x.wallMs));
      L.push(`| \`runbook play test/bench/bench.ts\` on one lab host (facts + 23 tasks, converged) | ${sec(h.median)} s | ${sec(h.min)}–${sec(h.max)} s |`);
    }
    if (r.startup.execMs !== undefined) L.push(`| one command on an open connection, in the long-lived remote shell (mean of 24 sequential \`true\`s) | ${r.startup.execMs.toFixed(1)} ms | |`);
    if (r.startup.channelMs !== undefined) L.push(`| the same, each on an exec channel of its own (how commands with stdin run) | ${r.startup.channelMs.toFixed(1)} ms | |`);
    L.push("");
    const b = r.startup.breakdown;
    if (b) {
      L.push("Where start-up goes before the first host is contacted (medians):", "");
      L.push("| step | ms |", "| --- | ---: |");
      L.push(`| \`node -e 0\` (any Node CLI, wall) | ${b.nodeMs.toFixed(0)} |`);
      L.push(`| \`runbook play\` with no arguments: loads the CLI and play's whole module graph, exits with a usage error (wall) | **${b.playLoadMs.toFixed(0)}** |`);
      L.push(`| of which: importing play's graph from the prebuilt JS (${b.ownModules ?? "?"} of runbook's modules plus npm packages, one bundle from V8's code cache; in-process) | ${b.prebuiltImportMs.toFixed(0)} |`);
      L.push(`| the same \`runbook play\` through tsx (\`RUNBOOK_TSX=1\`: the fallback, and how runbook started before the prebuilt JS) | ${b.playLoadTsxMs.toFixed(0)} |`);
      L.push(`| compiling all of runbook's sources to a new build (once, at \`npm ci\` and at the first start after an edit) | ${b.compileMs.toFixed(0)} |`);
      for (const p of b.packages) L.push(`| npm package \`${p.name}\` imported alone from node_modules (in play's graph; there it comes from the bundle) | ${p.ms.toFixed(0)} |`);
      L.push("");
    }
  }

  L.push("## Targets (issue 7)", "");
  L.push("| target | measured | | where missed, the cost (see *Findings*) |", "| --- | --- | --- | --- |");
  for (const t of evaluateTargets(r)) {
    L.push(`| ${t.target} | ${t.measured} | ${t.met === null ? "not measured" : t.met ? "**met**" : "**missed**"} | ${t.met === false ? (missedCost(r, t.target) ?? "") : ""} |`);
  }
  L.push("");

  if (r.profile) {
    const p = r.profile.summary;
    const busy = p.totalMs - p.idleMs;
    L.push(`## Profile: runbook, converged, ${r.profile.hosts} hosts`, "");
    L.push(
      `\`node --cpu-prof\` on one converged ${r.profile.hosts}-host run (${sec(r.profile.wallMs)} s wall under the profiler; the profile covers ${sec(p.totalMs)} s of it). ` +
        `The main thread was busy ${sec(busy)} s (${((busy / p.totalMs) * 100).toFixed(0)}%) and idle, waiting on the network and the hosts, ${sec(p.idleMs)} s.`,
      "",
    );
    const b = r.startup?.breakdown;
    const rb = find(r, "runbook", r.profile.hosts, "converged");
    if (b && rb) {
      const t = stats(rb.samples.map((x) => x.wallMs)).median;
      L.push(
        `Start-up before the first connection (\`runbook play\` load time, ${sec(b.playLoadMs)} s, see *Start-up*) is ${((b.playLoadMs / t) * 100).toFixed(0)}% of runbook's converged ${r.profile.hosts}-host median (${sec(t)} s).`,
        "",
      );
    }
    L.push("Self time by area:", "");
    L.push("| area | ms | share of busy time |", "| --- | ---: | ---: |");
    for (const a of p.areas.filter((a) => !a.area.startsWith("idle")).slice(0, 12)) {
      L.push(`| ${a.area} | ${a.ms.toFixed(0)} | ${((a.ms / busy) * 100).toFixed(1)}% |`);
    }
    L.push("", "Top functions by self time:", "");
    L.push("| function | where | ms |", "| --- | --- | ---: |");
    for (const f of p.functions) L.push(`| \`${f.name}\` | ${f.where || "—"} | ${f.ms.toFixed(0)} |`);
    L.push("");
  }

  const procs = Object.entries(r.processes) as [Mode, number][];
  if (procs.length) {
    L.push("### Work on the hosts", "");
    L.push(
      "Processes one converged run starts on a host (each lab host is its own PID namespace, so the PID counter before and after the run, less the probe's own, counts them):",
      "",
    );
    L.push("| mode | processes per host |", "| --- | ---: |");
    for (const [mode, n] of procs) L.push(`| ${MODE_LABEL[mode]} | ${n} |`);
    L.push("");
  }

  const tt = r.taskTimes;
  if (tt && (tt.first || tt.converged)) {
    L.push(`### runbook's tasks on ${tt.hosts} hosts`, "");
    L.push(
      `Each task's time per host (from the \`--json\` events: plan, and apply where something changes), median and slowest host, in one first run and one converged run${tt.source ? ` (${tt.source})` : ""}.`,
      "",
    );
    L.push("| task | first run median ms | slowest ms | converged median ms | slowest ms |", "| --- | ---: | ---: | ---: | ---: |");
    const names = [...new Set([...Object.keys(tt.first ?? {}), ...Object.keys(tt.converged ?? {})])];
    const med = (xs?: number[]) => (xs?.length ? stats(xs).median : 0);
    names.sort((a, b) => med(tt.first?.[b]) - med(tt.first?.[a]) || med(tt.converged?.[b]) - med(tt.converged?.[a]));
    const cell = (xs?: number[]) => (xs?.length ? [stats(xs).median.toFixed(0), stats(xs).max.toFixed(0)] : ["—", "—"]);
    for (const n of names) L.push(`| ${n.replace(/\|/g, "\\|")} | ${cell(tt.first?.[n]).join(" | ")} | ${cell(tt.converged?.[n]).join(" | ")} |`);
    const sum = (rec?: Record<string, number[]>) => Object.values(rec ?? {}).reduce((t, xs) => t + stats(xs).median, 0);
    L.push(`| **sum of medians** | **${sum(tt.first).toFixed(0)}** | | **${sum(tt.converged).toFixed(0)}** | |`, "");
  }

  const findings = findingsOf(r);
  if (findings.length) {
    L.push("## Findings: where runbook's time goes", "");
    for (const f of findings) L.push(`- ${f}`);
    L.push("");
  }

  const allNotes = [...r.notes, ...(r.extraNotes ?? [])];
  if (allNotes.length) {
    L.push("## Notes", "");
    for (const n of allNotes) L.push(`- ${n}`);
    L.push("");
  }

  // Measured by the roles' lab tests, not by this benchmark: kept across regenerations.
  L.push(...ROLE_RUNS);
  L.push("## Method", "");
  L.push(
    "- **Hosts**: the namespace lab (`test/lab/`), lab id 13: Debian bookworm minbase hosts with a real `sshd`, built from the rootfs variant that adds `python3` (Ansible needs it on targets; runbook never uses it — the scaling lab has no Python at all). Each first run gets freshly made hosts (`up()` before every first run); the converged runs follow on the hosts that mode converged.",
    "- **Playbooks**: `test/bench/bench.ts` (runbook) and `test/bench/bench.yml` (Ansible), 23 tasks and a handler with the same effects task for task: groups and a user (uid 1050, supplementary groups), an authorized key, two `sshd_config` lines validated with `sshd -t -f %s` and a reload handler (`kill -HUP` of sshd: the lab has no init system), a sudoers drop-in validated with `visudo -cf %s`, an `/etc/hosts` block for all hosts, a template using facts, four directories with owners and modes, a sysctl file (`net.ipv4.ip_forward`), a line in `/etc/default/cgroups`, five copied files, a symlink, a command with `creates`, the `tree` package; facts gathered by both.",
    "- **Counts check**: every run's recap is parsed (runbook's `run.end` JSON event, Ansible's PLAY RECAP) and must show, on every host and no other, exactly the expected counts: first run — runbook ok=0 changed=24, Ansible ok=25 changed=24 (Ansible counts changed tasks as ok too, and fact gathering as a task); converged — runbook ok=23 changed=0, Ansible ok=24 changed=0; and no failed, skipped or unreachable. After every first run the floor script (below) must also pass on every host, so both tools are proven to leave byte-identical copied and templated files and `/etc/hosts` block, the same lines, owners and modes, the same groups, user, key, link, live sysctl value and package (the one allowed difference: Ansible writes the sysctl line `net.ipv4.ip_forward=1`, runbook `net.ipv4.ip_forward = 1`).",
    "- **Floor**: `test/bench/floor.ts` — one `ssh HOST sh -s` per host (OpenSSH client, all hosts at once), one script doing all 23 converged checks (checksums, owners and modes, `getent`, `dpkg-query`, ...) and printing one line per check; every check must pass. The first-run floor is the same shape: one script per host making every change of the playbook by hand (groupadd, useradd, the key, `sshd_config` through `sshd -t`, the sudoers file through `visudo -cf`, atomic writes of every file, `apt-get install tree`), on fresh hosts, then the same state check as the tools.",
    "- **Ansible modes**: `forks` = hosts, the lab's key and known_hosts, otherwise Ansible's defaults (ControlMaster with ControlPersist=60s; the control masters are killed after every run, so no run reuses another's connections). *pipelining* adds `pipelining = True`; *Mitogen* sets `strategy = mitogen_linear` (Debian's `ansible-mitogen` package). Output: the default callback.",
    "- **runbook**: `node bin/runbook.js play test/bench/bench.ts -i LAB/inventory.yml -e @hosts.json -f HOSTS --json`, with a fresh state dir per run (history is written, as in normal use).",
    "- **Peak RSS**: GNU `time -f %M` around the runner. This is the largest single process of the tree (from `wait4`): runbook is one Node process; for Ansible it is the controller or one of its forked workers, **not their sum** (with forks = hosts Ansible runs that many Python processes, so its total memory is far higher than the number shown).",
    "- **Wall time**: from spawning the runner to its exit, measured by the harness.",
    "",
  );

  L.push("## Rerun", "");
  L.push("As root on Linux (the lab needs network namespaces), from the repository:", "");
  L.push("```sh");
  L.push("npm ci");
  L.push("npm run bench                                   # 3 and 20 hosts, 5 runs, scaling 50/100/200; writes docs/BENCHMARKS.md");
  L.push("npm run bench -- --hosts 3,20 --runs 5 --first-runs 3 --scale 50,100,200");
  L.push("npm run bench -- --hosts 3 --runs 3 --modes runbook,ansible-mitogen,floor --scale none --out /tmp/b.md");
  L.push("npm run bench -- --results /tmp/raw.json ...        # also keep the raw samples; --render /tmp/raw.json rewrites the report from them");
  L.push("```");
  L.push("");
  L.push(
    "It installs `ansible` and `ansible-mitogen` with apt when missing, builds the lab's Python rootfs once (about a minute), uses lab id 13 (`--lab-id`), and removes the lab at the end. `npm run bench -- --help` lists the options.",
    "",
  );
  return L.join("\n");
}

/** What the measurements say about runbook's costs, as sentences with the numbers in them. */
export function findingsOf(r: Results): string[] {
  const out: string[] = [];
  const b = r.startup?.breakdown;
  const ms = (x: number) => `${x.toFixed(0)} ms`;
  if (b && r.startup) {
    const one = stats(r.startup.oneTask.map((s) => s.wallMs)).median;
    const eager = b.packages.slice(0, 4).map((p) => `${p.name} ${ms(p.ms)}`).join(", ");
    out.push(
      `**Start-up is mostly Node's own.** \`runbook play\` needs ${ms(b.playLoadMs)} before it contacts a host (Node itself: ${ms(b.nodeMs)}); ` +
        `importing play's module graph (${b.ownModules ?? "?"} of runbook's modules and the npm packages they import, one bundle run from V8's code cache: \`bin/load-core.js\`) takes ${ms(b.prebuiltImportMs)}. ` +
        `For comparison, the largest packages imported alone from node_modules, without the bundle and its cache: ${eager}. ` +
        `Through tsx the same start took ${ms(b.playLoadTsxMs)}: tsx's loader hooks handle every module on every start. ` +
        `The prebuilt JS costs one compile of ${ms(b.compileMs)} after an edit. The one-task play takes ${sec(one)} s in all.`,
    );
  }
  if (r.startup?.oneHost?.length && r.startup.execMs !== undefined && b) {
    const h = stats(r.startup.oneHost.map((s) => s.wallMs)).median;
    out.push(
      `**Per host, the tasks read state one command at a time, in one long-lived shell.** bench.ts converges one host in ${sec(h)} s; less the ${sec(b.playLoadMs)} s start-up that leaves ${sec(h - b.playLoadMs)} s for the SSH handshake, facts and 23 tasks. ` +
        `A command in the host's long-lived \`/bin/sh\` costs ${r.startup.execMs.toFixed(1)} ms` +
        (r.startup.channelMs !== undefined ? `, against ${r.startup.channelMs.toFixed(1)} ms on an exec channel of its own (a channel open, an exec request, sshd forking a session and the login shell, ~10 SSH packets each way)` : "") +
        `, so about 24 sequential checks are ~${ms(24 * r.startup.execMs)} per host; the floor makes one round trip.`,
    );
  }
  const tt = r.taskTimes;
  const rbFirst = tt ? find(r, "runbook", tt.hosts, "first") : undefined;
  const ansFirst = tt ? find(r, "ansible", tt.hosts, "first") : undefined;
  const floorFirst = tt ? find(r, "floor", tt.hosts, "first") : undefined;
  if (tt?.first && rbFirst) {
    const meds = Object.entries(tt.first).map(([task, xs]) => ({ task, ms: stats(xs).median })).sort((a, b) => b.ms - a.ms);
    const total = meds.reduce((t, x) => t + x.ms, 0);
    const top = meds[0]!;
    const wall = stats(rbFirst.samples.map((x) => x.wallMs)).median;
    let text =
      `**A first run is work on the hosts.** On ${tt.hosts} hosts runbook's first run takes ${sec(wall)} s; each host spends ~${sec(total)} s in its tasks, ` +
      `${sec(top.ms)} s (${((top.ms / total) * 100).toFixed(0)}%) of it in \`${top.task}\` and ${sec(total - top.ms)} s in the other ${meds.length - 1} tasks and the handler together.`;
    const apt = r.aptInstall;
    if (apt && top.task.includes("package")) {
      const bound = (tt.hosts * apt.cpuMs) / r.machine.cores;
      text +=
        ` \`apt-get install tree\` alone on a fresh host takes ${sec(apt.wallMs)} s and ${sec(apt.cpuMs)} s of CPU (a fresh host has no apt binary cache yet: the first apt-get builds it from the package lists); ` +
        `${tt.hosts} hosts sharing this machine's ${r.machine.cores} cores need at least ${tt.hosts} × ${sec(apt.cpuMs)} ÷ ${r.machine.cores} = ${sec(bound)} s for it, whatever runs them.`;
    }
    if (floorFirst) {
      const f = stats(floorFirst.samples.map((x) => x.wallMs)).median;
      text += ` The first run written by hand (every change in one \`ssh HOST sh -s\` per host, no tool at all) takes ${sec(f)} s on the same fresh hosts: runbook is ${fx(wall / f)}× that.`;
      if (ansFirst) {
        const a = stats(ansFirst.samples.map((x) => x.wallMs)).median;
        text +=
          ` Stock Ansible takes ${sec(a)} s, so 15× would need a first run of ${sec(a / 15)} s` +
          (a / 15 < f
            ? `, ${sec(f - a / 15)} s less than the hosts' own work takes with no runner in the way: no runner can reach it on this machine (at most ${fx(a / f)}×, the hand-written script's ratio). The cause is physical — ${tt.hosts} hosts' package installs, useradd, sshd -t and visudo share ${r.machine.cores} cores — and on hosts with CPUs of their own the bound is one host's work.`
            : ".");
      }
    } else if (ansFirst) {
      text += ` Stock Ansible: ${sec(stats(ansFirst.samples.map((x) => x.wallMs)).median)} s.`;
    }
    out.push(text);
  }
  const pr = r.processes;
  if (pr.runbook !== undefined && pr.floor !== undefined) {
    const ans = (["ansible", "ansible-pipelining", "ansible-mitogen"] as const).filter((m) => pr[m] !== undefined).map((m) => `${MODE_LABEL[m]} ${pr[m]}`);
    out.push(
      `**On the hosts runbook does about what the hand-written floor does**: a converged run starts ${pr.runbook} processes per host, the floor's script ${pr.floor}` +
        (ans.length ? ` (${ans.join(", ")}: stock Ansible starts a Python interpreter for every module, Mitogen keeps one per host)` : "") +
        ". runbook's extra processes are the subshell each command runs in; the rest of the difference to the floor is latency (sequential commands) and start-up on the controller.",
    );
  }
  if (r.profile) {
    const p = r.profile.summary;
    const area = (re: RegExp) => p.areas.filter((a) => re.test(a.area)).reduce((t, a) => t + a.ms, 0);
    const busy = p.totalMs - p.idleMs;
    const writes = p.functions.find((f) => f.name === "writeBuffer" && /ssh2/.test(f.where));
    const json = area(/output\/json/);
    out.push(
      `**At ${r.profile.hosts} hosts the runner ${p.idleMs > busy ? "mostly waits" : "is busy more than it waits"}.** Its main thread was idle ${((p.idleMs / p.totalMs) * 100).toFixed(0)}% of the profiled run. ` +
        `The hosts are namespaces on this machine's ${r.machine.cores} cores: their sshd sessions and shells compete with the runner for the same CPUs. ` +
        `Of the ${ms(busy)} the main thread was busy: ssh2 ${ms(area(/^ssh2/))}` +
        (writes ? ` (${ms(writes.ms)} of it native socket writes, corked so one tick's packets go in one writev)` : "") +
        `, module loading ${ms(area(/loading modules|tsx/))}` +
        (json > 0 ? `, \`--json\` output ${ms(json)}` : "") +
        `, runbook's runner and tasks ${ms(area(/^(runner|tasks)/))}, garbage collection ${ms(p.gcMs)}.`,
    );
  }
  return out;
}

/** For a missed target: what the measurements say it costs, in a sentence. */
function missedCost(r: Results, target: string): string | null {
  const b = r.startup?.breakdown;
  const p = r.profile?.summary;
  const load = b ? `start-up: ${sec(b.playLoadMs)} s before the first connection (Node ${sec(b.nodeMs)} s)` : null;
  if (/Converged, 20 hosts/.test(target)) {
    const parts = [load];
    if (p) {
      const ssh2 = p.areas.filter((a) => /^ssh2/.test(a.area)).reduce((t, a) => t + a.ms, 0);
      parts.push(`ssh2 ${sec(ssh2)} s of main-thread CPU`);
    }
    return parts.filter(Boolean).join("; ");
  }
  if (/First run/.test(target)) {
    const tt = r.taskTimes;
    const floor = tt ? find(r, "floor", tt.hosts, "first") : undefined;
    const ans = tt ? find(r, "ansible", tt.hosts, "first") : undefined;
    if (floor && ans) {
      const f = stats(floor.samples.map((x) => x.wallMs)).median;
      const a = stats(ans.samples.map((x) => x.wallMs)).median;
      if (a / 15 < f) return `unreachable here: the first run written by hand, with no runner, takes ${sec(f)} s (${fx(a / f)}× faster than stock Ansible); 15× needs ${sec(a / 15)} s. The hosts' own work on ${r.machine.cores} shared cores is the bound`;
    }
    const apt = r.aptInstall;
    if (apt && tt) return `the hosts' \`apt-get install\` alone needs ≥ ${sec((tt.hosts * apt.cpuMs) / r.machine.cores)} s of CPU on these ${r.machine.cores} shared cores: a physical bound on this machine`;
    return null;
  }
  if (/floor/.test(target)) {
    return load ? `${load}; the floor's OpenSSH client starts in milliseconds` : null;
  }
  if (/one-task play/.test(target)) return load;
  return null;
}
