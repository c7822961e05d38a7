// Envelope master key: the store's 32-byte master key kept only wrapped
// (sealed) under a key-encryption key (KEK) that lives in a keystore, so a
// copied root holds nothing that opens its values.
//
//   ROOT/master.key.wrapped   0600, JSON:
//     {"v":1,"format":"virsecret-wrapped-master-key","keyId":"<KEK id>",
//      "aead":"xchacha20poly1305","sealed":"<base64>",
//      "keystore":"<reference>", "context":{"user":..,"project":..}}   (last two optional)
//
// The sealed blob is seal.ts's layout under the KEK, with the key id in the
// associated data, so a blob cannot be passed off as wrapped by another key.
// `keystore` is the reference (for the CLI: the absolute path of a <keystore>
// XML file) and `context` the identity (never a token) a later open uses to
// find the KEK by itself; neither is secret, and the KEK never leaves the keystore.
//
// A wrap or rekey of a wrapped root writes the new master key, wrapped, to
// ROOT/master.key.wrapped.rekey BEFORE the store's re-seal batch and renames it
// over master.key.wrapped after it (then removes a plain master.key), so a
// crash anywhere leaves a root the next open can finish (db.ts tries the
// pending key when the current one no longer opens the key-check record).
// No plaintext master.key is ever written. The store layer knows keystores
// only through the KeyManager interface (types); backends are never imported.
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { VirError } from "../errors.js";
import type { Context, KeyManager } from "../keystore/key-manager.js";
import { errnoText, fsyncDir, writeFileAtomic } from "./atomic-file.js";
import { MASTER_KEY_LENGTH, seal, unseal } from "./seal.js";
import { randomBytes } from "node:crypto";

/** The wrapped master key file inside a store root. */
export const WRAPPED_KEY_FILE = "master.key.wrapped";
/** The next wrapped master key while a wrap or rekey is under way (see the top of this file). */
export const PENDING_WRAPPED_KEY_FILE = "master.key.wrapped.rekey";
const FORMAT = "virsecret-wrapped-master-key";
const AEAD_NAME = "xchacha20poly1305";
/** A wrapped key file is a few hundred bytes; anything much larger is not one. */
const MAX_WRAPPED_FILE = 64 * 1024;
/** Longest key id we accept (KMIP ids are short decimals, Barbican and local ids UUIDs). */
const MAX_KEY_ID = 1024;
/** Longest keystore reference, and context field, recorded in the file. */
const MAX_REF = 4096;
const MAX_FIELD = 255;
const MAX_ROLES = 64;

/** Which keystore key wraps the master key, and how to reach it. */
export interface MasterKeyEnvelope {
  /** the keystore holding the KEK */
  readonly keystore: KeyManager;
  /** the caller the keystore acts for */
  readonly context: Context;
  /** id of a 256-bit key (32 bytes) in that keystore */
  readonly keyId: string;
  /**
   * How a later open finds the keystore again (the driver's `keystores`
   * option resolves it; the CLI's reference is a config file's absolute path).
   * Recorded in master.key.wrapped together with the context's user, project
   * and roles. Without it every open must be given the envelope.
   */
  readonly reference?: string;
}

/** The part of a Context that is recorded (a token never is). */
export interface RecordedContext {
  readonly user?: string;
  readonly project?: string;
  readonly roles?: readonly string[];
}

/** What master.key.wrapped says (the sealed bytes stay sealed). */
export interface WrappedKeyFile {
  readonly keyId: string;
  readonly sealed: Uint8Array;
  /** the keystore reference recorded at wrap time */
  readonly reference?: string;
  /** the identity recorded at wrap time (present whenever `reference` is) */
  readonly context?: RecordedContext;
}

export type WrappedKeyFileName = typeof WRAPPED_KEY_FILE | typeof PENDING_WRAPPED_KEY_FILE;

export function wrappedKeyPath(root: string, name: WrappedKeyFileName = WRAPPED_KEY_FILE): string {
  return path.join(root, name);
}

/** The refusal every non-envelope open of a wrapped root gets. */
export function wrappedRootError(root: string, keyId: string, reference?: string): VirError {
  const where = reference !== undefined ? ` (keystore '${reference}')` : "";
  return new VirError(
    "OPERATION_INVALID",
    `master key of secret root '${root}' is wrapped by keystore key ${keyId}${where}; open it with that keystore`,
  );
}

function aad(keyId: string): string {
  return `virsecret ${WRAPPED_KEY_FILE} v1 ${keyId}`;
}

