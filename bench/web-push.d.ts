// The slice of web-push 3.6 the benchmark uses (the package ships no types).
declare module "web-push" {
  import type { Agent } from "node:https";
  type Subscription = { endpoint: string; keys: { p256dh: string; auth: string } };
  type Options = {
    vapidDetails: { subject: string; publicKey: string; privateKey: string };
    TTL?: number;
    urgency?: "very-low" | "low" | "normal" | "high";
    contentEncoding?: "aes128gcm" | "aesgcm";
    agent?: Agent;
    timeout?: number;
  };
  function sendNotification(subscription: Subscription, payload: string, options: Options): Promise<{ statusCode: number }>;
  const webpush: { sendNotification: typeof sendNotification };
  export default webpush;
}
