// `npm run schemas`: writes docs/webhook-events.schema.json, the JSON Schema of every event body
// lasthop POSTs to webhook endpoints, generated from the zod contract (src/core/webhook-events.ts).
// test/core/webhook-events.test.ts fails when the committed file is not what this writes.
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { webhookEventJsonSchema } from "../../src/core/webhook-events.ts";

export const SCHEMA_FILE = fileURLToPath(new URL("../../docs/webhook-events.schema.json", import.meta.url));

export function schemaText(): string {
  return `${JSON.stringify(webhookEventJsonSchema(), null, 2)}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(SCHEMA_FILE, schemaText());
  console.log(`wrote ${SCHEMA_FILE}`);
}
