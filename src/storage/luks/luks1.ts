// LUKS1 (the on-disk format of cryptsetup 1.x, and the only one qemu and
// libvirt create): the 592-byte big-endian header, the key-slot layout,
// formatting a new header with one key slot, and unlocking with a passphrase.
//
// Layout: the header sector(s) first, then 8 key-material areas of
// keyBytes × 4000 bytes each, every one starting on a 4096-byte boundary
// (sectors 8, 512, …, 3536 for a 64-byte key), as qemu and cryptsetup lay
// them out. Where the payload starts is the caller's choice (see
// native-backend.ts): qemu puts it right after slot 7 (4040 sectors),
// cryptsetup on the next 1 MiB boundary (4096).
import { randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import { VirError } from "../../errors.js";
import { WRONG_PASSPHRASE_TEXT } from "../key-check.js";
import { afMerge, afSplit, checkHash } from "./af.js";
import { iterationsForTime, MIN_ITERATIONS, pbkdf2Async } from "./pbkdf.js";
import { createSectorCipher, formatCipherMode, parseCipherMode, SECTOR_SIZE } from "./xts.js";

export const LUKS_MAGIC = Buffer.from([0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe]);
export const LUKS1_HEADER_SIZE = 592;
export const LUKS1_KEY_SLOTS = 8;
export const LUKS1_STRIPES = 4000;
export const LUKS1_DIGEST_SIZE = 20;
export const KEY_SLOT_ACTIVE = 0x00ac71f3;
export const KEY_SLOT_DISABLED = 0x0000dead;
/** key material areas start on 4096-byte boundaries (8 sectors) */
const ALIGN_SECTORS = 8;

export interface Luks1KeySlot {
  readonly active: boolean;
  readonly iterations: number;
  readonly salt: Buffer;
  /** sectors from the start of the LUKS header */
  readonly keyMaterialOffset: number;
  readonly stripes: number;
}

export interface Luks1Header {
  readonly cipherName: string;
  readonly cipherMode: string;
  readonly hashSpec: string;
  /** sectors from the start of the LUKS header */
  readonly payloadOffset: number;
  readonly keyBytes: number;
  readonly mkDigest: Buffer;
  readonly mkDigestSalt: Buffer;
  readonly mkDigestIterations: number;
  readonly uuid: string;
  readonly keySlots: readonly Luks1KeySlot[];
}

function corrupt(what: string, detail: string): VirError {
  return new VirError("INTERNAL_ERROR", `${what} has an invalid LUKS1 header: ${detail}`, "STORAGE");
}

function writeString(buf: Buffer, off: number, size: number, s: string, field: string): void {
  // room for the terminating NUL, as cryptsetup requires
  if (!/^[\x20-\x7e]*$/.test(s) || s.length >= size) {
    throw new VirError("INVALID_ARG", `LUKS1 ${field} must be printable ASCII shorter than ${size} characters`, "STORAGE");
  }
  buf.write(s, off, size, "latin1");
}

function readString(buf: Uint8Array, off: number, size: number, field: string, what: string): string {
  const raw = Buffer.from(buf.subarray(off, off + size));
  const nul = raw.indexOf(0);
  const s = raw.subarray(0, nul === -1 ? size : nul).toString("latin1");
  if (!/^[\x20-\x7e]*$/.test(s)) throw corrupt(what, `${field} is not printable ASCII`);
  return s;
}

/** The 592 header bytes. */
export function encodeLuks1Header(h: Luks1Header): Buffer {
  const b = Buffer.alloc(LUKS1_HEADER_SIZE);
  LUKS_MAGIC.copy(b, 0);
  b.writeUInt16BE(1, 6);
  writeString(b, 8, 32, h.cipherName, "cipher-name");
  writeString(b, 40, 32, h.cipherMode, "cipher-mode");
  writeString(b, 72, 32, h.hashSpec, "hash-spec");
  b.writeUInt32BE(h.payloadOffset, 104);
  b.writeUInt32BE(h.keyBytes, 108);
  if (h.mkDigest.length !== LUKS1_DIGEST_SIZE || h.mkDigestSalt.length !== 32) {
    throw new VirError("INVALID_ARG", "LUKS1 mk-digest must be 20 bytes and its salt 32", "STORAGE");
  }
  h.mkDigest.copy(b, 112);
  h.mkDigestSalt.copy(b, 132);
  b.writeUInt32BE(h.mkDigestIterations, 164);
  writeString(b, 168, 40, h.uuid, "uuid");
  if (h.keySlots.length !== LUKS1_KEY_SLOTS) throw new VirError("INVALID_ARG", "LUKS1 has exactly 8 key slots", "STORAGE");
  h.keySlots.forEach((s, i) => {
    const o = 208 + 48 * i;
    b.writeUInt32BE(s.active ? KEY_SLOT_ACTIVE : KEY_SLOT_DISABLED, o);
    b.writeUInt32BE(s.iterations, o + 4);
    if (s.salt.length !== 32) throw new VirError("INVALID_ARG", "a LUKS1 key slot salt is 32 bytes", "STORAGE");
    s.salt.copy(b, o + 8);
    b.writeUInt32BE(s.keyMaterialOffset, o + 40);
    b.writeUInt32BE(s.stripes, o + 44);
  });
  return b;
}

/** Parse and sanity-check a LUKS1 header; `what` names the volume in errors. */
export function decodeLuks1Header(buf: Uint8Array, what = "the volume"): Luks1Header {
  if (buf.length < LUKS1_HEADER_SIZE) throw corrupt(what, `only ${buf.length} bytes, a header is ${LUKS1_HEADER_SIZE}`);
  const b = Buffer.from(buf.buffer, buf.byteOffset, LUKS1_HEADER_SIZE);
  if (!b.subarray(0, 6).equals(LUKS_MAGIC)) throw corrupt(what, "no LUKS magic");
  const version = b.readUInt16BE(6);
  if (version !== 1) {
    throw new VirError("CONFIG_UNSUPPORTED", `${what} is LUKS version ${version}; only LUKS1 is supported`, "STORAGE");
  }
  const keyBytes = b.readUInt32BE(108);
  if (keyBytes < 1 || keyBytes > 64) throw corrupt(what, `key-bytes ${keyBytes} out of range`);
  const mkDigestIterations = b.readUInt32BE(164);
  if (mkDigestIterations < 1) throw corrupt(what, "mk-digest-iter is 0");
  const keySlots: Luks1KeySlot[] = [];
  for (let i = 0; i < LUKS1_KEY_SLOTS; i++) {
    const o = 208 + 48 * i;
    const state = b.readUInt32BE(o);
    if (state !== KEY_SLOT_ACTIVE && state !== KEY_SLOT_DISABLED) throw corrupt(what, `key slot ${i} has state 0x${state.toString(16)}`);
    const slot: Luks1KeySlot = {
      active: state === KEY_SLOT_ACTIVE,
      iterations: b.readUInt32BE(o + 4),
      salt: Buffer.from(b.subarray(o + 8, o + 40)),
      keyMaterialOffset: b.readUInt32BE(o + 40),
      stripes: b.readUInt32BE(o + 44),
    };
    if (slot.active) {
      if (slot.iterations < 1) throw corrupt(what, `key slot ${i} has 0 iterations`);
      // more stripes than this would be hundreds of MiB of key material
      if (slot.stripes < 1 || slot.stripes > 65536) throw corrupt(what, `key slot ${i} has ${slot.stripes} stripes`);
      if (slot.keyMaterialOffset < 1) throw corrupt(what, `key slot ${i} key material overlaps the header`);
    }
    keySlots.push(slot);
  }
  return {
    cipherName: readString(b, 8, 32, "cipher-name", what),
    cipherMode: readString(b, 40, 32, "cipher-mode", what),
    hashSpec: readString(b, 72, 32, "hash-spec", what),
    payloadOffset: b.readUInt32BE(104),
    keyBytes,
    mkDigest: Buffer.from(b.subarray(112, 132)),
    mkDigestSalt: Buffer.from(b.subarray(132, 164)),
    mkDigestIterations,
    uuid: readString(b, 168, 40, "uuid", what),
    keySlots,
  };
}

/** Sectors one key slot's material takes (key material padded to whole sectors). */
function materialSectors(keyBytes: number, stripes: number): number {
  return Math.ceil((keyBytes * stripes) / SECTOR_SIZE);
}

export interface Luks1Layout {
  /** key-material-offset of each slot, in sectors */
  readonly slotOffsets: readonly number[];
  /** sectors of each slot's material (unaligned) */
  readonly slotSectors: number;
  /** first sector after slot 7's area: the smallest payload offset */
  readonly end: number;
}

/** Where qemu and cryptsetup put the 8 key slots for a key of `keyBytes`. */
export function luks1Layout(keyBytes: number, stripes = LUKS1_STRIPES): Luks1Layout {
  const align = (n: number): number => Math.ceil(n / ALIGN_SECTORS) * ALIGN_SECTORS;
  const slotSectors = materialSectors(keyBytes, stripes);
  const first = align(Math.ceil(LUKS1_HEADER_SIZE / SECTOR_SIZE));
  const step = align(slotSectors);
  const slotOffsets = Array.from({ length: LUKS1_KEY_SLOTS }, (_, i) => first + i * step);
  return { slotOffsets, slotSectors, end: first + LUKS1_KEY_SLOTS * step };
}

export interface Luks1FormatOptions {
  /** default "aes" */
  readonly cipherName?: string;
  /** default "xts-plain64" */
  readonly cipherMode?: string;
  /** default "sha256" */
  readonly hashSpec?: string;
  /** master key length; default 64 (AES-256 in XTS) */
  readonly keyBytes?: number;
  /** PBKDF2 time for the key slot (the mk-digest gets 1/8 of it); default 2000 ms, qemu's */
  readonly iterTimeMs?: number;
  /** exact key-slot iterations instead of a time (at least MIN_ITERATIONS) */
  readonly iterations?: number;
  /** payload-offset in sectors, given the layout; default layout.end (qemu's choice) */
  readonly payloadOffset?: (layout: Luks1Layout) => number;
}

export interface Luks1Formatted {
  readonly header: Luks1Header;
  /** bytes from the start of the LUKS header to the end of slot 7's area */
  readonly areaBytes: number;
  /** what to write, offsets from the start of the LUKS header: the header, slot 0's material */
  readonly writes: readonly { readonly offset: number; readonly data: Buffer }[];
  /** the new volume key; the caller zeroes it when done */
  readonly masterKey: Buffer;
}

/** A new LUKS1 header with key slot 0 opened by `passphrase`. */
export async function formatLuks1(passphrase: Uint8Array, opts: Luks1FormatOptions = {}): Promise<Luks1Formatted> {
  const cipherName = opts.cipherName ?? "aes";
  const mode = parseCipherMode(opts.cipherMode ?? "xts-plain64");
  const cipherMode = formatCipherMode(mode);
  const hashSpec = opts.hashSpec ?? "sha256";
  const keyBytes = opts.keyBytes ?? 64;
  checkHash(hashSpec);
  if (passphrase.length === 0) throw new VirError("INVALID_ARG", "a LUKS passphrase must not be empty", "STORAGE");
  if (opts.iterations !== undefined && (!Number.isSafeInteger(opts.iterations) || opts.iterations < MIN_ITERATIONS || opts.iterations > 0xffffffff)) {
    throw new VirError("INVALID_ARG", `PBKDF2 iterations must be an integer from ${MIN_ITERATIONS} to 4294967295, not ${opts.iterations}`, "STORAGE");
  }
  // a master key XTS would refuse (equal halves) is drawn again; the cipher check below enforces it
  let masterKey = randomBytes(keyBytes);
  while (mode.chain === "xts" && masterKey.subarray(0, keyBytes / 2).equals(masterKey.subarray(keyBytes / 2))) {
    masterKey = randomBytes(keyBytes);
  }
  try {
    createSectorCipher(cipherName, mode, masterKey).dispose(); // refuses unsupported cipher/key combinations early
    const iterTime = opts.iterTimeMs ?? 2000;
    const slotIter = opts.iterations ?? (await iterationsForTime(hashSpec, keyBytes, iterTime));
    const mkIter = opts.iterations ?? (await iterationsForTime(hashSpec, LUKS1_DIGEST_SIZE, iterTime / 8));

    const mkDigestSalt = randomBytes(32);
    const mkDigest = await pbkdf2Async(masterKey, mkDigestSalt, mkIter, LUKS1_DIGEST_SIZE, hashSpec);
    const layout = luks1Layout(keyBytes);
    const payloadOffset = opts.payloadOffset ? opts.payloadOffset(layout) : layout.end;
    if (!Number.isSafeInteger(payloadOffset) || payloadOffset < layout.end || payloadOffset > 0xffffffff) {
      throw new VirError("INVALID_ARG", `LUKS1 payload offset ${payloadOffset} would overlap the key slots (they end at sector ${layout.end})`, "STORAGE");
    }

    const salt = randomBytes(32);
    const slotKey = await pbkdf2Async(passphrase, salt, slotIter, keyBytes, hashSpec);
    let material: Buffer;
    try {
      const split = afSplit(masterKey, LUKS1_STRIPES, hashSpec);
      const padded = Buffer.alloc(layout.slotSectors * SECTOR_SIZE);
      split.copy(padded);
      split.fill(0);
      const c = createSectorCipher(cipherName, mode, slotKey);
      material = c.encrypt(padded, 0n);
      c.dispose();
      padded.fill(0);
    } finally {
      slotKey.fill(0);
    }

    const keySlots: Luks1KeySlot[] = layout.slotOffsets.map((off, i) =>
      i === 0
        ? { active: true, iterations: slotIter, salt, keyMaterialOffset: off, stripes: LUKS1_STRIPES }
        : { active: false, iterations: 0, salt: Buffer.alloc(32), keyMaterialOffset: off, stripes: LUKS1_STRIPES },
    );
    const header: Luks1Header = {
      cipherName, cipherMode, hashSpec, payloadOffset, keyBytes, mkDigest, mkDigestSalt,
      mkDigestIterations: mkIter, uuid: randomUUID(), keySlots,
    };
    return {
      header,
      areaBytes: layout.end * SECTOR_SIZE,
      writes: [
        { offset: 0, data: encodeLuks1Header(header) },
        { offset: layout.slotOffsets[0]! * SECTOR_SIZE, data: material },
      ],
      masterKey,
    };
  } catch (e) {
    masterKey.fill(0);
    throw e;
  }
}

/** The typed error of a passphrase no key slot accepts (its text includes qemu's). */
export function wrongPassphraseError(what: string): VirError {
  return new VirError("INVALID_SECRET", `the passphrase does not open ${what}: ${WRONG_PASSPHRASE_TEXT}`, "STORAGE");
}

export function isWrongPassphrase(e: unknown): boolean {
  return e instanceof VirError && e.codeName === "INVALID_SECRET" && e.message.includes(WRONG_PASSPHRASE_TEXT);
}

/**
 * Find the master key: try every active slot in order and accept the first
 * whose merged key matches mk-digest. `readArea(offset, length)` reads from
 * the LUKS area (offsets from the header's start). A passphrase no slot
 * takes gives wrongPassphraseError(what).
 */
/**
 * Most PBKDF2 iterations an unlock will spend on one slot or on the digest.
 * qemu and cryptsetup calibrate to ~2 s, a few million iterations on today's
 * CPUs; the header field allows 2^32, which would pin the agent for hours on
 * a crafted volume, so far beyond any calibrated value is refused.
 */
export const MAX_UNLOCK_ITERATIONS = 100_000_000;

export async function unlockLuks1(
  header: Luks1Header,
  readArea: (offset: number, length: number) => Promise<Buffer>,
  passphrase: Uint8Array,
  what = "the volume",
): Promise<{ masterKey: Buffer; slot: number }> {
  checkHash(header.hashSpec);
  const mode = parseCipherMode(header.cipherMode);
  const tooSlow = (n: number, where: string): VirError =>
    new VirError("CONFIG_UNSUPPORTED", `${what}: ${where} asks for ${n} PBKDF2 iterations, over the limit of ${MAX_UNLOCK_ITERATIONS}`, "STORAGE");
  if (header.mkDigestIterations > MAX_UNLOCK_ITERATIONS) throw tooSlow(header.mkDigestIterations, "the master-key digest");
  for (let i = 0; i < header.keySlots.length; i++) {
    const s = header.keySlots[i]!;
    if (!s.active) continue;
    if (s.iterations > MAX_UNLOCK_ITERATIONS) throw tooSlow(s.iterations, `key slot ${i}`);
    const sectors = materialSectors(header.keyBytes, s.stripes);
    const enc = await readArea(s.keyMaterialOffset * SECTOR_SIZE, sectors * SECTOR_SIZE);
    if (enc.length !== sectors * SECTOR_SIZE) throw corrupt(what, `key slot ${i} material is cut short`);
    const slotKey = await pbkdf2Async(passphrase, s.salt, s.iterations, header.keyBytes, header.hashSpec);
    let candidate: Buffer;
    try {
      let material: Buffer;
      try {
        const c = createSectorCipher(header.cipherName, mode, slotKey);
        material = c.decrypt(enc, 0n);
        c.dispose();
      } catch (e) {
        // a derived XTS key with equal halves: this slot cannot be the one
        if (e instanceof VirError && e.codeName === "INVALID_ARG") continue;
        throw e;
      }
      candidate = afMerge(material, header.keyBytes, s.stripes, header.hashSpec);
      material.fill(0);
    } finally {
      slotKey.fill(0);
    }
    const digest = await pbkdf2Async(candidate, header.mkDigestSalt, header.mkDigestIterations, LUKS1_DIGEST_SIZE, header.hashSpec);
    if (timingSafeEqual(digest, header.mkDigest)) return { masterKey: candidate, slot: i };
    candidate.fill(0);
  }
  throw wrongPassphraseError(what);
}
