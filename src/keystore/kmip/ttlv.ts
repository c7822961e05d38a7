// TTLV (Tag, Type, Length, Value) codec of KMIP: 3-byte tag, 1-byte type,
// 4-byte big-endian length, value zero-padded to a multiple of 8 bytes.
// Decoding never trusts a length: every read is checked against the bytes
// actually present, nesting and total size are capped, and every failure is
// a TtlvError with a stable code (never a RangeError from a Buffer read).

import { tagName } from "./tags.js";

export const ItemType = {
  Structure: 0x01,
  Integer: 0x02,
  LongInteger: 0x03,
  BigInteger: 0x04,
  Enumeration: 0x05,
  Boolean: 0x06,
  TextString: 0x07,
  ByteString: 0x08,
  DateTime: 0x09,
  Interval: 0x0a,
  DateTimeExtended: 0x0b,
} as const;
export type ItemTypeName = keyof typeof ItemType;

const TYPE_BY_CODE = new Map<number, ItemTypeName>(
  Object.entries(ItemType).map(([n, v]) => [v, n as ItemTypeName]),
);

interface Base<T extends ItemTypeName, V> {
  readonly tag: number;
  readonly type: T;
  readonly value: V;
}
export type StructureItem = Base<"Structure", readonly TtlvItem[]>;
export type IntegerItem = Base<"Integer", number>;
export type LongIntegerItem = Base<"LongInteger", bigint>;
export type BigIntegerItem = Base<"BigInteger", bigint>;
export type EnumerationItem = Base<"Enumeration", number>;
export type BooleanItem = Base<"Boolean", boolean>;
export type TextStringItem = Base<"TextString", string>;
export type ByteStringItem = Base<"ByteString", Uint8Array>;
/** POSIX seconds */
export type DateTimeItem = Base<"DateTime", bigint>;
/** seconds */
export type IntervalItem = Base<"Interval", number>;
/** KMIP 2.0: POSIX microseconds */
export type DateTimeExtendedItem = Base<"DateTimeExtended", bigint>;

export type TtlvItem =
  | StructureItem
  | IntegerItem
  | LongIntegerItem
  | BigIntegerItem
  | EnumerationItem
  | BooleanItem
  | TextStringItem
  | ByteStringItem
  | DateTimeItem
  | IntervalItem
  | DateTimeExtendedItem;

export type TtlvErrorCode =
  | "TRUNCATED" // a header or value runs past the end of the input
  | "BAD_TYPE" // unknown item type byte
  | "BAD_LENGTH" // a fixed-size type with the wrong length, or a structure whose children do not fill it
  | "BAD_PADDING" // non-zero padding bytes
  | "BAD_VALUE" // a Boolean that is not 0/1, a Text String that is not UTF-8
  | "TOO_DEEP" // nesting deeper than the limit
  | "TOO_LARGE" // message larger than the size cap
  | "TRAILING_DATA" // bytes after the top-level item
  | "OUT_OF_RANGE" // encoding: a value that does not fit its type
  | "BAD_TAG"; // encoding: a tag outside 24 bits

export class TtlvError extends Error {
  readonly code: TtlvErrorCode;
  /** byte offset of the offending item, when decoding */
  readonly offset?: number;
  constructor(code: TtlvErrorCode, message: string, offset?: number) {
    super(offset === undefined ? `TTLV ${code}: ${message}` : `TTLV ${code} at byte ${offset}: ${message}`);
    this.name = "TtlvError";
    this.code = code;
    this.offset = offset;
  }
}

export interface DecodeLimits {
  /** maximum nesting of structures (the top level counts as 1); default 32 */
  readonly maxDepth?: number;
  /** maximum total bytes of the input; default 1 MiB, PyKMIP's cap */
  readonly maxBytes?: number;
}
export const DEFAULT_MAX_DEPTH = 32;
export const DEFAULT_MAX_BYTES = 1024 * 1024;

const HEADER = 8;
// arithmetic, not bitwise: lengths reach 2^32-1, beyond int32
const pad8 = (n: number): number => n + ((8 - (n % 8)) % 8);

