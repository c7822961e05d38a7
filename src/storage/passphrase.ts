// Where a generated volume passphrase comes from: 32 random bytes, or a
// keystore key (created for the volume, or cloned from the user's own key,
// cinder's clone_encryption_key), turned into text by the nova / os-brick
// rule (lowercase hex of the key bytes). Both give 64 hex characters, so the
// passphrase never holds a byte a shell, a file or qemu's secret object
// could mangle. Values are returned as fresh buffers the caller zeroes.
import { randomBytes } from "node:crypto";
import { type Context, type KeyManager, KeyManagerError, passphraseFromKey } from "../keystore/key-manager.js";

/** Bytes of entropy in a generated passphrase (libvirt's old qcow one had 16 printable bytes). */
export const GENERATED_PASSPHRASE_ENTROPY = 32;

/** A random passphrase: lowercase hex of 32 random bytes, as ASCII bytes. */
export function generatePassphrase(): Uint8Array {
  const raw = randomBytes(GENERATED_PASSPHRASE_ENTROPY);
  let ascii: Buffer | undefined;
  try {
    ascii = Buffer.from(raw.toString("hex"), "ascii");
    // a copy outside Buffer's shared pool, which the intermediate may live in
    return new Uint8Array(ascii);
  } finally {
    ascii?.fill(0);
    raw.fill(0);
  }
}

/**
 * The key a new volume is encrypted under: a fresh AES-256 key, or a clone
 * of `byok` (the user's key stays theirs; the clone belongs to the volume).
 */
export function keyForVolume(km: KeyManager, ctx: Context | undefined, byok?: string): Promise<string> {
  return byok !== undefined ? km.copyKey(ctx, byok) : km.createKey(ctx, { algorithm: "AES", length: 256 });
}

/** The passphrase a keystore key gives a LUKS volume. */
export async function passphraseOfKey(km: KeyManager, ctx: Context | undefined, keyId: string): Promise<Uint8Array> {
  const obj = await km.getKey(ctx, keyId);
  let pass: Uint8Array | undefined;
  try {
    if (!obj.value || obj.value.length === 0) throw new KeyManagerError(`key ${keyId} has no value`);
    pass = passphraseFromKey(obj);
    return new Uint8Array(pass);
  } finally {
    // the hex passphrase is a buffer of its own for a symmetric key; a passphrase object's aliases obj.value
    pass?.fill(0);
    obj.value?.fill(0);
  }
}
