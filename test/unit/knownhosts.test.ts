/** known_hosts: plain, hashed and port entries, markers, verdicts, fingerprints, recording. */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ssh2 from "ssh2";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  appendKnownHost,
  checkHostKey,
  describeKey,
  fingerprint,
  hashHostName,
  knownHostName,
  loadKnownHosts,
  parseKnownHosts,
  preferredHostKeyAlgorithms,
} from "../../runner/connection/knownhosts.ts";

/** A fresh public key as known_hosts writes it ("type base64") and its blob. */
function newKey(type: "ed25519" | "ecdsa" = "ed25519"): { line: string; blob: Buffer } {
  const pub = (type === "ecdsa" ? ssh2.utils.generateKeyPairSync("ecdsa", { bits: 256 }) : ssh2.utils.generateKeyPairSync("ed25519")).public.trim();
  const [kind, b64] = pub.split(" ");
  return { line: `${kind} ${b64}`, blob: Buffer.from(b64!, "base64") };
}

const A = newKey();
const B = newKey();
const E = newKey("ecdsa");

test("knownHostName: [host]:port only for ports other than 22", () => {
  assert.is(knownHostName("10.0.0.1"), "10.0.0.1");
  assert.is(knownHostName("10.0.0.1", 22), "10.0.0.1");
  assert.is(knownHostName("tnode1", 2222), "[tnode1]:2222");
});

test("plain entries: name,addr lists; a changed key; an unknown host", () => {
  const entries = parseKnownHosts(`# lab\n\ntnode1,10.0.0.1 ${A.line} root@tnode1\ntnode2 ${B.line}\n`, "/kh");
  assert.is(entries.length, 2);
  assert.equal(checkHostKey(entries, ["10.0.0.1"], A.blob).status, "ok");
  assert.equal(checkHostKey(entries, ["TNODE1"], A.blob).status, "ok"); // names compare without case
  const changed = checkHostKey(entries, ["10.0.0.1", "tnode1"], B.blob);
  assert.is(changed.status, "changed");
  if (changed.status === "changed") {
    assert.is(changed.expected.length, 1);
    assert.is(changed.expected[0]!.file, "/kh");
    assert.is(changed.expected[0]!.line, 3);
  }
  assert.is(checkHostKey(entries, ["10.0.0.9"], A.blob).status, "unknown");
});

test("a key of another type recorded for the host counts as changed", () => {
  const entries = parseKnownHosts(`tnode1 ${E.line}\n`, "/kh");
  assert.is(checkHostKey(entries, ["tnode1"], A.blob).status, "changed");
  // ...and the connection prefers that recorded type, so this is rare in practice.
  assert.equal(preferredHostKeyAlgorithms(entries)?.slice(0, 2), ["ecdsa-sha2-nistp256", "ssh-ed25519"]);
  assert.is(preferredHostKeyAlgorithms([]), undefined);
  const rsa = parseKnownHosts(`x ${ssh2.utils.generateKeyPairSync("rsa", { bits: 1024 }).public}\n`, "/kh");
  assert.equal(preferredHostKeyAlgorithms(rsa)?.slice(0, 3), ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]);
});

test("port entries: [host]:port matches only that port", () => {
  const entries = parseKnownHosts(`[10.0.0.1]:2222 ${A.line}\n10.0.0.1 ${B.line}\n`, "/kh");
  assert.is(checkHostKey(entries, [knownHostName("10.0.0.1", 2222)], A.blob).status, "ok");
  assert.is(checkHostKey(entries, [knownHostName("10.0.0.1", 2222)], B.blob).status, "changed");
  assert.is(checkHostKey(entries, [knownHostName("10.0.0.1", 22)], B.blob).status, "ok");
  assert.is(checkHostKey(entries, [knownHostName("10.0.0.1", 2200)], A.blob).status, "unknown");
});

