/** Without root the lab cannot run: its suites must report skips, never passes. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { run } from "./sh.ts";

test("lab suites run as an unprivileged user are reported as skipped, with the reason", async () => {
  if (process.getuid?.() !== 0) {
    // Already unprivileged: this very process shows the behaviour.
    const { labUnavailable } = await import("./lab.ts");
    assert.match((await labUnavailable()) ?? "", /needs root/);
    return;
  }
  const r = await run(
    "setpriv",
    ["--reuid=65534", "--regid=65534", "--clear-groups", "--", process.execPath, "--import", "tsx", "node_modules/uvu/bin.js", "test/lab", "^lab\\.test\\.ts$"],
    { allowFail: true },
  );
  const out = (r.stdout + r.stderr).replace(/\x1b\[[0-9;]*m/g, "");
  assert.match(out, /SKIP lab: 3 hosts: the lab needs root/);
  assert.match(out, /Total:\s+0\b/);
  assert.match(out, /Passed:\s+0\b/);
  const skipped = Number(out.match(/Skipped:\s+(\d+)/)?.[1]);
  assert.ok(skipped >= 10, `expected every lab test skipped, got ${skipped}\n${out}`);
});

test.run();
