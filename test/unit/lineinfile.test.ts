/**
 * The pure edits behind lineinfile, blockinfile and replace: text and
 * params in, new text and reason out (data-driven, STYLE lesson 12). The
 * lab tests in test/e2e/tasks-files.test.ts prove the writes on real hosts.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { edit as blockinfile, type BlockInFileParams } from "../../tasks/blockinfile.ts";
import { edit as lineinfile, expand, type LineInFileParams } from "../../tasks/lineinfile.ts";
import { edit as replace, type ReplaceParams } from "../../tasks/replace.ts";
import { parseReadText } from "../../tasks/textfile.ts";

const P = "/etc/x";

// [name, before, params (path added), after, reason]
const lineCases: [string, string, Omit<LineInFileParams, "path"> & Record<string, unknown>, string, string][] = [
  ["append to the end", "a\nb\n", { line: "c" }, "a\nb\nc\n", `line added to ${P}`],
  ["exact line present", "a\nc\nb\n", { line: "c" }, "a\nc\nb\n", `line present in ${P}`],
  ["append to an empty file", "", { line: "c" }, "c\n", `line added to ${P}`],
  ["append adds the missing final newline first", "a\nb", { line: "c" }, "a\nb\nc\n", `line added to ${P}`],
  ["regexp replaces the last match", "x=1\ny=2\nx=3\n", { regexp: "^x=", line: "x=9" }, "x=1\ny=2\nx=9\n", `line 3 replaced in ${P}`],
  ["firstmatch replaces the first match", "x=1\ny=2\nx=3\n", { regexp: "^x=", line: "x=9", firstmatch: true }, "x=9\ny=2\nx=3\n", `line 1 replaced in ${P}`],
  ["regexp match already as wanted", "x=1\nx=9\n", { regexp: "^x=", line: "x=9" }, "x=1\nx=9\n", `line 2 of ${P} is as wanted`],
  ["regexp as a RegExp, flags kept", "PermitRootLogin yes\n", { regexp: /^permitrootlogin /i, line: "PermitRootLogin no" }, "PermitRootLogin no\n", `line 1 replaced in ${P}`],
  ["no regexp match: the exact line counts", "a\nPermitRootLogin no\n", { regexp: "^#PermitRootLogin", line: "PermitRootLogin no" }, "a\nPermitRootLogin no\n", `line present in ${P}`],
  ["no regexp match: appended", "a\n", { regexp: "^#?Port ", line: "Port 2222" }, "a\nPort 2222\n", `line added to ${P}`],
  ["insertafter the last match", "[a]\nk=1\n[b]\nk=2\n[a]\n", { line: "n=1", insertafter: /^\[a\]/ }, "[a]\nk=1\n[b]\nk=2\n[a]\nn=1\n", `line added to ${P}`],
  ["insertafter the first match", "[a]\nk=1\n[b]\n[a]\n", { line: "n=1", insertafter: "^\\[a\\]", firstmatch: true }, "[a]\nn=1\nk=1\n[b]\n[a]\n", `line added to ${P} at line 2`],
  ["insertbefore the last match", "a\nb\nc\n", { line: "x", insertbefore: "^[bc]$" }, "a\nb\nx\nc\n", `line added to ${P} at line 3`],
  ["insertbefore BOF", "a\n", { line: "x", insertbefore: "BOF" }, "x\na\n", `line added to ${P} at line 1`],
  ["insertafter EOF", "a\n", { line: "x", insertafter: "EOF" }, "a\nx\n", `line added to ${P}`],
  ["insertafter with no match appends", "a\n", { line: "x", insertafter: "^nothing" }, "a\nx\n", `line added to ${P}`],
  ["insertafter is ignored when the regexp matches", "a\nx=1\n", { regexp: "^x=", line: "x=2", insertafter: "^a" }, "a\nx=2\n", `line 2 replaced in ${P}`],
  ["backrefs expand groups", "#Port 22\n", { regexp: "^#?Port (\\d+)", line: "Port $1", backrefs: true }, "Port 22\n", `line 1 replaced in ${P}`],
  ["backrefs with named groups", "opts=a b\n", { regexp: "^(?<k>\\w+)\\s*=\\s*(?<v>.*)$", line: "$<k> = $<v>", backrefs: true }, "opts = a b\n", `line 1 replaced in ${P}`],
  ["backrefs, no match: nothing inserted", "a\n", { regexp: "^Port (\\d+)", line: "Port $1", backrefs: true }, "a\n", `no line matches /^Port (\\d+)/ in ${P} (backrefs: nothing inserted)`],
  ["without backrefs, $1 is literal", "x\n", { regexp: "^x$", line: "cost $1" }, "cost $1\n", `line 1 replaced in ${P}`],
  ["CRLF lines compare without \\r", "a\r\nb\r\n", { line: "b" }, "a\r\nb\r\n", `line present in ${P}`],
  ["a middle line changed keeps a missing final newline", "a\nb\nc", { regexp: "^b", line: "B" }, "a\nB\nc", `line 2 replaced in ${P}`],
  ["absent by regexp removes every match", "x=1\ny\nx=2\n", { regexp: "^x=", state: "absent" }, "y\n", `2 line(s) removed from ${P}`],
  ["absent by line", "a\nb\na\n", { line: "a", state: "absent" }, "b\n", `2 line(s) removed from ${P}`],
  ["absent, nothing there", "a\n", { line: "z", state: "absent" }, "a\n", `no line to remove in ${P}`],
  ["absent by regexp, nothing there", "a\n", { regexp: "^z", state: "absent" }, "a\n", `no line matching /^z/ in ${P}`],
  ["absent, last line removed", "a\nb\n", { line: "b", state: "absent" }, "a\n", `1 line(s) removed from ${P}`],
  ["absent, everything removed", "a\n", { line: "a", state: "absent" }, "", `1 line(s) removed from ${P}`],
];

for (const [name, before, params, after, reason] of lineCases) {
  test(`lineinfile: ${name}`, () => {
    const r = lineinfile(before, { path: P, ...params } as LineInFileParams);
    assert.is(r.content, after);
    assert.is(r.reason, reason);
    // Idempotent: applying the edit again changes nothing.
    assert.is(lineinfile(r.content, { path: P, ...params } as LineInFileParams).content, r.content);
  });
}

test("lineinfile: a line with a newline is refused", () => {
  assert.throws(() => lineinfile("", { path: P, line: "a\nb" }), /single line/);
});

test("lineinfile: an invalid regexp names the parameter", () => {
  assert.throws(() => lineinfile("", { path: P, regexp: "(", line: "x" }), /^regexp: invalid regular expression "\("/);
});

test("expand: JS replacement syntax", () => {
  const m = /(\w+)=(?<v>\d+)/.exec("key=42")!;
  assert.is(expand("$1 is $<v> ($&) $$1 $3 $10", m), "key is 42 (key=42) $1 $3 key0");
});

test("lineinfile: the types rule out bad combinations", () => {
  // Compile-time checks (tsc runs over test/): each line below must be an error.
  const bad: LineInFileParams[] = [
    // @ts-expect-error: backrefs needs a regexp
    { path: P, line: "x", backrefs: true },
    // @ts-expect-error: insertafter and insertbefore exclude each other
    { path: P, line: "x", insertafter: "a", insertbefore: "b" },
    // @ts-expect-error: absent takes a regexp or a line, not both
    { path: P, regexp: "a", line: "x", state: "absent" },
    // @ts-expect-error: absent has no placement
    { path: P, regexp: "a", state: "absent", insertafter: "EOF" },
    // @ts-expect-error: present needs a line
    { path: P, regexp: "a" },
  ];
  assert.is(bad.length, 5);
});

const M0 = "# BEGIN RUNBOOK MANAGED BLOCK";
const M1 = "# END RUNBOOK MANAGED BLOCK";
const blockCases: [string, string, Omit<BlockInFileParams, "path"> & Record<string, unknown>, string, string][] = [
  ["insert at the end", "a\n", { block: "x\ny\n" }, `a\n${M0}\nx\ny\n${M1}\n`, `block inserted in ${P}`],
  ["insert into an empty file", "", { block: "x" }, `${M0}\nx\n${M1}\n`, `block inserted in ${P}`],
  ["insert after a file without a final newline", "a", { block: "x" }, `a\n${M0}\nx\n${M1}\n`, `block inserted in ${P}`],
  ["up to date", `a\n${M0}\nx\n${M1}\nb\n`, { block: "x" }, `a\n${M0}\nx\n${M1}\nb\n`, `block up to date in ${P}`],
  ["update in place", `a\n${M0}\nold\n${M1}\nb\n`, { block: "new1\nnew2" }, `a\n${M0}\nnew1\nnew2\n${M1}\nb\n`, `block updated in ${P}`],
  ["insertbefore BOF", "a\n", { block: "x", insertbefore: "BOF" }, `${M0}\nx\n${M1}\na\n`, `block inserted in ${P}`],
  ["insertafter the last match", "[s]\na\n[s]\nb\n", { block: "x", insertafter: "^\\[s\\]" }, `[s]\na\n[s]\n${M0}\nx\n${M1}\nb\n`, `block inserted in ${P}`],
  ["insertbefore a match", "a\nb\n", { block: "x", insertbefore: /^b/ }, `a\n${M0}\nx\n${M1}\nb\n`, `block inserted in ${P}`],
  ["placement only matters for a new block", `${M0}\nx\n${M1}\na\n`, { block: "y", insertafter: "^a" }, `${M0}\ny\n${M1}\na\n`, `block updated in ${P}`],
  ["custom marker", "a\n", { block: "x", marker: "<!-- {mark} ntp -->", markerBegin: "start", markerEnd: "stop" }, "a\n<!-- start ntp -->\nx\n<!-- stop ntp -->\n", `block inserted in ${P}`],
  ["two markers, two blocks", `# BEGIN one\n1\n# END one\n`, { block: "2", marker: "# {mark} two" }, `# BEGIN one\n1\n# END one\n# BEGIN two\n2\n# END two\n`, `block inserted in ${P}`],
  ["absent removes the block and markers", `a\n${M0}\nx\n${M1}\nb\n`, { state: "absent" }, "a\nb\n", `block removed from ${P}`],
  ["absent, no block", "a\n", { state: "absent" }, "a\n", `no block in ${P}`],
  ["an empty block removes it, as Ansible", `a\n${M0}\nx\n${M1}\n`, { block: "" }, "a\n", `block removed from ${P}`],
  ["CRLF markers are found", `a\r\n${M0}\r\nx\r\n${M1}\r\n`, { block: "y" }, `a\r\n${M0}\ny\n${M1}\n`, `block updated in ${P}`],
];

for (const [name, before, params, after, reason] of blockCases) {
  test(`blockinfile: ${name}`, () => {
    const r = blockinfile(before, { path: P, ...params } as BlockInFileParams);
    assert.is(r.content, after);
    assert.is(r.reason, reason);
    assert.is(blockinfile(r.content, { path: P, ...params } as BlockInFileParams).content, r.content);
  });
}

test("blockinfile: a marker without {mark} is refused", () => {
  assert.throws(() => blockinfile("", { path: P, block: "x", marker: "# managed" }), /must contain \{mark\}/);
});

const replaceCases: [string, string, Omit<ReplaceParams, "path">, string, string][] = [
  ["every match, multiline", "a=1\nb=1\n", { regexp: "=1$", replace: "=2" }, "a=2\nb=2\n", `2 replacement(s) in ${P}`],
  ["groups", "host a.b\n", { regexp: "^host (\\w+)\\.(\\w+)", replace: "host $2.$1" }, "host b.a\n", `1 replacement(s) in ${P}`],
  ["delete by default", "a # c\nb\n", { regexp: " #.*$" }, "a\nb\n", `1 replacement(s) in ${P}`],
  ["no match", "a\n", { regexp: "z" }, "a\n", `no match for /z/ in ${P}`],
  ["a RegExp keeps its flags", "A a\n", { regexp: /a/i, replace: "b" }, "b b\n", `2 replacement(s) in ${P}`],
  ["matches already as wanted", "a\n", { regexp: "a", replace: "a" }, "a\n", `1 match(es) in ${P} already as wanted`],
  ["after", "x\n[s]\nx\n", { regexp: "^x$", replace: "y", after: "\\[s\\]" }, "x\n[s]\ny\n", `1 replacement(s) in ${P}`],
  ["before", "x\n[s]\nx\n", { regexp: "^x$", replace: "y", before: "\\[s\\]" }, "y\n[s]\nx\n", `1 replacement(s) in ${P}`],
  ["after and before", "x\n<a>\nx\nx\n</a>\nx\n", { regexp: "^x$", replace: "y", after: "<a>", before: "</a>" }, "x\n<a>\ny\ny\n</a>\nx\n", `2 replacement(s) in ${P}`],
  ["after does not match", "x\n", { regexp: "x", replace: "y", after: "nope" }, "x\n", `after/before do not match in ${P}`],
  ["UTF-8", "café crème\n", { regexp: "é", replace: "e" }, "cafe crème\n", `1 replacement(s) in ${P}`],
];

for (const [name, before, params, after, reason] of replaceCases) {
  test(`replace: ${name}`, () => {
    const r = replace(before, { path: P, ...params });
    assert.is(r.content, after);
    assert.is(r.reason, reason);
  });
}

test("parseReadText: path with a newline, attributes, base64 content", () => {
  const out = `/etc/a\nb\0file\t640\troot\tadm\t3\n${Buffer.from("hé").toString("base64")}\n`;
  const r = parseReadText(out);
  assert.is(r.path, "/etc/a\nb");
  assert.equal(r.state, { type: "file", mode: "640", owner: "root", group: "adm", size: 3 });
  assert.is(r.content?.toString("utf8"), "hé");
  assert.equal(parseReadText("/x\0absent\n"), { path: "/x", state: { type: "absent" }, content: null });
});

test.run();
