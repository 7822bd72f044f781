/** Plain values shared by vitest.config.ts (Node) and the Worker tests (workerd). */
export const API_KEY_A = "test-key-account-a";
export const API_KEY_B = "test-key-account-b";
export const ACCOUNT_A = "acct-a";
export const ACCOUNT_B = "acct-b";
/** A host the Worker tests allow for web push; its requests are answered by the fake in test/worker/push-service.ts. */
export const TEST_PUSH_HOST = "push.test";
/** Where the Worker tests' fake bridge answers (test/worker/bridge-fake.ts). */
export const TEST_BRIDGE_HOST = "bridge.test";
