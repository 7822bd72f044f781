// Sending domains end to end: the account adds a domain (wrangler dev makes its keys), the test
// publishes the answered records in the sandbox's DNS, the Worker verifies them over DoH against
// the sandbox, and a message From the domain reaches the sandbox MTA with two DKIM signatures
// (RSA and Ed25519) that mailauth verifies with the keys read from that same DNS.
import { dkimVerify } from "mailauth";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../wait.ts";
import { startTestStack, type TestStack } from "./stack-helpers.ts";

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => stack?.stop());

/** DNS for the verifier: what the sandbox's DNS holds, as node's dns.resolve answers (TXT: arrays of strings). */
async function resolver(name: string, type: string): Promise<string[][]> {
  const found = stack.sandbox.dns.lookup(name, type as "TXT");
  if (found.length === 0) throw Object.assign(new Error(`queryTxt ENOTFOUND ${name}`), { code: "ENOTFOUND" });
  return found.map((r) => [r.value]);
}

describe("a sending domain through the stack", () => {
  it("added, published, verified over DoH; mail From it is signed with both keys, each verifying", async () => {
    const domain = `shop-${Date.now().toString(36)}.example`;
    // Through the client typed from the OpenAPI document (each answer held to it).
    const added = await stack.client.POST("/v1/domains", { body: { domain } });
    expect(added.response.status, JSON.stringify(added.error)).toBe(201);
    const records = added.data!.records;
    const verify = () => stack.client.POST("/v1/domains/{domain}/verify", { params: { path: { domain } } });

    const mail = { channel: "email", from: `orders@${domain}`, to: "buyer@example.com", subject: "Your order", text: "Thanks!" } as const;
    const refused = await stack.client.POST("/v1/messages", { body: mail });
    expect(refused.response.status).toBe(422);

    // Nothing published yet: the sandbox resolver answers NXDOMAIN for every name.
    const before = await verify();
    expect(before.data!.records.map((r) => r.status)).toEqual(["missing", "missing", "missing", "missing", "missing"]);

    for (const r of records) {
      const res = await stack.sandboxPost("/_sandbox/dns/records", { name: r.name, type: r.type, value: r.value, priority: r.priority });
      expect(res).toMatchObject({ name: r.name, type: r.type });
    }
    const verified = await verify();
    expect(verified.response.status).toBe(200);
    expect(verified.data!.status).toBe("verified");
    expect(verified.data!.records.every((r) => r.status === "verified")).toBe(true);

    const sent = await stack.client.POST("/v1/messages", { body: mail });
    expect(sent.response.status, JSON.stringify(sent.error)).toBe(202);
    await stack.waitForMessage(sent.data!.id, "accepted");
    const arrived = await waitFor(async () => {
      const list = (await stack.sandboxGet("/_sandbox/received?channel=email")) as any[];
      return list.find((m) => m.to === "buyer@example.com" && m.outcome === "accepted");
    }, "the message at the sandbox MTA");

    const result = await dkimVerify(Buffer.from(arrived.payload as string), { resolver: resolver as never });
    const selectors = records.filter((r) => r.purpose === "dkim").map((r) => r.name.split(".")[0]);
    expect(result.results.map((r: any) => [r.signingDomain, r.selector, r.algo, r.status.result])).toEqual([
      [domain, selectors[0], "rsa-sha256", "pass"],
      [domain, selectors[1], "ed25519-sha256", "pass"],
    ]);
    // The verifier really checks: with a changed body neither passes (mailauth says neutral: body hash did not verify).
    const changed = await dkimVerify(Buffer.from((arrived.payload as string).replace("Thanks!", "Thanks?")), {
      resolver: resolver as never,
    });
    expect(changed.results.map((r: any) => r.status.result)).toEqual(["neutral", "neutral"]);
  });
});
