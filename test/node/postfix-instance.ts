// A Postfix instance of the test's own (Debian's package, `postfix -c <dir>`), beside the system
// one that postfix.ts configures: its own main.cf and master.cf, queue and data directories under
// a temporary directory, one smtpd listening with STARTTLS on `address:port` only, and what it
// accepts relayed to an smtp-sink that dumps each message to a file. Nothing of the system
// instance is read or changed (run as root, `postfix -c` needs no alternate_config_directories
// entry: that list only guards the set-gid commands postdrop and postqueue, which are not used).
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { freePort, probePort } from "../../sandbox/ports.ts";
import { waitFor } from "../wait.ts";

export type PostfixInstance = {
  address: string;
  port: number;
  /** Every message smtp-sink took from this instance (envelope as X-Mail-Args / X-Rcpt-Args, then the message). */
  sunk(): Array<{ file: string; text: string }>;
  /** This instance's own log (maillog_file, written by its postlogd). */
  log(): string;
  /** Installs another certificate and reloads; resolves once the smtpd answering STARTTLS shows it. */
  setCertificate(certificate: { key: string; cert: string }, names: string[]): Promise<void>;
  stop(): Promise<void>;
};

// Debian's master.cf, trimmed to what a relaying MTA uses, with no chroot (the instance's
// queue directory is not a prepared chroot). The smtpd listener is added in front.
const MASTER_SERVICES = `pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
`;

export async function startPostfixInstance(options: {
  /** A loopback address of its own, e.g. 127.0.0.8 (the whole 127/8 answers on Linux). */
  address: string;
  /** The name Postfix gives itself (banner, Received: "by …"). */
  myhostname: string;
  certificate: { key: string; cert: string };
  /** The names `certificate` is for: startup waits until STARTTLS presents them. */
  names: string[];
}): Promise<PostfixInstance> {
  if (!existsSync("/usr/sbin/postfix") || !existsSync("/usr/sbin/smtp-sink")) {
    throw new Error("Postfix is not installed: apt-get install -y postfix (see test/tools/peers.sh)");
  }
  const { address } = options;
  const root = mkdtempSync(join(tmpdir(), "lasthop-postfix-sts-"));
  chmodSync(root, 0o755); // Postfix's daemons run as the postfix user and must reach the queue
  const [configDir, queueDir, dataDir, sinkDir] = ["etc", "queue", "data", "sink"].map((d) => join(root, d)) as [
    string,
    string,
    string,
    string,
  ];
  for (const dir of [configDir, queueDir, dataDir, sinkDir]) mkdirSync(dir);
  chownSync(dataDir, uid("postfix"), 0);
  chmodSync(sinkDir, 0o777);
  const logFile = join(root, "postfix.log");
  const [port, sinkPort] = [await freePort(), await freePort()];

  const sink: ChildProcess = spawn("/usr/sbin/smtp-sink", ["-u", "postfix", "-d", `${sinkDir}/%M.`, `127.0.0.1:${sinkPort}`, "100"], {
    stdio: "ignore",
  });
  await waitFor(async () => (await probePort(sinkPort)) === "open", `smtp-sink on 127.0.0.1:${sinkPort}`);
  writeCertificate(configDir, options.certificate);
  writeFileSync(join(configDir, "master.cf"), `${address}:${port} inet n - n - - smtpd\n${MASTER_SERVICES}`);
  writeFileSync(
    join(configDir, "main.cf"),
    [
      "compatibility_level = 3.6",
      `queue_directory = ${queueDir}`,
      `data_directory = ${dataDir}`,
      // "all": Postfix refuses an inet_interfaces address no interface lists, and 127.0.0.8 is
      // only inside lo's 127.0.0.0/8. The one listener (master.cf) binds address:port alone.
      "inet_interfaces = all",
      "inet_protocols = ipv4",
      `myhostname = ${options.myhostname}`,
      "mydestination =",
      "mynetworks = 127.0.0.0/8",
      `relayhost = [127.0.0.1]:${sinkPort}`,
      "smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination",
      "smtpd_tls_security_level = may",
      `smtpd_tls_chain_files = ${join(configDir, "key.pem")}, ${join(configDir, "cert.pem")}`,
      // The Received header says "(using TLSv1.3 with cipher …)"; the log says "TLS connection established".
      "smtpd_tls_received_header = yes",
      "smtpd_tls_loglevel = 1",
      `maillog_file = ${logFile}`,
      `maillog_file_prefixes = ${root}`,
      "maximal_queue_lifetime = 0",
      "bounce_queue_lifetime = 0",
      "",
    ].join("\n"),
  );
  const postfix = (command: string) => execFileSync("/usr/sbin/postfix", ["-c", configDir, command], { stdio: "pipe" });
  const presents = async (names: string[]) =>
    waitFor(
      async () => sameNames(await presentedNames(address, port).catch(() => []), names),
      () => `Postfix on ${address}:${port} presenting a certificate for ${names.join(", ")}`,
    );
  try {
    postfix("start");
    await presents(options.names);
  } catch (error) {
    sink.kill("SIGTERM");
    const log = existsSync(logFile) ? readFileSync(logFile, "utf8") : "(no log)";
    throw new Error(`the test's Postfix instance did not start: ${String(error)}\n${log}`);
  }
  return {
    address,
    port,
    sunk: () => readdirSync(sinkDir).map((file) => ({ file, text: readFileSync(join(sinkDir, file), "utf8") })),
    log: () => (existsSync(logFile) ? readFileSync(logFile, "utf8") : ""),
    setCertificate: async (certificate, names) => {
      writeCertificate(configDir, certificate);
      postfix("reload");
      await presents(names);
    },
    stop: async () => {
      try {
        postfix("stop");
      } catch {
        // not running
      }
      await waitFor(
        async () =>
          !(await presentedNames(address, port).then(
            () => true,
            () => false,
          )),
        "the test's Postfix to stop listening",
      );
      await waitFor(() => !masterRunning(queueDir), "the test's Postfix master to exit");
      sink.kill("SIGTERM");
      rmSync(root, { recursive: true, force: true });
    },
  };
}

