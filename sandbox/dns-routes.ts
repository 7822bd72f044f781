// DNS over HTTPS (the JSON API) on the control server, and its control routes: the Worker's
// DOH_URL points here under `npm start` and in the end-to-end tests, so sending domains verify
// offline against records published here.
//   GET    /dns-query?name=<name>&type=A|AAAA|TXT|MX|CNAME     accept: application/dns-json -> 200 {Status, Question, Answer?}
//   POST   /_sandbox/dns/records   {name, type, value, priority?}                    -> 201 the record
//   DELETE /_sandbox/dns/records?name=<name>[&type=<type>]                            -> 204 (404 when none matched)
//   GET    /_sandbox/dns/records                                                      -> 200 [records]
import { error, readJsonInput, type Route } from "./control.ts";
import { DNS_TYPES, dnsValueProblem, isDnsName, isDnsType, type DnsStore } from "./dns.ts";
import { sendEmpty, sendJson } from "./http.ts";

const TYPES = `type must be one of ${Object.keys(DNS_TYPES).join(", ")}`;

export function dnsRoutes(dns: DnsStore): Route[] {
  return [
    {
      method: "GET",
      path: "/dns-query",
      handle: (_req, res, url) => {
        const name = url.searchParams.get("name") ?? "";
        const type = (url.searchParams.get("type") ?? "A").toUpperCase();
        if (!isDnsName(name)) return error(res, 400, "invalid_name", "name must be a domain name");
        if (!isDnsType(type)) return error(res, 400, "unsupported_type", TYPES);
        sendJson(res, 200, dns.answer(name, type));
      },
    },
    {
      method: "POST",
      path: "/_sandbox/dns/records",
      handle: async (req, res) => {
        const input = await readJsonInput(req, res);
        if (input === null) return;
        const { name, type, value, priority } = input;
        if (typeof name !== "string" || !isDnsName(name)) return error(res, 400, "invalid_name", "name must be a domain name");
        if (!isDnsType(type)) return error(res, 400, "unsupported_type", TYPES);
        if (typeof value !== "string" || value.length === 0 || value.length > 4000) {
          return error(res, 400, "invalid_value", "value must be a string of 1 to 4000 characters");
        }
        const problem = dnsValueProblem(type, value);
        if (problem) return error(res, 400, "invalid_value", problem);
        if (priority !== undefined && (!Number.isInteger(priority) || (priority as number) < 0 || (priority as number) > 65535)) {
          return error(res, 400, "invalid_priority", "priority must be an integer from 0 to 65535");
        }
        const record = dns.add({ name, type, value, ...(type === "MX" ? { priority: (priority as number | undefined) ?? 10 } : {}) });
        sendJson(res, 201, record);
      },
    },
    {
      method: "DELETE",
      path: "/_sandbox/dns/records",
      handle: (_req, res, url) => {
        const name = url.searchParams.get("name") ?? "";
        const type = url.searchParams.get("type");
        if (!isDnsName(name)) return error(res, 400, "invalid_name", "name must be a domain name");
        if (type !== null && !isDnsType(type)) return error(res, 400, "unsupported_type", TYPES);
        if (dns.remove(name, type ?? undefined) === 0) return error(res, 404, "not_found", `no record at ${name}`);
        sendEmpty(res, 204);
      },
    },
    { method: "GET", path: "/_sandbox/dns/records", handle: (_req, res) => sendJson(res, 200, dns.list()) },
  ];
}
