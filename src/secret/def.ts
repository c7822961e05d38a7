// The secret definition: what a <secret> document says (virSecretDef).
// Pure data; parsed and formatted by xml/secret.ts, held by the driver.

/** virSecretUsageType: numbers as in libvirt's public API. */
export const SecretUsageType = {
  none: 0,
  volume: 1,
  ceph: 2,
  iscsi: 3,
  tls: 4,
  vtpm: 5,
} as const;
export type SecretUsageTypeName = keyof typeof SecretUsageType;

/** The id element each usage type reads its usage id from. */
export const USAGE_ID_ELEMENT: Record<Exclude<SecretUsageTypeName, "none">, "volume" | "name" | "target"> = {
  volume: "volume",
  ceph: "name",
  iscsi: "target",
  tls: "name",
  vtpm: "name",
};

export interface SecretDef {
  /** canonical lower-case 8-4-4-4-12 */
  readonly uuid: string;
  readonly ephemeral: boolean;
  readonly isPrivate: boolean;
  /** absent when empty or not given */
  readonly description?: string;
  readonly usageType: SecretUsageTypeName;
  /** absent exactly when usageType is "none" */
  readonly usageId?: string;
}
