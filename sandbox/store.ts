// What the simulated providers received, in arrival order. One store serves every channel so
// a test can assert on "what left the system" without knowing which simulator took it.

export const CHANNELS = ["webpush", "apns", "fcm", "email", "sms"] as const;
export type Channel = (typeof CHANNELS)[number];

export type Received = {
  channel: Channel;
  /** Recipient address as the provider saw it (for webpush: the subscription endpoint). */
  to: string;
  /** Arrival time, ISO 8601. */
  at: string;
  /** HTTP status the simulator answered with. */
  status: number;
  /** Provider-level verdict, e.g. "accepted", "gone", "throttled". */
  outcome: string;
  /** Protocol headers that matter for the channel, as sent (null when absent). */
  headers: Record<string, string | null>;
  /** Decoded message content, or null when there was none or it could not be decoded. */
  payload: string | null;
};

// A long-running dev sandbox must not grow without bound; old arrivals fall off first.
const MAX_ENTRIES = 10_000;

export function isChannel(value: string): value is Channel {
  return (CHANNELS as readonly string[]).includes(value);
}

export class ReceivedStore {
  #entries: Received[] = [];

  record(entry: Omit<Received, "at">): Received {
    const stored: Received = { ...entry, at: new Date().toISOString() };
    this.#entries.push(stored);
    if (this.#entries.length > MAX_ENTRIES) this.#entries.splice(0, this.#entries.length - MAX_ENTRIES);
    return stored;
  }

  list(channel?: Channel): Received[] {
    return this.#entries.filter((entry) => channel === undefined || entry.channel === channel);
  }

  clear(channel?: Channel): void {
    this.#entries = channel === undefined ? [] : this.#entries.filter((entry) => entry.channel !== channel);
  }
}
