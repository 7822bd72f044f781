// Configuration: validated at start, and a bad value stops the process with one line naming
// the variable and exit code 1. The process checks run the real entry point as a child.
import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, smtpDefaults } from "../../bridge/src/config.ts";
import { KEY_ID, makeApnsKey, SECRET, TEAM_ID, tempFile } from "./apns-fixture.ts";
import { runBridgeToExit } from "./fixtures/bridge-process.ts";
import { makeCertificate } from "./fixtures/tls.ts";

const key = makeApnsKey();

const apnsEnv = { APNS_KEY: key.pem, APNS_KEY_ID: KEY_ID, APNS_TEAM_ID: TEAM_ID };

function problem(env: Record<string, string | undefined>): string {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error("configuration was accepted");
}

describe("bridge process with a bad configuration", () => {
  it("runs on Node 22 (type stripping)", () => {
    expect(Number(process.versions.node.split(".")[0])).toBeGreaterThanOrEqual(22);
  });

  it("missing BRIDGE_SECRET → exit 1 and one line naming it", async () => {
    const { code, stdout, stderr } = await runBridgeToExit({});
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr.trimEnd().split("\n")).toEqual([
      "bridge: invalid configuration: BRIDGE_SECRET is required (the Standard Webhooks secret shared with the edge, whsec_ + base64)",
    ]);
  });

  it("bad APNS_KEY_ID → exit 1 and one line naming it", async () => {
    const { code, stdout, stderr } = await runBridgeToExit({ BRIDGE_SECRET: SECRET, ...apnsEnv, APNS_KEY_ID: "SHORT" });
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr.trimEnd().split("\n")).toEqual(["bridge: invalid configuration: APNS_KEY_ID must be 10 characters (letters and digits)"]);
  });
});

