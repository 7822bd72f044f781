// The SMTP relay's configuration: defaults, every SMTP_* variable, and one clear line naming
// the variable (exit 1) when a value is wrong. The process check runs the real entry point.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, smtpDefaults } from "../../bridge/src/config.ts";
import { runBridgeToExit } from "./fixtures/bridge-process.ts";
import { makeCertificate, SECRET } from "./smtp-fixture.ts";

function problem(env: Record<string, string | undefined>): string {
  try {
    loadConfig({ BRIDGE_SECRET: SECRET, ...env });
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error("configuration was accepted");
}

function withFile<T>(name: string, content: string, use: (path: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), "lasthop-smtp-config-"));
  try {
    const path = join(dir, name);
    writeFileSync(path, content);
    return use(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("SMTP settings", () => {
  it("always on, with defaults: HELO = host name, port 25, 30 s idle and timeout, 5 per domain, 20 per account, a DKIM thread per core", () => {
    const { smtp } = loadConfig({ BRIDGE_SECRET: SECRET });
    const expected = {
      directPort: 25,
      idleMs: 30_000,
      maxPerDomain: 5,
      maxPerAccount: 20,
      timeoutMs: 30_000,
      dkimThreads: availableParallelism(),
      mtaSts: true,
      mtaStsPort: 443,
    };
    expect(smtp).toEqual({ heloName: expect.any(String), ...expected });
    expect(smtp!.heloName).toBe(/^[A-Za-z0-9.-]+$/.test(hostname()) && hostname() !== "" ? hostname() : "localhost");
    expect(smtpDefaults()).toEqual(smtp);
  });

  it("reads every SMTP_* variable", () => {
    const { cert } = makeCertificate();
    withFile("ca.pem", cert, (caFile) => {
      const { smtp } = loadConfig({
        BRIDGE_SECRET: SECRET,
        SMTP_HELO_NAME: "out1.mail.example.com",
        SMTP_DIRECT_PORT: "2525",
        SMTP_IDLE_MS: "5000",
        SMTP_MAX_PER_DOMAIN: "3",
        SMTP_MAX_PER_ACCOUNT: "50",
        SMTP_TIMEOUT_MS: "10000",
        SMTP_CA_FILE: caFile,
        SMTP_DKIM_THREADS: "3",
        SMTP_MTA_STS: "off",
        SMTP_MTA_STS_PORT: "8443",
        SMTP_DNS_SERVERS: " 127.0.0.1:8553, 192.0.2.53,[::1]:5353 ,2001:db8::53 ",
      });
      expect(smtp).toEqual({
        heloName: "out1.mail.example.com",
        directPort: 2525,
        idleMs: 5_000,
        maxPerDomain: 3,
        maxPerAccount: 50,
        timeoutMs: 10_000,
        ca: cert,
        dkimThreads: 3,
        mtaSts: false,
        mtaStsPort: 8443,
        dnsServers: ["127.0.0.1:8553", "192.0.2.53", "[::1]:5353", "2001:db8::53"],
      });
    });
  });

  it("an address literal is a valid HELO name; empty values count as unset", () => {
    expect(loadConfig({ BRIDGE_SECRET: SECRET, SMTP_HELO_NAME: "[192.0.2.7]" }).smtp!.heloName).toBe("[192.0.2.7]");
    expect(loadConfig({ BRIDGE_SECRET: SECRET, SMTP_DIRECT_PORT: "", SMTP_HELO_NAME: " " }).smtp).toEqual(smtpDefaults());
  });

  it("bad values name their variable", () => {
    expect(problem({ SMTP_HELO_NAME: "bad name\r\nRCPT TO:<x@y>" })).toMatch(/^SMTP_HELO_NAME must be a host name/);
    expect(problem({ SMTP_DIRECT_PORT: "0" })).toBe("SMTP_DIRECT_PORT must be between 1 and 65535");
    expect(problem({ SMTP_DIRECT_PORT: "25x" })).toBe("SMTP_DIRECT_PORT must be a whole number between 1 and 65535");
    expect(problem({ SMTP_MAX_PER_DOMAIN: "0" })).toBe("SMTP_MAX_PER_DOMAIN must be between 1 and 100");
    expect(problem({ SMTP_MAX_PER_ACCOUNT: "-1" })).toMatch(/^SMTP_MAX_PER_ACCOUNT must be a whole number/);
    expect(problem({ SMTP_TIMEOUT_MS: "10" })).toBe("SMTP_TIMEOUT_MS must be between 1000 and 600000");
    expect(problem({ SMTP_DKIM_THREADS: "65" })).toBe("SMTP_DKIM_THREADS must be between 0 and 64");
    expect(problem({ SMTP_MTA_STS: "yes" })).toBe('SMTP_MTA_STS must be "on" or "off"');
    expect(problem({ SMTP_MTA_STS_PORT: "0" })).toBe("SMTP_MTA_STS_PORT must be between 1 and 65535");
    expect(problem({ SMTP_IDLE_MS: "forever" })).toMatch(/^SMTP_IDLE_MS must be a whole number/);
    expect(problem({ SMTP_CA_FILE: "/nonexistent/ca.pem" })).toBe("SMTP_CA_FILE cannot be read (/nonexistent/ca.pem): ENOENT");
    withFile("ca.pem", "not a certificate", (path) =>
      expect(problem({ SMTP_CA_FILE: path })).toBe(`SMTP_CA_FILE must hold a PEM certificate (${path})`),
    );
  });

  it.each([
    ["a host name", "dns.example.com"],
    ["a port without an address", ":53"],
    ["port 0", "127.0.0.1:0"],
    ["a port past 65535", "127.0.0.1:65536"],
    ["an IPv6 address with a port but no brackets", "::1:53:x"],
    ["brackets around IPv4", "[127.0.0.1]:53"],
    ["an address out of range", "256.1.1.1"],
    ["only commas", " , "],
    ["one bad entry among good ones", "127.0.0.1,resolver"],
  ])("SMTP_DNS_SERVERS with %s is refused, naming the variable", (_, value) => {
    expect(problem({ SMTP_DNS_SERVERS: value })).toBe(
      "SMTP_DNS_SERVERS must be a comma-separated list of IP addresses, each with an optional port, such as 127.0.0.1:8553 or [::1]:53",
    );
  });

  it("SMTP_DNS_SERVERS empty counts as unset: the system's resolver", () => {
    expect(loadConfig({ BRIDGE_SECRET: SECRET, SMTP_DNS_SERVERS: "  " }).smtp).toEqual(smtpDefaults());
  });

  it("the process: a bad SMTP value → exit 1 and one line on stderr", async () => {
    const { code, stdout, stderr } = await runBridgeToExit({ BRIDGE_SECRET: SECRET, BRIDGE_PORT: "0", SMTP_MAX_PER_DOMAIN: "lots" });
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr.trimEnd().split("\n")).toEqual([
      "bridge: invalid configuration: SMTP_MAX_PER_DOMAIN must be a whole number between 1 and 100",
    ]);
  });
});
