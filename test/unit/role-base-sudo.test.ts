/**
 * The pure parts of roles base-os and sudo: address parsing, Slackware's
 * rc.inet1.conf indexes, live state from `ip -o`, the sshd settings, the
 * sudoers helpers. test/e2e/role-base-sudo.test.ts proves the roles on lab hosts.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { edit as lineinfile } from "../../tasks/lineinfile.ts";
import { sshdLine, sshdSettings } from "../../roles/base-os/index.ts";
import { liveAddressPlan, normCidr, parseAddresses, parseLive, rcInet1Index } from "../../roles/base-os/network.ts";
import { atIncludeDirSupported, checkSecurePath, sudoGroupFor } from "../../roles/sudo/index.ts";

test("parseAddresses: split by family, v6 compressed, duplicates dropped, order kept", () => {
  assert.equal(parseAddresses({ eth1: ["192.168.11.1/30", "fd00:0:0::1/64", "192.168.11.1/30"], lo: ["10.50.1.1/32"] }), [
    { name: "eth1", v4: ["192.168.11.1/30"], v6: ["fd00::1/64"] },
    { name: "lo", v4: ["10.50.1.1/32"], v6: [] },
  ]);
});

test("parseAddresses: bad input names the interface and the value", () => {
  assert.throws(() => parseAddresses({ eth1: ["192.168.11.1"] }), /addresses\.eth1: "192\.168\.11\.1" is not ADDRESS\/PREFIX/);
  assert.throws(() => parseAddresses({ eth1: ["192.168.11.1/33"] }), /prefix \/33 is too long/);
  assert.throws(() => parseAddresses({ eth1: ["fd00::1/129"] }), /prefix \/129 is too long/);
  assert.throws(() => parseAddresses({ "eth1; reboot": ["10.0.0.1/8"] }), /invalid interface name/);
  assert.throws(() => normCidr("tnode1/24", "eth1"), /not ADDRESS\/PREFIX/);
});

test("rcInet1Index: ethN only", () => {
  assert.is(rcInet1Index("eth0"), 0);
  assert.is(rcInet1Index("eth12"), 12);
  assert.is(rcInet1Index("lo"), null);
  assert.is(rcInet1Index("enp1s0"), null);
});

test("parseLive: links with their UP flag, addresses by interface (veth @ suffix, peer forms skipped)", () => {
  const text = [
    "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000\\    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00",
    "3: eth1@if12: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000\\    link/ether 66:00:25:23:39:76 brd ff:ff:ff:ff:ff:ff link-netns x",
    "4: eth2@if13: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN mode DEFAULT group default qlen 1000\\    link/ether c6:61:ac:a2:9c:9a brd ff:ff:ff:ff:ff:ff",
    "---",
    "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever",
    "1: lo    inet 10.50.1.1/32 scope global lo\\       valid_lft forever preferred_lft forever",
    "3: eth1    inet 192.168.11.1/30 brd 192.168.11.3 scope global eth1\\       valid_lft forever preferred_lft forever",
    "3: eth1    inet 10.9.9.1 peer 10.9.9.2/32 scope global eth1\\       valid_lft forever preferred_lft forever",
    "3: eth1    inet6 fe80::6400:25ff:fe23:3976/64 scope link \\       valid_lft forever preferred_lft forever",
    "",
  ].join("\n");
  const live = parseLive(text);
  assert.equal([...live.keys()], ["lo", "eth1", "eth2"]);
  assert.equal([...live.get("lo")!.addresses], ["127.0.0.1/8", "10.50.1.1/32"]);
  assert.equal([...live.get("eth1")!.addresses], ["192.168.11.1/30", "fe80::6400:25ff:fe23:3976/64"]);
  assert.is(live.get("eth1")!.up, true);
  assert.is(live.get("eth2")!.up, false);
  // Global scope only: not lo's 127.0.0.1/8 nor a link-local address.
  assert.equal([...live.get("lo")!.global], ["10.50.1.1/32"]);
  assert.equal([...live.get("eth1")!.global], ["192.168.11.1/30"]);

  const mgmt = "eth0";
  const wanted = parseAddresses({ eth1: ["192.168.11.5/30"], eth2: ["192.168.13.2/30"], lo: ["10.50.1.1/32"], eth0: ["10.0.0.9/24"], eth7: ["10.7.0.1/24"] });
  const leave = liveAddressPlan(wanted, live, mgmt, false);
  assert.equal(leave.steps, [
    { title: "eth1: add 192.168.11.5/30", cmd: "ip addr add 192.168.11.5/30 dev eth1" },
    { title: "eth2: link up, add 192.168.13.2/30", cmd: "ip link set dev eth2 up && ip addr add 192.168.13.2/30 dev eth2" },
  ]);
  assert.equal(leave.notes, [
    { warn: true, text: "base-os: eth1 also carries 192.168.11.1/30, not in addresses (left as is; pruneAddresses: true removes it)" },
    { warn: false, text: "base-os: eth0 carries the default route (the management link): its addresses are configured for the next boot only" },
    { warn: false, text: "base-os: interface eth7 does not exist now: its addresses are configured for the next boot only" },
  ]);
  const prune = liveAddressPlan(wanted, live, mgmt, true);
  assert.equal(prune.steps[0], { title: "eth1: remove 192.168.11.1/30, add 192.168.11.5/30", cmd: "ip addr del 192.168.11.1/30 dev eth1 && ip addr replace 192.168.11.5/30 dev eth1" });
  assert.is(prune.notes.filter((n) => n.warn).length, 0);
  // Converged: nothing to do, nothing to say.
  assert.equal(liveAddressPlan(parseAddresses({ eth1: ["192.168.11.1/30"], lo: ["10.50.1.1/32"] }), live, mgmt, true), { steps: [], notes: [] });
});

test("sshdSettings: no password logins by default; settings override by keyword, case-insensitively", () => {
  assert.equal(sshdSettings({}), [
    ["PasswordAuthentication", "no"],
    ["KbdInteractiveAuthentication", "no"],
  ]);
  assert.equal(sshdSettings({ permitRootLogin: "prohibit-password", settings: { passwordauthentication: "yes", X11Forwarding: "no" } }), [
    ["passwordauthentication", "yes"],
    ["KbdInteractiveAuthentication", "no"],
    ["PermitRootLogin", "prohibit-password"],
    ["X11Forwarding", "no"],
  ]);
  assert.throws(() => sshdSettings({ settings: { "Port 22\nPermitRootLogin": "yes" } }), /invalid keyword/);
  assert.throws(() => sshdSettings({ settings: { Banner: "a\nb" } }), /one non-empty line/);
});

test("sshd_config edit as base-os makes it: the commented default becomes the setting, a new one goes before Match", () => {
  const edit = (text: string, key: string, value: string) => lineinfile(text, sshdLine(key, value)).content;
  const debian = "Include /etc/ssh/sshd_config.d/*.conf\n#PasswordAuthentication yes\n#PermitEmptyPasswords no\nMatch User anoncvs\n\tPasswordAuthentication yes\n";
  assert.is(edit(debian, "PasswordAuthentication", "no"), debian.replace("#PasswordAuthentication yes", "PasswordAuthentication no"));
  assert.is(edit(debian, "X11Forwarding", "no"), debian.replace("Match User", "X11Forwarding no\nMatch User"));
  assert.is(edit("Port 22\n", "PasswordAuthentication", "no"), "Port 22\nPasswordAuthentication no\n");
});

test("sudo helpers: the group per family, @includedir from 1.9.1, secure_path checks", () => {
  assert.is(sudoGroupFor({ os: { family: "debian" } } as never), "sudo");
  assert.is(sudoGroupFor({ os: { family: "slackware" } } as never), "wheel");
  assert.is(atIncludeDirSupported("1.9.13p3"), true);
  assert.is(atIncludeDirSupported("1.9.1"), true);
  assert.is(atIncludeDirSupported("1.9.0"), false);
  assert.is(atIncludeDirSupported("1.8.31"), false);
  assert.is(atIncludeDirSupported(""), false);
  assert.is(checkSecurePath(["/usr/bin", "/opt/go/bin"]), null);
  assert.match(checkSecurePath(["opt/go/bin"]) ?? "", /not an absolute path/);
  assert.match(checkSecurePath(['/opt/"x']) ?? "", /cannot take/);
  assert.match(checkSecurePath(["/a:/b"]) ?? "", /cannot take/);
});

test.run();