describe("loadConfig", () => {
  it("defaults: loopback, port 8790, APNs off", () => {
    expect(loadConfig({ BRIDGE_SECRET: SECRET })).toEqual({
      host: "127.0.0.1",
      port: 8790,
      secret: SECRET,
      apns: null,
      logLevel: "info",
      shutdownTimeoutMs: 10_000,
      smtp: smtpDefaults(),
    });
  });

  it("APNs defaults once key, key id and team id are given", () => {
    const config = loadConfig({ BRIDGE_SECRET: SECRET, ...apnsEnv });
    expect(config.apns).toEqual({
      key: key.pem,
      keyId: KEY_ID,
      teamId: TEAM_ID,
      productionOrigin: "https://api.push.apple.com",
      sandboxOrigin: "https://api.sandbox.push.apple.com",
      sessionsPerOrigin: 2,
      requestTimeoutMs: 10_000,
      pingIntervalMs: 60_000,
      tokenRefreshMs: 50 * 60_000,
    });
  });

  it("reads every variable", () => {
    const keyFile = tempFile("AuthKey.p8", key.pem);
    try {
      const config = loadConfig({
        BRIDGE_SECRET: SECRET,
        BRIDGE_HOST: "0.0.0.0",
        BRIDGE_PORT: "9000",
        APNS_KEY_FILE: keyFile.path,
        APNS_KEY_ID: KEY_ID,
        APNS_TEAM_ID: TEAM_ID,
        APNS_PRODUCTION_ORIGIN: "https://127.0.0.1:8792/",
        APNS_SANDBOX_ORIGIN: "https://localhost:8792",
        APNS_SESSIONS_PER_ORIGIN: "4",
        APNS_REQUEST_TIMEOUT_MS: "2500",
        APNS_PING_INTERVAL_MS: "0",
        APNS_TOKEN_REFRESH_MINUTES: "30",
        LOG_LEVEL: "debug",
        SHUTDOWN_TIMEOUT_MS: "3000",
      });
      expect(config).toMatchObject({ host: "0.0.0.0", port: 9000, logLevel: "debug", shutdownTimeoutMs: 3000 });
      expect(config.apns).toMatchObject({
        key: key.pem,
        productionOrigin: "https://127.0.0.1:8792",
        sandboxOrigin: "https://localhost:8792",
        sessionsPerOrigin: 4,
        requestTimeoutMs: 2500,
        pingIntervalMs: 0,
        tokenRefreshMs: 30 * 60_000,
      });
    } finally {
      keyFile.remove();
    }
  });

  it("accepts the key on one line with literal \\n escapes", () => {
    const oneLine = key.pem.trim().replace(/\n/g, "\\n");
    expect(loadConfig({ BRIDGE_SECRET: SECRET, ...apnsEnv, APNS_KEY: oneLine }).apns!.key).toBe(key.pem);
  });

  it("trusts an extra CA from APNS_CA_FILE", () => {
    const { caPem } = selfSignedPem();
    const file = tempFile("ca.pem", caPem);
    try {
      expect(loadConfig({ BRIDGE_SECRET: SECRET, ...apnsEnv, APNS_CA_FILE: file.path }).apns!.ca).toBe(caPem);
      expect(problem({ BRIDGE_SECRET: SECRET, ...apnsEnv, APNS_CA_FILE: `${file.path}.missing` })).toMatch(
        /^APNS_CA_FILE cannot be read .*ENOENT$/,
      );
    } finally {
      file.remove();
    }
  });

  it("names the variable in every error", () => {
    const base = { BRIDGE_SECRET: SECRET };
    expect(problem({})).toMatch(/^BRIDGE_SECRET is required/);
    expect(problem({ BRIDGE_SECRET: "  " })).toMatch(/^BRIDGE_SECRET is required/);
    expect(problem({ BRIDGE_SECRET: "secret" })).toBe("BRIDGE_SECRET must be whsec_ followed by base64");
    expect(problem({ BRIDGE_SECRET: "whsec_c2hvcnQ=" })).toBe("BRIDGE_SECRET must hold at least 16 bytes of key");
    expect(problem({ ...base, BRIDGE_PORT: "http" })).toBe("BRIDGE_PORT must be a whole number between 0 and 65535");
    expect(problem({ ...base, BRIDGE_PORT: "70000" })).toBe("BRIDGE_PORT must be between 0 and 65535");
    expect(problem({ ...base, LOG_LEVEL: "loud" })).toMatch(/^LOG_LEVEL must be one of fatal, error/);
    expect(problem({ ...base, SHUTDOWN_TIMEOUT_MS: "-1" })).toMatch(/^SHUTDOWN_TIMEOUT_MS must be/);
    expect(problem({ ...base, ...apnsEnv, APNS_TEAM_ID: "TEAM-12345" })).toBe("APNS_TEAM_ID must be 10 characters (letters and digits)");
    expect(problem({ ...base, ...apnsEnv, APNS_SESSIONS_PER_ORIGIN: "0" })).toBe("APNS_SESSIONS_PER_ORIGIN must be between 1 and 64");
    expect(problem({ ...base, ...apnsEnv, APNS_TOKEN_REFRESH_MINUTES: "55" })).toBe("APNS_TOKEN_REFRESH_MINUTES must be between 20 and 50");
    expect(problem({ ...base, ...apnsEnv, APNS_PRODUCTION_ORIGIN: "http://api.push.apple.com" })).toMatch(
      /^APNS_PRODUCTION_ORIGIN must be an https origin/,
    );
    expect(problem({ ...base, ...apnsEnv, APNS_SANDBOX_ORIGIN: "https://x.test/3/device" })).toMatch(
      /^APNS_SANDBOX_ORIGIN must be an https origin/,
    );
  });

  it("a partial APNs set is an error, not 'APNs off'", () => {
    expect(problem({ BRIDGE_SECRET: SECRET, APNS_KEY_ID: KEY_ID, APNS_TEAM_ID: TEAM_ID })).toMatch(/^APNS_KEY is missing: APNs needs/);
    expect(problem({ BRIDGE_SECRET: SECRET, APNS_KEY: key.pem, APNS_TEAM_ID: TEAM_ID })).toMatch(/^APNS_KEY_ID is missing/);
    expect(problem({ BRIDGE_SECRET: SECRET, APNS_KEY: key.pem, APNS_KEY_ID: KEY_ID })).toMatch(/^APNS_TEAM_ID is missing/);
    expect(problem({ BRIDGE_SECRET: SECRET, ...apnsEnv, APNS_KEY_FILE: "/x.p8" })).toMatch(
      /^APNS_KEY_FILE cannot be set together with APNS_KEY/,
    );
  });

  it("refuses keys APNs would refuse: not PEM, not EC P-256, unreadable file", () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "pem", type: "pkcs8" }).toString();
    const p384 = generateKeyPairSync("ec", { namedCurve: "P-384" }).privateKey.export({ format: "pem", type: "pkcs8" }).toString();
    const base = { BRIDGE_SECRET: SECRET, APNS_KEY_ID: KEY_ID, APNS_TEAM_ID: TEAM_ID };
    expect(problem({ ...base, APNS_KEY: "MIGTAgEAMBMGByqGSM49" })).toMatch(/^APNS_KEY must be the \.p8 key as PKCS#8 PEM/);
    expect(problem({ ...base, APNS_KEY: rsa })).toBe("APNS_KEY is not an EC P-256 private key (APNs .p8 key expected)");
    expect(problem({ ...base, APNS_KEY: p384 })).toBe("APNS_KEY is not an EC P-256 private key (APNs .p8 key expected)");
    expect(problem({ ...base, APNS_KEY_FILE: "/nonexistent/AuthKey.p8" })).toBe(
      "APNS_KEY_FILE cannot be read (/nonexistent/AuthKey.p8): ENOENT",
    );
  });
});

/** Any certificate will do for the parsing check: a throwaway self-signed one. */
function selfSignedPem(): { caPem: string } {
  return { caPem: makeCertificate().cert };
}
