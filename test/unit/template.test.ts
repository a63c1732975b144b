/**
 * Template rendering (nunjucks and mustache) and the script task's command
 * line, without a lab: output, Ansible-like whitespace, strict undefined
 * errors naming file and line.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { scriptCommand, shebang } from "../../tasks/script.ts";
import { engineFor, renderTemplate, TemplateError, type TemplateEngine, type TemplateParams } from "../../tasks/template.ts";

const dir = mkdtempSync(join(tmpdir(), "rb-tpl-"));
writeFileSync(join(dir, "inc.njk"), "included {{ who }}\n  {{ nope }}\n");
writeFileSync(join(dir, "part.mustache"), "p1\n{{ missing }}\n");
writeFileSync(join(dir, "ok.mustache"), "[{{ who }}]");
test.after(() => rmSync(dir, { recursive: true, force: true }));

const src = (name: string) => ({ path: join(dir, name), name: `templates/${name}` });

// [engine, template, view, output]
const renders: [TemplateEngine, string, Record<string, unknown>, string][] = [
  ["nunjucks", "server {{ s }}\n", { s: "a" }, "server a\n"],
  ["nunjucks", "{% for s in servers %}\nserver {{ s }} iburst\n{% endfor %}\n", { servers: ["a", "b"] }, "server a iburst\nserver b iburst\n"],
  // lstrip_blocks off, as Ansible: indentation before a block tag stays.
  ["nunjucks", "x\n  {% if on %}\ny\n  {% endif %}\n", { on: true }, "x\n  y\n  "],
  ["nunjucks", "{{ '<&>' }} {{ v }}", { v: "a&b" }, "<&> a&b"],
  ["nunjucks", "{{ missing | default('d') }} {% if missing is defined %}x{% endif %}", {}, "d "],
  ["nunjucks", "{{ facts.os.id }}", { facts: { os: { id: "slackware" } } }, "slackware"],
  ["nunjucks", "{% include 'ok.njk' ignore missing %}end", {}, "end"],
  ["mustache", "{{#servers}}\nserver {{.}}\n{{/servers}}\n", { servers: ["a", "b"] }, "server a\nserver b\n"],
  ["mustache", "{{ v }} {{{ v }}} {{& v }}", { v: "a&<b>" }, "a&<b> a&<b> a&<b>"],
  ["mustache", "{{#on}}yes{{/on}}{{^off}} no{{/off}} {{a.b}}", { on: true, off: false, a: { b: 0 } }, "yes no 0"],
  ["mustache", "{{#list}}{{name}}:{{top}} {{/list}}", { top: "t", list: [{ name: "x" }, { name: "y" }] }, "x:t y:t "],
  ["mustache", "{{> ok}}", { who: "me" }, "[me]"],
];

for (const [engine, text, view, out] of renders) {
  test(`${engine}: ${JSON.stringify(text)}`, async () => {
    assert.is(await renderTemplate(engine, text, view, src(engine === "nunjucks" ? "t.njk" : "t.mustache")), out);
  });
}

// [engine, template, view, message]
const errors: [TemplateEngine, string, Record<string, unknown>, string][] = [
  ["nunjucks", "a\nb\n  {{ servres }}\n", { servers: [] }, 'templates/t.njk:3: undefined variable "servres" (did you mean "servers"?)'],
  ["nunjucks", "{{ ntp.servres }}", { ntp: { servers: [] } }, 'templates/t.njk:1: undefined variable "ntp.servres" (did you mean "servers"?)'],
  ["nunjucks", "a\n{{ x | defualt('y') }}\n", {}, 'templates/t.njk:2: filter not found: defualt (did you mean "default"?)'],
  ["nunjucks", "{% if on %}\n\n{{ v | uper }}{% endif %}", { on: true, v: "x" }, 'templates/t.njk:3: filter not found: uper (did you mean "upper"?)'],
  ["nunjucks", "{{ v | frobnicate }}", { v: "x" }, "templates/t.njk:1: filter not found: frobnicate"],
  ["nunjucks", "{{ a.b.c }}", { a: {} }, 'templates/t.njk:1: undefined variable "a.b"'],
  ["nunjucks", "{% for x in xs %}\n{{ x.naem }}\n{% endfor %}", { xs: [{ name: 1 }] }, 'templates/t.njk:2: undefined variable "x.naem"'],
  ["nunjucks", "a\n{% if %}", {}, "templates/t.njk:2: unexpected token: %}"],
  ["nunjucks", "{% include 'inc.njk' %}", { who: "me" }, `${join(dir, "inc.njk")}:2: undefined variable "nope"`],
  ["mustache", "a\n\n{{ servres }}\n", { servers: [] }, 'templates/t.mustache:3: undefined variable "servres" (did you mean "servers"?)'],
  ["mustache", "{{#list}}\n{{name}}\n{{naem}}\n{{/list}}", { list: [{ name: "x", naem: 1 }, { name: "y" }] }, 'templates/t.mustache:3: undefined variable "naem" (did you mean "name"?)'],
  ["mustache", "{{#servres}}x{{/servres}}", {}, 'templates/t.mustache:1: undefined variable "servres"'],
  ["mustache", "{{a.c}}", { a: { b: 1 } }, 'templates/t.mustache:1: undefined variable "a.c"'],
  ["mustache", "x\n{{> part}}", {}, 'part.mustache:2: undefined variable "missing"'],
  ["mustache", "{{> nothere}}", {}, `templates/t.mustache: partial "nothere" not found (${join(dir, "nothere.mustache")})`],
  ["mustache", "a\n{{#list}}\n", { list: [] }, 'templates/t.mustache:2: Unclosed section "list"'],
];

for (const [engine, text, view, message] of errors) {
  test(`${engine} error: ${message}`, async () => {
    try {
      await renderTemplate(engine, text, view, src(engine === "nunjucks" ? "t.njk" : "t.mustache"));
    } catch (err) {
      assert.instance(err, TemplateError);
      assert.is((err as Error).message, message);
      return;
    }
    assert.unreachable("expected a TemplateError");
  });
}

test("engineFor: by extension", () => {
  assert.is(engineFor("a/ntp.conf.njk"), "nunjucks");
  assert.is(engineFor("a/ntp.conf.J2"), "nunjucks");
  assert.is(engineFor("a/x.mustache"), "mustache");
  assert.throws(() => engineFor("a/x.conf"), /unknown template type/);
});

test("template: a role passes its typed params as vars", () => {
  interface NtpParams {
    servers: string[];
  }
  const p: NtpParams = { servers: ["a"] };
  // An interface has no index signature: `vars` must still accept it (compile-time check).
  const params: TemplateParams = { src: new URL("file:///x/ntp.conf.njk"), dest: "/etc/ntp.conf", vars: p };
  assert.is(params.vars, p);
});

test("script: shebang as Linux reads it", () => {
  assert.equal(shebang("#!/bin/bash\necho\n"), ["/bin/bash"]);
  assert.equal(shebang("#! /usr/bin/env python3 -u \r\nx"), ["/usr/bin/env", "python3 -u"]);
  assert.is(shebang("echo hi\n"), undefined);
});

test("script: command line quotes interpreter, args, cwd and env", () => {
  assert.is(scriptCommand(["/bin/sh"], {}), "cat | /bin/sh /dev/fd/3 3<&0 </dev/null");
  assert.is(
    scriptCommand(["/usr/bin/env", "bash -e"], { args: ["a b", "-x", "$(id)"], cwd: "/tmp/my dir", env: { A: "it's" } }),
    `cd '/tmp/my dir' && { export A='it'\\''s'; cat | /usr/bin/env 'bash -e' /dev/fd/3 'a b' -x '$(id)' 3<&0 </dev/null\n}`,
  );
  assert.throws(() => scriptCommand(["sh"], { env: { "A B": "x" } }), /invalid variable name/);
});

test.run();
