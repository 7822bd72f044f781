// The slice of web-push 3.6 that test/node/sandbox.test.ts uses (the package ships no types;
// bench/web-push.d.ts is the benchmark's slice).
declare module "web-push" {
  type Subscription = { endpoint: string; keys: { p256dh: string; auth: string } };
  type Headers = Record<string, string | string[] | undefined>;
  class WebPushError extends Error {
    statusCode: number;
    headers: Headers;
    body: string;
  }
  const webpush: {
    generateVAPIDKeys(): { publicKey: string; privateKey: string };
    sendNotification(
      subscription: Subscription,
      payload: string,
      options: Record<string, unknown>,
    ): Promise<{ statusCode: number; headers: Headers; body: string }>;
    generateRequestDetails(subscription: Subscription, payload: string, options: Record<string, unknown>): unknown;
    WebPushError: typeof WebPushError;
  };
  export default webpush;
}
