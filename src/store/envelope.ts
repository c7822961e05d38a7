// Envelope master key: the store's 32-byte master key kept only wrapped
// (sealed) under a key-encryption key (KEK) that lives in a keystore, so a
// copied root holds nothing that opens its values.
//
//   ROOT/master.key.wrapped   0600, JSON:
//     {"v":1,"format":"virsecret-wrapped-master-key","keyId":"<KEK id>",
//      "aead":"xchacha20poly1305","sealed":"<base64>"}
//
// The sealed blob is seal.ts's layout under the KEK, with the key id in the
// associated data, so a blob cannot be passed off as wrapped by another key.
// No plaintext master.key is ever written. The store layer knows keystores
// only through the KeyManager interface (types); backends are never imported.
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { VirError } from "../errors.js";
import type { Context, KeyManager } from "../keystore/key-manager.js";
import { errnoText, writeFileAtomic } from "./atomic-file.js";
import { MASTER_KEY_LENGTH, seal, unseal } from "./seal.js";
import { randomBytes } from "node:crypto";

/** The wrapped master key file inside a store root. */
export const WRAPPED_KEY_FILE = "master.key.wrapped";
const FORMAT = "virsecret-wrapped-master-key";
const AEAD_NAME = "xchacha20poly1305";
/** A wrapped key file is a few hundred bytes; anything much larger is not one. */
const MAX_WRAPPED_FILE = 64 * 1024;
/** Longest key id we accept (KMIP ids are short decimals, Barbican and local ids UUIDs). */
const MAX_KEY_ID = 1024;

/** Which keystore key wraps the master key, and how to reach it. */
export interface MasterKeyEnvelope {
  /** the keystore holding the KEK */
  readonly keystore: KeyManager;
  /** the caller the keystore acts for */
  readonly context: Context;
  /** id of a 256-bit key (32 bytes) in that keystore */
  readonly keyId: string;
}

/** What master.key.wrapped says (the sealed bytes stay sealed). */
export interface WrappedKeyFile {
  readonly keyId: string;
  readonly sealed: Uint8Array;
}

export function wrappedKeyPath(root: string): string {
  return path.join(root, WRAPPED_KEY_FILE);
}

/** The refusal every non-envelope open of a wrapped root gets. */
export function wrappedRootError(root: string, keyId: string): VirError {
  return new VirError(
    "OPERATION_INVALID",
    `master key of secret root '${root}' is wrapped by keystore key ${keyId}; open it with that keystore`,
  );
}

function aad(keyId: string): string {
  return `virsecret ${WRAPPED_KEY_FILE} v1 ${keyId}`;
}

function corrupt(file: string, why: string): VirError {
  return new VirError("INTERNAL_ERROR", `corrupt wrapped master key file '${file}': ${why}`);
}

/** Read ROOT/master.key.wrapped; undefined when the root has none. */
export async function readWrappedKeyFile(root: string): Promise<WrappedKeyFile | undefined> {
  const file = wrappedKeyPath(root);
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
  return { keyId: d.keyId, sealed: new Uint8Array(Buffer.from(d.sealed, "base64")) };
}

function checkEnvelope(env: MasterKeyEnvelope): void {
  const bad = (what: string): never => {
    throw new VirError("INVALID_ARG", `masterKeyEnvelope: ${what}`);
  };
  if (env === null || typeof env !== "object") bad("must be an object");
  const ks = env.keystore as Partial<KeyManager> | null | undefined;
  if (ks === null || typeof ks !== "object" || typeof ks.getKey !== "function") bad("keystore must be a KeyManager");
  if (typeof env.keyId !== "string" || env.keyId === "" || env.keyId.length > MAX_KEY_ID) bad("keyId must be a non-empty string");
  if (env.context === null || typeof env.context !== "object") bad("context must be a key-manager Context");
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
  let sealed: Uint8Array;
  try {
    sealed = seal(kek, aad(env.keyId), key);
  } finally {
    kek.fill(0);
  }
  const doc = JSON.stringify({ v: 1, format: FORMAT, keyId: env.keyId, aead: AEAD_NAME, sealed: Buffer.from(sealed).toString("base64") });
  const file = wrappedKeyPath(root);
  try {
    await fs.mkdir(root, { recursive: true, mode: 0o700 });
    await writeFileAtomic(file, doc + "\n", { mode: 0o600, exclusive: true });
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
    if (e instanceof VirError && e.codeName === "INTERNAL_ERROR" && e.message.includes("corrupt wrapped")) throw e;
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
