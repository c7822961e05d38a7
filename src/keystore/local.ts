// The local key manager: castellan's MockKeyManager semantics, made durable.
// Objects live in the virsecret LevelDB root (space "keys"), their bytes
// sealed by the store's AEAD exactly like secret values, their metadata kept
// in castellan's to_dict shape. Every object belongs to one owner (the
// context's project, else its user); another owner's object is looked up
// under a different key prefix, so it is absent by construction, not by a
// check that could be forgotten.
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { SecretStore, type StoreOp } from "../store/db.js";
import {
  type Context,
  type CreateKeyOptions,
  type KeyManager,
  type KeyManagerSupports,
  type ListKeysFilter,
  type ManagedObject,
  type ManagedObjectKind,
  type NewManagedObject,
  KeyManagerError,
  KeyNotFound,
  NotAuthorized,
} from "./key-manager.js";
import { checkCreateOptions, checkStoreArgs, managedObject, requireContext } from "./util.js";

/** The store space holding key-manager objects. */
export const KEYS_SPACE = "keys";

/** What is persisted beside the sealed bytes (castellan ManagedObject.to_dict, minus the value). */
interface KeyRecord {
  readonly kind: ManagedObjectKind;
  readonly name?: string;
  /** POSIX seconds */
  readonly created: number;
  readonly algorithm?: string;
  readonly bitLength?: number;
  readonly owner: string;
  readonly expiration?: number;
}

export interface LocalKeyManagerOptions {
  /** clock in milliseconds (tests move it to expire keys); default Date.now */
  readonly now?: () => number;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const KINDS: readonly ManagedObjectKind[] = ["symmetric", "passphrase", "opaque"];

/** Managers that opened their store themselves and so must close it. */
const owningStore = new WeakSet<LocalKeyManager>();

export class LocalKeyManager implements KeyManager {
  readonly type = "local";
  readonly supports: KeyManagerSupports = { expiration: true, kinds: KINDS };
  readonly #store: SecretStore;
  readonly #now: () => number;
  #closed = false;
  /** per-object queue, so a read-check-write on one object never interleaves with another */
  readonly #busy = new Map<string, Promise<unknown>>();

  constructor(store: SecretStore, opts: LocalKeyManagerOptions = {}) {
    this.#store = store;
    this.#now = opts.now ?? Date.now;
  }

  async createKey(ctx: Context | null | undefined, opts?: CreateKeyOptions): Promise<string> {
    const owner = this.#owner(ctx);
    const o = checkCreateOptions(opts, this.#nowSec());
    const value = new Uint8Array(randomBytes(o.length / 8));
    try {
      return await this.#insert(owner, {
        kind: "symmetric",
        algorithm: o.algorithm,
        bitLength: o.length,
        ...(o.name !== undefined ? { name: o.name } : {}),
        ...(o.expiration !== undefined ? { expiration: o.expiration } : {}),
      }, value);
    } finally {
      value.fill(0);
    }
  }

  async storeKey(ctx: Context | null | undefined, obj: NewManagedObject, opts?: { expiration?: number }): Promise<string> {
    const owner = this.#owner(ctx);
    const expiration = checkStoreArgs(obj, opts, this.supports, this.#nowSec());
    // our own copy: the caller may reuse its buffer as soon as we return
    const value = Uint8Array.from(obj.value);
    const meta: Omit<KeyRecord, "owner" | "created"> = {
      kind: obj.kind,
      ...(obj.kind === "symmetric" ? { algorithm: obj.algorithm!.toUpperCase(), bitLength: value.length * 8 } : {}),
      ...(obj.name !== undefined ? { name: obj.name } : {}),
      ...(expiration !== undefined ? { expiration } : {}),
    };
    try {
      return await this.#insert(owner, meta, value);
    } finally {
      value.fill(0);
    }
  }

  async getKey(ctx: Context | null | undefined, id: string, opts?: { metadataOnly?: boolean }): Promise<ManagedObject> {
    const owner = this.#owner(ctx);
    const key = this.#keyOf(owner, id);
    const found = await this.#read(key, id);
    return toObject(id.toLowerCase(), found.data, opts?.metadataOnly ? undefined : found.secret);
  }

  async deleteKey(ctx: Context | null | undefined, id: string): Promise<void> {
    const owner = this.#owner(ctx);
    const key = this.#keyOf(owner, id);
    await this.#serial(key, async () => {
      (await this.#read(key, id)).secret?.fill(0);
      await storeCall(() => this.#store.batch([{ type: "del", space: KEYS_SPACE, key }]));
    });
  }

  async copyKey(ctx: Context | null | undefined, id: string): Promise<string> {
    const owner = this.#owner(ctx);
    const key = this.#keyOf(owner, id);
    const found = await this.#read(key, id);
    if (!found.secret) throw new KeyManagerError(`key ${id.toLowerCase()} has no stored value`);
    const { owner: _o, created: _c, ...meta } = found.data;
    try {
      return await this.#insert(owner, meta, found.secret);
    } finally {
      found.secret.fill(0);
    }
  }

  async listKeys(ctx: Context | null | undefined, filter?: ListKeysFilter): Promise<ManagedObject[]> {
    const owner = this.#owner(ctx);
    this.#checkOpen();
    const prefix = ownerPrefix(owner);
    const now = this.#nowSec();
    const out: ManagedObject[] = [];
    const expired: StoreOp[] = [];
    await storeCall(async () => {
      // the range is this owner's prefix only: '0' is the character after '/'
      for await (const [key, rec] of this.#store.list<KeyRecord>(KEYS_SPACE, { gte: prefix + "/", lt: prefix + "0" })) {
        const id = key.slice(prefix.length + 1);
        const keep =
          !isExpired(rec.data, now) &&
          (filter?.kind === undefined || rec.data.kind === filter.kind) &&
          (filter?.name === undefined || rec.data.name === filter.name);
        if (isExpired(rec.data, now)) expired.push({ type: "del", space: KEYS_SPACE, key });
        if (keep) out.push(toObject(id, rec.data, filter?.metadataOnly ? undefined : rec.secret));
        else rec.secret?.fill(0);
      }
      if (expired.length > 0) await this.#store.batch(expired);
    });
    return out;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#busy.values()]);
    if (owningStore.has(this)) await this.#store.close();
  }

  /** The owner a context acts for; NotAuthorized before any I/O when there is none. */
  #owner(ctx: Context | null | undefined): string {
    const c = requireContext(ctx);
    // project first, as Barbican scopes secrets to the project; the prefixes keep a
    // project and a user of the same name apart
    if (typeof c.project === "string" && c.project !== "") return `project:${c.project}`;
    if (typeof c.user === "string" && c.user !== "") return `user:${c.user}`;
    throw new NotAuthorized();
  }

