// Opening, wrapping and rekeying a secret root whose master key is wrapped by
// a keystore key (the envelope of store/envelope.ts), for the driver.
//
// Which keystore: the caller's masterKeyEnvelope, else the reference recorded
// in master.key.wrapped resolved through the driver's `keystores` option (the
// CLI's resolver opens the recorded <keystore> file), so `virsecret -c URI
// <command>` opens a wrapped root by itself.
//
// Wrap and rekey re-seal every record under a NEW master key (a plain key file
// may have been copied before the wrap; after it, that copy opens nothing):
//   1. the new key, wrapped, to master.key.wrapped.rekey, read back and unwrapped
//      again (the keystore proved it gives the key back);
//   2. the store's re-seal batch (all records and the key-check record, atomic);
//   3. master.key.wrapped.rekey renamed over master.key.wrapped; a plain
//      master.key (a wrap of a plain root) removed.
// A crash before 2 leaves the old key opening the store: the pending file is
// dropped at the next open. A crash after 2 leaves the pending key as the only
// one that opens it: the next open (with the keystore) finishes 3.
import { VirError } from "../errors.js";
import type { KeyManager } from "../keystore/key-manager.js";
import { SecretStore, WrongMasterKeyError, type MasterKeyKeeper, type PendingMasterKey } from "../store/db.js";
import {
  PENDING_WRAPPED_KEY_FILE,
  adoptPendingWrap,
  checkEnvelope,
  discardNewWrap,
  discardPendingWrap,
  loadEnvelopeMasterKey,
  readWrappedKeyFile,
  removePlainKeyFiles,
  unwrapMasterKey,
  writePendingWrap,
  wrappedRootError,
  type MasterKeyEnvelope,
  type RecordedContext,
  type WrappedKeyFile,
} from "../store/envelope.js";
import type { KeystoreSource } from "./binding.js";

/** How a wrapped root's master key is wrapped (drv.masterKeyWrapping()); never key bytes. */
export interface MasterKeyWrapping {
  readonly keyId: string;
  /** the recorded keystore reference, when the wrap recorded one */
  readonly reference?: string;
  readonly context?: RecordedContext;
}

export interface OpenedRoot {
  readonly store: SecretStore;
  /** the envelope the store's key is wrapped by now; undefined for a plain root */
  readonly envelope: MasterKeyEnvelope | undefined;
}

/** Resolve a recorded keystore reference through the driver's `keystores` option. */
async function resolveKeystore(root: string, source: KeystoreSource, ref: string): Promise<KeyManager> {
  let km: KeyManager | undefined;
  try {
    if (typeof source === "function") km = await source(ref, {});
    else if (source !== null && typeof source === "object" && Object.hasOwn(source, ref)) km = source[ref];
  } catch (e) {
    throw new VirError(
      "OPERATION_FAILED",
      `cannot open keystore '${ref}' for the master key of secret root '${root}': ${e instanceof Error ? e.message : String(e)}`,
      "SECRET",
      { cause: e },
    );
  }
  if (km === undefined || km === null || typeof km.getKey !== "function") {
    throw new VirError(
      "OPERATION_INVALID",
      `the master key of secret root '${root}' is wrapped by a key of keystore '${ref}', which this connection was not opened with (see the keystores option)`,
    );
  }
  return km;
}

/** The envelope that opens `file`: the caller's when its key id matches, else the recorded one. */
async function envelopeFor(
  root: string,
  file: WrappedKeyFile,
  explicit: MasterKeyEnvelope | undefined,
  keystores: KeystoreSource | undefined,
): Promise<MasterKeyEnvelope> {
  if (explicit !== undefined && explicit.keyId === file.keyId) return explicit;
  if (file.reference === undefined || keystores === undefined) {
    if (explicit !== undefined) {
      throw new VirError(
        "OPERATION_INVALID",
        `master key of secret root '${root}' is wrapped by keystore key ${file.keyId}, not by ${explicit.keyId}; open it with that key`,
      );
    }
    throw wrappedRootError(root, file.keyId, file.reference);
  }
  const keystore = await resolveKeystore(root, keystores, file.reference);
  return { keystore, context: file.context ?? {}, keyId: file.keyId, reference: file.reference };
}

function isWrongKey(e: unknown): boolean {
  // the key that fits is the pending one, which could not be had: its error says why
  return e instanceof WrongMasterKeyError;
}

/**
 * Open the store of `root` through an envelope when the root is (or is being)
 * wrapped, or when `explicit` is given; undefined when neither applies (the
 * caller opens it plainly, which refuses a wrapped root with a clear error).
 */
