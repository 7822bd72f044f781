/**
 * Valid-shaped values from a route's zod schema: zod 4 writes the schema as JSON Schema
 * (`z.toJSONSchema`, input side) and this derives a fast-check arbitrary from it. Only the
 * keywords our schemas use are read (types, enum/const, formats, patterns, bounds, properties,
 * additionalProperties, items, anyOf/oneOf, $ref); refinements zod cannot write are lost, so a
 * value is "shaped like" a valid one, which is what the fuzz wants: past the parser, into the handler.
 */
import fc from "fast-check";
import { z } from "zod";

type Schema = {
  $ref?: string;
  $defs?: Record<string, Schema>;
  type?: string | string[];
  const?: unknown;
  enum?: unknown[];
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  minItems?: number;
  maxItems?: number;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  not?: Schema;
};

/** Deep enough for every schema we have, shallow enough that a value stays small. */
const MAX_DEPTH = 6;

/** The JSON Schema of a zod schema, as a request sees it (input side; what JSON cannot say is `{}`). */
export function jsonSchemaOf(schema: z.ZodType): Schema {
  return z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as Schema;
}

/** An arbitrary of values shaped by `schema` (a zod schema or its JSON Schema). */
export function arbitraryOf(schema: z.ZodType | Schema): fc.Arbitrary<unknown> {
  const root = schema instanceof z.ZodType ? jsonSchemaOf(schema) : schema;
  return derive(root, root.$defs ?? {}, 0);
}

function derive(s: Schema, defs: Record<string, Schema>, depth: number): fc.Arbitrary<unknown> {
  if (s.$ref) {
    const name = s.$ref.replace(/^#\/\$defs\//, "");
    const target = s.$ref === "#" ? undefined : defs[name];
    return target && depth < MAX_DEPTH ? derive(target, defs, depth + 1) : fc.constant({});
  }
  if (s.const !== undefined) return fc.constant(s.const);
  if (s.enum) return fc.constantFrom(...s.enum);
  const choices = s.anyOf ?? s.oneOf;
  if (choices?.length) return fc.oneof(...choices.map((c) => derive({ ...c, $defs: undefined }, defs, depth + 1)));
  if (s.allOf?.length) return derive(Object.assign({}, ...s.allOf), defs, depth + 1);
  // `not: {}` is zod's "never" (a refused field): leave it out rather than invent a value.
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  switch (type) {
    case "string":
      return stringOf(s);
    case "integer":
      return fc.integer({ min: bound(s.minimum ?? s.exclusiveMinimum, -1e6), max: bound(s.maximum ?? s.exclusiveMaximum, 1e6) });
    case "number":
      return fc.double({
        min: bound(s.minimum ?? s.exclusiveMinimum, -1e6),
        max: bound(s.maximum ?? s.exclusiveMaximum, 1e6),
        noNaN: true,
      });
    case "boolean":
      return fc.boolean();
    case "null":
      return fc.constant(null);
    case "array":
      return depth >= MAX_DEPTH
        ? fc.constant([])
        : fc.array(s.items ? derive(s.items, defs, depth + 1) : fc.jsonValue({ maxDepth: 1 }), {
            minLength: s.minItems ?? 0,
            maxLength: Math.min(s.maxItems ?? 4, Math.max(s.minItems ?? 0, 4)),
          });
    case "object":
      return objectOf(s, defs, depth);
    default:
      return depth >= MAX_DEPTH ? fc.constant(null) : fc.jsonValue({ maxDepth: 2 });
  }
}

/** Schema bounds can be ±2^53; the fuzz keeps to a range where a number still means something. */
function bound(value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  return Math.max(-1e9, Math.min(1e9, value));
}

function stringOf(s: Schema): fc.Arbitrary<string> {
  const maxLength = Math.min(s.maxLength ?? 40, 200);
  const minLength = Math.min(s.minLength ?? 0, maxLength);
  switch (s.format) {
    case "email":
      return fc.emailAddress();
    case "uri":
    case "url":
      return fc.webUrl();
    case "uuid":
      return fc.uuid();
    case "date-time":
      return fc.date({ noInvalidDate: true, min: new Date(0), max: new Date(4e12) }).map((d) => d.toISOString());
  }
  if (s.pattern) {
    try {
      return fc.stringMatching(new RegExp(s.pattern)).map((v) => v.slice(0, Math.max(maxLength, minLength)));
    } catch {
      // A pattern fast-check cannot walk: fall through to plain text.
    }
  }
  return fc.string({ minLength, maxLength });
}

function objectOf(s: Schema, defs: Record<string, Schema>, depth: number): fc.Arbitrary<unknown> {
  if (depth >= MAX_DEPTH) return fc.constant({});
  const props = Object.entries(s.properties ?? {}).filter(([, p]) => !isNever(p));
  const required = new Set(s.required ?? []);
  const known = fc.record(Object.fromEntries(props.map(([k, p]) => [k, derive(p, defs, depth + 1)])), {
    requiredKeys: props.map(([k]) => k).filter((k) => required.has(k)),
  });
  const extra = s.additionalProperties;
  if (!extra || props.length > 0) return known;
  // A record (`z.record`): keys of its own, values from its schema.
  const values = extra === true ? fc.jsonValue({ maxDepth: 1 }) : derive(extra, defs, depth + 1);
  return fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), values, { maxKeys: 4 });
}

const isNever = (s: Schema) => s.not !== undefined && Object.keys(s.not).length === 0;
