/**
 * RFC 822-style field blocks, as RFC 3464 (message/delivery-status) and RFC 5965
 * (message/feedback-report) use them: `Name: value` lines, folded continuation lines,
 * blocks separated by blank lines, names case-insensitive.
 */

/** One field: lower-cased name, unfolded value. */
export type Field = { name: string; value: string };

const FIELD_LINE = /^([A-Za-z][A-Za-z0-9-]*)[ \t]*:[ \t]*(.*)$/;

/**
 * The blocks of fields in `text`. Lines that are neither fields nor continuations (prose
 * around an inline report) are skipped without ending the block.
 */
export function fieldBlocks(text: string): Field[][] {
  const blocks: Field[][] = [];
  let block: Field[] = [];
  let last: Field | undefined;
  for (const line of text.split(/\r\n|\n|\r/)) {
    if (line.trim() === "") {
      if (block.length) blocks.push(block);
      block = [];
      last = undefined;
      continue;
    }
    const first = line.charCodeAt(0);
    if (first === 0x20 || first === 0x09) {
      // RFC 5322 §2.2.3 unfolding: the line break goes, the white space stays (one space).
      if (last) last.value = `${last.value} ${line.trim()}`.trim();
      continue;
    }
    const match = FIELD_LINE.exec(line);
    if (!match) {
      last = undefined;
      continue;
    }
    last = { name: (match[1] ?? "").toLowerCase(), value: (match[2] ?? "").trim() };
    block.push(last);
  }
  if (block.length) blocks.push(block);
  return blocks;
}

/**
 * `rfc822; user@example.com` → `{type: "rfc822", value: "user@example.com"}` (RFC 3464 §2.1.2
 * address-type, diagnostic-type, mta-name-type). A value without a one-word type before a
 * `;` is returned whole: `Diagnostic-Code: 550 5.1.1 User unknown` happens.
 */
export function typedValue(raw: string): { type?: string; value: string } {
  const match = /^([A-Za-z][\w.-]*)[ \t]*;[ \t]*(.*)$/s.exec(raw.trim());
  if (!match) return { value: raw.trim() };
  return { type: (match[1] ?? "").toLowerCase(), value: (match[2] ?? "").trim() };
}

/** The first value of `name` in a block. */
export function fieldValue(block: readonly Field[], name: string): string | undefined {
  return block.find((f) => f.name === name)?.value;
}

/** Every value of `name` in a block, in order. */
export function fieldValues(block: readonly Field[], name: string): string[] {
  return block.filter((f) => f.name === name).map((f) => f.value);
}
