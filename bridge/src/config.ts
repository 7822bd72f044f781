/**
 * The bridge's configuration, read once from environment variables and validated with zod
 * before anything starts. A bad or missing value is a `ConfigError` whose message names the
 * variable; main.ts prints it as one line and exits 1, so a misconfigured container fails
 * at once instead of answering the edge with errors later.
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { availableParallelism, hostname } from "node:os";
import { domainToASCII } from "node:url";
import { z } from "zod";
import { APNS_PRODUCTION_ORIGIN, APNS_SANDBOX_ORIGIN } from "../../src/core/apns.ts";
import { validInboundEntry } from "./smtp/inbound-domains.ts";

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type ApnsConfig = {
  /** The .p8 key as PKCS#8 PEM text (checked to be an EC P-256 private key). */
  key: string;
  keyId: string;
  teamId: string;
  productionOrigin: string;
  sandboxOrigin: string;
  /** Extra trusted CA (PEM), appended to Node's default roots; dev only. */
  ca?: string;
  sessionsPerOrigin: number;
  requestTimeoutMs: number;
  /** 0 turns keep-alive pings off. */
  pingIntervalMs: number;
  tokenRefreshMs: number;
};

/** The SMTP relay (POST /v1/smtp/send). It needs no credentials of its own, so it is always on. */
export type SmtpConfig = {
  /** Our name in EHLO (the default is the machine's host name). */
  heloName: string;
  /** Port of the receiving MTAs in direct (MX) mode: 25 in production; tests point it at a fixture. */
  directPort: number;
  /** An unused pooled connection is closed (QUIT) after this long. */
  idleMs: number;
  /** Concurrent deliveries, and open connections, per destination (recipient domain, or smarthost). */
  maxPerDomain: number;
  /** Concurrent deliveries per account. */
  maxPerAccount: number;
  /** Deadline for connecting (DNS, TCP, greeting, TLS, AUTH) and, separately, for one SMTP transaction. */
  timeoutMs: number;
  /** Extra trusted CA (PEM) for TLS to a smarthost, appended to Node's default roots; dev only. */
  ca?: string;
  /** DKIM signing threads (sign-pool.ts); 0 signs on the event loop. Default: one per core. */
  dkimThreads?: number;
  /** MTA-STS (RFC 8461) for direct delivery: on unless SMTP_MTA_STS=off. */
  mtaSts?: boolean;
  /** Port of the MTA-STS policy servers: 443 in production; tests serve the policy elsewhere. */
  mtaStsPort?: number;
  /**
   * The DNS servers every lookup of the SMTP path asks (MX, `_mta-sts` TXT, A/AAAA), as
   * node:dns setServers takes them (`ip`, `ip:port`, `[ipv6]:port`); absent = the system's.
   */
  dnsServers?: string[];
};

/**
 * The inbound SMTP server (the bounce domains' MX): DSNs, ARF complaints and replies are handed
 * to the edge (a signed POST) before they are accepted. Absent when INBOUND_DOMAINS and EDGE_URL
 * are not set.
 */
export type InboundConfig = {
  host: string;
  /** 0 = any free port (tests). */
  port: number;
  /** Lower-cased domains whose addresses RCPT TO accepts (the bounce domains), or `<label>.*` (that label in front of any domain). */
  domains: string[];
  /** The Worker's origin, e.g. http://127.0.0.1:8787; messages go to `${edgeUrl}/v1/inbound/email`. */
  edgeUrl: string;
  /** Advertised as SIZE and enforced (552 5.3.4). */
  maxBytes: number;
  /** Deadline for each POST to the edge, answer included; past it the sender gets 451. */
  edgeTimeoutMs: number;
  /** STARTTLS certificate chain and key (PEM); without them STARTTLS is not offered. */
  tls?: { cert: string; key: string };
  /** How messages are batched to the edge: the defaults of smtp/inbound.ts unless set (tests). */
  batch?: { lingerMs?: number; maxItems?: number };
};

