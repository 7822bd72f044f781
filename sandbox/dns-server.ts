// The sandbox's DNS stub: the wire format (RFC 1035) over UDP and TCP on one port, answering from
// the same DnsStore as DNS over HTTPS (dns.ts), so a record published through /_sandbox/dns/records
// is seen alike by the Worker (DoH) and by a process that only speaks DNS (the bridge, with
// SMTP_DNS_SERVERS pointing here). A, AAAA, MX, TXT and CNAME (followed); NXDOMAIN for a name with
// no record, NOERROR and no answer for a name with records of other types; FORMERR for a query
// that does not decode or asks no question; SERVFAIL for a stored record the wire format cannot
// carry. A UDP answer larger than the client can take (512
// octets, or its EDNS size) goes out truncated (TC) and empty, so the client asks again over TCP.
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { createServer, type Server, type Socket as TcpSocket } from "node:net";
import dnsPacket, { type Answer, type Packet } from "dns-packet";
import { DNS_TTL, dnsName, isDnsType, type DnsRecord, type DnsStore } from "./dns.ts";

const FORMERR = 1;
const SERVFAIL = 2;
const NXDOMAIN = 3;
const CLASSIC_UDP_SIZE = 512;
/** A TCP client that sends more than this without a whole query is cut off. */
const MAX_TCP_BUFFER = 64 * 1024;
/** When the port is picked free, the TCP side may find it taken; pick again this many times. */
const BIND_TRIES = 5;

export type DnsServer = { host: string; port: number; close(): Promise<void> };

/** Answers one query (wire format) from the store; null when it is not a query worth an answer. */
export function answerQuery(store: DnsStore, query: Buffer, transport: "udp" | "tcp"): Buffer | null {
  let packet: Packet;
  try {
    packet = dnsPacket.decode(query);
  } catch {
    // Too short to carry an id: nothing to answer to.
    if (query.length < 2) return null;
    return encode({ id: query.readUInt16BE(0), type: "response", flags: FORMERR, questions: [] });
  }
  if (packet.type === "response") return null;
  const question = packet.questions?.[0];
  const id = packet.id ?? 0;
  const rd = (packet.flags ?? 0) & dnsPacket.RECURSION_DESIRED;
  const flags = dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_AVAILABLE | rd;
  if (!question) return encode({ id, type: "response", flags: flags | FORMERR, questions: [] });
  const type = String(question.type);
  const { rcode, records } = store.resolve(question.name, isDnsType(type) ? type : undefined);
  const response: Packet = {
    id,
    type: "response",
    flags: flags | (rcode === 3 ? NXDOMAIN : 0),
    questions: [question],
    answers: records.map(wireRecord),
  };
  let bytes: Buffer;
  try {
    bytes = encode(response);
  } catch {
    // A stored record the wire format cannot carry (a label over 63 octets): the server failed, not the name.
    return encode({ id, type: "response", flags: flags | SERVFAIL, questions: [question] });
  }
  // Over UDP, what does not fit goes out empty with TC set: the client asks again over TCP.
  const limit = transport === "tcp" ? 65_535 : Math.max(CLASSIC_UDP_SIZE, ednsSize(packet) ?? CLASSIC_UDP_SIZE);
  if (bytes.length > limit) {
    return encode({ ...response, flags: (response.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE, answers: [] });
  }
  return bytes;
}

function encode(packet: Packet): Buffer {
  return dnsPacket.encode(packet);
}

/** The UDP payload size a query's OPT record offers (EDNS, RFC 6891), if it has one. */
function ednsSize(packet: Packet): number | undefined {
  const opt = packet.additionals?.find((r) => r.type === "OPT") as { udpPayloadSize?: number } | undefined;
  return opt?.udpPayloadSize;
}

function wireRecord(r: DnsRecord): Answer {
  const name = r.name;
  switch (r.type) {
    case "A":
    case "AAAA":
      return { type: r.type, name, ttl: DNS_TTL, data: r.value };
    case "CNAME":
      return { type: "CNAME", name, ttl: DNS_TTL, data: r.value };
    case "MX":
      // The store keeps "." for a null MX (RFC 7505) as an empty name.
      return { type: "MX", name, ttl: DNS_TTL, data: { preference: r.priority ?? 10, exchange: dnsName(r.value) } };
    case "TXT":
      return { type: "TXT", name, ttl: DNS_TTL, data: characterStrings(r.value) };
  }
}

/** A TXT value as character strings of at most 255 octets each (RFC 1035 §3.3.14), cut at octets, not characters. */
function characterStrings(value: string): Buffer[] {
  const bytes = Buffer.from(value, "utf8");
  const strings: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += 255) strings.push(bytes.subarray(at, at + 255));
  return strings.length > 0 ? strings : [Buffer.alloc(0)];
}

/** Starts UDP and TCP on one port of `host` (0 = a free one). */
export async function startDnsServer(store: DnsStore, host: string, port: number): Promise<DnsServer> {
  for (let attempt = 1; ; attempt++) {
    const udp = createSocket(host.includes(":") ? "udp6" : "udp4");
    udp.on("message", (message: Buffer, from: RemoteInfo) => {
      const answer = answerQuery(store, message, "udp");
      if (answer) udp.send(answer, from.port, from.address);
    });
    const bound = await new Promise<number>((resolve, reject) => {
      udp.once("error", reject);
      udp.bind(port, host, () => {
        udp.off("error", reject);
        resolve(udp.address().port);
      });
    });
    // A socket error after the bind (an ICMP unreachable from a gone client) is no reason to stop.
    udp.on("error", () => undefined);
    const tcp = tcpServer(store);
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once("error", reject);
        tcp.listen(bound, host, () => {
          tcp.off("error", reject);
          resolve();
        });
      });
    } catch (error) {
      await closeUdp(udp);
      if (port === 0 && attempt < BIND_TRIES && (error as NodeJS.ErrnoException).code === "EADDRINUSE") continue;
      throw error;
    }
    const sockets = new Set<TcpSocket>();
    tcp.on("connection", (socket) => {
      sockets.add(socket);
      socket.once("close", () => sockets.delete(socket));
    });
    let closing: Promise<void> | null = null;
    return {
      host,
      port: bound,
      close: () =>
        (closing ??= Promise.all([
          closeUdp(udp),
          new Promise<void>((resolve) => {
            for (const s of sockets) s.destroy();
            tcp.close(() => resolve());
          }),
        ]).then(() => undefined)),
    };
  }
}

function closeUdp(udp: Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      udp.close(() => resolve());
    } catch {
      resolve();
    }
  });
}

/** DNS over TCP: each message behind a two-octet length (RFC 1035 §4.2.2), never truncated. */
function tcpServer(store: DnsStore): Server {
  return createServer((socket) => {
    let buffer = Buffer.alloc(0);
    socket.on("error", () => socket.destroy());
    socket.on("data", (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      while (buffer.length >= 2) {
        const length = buffer.readUInt16BE(0);
        if (buffer.length < 2 + length) break;
        const query = buffer.subarray(2, 2 + length);
        buffer = buffer.subarray(2 + length);
        const answer = answerQuery(store, Buffer.from(query), "tcp");
        if (answer) {
          const framed = Buffer.alloc(2 + answer.length);
          framed.writeUInt16BE(answer.length, 0);
          answer.copy(framed, 2);
          socket.write(framed);
        }
      }
      if (buffer.length > MAX_TCP_BUFFER) socket.destroy();
    });
  });
}
