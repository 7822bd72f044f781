/** Plain values shared by vitest.config.ts (Node) and the Worker tests (workerd). */
export const API_KEY_A = "test-key-account-a";
export const API_KEY_B = "test-key-account-b";
export const ACCOUNT_A = "acct-a";
export const ACCOUNT_B = "acct-b";
/** Account C exists for SMS routing only: REST first, SMPP second. */
export const API_KEY_C = "test-key-account-c";
export const ACCOUNT_C = "acct-c";
/** A host the Worker tests allow for web push; its requests are answered by the fake in test/worker/push-service.ts. */
export const TEST_PUSH_HOST = "push.test";
/** Where the Worker tests' fake bridge answers (test/worker/bridge-fake.ts). */
export const TEST_BRIDGE_HOST = "bridge.test";
/** Where the Worker tests' fake DNS-over-HTTPS resolver answers (test/worker/doh-fake.ts). */
export const TEST_DOH_HOST = "doh.test";
/** The platform names a sending domain's records point at, in the Worker tests. */
export const TEST_BOUNCE_MX_HOST = "mx.lasthop.test";
export const TEST_SPF_INCLUDE = "_spf.lasthop.test";
/** Where the Worker tests' fake Twilio-compatible aggregator answers. */
export const TEST_SMS_REST_HOST = "sms.test";
export const TEST_TWILIO = { accountSid: "AC0123456789abcdef0123456789abcdef", authToken: "test-twilio-auth-token-0123456789" };
/** Account A: SMPP first (the fake bridge's route "smsc"), REST second; account B: REST only. */
export const TEST_SMS_CONFIG = {
  [ACCOUNT_A]: {
    routes: [
      { name: "smpp", type: "smpp", bridgeRoute: "smsc" },
      { name: "rest", type: "rest", baseUrl: `https://${TEST_SMS_REST_HOST}`, ...TEST_TWILIO },
    ],
    senders: ["+15005550006", "12345", "ACME"],
    keywords: { help: ["HELP", "INFO", "AIDE"] },
    replies: { help: "ACME alerts: reply STOP to stop." },
  },
  [ACCOUNT_B]: {
    routes: [{ name: "rest", type: "rest", baseUrl: `https://${TEST_SMS_REST_HOST}`, ...TEST_TWILIO }],
    senders: ["+15005550007"],
  },
  [ACCOUNT_C]: {
    routes: [
      { name: "rest", type: "rest", baseUrl: `https://${TEST_SMS_REST_HOST}`, ...TEST_TWILIO },
      { name: "smpp", type: "smpp", bridgeRoute: "smsc" },
    ],
    senders: ["+15005550008"],
  },
};
