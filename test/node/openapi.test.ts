import { readFileSync } from "node:fs";
import SwaggerParser from "@apidevtools/swagger-parser";
import { describe, expect, it } from "vitest";
import { DOCUMENT_FILE, TYPES_FILE, documentText, typesText } from "../tools/openapi.ts";

describe("the OpenAPI document (src/api/openapi)", () => {
  it("passes an independent OpenAPI 3.1 validator", async () => {
    const doc = JSON.parse(documentText());
    // validate() dereferences the object it is given: it gets its own copy.
    const api = (await SwaggerParser.validate(structuredClone(doc))) as { openapi: string };
    expect(api.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths).length).toBeGreaterThan(30);
  });

  it("the validator refuses a broken document (it is really checking)", async () => {
    const doc = JSON.parse(documentText());
    doc.paths["/v1/messages"].post.responses = "none";
    await expect(SwaggerParser.validate(doc)).rejects.toThrow();
  });

  it("docs/openapi.json is what `npm run openapi` writes", () => {
    expect(readFileSync(DOCUMENT_FILE, "utf8"), "run npm run openapi").toBe(documentText());
  });

  it("test/node/api-types.d.ts (the e2e client's types) is what `npm run openapi` writes", async () => {
    expect(readFileSync(TYPES_FILE, "utf8"), "run npm run openapi").toBe(await typesText());
  });
});