export async function openWrappedRoot(
  root: string,
  explicit: MasterKeyEnvelope | undefined,
  keystores: KeystoreSource | undefined,
): Promise<OpenedRoot | undefined> {
  if (explicit !== undefined) checkEnvelope(explicit);
  const current = await readWrappedKeyFile(root);
  let pending: WrappedKeyFile | undefined;
  let pendingError: unknown;
  try {
    pending = await readWrappedKeyFile(root, PENDING_WRAPPED_KEY_FILE);
  } catch (e) {
    pendingError = e; // a torn or foreign pending file matters only if the current key no longer fits
  }

  if (current === undefined && pending === undefined) {
    if (explicit === undefined) return undefined;
    if (pendingError !== undefined) throw pendingError;
    return { store: await createOrOpen(root, explicit), envelope: explicit };
  }
  if (explicit === undefined && (keystores === undefined || (current ?? pending)!.reference === undefined)) {
    return undefined; // the plain open names the key (and keystore) it would need
  }

  // The pending key, if any can be had; failing that, it only matters if the current key no longer fits.
  let pendingEnv: MasterKeyEnvelope | undefined;
  let pendingKey: Uint8Array | undefined;
  if (pending !== undefined) {
    try {
      pendingEnv = await envelopeFor(root, pending, explicit, keystores);
      pendingKey = await unwrapMasterKey(root, pending, pendingEnv);
    } catch (e) {
      pendingError = e;
    }
  }
  let adopted = false;
  const pendingOpt: PendingMasterKey | undefined =
    pendingKey === undefined
      ? undefined
      : {
          key: pendingKey,
          adopt: async () => {
            await adoptPendingWrap(root);
            adopted = true;
          },
        };

  let key: Uint8Array | undefined;
  let currentEnv: MasterKeyEnvelope | undefined;
  let store: SecretStore;
  try {
    if (current !== undefined) {
      currentEnv = await envelopeFor(root, current, explicit, keystores);
      key = await unwrapMasterKey(root, current, currentEnv);
    }
    store = await SecretStore.open({
      root,
      ...(key !== undefined ? { masterKey: { key } } : {}),
      ...(pendingOpt !== undefined ? { pendingMasterKey: pendingOpt } : {}),
    });
  } catch (e) {
    if (pendingError !== undefined && isWrongKey(e)) throw pendingError;
    throw e;
  } finally {
    key?.fill(0);
    pendingKey?.fill(0);
  }

  try {
    if (adopted) return { store, envelope: pendingEnv };
    if (currentEnv !== undefined) {
      // a wrap interrupted after its rename leaves the old plain key: it must not stay
      await removePlainKeyFiles(root);
      return { store, envelope: currentEnv };
    }
    // a first wrap that never landed: the root is still plain
    if (explicit !== undefined) {
      throw new VirError(
        "OPERATION_INVALID",
        `secret root '${root}' already has a plain master key (master.key); it cannot be wrapped by keystore key ${explicit.keyId}`,
      );
    }
    return { store, envelope: undefined };
  } catch (e) {
    await store.close().catch(() => undefined);
    throw e;
  }
}

/** A root without a wrapped key file: wrap a new key on its first open (or refuse a plain root). */
async function createOrOpen(root: string, env: MasterKeyEnvelope): Promise<SecretStore> {
  const { key, created } = await loadEnvelopeMasterKey(root, env);
  try {
    return await SecretStore.open({ root, masterKey: { key } });
  } catch (e) {
    // a wrap just written for a root that then would not open must not stay behind
    if (created) await discardNewWrap(root);
    throw e;
  } finally {
    key.fill(0);
  }
}

/**
 * The store's rekey keeper for a root wrapped (or being wrapped) by `env`.
 * `onCommit` learns whether the new wrapped file reached its place.
 */
export function envelopeKeeper(root: string, env: MasterKeyEnvelope, onCommit: (ok: boolean) => void): MasterKeyKeeper {
  checkEnvelope(env);
  return {
    prepare: (newKey) => writePendingWrap(root, newKey, env),
    abort: () => discardPendingWrap(root),
    commit: async () => {
      try {
        await adoptPendingWrap(root);
      } catch (e) {
        onCommit(false);
        throw e;
      }
      onCommit(true);
    },
  };
}

/** What drv.masterKeyWrapping() shows of an envelope. */
export function describeWrapping(env: MasterKeyEnvelope): MasterKeyWrapping {
  const ctx = env.context;
  const context: RecordedContext = {
    ...(typeof ctx.user === "string" ? { user: ctx.user } : {}),
    ...(typeof ctx.project === "string" ? { project: ctx.project } : {}),
    ...(Array.isArray(ctx.roles) ? { roles: [...ctx.roles] } : {}),
  };
  return { keyId: env.keyId, ...(env.reference !== undefined ? { reference: env.reference } : {}), context };
}
