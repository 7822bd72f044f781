import { afterAll, beforeAll, expect, it } from "vitest";
import { startTestStack, type TestStack } from "./stack-helpers.ts";
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ vars: { METER: process.env.REPRO_METER ?? "1" } });
});
afterAll(async () => stack?.stop());
it("200 sends", async () => {
  const to = await stack.sandboxPost("/_sandbox/webpush/subscriptions", { name: "repro" });
  const statuses: Record<string, number> = {};
  let i = 0;
  const bodies: string[] = [];
  await Promise.all(
    Array.from({ length: 10 }, async () => {
      while (i < 200) {
        i++;
        const res = await fetch(`${stack.workerUrl}/v1/messages`, {
          method: "POST",
          headers: { authorization: `Bearer ${stack.apiKey}`, "content-type": "application/json" },
          body: JSON.stringify({ channel: "webpush", to, payload: `p${i}` }),
        });
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        if (res.status >= 500 && bodies.length < 3) bodies.push(await res.text());
      }
    }),
  );
  console.log(JSON.stringify(statuses), bodies);
  expect(statuses["202"]).toBe(200);
});
