// Barbican secret metadata <-> key-manager objects: ids from secret_ref,
// secret_type <-> kind, and Barbican's zone-less ISO times <-> POSIX seconds.
import { KeyManagerError, type ManagedObject, type ManagedObjectKind } from "../key-manager.js";
import { managedObject } from "../util.js";

/** Barbican ids are lower-case canonical UUIDs; anything else cannot name a secret. */
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The canonical (lower-case) id, or null when `id` is not a UUID. */
export function secretId(id: unknown): string | null {
  return typeof id === "string" && UUID_RE.test(id) ? id.toLowerCase() : null;
}

/** The UUID at the end of a secret_ref / order_ref (castellan keeps only that). */
export function idFromRef(ref: unknown): string | null {
  if (typeof ref !== "string") return null;
  const last = ref.replace(/\/+$/, "").split("/").pop() ?? "";
  return secretId(last);
}

const TO_SECRET_TYPE: Readonly<Record<ManagedObjectKind, string>> = {
  symmetric: "symmetric",
  passphrase: "passphrase",
  opaque: "opaque",
};

export function secretTypeOf(kind: ManagedObjectKind): string {
  return TO_SECRET_TYPE[kind];
}

/** Barbican's other types (public, private, certificate) read as opaque data, as castellan does. */
export function kindOf(secretType: unknown): ManagedObjectKind {
  return secretType === "symmetric" || secretType === "passphrase" ? secretType : "opaque";
}

/** Barbican writes UTC times without a zone ("2026-11-22T12:31:33.281763"); POSIX seconds. */
export function parseBarbicanTime(s: unknown): number | undefined {
  if (typeof s !== "string" || s === "") return undefined;
  const zoned = /(Z|[+-]\d\d:?\d\d)$/.test(s) ? s : `${s}Z`;
  const ms = Date.parse(zoned);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

/** POSIX seconds as the ISO-8601 UTC text Barbican accepts for `expiration`. */
export function formatBarbicanTime(posix: number): string {
  return new Date(Math.floor(posix * 1000)).toISOString();
}

/** The JSON fields of a secret that matter here (GET /v1/secrets/{id} or a list entry). */
export interface SecretMetadata {
  readonly secret_ref?: unknown;
  readonly secret_type?: unknown;
  readonly name?: unknown;
  readonly algorithm?: unknown;
  readonly bit_length?: unknown;
  readonly created?: unknown;
  readonly expiration?: unknown;
  readonly status?: unknown;
}

/** A managed object from metadata; the payload, when read, comes separately. */
export function objectFromMetadata(id: string, meta: SecretMetadata, value?: Uint8Array): ManagedObject {
  const kind = kindOf(meta.secret_type);
  const created = parseBarbicanTime(meta.created);
  if (created === undefined) throw new KeyManagerError(`Barbican secret ${id} has no valid 'created' time`);
  const expiration = parseBarbicanTime(meta.expiration);
  const symmetric = kind === "symmetric";
  const bits = meta.bit_length;
  return managedObject({
    id,
    kind,
    created,
    algorithm: symmetric && typeof meta.algorithm === "string" && meta.algorithm !== "" ? meta.algorithm : undefined,
    bitLength: symmetric && typeof bits === "number" && Number.isInteger(bits) && bits > 0 ? bits : undefined,
    name: typeof meta.name === "string" && meta.name !== "" ? meta.name : undefined,
    expiration,
    value,
  });
}