/** One SMPP bind of a route (SMPP_ROUTES[].binds[]). */
export type SmppBindConfig = {
  host: string;
  port: number;
  /** system_id (at most 15 characters). */
  systemId: string;
  /** password (at most 8 characters). */
  password: string;
  systemType?: string;
  /** One bind_transceiver session, or a bind_transmitter + bind_receiver pair. */
  mode: "transceiver" | "pair";
  tls: boolean;
  /** Extra trusted CA (PEM text, read from the file named in SMPP_ROUTES); dev only. */
  ca?: string;
};

/** One SMPP route (an SMSC account): its binds and how to talk to it. */
export type SmppRouteConfig = {
  name: string;
  binds: SmppBindConfig[];
  /** Most submit_sm outstanding (written, no response yet) per bind. */
  window: number;
  /** Submits per second for the whole route (all binds); null = uncapped. */
  tps: number | null;
  /** true: the whole body in the message_payload TLV (the SMSC segments); false: UDH parts. */
  useMessagePayload: boolean;
  /** How the SMSC writes ids in submit_sm_resp and receipted_message_id. */
  submitIdBase: 10 | 16;
  /** How it writes `id:` in receipt text. */
  receiptIdBase: 10 | 16;
  registeredDelivery: boolean;
  enquireLinkMs: number;
  /** Deadline for every response: bind, submit_sm_resp, enquire_link_resp. */
  responseTimeoutMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** How long an item waits for a bind of its route to come up before it is `route_down`. */
  bindWaitMs: number;
  sourceTon?: number;
  sourceNpi?: number;
  destTon?: number;
  destNpi?: number;
};

/** SMPP (POST /v1/smpp/send, DLR and MO forwarding); absent when SMPP_ROUTES is not set. */
export type SmppConfig = {
  routes: SmppRouteConfig[];
  /** DLRs and MO messages go to `${edgeUrl}/v1/inbound/sms`. */
  edgeUrl: string;
  /** Deadline for each POST to the edge, answer included (INBOUND_EDGE_TIMEOUT_MS). */
  edgeTimeoutMs: number;
  /** How long a batch may wait for binds, windows and the rate before its unsent items come back as retry. */
  batchTimeoutMs: number;
  /** How long the parts of a concatenated MO message are held for the missing ones. */
  moReassemblyMs: number;
};

export type Config = {
  host: string;
  port: number;
  /** Standard Webhooks secret shared with the edge (`whsec_` + base64). */
  secret: string;
  /** null when no APNs credentials are configured: the APNs endpoint then answers 503. */
  apns: ApnsConfig | null;
  /**
   * The SMTP relay. loadConfig always sets it; in-process callers (tests) may leave it out
   * and get `smtpDefaults()`.
   */
  smtp?: SmtpConfig;
  /** The inbound SMTP server; absent (off) unless INBOUND_DOMAINS and EDGE_URL are set. */
  inbound?: InboundConfig;
  /** SMPP routes; absent (off, the endpoint answers 503) unless SMPP_ROUTES is set. */
  smpp?: SmppConfig;
  logLevel: LogLevel;
  shutdownTimeoutMs: number;
};

export class ConfigError extends Error {
  override name = "ConfigError";
}

const MINUTE = 60_000;

/** Empty strings count as unset: `ENV X=` in a Dockerfile or `X= node …` means "not given". */
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (typeof v === "string" && v.trim() === "" ? undefined : v), schema.optional());

/** A whole number in [min, max], given as decimal digits. */
const integer = (min: number, max: number, fallback: number) =>
  optional(
    z
      .string()
      .trim()
      .regex(/^\d+$/, { error: `must be a whole number between ${min} and ${max}` })
      .transform(Number)
      .pipe(
        z
          .number()
          .min(min, { error: `must be between ${min} and ${max}` })
          .max(max, { error: `must be between ${min} and ${max}` }),
      ),
  ).transform((v) => v ?? fallback);

