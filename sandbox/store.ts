// What the simulated providers received, in arrival order. One store serves every channel so
// a test can assert on "what left the system" without knowing which simulator took it.

export const CHANNELS = ["webpush", "apns", "fcm", "email", "sms"] as const;
export type Channel = (typeof CHANNELS)[number];

/** What `payload` holds per channel. */
export type PayloadOf = {
  /** The decrypted push message text. */
  webpush: string | null;
  /** The JSON body of the notification request. */
  apns: Record<string, unknown> | null;
  /** The `message` object of the send request. */
  fcm: Record<string, unknown> | null;
  /** The raw message (headers and body) exactly as it came in DATA; null for a refused recipient. */
  email: string | null;
  /** The reassembled message: `{text, encoding, segments, route, from, ...}` (see smsc.ts, sms-rest.ts). */
  sms: string | Record<string, unknown> | null;
};

/** The SMTP envelope and session of an email arrival (or refusal). */
export type EmailEnvelope = {
  /** MAIL FROM address ("" for the null sender). */
  mailFrom: string;
  /** The RCPT TO addresses this entry is about: every accepted one for a message, the refused one for a refusal. */
  rcptTo: string[];
  /** Whether the session ran under STARTTLS. */
  tls: boolean;
  /** The AUTH user, when the client authenticated. */
  authUser?: string;
  /** The queue id given in the 250 after DATA; only on accepted messages. */
  queueId?: string;
  /** The HELO/EHLO name the client gave. */
  helo: string;
};

/** What `headers` holds per channel: protocol headers as sent (null when absent), or email's envelope. */
export type HeadersOf = {
  webpush: Record<string, string | null>;
  apns: Record<string, string | null>;
  fcm: Record<string, string | null>;
  email: EmailEnvelope;
  sms: Record<string, string | null>;
};

/**
 * One arrival. `Received` alone is a web push arrival, the only kind there was at first, so
 * readers written then keep their types; `Received<"apns">` etc. name the others and
 * `Received<Channel>` any of them.
 */
export type Received<C extends Channel = "webpush"> = {
  channel: C;
  /** Recipient address as the provider saw it (webpush: the subscription endpoint; apns: the hex
   * device token; fcm: the registration token; email: the RCPT TO address, recipients joined
   * with ", " when one message had several). */
  to: string;
  /** Arrival time, ISO 8601. */
  at: string;
  /** HTTP status the simulator answered with (email: the SMTP reply code). */
  status: number;
  /** Provider-level verdict, e.g. "accepted", "gone", "throttled". */
  outcome: string;
  /** Protocol headers that matter for the channel, as sent (see HeadersOf). */
  headers: HeadersOf[C];
  /** Decoded message content (see PayloadOf), or null when there was none or it could not be decoded. */
  payload: PayloadOf[C];
  /** email: which simulator received it, `smtp` (the MTA, from the relay) or a provider's send API (esp.ts) with its id of the message. */
  provider?: string;
  providerMessageId?: string;
  /** apns: the team and key whose provider token authenticated the push. */
  credential?: { teamId: string; keyId: string };
};

// A long-running dev sandbox must not grow without bound; old arrivals fall off first.
const MAX_ENTRIES = 10_000;

export function isChannel(value: string): value is Channel {
  return (CHANNELS as readonly string[]).includes(value);
}

export class ReceivedStore {
  #entries: Received<Channel>[] = [];
  readonly #clearListeners: Array<(channel: Channel | undefined) => void> = [];

  /** Called on every clear (with its channel filter): simulators reset their per-run memory then. */
  onClear(listener: (channel: Channel | undefined) => void): void {
    this.#clearListeners.push(listener);
  }

  record<C extends Channel>(entry: Omit<Received<C>, "at">): Received<C> {
    const stored: Received<C> = { ...entry, at: new Date().toISOString() };
    this.#entries.push(stored);
    if (this.#entries.length > MAX_ENTRIES) this.#entries.splice(0, this.#entries.length - MAX_ENTRIES);
    return stored;
  }

  list(channel?: Channel): Received<Channel>[] {
    return this.#entries.filter((entry) => channel === undefined || entry.channel === channel);
  }

  clear(channel?: Channel): void {
    this.#entries = channel === undefined ? [] : this.#entries.filter((entry) => entry.channel !== channel);
    for (const listener of this.#clearListeners) listener(channel);
  }
}
