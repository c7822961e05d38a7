// The OpenStack key-manager contract (nova key_mgr / castellan) in TypeScript.
// Every backend (local, kmip, barbican) implements KeyManager; one shared
// conformance suite in test/ holds them all to it.

/** The caller, as nova/cinder pass an oslo RequestContext. */
export interface Context {
  readonly user?: string;
  readonly project?: string;
  readonly roles?: readonly string[];
  /** bearer token for backends that authenticate per request (Barbican) */
  readonly token?: string;
}

export type ManagedObjectKind = "symmetric" | "passphrase" | "opaque";

/** A key-manager object; `value` is absent on metadata-only reads. */
export interface ManagedObject {
  readonly id: string;
  readonly kind: ManagedObjectKind;
  /** 'AES' for symmetric keys; absent for passphrase and opaque data */
  readonly algorithm?: string;
  /** bit length for symmetric keys */
  readonly bitLength?: number;
  readonly name?: string;
  /** POSIX seconds */
  readonly created: number;
  /** POSIX seconds; the object is gone for callers after this time */
  readonly expiration?: number;
  readonly value?: Uint8Array;
}

/** What a caller hands to storeKey: a managed object without server-side fields. */
export interface NewManagedObject {
  readonly kind: ManagedObjectKind;
  readonly algorithm?: string;
  readonly bitLength?: number;
  readonly name?: string;
  readonly value: Uint8Array;
}

export interface CreateKeyOptions {
  /** default 'AES' */
  readonly algorithm?: string;
  /** bits; default 256 */
  readonly length?: number;
  readonly name?: string;
  /** POSIX seconds */
  readonly expiration?: number;
}

export interface ListKeysFilter {
  readonly kind?: ManagedObjectKind;
  readonly name?: string;
  /** objects are returned without values */
  readonly metadataOnly?: boolean;
}

/** Optional abilities, declared like abstract-level's db.supports manifest. */
export interface KeyManagerSupports {
  /** expiration is enforced by the backend */
  readonly expiration: boolean;
  /** object kinds storeKey accepts */
  readonly kinds: readonly ManagedObjectKind[];
}

export interface KeyManager {
  readonly type: string;
  readonly supports: KeyManagerSupports;
  createKey(ctx: Context | null | undefined, opts?: CreateKeyOptions): Promise<string>;
  storeKey(ctx: Context | null | undefined, obj: NewManagedObject, opts?: { expiration?: number }): Promise<string>;
  getKey(ctx: Context | null | undefined, id: string, opts?: { metadataOnly?: boolean }): Promise<ManagedObject>;
  deleteKey(ctx: Context | null | undefined, id: string): Promise<void>;
  copyKey(ctx: Context | null | undefined, id: string): Promise<string>;
  listKeys(ctx: Context | null | undefined, filter?: ListKeysFilter): Promise<ManagedObject[]>;
  close(): Promise<void>;
}

/** Stable codes callers branch on (never on message text). */
export type KeyManagerErrorCode = "KEY_NOT_AUTHORIZED" | "KEY_NOT_FOUND" | "KEY_MANAGER_ERROR";

export class KeyManagerError extends Error {
  readonly code: KeyManagerErrorCode;
  constructor(reason: string, options?: { cause?: unknown }, code: KeyManagerErrorCode = "KEY_MANAGER_ERROR", prefix = "Key manager error: ") {
    super(prefix + reason, options);
    this.name = "KeyManagerError";
    this.code = code;
  }
}

/** No context, or a context not allowed to do this (castellan Forbidden). */
export class NotAuthorized extends KeyManagerError {
  constructor(options?: { cause?: unknown }) {
    super("You are not authorized to complete this action.", options, "KEY_NOT_AUTHORIZED", "");
    this.name = "NotAuthorized";
  }
}

/**
 * Absent, expired, malformed, or another owner's: all look the same, so an
 * id tells a caller nothing about keys it does not own.
 */
export class KeyNotFound extends KeyManagerError {
  readonly keyId: string;
  constructor(id: string, options?: { cause?: unknown }) {
    super(`Key not found, uuid: ${id}`, options, "KEY_NOT_FOUND", "");
    this.name = "KeyNotFound";
    this.keyId = id;
  }
}

/** The passphrase a LUKS volume gets from a key (nova / os-brick rule). */
export function passphraseFromKey(obj: ManagedObject): Uint8Array {
  if (!obj.value) throw new KeyManagerError(`key ${obj.id} has no value`);
  if (obj.kind === "passphrase") return obj.value;
  return new TextEncoder().encode(Buffer.from(obj.value).toString("hex"));
}