/** An https origin (scheme, host, port; no path): HTTP/2 to APNs only runs over TLS. */
const httpsOrigin = (fallback: string) =>
  optional(
    z
      .string()
      .trim()
      .refine(
        (v) => {
          try {
            const url = new URL(v);
            return url.protocol === "https:" && (url.pathname === "/" || url.pathname === "") && !url.search && !url.hash;
          } catch {
            return false;
          }
        },
        { error: "must be an https origin such as https://api.push.apple.com" },
      ),
  ).transform((v) => new URL(v ?? fallback).origin);

/**
 * A name for EHLO (RFC 5321 §4.1.1.1): a host name of letters, digits, hyphens and dots, or an
 * address literal such as [192.0.2.1]. Nothing that could end the command line.
 */
const heloName = optional(
  z
    .string()
    .trim()
    .max(255, { error: "must be at most 255 characters" })
    .regex(
      /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.?|\[[0-9A-Fa-f:.]+\]|\[IPv6:[0-9A-Fa-f:.]+\])$/,
      {
        error: "must be a host name (letters, digits, hyphens, dots) or an address literal such as [192.0.2.1]",
      },
    ),
);

/**
 * INBOUND_DOMAINS: comma-separated domains, lower-cased (IDNs as A-labels), without duplicates;
 * an entry `<label>.*` takes that label in front of any domain (`lh-bounces.*`: every sending
 * domain's return-path host; smtp/inbound-domains.ts).
 */
const domainList = optional(
  z
    .string()
    .transform((v) => {
      const names = v
        .split(",")
        .map((d) => d.trim().replace(/\.$/, ""))
        .filter((d) => d !== "");
      // An entry domainToASCII cannot convert stays as given, so the check below names the list as bad.
      return [...new Set(names.map((d) => (domainToASCII(d) || d).toLowerCase()))];
    })
    .refine((list) => list.length > 0 && list.every(validInboundEntry), {
      error: "must be a comma-separated list of domain names such as bounces.example.com, or a label then .* such as lh-bounces.*",
    }),
);

/** EDGE_URL: an http(s) origin (no path, query or fragment), returned without a trailing slash. */
const edgeOrigin = optional(
  z
    .string()
    .trim()
    .refine(
      (v) => {
        try {
          const url = new URL(v);
          return (
            (url.protocol === "https:" || url.protocol === "http:") &&
            (url.pathname === "/" || url.pathname === "") &&
            !url.search &&
            !url.hash &&
            !url.username &&
            !url.password
          );
        } catch {
          return false;
        }
      },
      { error: "must be the Worker's http(s) origin such as https://lasthop.example.workers.dev" },
    ),
).transform((v) => (v === undefined ? undefined : new URL(v).origin));

/** One DNS server: an IP address, or one with a port (`192.0.2.1:53`, `[2001:db8::1]:53`). */
function dnsServerEntry(entry: string): boolean {
  if (isIP(entry) !== 0) return true;
  const match = /^(?:\[([^\]]+)\]|([0-9.]+)):(\d{1,5})$/.exec(entry);
  if (!match) return false;
  const [, v6, v4, port] = match;
  const ipOk = v6 !== undefined ? isIP(v6) === 6 : isIP(v4!) === 4;
  return ipOk && Number(port) >= 1 && Number(port) <= 65_535;
}

/** SMTP_DNS_SERVERS: comma-separated DNS servers, in the order to ask them. */
const dnsServers = optional(
  z
    .string()
    .transform((v) =>
      v
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s !== ""),
    )
    .refine((list) => list.length > 0 && list.every(dnsServerEntry), {
      error: "must be a comma-separated list of IP addresses, each with an optional port, such as 127.0.0.1:8553 or [::1]:53",
    }),
);

