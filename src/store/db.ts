// The durable record store shared by the secret driver, the volume driver and
// the local keystore: one LevelDB per root, records grouped in "spaces", each
// record's `secret` sealed under the root's master key before it is written.
//
//   ROOT/          0700
//   ROOT/db/       LevelDB (its LOCK keeps a second process out)
//   ROOT/lock      pid of the holder, so a refusal can name it
//   ROOT/master.key  generated 0600 key, unless the key comes from elsewhere
//   ROOT/master.key.wrapped  instead, a key wrapped by a keystore key (envelope.ts)
//
// Every write is one LevelDB batch with sync: true, so a logical change is
// all-or-nothing and on disk when batch() resolves.
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { Level } from "level";
import { VirError } from "../errors.js";
import { SerialQueue } from "../serial-queue.js";
import { errnoText, fsyncDir, removeStaleTempFiles } from "./atomic-file.js";
import { PENDING_WRAPPED_KEY_FILE, WRAPPED_KEY_FILE, discardPendingWrap, readWrappedKeyFile } from "./envelope.js";
import { KeyRing, MasterKeyHandle } from "./keyring.js";
import { LOCK_FILE, claimLockFile, lockBusyError, releaseLockFile } from "./lock.js";
import {
  ROOT_KEY_FILE,
  generateMasterKey,
  loadMasterKey,
  readKeyFile,
  writeKeyFile,
  type LoadedMasterKey,
  type MasterKeyOptions,
  type MasterKeySource,
} from "./masterkey.js";
import { checkKey, checkSpace, decodeRecord, encodeRecord, rawKey, spaceRange, splitRawKey } from "./record.js";
import { MASTER_KEY_LENGTH, unseal } from "./seal.js";

export type { MasterKeyOptions, MasterKeySource } from "./masterkey.js";

export type Space = string;

export interface StoredRecord<T> {
  data: T;
  /** Plaintext after unsealing; a fresh buffer the caller owns (and should zero when done). */
  secret?: Uint8Array;
  /** Set (true) only by list({ secrets: false }) when the record has a sealed secret left unopened. */
  sealed?: boolean;
}

export type StoreOp =
  | { type: "put"; space: Space; key: string; data: unknown; secret?: Uint8Array }
  | { type: "del"; space: Space; key: string };

export interface StoreOptions {
  root: string;
  masterKey?: MasterKeyOptions;
  /**
   * A key an interrupted rekey may have left (an envelope's pending wrapped
   * key): tried when the master key no longer opens the key-check record, and
   * adopted (adopt() makes its record the key's home) if it does.
   */
  pendingMasterKey?: PendingMasterKey;
}

/** See StoreOptions.pendingMasterKey. */
export interface PendingMasterKey {
  /** 32 bytes; the store keeps its own copy */
  readonly key: Uint8Array;
  adopt(): Promise<void>;
}

/**
 * Where a rekey keeps the new key when it is not the store's key file (an
 * envelope): prepare() records it durably as pending before the re-seal
 * batch, commit() makes that record the key's home after it, abort() drops it
 * when the batch did not land. commit() may throw: the values are then under
 * the new key and the next open (given the pending key) finishes the move.
 */
