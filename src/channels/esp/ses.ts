/**
 * Amazon SES v2 SendEmail: built and mapped in core (src/core/esp/ses.ts), signed (SigV4,
 * service "ses", the section's region) and fetched here. aws4fetch's own fetch retries 5xx
 * and 429 by itself; only its signer is used, so the queue alone decides retries.
 */
import { AwsClient } from "aws4fetch";
import type { Sections } from "../../core/config/sections.ts";
import type { EspRoute } from "../../core/email-routes.ts";
import type { EspMessage } from "../../core/esp/message.ts";
import { outcome, region, request } from "../../core/esp/ses.ts";
import type { SendOutcome } from "../../core/outcome.ts";
import { deliver, type EspSendOptions, missingCredentials } from "./http.ts";

export async function send(
  message: EspMessage,
  route: Extract<EspRoute, { type: "ses" }>,
  creds: Sections["provider:ses"] | undefined,
  options?: EspSendOptions,
): Promise<SendOutcome> {
  const accessKeyId = creds?.accessKeyId;
  const secretAccessKey = creds?.secretAccessKey;
  if (!accessKeyId || !secretAccessKey) return missingCredentials("ses", ["accessKeyId", "secretAccessKey"]);
  const sesCreds = { accessKeyId, secretAccessKey, region: creds.region, configurationSet: creds.configurationSet };
  return deliver(
    (init) => {
      const req = request(message, route, sesCreds);
      const client = new AwsClient({ accessKeyId, secretAccessKey, region: region(sesCreds), service: "ses", retries: 0 });
      return client.sign(req.url, { method: req.method, headers: req.headers, body: req.body, ...init });
    },
    outcome,
    options,
  );
}
