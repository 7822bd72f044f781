// Control API routes for the APNs simulator:
//   POST /_sandbox/apns/tokens          {"name"?: string}                    -> 201 {"token"}
//   POST /_sandbox/apns/keys            {keyId, teamId, publicKeyPem}         -> 201 {keyId, teamId}
//   POST /_sandbox/apns/faults          {"goawayAfter"?: n, "destroyAfter"?: n, "goawayEvery"?: n} -> 200 (the armed faults)
//   POST /_sandbox/apns/expire-tokens                                        -> 204
//   GET  /_sandbox/apns/stats                                                -> 200 {sessions, sessionsOpened, acceptedByTeam, providerTokensSeen, tokenChanges}
import type { ApnsFaults, ApnsService } from "./apns.ts";
import { error, readJsonInput, type Route } from "./control.ts";
import { sendEmpty, sendJson } from "./http.ts";

export function apnsRoutes(apns: ApnsService): Route[] {
  return [
    {
      method: "POST",
      path: "/_sandbox/apns/tokens",
      handle: async (req, res) => {
        const input = await readJsonInput(req, res);
        if (input === null) return;
        if (input.name !== undefined && typeof input.name !== "string") return error(res, 400, "invalid_name", "name must be a string");
        let token: string;
        try {
          token = apns.createDeviceToken(input.name);
        } catch (cause) {
          return error(res, 400, "invalid_name", (cause as Error).message);
        }
        sendJson(res, 201, { token });
      },
    },
    {
      method: "POST",
      path: "/_sandbox/apns/keys",
      handle: async (req, res) => {
        const input = await readJsonInput(req, res);
        if (input === null) return;
        const { keyId, teamId, publicKeyPem } = input;
        if (typeof keyId !== "string" || typeof teamId !== "string" || typeof publicKeyPem !== "string") {
          return error(res, 400, "invalid_key", "keyId, teamId and publicKeyPem must be strings");
        }
        try {
          apns.registerKey({ keyId, teamId, publicKeyPem });
        } catch (cause) {
          return error(res, 400, "invalid_key", (cause as Error).message);
        }
        sendJson(res, 201, { keyId, teamId });
      },
    },
    {
      method: "POST",
      path: "/_sandbox/apns/faults",
      handle: async (req, res) => {
        const input = await readJsonInput(req, res);
        if (input === null) return;
        const faults: ApnsFaults = {};
        for (const name of ["goawayAfter", "destroyAfter", "goawayEvery"] as const) {
          const value = input[name];
          if (value === undefined) continue;
          if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
            return error(res, 400, "invalid_fault", `${name} must be a positive integer (a request count)`);
          }
          faults[name] = value;
        }
        apns.setFaults(faults);
        sendJson(res, 200, faults);
      },
    },
    {
      method: "POST",
      path: "/_sandbox/apns/expire-tokens",
      handle: (_req, res) => {
        apns.expireTokens();
        sendEmpty(res, 204);
      },
    },
    { method: "GET", path: "/_sandbox/apns/stats", handle: (_req, res) => sendJson(res, 200, apns.stats()) },
  ];
}