export interface MasterKeyKeeper {
  prepare(newKey: Uint8Array): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

export interface ListOptions {
  gt?: string;
  gte?: string;
  lt?: string;
  limit?: number;
  /**
   * false: do not unseal; records come back without `secret` and with
   * `sealed: true` where one exists. Unsealing is most of a listing's cost,
   * so index rebuilds at startup should pass false. Default true.
   */
  secrets?: boolean;
}

// A sealed known constant: opening it proves the master key is the store's.
const KEY_CHECK_SPACE = "meta";
const KEY_CHECK_KEY = "master-key-check";
const KEY_CHECK_PLAINTEXT = new TextEncoder().encode("virsecret master key check v1");
// Beside a key file during a rekey: the new key, written before the rekey batch
// and renamed over the key file after it, so a crash in between is recoverable.
const PENDING_KEY_SUFFIX = ".rekey";

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

function levelMessage(e: unknown): string {
  const err = e as { message?: string; cause?: { message?: string } } | undefined;
  return err?.cause?.message ?? err?.message ?? String(e);
}

function isLockError(e: unknown): boolean {
  const err = e as { code?: string; cause?: { code?: string } } | undefined;
  return err?.code === "LEVEL_LOCKED" || err?.cause?.code === "LEVEL_LOCKED";
}

function describeSource(source: MasterKeySource, file?: string): string {
  switch (source) {
    case "option":
      return "the key given in the options";
    case "credential":
      return `systemd credential '${file}'`;
    default:
      return `key file '${file}'`;
  }
}

function isEnoent(e: unknown): boolean {
  return (e as NodeJS.ErrnoException).code === "ENOENT";
}

/**
 * Does `key` open the key-check record? `false` for a wrong key; a VirError
 * if the record itself is unreadable (that is corruption, not a wrong key).
 */
function keyOpensCheck(key: Uint8Array, checkText: string): boolean {
  const where = rawKey(KEY_CHECK_SPACE, KEY_CHECK_KEY);
  const rec = decodeRecord(where, checkText);
  if (rec.sealed === undefined) {
    throw new VirError("INTERNAL_ERROR", `corrupt record '${where}' in secret store: key-check record is not sealed`);
  }
  let plain: Uint8Array;
  try {
    plain = unseal(key, where, rec.sealed);
  } catch {
    return false;
  }
  return sameBytes(plain, KEY_CHECK_PLAINTEXT);
}

/**
 * The master key given does not open the store's key-check record: either
 * plainly the wrong key ("wrong-key", OPERATION_FAILED), or the key moved into
 * an interrupted wrap's pending file ("wrap-interrupted", OPERATION_INVALID).
 * A class of its own so a caller holding a better explanation (wrapped-root.ts)
 * recognises it by type, not by its text.
 */
export class WrongMasterKeyError extends VirError {
  readonly reason: "wrong-key" | "wrap-interrupted";
  constructor(codeName: "OPERATION_FAILED" | "OPERATION_INVALID", detail: string, reason: "wrong-key" | "wrap-interrupted") {
    super(codeName, detail);
    this.reason = reason;
  }
}

/**
 * Pick the master key and prove it against the key-check record. If the key
 * file does not fit but a pending ".rekey" file does, a rekey was interrupted
 * after its batch landed: finish it by moving the new key into place.
 */
async function resolveMasterKey(
  root: string,
  opts: MasterKeyOptions | undefined,
  checkText: string | undefined,
  pendingKey: PendingMasterKey | undefined,
): Promise<LoadedMasterKey> {
  const loaded = await loadMasterKey(opts, root, { generate: checkText === undefined });
  const pending = loaded.path !== undefined && loaded.source !== "credential" ? loaded.path + PENDING_KEY_SUFFIX : undefined;
  if (checkText === undefined || keyOpensCheck(loaded.key, checkText)) {
    // A pending key beside a key that still fits: that rekey never landed.
    if (pending !== undefined) await fs.unlink(pending).catch(() => undefined);
    await discardPendingWrap(root);
    return loaded;
  }
  if (pendingKey !== undefined && keyOpensCheck(pendingKey.key, checkText)) {
    // an envelope wrap or rekey whose batch landed before the crash: finish it
    await pendingKey.adopt();
    loaded.key.fill(0);
    return { key: pendingKey.key.slice(), source: "option" };
  }
  if (pending !== undefined) {
    let next: Uint8Array | undefined;
    try {
      next = await readKeyFile(pending, { privateOnly: true });
    } catch (e) {
      if (!(e instanceof VirError && e.cause !== undefined && isEnoent(e.cause))) {
        loaded.key.fill(0);
        throw e;
      }
    }
    if (next !== undefined && keyOpensCheck(next, checkText)) {
      await fs.rename(pending, loaded.path!);
      await fsyncDir(path.dirname(loaded.path!));
      loaded.key.fill(0);
      return { key: next, source: loaded.source, path: loaded.path };
    }
    next?.fill(0);
  }
  loaded.key.fill(0);
  const wrapping = pendingKey === undefined ? await readWrappedKeyFile(root, PENDING_WRAPPED_KEY_FILE).catch(() => undefined) : undefined;
  if (wrapping !== undefined) {
    // the key probably moved into the pending wrapped file: say where it is
    const where = wrapping.reference !== undefined ? ` (keystore '${wrapping.reference}')` : "";
    throw new WrongMasterKeyError(
      "OPERATION_INVALID",
      `master key of secret root '${root}' was being wrapped by keystore key ${wrapping.keyId}${where} when it was interrupted; open it with that keystore to finish`,
      "wrap-interrupted",
    );
  }
  throw new WrongMasterKeyError(
    "OPERATION_FAILED",
    `wrong master key for secret store '${root}': ${describeSource(loaded.source, loaded.path)} does not open its key-check record`,
    "wrong-key",
  );
}

export class SecretStore {
  readonly root: string;
  private readonly db: Level<string, string>;
  private ring: KeyRing;
  private source: MasterKeySource;
  private keyFile: string | undefined;
  private state: "open" | "closing" | "closed" = "open";
  private closing: Promise<void> | undefined;
  // Writes (batch, rekey) run one after another: rekey must see every record
  // sealed under the key it is replacing. A failed write does not stop later ones.
  private readonly writes = new SerialQueue();