  #checkOpen(): void {
    if (this.#closed) throw new KeyManagerError("the local key manager is closed");
  }

  /** Store key for an id; a malformed id names nothing, like any absent id. */
  #keyOf(owner: string, id: string): string {
    this.#checkOpen();
    if (typeof id !== "string") throw new KeyManagerError("key id must be a string");
    if (!UUID_RE.test(id)) throw new KeyNotFound(id);
    return `${ownerPrefix(owner)}/${id.toLowerCase()}`;
  }

  /** The live record at key, or KeyNotFound(id); an expired record is purged on the way. */
  async #read(key: string, id: string): Promise<{ data: KeyRecord; secret?: Uint8Array }> {
    const found = await storeCall(() => this.#store.get<KeyRecord>(KEYS_SPACE, key));
    if (!found) throw new KeyNotFound(id);
    if (isExpired(found.data, this.#nowSec())) {
      found.secret?.fill(0);
      await storeCall(() => this.#store.batch([{ type: "del", space: KEYS_SPACE, key }]));
      throw new KeyNotFound(id);
    }
    return found;
  }

  async #insert(owner: string, meta: Omit<KeyRecord, "owner" | "created">, value: Uint8Array): Promise<string> {
    this.#checkOpen();
    const record: KeyRecord = { ...meta, owner, created: Math.floor(this.#nowSec()) };
    for (;;) {
      const id = randomUUID();
      const key = `${ownerPrefix(owner)}/${id}`;
      // a v4 collision is astronomically unlikely; MockKeyManager still regenerates, so do we
      const stored = await this.#serial(key, async () => {
        if (await storeCall(() => this.#store.get(KEYS_SPACE, key))) return false;
        await storeCall(() => this.#store.batch([{ type: "put", space: KEYS_SPACE, key, data: record, secret: value }]));
        return true;
      });
      if (stored) return id;
    }
  }

  async #serial<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#busy.get(key) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.#busy.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.#busy.get(key) === tail) this.#busy.delete(key);
    }
  }

  #nowSec(): number {
    return this.#now() / 1000;
  }
}

/** Open a root of its own for the local key manager; closing the manager closes the root. */
export async function openLocalKeystore(opts: {
  root: string;
  masterKey?: { file?: string; key?: Uint8Array };
  now?: () => number;
}): Promise<LocalKeyManager> {
  const store = await SecretStore.open({ root: opts.root, ...(opts.masterKey ? { masterKey: opts.masterKey } : {}) });
  const km = new LocalKeyManager(store, opts.now ? { now: opts.now } : {});
  owningStore.add(km);
  return km;
}

function ownerPrefix(owner: string): string {
  // escaped, so no owner name can contain the '/' that ends the prefix; a very
  // long name is replaced by its digest so every store key stays short
  const enc = encodeURIComponent(owner);
  return enc.length <= 256 ? enc : `sha256~${createHash("sha256").update(owner).digest("hex")}`;
}

/** Store failures reach callers as KeyManagerError (the store's text names no key bytes). */
async function storeCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof KeyManagerError) throw e;
    throw new KeyManagerError(`local keystore: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

function isExpired(r: KeyRecord, nowSec: number): boolean {
  return r.expiration !== undefined && r.expiration <= nowSec;
}

function toObject(id: string, r: KeyRecord, value: Uint8Array | undefined): ManagedObject {
  return managedObject({ id, kind: r.kind, algorithm: r.algorithm, bitLength: r.bitLength, name: r.name, created: r.created, expiration: r.expiration, value });
}
