// The production path to the bridge: a Container Durable Object behind the BRIDGE binding
// (wrangler.toml [env.production]) instead of BRIDGE_URL. A stand-in namespace plays the
// container: it checks the edge's signature as the bridge does and answers per item.
import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { BRIDGE_APNS_PATH } from "../../src/core/bridge.ts";
import { bridgeInstance, sendBatchToBridge } from "../../src/channels/bridge.ts";
import { bridgeServes } from "../../src/core/bridge.ts";
import { verifiedBody } from "./bridge-fake.ts";

type Seen = { instance: string; url: string; method: string; signed: boolean; body: { items: Array<{ id: string }> } | null };

function standInNamespace(answer: (body: { items: Array<{ id: string }> }) => Response) {
  const seen: Seen[] = [];
  const namespace = {
    idFromName: (name: string) => ({ name }),
    get: (id: { name: string }) => ({
      fetch: async (input: string, init: RequestInit) => {
        const request = new Request(input, init);
        const verified = await verifiedBody(request);
        const signed = typeof verified === "string";
        seen.push({ instance: id.name, url: request.url, method: request.method, signed, body: signed ? JSON.parse(verified) : null });
        return signed ? answer(JSON.parse(verified)) : verified;
      },
    }),
  };
  return { seen, namespace: namespace as unknown as DurableObjectNamespace };
}

const accepted = (body: { items: Array<{ id: string }> }) =>
  Response.json({
    results: body.items.map((item) => ({ id: item.id, kind: "accepted", detail: { status: 200, providerMessageId: item.id } })),
  });

afterEach(() => vi.restoreAllMocks());

describe("the bridge as a Cloudflare Container (BRIDGE binding)", () => {
  it("posts the signed batch to the container's DO instead of fetching BRIDGE_URL", async () => {
    const fetchSpy = vi.spyOn(globalThis, "fetch");
    const { seen, namespace } = standInNamespace(accepted);
    const prodEnv = { ...env, BRIDGE_URL: "", BRIDGE: namespace, BRIDGE_INSTANCES: "3" } as unknown as Env;
    const ids = ["m-1", "m-2"];
    const outcomes = await sendBatchToBridge(prodEnv, BRIDGE_APNS_PATH, { items: ids.map((id) => ({ id })) }, ids);
    expect(outcomes).toEqual(ids.map((id) => ({ kind: "accepted", detail: { status: 200, providerMessageId: id } })));
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ url: `http://bridge${BRIDGE_APNS_PATH}`, method: "POST", signed: true });
    expect(seen[0].body?.items.map((i) => i.id)).toEqual(ids);
    expect(["bridge-0", "bridge-1", "bridge-2"]).toContain(seen[0].instance);
    expect(fetchSpy).not.toHaveBeenCalled();
  });

  it("leaves every item to the queue's retry, as maybe submitted, when the container answers an error", async () => {
    const { namespace } = standInNamespace(() => Response.json({ error: { code: "unavailable", message: "starting" } }, { status: 503 }));
    const prodEnv = { ...env, BRIDGE_URL: "", BRIDGE: namespace } as unknown as Env;
    const outcomes = await sendBatchToBridge(prodEnv, BRIDGE_APNS_PATH, { items: [{ id: "m-3" }] }, ["m-3"]);
    expect(outcomes).toEqual([
      {
        kind: "retry",
        detail: {
          reason: "bridge_error",
          status: 503,
          response: { error: { code: "unavailable", message: "starting" } },
          submitted: "maybe",
        },
      },
    ]);
  });

  it("counts a binding as a reachable bridge for the channels BRIDGE_CHANNELS names", () => {
    const { namespace } = standInNamespace(accepted);
    const prodEnv = { BRIDGE_URL: "", BRIDGE_CHANNELS: "apns,email", BRIDGE: namespace } as unknown as Env;
    expect(bridgeServes(prodEnv, "apns")).toBe(true);
    expect(bridgeServes(prodEnv, "sms")).toBe(false);
    expect(bridgeServes({ BRIDGE_URL: "", BRIDGE_CHANNELS: "apns" }, "apns")).toBe(false);
  });

  it.each([
    [undefined, 0.99, "bridge-0"],
    ["1", 0.5, "bridge-0"],
    ["3", 0, "bridge-0"],
    ["3", 0.5, "bridge-1"],
    ["3", 0.999, "bridge-2"],
    ["0", 0.7, "bridge-0"],
    ["nonsense", 0.7, "bridge-0"],
  ])("BRIDGE_INSTANCES=%s, draw %s → %s", (instances, draw, name) => {
    expect(bridgeInstance(instances, draw)).toBe(name);
  });
});
