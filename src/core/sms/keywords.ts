/** Opt-out, opt-in and help keywords in mobile-originated messages (CTIA / carrier practice). */

export type Keyword = "stop" | "start" | "help";
export type KeywordLists = { stop: string[]; start: string[]; help: string[] };

export const defaultKeywords: KeywordLists = {
  stop: ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"],
  start: ["START", "YES", "UNSTOP"],
  help: ["HELP", "INFO"],
};

/** Unicode White_Space (String.trim misses U+0085 NEL) and the BOM some handsets prepend. */
const EDGE_SPACE = /^[\p{White_Space}\uFEFF]+|[\p{White_Space}\uFEFF]+$/gu;

function normalize(text: string): string {
  return text.replace(EDGE_SPACE, "").toUpperCase();
}

/** Checked in this order: a word configured as both stop and start must still opt out. */
const ORDER: readonly Keyword[] = ["stop", "start", "help"];

/**
 * The whole message must be the keyword, so "STOP please" or "Stop by at 5" stays a conversation.
 * toUpperCase, not toLocaleUpperCase: the match must not depend on the runtime's locale (Turkish i).
 */
export function moKeyword(body: string, lists?: Partial<KeywordLists>): Keyword | null {
  const word = normalize(body);
  if (word === "") return null;
  for (const keyword of ORDER) {
    const list = lists?.[keyword] ?? defaultKeywords[keyword];
    if (list.some((entry) => normalize(entry) === word)) return keyword;
  }
  return null;
}
