import { describe, expect, it } from "vitest";
import { bridgeContainerEnv } from "../../src/core/bridge-env.ts";

describe("the bridge container's environment (Cloudflare Containers)", () => {
  it("passes the platform secret as BRIDGE_SECRET and the public origin as EDGE_URL", () => {
    expect(bridgeContainerEnv({ WEBHOOK_SECRET: "whsec_abc", PUBLIC_URL: "https://lasthop.example.com/some/path" })).toEqual({
      BRIDGE_SECRET: "whsec_abc",
      BRIDGE_HOST: "0.0.0.0",
      EDGE_URL: "https://lasthop.example.com",
    });
  });

  it("passes the bridge-only secrets through and leaves unset or empty ones unset", () => {
    const out = bridgeContainerEnv({
      WEBHOOK_SECRET: "whsec_abc",
      PUBLIC_URL: "https://edge.test",
      APNS_KEY: "-----BEGIN PRIVATE KEY-----\n…",
      APNS_KEY_ID: "ABC123DEFG",
      APNS_TEAM_ID: "",
      SMPP_ROUTES: '[{"name":"a"}]',
    });
    expect(out).toMatchObject({ APNS_KEY: "-----BEGIN PRIVATE KEY-----\n…", APNS_KEY_ID: "ABC123DEFG", SMPP_ROUTES: '[{"name":"a"}]' });
    expect(out).not.toHaveProperty("APNS_TEAM_ID");
    expect(out).not.toHaveProperty("LOG_LEVEL");
  });

  it("refuses a PUBLIC_URL that is not a URL (the container would post inbound traffic nowhere)", () => {
    expect(() => bridgeContainerEnv({ WEBHOOK_SECRET: "whsec_abc", PUBLIC_URL: "lasthop" })).toThrow();
  });
});
