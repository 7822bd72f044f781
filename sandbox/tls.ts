// Dev TLS material for the sandbox push service: a local CA plus a server certificate for
// 127.0.0.1/localhost signed by it. workerd and Node trust the CA through NODE_EXTRA_CA_CERTS
// (or an explicit `ca:`), so the chain must be a proper one: CA:TRUE + keyCertSign on the CA,
// CA:FALSE + serverAuth + SAN on the leaf.
import { execFileSync } from "node:child_process";
import { X509Certificate, randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const DEFAULT_CERT_DIR = fileURLToPath(new URL("../.sandbox/", import.meta.url));

// 825 days is the longest validity Apple platforms accept for TLS server certificates.
const VALIDITY_DAYS = "825";

const FILES = {
  ca: "dev-ca.pem",
  caKey: "dev-ca-key.pem",
  cert: "server-cert.pem",
  key: "server-key.pem",
} as const;

const OPENSSL_CONFIG = `
[req]
distinguished_name = dn
prompt = no

[dn]
CN = lasthop sandbox

[v3_ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[v3_server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
`;

export type DevCertificates = {
  caPath: string;
  certPath: string;
  keyPath: string;
  ca: string;
  cert: string;
  key: string;
};

export function ensureDevCertificates(dir: string = DEFAULT_CERT_DIR): DevCertificates {
  mkdirSync(dir, { recursive: true });
  const path = (name: string) => join(dir, name);

  const caUsable = existsSync(path(FILES.ca)) && existsSync(path(FILES.caKey)) && isCurrent(readFileSync(path(FILES.ca), "utf8"));
  const leafUsable =
    caUsable &&
    existsSync(path(FILES.cert)) &&
    existsSync(path(FILES.key)) &&
    isIssuedAndCurrent(readFileSync(path(FILES.cert), "utf8"), readFileSync(path(FILES.ca), "utf8"));

  if (!leafUsable) {
    // Work in a private scratch dir and rename into place, so a concurrent start never
    // reads a half-written file.
    const work = mkdtempSync(join(dir, ".gen-"));
    try {
      writeFileSync(join(work, "openssl.cnf"), OPENSSL_CONFIG);
      if (!caUsable) {
        generateCa(work);
        publish(work, dir, [FILES.caKey, FILES.ca]);
      }
      generateServer(work, path(FILES.ca), path(FILES.caKey));
      publish(work, dir, [FILES.key, FILES.cert]);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }

  return {
    caPath: path(FILES.ca),
    certPath: path(FILES.cert),
    keyPath: path(FILES.key),
    ca: readFileSync(path(FILES.ca), "utf8"),
    cert: readFileSync(path(FILES.cert), "utf8"),
    key: readFileSync(path(FILES.key), "utf8"),
  };
}

function generateCa(work: string): void {
  openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", join(work, FILES.caKey)]);
  openssl([
    "req",
    "-x509",
    "-new",
    "-sha256",
    "-days",
    VALIDITY_DAYS,
    "-config",
    join(work, "openssl.cnf"),
    "-extensions",
    "v3_ca",
    "-subj",
    "/CN=lasthop sandbox dev CA",
    "-key",
    join(work, FILES.caKey),
    "-out",
    join(work, FILES.ca),
  ]);
}

function generateServer(work: string, caPath: string, caKeyPath: string): void {
  const csr = join(work, "server.csr");
  openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", join(work, FILES.key)]);
  openssl(["req", "-new", "-config", join(work, "openssl.cnf"), "-subj", "/CN=127.0.0.1", "-key", join(work, FILES.key), "-out", csr]);
  openssl([
    "x509",
    "-req",
    "-sha256",
    "-days",
    VALIDITY_DAYS,
    "-in",
    csr,
    "-CA",
    caPath,
    "-CAkey",
    caKeyPath,
    // A random serial avoids openssl's .srl bookkeeping file and keeps reissued leaves distinct.
    "-set_serial",
    `0x${randomBytes(16).toString("hex")}`,
    "-extfile",
    join(work, "openssl.cnf"),
    "-extensions",
    "v3_server",
    "-out",
    join(work, FILES.cert),
  ]);
}

function publish(work: string, dir: string, names: readonly string[]): void {
  for (const name of names) {
    if (name.endsWith("-key.pem")) chmodSync(join(work, name), 0o600);
    renameSync(join(work, name), join(dir, name));
  }
}

function openssl(args: string[]): void {
  execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
}

// Reissue a day before expiry rather than hand out a certificate that dies mid-run.
function isCurrent(pem: string): boolean {
  const cert = new X509Certificate(pem);
  return Date.parse(cert.validTo) - Date.now() > 24 * 3600 * 1000;
}

function isIssuedAndCurrent(leafPem: string, caPem: string): boolean {
  const leaf = new X509Certificate(leafPem);
  const ca = new X509Certificate(caPem);
  return isCurrent(leafPem) && leaf.checkIssued(ca) && leaf.verify(ca.publicKey);
}
