/** `/v1/templates` (src/api/templates.ts): the account's email templates, every version kept. */
import { z } from "zod";
import { templateList, templateView } from "../../core/api-responses.ts";
import { templateContent, templateCreate, templateVersionQuery } from "../../core/template.ts";
import { JSON_BODY_ERRORS, type ApiRoute } from "./registry.ts";

const template = templateView.meta({ id: "Template" });
const params = z.object({ name: z.string().describe("the template's name (a slug)") });
const CHECKED =
  "Each part is parsed by Mustache when saved: a syntax error (an unclosed section, an unclosed tag) or a partial is a 400 naming the part, with Mustache's message and the line.";

export const templateRoutes: ApiRoute[] = [
  {
    method: "get",
    path: "/v1/templates",
    tag: "Templates",
    summary: "List templates",
    description: "Each template at its latest version, by name, without its bodies.",
    auth: "apiKey",
    responses: { 200: { description: "the templates", schema: templateList } },
  },
  {
    method: "post",
    path: "/v1/templates",
    tag: "Templates",
    summary: "Create a template (version 1)",
    description: `Subject, and text and/or html, in Mustache: \`{{x}}\` is HTML-escaped in html only, \`{{{x}}}\` never. ${CHECKED} A name deleted before goes on from its next version. 409 if the name exists: PUT makes its next version.`,
    auth: "apiKey",
    body: templateCreate,
    responses: { 201: { description: "version 1 (or the next, for a name deleted before)", schema: template } },
    errors: [...JSON_BODY_ERRORS, 409, 422],
  },
  {
    method: "get",
    path: "/v1/templates/{name}",
    tag: "Templates",
    summary: "A template: its latest version, or the one asked for",
    auth: "apiKey",
    params,
    query: templateVersionQuery,
    responses: { 200: { description: "the version", schema: template } },
    errors: [400, 404],
  },
  {
    method: "put",
    path: "/v1/templates/{name}",
    tag: "Templates",
    summary: "Save a template's next version",
    description: `The older versions stay readable (\`?version=n\`) and messages keep the version they were rendered from. ${CHECKED}`,
    auth: "apiKey",
    params,
    body: templateContent,
    responses: { 200: { description: "the new version", schema: template } },
    errors: [...JSON_BODY_ERRORS, 404],
  },
  {
    method: "delete",
    path: "/v1/templates/{name}",
    tag: "Templates",
    summary: "Delete a template and every version",
    description: "Messages already made from it keep their content. A send naming it is then 422.",
    auth: "apiKey",
    params,
    responses: { 204: { description: "deleted" } },
    errors: [404],
  },
];
