// libvirt's UUID rules: a lenient parser (virUUIDParse) and the canonical
// lower-case 8-4-4-4-12 form used on every output.
import { randomBytes } from "node:crypto";

const HEX = /[0-9a-fA-F]/;
const SPACE = /[ \t\n\v\f\r]/;

/**
 * Parse like virUUIDParse: leading whitespace skipped; then 32 hex digits
 * read as 16 pairs, with '-' or ' ' allowed only between pairs; then only
 * whitespace. Returns the 16 raw bytes, or null when malformed.
 */
export function parseUUID(text: string): Uint8Array | null {
  let i = 0;
  while (i < text.length && SPACE.test(text[i]!)) i++;
  const out = new Uint8Array(16);
  for (let n = 0; n < 16; n++) {
    if (n > 0) {
      while (i < text.length && (text[i] === "-" || text[i] === " ")) i++;
    }
    const a = text[i];
    const b = text[i + 1];
    if (a === undefined || b === undefined || !HEX.test(a) || !HEX.test(b)) return null;
    out[n] = parseInt(a + b, 16);
    i += 2;
  }
  while (i < text.length) {
    if (!SPACE.test(text[i]!)) return null;
    i++;
  }
  return out;
}

/** Canonical lower-case 8-4-4-4-12 text of 16 raw bytes. */
export function formatUUID(raw: Uint8Array): string {
  const h = Buffer.from(raw).toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Lenient parse then canonical form; null when malformed. */
export function canonicalUUID(text: string): string | null {
  const raw = parseUUID(text);
  return raw ? formatUUID(raw) : null;
}

/** A random RFC 4122 version-4 UUID, as libvirt's virUUIDGenerate makes. */
export function generateUUID(): string {
  const b = randomBytes(16);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  return formatUUID(b);
}
