/** Forged Resend webhooks: Standard Webhooks under svix- headers (forged-shared.ts). */
import { standardWebhooks } from "./forged-shared.ts";

standardWebhooks("resend", "svix");