/** Apple's key ids and team ids are 10 letters and digits. */
const appleId = optional(
  z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9]{10}$/, { error: "must be 10 characters (letters and digits)" }),
);

const schema = z
  .object({
    BRIDGE_HOST: optional(z.string().trim()).transform((v) => v ?? "127.0.0.1"),
    BRIDGE_PORT: integer(0, 65_535, 8790),
    BRIDGE_SECRET: z.preprocess(
      (v) => (typeof v === "string" && v.trim() === "" ? undefined : v),
      z
        .string({ error: "is required (the Standard Webhooks secret shared with the edge, whsec_ + base64)" })
        .trim()
        .regex(/^whsec_[A-Za-z0-9+/]+={0,2}$/, { error: "must be whsec_ followed by base64" })
        .refine((v) => Buffer.from(v.slice("whsec_".length), "base64").length >= 16, { error: "must hold at least 16 bytes of key" }),
    ),
    APNS_KEY: optional(z.string()),
    APNS_KEY_FILE: optional(z.string().trim()),
    APNS_KEY_ID: appleId,
    APNS_TEAM_ID: appleId,
    APNS_PRODUCTION_ORIGIN: httpsOrigin(APNS_PRODUCTION_ORIGIN),
    APNS_SANDBOX_ORIGIN: httpsOrigin(APNS_SANDBOX_ORIGIN),
    APNS_CA_FILE: optional(z.string().trim()),
    APNS_SESSIONS_PER_ORIGIN: integer(1, 64, 2),
    APNS_REQUEST_TIMEOUT_MS: integer(1, 600_000, 10_000),
    APNS_PING_INTERVAL_MS: integer(0, 3_600_000, 60_000),
    // Apple: refresh no more than once every 20 minutes and no less than once every 60.
    APNS_TOKEN_REFRESH_MINUTES: integer(20, 50, 50),
    SMTP_HELO_NAME: heloName,
    SMTP_DIRECT_PORT: integer(1, 65_535, 25),
    SMTP_IDLE_MS: integer(0, 600_000, 30_000),
    SMTP_MAX_PER_DOMAIN: integer(1, 100, 5),
    SMTP_MAX_PER_ACCOUNT: integer(1, 1_000, 20),
    SMTP_TIMEOUT_MS: integer(1_000, 600_000, 30_000),
    SMTP_CA_FILE: optional(z.string().trim()),
    SMTP_DKIM_THREADS: integer(0, 64, availableParallelism()),
    SMTP_MTA_STS: optional(z.enum(["on", "off"], { error: 'must be "on" or "off"' })).transform((v) => v !== "off"),
    SMTP_MTA_STS_PORT: integer(1, 65_535, 443),
    SMTP_DNS_SERVERS: dnsServers,
    INBOUND_DOMAINS: domainList,
    EDGE_URL: edgeOrigin,
    INBOUND_SMTP_HOST: optional(z.string().trim()),
    INBOUND_SMTP_PORT: integer(0, 65_535, 2526),
    INBOUND_MAX_BYTES: integer(1_024, 64 * 1024 * 1024, 10 * 1024 * 1024),
    INBOUND_EDGE_TIMEOUT_MS: integer(1_000, 600_000, 15_000),
    INBOUND_TLS_CERT_FILE: optional(z.string().trim()),
    INBOUND_TLS_KEY_FILE: optional(z.string().trim()),
    SMPP_ROUTES: optional(z.string()),
    SMPP_BATCH_TIMEOUT_MS: integer(1_000, 600_000, 30_000),
    SMPP_MO_REASSEMBLY_MS: integer(1_000, 3_600_000, 60_000),
    LOG_LEVEL: optional(z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(", ")}` })).transform((v) => v ?? "info"),
    SHUTDOWN_TIMEOUT_MS: integer(0, 600_000, 10_000),
  })
  .superRefine((env, ctx) => {
    if (env.APNS_KEY !== undefined && env.APNS_KEY_FILE !== undefined) {
      ctx.addIssue({ code: "custom", path: ["APNS_KEY_FILE"], message: "cannot be set together with APNS_KEY: give the key one way" });
    }
    // APNs is all or nothing: a partial set is a mistake, not "APNs off".
    const given = {
      key: env.APNS_KEY !== undefined || env.APNS_KEY_FILE !== undefined,
      APNS_KEY_ID: env.APNS_KEY_ID !== undefined,
      APNS_TEAM_ID: env.APNS_TEAM_ID !== undefined,
    };
    if (Object.values(given).some(Boolean) && !Object.values(given).every(Boolean)) {
      const missing = !given.key ? "APNS_KEY" : !given.APNS_KEY_ID ? "APNS_KEY_ID" : "APNS_TEAM_ID";
      ctx.addIssue({
        code: "custom",
        path: [missing],
        message: "is missing: APNs needs APNS_KEY (or APNS_KEY_FILE), APNS_KEY_ID and APNS_TEAM_ID together",
      });
    }
    // The inbound SMTP server is all or nothing too. Its certificate and key come as a pair, and
    // giving them without the server is a partial set as well.
    const tlsGiven = {
      INBOUND_TLS_CERT_FILE: env.INBOUND_TLS_CERT_FILE !== undefined,
      INBOUND_TLS_KEY_FILE: env.INBOUND_TLS_KEY_FILE !== undefined,
    };
    const inbound = { INBOUND_DOMAINS: env.INBOUND_DOMAINS !== undefined, EDGE_URL: env.EDGE_URL !== undefined };
    // EDGE_URL alone is fine when SMPP needs it (DLR/MO forwarding); SMPP without it is not.
    const edgeForSmpp =
      env.SMPP_ROUTES !== undefined && inbound.EDGE_URL && !inbound.INBOUND_DOMAINS && !Object.values(tlsGiven).some(Boolean);
    if (env.SMPP_ROUTES !== undefined && !inbound.EDGE_URL) {
      ctx.addIssue({
        code: "custom",
        path: ["EDGE_URL"],
        message: "is missing: SMPP_ROUTES needs EDGE_URL (delivery receipts and MO messages are posted to the edge)",
      });
    } else if (
      !edgeForSmpp &&
      (Object.values(inbound).some(Boolean) || Object.values(tlsGiven).some(Boolean)) &&
      !Object.values(inbound).every(Boolean)
    ) {
      const missing = !inbound.INBOUND_DOMAINS ? "INBOUND_DOMAINS" : "EDGE_URL";
      ctx.addIssue({
        code: "custom",
        path: [missing],
        message: "is missing: the inbound SMTP server needs INBOUND_DOMAINS and EDGE_URL together",
      });
    } else if (tlsGiven.INBOUND_TLS_CERT_FILE !== tlsGiven.INBOUND_TLS_KEY_FILE) {
      const missing = tlsGiven.INBOUND_TLS_CERT_FILE ? "INBOUND_TLS_KEY_FILE" : "INBOUND_TLS_CERT_FILE";
      ctx.addIssue({
        code: "custom",
        path: [missing],
        message: "is missing: STARTTLS needs INBOUND_TLS_CERT_FILE and INBOUND_TLS_KEY_FILE together",
      });
    }
  });

function readText(variable: string, path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(`${variable} cannot be read (${path}): ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
}

/** Checks the key is what Apple issues (.p8: PKCS#8, EC P-256) and returns it as PEM text. */
function apnsKey(variable: string, text: string): string {
  // Secrets stores and `.env` files often carry the PEM on one line with literal "\n".
  const pem = text.includes("-----BEGIN") ? `${text.replace(/\\n/g, "\n").trim()}\n` : text;
  if (!pem.includes("-----BEGIN PRIVATE KEY-----")) {
    throw new ConfigError(`${variable} must be the .p8 key as PKCS#8 PEM text (-----BEGIN PRIVATE KEY-----)`);
  }
  try {
    const key = createPrivateKey({ key: pem, format: "pem" });
    if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1") throw new Error("not P-256");
  } catch {
    throw new ConfigError(`${variable} is not an EC P-256 private key (APNs .p8 key expected)`);
  }
  return pem;
}

function caPem(path: string, variable = "APNS_CA_FILE"): string {
  const pem = readText(variable, path);
  try {
    new X509Certificate(pem);
  } catch {
    throw new ConfigError(`${variable} must hold a PEM certificate (${path})`);
  }
  return pem;
}

/** The STARTTLS certificate chain and its private key (PEM files), checked to belong together. */
function inboundTls(certFile: string, keyFile: string): { cert: string; key: string } {
  const cert = readText("INBOUND_TLS_CERT_FILE", certFile);
  const key = readText("INBOUND_TLS_KEY_FILE", keyFile);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    throw new ConfigError(`INBOUND_TLS_CERT_FILE must hold a PEM certificate (${certFile})`);
  }
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey({ key, format: "pem" });
  } catch {
    throw new ConfigError(`INBOUND_TLS_KEY_FILE must hold a PEM private key (${keyFile})`);
  }
  if (!x509.checkPrivateKey(privateKey))
    throw new ConfigError(`INBOUND_TLS_KEY_FILE is not the key of the certificate in INBOUND_TLS_CERT_FILE (${keyFile})`);
  return { cert, key };
}