/**
 * A wrapped key file that is not what this code wrote (INTERNAL_ERROR). Its own
 * class so callers tell it from a KEK that does not open the file by type, not text.
 */
export class CorruptWrappedKeyError extends VirError {
  /** the wrapped key file at fault */
  readonly file: string;
  constructor(file: string, why: string) {
    super("INTERNAL_ERROR", `corrupt wrapped master key file '${file}': ${why}`);
    this.file = file;
  }
}

function corrupt(file: string, why: string): CorruptWrappedKeyError {
  return new CorruptWrappedKeyError(file, why);
}

/** Read ROOT/master.key.wrapped (or the pending one); undefined when the root has none. */
export async function readWrappedKeyFile(root: string, name: WrappedKeyFileName = WRAPPED_KEY_FILE): Promise<WrappedKeyFile | undefined> {
  const file = wrappedKeyPath(root, name);
  let text: string;
  try {
    const st = await fs.lstat(file);
    if (!st.isFile()) throw corrupt(file, "not a regular file");
    if (st.size > MAX_WRAPPED_FILE) throw corrupt(file, `${st.size} bytes is too large`);
    text = await fs.readFile(file, "utf8");
  } catch (e) {
    if (e instanceof VirError) throw e;
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new VirError("SYSTEM_ERROR", `Failed to read file '${file}': ${errnoText(e)}`, "SECRET", { cause: e });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw corrupt(file, "not JSON");
  }
  const d = doc as Record<string, unknown> | null;
  if (d === null || typeof d !== "object" || d.v !== 1 || d.format !== FORMAT) throw corrupt(file, "unknown format");
  if (d.aead !== AEAD_NAME) throw corrupt(file, `unknown aead '${String(d.aead).slice(0, 32)}'`);
  if (typeof d.keyId !== "string" || d.keyId === "" || d.keyId.length > MAX_KEY_ID) throw corrupt(file, "bad keyId");
  if (typeof d.sealed !== "string" || !/^[A-Za-z0-9+/]+={0,2}$/.test(d.sealed)) throw corrupt(file, "bad sealed field");
  const out = { keyId: d.keyId, sealed: new Uint8Array(Buffer.from(d.sealed, "base64")) };
  if (d.keystore === undefined && d.context === undefined) return out;
  const reference = recordedText(d.keystore, MAX_REF);
  const context = d.context === undefined ? {} : recordedContext(d.context);
  if (reference === undefined || context === undefined) throw corrupt(file, "bad keystore or context field");
  return { ...out, reference, context };
}

/** A recorded string: non-empty, bounded, no control characters; undefined if not. */
function recordedText(v: unknown, max: number): string | undefined {
  // eslint-disable-next-line no-control-regex
  return typeof v === "string" && v !== "" && v.length <= max && !/[\u0000-\u001f\u007f]/.test(v) ? v : undefined;
}

/** The recordable part of a context; undefined when a field is malformed. */
function recordedContext(c: unknown): RecordedContext | undefined {
  if (c === null || typeof c !== "object") return undefined;
  const { user, project, roles } = c as Context;
  const out: { user?: string; project?: string; roles?: string[] } = {};
  if (user !== undefined) {
    if (recordedText(user, MAX_FIELD) === undefined) return undefined;
    out.user = user;
  }
  if (project !== undefined) {
    if (recordedText(project, MAX_FIELD) === undefined) return undefined;
    out.project = project;
  }
  if (roles !== undefined) {
    if (!Array.isArray(roles) || roles.length > MAX_ROLES || roles.some((r) => recordedText(r, MAX_FIELD) === undefined)) return undefined;
    out.roles = [...roles];
  }
  return out;
}

/** Check a MasterKeyEnvelope handed in by a caller (INVALID_ARG naming what is wrong). */
export function checkEnvelope(env: MasterKeyEnvelope): void {
  const bad = (what: string): never => {
    throw new VirError("INVALID_ARG", `masterKeyEnvelope: ${what}`);
  };
  if (env === null || typeof env !== "object") bad("must be an object");
  const ks = env.keystore as Partial<KeyManager> | null | undefined;
  if (ks === null || typeof ks !== "object" || typeof ks.getKey !== "function") bad("keystore must be a KeyManager");
  if (typeof env.keyId !== "string" || env.keyId === "" || env.keyId.length > MAX_KEY_ID) bad("keyId must be a non-empty string");
  if (env.context === null || typeof env.context !== "object") bad("context must be a key-manager Context");
  if (env.reference !== undefined) {
    if (recordedText(env.reference, MAX_REF) === undefined) bad(`reference must be a non-empty string of at most ${MAX_REF} characters, without control characters`);
    if (recordedContext(env.context) === undefined) bad("context user, project and roles must be short strings without control characters");
  }
}

