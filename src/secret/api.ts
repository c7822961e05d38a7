// The public shape of the secret driver (what virSecret* gives libvirt users).
// driver.ts implements it; cli/ and storage/ code only against these types.
import type { SecretDef, SecretUsageTypeName } from "./def.js";
import type { StoreOp } from "../store/db.js";

/** virConnectListAllSecretsFlags */
export const ListAllFlags = {
  EPHEMERAL: 1,
  NO_EPHEMERAL: 2,
  PRIVATE: 4,
  NO_PRIVATE: 8,
} as const;

/** virSecretDefineFlags */
export const DefineFlags = { VALIDATE: 1 } as const;

/** virSecretEventID */
export const SecretEventID = { LIFECYCLE: 0, VALUE_CHANGED: 1 } as const;
export type SecretEventIDNumber = (typeof SecretEventID)[keyof typeof SecretEventID];

/** virSecretEventLifecycleType */
export const SecretLifecycleEvent = { DEFINED: 0, UNDEFINED: 1 } as const;

/** libvirt's secret permissions, in libvirt's order. */
export type SecretPermission = "getattr" | "read" | "write" | "read_secure" | "save" | "delete";
export type ConnectPermission = "getattr" | "read" | "search_secrets";

/**
 * ACL hook, called like libvirt's access driver. Return false to deny:
 * the call then fails with VIR_ERR_ACCESS_DENIED "access denied: 'secret' denied access".
 * For connect-level checks `def` is absent.
 */
export type AccessCheck = (
  req: { object: "secret"; perm: SecretPermission; def: SecretDef } | { object: "connect"; perm: ConnectPermission },
) => boolean;

/** What an event carries: the secret's identity, never its value. */
export interface SecretRef {
  readonly uuid: string;
  readonly usageType: SecretUsageTypeName;
  /** "" for usage none, as virSecretGetUsageID */
  readonly usageID: string;
}

export interface LifecycleEvent {
  readonly secret: SecretRef;
  /** SecretLifecycleEvent value */
  readonly event: number;
  /** always 0, as in libvirt */
  readonly detail: number;
}

export interface SecretHandle extends SecretRef {
  /** virSecretGetXMLDesc; flags must be 0 */
  getXMLDesc(flags?: number): string;
  /** virSecretSetValue; flags must be 0 */
  setValue(value: Uint8Array, flags?: number): Promise<void>;
  /** virSecretGetValue; private → VIR_ERR_INVALID_SECRET; flags must be 0 */
  getValue(flags?: number): Promise<Uint8Array>;
  undefine(): Promise<void>;
}

/** Reads private values: for the storage driver and agent code only. */
export interface ElevatedSecretAccess {
  getValue(uuid: string): Promise<Uint8Array>;
}

/**
 * The elevated handle of virsecret's own driver: also writes a secret, its value
 * and other rooms' records (a volume) in ONE store batch, and undefines likewise.
 */
export interface ElevatedSecretStoreAccess extends ElevatedSecretAccess {
  defineWithValue(xmlOrDef: string | SecretDef, value: Uint8Array, extraOps?: readonly StoreOp[]): Promise<SecretHandle>;
  undefine(uuid: string, extraOps?: readonly StoreOp[]): Promise<void>;
}

export interface OpenSecretDriverOptions {
  /** secret:///embed?root=/abs/dir ; default in README */
  readonly uri?: string;
  /** refuse define/set/get/undefine like a read-only libvirt connection */
  readonly readOnly?: boolean;
  readonly accessCheck?: AccessCheck;
  /** path of a 32-byte master key file (0600); see store/masterkey.ts */
  readonly masterKeyFile?: string;
}

export interface SecretDriverApi {
  readonly root: string;
  defineXML(xml: string, flags?: number): Promise<SecretHandle>;
  lookupByUUID(uuid: string): SecretHandle;
  lookupByUsage(usageType: SecretUsageTypeName | number, usageID: string): SecretHandle;
  numOfSecrets(): number;
  listSecrets(max: number): string[];
  listAll(flags?: number): SecretHandle[];
  /** returns a callback id; secret filters by uuid */
  eventRegisterAny(
    secret: SecretRef | null,
    eventID: SecretEventIDNumber,
    cb: (ev: LifecycleEvent | { secret: SecretRef }) => void,
  ): number;
  eventDeregisterAny(callbackID: number): void;
  elevated(): ElevatedSecretAccess;
  close(): Promise<void>;
}
