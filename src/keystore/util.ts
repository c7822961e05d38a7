// Helpers every KeyManager backend and caller shares: the input rules the
// conformance suite holds backends to, and cinder's idempotent delete.
import {
  type Context,
  type CreateKeyOptions,
  type KeyManager,
  type KeyManagerSupports,
  type ManagedObject,
  type ManagedObjectKind,
  type NewManagedObject,
  KeyManagerError,
  KeyNotFound,
  NotAuthorized,
} from "./key-manager.js";

/** Largest object value storeKey accepts (1 MiB); larger → KeyManagerError before any I/O. */
export const MAX_KEY_OBJECT_BYTES = 1024 * 1024;
/** Longest object name (Barbican's column is 255 characters). */
export const MAX_KEY_NAME_LENGTH = 255;

const KINDS: readonly ManagedObjectKind[] = ["symmetric", "passphrase", "opaque"];
/** Symmetric algorithms and the bit lengths createKey makes (512 = AES-256 in XTS mode). */
const KEY_LENGTHS: Readonly<Record<string, readonly number[]>> = {
  AES: [128, 192, 256, 512],
};

/** null/undefined context → NotAuthorized; checked before anything else. */
export function requireContext(ctx: Context | null | undefined): Context {
  if (ctx === null || ctx === undefined || typeof ctx !== "object") throw new NotAuthorized();
  return ctx;
}

/**
 * Normalised createKey options: algorithm upper-cased ('aes' is what cinder
 * passes, from the cipher name), length checked against the algorithm.
 */
export function checkCreateOptions(opts: CreateKeyOptions | undefined, now: number): {
  algorithm: string;
  length: number;
  name?: string;
  expiration?: number;
} {
  const o = opts ?? {};
  const rawAlg = o.algorithm ?? "AES";
  if (typeof rawAlg !== "string") throw new KeyManagerError("algorithm must be a string");
  const algorithm = rawAlg.toUpperCase();
  const lengths = KEY_LENGTHS[algorithm];
  if (!lengths) throw new KeyManagerError(`unsupported key algorithm '${clip(rawAlg)}'`);
  const length = o.length ?? 256;
  if (typeof length !== "number" || !Number.isInteger(length) || length <= 0 || length % 8 !== 0) {
    throw new KeyManagerError(`invalid key length ${clip(String(length))}: must be a positive multiple of 8 bits`);
  }
  if (!lengths.includes(length)) {
    throw new KeyManagerError(`invalid key length ${length} for ${algorithm}: expected one of ${lengths.join(", ")}`);
  }
  const out: { algorithm: string; length: number; name?: string; expiration?: number } = { algorithm, length };
  if (o.name !== undefined) out.name = checkName(o.name);
  if (o.expiration !== undefined) out.expiration = checkExpiration(o.expiration, now);
  return out;
}

/** A storeKey object checked against the backend's declared kinds and the size cap. */
export function checkNewObject(obj: NewManagedObject, supports: KeyManagerSupports): void {
  if (obj === null || typeof obj !== "object") throw new KeyManagerError("managed object is missing");
  if (!KINDS.includes(obj.kind)) throw new KeyManagerError(`unknown managed object kind '${clip(String(obj.kind))}'`);
  if (!supports.kinds.includes(obj.kind)) throw new KeyManagerError(`this key manager cannot store ${obj.kind} objects`);
  if (!(obj.value instanceof Uint8Array)) throw new KeyManagerError("managed object value must be bytes");
  if (obj.value.length === 0) throw new KeyManagerError("managed object value is empty");
  if (obj.value.length > MAX_KEY_OBJECT_BYTES) {
    throw new KeyManagerError(`managed object value is ${obj.value.length} bytes; the limit is ${MAX_KEY_OBJECT_BYTES}`);
  }
  if (obj.name !== undefined) checkName(obj.name);
  if (obj.kind === "symmetric") {
    if (typeof obj.algorithm !== "string" || obj.algorithm === "") {
      throw new KeyManagerError("a symmetric key needs an algorithm");
    }
    if (obj.bitLength !== undefined && obj.bitLength !== obj.value.length * 8) {
      throw new KeyManagerError(`bit length ${clip(String(obj.bitLength))} does not match a ${obj.value.length}-byte key`);
    }
  } else if (obj.algorithm !== undefined || obj.bitLength !== undefined) {
    throw new KeyManagerError(`a ${obj.kind} object has no algorithm or bit length`);
  }
}

/**
 * storeKey's arguments: the object (checkNewObject) and then the optional
 * expiration (checkExpiration); the checked expiration, or undefined.
 */
export function checkStoreArgs(obj: NewManagedObject, opts: { expiration?: number } | undefined, supports: KeyManagerSupports, now: number): number | undefined {
  checkNewObject(obj, supports);
  return opts?.expiration === undefined ? undefined : checkExpiration(opts.expiration, now);
}

/** A backend's view of one object; metadata it does not have is undefined. */
export interface ManagedObjectFields {
  readonly id: string;
  readonly kind: ManagedObjectKind;
  readonly created: number;
  readonly algorithm?: string | undefined;
  readonly bitLength?: number | undefined;
  readonly name?: string | undefined;
  readonly expiration?: number | undefined;
  readonly value?: Uint8Array | undefined;
}

/** The ManagedObject a backend returns: fields it does not have are absent, never present as undefined. */
export function managedObject(f: ManagedObjectFields): ManagedObject {
  return {
    id: f.id,
    kind: f.kind,
    ...(f.algorithm !== undefined ? { algorithm: f.algorithm } : {}),
    ...(f.bitLength !== undefined ? { bitLength: f.bitLength } : {}),
    ...(f.name !== undefined ? { name: f.name } : {}),
    created: f.created,
    ...(f.expiration !== undefined ? { expiration: f.expiration } : {}),
    ...(f.value !== undefined ? { value: f.value } : {}),
  };
}

export function checkName(name: unknown): string {
  if (typeof name !== "string") throw new KeyManagerError("key name must be a string");
  if (name.length > MAX_KEY_NAME_LENGTH) throw new KeyManagerError(`key name is longer than ${MAX_KEY_NAME_LENGTH} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) throw new KeyManagerError("key name contains control characters");
  return name;
}

/** POSIX seconds, in the future. */
export function checkExpiration(exp: unknown, now: number): number {
  if (typeof exp !== "number" || !Number.isFinite(exp)) throw new KeyManagerError("expiration must be POSIX seconds");
  if (exp <= now) throw new KeyManagerError("expiration is in the past");
  return exp;
}

/** Shorten caller text quoted in an error, so a 10k-character argument cannot flood a log. */
export function clip(s: string, max = 64): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

/**
 * Delete a key, treating "already gone" as done (cinder's
 * delete_encryption_key). Returns false when the key was absent. Other
 * errors (NotAuthorized, backend failures) still throw.
 */
export async function deleteKeyIdempotent(km: KeyManager, ctx: Context | null | undefined, id: string): Promise<boolean> {
  try {
    await km.deleteKey(ctx, id);
    return true;
  } catch (e) {
    if (e instanceof KeyNotFound) return false;
    throw e;
  }
}
