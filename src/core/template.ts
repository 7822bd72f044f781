/**
 * Email templates (issue 19): the stored shape, the send's template form, and rendering with
 * Mustache (logic-less, kept: mustache 4.2.0). `html` is HTML-escaped the Mustache way (`{{x}}`
 * escaped, `{{{x}}}` and `{{&x}}` raw); `subject` and `text` are not escaped at all (they are not
 * HTML: "Tom & Jerry" must stay so).
 *
 * What a rendering failure is (no mail is better than a wrong one sent to every recipient):
 * - a syntax error (an unclosed or unopened section, an unclosed tag), caught when the template
 *   is saved, so at send time it can only come from the template's own text;
 * - a variable tag (`{{x}}`, `{{{x}}}`, `{{&x}}`) whose name the recipient's variables lack
 *   ("Hi ," to a million people is worse than a failure). A key given as `null` or `""` is
 *   present: the caller chose it. Sections (`{{#x}}…{{/x}}`, `{{^x}}`) may name absent keys:
 *   absent is false, which is how optional parts are written;
 * - a variable tag that names an object or a list (it would print "[object Object]");
 * - a subject that, rendered, holds CR, LF or another control character (header injection), is
 *   empty, or is longer than 998 characters; a rendered text or html over RENDERED_MAX_CHARS.
 * Partials (`{{> x}}`) are refused when saved: templates are self-contained.
 */
import Mustache from "mustache";
import { z } from "zod";
import { hasLineBreak } from "./email.ts";
import { ApiError, validationError } from "./http.ts";
import { hasControlCharacter } from "./mail-header.ts";
import { emailSend, type EmailSend } from "./schema.ts";

/** A template's name: a slug, the key it is stored and sent by. */
export const templateName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "must be a slug: lowercase letters, digits, - and _, at most 64, starting with a letter or digit");

/** Source sizes, in characters: a subject is one header line; bodies fit a request body (256 KiB) together. */
export const SUBJECT_MAX_CHARS = 998;
export const BODY_MAX_CHARS = 100_000;
/** A rendered text or html (a section repeated over a list grows it): past this, a rendering failure. */
export const RENDERED_MAX_CHARS = 500_000;
/** The per-recipient variables: a JSON object of at most this many bytes (its depth: the request's cap, core/json-depth.ts). */
export const VARIABLES_MAX_BYTES = 16 * 1024;

export type TemplatePart = "subject" | "text" | "html";

/** `POST /v1/templates`: a template's content and its name. `PUT /v1/templates/{name}`: content only. */
export const templateContent = z
  .strictObject({
    subject: z.string().min(1).max(SUBJECT_MAX_CHARS),
    text: z.string().max(BODY_MAX_CHARS).optional(),
    html: z.string().max(BODY_MAX_CHARS).optional(),
  })
  .refine((t) => t.text !== undefined || t.html !== undefined, { message: "give text, html or both", path: ["text"] })
  .superRefine((t, ctx) => {
    for (const part of ["subject", "text", "html"] as const) {
      const source = t[part];
      if (source === undefined) continue;
      const problem = syntaxProblem(source);
      if (problem) ctx.addIssue({ code: "custom", path: [part], message: problem });
    }
  });
export type TemplateContent = z.infer<typeof templateContent>;

export const templateCreate = z.strictObject({ name: templateName }).and(templateContent);

/** The template a send names: the latest version unless `version` says which. */
export const templateRef = z.strictObject({ name: templateName, version: z.number().int().min(1).optional() });
export type TemplateRef = z.infer<typeof templateRef>;

export const templateVariables = z
  .record(z.string(), z.unknown())
  .refine((v) => new TextEncoder().encode(JSON.stringify(v)).length <= VARIABLES_MAX_BYTES, {
    message: `variables are at most ${VARIABLES_MAX_BYTES} bytes of JSON`,
  });

/** `GET /v1/templates/{name}?version=n`. */
export const templateVersionQuery = z.strictObject({
  version: z.coerce.number().int().min(1).optional().describe("a version of the template (default: the latest)"),
});