/** The JSON document of a wrapped key file for `key` sealed under `kek`. */
function wrappedDocument(env: MasterKeyEnvelope, kek: Uint8Array, key: Uint8Array): string {
  const sealed = seal(kek, aad(env.keyId), key);
  const doc: Record<string, unknown> = { v: 1, format: FORMAT, keyId: env.keyId, aead: AEAD_NAME, sealed: Buffer.from(sealed).toString("base64") };
  if (env.reference !== undefined) {
    doc.keystore = env.reference;
    doc.context = recordedContext(env.context);
  }
  return JSON.stringify(doc) + "\n";
}

/** The KEK bytes from the keystore; errors name the key id and root, never bytes. */
async function fetchKek(root: string, env: MasterKeyEnvelope): Promise<Uint8Array> {
  let value: Uint8Array | undefined;
  try {
    value = (await env.keystore.getKey(env.context, env.keyId)).value;
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new VirError("OPERATION_FAILED", `cannot get keystore key ${env.keyId} for the master key of secret root '${root}': ${why}`, "SECRET", {
      cause: e,
    });
  }
  if (!(value instanceof Uint8Array) || value.length !== MASTER_KEY_LENGTH) {
    const len = value instanceof Uint8Array ? value.length : 0;
    value?.fill(0);
    throw new VirError(
      "INVALID_ARG",
      `keystore key ${env.keyId} cannot wrap the master key of secret root '${root}': it is ${len} bytes, a ${MASTER_KEY_LENGTH}-byte (256-bit) key is needed`,
    );
  }
  return value;
}

/**
 * The master key of an envelope root: unwrapped from ROOT/master.key.wrapped,
 * or on a root's first open generated, wrapped and written (created: true).
 * The caller zeroes `key` once the store has its own copy; if opening the
 * store then fails on a root created here, it calls discardNewWrap().
 */
export async function loadEnvelopeMasterKey(root: string, env: MasterKeyEnvelope): Promise<{ key: Uint8Array; created: boolean }> {
  checkEnvelope(env);
  const existing = await readWrappedKeyFile(root);
  if (existing !== undefined) return { key: await unwrap(root, existing, env), created: false };

  // A root that already holds a plain key is not converted behind the user's back.
  try {
    await fs.lstat(path.join(root, "master.key"));
    throw new VirError(
      "OPERATION_INVALID",
      `secret root '${root}' already has a plain master key (master.key); it cannot be wrapped by keystore key ${env.keyId}`,
    );
  } catch (e) {
    if (e instanceof VirError) throw e;
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new VirError("SYSTEM_ERROR", `cannot access '${path.join(root, "master.key")}': ${errnoText(e)}`, "SECRET", { cause: e });
    }
  }
  const kek = await fetchKek(root, env);
  const key = new Uint8Array(randomBytes(MASTER_KEY_LENGTH));
  let doc: string;
  try {
    doc = wrappedDocument(env, kek, key);
  } finally {
    kek.fill(0);
  }
  const file = wrappedKeyPath(root);
  try {
    await fs.mkdir(root, { recursive: true, mode: 0o700 });
    await writeFileAtomic(file, doc, { mode: 0o600, exclusive: true });
  } catch (e) {
    key.fill(0);
    if ((e as NodeJS.ErrnoException).code === "EEXIST") {
      // another opener wrapped it first: use theirs
      const theirs = await readWrappedKeyFile(root);
      if (theirs !== undefined) return { key: await unwrap(root, theirs, env), created: false };
    }
    throw new VirError("SYSTEM_ERROR", `Failed to write file '${file}': ${errnoText(e)}`, "SECRET", { cause: e });
  }
  return { key, created: true };
}

/** The master key sealed in `wrapped`, unwrapped with the envelope's KEK (its key id must match). */
export async function unwrapMasterKey(root: string, wrapped: WrappedKeyFile, env: MasterKeyEnvelope): Promise<Uint8Array> {
  checkEnvelope(env);
  return unwrap(root, wrapped, env);
}

