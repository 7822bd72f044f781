/**
 * `/v1/domains`: the account's sending domains. `POST` makes the DKIM key pairs here (RSA-2048
 * and Ed25519, private halves sealed in the ConfigDO, never answered) and answers the DNS
 * records to publish; `POST /:domain/verify` looks them up over DNS-over-HTTPS (`DOH_URL`);
 * once every required record is in place the domain is verified: the account may send From it
 * and its mail is signed with both keys. Every change is in the audit log.
 */
import { Hono } from "hono";
import { generateDomainKeys } from "../core/domain-keys.ts";
import {
  checkRecord,
  createDomainRequest,
  domainName,
  domainStatus,
  expectedRecords,
  lookupsFor,
  MAX_DOMAINS_PER_ACCOUNT,
  type DomainInfo,
  type DomainView,
  type PlatformDns,
  returnPathHost,
} from "../core/domains.ts";
import { lookup } from "../core/doh.ts";
import { ApiError, readJson, validationError } from "../core/http.ts";
import { forgetAccount, forgetClaims } from "../state/config-read.ts";
import { configStub, directoryStub } from "../state/stubs.ts";
import { limitBody } from "./body.ts";
import type { AppEnv } from "./types.ts";

function platformDns(env: Env): PlatformDns {
  return { bounceMxHost: env.BOUNCE_MX_HOST, spfInclude: env.SPF_INCLUDE };
}

function view({ keys: _keys, ...domain }: DomainInfo): DomainView {
  return domain;
}

/** The domain named in the path, as stored (lower-cased); a name that cannot be a domain is no domain. */
function pathDomain(param: string): string {
  const parsed = domainName.safeParse(param);
  if (!parsed.success) throw new ApiError(404, "not_found", `no domain ${param}`);
  return parsed.data;
}

async function found(env: Env, account: string, domain: string): Promise<DomainInfo> {
  const info = (await configStub(env, account).getDomain(account, domain)) as DomainInfo | null;
  if (!info) throw new ApiError(404, "not_found", `no domain ${domain}`);
  return info;
}

/**
 * Claims in the directory the return-path hosts of all the account's verified domains, after a
 * verification or a deletion changed them: bounces to `lh-bounces.<domain>` find the account by
 * them. The whole set each time (setClaims replaces the kind's claims), read after the write,
 * with its version: of two concurrent changes, the directory keeps the later set whatever the
 * order their writes arrive in.
 */
async function claimReturnPaths(env: Env, account: string): Promise<void> {
  const verified = (await configStub(env, account).verifiedDomains(account)) as { domains: string[]; version: number };
  await directoryStub(env).setClaims(
    account,
    ["return_path"],
    verified.domains.map((domain) => ({ kind: "return_path", value: returnPathHost(domain) })),
    verified.version,
  );
  forgetClaims();
}

export const domains = new Hono<AppEnv>()
  .get("/", async (c) => {
    const account = c.get("account");
    const list = (await configStub(c.env, account).listDomains(account)) as DomainInfo[];
    return c.json({ data: list.map(view) });
  })
  .post("/", limitBody, async (c) => {
    const parsed = createDomainRequest.safeParse(readJson(c.req.raw.headers, await c.req.text()));
    if (!parsed.success) throw validationError(parsed.error);
    const account = c.get("account");
    const { domain } = parsed.data;
    const stub = configStub(c.env, account);
    // Refused before the keys are made: RSA generation is the costly part of this request.
    if (await stub.getDomain(account, domain)) throw new ApiError(409, "domain_exists", `this account has ${domain} already`);
    const keys = await generateDomainKeys();
    const records = expectedRecords(domain, keys, platformDns(c.env));
    const added = (await stub.addDomain(account, domain, keys, records, c.get("key").keyId)) as
      | DomainInfo
      | "exists"
      | "limit"
      | "no_account";
    if (added === "exists") throw new ApiError(409, "domain_exists", `this account has ${domain} already`);
    if (added === "limit") {
      throw new ApiError(422, "domain_limit", `an account has at most ${MAX_DOMAINS_PER_ACCOUNT} sending domains: delete one first`);
    }
    if (added === "no_account") throw new ApiError(404, "not_found", "this account does not exist");
    return c.json(view(added), 201);
  })
  .get("/:domain", async (c) => {
    const account = c.get("account");
    return c.json(view(await found(c.env, account, pathDomain(c.req.param("domain")))));
  })
  .post("/:domain/verify", async (c) => {
    const account = c.get("account");
    const info = await found(c.env, account, pathDomain(c.req.param("domain")));
    // Expected records from the stored public keys and today's platform names: a moved MX host shows here.
    const expected = expectedRecords(info.domain, info.keys, platformDns(c.env));
    const answers = new Map(
      await Promise.all(
        lookupsFor(expected).map(async (q) => [`${q.name}\n${q.type}`, await lookup(c.env.DOH_URL, q.name, q.type)] as const),
      ),
    );
    const records = expected.map((record) => checkRecord(record, answers.get(`${record.name}\n${record.type}`)!));
    const status = domainStatus(records, info.status);
    const saved = (await configStub(c.env, account).saveVerification(
      account,
      info.domain,
      records,
      status,
      c.get("key").keyId,
    )) as DomainInfo | null;
    if (!saved) throw new ApiError(404, "not_found", `no domain ${info.domain}`);
    await claimReturnPaths(c.env, account);
    forgetAccount(account);
    return c.json(view(saved));
  })
  .delete("/:domain", async (c) => {
    const account = c.get("account");
    const domain = pathDomain(c.req.param("domain"));
    if (!(await configStub(c.env, account).deleteDomain(account, domain, c.get("key").keyId))) {
      throw new ApiError(404, "not_found", `no domain ${domain}`);
    }
    await claimReturnPaths(c.env, account);
    forgetAccount(account);
    return c.body(null, 204);
  });
