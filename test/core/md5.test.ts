import { createHash, createHmac, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { toHex, utf8 } from "../../src/core/bytes.ts";
import { hmacMd5, md5 } from "../../src/core/md5.ts";

// RFC 1321 appendix A.5, the test suite.
const RFC1321: Array<[string, string]> = [
  ["", "d41d8cd98f00b204e9800998ecf8427e"],
  ["a", "0cc175b9c0f1b6a831c399e269772661"],
  ["abc", "900150983cd24fb0d6963f7d28e17f72"],
  ["message digest", "f96b697d7cb7938d525a2f31aaf161d0"],
  ["abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"],
  ["ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "d174ab98d277d9f5a5611c2c9f419d9f"],
  ["12345678901234567890123456789012345678901234567890123456789012345678901234567890", "57edf4a22be3c955ac49da2e2107b67a"],
];

// RFC 2202 §2, HMAC-MD5 test cases 1-3 and 6-7 (keys as hex, data as text or hex).
const RFC2202: Array<[string, string, string]> = [
  ["0b".repeat(16), toHex(utf8("Hi There")), "9294727a3638bb1c13f48ef8158bfc9d"],
  [toHex(utf8("Jefe")), toHex(utf8("what do ya want for nothing?")), "750c783e6ab0b503eaa86e310a5db738"],
  ["aa".repeat(16), "dd".repeat(50), "56be34521d144c88dbb8c733f0e8b3f6"],
  ["aa".repeat(80), toHex(utf8("Test Using Larger Than Block-Size Key - Hash Key First")), "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd"],
  [
    "aa".repeat(80),
    toHex(utf8("Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data")),
    "6f630fad67cda0ee1fb1f562db3aa53e",
  ],
];

const fromHex = (hex: string) => Uint8Array.from(Buffer.from(hex, "hex"));

describe("md5", () => {
  it.each(RFC1321)("RFC 1321: md5(%j)", (input, digest) => {
    expect(toHex(md5(utf8(input)))).toBe(digest);
  });

  // Every length across the padding boundaries (55/56/63/64 bytes and beyond), against node:crypto.
  it("agrees with node:crypto for lengths 0..300", () => {
    for (let length = 0; length <= 300; length++) {
      const data = randomBytes(length);
      expect(toHex(md5(data)), `length ${length}`).toBe(createHash("md5").update(data).digest("hex"));
    }
  });
});

describe("hmacMd5", () => {
  it.each(RFC2202)("RFC 2202: key %s", (key, data, digest) => {
    expect(toHex(hmacMd5(fromHex(key), fromHex(data)))).toBe(digest);
  });

  it("agrees with node:crypto for random keys and messages", () => {
    for (const keyLength of [0, 1, 16, 64, 65, 200]) {
      const key = randomBytes(keyLength);
      const data = randomBytes(100 + keyLength);
      expect(toHex(hmacMd5(key, data))).toBe(createHmac("md5", key).update(data).digest("hex"));
    }
  });
});