// ---------------------------------------------------------------------------------------------
// SMPP_ROUTES: JSON, an array of routes.

const ton = z.number().int().min(0).max(255, { error: "must be a TON/NPI value 0..255" });
const ms = (min: number, max: number, fallback: number) =>
  z
    .number({ error: "must be a number of milliseconds" })
    .int({ error: "must be a whole number of milliseconds" })
    .min(min, { error: `must be between ${min} and ${max}` })
    .max(max, { error: `must be between ${min} and ${max}` })
    .default(fallback);
const idBase = z.union([z.literal(10), z.literal(16)], { error: "must be 10 or 16" });

const smppBind = z
  .strictObject({
    host: z.string({ error: "is required (the SMSC's host name or address)" }).trim().min(1, { error: "must not be empty" }),
    port: z
      .number({ error: "is required (a port number)" })
      .int()
      .min(1, { error: "must be a port 1..65535" })
      .max(65_535, { error: "must be a port 1..65535" }),
    systemId: z
      .string({ error: "is required" })
      .min(1, { error: "must not be empty" })
      .max(15, { error: "must be at most 15 characters (SMPP system_id)" }),
    password: z.string({ error: "is required" }).max(8, { error: "must be at most 8 characters (SMPP password)" }),
    systemType: z.string().max(12, { error: "must be at most 12 characters (SMPP system_type)" }).optional(),
    mode: z.enum(["transceiver", "pair"], { error: 'must be "transceiver" or "pair"' }),
    tls: z.boolean({ error: "must be true or false" }).default(false),
    ca: z.string().trim().min(1).optional(),
  })
  .refine((b) => b.ca === undefined || b.tls, { path: ["ca"], error: "needs tls: true" });

