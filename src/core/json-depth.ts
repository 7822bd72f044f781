/**
 * How deep a JSON document may nest. JSON.parse is iterative, but JSON.stringify, zod and our
 * own walkers recurse: a body nested a few thousand levels deep overflows their stack (a 500).
 * So depth is checked first, on the raw text, without recursion. Real send bodies nest a few
 * levels (a batch adds two); 32 leaves room for any payload or metadata.
 */
export const MAX_JSON_DEPTH = 32;

export type DepthVerdict = { ok: true } | { ok: false; path: string; max: number };

type Frame = { array: boolean; index: number; key: string; expectKey: boolean };

/**
 * Whether a JSON text nests at most `max` arrays/objects deep; otherwise the path (zod-style,
 * dotted) of the container that holds the first one too deep. Invalid JSON is not judged here
 * (JSON.parse says so next); the scan is linear and skips string contents natively.
 */
export function jsonTextDepthWithin(text: string, max = MAX_JSON_DEPTH): DepthVerdict {
  const frames: Frame[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 0x22 /* " */) {
      const end = stringEnd(text, i);
      const top = frames.at(-1);
      if (top && !top.array && top.expectKey) {
        top.key = keyOf(text.slice(i, end + 1));
        top.expectKey = false;
      }
      i = end;
    } else if (ch === 0x7b /* { */ || ch === 0x5b /* [ */) {
      if (frames.length >= max) return { ok: false, path: pathOf(frames), max };
      frames.push({ array: ch === 0x5b, index: 0, key: "", expectKey: ch === 0x7b });
    } else if (ch === 0x7d /* } */ || ch === 0x5d /* ] */) {
      frames.pop();
    } else if (ch === 0x2c /* , */) {
      const top = frames.at(-1);
      if (top?.array) top.index++;
      else if (top) top.expectKey = true;
    }
  }
  return { ok: true };
}

/** The same limit for a value already parsed (callers that did not come through the body reader). */
export function jsonValueDepthWithin(value: unknown, max = MAX_JSON_DEPTH): DepthVerdict {
  const stack: Array<{ value: unknown; depth: number; path: string[] }> = [{ value, depth: 0, path: [] }];
  for (let item = stack.pop(); item; item = stack.pop()) {
    if (item.value === null || typeof item.value !== "object") continue;
    if (item.depth >= max) return { ok: false, path: item.path.join(".") || "(body)", max };
    for (const [key, child] of Object.entries(item.value)) stack.push({ value: child, depth: item.depth + 1, path: [...item.path, key] });
  }
  return { ok: true };
}

/** The index of the quote closing the string that opens at `start` (or the text's end). */
function stringEnd(text: string, start: number): number {
  let at = start;
  for (;;) {
    at = text.indexOf('"', at + 1);
    if (at === -1) return text.length;
    let backslashes = 0;
    while (text.charCodeAt(at - 1 - backslashes) === 0x5c) backslashes++;
    if (backslashes % 2 === 0) return at;
  }
}

function keyOf(quoted: string): string {
  try {
    return String(JSON.parse(quoted));
  } catch {
    return quoted;
  }
}

function pathOf(frames: Frame[]): string {
  return frames.map((f) => (f.array ? String(f.index) : f.key)).join(".") || "(body)";
}