test("hashed entries (ours and ssh-keygen -H's) match by HMAC", () => {
  const dir = mkdtempSync(join(tmpdir(), "rb-kh-"));
  try {
    const file = join(dir, "known_hosts");
    writeFileSync(file, `tnode1,10.0.0.1 ${A.line}\n[tnode2]:2222 ${B.line}\n`);
    execFileSync("ssh-keygen", ["-q", "-H", "-f", file], { stdio: "ignore" });
    const text = readFileSync(file, "utf8");
    assert.not.match(text, /tnode1|10\.0\.0\.1/);
    const entries = loadKnownHosts([file]);
    assert.is(entries.length, 3); // ssh-keygen writes one hashed line per name
    assert.ok(entries.every((e) => e.hashed));
    assert.is(checkHostKey(entries, ["tnode1"], A.blob).status, "ok");
    assert.is(checkHostKey(entries, ["10.0.0.1"], A.blob).status, "ok");
    assert.is(checkHostKey(entries, ["[tnode2]:2222"], B.blob).status, "ok");
    assert.is(checkHostKey(entries, ["tnode2"], B.blob).status, "unknown");
    assert.is(checkHostKey(entries, ["10.0.0.1"], B.blob).status, "changed");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const ours = parseKnownHosts(`${hashHostName("odin")} ${A.line}\n`, "/kh");
  assert.is(checkHostKey(ours, ["odin"], A.blob).status, "ok");
  assert.is(checkHostKey(ours, ["odin2"], A.blob).status, "unknown");
});

test("wildcards and negation in host fields", () => {
  const entries = parseKnownHosts(`*.lab.example,!bad.lab.example ${A.line}\n`, "/kh");
  assert.is(checkHostKey(entries, ["n1.lab.example"], A.blob).status, "ok");
  assert.is(checkHostKey(entries, ["bad.lab.example"], A.blob).status, "unknown");
});

test("markers: @revoked refuses the key anywhere; @cert-authority is skipped; junk lines are skipped", () => {
  const text = [
    `@revoked * ${B.line}`,
    `@cert-authority *.lab ${E.line}`,
    `@unknown-marker tnode1 ${E.line}`,
    "tnode1 ssh-ed25519 !!!notbase64",
    "tnode1 ssh-rsa " + A.line.split(" ")[1], // type field disagrees with the blob
    "lonely-field",
    `tnode1 ${A.line}`,
  ].join("\n");
  const entries = parseKnownHosts(text, "/kh");
  assert.is(entries.length, 3);
  assert.is(checkHostKey(entries, ["tnode1"], A.blob).status, "ok");
  const revoked = checkHostKey(entries, ["elsewhere"], B.blob);
  assert.is(revoked.status, "revoked");
  if (revoked.status === "revoked") assert.is(revoked.entry.line, 1);
  // The CA line is no host key of x.lab.
  assert.is(checkHostKey(entries, ["x.lab"], E.blob).status, "unknown");
});

test("fingerprints match ssh-keygen -l", () => {
  const dir = mkdtempSync(join(tmpdir(), "rb-kh-"));
  try {
    const file = join(dir, "k.pub");
    writeFileSync(file, `${A.line}\n`);
    const out = execFileSync("ssh-keygen", ["-l", "-E", "sha256", "-f", file], { encoding: "utf8" });
    assert.ok(out.includes(fingerprint(A.blob)), `${out} vs ${fingerprint(A.blob)}`);
    assert.match(describeKey(A.blob), /^ED25519 key SHA256:[A-Za-z0-9+/]{43}$/);
    assert.match(describeKey(E.blob), /^ECDSA key SHA256:/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("appendKnownHost creates the file and its directory, and keeps lines whole", () => {
  const dir = mkdtempSync(join(tmpdir(), "rb-kh-"));
  try {
    const file = join(dir, "sub/known_hosts");
    appendKnownHost(file, ["tnode1", "10.0.0.1"], A.blob);
    writeFileSync(file, readFileSync(file, "utf8") + `odin ${B.line}`); // no final newline
    appendKnownHost(file, ["[tnode2]:2222"], B.blob);
    const lines = readFileSync(file, "utf8").split("\n");
    assert.is(lines[0], `tnode1,10.0.0.1 ${A.line}`);
    assert.is(lines[1], `odin ${B.line}`);
    assert.is(lines[2], `[tnode2]:2222 ${B.line}`);
    assert.is(checkHostKey(loadKnownHosts([file]), ["[tnode2]:2222"], B.blob).status, "ok");
    // Missing files are simply empty.
    assert.equal(loadKnownHosts([join(dir, "none")]), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
