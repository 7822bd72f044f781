/**
 * Types for the parts of the `smpp` package (node-smpp 0.5, plain CommonJS without types) that
 * the bridge and its tests use. Import it as `import smpp from "smpp"` (the CommonJS exports
 * object). PDU fields are the SMPP parameter names (`source_addr`, `esm_class`, TLVs by name);
 * they are typed loosely because which ones exist depends on the command.
 */
declare module "smpp" {
  import type { EventEmitter } from "node:events";
  import type { Server as NetServer, Socket } from "node:net";

  export interface PDU {
    command: string;
    command_id: number;
    command_length: number;
    command_status: number;
    sequence_number: number;
    isResponse(): boolean;
    /** The response PDU to this request (same sequence number), e.g. `pdu.response({command_status: 0x64})`. */
    response(options?: Record<string, unknown>): PDU;
    toBuffer(): Buffer;
    [field: string]: unknown;
  }

  export interface PDUConstructor {
    new (command: string, options?: Record<string, unknown>): PDU;
    new (buffer: Buffer): PDU;
    maxLength: number;
  }

  type Respond = (pdu: PDU) => void;
  /** A request shortcut: `session.submit_sm({…}, onResponse, onWritten)`; false when the socket is not writable. */
  type Command = (options?: Record<string, unknown>, onResponse?: Respond, onSent?: Respond) => boolean;

  export interface Session extends EventEmitter {
    socket: Socket;
    paused: boolean;
    options: Record<string, unknown>;
    /** Writes the PDU (a request gets the next sequence number); false when the socket is not writable. */
    send(pdu: PDU, onResponse?: Respond, onSent?: Respond): boolean;
    pause(): void;
    resume(): void;
    /** Ends the socket (after what is written). */
    close(callback?: () => void): void;
    destroy(callback?: () => void): void;
    bind_transceiver: Command;
    bind_transmitter: Command;
    bind_receiver: Command;
    submit_sm: Command;
    deliver_sm: Command;
    data_sm: Command;
    enquire_link: Command;
    unbind: Command;
    generic_nack: Command;
    [command: string]: unknown;
  }

  export interface Server extends NetServer {
    sessions: Session[];
  }

  export type ConnectOptions = {
    url?: string;
    host?: string;
    port?: number;
    tls?: boolean;
    ca?: string | Buffer;
    servername?: string;
    rejectUnauthorized?: boolean;
    auto_enquire_link_period?: number;
    [option: string]: unknown;
  };

  type Smpp = {
    connect(options: ConnectOptions, listener?: () => void): Session;
    createServer(options: Record<string, unknown>, listener?: (session: Session) => void): Server;
    createServer(listener?: (session: Session) => void): Server;
    PDU: PDUConstructor;
    Session: new (options: { socket: Socket } | ConnectOptions) => Session;
    errors: Record<string, number>;
    filters: Record<
      string,
      { encode(this: PDU, value: unknown, ...rest: unknown[]): unknown; decode(this: PDU, value: unknown, skipUdh?: unknown): unknown }
    >;
    commands: Record<string, { id: number; params?: Record<string, { type: unknown; filter?: unknown; default?: unknown }> }>;
    tlvs: Record<string, { id: number; type: unknown; filter?: unknown; multiple?: boolean }>;
    consts: Record<string, Record<string, number>>;
    ESME_ROK: number;
    ESME_RTHROTTLED: number;
    ESME_RMSGQFUL: number;
    ESME_RX_T_APPN: number;
    ESME_RINVDSTADR: number;
    ESME_RBINDFAIL: number;
    ESME_RINVPASWD: number;
    ESME_RSYSERR: number;
    [constant: string]: unknown;
  };

  const smpp: Smpp;
  export default smpp;
}
