// Durable object store of the KMIP server: one LevelDB record per managed
// object, keyed by owner then identifier, so a lookup made for one owner can
// never see another owner's object (foreign objects are simply absent).
// Key material is sealed with XChaCha20-Poly1305 under a 32-byte key file;
// the record key is the associated data, so a sealed blob copied to another
// owner or identifier does not open.

import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { Level } from "level";
import type { KmipAttributes } from "./attributes.js";

/** What the server keeps about an object; the material is sealed in `sealed`. */
export interface StoredObject {
  readonly uid: string;
  readonly owner: string;
  readonly objectType: number;
  state: number;
  /** creation order, for Locate's newest-first listing with stable paging */
  readonly seq: number;
  attributes: KmipAttributes;
  /** format of the material: Key Format Type, Secret Data Type, Opaque Data Type */
  readonly format: { keyFormatType?: number; secretDataType?: number; opaqueDataType?: number };
}

/**
 * What Locate filters and orders on: a slim copy of an object's metadata,
 * kept in memory per owner so paging through n objects does not read all n
 * records for every page.
 */
export interface LocateEntry {
  readonly uid: string;
  readonly seq: number;
  readonly objectType: number;
  readonly state: number;
  readonly cryptographicAlgorithm?: number;
  readonly cryptographicLength?: number;
  readonly names?: readonly string[];
}

/** One owner's Locate entries: by uid, and sorted newest first on demand. */
interface OwnerIndex {
  readonly byUid: Map<string, LocateEntry>;
  /** newest first; dropped on every change and rebuilt by the next Locate */
  newestFirst?: LocateEntry[];
}

const locateEntry = (o: StoredObject): LocateEntry => ({
  uid: o.uid,
  seq: o.seq,
  objectType: o.objectType,
  state: o.state,
  cryptographicAlgorithm: o.attributes.cryptographicAlgorithm,
  cryptographicLength: o.attributes.cryptographicLength,
  names: o.attributes.names ? [...o.attributes.names] : undefined,
});

interface Record_ extends StoredObject {
  /** base64(nonce ‖ ciphertext) */
  readonly sealed: string;
}

export class KmipStoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "KmipStoreError";
  }
}

/** Read the 32-byte seal key (raw, or 64 hex digits); create it (mode 0600) if absent. */
export async function loadSealKey(path: string): Promise<Uint8Array> {
  let raw: Buffer;
  try {
    raw = await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw new KmipStoreError(`cannot read the seal key file '${path}'`, { cause: e });
    const key = randomBytes(32);
    try {
      await writeFile(path, key, { mode: 0o600, flag: "wx" });
      return new Uint8Array(key);
    } catch (w) {
      // another process made it first: use theirs
      if ((w as NodeJS.ErrnoException).code === "EEXIST") return loadSealKey(path);
      throw new KmipStoreError(`cannot create the seal key file '${path}'`, { cause: w });
    }
  }
  if (raw.length === 32) return new Uint8Array(raw);
  const text = raw.toString("latin1").trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return new Uint8Array(Buffer.from(text, "hex"));
  throw new KmipStoreError(`seal key file '${path}' must hold 32 bytes (raw or 64 hex digits), it holds ${raw.length} bytes`);
}

const hexOf = (s: string): string => Buffer.from(s, "utf8").toString("hex");

export class KmipObjectStore {
  private seq = 0;
  /**
   * Owners whose Locate index is loaded or loading. The process holds the
   * LevelDB lock, so every write goes through this object and can keep it
   * current.
   */
  private readonly indexes = new Map<string, Promise<OwnerIndex>>();

  private constructor(
    private readonly db: Level<string, Record_>,
    private readonly sealKey: Uint8Array,
  ) {}

  static async open(dir: string, sealKey: Uint8Array): Promise<KmipObjectStore> {
    if (sealKey.length !== 32) throw new KmipStoreError("the seal key must be 32 bytes");
    const db = new Level<string, Record_>(dir, { valueEncoding: "json" });
    try {
      await db.open();
    } catch (e) {
      throw new KmipStoreError(`cannot open the KMIP object database in '${dir}': ${(e as Error).message}`, { cause: e });
    }
    return new KmipObjectStore(db, sealKey);
  }

  private key(owner: string, uid: string): string {
    return `o:${hexOf(owner)}:${uid}`;
  }