/** Size on the wire of an item, header and padding included. */
export function encodedSize(item: TtlvItem): number {
  return HEADER + pad8(valueLength(item));
}

function valueLength(item: TtlvItem): number {
  switch (item.type) {
    case "Structure": {
      let n = 0;
      for (const c of item.value) n += encodedSize(c);
      return n;
    }
    case "Integer":
    case "Enumeration":
    case "Interval":
      return 4;
    case "LongInteger":
    case "Boolean":
    case "DateTime":
    case "DateTimeExtended":
      return 8;
    case "BigInteger":
      return bigIntBytes(item.value);
    case "TextString":
      return Buffer.byteLength(item.value, "utf8");
    case "ByteString":
      return item.value.length;
  }
}

/** Bytes for a two's-complement big-endian Big Integer, a multiple of 8 (at least 8). */
function bigIntBytes(v: bigint): number {
  let n = 8;
  // grow until v fits in n bytes signed
  while (v >= 1n << BigInt(n * 8 - 1) || v < -(1n << BigInt(n * 8 - 1))) n += 8;
  return n;
}

const I32_MIN = -0x80000000;
const I32_MAX = 0x7fffffff;
const U32_MAX = 0xffffffff;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

/** Encode one item (normally a Request or Response Message) to bytes. */
export function encodeTtlv(item: TtlvItem): Buffer {
  const buf = Buffer.alloc(encodedSize(item));
  const end = writeItem(buf, 0, item);
  if (end !== buf.length) throw new TtlvError("BAD_LENGTH", "internal size mismatch");
  return buf;
}

