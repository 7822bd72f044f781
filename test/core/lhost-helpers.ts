import { headerMap } from "../../src/core/bounce/headers.ts";
import type { LhostInput } from "../../src/core/bounce/lhost/types.ts";

/** A reader's input: the report's Subject, From, other headers and text. */
export function lhostInput(report: string, subject: string, from: string, headers: Array<[string, string]> = []): LhostInput {
  return { headers: headerMap(headers.map(([key, value]) => ({ key, value }))), subject, from, report };
}