  private constructor(root: string, db: Level<string, string>, loaded: LoadedMasterKey) {
    this.root = root;
    this.db = db;
    this.ring = new KeyRing([new MasterKeyHandle(loaded.key)]);
    this.source = loaded.source;
    this.keyFile = loaded.path;
  }

  static async open(opts: StoreOptions): Promise<SecretStore> {
    if (typeof opts?.root !== "string" || opts.root === "") {
      throw new VirError("INVALID_ARG", "secret store root must be a non-empty path");
    }
    const root = path.resolve(opts.root);
    try {
      await fs.mkdir(root, { recursive: true, mode: 0o700 });
      if (!(await fs.stat(root)).isDirectory()) throw Object.assign(new Error("not a directory"), { code: "ENOTDIR" });
    } catch (e) {
      throw new VirError("SYSTEM_ERROR", `cannot create secret root '${root}': ${errnoText(e)}`, "SECRET", { cause: e });
    }

    const db = new Level<string, string>(path.join(root, "db"), { keyEncoding: "utf8", valueEncoding: "utf8" });
    try {
      await db.open();
    } catch (e) {
      // LevelDB refused before touching anything: nothing of the holder's is harmed.
      if (isLockError(e)) throw await lockBusyError(root, e);
      throw new VirError("OPERATION_FAILED", `cannot open secret store '${root}': ${levelMessage(e)}`, "SECRET", { cause: e });
    }

    let loaded: LoadedMasterKey | undefined;
    try {
      await claimLockFile(root);
      const checkText = await db.get(rawKey(KEY_CHECK_SPACE, KEY_CHECK_KEY));
      loaded = await resolveMasterKey(root, opts.masterKey, checkText, opts.pendingMasterKey);
      // a writer killed between its temporary and the rename left a copy (of a key, maybe) behind
      const written = [ROOT_KEY_FILE, ROOT_KEY_FILE + PENDING_KEY_SUFFIX, WRAPPED_KEY_FILE, PENDING_WRAPPED_KEY_FILE, LOCK_FILE].map((n) => path.join(root, n));
      if (loaded.path !== undefined && loaded.source !== "credential") written.push(loaded.path, loaded.path + PENDING_KEY_SUFFIX);
      await removeStaleTempFiles(written).catch(() => undefined);
      const store = new SecretStore(root, db, loaded);
      if (checkText === undefined) {
        await store.writeRaw([store.keyCheckOp(store.ring)]);
      }
      return store;
    } catch (e) {
      loaded?.key.fill(0);
      await db.close().catch(() => undefined);
      await releaseLockFile(root);
      if (e instanceof VirError) throw e;
      throw new VirError("OPERATION_FAILED", `cannot open secret store '${root}': ${levelMessage(e)}`, "SECRET", { cause: e });
    }
  }

  /** Where the master key came from (never the key). */
  get masterKeySource(): { source: MasterKeySource; path?: string } {
    return this.keyFile === undefined ? { source: this.source } : { source: this.source, path: this.keyFile };
  }

  private checkOpen(): void {
    if (this.state !== "open") throw new VirError("OPERATION_INVALID", `secret store '${this.root}' is closed`);
  }

  private exclusive<R>(fn: () => Promise<R>): Promise<R> {
    return this.writes.run(fn);
  }

  private keyCheckOp(ring: KeyRing): { type: "put"; key: string; value: string } {
    const where = rawKey(KEY_CHECK_SPACE, KEY_CHECK_KEY);
    return { type: "put", key: where, value: encodeRecord(where, { purpose: KEY_CHECK_KEY }, ring.seal(where, KEY_CHECK_PLAINTEXT)) };
  }

  private async writeRaw(ops: Array<{ type: "put"; key: string; value: string } | { type: "del"; key: string }>): Promise<void> {
    try {
      await this.db.batch(ops, { sync: true });
    } catch (e) {
      throw new VirError("OPERATION_FAILED", `cannot write to secret store '${this.root}': ${levelMessage(e)}`, "SECRET", { cause: e });
    }
  }

