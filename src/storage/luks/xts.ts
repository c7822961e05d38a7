// Sector encryption as LUKS1 (dm-crypt, qemu's crypto/block) does it: each
// 512-byte sector is one unit, with an IV made from its sector number.
// Chaining modes: xts (the default of qemu and cryptsetup) and cbc; IV
// generators: plain64 (sector as little-endian u64), plain (its low 32 bits)
// and essiv:<hash> (the sector number encrypted under hash(key)). node:crypto
// (OpenSSL) does the block cipher; a fresh cipher object per sector, because
// XTS and CBC chain across a whole update() call.
import { createCipheriv, createDecipheriv, createHash, type Cipher, type Decipher } from "node:crypto";
import { VirError } from "../../errors.js";

export const SECTOR_SIZE = 512;

export type ChainMode = "xts" | "cbc";
export type IvGen = { readonly name: "plain64" | "plain" } | { readonly name: "essiv"; readonly hash: string };

/** A parsed LUKS cipher-mode string such as "xts-plain64" or "cbc-essiv:sha256". */
export interface CipherMode {
  readonly chain: ChainMode;
  readonly ivgen: IvGen;
}

function unsupported(detail: string): VirError {
  return new VirError("CONFIG_UNSUPPORTED", detail, "STORAGE");
}

/** Parse a LUKS cipher-mode; anything but xts/cbc with plain, plain64 or essiv is refused. */
export function parseCipherMode(mode: string): CipherMode {
  const m = /^(xts|cbc)-(plain64|plain|essiv:([a-z0-9]+))$/.exec(mode);
  if (!m) throw unsupported(`LUKS cipher mode '${mode.slice(0, 32)}' is not supported; only xts or cbc with plain, plain64 or essiv`);
  const chain = m[1] as ChainMode;
  const ivgen: IvGen = m[3] !== undefined ? { name: "essiv", hash: m[3] } : { name: m[2] as "plain64" | "plain" };
  return { chain, ivgen };
}

export function formatCipherMode(mode: CipherMode): string {
  return `${mode.chain}-${mode.ivgen.name === "essiv" ? `essiv:${mode.ivgen.hash}` : mode.ivgen.name}`;
}

/** The OpenSSL algorithm for a LUKS cipher name, mode and key length; undefined when there is none. */
function opensslName(cipherName: string, chain: ChainMode, keyBytes: number): string | undefined {
  if (cipherName !== "aes") return undefined;
  if (chain === "xts") {
    // XTS takes two keys of the AES size: 32 bytes = AES-128, 64 = AES-256 (OpenSSL has no AES-192-XTS)
    if (keyBytes === 32) return "aes-128-xts";
    if (keyBytes === 64) return "aes-256-xts";
    return undefined;
  }
  if (keyBytes === 16 || keyBytes === 24 || keyBytes === 32) return `aes-${keyBytes * 8}-cbc`;
  return undefined;
}

/** Encrypts and decrypts whole sectors under one key. */
export interface SectorCipher {
  /** encrypt `data` (a whole number of sectors) whose first sector has number `firstSector`; returns a new buffer */
  encrypt(data: Uint8Array, firstSector: bigint): Buffer;
  decrypt(data: Uint8Array, firstSector: bigint): Buffer;
  /** zero the cipher's copy of the key; the cipher is unusable afterwards */
  dispose(): void;
}

/**
 * A sector cipher for a LUKS cipher-name / cipher-mode and a key. The key is
 * copied; errors never contain it. XTS keys with two equal halves are refused
 * (they make XTS degenerate, and OpenSSL refuses them too).
 */
export function createSectorCipher(cipherName: string, cipherMode: string | CipherMode, key: Uint8Array): SectorCipher {
  const mode = typeof cipherMode === "string" ? parseCipherMode(cipherMode) : cipherMode;
  const alg = opensslName(cipherName, mode.chain, key.length);
  if (alg === undefined) {
    throw unsupported(`LUKS cipher ${cipherName.slice(0, 32)}-${formatCipherMode(mode)} with a ${key.length * 8}-bit key is not supported`);
  }
  const k = Buffer.from(key);
  if (mode.chain === "xts" && k.subarray(0, k.length / 2).equals(k.subarray(k.length / 2))) {
    throw new VirError("INVALID_ARG", "an XTS key whose two halves are equal is refused", "STORAGE");
  }
  let essiv: Buffer | undefined;
  if (mode.ivgen.name === "essiv") {
    let salt: Buffer;
    try {
      salt = createHash(mode.ivgen.hash).update(k).digest();
    } catch {
      throw unsupported(`ESSIV hash '${mode.ivgen.hash.slice(0, 32)}' is not supported`);
    }
    // the IV cipher is the same block cipher keyed with the hash; its size must be an AES key size
    if (![16, 24, 32].includes(salt.length)) throw unsupported(`ESSIV hash '${mode.ivgen.hash}' does not give an AES key`);
    essiv = salt;
  }

  /** IVs for `count` sectors from `first`, 16 bytes each, in one buffer. */
  const ivs = (first: bigint, count: number): Buffer => {
    const out = Buffer.alloc(16 * count);
    for (let i = 0; i < count; i++) {
      const n = first + BigInt(i);
      if (mode.ivgen.name === "plain") out.writeUInt32LE(Number(n & 0xffffffffn), 16 * i);
      else out.writeBigUInt64LE(n & 0xffffffffffffffffn, 16 * i);
    }
    if (essiv) {
      // ECB keeps no state between blocks: all the IVs in one call
      const ecb = createCipheriv(`aes-${essiv.length * 8}-ecb`, essiv, null).setAutoPadding(false);
      return Buffer.concat([ecb.update(out), ecb.final()]);
    }
    return out;
  };

  let disposed = false;
  const run = (data: Uint8Array, firstSector: bigint, enc: boolean): Buffer => {
    if (disposed) throw new VirError("OPERATION_INVALID", "the volume is closed", "STORAGE");
    if (data.length % SECTOR_SIZE !== 0) {
      throw new VirError("INTERNAL_ERROR", `sector cipher given ${data.length} bytes, not a whole number of sectors`, "STORAGE");
    }
    const count = data.length / SECTOR_SIZE;
    const iv = ivs(firstSector, count);
    const out = Buffer.allocUnsafe(data.length);
    for (let i = 0; i < count; i++) {
      const c: Cipher | Decipher = enc
        ? createCipheriv(alg, k, iv.subarray(16 * i, 16 * i + 16))
        : createDecipheriv(alg, k, iv.subarray(16 * i, 16 * i + 16));
      c.setAutoPadding(false);
      const src = data.subarray(i * SECTOR_SIZE, (i + 1) * SECTOR_SIZE);
      const n = c.update(src).copy(out, i * SECTOR_SIZE);
      c.final().copy(out, i * SECTOR_SIZE + n);
    }
    return out;
  };

  return {
    encrypt: (data, firstSector) => run(data, firstSector, true),
    decrypt: (data, firstSector) => run(data, firstSector, false),
    dispose: () => {
      k.fill(0);
      essiv?.fill(0);
      disposed = true;
    },
  };
}
