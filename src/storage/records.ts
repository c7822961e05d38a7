// What the volume driver persists beside the secrets, in the same store:
//  - "volumes": one record per volume it created: what the volume owns (a
//    generated secret, a keystore key) and its <encryption> as given, so
//    vol-dumpxml shows it as libvirt does after a create (spec §5.2 step 4).
//  - "volume-pending": an intent written before qemu-img runs and deleted in
//    the same batch that commits the volume. One left over after a crash names
//    a half-made file (and maybe a key) that the next open removes.
// Both are keyed by the volume's absolute path, so pools sharing a root never clash.
import { VirError } from "../errors.js";
import { canonicalUUID } from "../uuid.js";
import {
  ENCRYPTION_ENGINES,
  ENCRYPTION_FORMATS,
  VOLUME_FORMATS,
  type SecretLookup,
  type VolumeEncryption,
  type VolumeFormat,
} from "./volume-def.js";

export const VOLUME_SPACE = "volumes";
export const VOLUME_PENDING_SPACE = "volume-pending";

/** A volume this driver created. No secret value or key bytes are ever in here. */
export interface VolumeRecord {
  readonly v: 1;
  readonly name: string;
  readonly path: string;
  readonly format: VolumeFormat;
  /** bytes, decimal (JSON has no bigint) */
  readonly capacity: string;
  /** the secret that opens the volume; absent for an unencrypted volume */
  readonly secretUuid?: string;
  /** the secret was generated for this volume: delete removes it */
  readonly ownsSecret: boolean;
  /** keystore key the passphrase came from (created, or cloned from the user's key) */
  readonly keyId?: string;
  /** the key was made for this volume: delete removes it */
  readonly ownsKey?: boolean;
  /** <encryption> as given at create (a generated secret by uuid) */
  readonly encryption?: VolumeEncryption;
}

/** An unfinished create: what to undo if the process died before the commit. */
export interface PendingVolume {
  readonly v: 1;
  readonly name: string;
  readonly path: string;
  /** a key made for the volume (createKey or copyKey) that must go too */
  readonly keyId?: string;
  /** the private directory holding the passphrase file while qemu-img runs */
  readonly workDir?: string;
  /** POSIX milliseconds */
  readonly started: number;
}

function corrupt(space: string, key: string): VirError {
  return new VirError("INTERNAL_ERROR", `corrupt record '${space}/${key}' in the store`, "STORAGE");
}

const isStr = (x: unknown): x is string => typeof x === "string" && x !== "";

function checkLookup(s: unknown): s is SecretLookup {
  if (s === null || typeof s !== "object") return false;
  const l = s as { type?: unknown; uuid?: unknown; usage?: unknown };
  if (l.type === "uuid") return isStr(l.uuid) && canonicalUUID(l.uuid) === l.uuid;
  return l.type === "usage" && isStr(l.usage);
}

function checkEncryption(e: unknown): e is VolumeEncryption {
  if (e === null || typeof e !== "object") return false;
  const x = e as Record<string, unknown>;
  if (!(ENCRYPTION_FORMATS as readonly unknown[]).includes(x.format)) return false;
  if (!(ENCRYPTION_ENGINES as readonly unknown[]).includes(x.engine)) return false;
  if (!Array.isArray(x.secrets) || !x.secrets.every(checkLookup)) return false;
  if (x.cipher !== undefined) {
    const c = x.cipher as Record<string, unknown>;
    if (c === null || typeof c !== "object" || !isStr(c.name) || typeof c.size !== "number") return false;
  }
  if (x.ivgen !== undefined) {
    const i = x.ivgen as Record<string, unknown>;
    if (i === null || typeof i !== "object" || !isStr(i.name)) return false;
  }
  return true;
}

/** A stored volume record, checked field by field (a bad one is corruption, not a crash later). */
export function checkVolumeRecord(key: string, data: unknown): VolumeRecord {
  const r = data as Partial<VolumeRecord> | null;
  const ok =
    r !== null && typeof r === "object" && r.v === 1 && isStr(r.name) && r.path === key &&
    (VOLUME_FORMATS as readonly unknown[]).includes(r.format) &&
    typeof r.capacity === "string" && /^[0-9]+$/.test(r.capacity) &&
    (r.secretUuid === undefined || (isStr(r.secretUuid) && canonicalUUID(r.secretUuid) === r.secretUuid)) &&
    typeof r.ownsSecret === "boolean" && (!r.ownsSecret || r.secretUuid !== undefined) &&
    (r.keyId === undefined || isStr(r.keyId)) &&
    (r.ownsKey === undefined || (typeof r.ownsKey === "boolean" && r.keyId !== undefined)) &&
    (r.encryption === undefined || checkEncryption(r.encryption));
  if (!ok) throw corrupt(VOLUME_SPACE, key);
  return r as VolumeRecord;
}

export function checkPendingVolume(key: string, data: unknown): PendingVolume {
  const p = data as Partial<PendingVolume> | null;
  const ok =
    p !== null && typeof p === "object" && p.v === 1 && isStr(p.name) && p.path === key &&
    (p.keyId === undefined || isStr(p.keyId)) && (p.workDir === undefined || isStr(p.workDir)) &&
    typeof p.started === "number";
  if (!ok) throw corrupt(VOLUME_PENDING_SPACE, key);
  return p as PendingVolume;
}

/** The record's <encryption> in the plain-JSON shape the store keeps (no undefined fields). */
export function encryptionForRecord(enc: VolumeEncryption): VolumeEncryption {
  return {
    format: enc.format,
    engine: enc.engine,
    secrets: enc.secrets.map((s) => (s.type === "uuid" ? { type: "uuid", uuid: s.uuid } : { type: "usage", usage: s.usage })),
    ...(enc.cipher
      ? {
          cipher: {
            name: enc.cipher.name,
            size: enc.cipher.size,
            ...(enc.cipher.mode !== undefined ? { mode: enc.cipher.mode } : {}),
            ...(enc.cipher.hash !== undefined ? { hash: enc.cipher.hash } : {}),
          },
        }
      : {}),
    ...(enc.ivgen ? { ivgen: { name: enc.ivgen.name, ...(enc.ivgen.hash !== undefined ? { hash: enc.ivgen.hash } : {}) } } : {}),
  };
}
