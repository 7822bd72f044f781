/**
 * Small helpers around node-smpp's PDUs: the exact bytes of short_message / message_payload,
 * addresses (TON/NPI), command status names.
 *
 * node-smpp decodes short_message and message_payload of received PDUs into `{udh?, message}`
 * with its own GSM table, and the bytes are gone. The bridge decodes with src/core (the same
 * tables as the edge), so `keepRawMessages()` wraps that decoder once per process to keep the
 * bytes as well, on a symbol property of the decoded object. The decoded value itself is
 * unchanged, so any other user of the package in the process sees what it saw before.
 */
import smpp, { type PDU } from "smpp";

const RAW = Symbol.for("lasthop.smpp.raw");
const PATCHED = Symbol.for("lasthop.smpp.keepRaw");

type Filter = { decode(this: PDU, value: unknown, skipUdh?: unknown): unknown; [PATCHED]?: true };

export function keepRawMessages(): void {
  const filter = smpp.filters.message as unknown as Filter | undefined;
  if (!filter || filter[PATCHED]) return;
  const decode = filter.decode;
  filter.decode = function (this: PDU, value: unknown, skipUdh?: unknown): unknown {
    const decoded = decode.call(this, value, skipUdh);
    if (Buffer.isBuffer(value) && decoded !== null && typeof decoded === "object" && !Buffer.isBuffer(decoded)) {
      Object.defineProperty(decoded, RAW, { value: Buffer.from(value), enumerable: false });
    }
    return decoded;
  };
  filter[PATCHED] = true;
}

/** The bytes of a received short_message or message_payload (UDH included), or undefined. */
export function rawBytes(pdu: PDU, field: "short_message" | "message_payload"): Buffer | undefined {
  const value = pdu[field];
  if (value === undefined || value === null) return undefined;
  if (Buffer.isBuffer(value)) return value;
  if (typeof value === "object") {
    const raw = (value as { [RAW]?: Buffer })[RAW];
    if (raw) return raw;
    // Not decoded by the wrapped filter (it was not installed): rebuild what can be rebuilt.
    const { udh, message } = value as { udh?: Buffer[]; message?: unknown };
    if (Buffer.isBuffer(message)) {
      if (!udh || udh.length === 0) return message;
      const header = Buffer.concat(udh);
      return Buffer.concat([Buffer.from([header.length]), header, message]);
    }
  }
  return undefined;
}

/** The bytes a message carries: message_payload when present (it wins), else short_message. */
export function messageBytes(pdu: PDU): Buffer {
  const payload = rawBytes(pdu, "message_payload");
  if (payload && payload.length > 0) return payload;
  return rawBytes(pdu, "short_message") ?? Buffer.alloc(0);
}

export type Address = { ton: number; npi: number; addr: string };

export type AddressOverrides = { ton?: number | undefined; npi?: number | undefined };

/**
 * source_addr for a sender: E.164 (+digits) → TON 1 (international) NPI 1 (E.164), without
 * the '+'; digits of at most 8 → a short code, TON 3 (network specific) NPI 0; more digits →
 * international; anything else → alphanumeric, TON 5 NPI 0. Overrides win.
 */
export function sourceAddress(from: string, overrides: AddressOverrides = {}): Address {
  let address: Address;
  if (/^\+\d+$/.test(from)) address = { ton: 1, npi: 1, addr: from.slice(1) };
  else if (/^\d{1,8}$/.test(from)) address = { ton: 3, npi: 0, addr: from };
  else if (/^\d+$/.test(from)) address = { ton: 1, npi: 1, addr: from };
  else address = { ton: 5, npi: 0, addr: from };
  return { ...address, ton: overrides.ton ?? address.ton, npi: overrides.npi ?? address.npi };
}

/** destination_addr for an E.164 number: TON 1 NPI 1, without the '+'. Overrides win. */
export function destinationAddress(to: string, overrides: AddressOverrides = {}): Address {
  return { ton: overrides.ton ?? 1, npi: overrides.npi ?? 1, addr: to.replace(/^\+/, "") };
}

/** An address of a received PDU as the edge writes numbers: '+' added to international (TON 1) digits. */
export function receivedAddress(addr: unknown, ton: unknown): string {
  const text = typeof addr === "string" ? addr : "";
  if (ton === 1 && /^\d+$/.test(text)) return `+${text}`;
  return text;
}
