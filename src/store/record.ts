// How one record sits in LevelDB.
//   key:   "<space>/<key>"  (space names are [a-z0-9_-] so '/' ends them, and a
//          whole space is the range ["<space>/", "<space>0"), '0' being '/' + 1)
//   value: UTF-8 JSON {"v":1,"d":<data>,"s":"<base64 of the sealed secret>"}
// The raw key is also the AEAD associated data, so a record's sealed field is
// bound to exactly the place it was written.
import { VirError } from "../errors.js";

export const RECORD_VERSION = 1;
const SPACE_RE = /^[a-z][a-z0-9_-]{0,63}$/;
const MAX_KEY_LENGTH = 4096;
// A lone surrogate becomes U+FFFD in UTF-8, so two different keys would share
// one LevelDB record (and one AAD): refuse them.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export interface RawRecord {
  data: unknown;
  sealed?: Uint8Array;
}

export function checkSpace(space: unknown): asserts space is string {
  if (typeof space !== "string" || !SPACE_RE.test(space)) {
    throw new VirError("INVALID_ARG", `invalid store space name '${String(space)}': expected [a-z][a-z0-9_-]{0,63}`);
  }
}

export function checkKey(space: string, key: unknown): asserts key is string {
  if (typeof key !== "string" || key.length === 0 || key.length > MAX_KEY_LENGTH || LONE_SURROGATE.test(key)) {
    throw new VirError(
      "INVALID_ARG",
      `invalid store key in space '${space}': expected a non-empty, well-formed string of at most ${MAX_KEY_LENGTH} characters`,
    );
  }
}

export function rawKey(space: string, key: string): string {
  return `${space}/${key}`;
}

/** Split a raw LevelDB key back into space and key. */
export function splitRawKey(raw: string): { space: string; key: string } | undefined {
  const i = raw.indexOf("/");
  if (i <= 0) return undefined;
  const space = raw.slice(0, i);
  if (!SPACE_RE.test(space)) return undefined;
  return { space, key: raw.slice(i + 1) };
}

/** Range bounds of a space, with optional caller bounds on the key inside it. */
export function spaceRange(space: string, opts: { gt?: string; gte?: string; lt?: string }): { gt?: string; gte?: string; lt: string } {
  if (opts.gt !== undefined && opts.gte !== undefined) {
    throw new VirError("INVALID_ARG", "store list: give at most one of 'gt' and 'gte'");
  }
  for (const b of [opts.gt, opts.gte, opts.lt]) {
    if (b !== undefined && typeof b !== "string") throw new VirError("INVALID_ARG", "store list: bounds must be strings");
  }
  const range: { gt?: string; gte?: string; lt: string } = { lt: `${space}0` };
  if (opts.gt !== undefined) range.gt = rawKey(space, opts.gt);
  else range.gte = rawKey(space, opts.gte ?? "");
  if (opts.lt !== undefined) range.lt = rawKey(space, opts.lt);
  return range;
}

export function encodeRecord(where: string, data: unknown, sealed: Uint8Array | undefined): string {
  const rec: { v: number; d: unknown; s?: string } = { v: RECORD_VERSION, d: data === undefined ? null : data };
  if (sealed !== undefined) rec.s = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength).toString("base64");
  try {
    return JSON.stringify(rec);
  } catch (e) {
    // BigInt, cycles: the driver's bug, named without echoing the data.
    throw new VirError("INVALID_ARG", `store record '${where}': data is not JSON-serialisable (${(e as Error).message})`);
  }
}

function corrupt(where: string, why: string): VirError {
  return new VirError("INTERNAL_ERROR", `corrupt record '${where}' in secret store: ${why}`);
}

export function decodeRecord(where: string, text: string): RawRecord {
  let rec: unknown;
  try {
    rec = JSON.parse(text);
  } catch {
    throw corrupt(where, "not valid JSON");
  }
  if (typeof rec !== "object" || rec === null || Array.isArray(rec)) throw corrupt(where, "not an object");
  const r = rec as { v?: unknown; d?: unknown; s?: unknown };
  if (r.v !== RECORD_VERSION) throw corrupt(where, `unknown record version ${JSON.stringify(r.v)}`);
  if (!("d" in r)) throw corrupt(where, "no data field");
  if (r.s === undefined) return { data: r.d };
  if (typeof r.s !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(r.s) || r.s.length % 4 !== 0) {
    throw corrupt(where, "sealed field is not base64");
  }
  return { data: r.d, sealed: new Uint8Array(Buffer.from(r.s, "base64")) };
}
