/** Forged Standard Webhooks under webhook- headers, any sender's (forged-shared.ts). */
import { standardWebhooks } from "./forged-shared.ts";

standardWebhooks("standard", "webhook");
