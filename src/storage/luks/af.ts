// LUKS anti-forensic splitter (Clemens Fruhwirth's AF, as LUKS1 specifies
// it): the master key is spread over `stripes` blocks so that destroying any
// part of a key slot's material destroys the key. Split:
//   d = 0; for the first stripes-1 random blocks s_i: d = diffuse(d xor s_i);
//   last block = d xor key.
// Merge runs the same chain and xors the last block back out.
import { createHash, getHashes, randomBytes } from "node:crypto";
import { VirError } from "../../errors.js";

const HASHES = new Set(getHashes());
const DIGEST_SIZE = new Map<string, number>();

function digestSize(hash: string): number {
  let n = DIGEST_SIZE.get(hash);
  if (n === undefined) {
    n = createHash(hash).digest().length;
    DIGEST_SIZE.set(hash, n);
  }
  return n;
}

/** Throw unless `hash` is a digest node:crypto has (LUKS hash-spec names match OpenSSL's). */
export function checkHash(hash: string): void {
  if (!HASHES.has(hash)) {
    throw new VirError("CONFIG_UNSUPPORTED", `LUKS hash '${hash.slice(0, 32)}' is not supported`, "STORAGE");
  }
}

/**
 * LUKS diffusion: the buffer in digest-sized chunks, chunk j replaced by
 * H(uint32be(j) || chunk_j) cut to the chunk's length. Returns a new buffer.
 */
export function diffuse(buf: Uint8Array, hash: string): Buffer {
  const out = Buffer.allocUnsafe(buf.length);
  const size = digestSize(hash);
  const iv = Buffer.alloc(4);
  for (let j = 0, pos = 0; pos < buf.length; j++, pos += size) {
    const end = Math.min(pos + size, buf.length);
    iv.writeUInt32BE(j >>> 0, 0);
    createHash(hash).update(iv).update(buf.subarray(pos, end)).digest().copy(out, pos, 0, end - pos);
  }
  return out;
}

function xorInto(dst: Buffer, src: Uint8Array): void {
  for (let i = 0; i < dst.length; i++) dst[i]! ^= src[i]!;
}

function checkArgs(keyBytes: number, stripes: number, hash: string): void {
  if (!Number.isSafeInteger(keyBytes) || keyBytes <= 0) throw new VirError("INTERNAL_ERROR", `AF key length ${keyBytes} is invalid`, "STORAGE");
  if (!Number.isSafeInteger(stripes) || stripes < 1) throw new VirError("INTERNAL_ERROR", `AF stripe count ${stripes} is invalid`, "STORAGE");
  checkHash(hash);
}

/** Split `key` into key.length × stripes bytes of key material. */
export function afSplit(key: Uint8Array, stripes: number, hash: string, random: (n: number) => Buffer = randomBytes): Buffer {
  const n = key.length;
  checkArgs(n, stripes, hash);
  const out = random(n * (stripes - 1));
  if (out.length !== n * (stripes - 1)) throw new VirError("INTERNAL_ERROR", "AF random source gave the wrong length", "STORAGE");
  let d: Buffer = Buffer.alloc(n);
  for (let i = 0; i < stripes - 1; i++) {
    xorInto(d, out.subarray(i * n, (i + 1) * n));
    d = diffuse(d, hash);
  }
  xorInto(d, key);
  return Buffer.concat([out, d]);
}

/** Recover the key from key material made by afSplit (the first keyBytes × stripes bytes are used). */
export function afMerge(material: Uint8Array, keyBytes: number, stripes: number, hash: string): Buffer {
  checkArgs(keyBytes, stripes, hash);
  if (material.length < keyBytes * stripes) {
    throw new VirError("INTERNAL_ERROR", `AF material is ${material.length} bytes, needs ${keyBytes * stripes}`, "STORAGE");
  }
  let d: Buffer = Buffer.alloc(keyBytes);
  for (let i = 0; i < stripes - 1; i++) {
    xorInto(d, material.subarray(i * keyBytes, (i + 1) * keyBytes));
    d = diffuse(d, hash);
  }
  xorInto(d, material.subarray((stripes - 1) * keyBytes, stripes * keyBytes));
  return d;
}