async function unwrap(root: string, wrapped: WrappedKeyFile, env: MasterKeyEnvelope): Promise<Uint8Array> {
  if (wrapped.keyId !== env.keyId) {
    throw new VirError(
      "OPERATION_INVALID",
      `master key of secret root '${root}' is wrapped by keystore key ${wrapped.keyId}, not by ${env.keyId}; open it with that key`,
    );
  }
  const kek = await fetchKek(root, env);
  try {
    const key = unseal(kek, aad(wrapped.keyId), wrapped.sealed);
    if (key.length !== MASTER_KEY_LENGTH) {
      key.fill(0);
      throw corrupt(wrappedKeyPath(root), "the unwrapped key has the wrong length");
    }
    return key;
  } catch (e) {
    if (e instanceof CorruptWrappedKeyError) throw e;
    throw new VirError(
      "OPERATION_FAILED",
      `keystore key ${wrapped.keyId} does not unwrap the master key of secret root '${root}' (another key under that id, or a corrupted ${WRAPPED_KEY_FILE})`,
    );
  } finally {
    kek.fill(0);
  }
}

/** Undo a wrap written by loadEnvelopeMasterKey when the store then refused to open. */
export async function discardNewWrap(root: string): Promise<void> {
  await fs.unlink(wrappedKeyPath(root)).catch(() => undefined);
}

/**
 * Write `key` wrapped by the envelope's KEK to ROOT/master.key.wrapped.rekey
 * (0600, atomic, replacing a stale one), then read the file back and unwrap
 * it with the KEK fetched anew: the store is re-sealed under `key` only once
 * the keystore has proved it gives the key back (a backend that answered with
 * other bytes the second time would otherwise lock the root for good).
 */
export async function writePendingWrap(root: string, key: Uint8Array, env: MasterKeyEnvelope): Promise<void> {
  checkEnvelope(env);
  if (!(key instanceof Uint8Array) || key.length !== MASTER_KEY_LENGTH) {
    throw new VirError("INVALID_ARG", `master key must be ${MASTER_KEY_LENGTH} bytes`);
  }
  const kek = await fetchKek(root, env);
  let doc: string;
  try {
    doc = wrappedDocument(env, kek, key);
  } finally {
    kek.fill(0);
  }
  const file = wrappedKeyPath(root, PENDING_WRAPPED_KEY_FILE);
  try {
    await writeFileAtomic(file, doc, { mode: 0o600 });
  } catch (e) {
    throw new VirError("SYSTEM_ERROR", `Failed to write file '${file}': ${errnoText(e)}`, "SECRET", { cause: e });
  }
  try {
    const back = await readWrappedKeyFile(root, PENDING_WRAPPED_KEY_FILE);
    if (back === undefined) throw corrupt(file, "vanished after it was written");
    const again = await unwrap(root, back, env);
    const same = again.length === key.length && again.every((b, i) => b === key[i]);
    again.fill(0);
    if (!same) throw corrupt(file, "it does not unwrap to the key just wrapped");
  } catch (e) {
    await discardPendingWrap(root);
    throw e;
  }
}

/** Drop ROOT/master.key.wrapped.rekey (a wrap or rekey whose batch never landed). */
export async function discardPendingWrap(root: string): Promise<void> {
  await fs.unlink(wrappedKeyPath(root, PENDING_WRAPPED_KEY_FILE)).catch(() => undefined);
}

/**
 * The pending wrapped key became the store's key (its batch landed): move it
 * over master.key.wrapped, then remove any plain key file of the root, which
 * opens nothing any more but must not stay on a disk that could be stolen.
 */
export async function adoptPendingWrap(root: string): Promise<void> {
  const pending = wrappedKeyPath(root, PENDING_WRAPPED_KEY_FILE);
  const file = wrappedKeyPath(root);
  try {
    await fs.rename(pending, file);
    await fsyncDir(root);
  } catch (e) {
    throw new VirError(
      "SYSTEM_ERROR",
      `the master key of secret root '${root}' was replaced, but '${pending}' cannot be moved over '${file}': ${errnoText(e)} (the next open finishes this)`,
      "SECRET",
      { cause: e },
    );
  }
  await removePlainKeyFiles(root);
}

/**
 * Remove ROOT/master.key and a pending ROOT/master.key.rekey from a root whose
 * key is wrapped (call only once the wrapped key has opened the store).
 */
export async function removePlainKeyFiles(root: string): Promise<void> {
  let removed = false;
  for (const name of ["master.key", "master.key.rekey"]) {
    const file = path.join(root, name);
    try {
      await fs.unlink(file);
      removed = true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") {
        throw new VirError("SYSTEM_ERROR", `cannot remove the plain master key file '${file}': ${errnoText(e)}`, "SECRET", { cause: e });
      }
    }
  }
  if (removed) await fsyncDir(root);
}
