/** ~/.ssh/config parsing: OpenSSH's first-value-wins, patterns, Include, Match, tokens. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { sshTarget, uncheckedHostKeys } from "../../runner/connection/index.ts";
import { matchPattern, matchPatternList } from "../../runner/connection/hostmatch.ts";
import { parseProxyJump, proxyJumpTarget, resolveSshConfig, sshOption } from "../../runner/connection/sshconfig.ts";

const HOME = "/home/ada";
const opts = { home: HOME, localUser: "ada" };
const resolve = (text: string, host: string) => resolveSshConfig({ text }, host, opts);

test("host patterns: wildcards, negation, case", () => {
  assert.ok(matchPattern("tnode*", "tnode12"));
  assert.ok(matchPattern("tnode?", "TNODE3"));
  assert.not.ok(matchPattern("tnode?", "tnode12"));
  assert.ok(matchPattern("*.lab.*", "a.lab.example"));
  assert.ok(matchPattern("a*b*c", "axxbyyc"));
  assert.not.ok(matchPattern("a*b*c", "axxbyy"));
  assert.is(matchPatternList(["tnode*", "!tnode3"], "tnode2"), 1);
  assert.is(matchPatternList(["!tnode3", "tnode*"], "tnode3"), -1); // negation wins wherever it stands
  assert.is(matchPatternList(["!tnode3"], "odin"), 0); // a negation alone matches nothing
});

test("first value wins; specific blocks before Host *", () => {
  const cfg = resolve(
    [
      "# comment",
      "Host tnode1",
      "  HostName 10.0.0.11",
      "  User root",
      "Host tnode*",
      "  HostName %h.lab.example",
      "  User admin",
      "  Port 2222",
      "Host *",
      "  User nobody",
      "  Port 22",
      "  StrictHostKeyChecking accept-new",
    ].join("\n"),
    "tnode1",
  );
  assert.equal(cfg, { hostName: "10.0.0.11", user: "root", port: 2222, identityFiles: [], strictHostKeyChecking: "accept-new" });
  const two = resolve("Host tnode*\n  HostName %h.lab.example\nHost *\n  User nobody\n", "tnode2");
  assert.equal(two, { hostName: "tnode2.lab.example", user: "nobody", identityFiles: [] });
});

test("several patterns on one Host line, with negation", () => {
  const text = "Host tnode* build !tnode3\n  User clusteradm\nHost *\n  User root\n";
  assert.is(resolve(text, "tnode1").user, "clusteradm");
  assert.is(resolve(text, "build").user, "clusteradm");
  assert.is(resolve(text, "tnode3").user, "root");
  assert.is(resolve(text, "odin").user, "root");
});

test("lines before any Host apply to every host; Keyword=value and quotes", () => {
  const cfg = resolve('User=early\nIdentityFile "~/.ssh/my key"\nHost x\n  User late\n', "x");
  assert.is(cfg.user, "early");
  assert.equal(cfg.identityFiles, [`${HOME}/.ssh/my key`]);
});

test("IdentityFile accumulates in order, with ~ and % tokens", () => {
  const cfg = resolve(
    "Host tnode1\n  HostName 10.0.0.11\n  User root\n  IdentityFile ~/.ssh/%h_%r\n  IdentitiesOnly yes\nHost *\n  IdentityFile %d/.ssh/id_%u\n  IdentityFile /keys/%n.key\n  IdentityFile /keys/100%%\n",
    "tnode1",
  );
  assert.equal(cfg.identityFiles, [`${HOME}/.ssh/10.0.0.11_root`, `${HOME}/.ssh/id_ada`, "/keys/tnode1.key", "/keys/100%"]);
  assert.is(cfg.identitiesOnly, true);
});

test("ProxyJump: first wins, none, chains", () => {
  assert.is(resolve("Host a\n  ProxyJump admin@bastion:2222,inner\nHost *\n  ProxyJump other\n", "a").proxyJump, "admin@bastion:2222,inner");
  assert.is(resolve("Host a\n  ProxyJump none\nHost *\n  ProxyJump other\n", "a").proxyJump, undefined);
  assert.is(resolve("Host a\n  ProxyCommand nc %h %p\nHost *\n  ProxyJump other\n", "a").proxyJump, undefined);
  assert.equal(parseProxyJump("admin@bastion:2222,inner"), [{ user: "admin", host: "bastion", port: 2222 }, { host: "inner" }]);
  assert.equal(parseProxyJump("ssh://u@[fe80::1]:22"), [{ user: "u", host: "fe80::1", port: 22 }]);
  assert.equal(parseProxyJump("none"), []);
  assert.throws(() => parseProxyJump("a@b:notaport"), /invalid ProxyJump hop/);
  const nested = proxyJumpTarget("admin@bastion:2222,inner", (h) => ({ host: h.host, address: h.host, user: h.user, port: h.port, knownHostsFiles: [] }));
  assert.equal(nested, {
    host: "inner", address: "inner", user: undefined, port: undefined, knownHostsFiles: [],
    jump: { host: "bastion", address: "bastion", user: "admin", port: 2222, knownHostsFiles: [] },
  });
  assert.is(proxyJumpTarget("none", () => assert.unreachable("no hops") as never), undefined);
});

test("UserKnownHostsFile takes several files on one line; none means no file", () => {
  assert.equal(resolve("Host *\n  UserKnownHostsFile ~/.ssh/kh1 /etc/kh2\n", "x").userKnownHostsFiles, [`${HOME}/.ssh/kh1`, "/etc/kh2"]);
  assert.equal(resolve("UserKnownHostsFile none\n", "x").userKnownHostsFiles, []);
  assert.is(resolve("StrictHostKeyChecking no\n", "x").strictHostKeyChecking, "no");
  assert.is(resolve("StrictHostKeyChecking ask\n", "x").strictHostKeyChecking, "ask");
  assert.is(resolve("ConnectTimeout 7\n", "x").connectTimeout, 7);
});

test("Match: host (after HostName), originalhost, user, all, negation, unsupported exec", () => {
  const text = [
    "Host db",
    "  HostName 10.1.1.5",
    "Match host 10.1.*",
    "  User internal",
    "Match originalhost web !user internal",
    "  Port 8022",
    "Match exec \"true\"",
    "  Port 9999",
    "Match all",
    "  Port 22",
  ].join("\n");
  assert.equal(resolve(text, "db"), { hostName: "10.1.1.5", user: "internal", port: 22, identityFiles: [] });
  assert.equal(resolve(text, "web"), { port: 8022, identityFiles: [] });
});

test("a bad Port is an error with file and line", () => {
  assert.throws(() => resolveSshConfig({ text: "Host *\n  Port http\n", path: "/x/config" }, "a", opts), /\/x\/config:2: Port must be 1-65535/);
});

test("Include: relative to ~/.ssh, globs sorted, conditional inside Host, state restored after", () => {
  const home = mkdtempSync(join(tmpdir(), "rb-sshcfg-"));
  try {
    mkdirSync(join(home, ".ssh/config.d"), { recursive: true });
    writeFileSync(join(home, ".ssh/config.d/10-lab"), "Host tnode*\n  User labroot\n  Port 2201\n");
    writeFileSync(join(home, ".ssh/config.d/20-more"), "Host tnode*\n  Port 2202\n  IdentityFile ~/.ssh/lab\n");
    writeFileSync(join(home, ".ssh/config.d/.hidden"), "Host *\n  User hidden\n");
    writeFileSync(join(home, ".ssh/only-for-build"), "User builder\n");
    writeFileSync(
      join(home, ".ssh/config"),
      [
        "Include config.d/*",
        "Host build",
        "  Include only-for-build",
        "  Port 2300",
        "Include ~/.ssh/missing-is-fine",
        "Host *",
        "  User fallback",
      ].join("\n"),
    );
    const o = { home, localUser: "ada" };
    assert.equal(resolveSshConfig(join(home, ".ssh/config"), "tnode1", o), {
      user: "labroot",
      port: 2201,
      identityFiles: [join(home, ".ssh/lab")],
    });
    // Included inside `Host build`: applies there, and the block's own lines
    // after the Include still apply (OpenSSH restores the state).
    assert.equal(resolveSshConfig(join(home, ".ssh/config"), "build", o), { user: "builder", port: 2300, identityFiles: [] });
    assert.equal(resolveSshConfig(join(home, ".ssh/config"), "odin", o), { user: "fallback", identityFiles: [] });
    // A missing config file is no settings, not an error.
    assert.equal(resolveSshConfig(join(home, "nope"), "odin", o), { identityFiles: [] });
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test("Include recursion is bounded", () => {
  const home = mkdtempSync(join(tmpdir(), "rb-sshcfg-"));
  try {
    mkdirSync(join(home, ".ssh"));
    writeFileSync(join(home, ".ssh/config"), "Include config\n");
    assert.throws(() => resolveSshConfig(join(home, ".ssh/config"), "x", { home }), /nested more than 16 deep/);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test("ssh -o options: one mapping with the config file; they win over it; unsupported ones named", () => {
  assert.is(sshOption("StrictHostKeyChecking=no"), "StrictHostKeyChecking no");
  assert.is(sshOption("ProxyCommand=ssh -W %h:%p bastion"), "ProxyCommand ssh -W %h:%p bastion");
  assert.is(sshOption("LogLevel=ERROR"), undefined);
  assert.throws(() => sshOption("ForwardAgent=yes"), /does not support the ssh option ForwardAgent/);
  assert.throws(() => sshOption("Port=http"), /Port must be 1-65535/);
  const cfg = resolveSshConfig({ text: "Host *\n  StrictHostKeyChecking yes\n  ServerAliveInterval 30\n  User ada\n" }, "x", {
    ...opts,
    options: ["StrictHostKeyChecking no", "UserKnownHostsFile /dev/null"],
  });
  assert.equal(cfg, { identityFiles: [], strictHostKeyChecking: "no", userKnownHostsFiles: ["/dev/null"], serverAliveInterval: 30, user: "ada" });
  assert.equal(resolveSshConfig("/nonexistent/config", "x", { ...opts, options: ["ConnectTimeout 3"] }), { identityFiles: [], connectTimeout: 3 }, "options apply without a config file");
});

test("sshTarget: inventory ssh options drive host-key checking, known_hosts, IdentitiesOnly, keepalive, ProxyCommand", () => {
  const conn = {
    address: "10.0.0.5",
    local: false,
    sshOptions: ["StrictHostKeyChecking no", "UserKnownHostsFile /dev/null", "IdentitiesOnly yes", "ServerAliveInterval 5", "ProxyCommand nc %h %p"],
  };
  const t = sshTarget("web1", conn, { acceptNewHostKeys: false, vars: {}, sshConfig: "none" });
  assert.is(t.checkHostKeys, false);
  assert.equal(t.knownHostsFiles, ["/dev/null"]);
  assert.is(t.agent, "");
  assert.is(t.keepaliveMs, 5000);
  assert.is(t.proxyCommand, "nc %h %p");
  const strict = sshTarget("web1", { ...conn, sshOptions: ["StrictHostKeyChecking accept-new"] }, { acceptNewHostKeys: false, vars: {}, sshConfig: "none" });
  assert.equal([strict.checkHostKeys, strict.acceptNewHostKeys], [true, true]);
  const host = (name: string, sshOptions?: string[]) => ({ name, groups: [], vars: {}, varSources: {}, source: { file: "x" }, conn: { address: name, local: false, sshOptions } });
  assert.equal(uncheckedHostKeys([host("a", conn.sshOptions), host("b")], { acceptNewHostKeys: false, sshConfig: "none" }), ["a"]);
});

test.run();