function writeItem(buf: Buffer, off: number, item: TtlvItem): number {
  const tag = item.tag;
  if (!Number.isInteger(tag) || tag < 0 || tag > 0xffffff) throw new TtlvError("BAD_TAG", `tag ${tag} is not a 24-bit value`);
  const len = valueLength(item);
  if (len > U32_MAX) throw new TtlvError("OUT_OF_RANGE", `${tagName(tag)} is too long`);
  buf.writeUIntBE(tag, off, 3);
  buf.writeUInt8(ItemType[item.type], off + 3);
  buf.writeUInt32BE(len, off + 4);
  const v = off + HEADER;
  const range = (ok: boolean, what: string): void => {
    if (!ok) throw new TtlvError("OUT_OF_RANGE", `${tagName(tag)}: ${what}`);
  };
  switch (item.type) {
    case "Structure": {
      let p = v;
      for (const c of item.value) p = writeItem(buf, p, c);
      break;
    }
    case "Integer":
      range(Number.isInteger(item.value) && item.value >= I32_MIN && item.value <= I32_MAX, "not a signed 32-bit integer");
      buf.writeInt32BE(item.value, v);
      break;
    case "Enumeration":
    case "Interval":
      range(Number.isInteger(item.value) && item.value >= 0 && item.value <= U32_MAX, "not an unsigned 32-bit integer");
      buf.writeUInt32BE(item.value, v);
      break;
    case "LongInteger":
    case "DateTime":
    case "DateTimeExtended":
      range(item.value >= I64_MIN && item.value <= I64_MAX, "not a signed 64-bit integer");
      buf.writeBigInt64BE(item.value, v);
      break;
    case "BigInteger": {
      // two's complement, most significant byte first
      let x = BigInt.asUintN(len * 8, item.value);
      for (let i = len - 1; i >= 0; i--) {
        buf[v + i] = Number(x & 0xffn);
        x >>= 8n;
      }
      break;
    }
    case "Boolean":
      buf.writeBigUInt64BE(item.value ? 1n : 0n, v);
      break;
    case "TextString":
      buf.write(item.value, v, "utf8");
      break;
    case "ByteString":
      buf.set(item.value, v);
      break;
  }
  return off + HEADER + pad8(len);
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Decode exactly one top-level item that fills `input`. */
export function decodeTtlv(input: Uint8Array, limits: DecodeLimits = {}): TtlvItem {
  const maxBytes = limits.maxBytes ?? DEFAULT_MAX_BYTES;
  const maxDepth = limits.maxDepth ?? DEFAULT_MAX_DEPTH;
  if (input.length > maxBytes) throw new TtlvError("TOO_LARGE", `message of ${input.length} bytes exceeds the ${maxBytes}-byte limit`);
  const buf = Buffer.from(input.buffer, input.byteOffset, input.length);
  const [item, end] = readItem(buf, 0, buf.length, 1, maxDepth);
  if (end !== buf.length) throw new TtlvError("TRAILING_DATA", `${buf.length - end} bytes after the top-level item`, end);
  return item;
}

/**
 * Total length of the message whose first 8 bytes are `header`, checked
 * against the size cap: what a stream reader must collect before decoding.
 */
export function frameLength(header: Uint8Array, maxBytes: number = DEFAULT_MAX_BYTES): number {
  if (header.length < HEADER) throw new TtlvError("TRUNCATED", "need 8 header bytes", 0);
  const b = Buffer.from(header.buffer, header.byteOffset, HEADER);
  const type = b[3];
  if (type !== ItemType.Structure) throw new TtlvError("BAD_TYPE", `a message must be a Structure, got type 0x${type.toString(16)}`, 0);
  const len = b.readUInt32BE(4);
  if (len % 8 !== 0) throw new TtlvError("BAD_LENGTH", `structure length ${len} is not a multiple of 8`, 0);
  const total = HEADER + len;
  if (total > maxBytes) throw new TtlvError("TOO_LARGE", `message of ${total} bytes exceeds the ${maxBytes}-byte limit`, 0);
  return total;
}

function readItem(buf: Buffer, off: number, limit: number, depth: number, maxDepth: number): [TtlvItem, number] {
  if (limit - off < HEADER) throw new TtlvError("TRUNCATED", "item header runs past the end", off);
  const tag = buf.readUIntBE(off, 3);
  const code = buf[off + 3];
  const len = buf.readUInt32BE(off + 4);
  const type = TYPE_BY_CODE.get(code);
  if (!type) throw new TtlvError("BAD_TYPE", `unknown item type 0x${code.toString(16).padStart(2, "0")} for ${tagName(tag)}`, off);
  const v = off + HEADER;
  const padded = pad8(len);
  // compare in a way that cannot overflow: len is at most 2^32-1
  if (padded > limit - v) throw new TtlvError("TRUNCATED", `${tagName(tag)} length ${len} overruns its container`, off);
  const end = v + padded;
  const fixed = (n: number): void => {
    if (len !== n) throw new TtlvError("BAD_LENGTH", `${type} ${tagName(tag)} has length ${len}, expected ${n}`, off);
  };
  let item: TtlvItem;
  switch (type) {
    case "Structure": {
      if (depth >= maxDepth) throw new TtlvError("TOO_DEEP", `nesting deeper than ${maxDepth}`, off);
      if (len % 8 !== 0) throw new TtlvError("BAD_LENGTH", `structure ${tagName(tag)} length ${len} is not a multiple of 8`, off);
      const children: TtlvItem[] = [];
      let p = v;
      const stop = v + len;
      while (p < stop) {
        const [c, next] = readItem(buf, p, stop, depth + 1, maxDepth);
        children.push(c);
        p = next;
      }
      item = { tag, type, value: children };
      return [item, end];
    }
    case "Integer":
      fixed(4);
      item = { tag, type, value: buf.readInt32BE(v) };
      break;
    case "Enumeration":
    case "Interval":
      fixed(4);
      item = { tag, type, value: buf.readUInt32BE(v) };
      break;
    case "LongInteger":
    case "DateTime":
    case "DateTimeExtended":
      fixed(8);
      item = { tag, type, value: buf.readBigInt64BE(v) };
      break;
    case "Boolean": {
      fixed(8);
      const b = buf.readBigUInt64BE(v);
      if (b > 1n) throw new TtlvError("BAD_VALUE", `Boolean ${tagName(tag)} is neither 0 nor 1`, off);
      item = { tag, type, value: b === 1n };
      break;
    }
    case "BigInteger": {
      if (len === 0 || len % 8 !== 0) throw new TtlvError("BAD_LENGTH", `Big Integer ${tagName(tag)} length ${len} is not a positive multiple of 8`, off);
      let x = 0n;
      for (let i = 0; i < len; i++) x = (x << 8n) | BigInt(buf[v + i]);
      item = { tag, type, value: BigInt.asIntN(len * 8, x) };
      break;
    }
    case "TextString": {
      let s: string;
      try {
        s = utf8.decode(buf.subarray(v, v + len));
      } catch {
        throw new TtlvError("BAD_VALUE", `Text String ${tagName(tag)} is not valid UTF-8`, off);
      }
      item = { tag, type, value: s };
      break;
    }
    case "ByteString":
      // copy, so a decoded value never pins the whole receive buffer
      item = { tag, type, value: new Uint8Array(buf.subarray(v, v + len)) };
      break;
  }
  for (let i = v + len; i < end; i++) {
    if (buf[i] !== 0) throw new TtlvError("BAD_PADDING", `non-zero padding after ${tagName(tag)}`, off);
  }
  return [item, end];
}

// ---- builders: short, typed constructors for item trees ----

export const ttlv = {
  struct: (tag: number, value: readonly (TtlvItem | undefined)[]): StructureItem => ({
    tag,
    type: "Structure",
    value: value.filter((x): x is TtlvItem => x !== undefined),
  }),
  int: (tag: number, value: number): IntegerItem => ({ tag, type: "Integer", value }),
  long: (tag: number, value: bigint): LongIntegerItem => ({ tag, type: "LongInteger", value }),
  bigint: (tag: number, value: bigint): BigIntegerItem => ({ tag, type: "BigInteger", value }),
  enum: (tag: number, value: number): EnumerationItem => ({ tag, type: "Enumeration", value }),
  bool: (tag: number, value: boolean): BooleanItem => ({ tag, type: "Boolean", value }),
  text: (tag: number, value: string): TextStringItem => ({ tag, type: "TextString", value }),
  bytes: (tag: number, value: Uint8Array): ByteStringItem => ({ tag, type: "ByteString", value }),
  dateTime: (tag: number, seconds: number | bigint): DateTimeItem => ({ tag, type: "DateTime", value: BigInt(seconds) }),
  interval: (tag: number, value: number): IntervalItem => ({ tag, type: "Interval", value }),
  dateTimeExtended: (tag: number, micros: bigint): DateTimeExtendedItem => ({ tag, type: "DateTimeExtended", value: micros }),
};

/**
 * Human-readable dump in the layout of PyKMIP's debug output
 * (`420078 REQUEST_MESSAGE <Structure> len=288`). Byte Strings are shown as
 * a length only unless `showBytes` is set, so key material stays out of logs.
 */
export function dumpTtlv(item: TtlvItem, nameOf: (tag: number) => string, opts: { showBytes?: boolean } = {}): string {
  const lines: string[] = [];
  const typeLabel: Record<ItemTypeName, string> = {
    Structure: "Structure",
    Integer: "Integer",
    LongInteger: "LongInteger",
    BigInteger: "BigInteger",
    Enumeration: "Enumeration",
    Boolean: "Boolean",
    TextString: "TextString",
    ByteString: "ByteString",
    DateTime: "DateTime",
    Interval: "Interval",
    DateTimeExtended: "DateTimeExtended",
  };
  const walk = (it: TtlvItem, indent: string): void => {
    const head = `${indent}${it.tag.toString(16).toUpperCase().padStart(6, "0")} ${nameOf(it.tag)} <${typeLabel[it.type]}> len=${valueLength(it)}`;
    switch (it.type) {
      case "Structure":
        lines.push(head);
        for (const c of it.value) walk(c, indent + "  ");
        return;
      case "Enumeration":
        lines.push(`${head} = 0x${it.value.toString(16).toUpperCase().padStart(8, "0")}`);
        return;
      case "TextString":
        lines.push(`${head} = '${it.value}'`);
        return;
      case "ByteString":
        lines.push(opts.showBytes ? `${head} = ${Buffer.from(it.value).toString("hex")}` : head);
        return;
      default:
        lines.push(`${head} = ${String(it.value)}`);
    }
  };
  walk(item, "");
  return lines.join("\n");
}