const smppRoute = z
  .strictObject({
    name: z.string({ error: "is required" }).regex(/^[A-Za-z0-9_.-]{1,64}$/, { error: "must be 1-64 letters, digits, '_', '.' or '-'" }),
    binds: z.array(smppBind, { error: "must be an array of binds" }).min(1, { error: "must hold at least one bind" }),
    window: z
      .number()
      .int({ error: "must be a whole number" })
      .min(1, { error: "must be at least 1" })
      .max(1_000, { error: "must be at most 1000" })
      .default(10),
    tps: z.number().positive({ error: "must be a number > 0, or null (uncapped)" }).nullable().default(null),
    useMessagePayload: z.boolean({ error: "must be true or false" }).default(false),
    submitIdBase: idBase.default(10),
    receiptIdBase: idBase.optional(),
    registeredDelivery: z.boolean({ error: "must be true or false" }).default(true),
    enquireLinkMs: ms(50, 600_000, 30_000),
    responseTimeoutMs: ms(50, 600_000, 10_000),
    reconnectMinMs: ms(10, 600_000, 500),
    reconnectMaxMs: ms(10, 3_600_000, 30_000),
    bindWaitMs: ms(0, 60_000, 2_000),
    sourceTon: ton.optional(),
    sourceNpi: ton.optional(),
    destTon: ton.optional(),
    destNpi: ton.optional(),
  })
  .refine((r) => r.reconnectMaxMs >= r.reconnectMinMs, { path: ["reconnectMaxMs"], error: "must be at least reconnectMinMs" });

