import { describe, expect, it } from "vitest";
import { render, syntaxProblem, templateContent, type RenderFailure, type TemplateContent } from "../../src/core/template.ts";

type Ok = [
  name: string,
  template: TemplateContent,
  variables: Record<string, unknown>,
  expected: { subject: string; text?: string; html?: string },
];

const okRows: Ok[] = [
  [
    "html escaped, text and subject raw",
    { subject: "Hi {{name}}", text: "Hello {{name}}", html: "<p>Hello {{name}}</p>" },
    { name: "Tom & <Jerry>" },
    {
      subject: "Hi Tom & <Jerry>",
      text: "Hello Tom & <Jerry>",
      html: "<p>Hello Tom &amp; &lt;Jerry&gt;</p>",
    },
  ],
  [
    "triple mustache and & are raw in html",
    { subject: "s", html: "{{{a}}}|{{&a}}|{{a}}" },
    { a: "<b>" },
    { subject: "s", html: "<b>|<b>|&lt;b&gt;" },
  ],
  [
    "quotes escaped in html",
    { subject: "s", html: `<a title="{{t}}">` },
    { t: `"x' =` },
    { subject: "s", html: `<a title="&quot;x&#39; &#x3D;">` },
  ],
  [
    "lists through a section",
    { subject: "{{count}} items", text: "{{#items}}- {{name}}: {{price}}\n{{/items}}" },
    {
      count: 2,
      items: [
        { name: "a", price: 1 },
        { name: "b&c", price: 2.5 },
      ],
    },
    {
      subject: "2 items",
      text: "- a: 1\n- b&c: 2.5\n",
    },
  ],
  [
    "an absent section key is false; inverted shows",
    { subject: "s", text: "{{#vip}}VIP {{/vip}}{{^vip}}regular{{/vip}}" },
    {},
    { subject: "s", text: "regular" },
  ],
  [
    "dotted names",
    { subject: "s", text: "{{user.first}} {{user.last}}" },
    { user: { first: "Ada", last: "Lovelace" } },
    { subject: "s", text: "Ada Lovelace" },
  ],
  ["null and empty are present", { subject: "s", text: "[{{a}}][{{b}}]" }, { a: null, b: "" }, { subject: "s", text: "[][]" }],
  ["booleans and numbers print", { subject: "s", text: "{{t}} {{n}}" }, { t: true, n: 0 }, { subject: "s", text: "true 0" }],
  [
    "unicode",
    { subject: "Grüße {{name}} 🎉", text: "Привет, {{name}}", html: "<p>{{name}}</p>" },
    { name: "Zoë 中文 😀" },
    {
      subject: "Grüße Zoë 中文 😀 🎉",
      text: "Привет, Zoë 中文 😀",
      html: "<p>Zoë 中文 😀</p>",
    },
  ],
  [
    "a parent context's key inside a section",
    { subject: "s", text: "{{#items}}{{.}}-{{sep}}{{/items}}" },
    { items: ["x", "y"], sep: "|" },
    { subject: "s", text: "x-|y-|" },
  ],
  ["set delimiters", { subject: "s", text: "{{=<% %>=}}<% a %> {{a}}" }, { a: 1 }, { subject: "s", text: "1 {{a}}" }],
];

describe("render", () => {
  it.each(okRows)("%s", (_name, template, variables, expected) => {
    const result = render(template, variables);
    expect(result).toEqual({ ok: true, rendered: expected });
  });
});

type Bad = [name: string, template: TemplateContent, variables: Record<string, unknown>, failure: Partial<RenderFailure>];

