// The http_ece package ships no types; this covers the part the sandbox uses.
declare module "http_ece" {
  type EceParams = {
    version?: "aes128gcm" | "aesgcm";
    /** Receiver's ECDH key pair (user agent side). */
    privateKey?: import("node:crypto").ECDH;
    /** The subscription's 16-byte auth secret (raw, or base64url text). */
    authSecret?: Buffer | string;
    rs?: number;
    salt?: Buffer | string;
    dh?: Buffer | string;
    key?: Buffer | string;
  };
  const ece: {
    decrypt(buffer: Buffer, params: EceParams): Buffer;
    encrypt(buffer: Buffer, params: EceParams): Buffer;
  };
  export default ece;
}
