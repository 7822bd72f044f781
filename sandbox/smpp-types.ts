// Types for the parts of the `smpp` package (0.5.x, which ships none) the sandbox uses. A plain
// module of types rather than an ambient `declare module "smpp"`: the bridge declares its own
// for its client, and two ambient declarations of one module would merge (and clash) in any
// program that includes both. Load the package with loadSmpp().
import type { EventEmitter } from "node:events";
import { createRequire } from "node:module";
import type { Server as NetServer, Socket } from "node:net";

/** PDU fields by name (params and TLVs), as the package reads and writes them. */
export type PduOptions = Record<string, unknown>;

/**
 * A decoded PDU. `short_message` and `message_payload` arrive decoded per data_coding as
 * `{message: string, udh?: Buffer[]}` (udh: the information elements, each `[IEI, length, ...data]`);
 * a Buffer passed when sending is written as is.
 */
export interface Pdu {
  command: string;
  command_id: number;
  command_status: number;
  sequence_number: number;
  isResponse(): boolean;
  /** The matching *_resp (generic_nack for an unknown command), same sequence number. */
  response(options?: PduOptions): Pdu;
  toBuffer(): Buffer;
  [field: string]: unknown;
}

export type DecodedMessage = { message: string | Buffer; udh?: Buffer[] };

export interface SmppSession extends EventEmitter {
  socket: Socket;
  /** Writes a PDU (a request gets the next sequence number); false when the socket is not writable. */
  send(pdu: Pdu, responseCallback?: (resp: Pdu) => void, sendCallback?: (pdu: Pdu) => void): boolean;
  /** Ends the socket gracefully. */
  close(callback?: () => void): void;
  /** Destroys the socket. */
  destroy(callback?: () => void): void;
  bind_transceiver(options: PduOptions, responseCallback?: (resp: Pdu) => void): boolean;
  bind_transmitter(options: PduOptions, responseCallback?: (resp: Pdu) => void): boolean;
  bind_receiver(options: PduOptions, responseCallback?: (resp: Pdu) => void): boolean;
  submit_sm(options: PduOptions, responseCallback?: (resp: Pdu) => void): boolean;
  deliver_sm(options: PduOptions, responseCallback?: (resp: Pdu) => void): boolean;
  enquire_link(options?: PduOptions, responseCallback?: (resp: Pdu) => void): boolean;
  unbind(options?: PduOptions, responseCallback?: (resp: Pdu) => void): boolean;
}

export interface SmppServer extends NetServer {
  sessions: SmppSession[];
}

export type GsmCoderTable = {
  charListEnc: Record<string, number>;
  extCharListEnc: Record<string, string>;
  charListDec: Record<number, string>;
  extCharListDec: Record<string, string>;
};

export interface SmppModule {
  createServer(options: Record<string, unknown>, listener?: (session: SmppSession) => void): SmppServer;
  connect(options: { host: string; port: number; [option: string]: unknown }, listener?: () => void): SmppSession;
  PDU: new (command: string, options?: PduOptions) => Pdu;
  /** GSM 03.38 (unpacked septets, one per byte). shift: national language table, 0 for the default. */
  gsmCoder: {
    encode(text: string, shift?: number): Buffer;
    decode(septets: Buffer, shift?: number): string;
    getCoder(shift: number): GsmCoderTable;
  };
  /** ASCII is the package's name for the GSM 03.38 default alphabet (data_coding 0). */
  encodings: Record<
    "ASCII" | "LATIN1" | "UCS2",
    { match(text: string): boolean; encode(text: string): Buffer; decode(bytes: Buffer): string }
  >;
  errors: Record<string, number>;
}

/** The `smpp` package (CommonJS), typed. */
export function loadSmpp(): SmppModule {
  return createRequire(import.meta.url)("smpp") as SmppModule;
}