  /** Apply all ops as ONE atomic LevelDB batch, synced to disk before this resolves. */
  async batch(ops: StoreOp[]): Promise<void> {
    this.checkOpen();
    if (!Array.isArray(ops)) throw new VirError("INVALID_ARG", "store batch: expected an array of operations");
    for (const op of ops) {
      if (typeof op !== "object" || op === null || (op.type !== "put" && op.type !== "del")) {
        throw new VirError("INVALID_ARG", "store batch: each operation must be {type: 'put'|'del', space, key}");
      }
      checkSpace(op.space);
      checkKey(op.space, op.key);
      if (op.space === KEY_CHECK_SPACE && op.key === KEY_CHECK_KEY) {
        throw new VirError("INVALID_ARG", `store record '${KEY_CHECK_SPACE}/${KEY_CHECK_KEY}' is reserved for the store itself`);
      }
      if (op.type === "put" && op.secret !== undefined && !(op.secret instanceof Uint8Array)) {
        throw new VirError("INVALID_ARG", `store record '${rawKey(op.space, op.key)}': secret must be a Uint8Array`);
      }
    }
    if (ops.length === 0) return;
    return this.exclusive(async () => {
      const ring = this.ring;
      const raw = ops.map((op) => {
        const where = rawKey(op.space, op.key);
        if (op.type === "del") return { type: "del" as const, key: where };
        const sealed = op.secret === undefined ? undefined : ring.seal(where, op.secret);
        return { type: "put" as const, key: where, value: encodeRecord(where, op.data, sealed) };
      });
      await this.writeRaw(raw);
    });
  }

  async get<T>(space: Space, key: string): Promise<StoredRecord<T> | undefined> {
    this.checkOpen();
    checkSpace(space);
    checkKey(space, key);
    if (space === KEY_CHECK_SPACE && key === KEY_CHECK_KEY) return undefined; // the store's own, invisible
    const where = rawKey(space, key);
    for (let attempt = 0; ; attempt++) {
      // The ring is taken with the read, so a rekey landing meanwhile cannot
      // leave us holding new-key data and only the old key (or the reverse).
      const ring = this.ring;
      ring.retain();
      try {
        let text: string | undefined;
        try {
          text = await this.db.get(where);
        } catch (e) {
          this.checkOpen();
          throw new VirError("OPERATION_FAILED", `cannot read secret store '${this.root}': ${levelMessage(e)}`, "SECRET", { cause: e });
        }
        if (text === undefined) return undefined;
        const rec = decodeRecord(where, text);
        if (rec.sealed === undefined) return { data: rec.data as T };
        return { data: rec.data as T, secret: ring.unseal(where, rec.sealed) };
      } catch (e) {
        if (attempt === 0 && this.ring !== ring && this.state === "open") continue;
        throw e;
      } finally {
        ring.release();
      }
    }
  }

  list<T>(space: Space, opts: ListOptions = {}): AsyncIterable<[string, StoredRecord<T>]> {
    this.checkOpen();
    checkSpace(space);
    const range = spaceRange(space, opts);
    const limit = opts.limit;
    if (limit !== undefined && !(Number.isInteger(limit) && limit >= 0) && limit !== Infinity) {
      throw new VirError("INVALID_ARG", `store list: limit must be a non-negative integer, got ${String(limit)}`);
    }
    const unsealValues = opts.secrets !== false;
    return this.iterate<T>(space, range, limit === undefined || limit === Infinity ? -1 : limit, unsealValues);
  }

  private async *iterate<T>(
    space: string,
    range: { gt?: string; gte?: string; lt: string },
    limit: number,
    unsealValues: boolean,
  ): AsyncGenerator<[string, StoredRecord<T>]> {
    this.checkOpen();
    if (limit === 0) return;
    const prefix = space.length + 1;
    // The store's own key-check record is invisible to callers; in its space
    // the limit is counted here, since LevelDB's would count that record too.
    const hidden = space === KEY_CHECK_SPACE ? rawKey(KEY_CHECK_SPACE, KEY_CHECK_KEY) : undefined;
    let left = limit;
    // The iterator reads a snapshot taken now; the ring taken now can open it.
    const ring = this.ring;
    ring.retain();
    const it = this.db.iterator({ ...range, limit: hidden === undefined ? limit : -1 });
    try {
      while (true) {
        let entry: [string, string] | undefined;
        try {
          entry = await it.next();
        } catch (e) {
          this.checkOpen();
          throw new VirError("OPERATION_FAILED", `cannot read secret store '${this.root}': ${levelMessage(e)}`, "SECRET", { cause: e });
        }
        if (entry === undefined) return;
        const [where, text] = entry;
        if (where === hidden) continue;
        const rec = decodeRecord(where, text);
        const out: StoredRecord<T> = { data: rec.data as T };
        if (rec.sealed !== undefined) {
          if (unsealValues) out.secret = ring.unseal(where, rec.sealed);
          else out.sealed = true;
        }
        yield [where.slice(prefix), out];
        if (hidden !== undefined && --left === 0) return;
      }
    } finally {
      ring.release();
      await it.close().catch(() => undefined);
    }
  }

