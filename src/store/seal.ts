// Sealing of secret fields: an AEAD (XChaCha20-Poly1305) under the store's
// 32-byte master key, with the record's name ("space/key") as associated data
// so a sealed blob copied onto another record fails to open.
//
// Sealed layout: VERSION(1) ‖ NONCE(24) ‖ CIPHERTEXT ‖ TAG(16).
// The version byte lets a later format (another AEAD) coexist; it is not part of
// the AEAD input, but any change to it selects a different (or no) algorithm,
// so a flipped version byte still fails with the same typed error.
import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { managedNonce } from "@noble/ciphers/utils.js";
import { VirError } from "../errors.js";

export const MASTER_KEY_LENGTH = 32;
export const SEAL_VERSION_XCHACHA = 0x01;
const NONCE_LENGTH = 24;
const TAG_LENGTH = 16;
/** Smallest possible sealed blob: version + nonce + tag (empty plaintext). */
export const SEAL_OVERHEAD = 1 + NONCE_LENGTH + TAG_LENGTH;

const aead = managedNonce(xchacha20poly1305);

/** The associated data that binds a sealed value to the record holding it. */
export function recordAad(space: string, key: string): string {
  return `${space}/${key}`;
}

function checkKey(masterKey: Uint8Array): void {
  if (!(masterKey instanceof Uint8Array) || masterKey.length !== MASTER_KEY_LENGTH) {
    // Only the length is named, never the bytes.
    throw new VirError("INTERNAL_ERROR", `master key must be ${MASTER_KEY_LENGTH} bytes, got ${masterKey?.length ?? 0}`);
  }
}

/** Seal `plaintext` for the record named by `aad`. Returns a fresh buffer. */
export function seal(masterKey: Uint8Array, aad: string, plaintext: Uint8Array): Uint8Array {
  checkKey(masterKey);
  const body = aead(masterKey, new TextEncoder().encode(aad)).encrypt(plaintext);
  const out = new Uint8Array(1 + body.length);
  out[0] = SEAL_VERSION_XCHACHA;
  out.set(body, 1);
  return out;
}

function unsealError(aad: string, why: string): VirError {
  return new VirError("INTERNAL_ERROR", `cannot unseal value of '${aad}': ${why}`);
}

/**
 * Open a blob made by `seal` for the same record. Any tampering, a wrong key,
 * or a blob taken from another record gives a VirError INTERNAL_ERROR that
 * names the record only.
 */
export function unseal(masterKey: Uint8Array, aad: string, sealed: Uint8Array): Uint8Array {
  checkKey(masterKey);
  if (sealed.length < SEAL_OVERHEAD) {
    throw unsealError(aad, `sealed value is truncated (${sealed.length} bytes)`);
  }
  if (sealed[0] !== SEAL_VERSION_XCHACHA) {
    throw unsealError(aad, `unknown sealing format 0x${sealed[0].toString(16).padStart(2, "0")} (corrupted data?)`);
  }
  try {
    return aead(masterKey, new TextEncoder().encode(aad)).decrypt(sealed.subarray(1));
  } catch {
    // noble says only "invalid tag"; the cause is deliberately not chained
    // (it carries nothing useful and must never carry key material).
    throw unsealError(aad, "authentication failed (wrong master key or corrupted data)");
  }
}
