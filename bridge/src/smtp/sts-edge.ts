/**
 * The edge as a second-level MTA-STS policy cache, shared by every bridge instance (the edge keeps
 * each recipient domain's latest policy in that domain's object). `get` and `offer` never throw
 * and are bounded by `timeoutMs`: the edge being away must never hold a delivery up, so an edge
 * that does not answer in time is a miss, and the bridge fetches the policy itself.
 */
import type { Logger } from "pino";
import { EDGE_MTA_STS_PATH, stsPolicyAnswer } from "../../../src/core/bridge.ts";
import type { CachedStsPolicy } from "../../../src/core/mta-sts.ts";
import { postToEdge } from "../edge.ts";

export type SharedStsCache = {
  /** The edge's live policy for `domain`, or null (none, expired, or the edge did not answer). */
  get(domain: string): Promise<CachedStsPolicy | null>;
  /** Offers a policy this bridge just fetched; the answer does not matter to the delivery. */
  offer(domain: string, cached: CachedStsPolicy): Promise<void>;
};

export function edgeStsCache(options: { edgeUrl: string; secret: string; timeoutMs?: number; log?: Logger }): SharedStsCache {
  const { edgeUrl, secret, log } = options;
  const timeoutMs = options.timeoutMs ?? 2_000;
  const ask = async (body: unknown): Promise<CachedStsPolicy | null> => {
    const reply = await postToEdge(edgeUrl, EDGE_MTA_STS_PATH, secret, body, timeoutMs);
    if ("error" in reply || reply.status !== 200) {
      log?.debug(
        { reply: "error" in reply ? reply.error : reply.status },
        "mta-sts: the edge's shared cache did not answer; fetching locally",
      );
      return null;
    }
    try {
      const parsed = stsPolicyAnswer.safeParse(JSON.parse(reply.text));
      return parsed.success ? parsed.data.policy : null;
    } catch {
      return null;
    }
  };
  return {
    get: (domain) => ask({ domain }),
    offer: async (domain, cached) => {
      await ask({ domain, policy: cached });
    },
  };
}
