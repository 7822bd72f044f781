/**
 * Byte equality that never exits early, so how long it takes says nothing about where two
 * inputs first differ. It does take time in proportion to the longer input: when the length
 * itself is secret (a password), compare fixed-size digests of both sides instead.
 */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}
