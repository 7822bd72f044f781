// Every example request in README.md that reaches the Worker (the curl commands to port 8787)
// is an operation of the OpenAPI document, and its JSON body and headers pass the same zod
// schemas the document was generated from (and the handler validates with).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { findRoute } from "../../src/api/openapi/lookup.ts";

const README = readFileSync(fileURLToPath(new URL("../../README.md", import.meta.url)), "utf8");

/** What the README's shell variables stand for: values of the shape the commands that set them print. */
const SHELL_VARIABLES: Record<string, string> = {
  // The sandbox's subscription (POST /_sandbox/webpush/subscriptions): an endpoint and its keys.
  SUB: JSON.stringify({
    endpoint: "https://push.sandbox.test/push/demo",
    keys: { p256dh: `B${"A".repeat(86)}`, auth: "A".repeat(22) },
  }),
  // An APNs device token as the sandbox mints them: 32 bytes of hex.
  TOKEN: "ab".repeat(32),
  ADMIN: "dev-admin-lasthop",
  KEY: "lh_example",
};

/** Shell words of one command: quotes, `\`-escapes in double quotes, `$VAR` expansion, `\`-newline joins. */
function shellWords(command: string): string[] {
  const words: string[] = [];
  let word: string | null = null;
  const push = (s: string) => (word = (word ?? "") + s);
  for (let i = 0; i < command.length; i++) {
    const ch = command[i]!;
    if (ch === "\\" && command[i + 1] === "\n") {
      i++;
    } else if (/\s/.test(ch)) {
      if (word !== null) words.push(word);
      word = null;
    } else if (ch === "'") {
      const end = command.indexOf("'", i + 1);
      push(command.slice(i + 1, end));
      i = end;
    } else if (ch === '"') {
      let j = i + 1;
      let text = "";
      for (; command[j] !== '"'; j++) {
        if (command[j] === "\\" && /["\\$`]/.test(command[j + 1]!)) text += command[++j];
        else if (command[j] === "$") {
          const name = /^\$([A-Z_]+)/.exec(command.slice(j))![1]!;
          text += expand(name);
          j += name.length;
        } else text += command[j];
      }
      push(text);
      i = j;
    } else if (ch === "$") {
      const name = /^\$([A-Z_]+)/.exec(command.slice(i))![1]!;
      push(expand(name));
      i += name.length;
    } else push(ch);
  }
  if (word !== null) words.push(word);
  return words;
}

function expand(name: string): string {
  const value = SHELL_VARIABLES[name];
  if (value === undefined) throw new Error(`README uses $${name}: say what it stands for in SHELL_VARIABLES`);
  return value;
}

type Example = { line: number; method: string; path: string; headers: Record<string, string>; body?: unknown };

/** The curl commands of the README's sh blocks that call the Worker (port 8787). */
function examples(): Example[] {
  const found: Example[] = [];
  const lines = README.split("\n");
  let inShell = false;
  for (let i = 0; i < lines.length; i++) {
    if (/^```/.test(lines[i]!)) {
      inShell = !inShell && /^```(sh|bash|shell)\b/.test(lines[i]!);
      continue;
    }
    if (!inShell) continue;
    const start = lines[i]!.indexOf("curl ");
    if (start < 0 || !lines[i]!.includes(":8787")) continue;
    let command = lines[i]!.slice(start).replace(/\s+#.*$/, "");
    while (command.endsWith("\\")) command = `${command}\n${lines[++i]!.replace(/\s+#.*$/, "")}`;
    const words = shellWords(command);
    let method: string | undefined;
    let body: string | undefined;
    let url: string | undefined;
    const headers: Record<string, string> = {};
    for (let w = 1; w < words.length; w++) {
      const arg = words[w]!;
      if (arg === "-X") method = words[++w];
      else if (arg === "-H") {
        const [name, ...value] = words[++w]!.split(":");
        headers[name!.trim().toLowerCase()] = value.join(":").trim();
      } else if (arg === "-d" || arg === "--data") body = words[++w];
      else if (arg.includes(":8787/")) url = arg;
    }
    expect(url, `README line ${i + 1}: a curl to the Worker without a URL`).toBeDefined();
    const path = decodeURI(new URL(url!.startsWith("http") ? url! : `http://${url}`).pathname);
    found.push({
      line: i + 1,
      method: (method ?? (body === undefined ? "GET" : "POST")).toLowerCase(),
      path,
      headers,
      ...(body === undefined ? {} : { body: JSON.parse(body) }),
    });
  }
  return found;
}

const found = examples();

describe("README example requests", () => {
  it("are found (the extractor reads the README)", () => {
    expect(found.length).toBeGreaterThan(15);
    expect(found.filter((e) => e.body !== undefined).length).toBeGreaterThan(8);
  });

  it.each(found.map((e) => [`line ${e.line}: ${e.method.toUpperCase()} ${e.path}`, e] as const))("%s", (_, example) => {
    const route = findRoute(example.method, example.path);
    expect(route, "not an operation of the OpenAPI document").toBeDefined();
    if (route!.body) {
      expect(example.body, "the operation takes a body").toBeDefined();
      expect(example.headers["content-type"]).toMatch(/^application\/json/);
      const schema = "safeParse" in route!.body ? route!.body : route!.body.schema;
      const parsed = schema.safeParse(example.body);
      expect(parsed.success ? [] : parsed.error.issues, "the body does not pass the operation's schema").toEqual([]);
    } else expect(example.body, "the operation takes no body").toBeUndefined();
    if (route!.headers) {
      const parsed = route!.headers.safeParse(example.headers);
      expect(parsed.success ? [] : parsed.error.issues).toEqual([]);
    }
  });

  it("a body the schema refuses is caught (the check is real)", () => {
    const route = findRoute("post", "/v1/messages")!;
    expect((route.body as { safeParse(v: unknown): { success: boolean } }).safeParse({ channel: "sms", to: "nope" }).success).toBe(false);
  });
});