const badRows: Bad[] = [
  [
    "a missing variable, with its line",
    { subject: "s", text: "Hi\n\n{{name}}," },
    {},
    { kind: "missing_variable", part: "text", variable: "name", line: 3 },
  ],
  [
    "a missing variable in the subject",
    { subject: "Hi {{name}}", text: "t" },
    { other: 1 },
    { kind: "missing_variable", part: "subject", variable: "name", line: 1 },
  ],
  [
    "a missing raw variable in html",
    { subject: "s", html: "<p>{{{body}}}</p>" },
    {},
    { kind: "missing_variable", part: "html", variable: "body" },
  ],
  [
    "missing inside a section",
    { subject: "s", text: "{{#items}}\n{{name}} {{price}}{{/items}}" },
    { items: [{ name: "a" }] },
    { kind: "missing_variable", variable: "price", line: 2 },
  ],
  ["a missing dotted part", { subject: "s", text: "{{user.first}}" }, { user: {} }, { kind: "missing_variable", variable: "user.first" }],
  ["an object in a variable tag", { subject: "s", text: "{{user}}" }, { user: { a: 1 } }, { kind: "not_scalar", variable: "user" }],
  ["a list in a variable tag", { subject: "s", text: "{{items}}" }, { items: [1] }, { kind: "not_scalar", variable: "items" }],
  ["unclosed section", { subject: "s", text: "a\n{{#x}}b" }, { x: true }, { kind: "syntax", part: "text" }],
  ["unopened section", { subject: "s", html: "{{/x}}" }, {}, { kind: "syntax", part: "html" }],
  ["unclosed tag", { subject: "{{name", text: "t" }, { name: "a" }, { kind: "syntax", part: "subject" }],
  [
    "CRLF in the rendered subject",
    { subject: "Hi {{name}}", text: "t" },
    { name: "x\r\nBcc: evil@example.com" },
    { kind: "subject_header", part: "subject" },
  ],
  ["LF alone in the rendered subject", { subject: "Hi {{name}}", text: "t" }, { name: "x\ny" }, { kind: "subject_header" }],
  ["NUL in the rendered subject", { subject: "{{{name}}}", text: "t" }, { name: "a\u0000b" }, { kind: "subject_header" }],
  ["an empty rendered subject", { subject: "{{name}}", text: "t" }, { name: "" }, { kind: "subject_header" }],
  ["an overlong rendered subject", { subject: "{{name}}", text: "t" }, { name: "x".repeat(999) }, { kind: "subject_header" }],
  [
    "a rendered body too large",
    { subject: "s", text: "{{#l}}{{x}}{{/l}}" },
    { l: Array.from({ length: 600 }, () => ({ x: "y".repeat(1000) })) },
    { kind: "too_large", part: "text" },
  ],
];

describe("render failures", () => {
  it.each(badRows)("%s", (_name, template, variables, failure) => {
    const result = render(template, variables);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.failure).toMatchObject(failure);
    expect(result.failure.message.length).toBeGreaterThan(0);
  });
});

describe("syntaxProblem and templateContent (checked when saved)", () => {
  it.each([
    ["{{#a}}x{{/a}}", null],
    ["{{#a}}x", /Unclosed section "a".*line 1/],
    ["x\n{{/a}}", /Unopened section "a".*line 2/],
    ["{{a", /Unclosed tag/],
    ["{{> header}}", /partials are not supported/],
    ["{{#a}}{{> inner}}{{/a}}", /partials are not supported/],
  ] as const)("%s", (source, expected) => {
    const problem = syntaxProblem(source);
    if (expected === null) expect(problem).toBeNull();
    else expect(problem).toMatch(expected);
  });

  it.each([
    [{ subject: "s", text: "t" }, null],
    [{ subject: "s" }, "text"],
    [{ subject: "", text: "t" }, "subject"],
    [{ subject: "s", html: "{{#a}}" }, "html"],
    [{ subject: "s", text: "x".repeat(100_001) }, "text"],
    [{ subject: "s", text: "t", extra: 1 }, ""],
  ] as const)("templateContent row %#", (body, path) => {
    const parsed = templateContent.safeParse(body);
    if (path === null) expect(parsed.success).toBe(true);
    else expect(parsed.error?.issues.map((i) => i.path.join("."))).toContain(path);
  });
});
