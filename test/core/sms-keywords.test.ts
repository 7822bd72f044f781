import { describe, expect, it } from "vitest";
import { defaultKeywords, moKeyword, type Keyword, type KeywordLists } from "../../src/core/sms/keywords.ts";

describe("moKeyword with the default lists", () => {
  it.each<[string, Keyword | null]>([
    ["STOP", "stop"],
    ["stop", "stop"],
    ["Stop", "stop"],
    ["  STOP  ", "stop"],
    ["\nstop\r\n", "stop"],
    ["\u00a0STOP\u3000", "stop"],
    ["\u0085stop\u2028", "stop"],
    ["\ufeffSTOP", "stop"],
    ["stopall", "stop"],
    ["UNSUBSCRIBE", "stop"],
    ["cancel", "stop"],
    ["End", "stop"],
    ["QUIT", "stop"],
    ["revoke", "stop"],
    ["optout", "stop"],
    ["START", "start"],
    ["yes", "start"],
    ["Unstop", "start"],
    ["HELP", "help"],
    ["info", "help"],
    ["STOP please", null],
    ["Stop by at 5", null],
    ["please stop", null],
    ["STOP.", null],
    ["S T O P", null],
    ["OPT OUT", null],
    ["stopp", null],
    ["", null],
    ["   ", null],
    ["\u200bSTOP", null],
  ])("%j → %s", (body, keyword) => {
    expect(moKeyword(body)).toBe(keyword);
  });

  it("the defaults are the documented lists", () => {
    expect(defaultKeywords).toEqual({
      stop: ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"],
      start: ["START", "YES", "UNSTOP"],
      help: ["HELP", "INFO"],
    });
  });
});

describe("moKeyword with account lists", () => {
  it.each<[string, Partial<KeywordLists>, string, Keyword | null]>([
    ["a given list replaces that default", { stop: ["ARRET"] }, "STOP", null],
    ["…and its words match", { stop: ["ARRET"] }, "arret", "stop"],
    ["lists not given keep their defaults", { stop: ["ARRET"] }, "HELP", "help"],
    ["entries match case-insensitively", { help: ["Aide"] }, "AIDE", "help"],
    ["an empty list switches the keyword off", { start: [] }, "START", null],
    ["non-ASCII keywords upper-case too", { stop: ["désabonner"] }, "DÉSABONNER", "stop"],
    ["a word in both stop and start opts out", { stop: ["NO"], start: ["NO"] }, "no", "stop"],
  ])("%s", (_, lists, body, keyword) => {
    expect(moKeyword(body, lists)).toBe(keyword);
  });
});