  /** A creation sequence number that grows across restarts (time-based) and within a millisecond. */
  nextSeq(): number {
    this.seq = Math.max(this.seq + 1, Date.now() * 1000);
    return this.seq;
  }

  async put(obj: StoredObject, material: Uint8Array): Promise<void> {
    const k = this.key(obj.owner, obj.uid);
    const nonce = randomBytes(24);
    const ct = xchacha20poly1305(this.sealKey, nonce, Buffer.from(k)).encrypt(material);
    const sealed = Buffer.concat([nonce, ct]).toString("base64");
    await this.db.put(k, { ...obj, sealed });
    await this.indexChanged(obj.owner, (ix) => ix.byUid.set(obj.uid, locateEntry(obj)));
  }

  /** Update metadata only (state, dates); the sealed material is kept. */
  async update(obj: StoredObject): Promise<void> {
    const k = this.key(obj.owner, obj.uid);
    const cur = await this.db.get(k);
    if (!cur) throw new KmipStoreError(`object ${obj.uid} vanished during an update`);
    await this.db.put(k, { ...obj, sealed: cur.sealed });
    await this.indexChanged(obj.owner, (ix) => ix.byUid.set(obj.uid, locateEntry(obj)));
  }

  /** The object if `owner` owns it; undefined for absent and foreign alike. */
  async get(owner: string, uid: string): Promise<StoredObject | undefined> {
    const r = await this.db.get(this.key(owner, uid));
    if (!r) return undefined;
    const { sealed: _sealed, ...meta } = r;
    return meta;
  }

  async material(owner: string, uid: string): Promise<Uint8Array | undefined> {
    const k = this.key(owner, uid);
    const r = await this.db.get(k);
    if (!r) return undefined;
    const blob = Buffer.from(r.sealed, "base64");
    try {
      return xchacha20poly1305(this.sealKey, blob.subarray(0, 24), Buffer.from(k)).decrypt(blob.subarray(24));
    } catch (e) {
      throw new KmipStoreError(`sealed material of object ${uid} does not open (wrong seal key or tampered record)`, { cause: e });
    }
  }

  async delete(owner: string, uid: string): Promise<void> {
    await this.db.del(this.key(owner, uid));
    await this.indexChanged(owner, (ix) => ix.byUid.delete(uid));
  }

  /**
   * Apply a write to the owner's index if one is loaded or loading. Called
   * after the database write: a load that starts later reads it from the
   * database, one already scanning may have missed it, so we wait for the
   * scan and apply it again (every change is idempotent by uid).
   */
  private async indexChanged(owner: string, change: (ix: OwnerIndex) => void): Promise<void> {
    const pending = this.indexes.get(owner);
    if (!pending) return;
    let ix: OwnerIndex;
    try {
      ix = await pending;
    } catch {
      return; // the failed load was dropped; the next Locate loads afresh
    }
    change(ix);
    ix.newestFirst = undefined;
  }

  private ownerIndex(owner: string): Promise<OwnerIndex> {
    let pending = this.indexes.get(owner);
    if (!pending) {
      pending = (async () => {
        const byUid = new Map<string, LocateEntry>();
        for (const o of await this.list(owner)) byUid.set(o.uid, locateEntry(o));
        return { byUid };
      })();
      this.indexes.set(owner, pending);
      pending.catch(() => {
        if (this.indexes.get(owner) === pending) this.indexes.delete(owner);
      });
    }
    return pending;
  }

  /**
   * The owner's objects for Locate, newest first (creation order, so pages
   * are stable). The first call per owner reads the owner's records once;
   * later ones read nothing.
   */
  async locateEntries(owner: string): Promise<readonly LocateEntry[]> {
    const ix = await this.ownerIndex(owner);
    ix.newestFirst ??= [...ix.byUid.values()].sort((a, b) => b.seq - a.seq);
    return ix.newestFirst;
  }

  /** Every object of `owner`. */
  async list(owner: string): Promise<StoredObject[]> {
    const prefix = `o:${hexOf(owner)}:`;
    const out: StoredObject[] = [];
    for await (const [, r] of this.db.iterator({ gte: prefix, lt: prefix + "\xff" })) {
      const { sealed: _sealed, ...meta } = r;
      out.push(meta);
    }
    return out;
  }

  async close(): Promise<void> {
    this.indexes.clear();
    await this.db.close();
  }
}