function writeCertificate(configDir: string, certificate: { key: string; cert: string }): void {
  writeFileSync(join(configDir, "key.pem"), certificate.key, { mode: 0o600 });
  writeFileSync(join(configDir, "cert.pem"), certificate.cert);
}

function uid(user: string): number {
  return Number(execFileSync("id", ["-u", user]).toString().trim());
}

function masterRunning(queueDir: string): boolean {
  const pidFile = join(queueDir, "pid", "master.pid");
  if (!existsSync(pidFile)) return false;
  const pid = Number(readFileSync(pidFile, "utf8").trim());
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const sameNames = (a: string[], b: string[]) => a.length === b.length && [...a].sort().every((n, i) => n === [...b].sort()[i]);

/** Where presentedNames connects from, so its sessions in Postfix's log are told apart from the bridge's. */
export const PROBE_ADDRESS = "127.0.0.12";

/**
 * The DNS names of the certificate an SMTP server presents after STARTTLS (not verified: this
 * only says which certificate is installed). Rejects if nothing answers or STARTTLS fails.
 */
export function presentedNames(host: string, port: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({ host, port, localAddress: PROBE_ADDRESS });
    const timer = setTimeout(() => fail(new Error("no STARTTLS session within 5 s")), 5_000);
    const fail = (error: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    let buffer = "";
    let step: "greeting" | "ehlo" | "starttls" = "greeting";
    socket.on("error", fail);
    socket.on("data", (chunk) => {
      buffer += chunk.toString("latin1");
      // A complete reply ends with a line "ddd text" (no dash after the code).
      const last = buffer.split("\r\n").filter(Boolean).at(-1);
      if (!buffer.endsWith("\r\n") || !last || !/^\d{3} /.test(last)) return;
      const code = last.slice(0, 3);
      buffer = "";
      if (step === "greeting" && code === "220") {
        step = "ehlo";
        socket.write("EHLO probe.lasthop.test\r\n");
      } else if (step === "ehlo" && code === "250") {
        step = "starttls";
        socket.write("STARTTLS\r\n");
      } else if (step === "starttls" && code === "220") {
        socket.removeAllListeners("data");
        const tls = tlsConnect({ socket, rejectUnauthorized: false }, () => {
          const san = tls.getPeerCertificate().subjectaltname ?? "";
          clearTimeout(timer);
          tls.end("QUIT\r\n");
          resolve(
            san
              .split(", ")
              .filter((n) => n.startsWith("DNS:"))
              .map((n) => n.slice(4)),
          );
        });
        tls.on("error", fail);
      } else fail(new Error(`unexpected reply at ${step}: ${last}`));
    });
  });
}