  /**
   * Re-seal every sealed field of every space under a new master key, in one
   * batch that also carries the new key-check record. With no `newKey` one is
   * generated; that needs a key file to keep it in. A key from a file is then
   * replaced in that file (0600, atomic). With a `keeper`, the keeper keeps the
   * new key instead and the store's key file (if any) is no longer its home.
   */
  async rekey(newKey?: Uint8Array, keeper?: MasterKeyKeeper): Promise<void> {
    this.checkOpen();
    if (newKey !== undefined && (!(newKey instanceof Uint8Array) || newKey.length !== MASTER_KEY_LENGTH)) {
      const len = newKey instanceof Uint8Array ? newKey.length : 0;
      throw new VirError("INVALID_ARG", `master key must be ${MASTER_KEY_LENGTH} bytes, got ${len}`);
    }
    const writable = keeper === undefined && this.keyFile !== undefined && this.source !== "credential";
    if (newKey === undefined && !writable && keeper === undefined) {
      // A generated key kept nowhere would lock the store for good.
      throw new VirError(
        "OPERATION_INVALID",
        `cannot rekey secret store '${this.root}' with a generated key: ${describeSource(this.source, this.keyFile)} ` +
          `cannot be rewritten by the store; pass the new key explicitly`,
      );
    }
    return this.exclusive(async () => {
      const oldRing = this.ring;
      const next = new MasterKeyHandle(newKey !== undefined ? newKey.slice() : generateMasterKey());
      // Readers starting from now may see either generation of a record.
      const transitional = new KeyRing([next, ...oldRing.keys]);
      const target = new KeyRing([next]);
      const pending = writable ? this.keyFile! + PENDING_KEY_SUFFIX : undefined;
      this.ring = transitional;
      try {
        const ops: Array<{ type: "put"; key: string; value: string }> = [];
        const it = this.db.iterator();
        try {
          for await (const [where, text] of it) {
            if (splitRawKey(where) === undefined) continue;
            const rec = decodeRecord(where, text);
            if (rec.sealed === undefined) continue;
            const plain = oldRing.unseal(where, rec.sealed);
            ops.push({ type: "put", key: where, value: encodeRecord(where, rec.data, target.seal(where, plain)) });
            plain.fill(0);
          }
        } finally {
          await it.close().catch(() => undefined);
        }
        // A store that somehow lost its key-check record gets a fresh one.
        if (!ops.some((op) => op.key === rawKey(KEY_CHECK_SPACE, KEY_CHECK_KEY))) ops.push(this.keyCheckOp(target));
        if (pending !== undefined) await writeKeyFile(pending, next.bytes);
        if (keeper !== undefined) await keeper.prepare(next.bytes);
        await this.writeRaw(ops);
      } catch (e) {
        this.ring = oldRing;
        next.destroy();
        if (pending !== undefined) await fs.unlink(pending).catch(() => undefined);
        if (keeper !== undefined) await keeper.abort().catch(() => undefined);
        throw e;
      }
      this.ring = target;
      for (const k of oldRing.keys) k.retire();
      if (keeper !== undefined) {
        // from now on the keeper's record is the key's home, whatever commit() says
        this.source = "option";
        this.keyFile = undefined;
        await keeper.commit();
      }
      if (pending !== undefined) {
        try {
          await fs.rename(pending, this.keyFile!);
          await fsyncDir(path.dirname(this.keyFile!));
        } catch (e) {
          // The values are already under the new key; the next open finishes this rename.
          throw new VirError(
            "SYSTEM_ERROR",
            `rekey of '${this.root}' done, but cannot move '${pending}' over '${this.keyFile}': ${errnoText(e)}`,
            "SECRET",
            { cause: e },
          );
        }
      }
      // Best effort: rewrite the tables so old-key ciphertext leaves the files.
      // (compactRange is classic-level's; the `level` typings do not show it.)
      const compactable = this.db as unknown as { compactRange?: (start: string, end: string) => Promise<void> };
      await compactable.compactRange?.call(this.db, "", "~").catch(() => undefined);
    });
  }

  /** Wait for queued writes, close LevelDB, drop the lock file, zero the key. */
  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    this.state = "closing";
    this.closing = (async () => {
      await this.writes.run(async () => undefined); // everything queued before has settled
      try {
        await this.db.close();
      } finally {
        this.state = "closed";
        await releaseLockFile(this.root);
        for (const k of this.ring.keys) k.destroy();
      }
    })();
    return this.closing;
  }
}
