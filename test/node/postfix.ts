// Postfix from Debian's packages as a real peer: a receiving MTA on 127.0.0.1:25 that
// rejects by recipient at RCPT time (its own check_recipient_access replies), and relays
// what it accepts to Postfix's smtp-sink, which dumps every message to a file. .ci/run
// installs the packages (postfix, postfix-pcre, python3-dkim); without them these tests fail
// loudly rather than skip.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { probePort } from "../../sandbox/ports.ts";
import { waitFor } from "../wait.ts";

export type Postfix = { port: number; sinkDir: string; sunk(): Array<{ file: string; text: string }>; stop(): Promise<void> };

const RECIPIENT_ACCESS = `/^(.*bounce.*)$/ 550 5.1.1 <$1>: Recipient address rejected: User unknown in virtual mailbox table
/block/ 554 5.7.1 Service unavailable; Client host blocked using a spam policy
/soft/ 450 4.2.1 Mailbox temporarily unavailable
`;

/**
 * `transports` routes whole domains elsewhere (e.g. the bounce domain to the bridge's
 * inbound SMTP, a "dead" domain to a sink that rejects every RCPT so Postfix writes a DSN).
 */
export async function startPostfix(sinkPort: number, transports: Record<string, string> = {}): Promise<Postfix> {
  if (!existsSync("/usr/sbin/postfix") || !existsSync("/usr/sbin/smtp-sink")) {
    throw new Error("Postfix is not installed: apt-get install -y postfix postfix-pcre (see .ci/run)");
  }
  const sinkDir = mkdtempSync(join(tmpdir(), "lasthop-sink-"));
  chmodSync(sinkDir, 0o777);
  // smtp-sink as root must drop privileges (-u); -d dumps each transaction with its envelope.
  const sink: ChildProcess = spawn("/usr/sbin/smtp-sink", ["-u", "postfix", "-d", `${sinkDir}/%M.`, `127.0.0.1:${sinkPort}`, "100"], {
    stdio: "ignore",
  });
  writeFileSync("/etc/postfix/lasthop_recipient_access", RECIPIENT_ACCESS);
  postconf(
    "inet_interfaces = loopback-only",
    "inet_protocols = ipv4",
    "mydestination = localhost",
    "mynetworks = 127.0.0.0/8",
    `relayhost = [127.0.0.1]:${sinkPort}`,
    "default_transport = smtp",
    "relay_transport = relay",
    "smtpd_recipient_restrictions = check_recipient_access pcre:/etc/postfix/lasthop_recipient_access, permit_mynetworks, reject_unauth_destination",
    "maillog_file = /var/log/postfix.log",
    "smtputf8_enable = yes",
    `transport_maps = ${
      Object.keys(transports).length
        ? `inline:{ ${Object.entries(transports)
            .map(([d, t]) => `${d}=${t}`)
            .join(", ")} }`
        : ""
    }`,
    // Bounce at once: the test should not wait for Postfix's retry schedule.
    "maximal_queue_lifetime = 0",
    "bounce_queue_lifetime = 0",
    // No server certificate here: plain SMTP on loopback (the relay's requireTLS is off for this peer).
    "smtpd_tls_security_level = none",
  );
  const running = (() => {
    try {
      execFileSync("/usr/sbin/postfix", ["status"], { stdio: "ignore" });
      return true;
    } catch {
      return false;
    }
  })();
  execFileSync("/usr/sbin/postfix", [running ? "reload" : "start"], { stdio: "ignore" });
  await waitForPort(25);
  return {
    port: 25,
    sinkDir,
    sunk: () => readdirSync(sinkDir).map((file) => ({ file, text: readFileSync(join(sinkDir, file), "utf8") })),
    stop: async () => {
      sink.kill("SIGTERM");
      try {
        execFileSync("/usr/sbin/postfix", ["stop"], { stdio: "ignore" });
      } catch {
        // already stopped
      }
      rmSync(sinkDir, { recursive: true, force: true });
    },
  };
}

function postconf(...settings: string[]): void {
  execFileSync("/usr/sbin/postconf", ["-e", ...settings], { stdio: "ignore" });
}

async function waitForPort(port: number): Promise<void> {
  await waitFor(async () => (await probePort(port)) === "open", `something listening on 127.0.0.1:${port} after starting Postfix`);
}

/** Verifies a DKIM signature with Debian's python3-dkim, an implementation independent of ours. */
export function dkimVerify(message: string, publicKeyBase64: string): boolean {
  const script = `
import sys, dkim
msg = sys.stdin.buffer.read()
record = b"v=DKIM1; k=rsa; p=" + sys.argv[1].encode()
print("ok" if dkim.verify(msg, dnsfunc=lambda name, timeout=5: record) else "fail")
`;
  if (!existsSync("/usr/lib/python3/dist-packages/dkim"))
    throw new Error("python3-dkim is not installed: apt-get install -y python3-dkim (see .ci/run)");
  const out = execFileSync("/usr/bin/python3", ["-c", script, publicKeyBase64], { input: message }).toString().trim();
  return out === "ok";
}

/** An smtp-sink that rejects every RCPT with `reply` (Postfix then bounces with a real DSN). */
export function startRejectingSink(port: number, reply = "550 5.1.1 User unknown"): ChildProcess {
  return spawn("/usr/sbin/smtp-sink", ["-u", "postfix", "-f", "RCPT", "-B", reply, `127.0.0.1:${port}`, "100"], { stdio: "ignore" });
}