const smppRoutes = z
  .array(smppRoute, { error: "must be a JSON array of routes" })
  .min(1, { error: "must hold at least one route" })
  .superRefine((routes, ctx) => {
    const seen = new Set<string>();
    routes.forEach((route, i) => {
      if (seen.has(route.name)) ctx.addIssue({ code: "custom", path: [i, "name"], message: `repeats the route name "${route.name}"` });
      seen.add(route.name);
    });
  });

/** `SMPP_ROUTES[0].binds[1].password` */
function issuePath(path: ReadonlyArray<PropertyKey>): string {
  return path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("");
}

/** Parses and validates SMPP_ROUTES (JSON); CA files are read and checked. */
export function parseSmppRoutes(text: string): SmppRouteConfig[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`SMPP_ROUTES is not valid JSON: ${(error as Error).message}`);
  }
  const parsed = smppRoutes.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const message = issue.code === "unrecognized_keys" ? `has an unknown field: ${issue.keys.join(", ")}` : issue.message;
    throw new ConfigError(`SMPP_ROUTES${issuePath(issue.path)} ${message}`);
  }
  return parsed.data.map((route, r) => {
    const { receiptIdBase, sourceTon, sourceNpi, destTon, destNpi, ...rest } = route;
    return {
      ...rest,
      receiptIdBase: receiptIdBase ?? route.submitIdBase,
      ...(sourceTon !== undefined ? { sourceTon } : {}),
      ...(sourceNpi !== undefined ? { sourceNpi } : {}),
      ...(destTon !== undefined ? { destTon } : {}),
      ...(destNpi !== undefined ? { destNpi } : {}),
      binds: route.binds.map((bind, b) => {
        const { ca, systemType, ...base } = bind;
        return {
          ...base,
          ...(systemType !== undefined ? { systemType } : {}),
          ...(ca !== undefined ? { ca: caPem(ca, `SMPP_ROUTES[${r}].binds[${b}].ca`) } : {}),
        };
      }),
    };
  });
}

/** The default SMTP relay settings (the SMTP_* variables unset). */
export function smtpDefaults(): SmtpConfig {
  return {
    heloName: defaultHeloName(),
    directPort: 25,
    idleMs: 30_000,
    maxPerDomain: 5,
    maxPerAccount: 20,
    timeoutMs: 30_000,
    dkimThreads: availableParallelism(),
    mtaSts: true,
    mtaStsPort: 443,
  };
}

/** The machine's host name when it is usable in EHLO, else "localhost". */
function defaultHeloName(): string {
  const name = hostname();
  return heloName.safeParse(name).success && name !== "" ? name : "localhost";
}

