/**
 * A section as reads and writes answer it: the section's own schema with every secret field
 * (secretPaths) a plain string, since it is shown masked (`…` and its last characters) and a
 * mask passes none of the secret's own rules. For the OpenAPI document's answers.
 */
import { z } from "zod";
import { secretPaths } from "./sections.ts";

const masked = z.string().describe("a secret, shown masked: `…` and its last characters");

/** `schema` with the field at `path` (`*` every element of an array) replaced by a masked string. */
function maskAt(schema: z.ZodType, path: readonly string[]): z.ZodType {
  const def = schema._zod.def as unknown as Record<string, unknown> & { type: string };
  const clone = (next: Record<string, unknown>) => schema.clone({ ...def, ...next } as never);
  switch (def.type) {
    // Wrappers first: an optional secret stays optional.
    case "optional":
    case "nullable":
    case "default":
    case "prefault":
      return clone({ innerType: maskAt(def.innerType as z.ZodType, path) });
  }
  if (path.length === 0) return masked;
  switch (def.type) {
    case "object": {
      const shape = def.shape as Record<string, z.ZodType>;
      const [head, ...rest] = path;
      if (!Object.hasOwn(shape, head!)) return schema;
      return clone({ shape: { ...shape, [head!]: maskAt(shape[head!]!, rest) } });
    }
    case "array":
      return path[0] === "*" ? clone({ element: maskAt(def.element as z.ZodType, path.slice(1)) }) : schema;
    case "union":
      return clone({ options: (def.options as z.ZodType[]).map((option) => maskAt(option, path)) });
    default:
      return schema;
  }
}

/** The schema of a section as the API shows it. */
export function shownSection(name: string, schema: z.ZodType): z.ZodType {
  return (secretPaths[name] ?? []).reduce((s, path) => maskAt(s, path.split(".")), schema);
}