/** Live templates an account may keep (each with all its versions). */
export const MAX_TEMPLATES_PER_ACCOUNT = 1000;

/** A stored version, as the API shows it. */
export type StoredTemplate = TemplateContent & { name: string; version: number; createdAt: string };

/** Why a render failed: what the `message.rendering_failed` event and the message's timeline say. */
export type RenderFailure = {
  kind: "syntax" | "missing_variable" | "not_scalar" | "subject_header" | "too_large";
  part: TemplatePart;
  message: string;
  variable?: string;
  /** 1-based line of the template part where the tag is (syntax and variable failures). */
  line?: number;
};

export type Rendered = { subject: string; text?: string; html?: string };
export type RenderResult = { ok: true; rendered: Rendered } | { ok: false; failure: RenderFailure };

/** The line (1-based) of a character offset. */
function lineAt(source: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < source.length; i++) if (source.charCodeAt(i) === 10) line++;
  return line;
}

type Token = [string, string, number, number, Token[]?, number?];

/** Thrown inside the writer: carries the failure out of Mustache's recursion. */
class RenderStop extends Error {
  readonly failure: Omit<RenderFailure, "part">;
  constructor(failure: Omit<RenderFailure, "part">) {
    super(failure.message);
    this.failure = failure;
  }
}

/**
 * Mustache's writer, strict about variables: a variable tag whose name resolves to nothing (the
 * context stack has no such key) or to an object stops the render with its name and line.
 */
class StrictWriter extends Mustache.Writer {
  private readonly source: string;
  constructor(source: string) {
    super();
    this.source = source;
  }

  private checked(raw: string[], context: Mustache.Context): void {
    const token = raw as unknown as Token;
    const value = context.lookup(token[1]);
    const line = lineAt(this.source, token[2]);
    if (value === undefined) {
      throw new RenderStop({
        kind: "missing_variable",
        variable: token[1],
        line,
        message: `variable "${token[1]}" is missing (line ${line})`,
      });
    }
    if (value !== null && typeof value === "object") {
      throw new RenderStop({
        kind: "not_scalar",
        variable: token[1],
        line,
        message: `variable "${token[1]}" is an object or a list (line ${line}); use a section to go into it`,
      });
    }
  }

  override escapedValue(token: string[], context: Mustache.Context, config?: Mustache.RenderOptions): string {
    this.checked(token, context);
    return super.escapedValue(token, context, config);
  }

  override unescapedValue(token: string[], context: Mustache.Context): string {
    this.checked(token, context);
    return super.unescapedValue(token, context);
  }
}

/** Mustache's own message for a template it cannot parse, with the line; or a refusal of ours; null when fine. */
export function syntaxProblem(source: string): string | null {
  let tokens: Token[];
  try {
    tokens = new Mustache.Writer().parse(source) as Token[];
  } catch (err) {
    const message = (err as Error).message;
    const at = /at (\d+)/.exec(message);
    return at ? `${message} (line ${lineAt(source, Number(at[1]))})` : message;
  }
  const partial = findPartial(tokens);
  return partial ? `partials are not supported ({{> ${partial[1]}}} at line ${lineAt(source, partial[2])})` : null;
}

function findPartial(tokens: Token[]): Token | null {
  for (const token of tokens) {
    if (token[0] === ">") return token;
    const nested = token[4] ? findPartial(token[4]) : null;
    if (nested) return nested;
  }
  return null;
}

const identity = (value: unknown) => String(value);

function renderPart(part: TemplatePart, source: string, variables: Record<string, unknown>): string {
  const problem = syntaxProblem(source);
  if (problem) throw new RenderStop({ kind: "syntax", message: problem });
  const writer = new StrictWriter(source);
  // html: Mustache's HTML escape; subject and text: none (they are not HTML).
  return writer.render(source, variables, {}, part === "html" ? undefined : { escape: identity });
}