/** Reads and validates the configuration; throws `ConfigError` naming the first bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const variable = String(issue.path[0] ?? "configuration");
    throw new ConfigError(`${variable} ${issue.message}`);
  }
  const v = parsed.data;
  let apns: ApnsConfig | null = null;
  if (v.APNS_KEY_ID !== undefined && v.APNS_TEAM_ID !== undefined) {
    const key =
      v.APNS_KEY !== undefined ? apnsKey("APNS_KEY", v.APNS_KEY) : apnsKey("APNS_KEY_FILE", readText("APNS_KEY_FILE", v.APNS_KEY_FILE!));
    apns = {
      key,
      keyId: v.APNS_KEY_ID,
      teamId: v.APNS_TEAM_ID,
      productionOrigin: v.APNS_PRODUCTION_ORIGIN,
      sandboxOrigin: v.APNS_SANDBOX_ORIGIN,
      ...(v.APNS_CA_FILE !== undefined ? { ca: caPem(v.APNS_CA_FILE) } : {}),
      sessionsPerOrigin: v.APNS_SESSIONS_PER_ORIGIN,
      requestTimeoutMs: v.APNS_REQUEST_TIMEOUT_MS,
      pingIntervalMs: v.APNS_PING_INTERVAL_MS,
      tokenRefreshMs: v.APNS_TOKEN_REFRESH_MINUTES * MINUTE,
    };
  }
  const smtp: SmtpConfig = {
    heloName: v.SMTP_HELO_NAME ?? defaultHeloName(),
    directPort: v.SMTP_DIRECT_PORT,
    idleMs: v.SMTP_IDLE_MS,
    maxPerDomain: v.SMTP_MAX_PER_DOMAIN,
    maxPerAccount: v.SMTP_MAX_PER_ACCOUNT,
    timeoutMs: v.SMTP_TIMEOUT_MS,
    ...(v.SMTP_CA_FILE !== undefined ? { ca: caPem(v.SMTP_CA_FILE, "SMTP_CA_FILE") } : {}),
    dkimThreads: v.SMTP_DKIM_THREADS,
    mtaSts: v.SMTP_MTA_STS,
    mtaStsPort: v.SMTP_MTA_STS_PORT,
    ...(v.SMTP_DNS_SERVERS !== undefined ? { dnsServers: v.SMTP_DNS_SERVERS } : {}),
  };
  let inbound: InboundConfig | undefined;
  if (v.INBOUND_DOMAINS !== undefined && v.EDGE_URL !== undefined) {
    inbound = {
      host: v.INBOUND_SMTP_HOST ?? v.BRIDGE_HOST,
      port: v.INBOUND_SMTP_PORT,
      domains: v.INBOUND_DOMAINS,
      edgeUrl: v.EDGE_URL,
      maxBytes: v.INBOUND_MAX_BYTES,
      edgeTimeoutMs: v.INBOUND_EDGE_TIMEOUT_MS,
      ...(v.INBOUND_TLS_CERT_FILE !== undefined && v.INBOUND_TLS_KEY_FILE !== undefined
        ? { tls: inboundTls(v.INBOUND_TLS_CERT_FILE, v.INBOUND_TLS_KEY_FILE) }
        : {}),
    };
  }
  let smpp: SmppConfig | undefined;
  if (v.SMPP_ROUTES !== undefined && v.EDGE_URL !== undefined) {
    smpp = {
      routes: parseSmppRoutes(v.SMPP_ROUTES),
      edgeUrl: v.EDGE_URL,
      edgeTimeoutMs: v.INBOUND_EDGE_TIMEOUT_MS,
      batchTimeoutMs: v.SMPP_BATCH_TIMEOUT_MS,
      moReassemblyMs: v.SMPP_MO_REASSEMBLY_MS,
    };
  }
  return {
    host: v.BRIDGE_HOST,
    port: v.BRIDGE_PORT,
    secret: v.BRIDGE_SECRET,
    apns,
    smtp,
    // Left out when off, so the configuration without inbound variables is unchanged.
    ...(inbound ? { inbound } : {}),
    ...(smpp ? { smpp } : {}),
    logLevel: v.LOG_LEVEL,
    shutdownTimeoutMs: v.SHUTDOWN_TIMEOUT_MS,
  };
}
