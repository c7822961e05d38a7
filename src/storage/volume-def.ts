// The volume definition: what a <volume> document says (virStorageVolDef),
// reduced to what a directory pool uses. Pure data; parsed and formatted by
// xml/volume.ts, consumed by the qemu-img backend and the volume driver.

/** virStorageVolType names. */
export const VOLUME_TYPES = ["file", "block", "dir", "network", "netdir", "ploop"] as const;
export type VolumeType = (typeof VOLUME_TYPES)[number];

/** virStorageFileFormat names a file pool accepts ("none" is refused). */
export const VOLUME_FORMATS = [
  "raw", "dir", "bochs", "cloop", "dmg", "iso", "vpc", "vdi", "fat", "vhd", "ploop", "luks",
  "cow", "qcow", "qcow2", "qed", "vmdk",
] as const;
export type VolumeFormat = (typeof VOLUME_FORMATS)[number];

/** virStorageEncryptionFormatType: the index is libvirt's enum number (used in one error text). */
export const ENCRYPTION_FORMATS = ["default", "qcow", "luks", "luks2"] as const;
export type EncryptionFormat = (typeof ENCRYPTION_FORMATS)[number];

/** virStorageEncryptionEngine; "default" means the attribute was absent. */
export const ENCRYPTION_ENGINES = ["default", "qemu", "librbd"] as const;
export type EncryptionEngine = (typeof ENCRYPTION_ENGINES)[number];

/** virSecretLookupTypeDef: a secret named by uuid (canonical form) or by usage id. */
export type SecretLookup = { readonly type: "uuid"; readonly uuid: string } | { readonly type: "usage"; readonly usage: string };

export interface EncryptionCipher {
  readonly name: string;
  readonly size: number;
  readonly mode?: string;
  readonly hash?: string;
}

export interface EncryptionIvgen {
  readonly name: string;
  readonly hash?: string;
}

export interface VolumeEncryption {
  readonly format: EncryptionFormat;
  readonly engine: EncryptionEngine;
  /** every <secret type='passphrase'> child, in document order (any count parses) */
  readonly secrets: readonly SecretLookup[];
  /** only read for format luks */
  readonly cipher?: EncryptionCipher;
  /** only read for format luks, and only with a cipher */
  readonly ivgen?: EncryptionIvgen;
}

/** virStoragePerms; an absent field is libvirt's -1 ("leave as is"). */
export interface VolumePermissions {
  readonly mode?: number;
  readonly owner?: number;
  readonly group?: number;
  readonly label?: string;
}

/** qcow2 feature bits (VIR_STORAGE_FILE_FEATURE_*); present even when all are off. */
export interface VolumeFeatures {
  readonly lazyRefcounts: boolean;
  readonly extendedL2: boolean;
}

export interface VolumeTarget {
  readonly path?: string;
  readonly format: VolumeFormat;
  readonly permissions: VolumePermissions;
  readonly encryption?: VolumeEncryption;
  /** qcow2 compat level, "major.minor" */
  readonly compat?: string;
  readonly nocow: boolean;
  /** bytes; absent or 0 means qemu's default */
  readonly clusterSize?: bigint;
  readonly features?: VolumeFeatures;
}

export interface VolumeBackingStore {
  readonly path: string;
  readonly format: VolumeFormat;
  readonly permissions: VolumePermissions;
}

export interface VolumeDef {
  readonly type: VolumeType;
  readonly name: string;
  readonly key?: string;
  /** bytes */
  readonly capacity: bigint;
  /** bytes; equals capacity when the document had no <allocation> */
  readonly allocation: bigint;
  readonly hasAllocation: boolean;
  readonly target: VolumeTarget;
  readonly backingStore?: VolumeBackingStore;
}