/** Renders a template's parts with one recipient's variables, or says why it cannot. Pure. */
export function render(template: TemplateContent, variables: Record<string, unknown>): RenderResult {
  const rendered: Rendered = { subject: "" };
  for (const part of ["subject", "text", "html"] as const) {
    const source = template[part];
    if (source === undefined) continue;
    try {
      rendered[part] = renderPart(part, source, variables);
    } catch (err) {
      if (err instanceof RenderStop) return { ok: false, failure: { part, ...err.failure } };
      throw err;
    }
    const out = rendered[part]!;
    if (part !== "subject" && out.length > RENDERED_MAX_CHARS) {
      return { ok: false, failure: { part, kind: "too_large", message: `the rendered ${part} is over ${RENDERED_MAX_CHARS} characters` } };
    }
  }
  const subject = rendered.subject;
  if (hasLineBreak(subject) || hasControlCharacter(subject)) {
    return {
      ok: false,
      failure: {
        part: "subject",
        kind: "subject_header",
        message: "the rendered subject holds CR, LF or another control character (header injection)",
      },
    };
  }
  if (subject.length === 0 || subject.length > SUBJECT_MAX_CHARS) {
    return {
      ok: false,
      failure: { part: "subject", kind: "subject_header", message: `the rendered subject must be 1 to ${SUBJECT_MAX_CHARS} characters` },
    };
  }
  return { ok: true, rendered };
}

/**
 * The template form of an email send: every field of `emailSend` but subject, text and html,
 * which the template gives, plus `template` and the recipient's `variables`. Built from the
 * send's own fields, so a field added to `emailSend` is taken here too.
 */
const { subject: _subject, text: _text, html: _html, ...sendFields } = emailSend.shape;
export const emailTemplateSend = z.strictObject({
  ...sendFields,
  template: templateRef,
  variables: templateVariables.optional(),
});
export type EmailTemplateSend = z.infer<typeof emailTemplateSend>;

/** What a message rendered from a template keeps: the template's name and the version it was rendered from. */
export type TemplateUse = { name: string; version: number };

const CONTENT_FIELDS = ["subject", "text", "html"] as const;

/**
 * The template form of a send, or null when `value` is not one (it goes through `sendRequest`
 * as before). Throws a 400 for a send that mixes the two forms or is invalid.
 */
export function templateSendOf(value: unknown): EmailTemplateSend | null {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const send = value as Record<string, unknown>;
  if (send.channel !== "email") return null;
  if (!("template" in send)) {
    if ("variables" in send) {
      throw new ApiError(400, "validation_failed", "the request is invalid", [
        { path: "variables", message: "variables go with template: give template, or subject with text and/or html" },
      ]);
    }
    return null;
  }
  const mixed = CONTENT_FIELDS.filter((field) => field in send);
  if (mixed.length > 0) {
    throw new ApiError(
      400,
      "validation_failed",
      "the request is invalid",
      mixed.map((field) => ({ path: field, message: "give either template (with variables) or subject with text and/or html, not both" })),
    );
  }
  const parsed = emailTemplateSend.safeParse(send);
  if (!parsed.success) throw validationError(parsed.error);
  return parsed.data;
}

export type RenderedSend =
  | { ok: true; request: EmailSend & { template: TemplateUse } }
  | { ok: false; failure: RenderFailure; request: EmailTemplateStub };

/** What a message whose render failed keeps: the send without content, and the template it named. */
export type EmailTemplateStub = Omit<EmailTemplateSend, "template" | "variables"> & { template: TemplateUse };

/** One recipient's message from a stored template: the email send it becomes, or why it cannot. Pure. */
export function renderSend(send: EmailTemplateSend, template: StoredTemplate): RenderedSend {
  const { template: _ref, variables, ...fields } = send;
  const use: TemplateUse = { name: template.name, version: template.version };
  const result = render(template, variables ?? {});
  if (!result.ok) return { ok: false, failure: result.failure, request: { ...fields, template: use } };
  // The rendered subject passed render()'s header rules; emailSend's own checks still run on the whole.
  const parsed = emailSend.safeParse({ ...fields, ...result.rendered });
  if (!parsed.success) throw validationError(parsed.error);
  return { ok: true, request: { ...parsed.data, template: use } };
}
