// Message decryption as a user agent does it (RFC 8291 on top of RFC 8188 aes128gcm). http_ece
// does the cryptography; the RFC 8291 constraints it does not enforce are checked here, since a
// browser would drop a message that breaks them.
import type { ECDH } from "node:crypto";
import ece from "http_ece";

// aes128gcm header: salt (16) | rs (uint32) | idlen (uint8) | keyid (idlen)
const SALT_LENGTH = 16;
const FIXED_HEADER_LENGTH = SALT_LENGTH + 4 + 1;
// RFC 8291 §4: keyid carries the sender's uncompressed P-256 public key.
const KEYID_LENGTH = 65;
// One padding delimiter octet plus the 16-octet GCM tag.
const RECORD_OVERHEAD = 1 + 16;

/** Returns the plaintext, or throws an Error whose message says why the message is unreadable. */
export function decryptPushMessage(body: Buffer, receiver: ECDH, authSecret: Buffer): Buffer {
  if (body.length < FIXED_HEADER_LENGTH) throw new Error("aes128gcm body is shorter than its header");
  const rs = body.readUInt32BE(SALT_LENGTH);
  const idlen = body.readUInt8(SALT_LENGTH + 4);
  if (idlen !== KEYID_LENGTH || body[FIXED_HEADER_LENGTH] !== 0x04) {
    throw new Error("aes128gcm keyid must be the sender's 65-byte uncompressed P-256 public key (RFC 8291 §4)");
  }
  const recordLength = body.length - FIXED_HEADER_LENGTH - KEYID_LENGTH;
  if (rs < RECORD_OVERHEAD + 1) throw new Error(`aes128gcm rs ${rs} is too small`);
  if (recordLength < RECORD_OVERHEAD) throw new Error("aes128gcm record is shorter than delimiter plus tag");
  // RFC 8291 §4: a push message is a single record, so the whole record must fit in rs.
  if (recordLength > rs) throw new Error(`push message spans more than one record (rs ${rs}, record ${recordLength} bytes)`);

  try {
    return ece.decrypt(body, { version: "aes128gcm", privateKey: receiver, authSecret });
  } catch (error) {
    throw new Error(`aes128gcm decryption failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}
