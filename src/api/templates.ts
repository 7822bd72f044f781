/**
 * `/v1/templates`: the account's email templates (core/template.ts), stored and versioned in its
 * TemplateDO. A save is parsed by Mustache first: a syntax error is a 400 naming the part and
 * Mustache's message with its line. A PUT makes the next version; older ones stay readable with
 * `?version=n`. A send names one (`template: {name, version?}`), see accept.ts.
 */
import { Hono } from "hono";
import type { z } from "zod";
import { ApiError, readJson, validationError } from "../core/http.ts";
import {
  MAX_TEMPLATES_PER_ACCOUNT,
  templateContent,
  templateCreate,
  templateName,
  templateVersionQuery,
  type StoredTemplate,
} from "../core/template.ts";
import type { SaveResult, TemplateSummary } from "../state/template.ts";
import { templateStub } from "../state/stubs.ts";
import { limitBody } from "./body.ts";
import type { AppEnv } from "./types.ts";

async function body<T>(c: { req: { raw: Request; text(): Promise<string> } }, schema: z.ZodType<T>): Promise<T> {
  const parsed = schema.safeParse(readJson(c.req.raw.headers, await c.req.text()));
  if (!parsed.success) throw validationError(parsed.error);
  return parsed.data;
}

/** The name in the path, or 404 (no template can have another). */
function nameOf(raw: string): string {
  if (!templateName.safeParse(raw).success) throw new ApiError(404, "not_found", `no template ${raw}`);
  return raw;
}

function saved(result: SaveResult, name: string): StoredTemplate {
  if (result.kind === "saved") return result.template;
  if (result.kind === "exists")
    throw new ApiError(409, "template_exists", `a template ${name} exists: PUT /v1/templates/${name} makes its next version`);
  if (result.kind === "limit") {
    throw new ApiError(422, "template_limit", `an account has at most ${MAX_TEMPLATES_PER_ACCOUNT} templates: delete one first`);
  }
  throw new ApiError(404, "not_found", `no template ${name}`);
}

export const templates = new Hono<AppEnv>()
  .get("/", async (c) => c.json({ data: (await templateStub(c.env, c.get("account")).list()) as TemplateSummary[] }))
  .post("/", limitBody, async (c) => {
    const { name, ...content } = await body(c, templateCreate);
    const result = (await templateStub(c.env, c.get("account")).create(name, content)) as SaveResult;
    return c.json(saved(result, name), 201);
  })
  .get("/:name", async (c) => {
    const name = nameOf(c.req.param("name"));
    const query = templateVersionQuery.safeParse(c.req.query());
    if (!query.success) throw validationError(query.error);
    const found = (await templateStub(c.env, c.get("account")).get(name, query.data.version)) as StoredTemplate | null;
    if (!found) throw new ApiError(404, "not_found", `no template ${name}${query.data.version ? ` version ${query.data.version}` : ""}`);
    return c.json(found);
  })
  .put("/:name", limitBody, async (c) => {
    const name = nameOf(c.req.param("name"));
    const content = await body(c, templateContent);
    const result = (await templateStub(c.env, c.get("account")).update(name, content)) as SaveResult;
    return c.json(saved(result, name));
  })
  .delete("/:name", async (c) => {
    const name = nameOf(c.req.param("name"));
    if (!(await templateStub(c.env, c.get("account")).remove(name))) throw new ApiError(404, "not_found", `no template ${name}`);
    return c.body(null, 204);
  });
