// The secret driver (libvirt's secret_driver.c policy over virsecretobj.c's
// list): define/redefine rules, lookups, listing, values, undefine, events,
// the access hook and the elevated handle, persisted in one SecretStore.
//
// Deliberate differences from libvirt 9.0 (spec §8), each a fix of a bug:
//  Q2  A redefine that changes only the usage TYPE (same id) is refused when
//      another secret already holds the new (type, id) pair, with libvirt's own
//      message naming the holder: "a secret with UUID <holder> already defined
//      for use with <id>" (INTERNAL_ERROR). libvirt compares only the id and so
//      can end up with two secrets on one (type, id), one of which is silently
//      dropped at the next start.
//  Q1  Redefining a persistent secret as ephemeral deletes its definition, its
//      usage-index entry and its value from the store in the same batch; the
//      value stays in memory. libvirt leaves <uuid>.xml on disk and the secret
//      comes back after a restart.
//  Q3  An empty value is refused: VirError INVALID_ARG "secret value must not be
//      empty" (from setValue, and from defineWithValue). libvirt accepts it,
//      then reports "does not have a value" and keeps the old value on disk.
//  Q6  Garbage base64 is refused wherever text is decoded (import, definition
//      directories, the CLI): see decodeBase64Strict in base64.ts.
//  Q4/Q5 (embedded mode): ephemeral define and undefine simply work, and the
//      elevated handle (drv.elevated()) reads private values instead of
//      "No current identity".
// Other choices:
//  - Each logical change is ONE store batch (definition record with its sealed
//    value, usage-index entry) written before the in-memory list changes, so a
//    failed write leaves memory exactly as it was (libvirt restores its backup).
//  - A private secret is read only through drv.elevated().getValue(uuid).
//    Elevated reads skip the read-only and private checks, not the access hook.
//  - listSecrets/listAll return secrets sorted by uuid (libvirt's order is hash order).
//  - Persisted values stay sealed in the store until first read (open is fast,
//    and plaintext is in memory only for values actually used); a tampered
//    value surfaces as the store's unseal error on that read.
//  - A secret may be bound to a keystore key (bindKey, see binding.ts): its
//    value is then fetched from the keystore on every read and never stored;
//    setValue on it is refused. The root's master key may itself be wrapped
//    by a keystore key (masterKeyEnvelope, or the keystore recorded in
//    master.key.wrapped resolved through `keystores`; wrapMasterKey converts a
//    plain root): see wrapped-root.ts and store/envelope.ts.
import { SecretStore, type StoreOp } from "../store/db.js";
import type { MasterKeyEnvelope } from "../store/envelope.js";
import { describeWrapping, envelopeKeeper, openWrappedRoot, type MasterKeyWrapping } from "./wrapped-root.js";
import { KeyBindings, checkBindingRequest, type KeyBinding, type KeyBindingRequest, type KeystoreSource } from "./binding.js";
import { createHash } from "node:crypto";
import { invalidArg, VirError, checkFlags } from "../errors.js";
import { SerialQueue } from "../serial-queue.js";
import { canonicalUUID } from "../uuid.js";
import { formatSecretXML, parseSecretXML } from "../xml/secret.js";
import { validateSecretXML } from "../xml/validate.js";
import { AccessControl } from "./access.js";
import {
  DefineFlags,
  ListAllFlags,
  SecretEventID,
  SecretLifecycleEvent,
  type ElevatedSecretStoreAccess,
  type LifecycleEvent,
  type OpenSecretDriverOptions,
  type SecretDriverApi,
  type SecretEventIDNumber,
  type SecretHandle,
  type SecretRef,
} from "./api.js";
import { SecretUsageType, USAGE_ID_ELEMENT, type SecretDef, type SecretUsageTypeName } from "./def.js";
import { SecretEventBus } from "./events.js";
import { SecretList, defUsageKey, type SecretObj } from "./list.js";
import { defaultSecretURI, parseSecretURI } from "./uri.js";

/** Store space holding one record per persistent secret: data = PersistedSecret, secret = value. */
export const SECRET_SPACE = "secret";
/** Store space mapping sha256(type/id) to the owning uuid (decides ownership on load). */
export const SECRET_USAGE_SPACE = "secret-usage";

interface PersistedSecret {
  readonly v: 1;
  readonly uuid: string;
  readonly isPrivate: boolean;
  readonly description?: string;
  readonly usageType: SecretUsageTypeName;
  readonly usageId?: string;
}

interface PersistedUsage {
  readonly uuid: string;
  readonly usageType: SecretUsageTypeName;
  readonly usageId: string;
}

export interface SecretDriverOptions extends OpenSecretDriverOptions {
  /** the 32-byte master key itself (tests, embedding); wins over masterKeyFile */
  readonly masterKey?: Uint8Array;
  /**
   * The master key is kept wrapped by this keystore key in ROOT/master.key.wrapped
   * (generated and wrapped on the root's first open). Excludes masterKey and masterKeyFile.
   * Not needed for a root whose wrapped key file records its keystore reference
   * when `keystores` resolves that reference.
   */
  readonly masterKeyEnvelope?: MasterKeyEnvelope;
  /**
   * where key-bound secrets find their keystores (binding.ts), and a wrapped
   * root the keystore of its master key; the driver never closes them
   */
  readonly keystores?: KeystoreSource;
}

/** What openSecretDriver returns: the libvirt API plus virsecret's extension points. */
export interface SecretDriver extends SecretDriverApi {
  readonly uri: string;
  readonly readOnly: boolean;
  /** the store, for other rooms (volumes) that write in the same batches */
  readonly store: SecretStore;
  elevated(): ElevatedSecretStoreAccess;
  /**
   * Re-seal every stored value under a new master key (generated when absent).
   * On a wrapped root the new key is wrapped by the same keystore key.
   */
  rekey(newKey?: Uint8Array): Promise<void>;
  /**
   * Re-seal every stored value under a NEW master key kept only wrapped by the
   * envelope's keystore key (master.key.wrapped, recording `reference` and the
   * context's user/project/roles), and remove the root's plain master.key.
   * On a wrapped root this moves the wrap to another keystore key. The KEK must
   * live outside this root (a local keystore inside it could never be opened).
   */
  wrapMasterKey(envelope: MasterKeyEnvelope): Promise<void>;
  /** How the master key is wrapped, or undefined for a plain key (never key bytes). */
  masterKeyWrapping(): MasterKeyWrapping | undefined;
  /**
   * Bind a secret's value to a keystore key (the key must be readable now).
   * Replaces any value the secret had; persisted unless the secret is ephemeral.
   */
  bindKey(uuid: string, binding: KeyBindingRequest): Promise<void>;
  /** Remove a secret's binding; the secret then has no value. */
  unbindKey(uuid: string): Promise<void>;
  /** The secret's binding, or undefined when its value is its own. */
  keyBinding(uuid: string): KeyBinding | undefined;
}

const FN = {
  define: "virSecretDefineXML",
  setValue: "virSecretSetValue",
  getValue: "virSecretGetValue",
  undefine: "virSecretUndefine",
  listSecrets: "virConnectListSecrets",
  lookupByUsage: "virSecretLookupByUsage",
  lookupByUUID: "virSecretLookupByUUIDString",
  register: "virConnectSecretEventRegisterAny",
} as const;

const USAGE_BY_NUMBER = new Map<number, SecretUsageTypeName>(
  Object.entries(SecretUsageType).map(([name, n]) => [n, name as SecretUsageTypeName]),
);

/** An own key of SecretUsageType: `in` would also take "toString", "constructor", … */
function isUsageTypeName(type: unknown): type is SecretUsageTypeName {
  return typeof type === "string" && Object.hasOwn(SecretUsageType, type);
}

function noSecret(uuid: string): VirError {
  return new VirError("NO_SECRET", `no secret with matching uuid '${uuid}'`);
}

function usageIndexKey(type: SecretUsageTypeName, id: string): string {
  // hashed: usage ids have no length limit, store keys do
  return createHash("sha256").update(`${type}/${id}`, "utf8").digest("hex");
}

function toPersisted(def: SecretDef): PersistedSecret {
  return {
    v: 1,
    uuid: def.uuid,
    isPrivate: def.isPrivate,
    ...(def.description !== undefined ? { description: def.description } : {}),
    usageType: def.usageType,
    ...(def.usageId !== undefined ? { usageId: def.usageId } : {}),
  };
}

function fromPersisted(key: string, p: PersistedSecret): SecretDef {
  if (
    p === null || typeof p !== "object" || p.v !== 1 || p.uuid !== key || canonicalUUID(key) !== key ||
    typeof p.isPrivate !== "boolean" || !isUsageTypeName(p.usageType) ||
    (p.usageType === "none") !== (p.usageId === undefined) ||
    (p.usageId !== undefined && (typeof p.usageId !== "string" || p.usageId === "")) ||
    (p.description !== undefined && typeof p.description !== "string")
  ) {
    throw new VirError("INTERNAL_ERROR", `corrupt secret record '${key}' in the store`);
  }
  return {
    uuid: p.uuid,
    ephemeral: false,
    isPrivate: p.isPrivate,
    ...(p.description !== undefined && p.description !== "" ? { description: p.description } : {}),
    usageType: p.usageType,
    ...(p.usageId !== undefined ? { usageId: p.usageId } : {}),
  };
}

/** Check a SecretDef handed in as data (not parsed from XML) against parse-time invariants. */
function checkDef(def: SecretDef): SecretDef {
  const bad = (what: string): never => {
    throw new VirError("INVALID_ARG", `invalid secret definition: ${what}`);
  };
  if (def === null || typeof def !== "object") bad("not an object");
  const uuid = typeof def.uuid === "string" ? canonicalUUID(def.uuid) : null;
  if (uuid === null) bad("malformed uuid");
  if (typeof def.ephemeral !== "boolean" || typeof def.isPrivate !== "boolean") bad("ephemeral and isPrivate must be booleans");
  if (!isUsageTypeName(def.usageType)) bad(`unknown usage type '${String(def.usageType)}'`);
  if (def.usageType === "none") {
    if (def.usageId !== undefined) bad("usage none takes no usage id");
  } else if (typeof def.usageId !== "string" || def.usageId === "") {
    bad(`${def.usageType} usage needs a non-empty <${USAGE_ID_ELEMENT[def.usageType]}>`);
  }
  if (def.description !== undefined && typeof def.description !== "string") bad("description must be a string");
  return {
    uuid: uuid!,
    ephemeral: def.ephemeral,
    isPrivate: def.isPrivate,
    ...(def.description !== undefined && def.description !== "" ? { description: def.description } : {}),
    usageType: def.usageType,
    ...(def.usageType !== "none" ? { usageId: def.usageId! } : {}),
  };
}

function checkValue(value: unknown, fn: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw invalidArg(`value in ${fn} must not be NULL`);
  // Q3 fix: libvirt turns a 0-byte value into "no value" and keeps the old one on disk.
  if (value.length === 0) throw new VirError("INVALID_ARG", "secret value must not be empty");
}

class Handle implements SecretHandle {
  readonly uuid: string;
  readonly usageType: SecretUsageTypeName;
  readonly usageID: string;
  readonly #drv: SecretDriverImpl;

  constructor(drv: SecretDriverImpl, def: SecretDef) {
    this.#drv = drv;
    this.uuid = def.uuid;
    this.usageType = def.usageType;
    this.usageID = def.usageId ?? "";
  }

  belongsTo(drv: SecretDriverImpl): boolean {
    return this.#drv === drv;
  }

  getXMLDesc(flags = 0): string {
    return this.#drv.getXMLDesc(this.uuid, flags);
  }
  setValue(value: Uint8Array, flags = 0): Promise<void> {
    return this.#drv.setValue(this.uuid, value, flags);
  }
  getValue(flags = 0): Promise<Uint8Array> {
    return this.#drv.getValue(this.uuid, flags, false);
  }
  undefine(): Promise<void> {
    return this.#drv.undefine(this.uuid, [], false);
  }
}

/** Test and tooling access to the object list (values included); not part of the public API. */
const LISTS = new WeakMap<SecretDriver, SecretList>();
export function secretListOf(drv: SecretDriver): SecretList {
  const l = LISTS.get(drv);
  if (l === undefined) throw new Error("not a virsecret driver");
  return l;
}

class SecretDriverImpl implements SecretDriver {
  readonly uri: string;
  readonly root: string;
  readonly readOnly: boolean;
  readonly store: SecretStore;
  readonly #list = new SecretList();
  readonly #events = new SecretEventBus();
  readonly #acl: AccessControl;
  /** mutations, one at a time */
  readonly #queue = new SerialQueue();
  readonly #bindings: KeyBindings;
  #envelope: MasterKeyEnvelope | undefined;
  /** set when a wrap/rekey landed but its wrapped file could not be moved into place */
  #keyStateBroken = false;
  #closed = false;

  constructor(uri: string, root: string, store: SecretStore, opts: SecretDriverOptions, envelope: MasterKeyEnvelope | undefined) {
    this.uri = uri;
    this.root = root;
    this.store = store;
    this.readOnly = opts.readOnly === true;
    this.#acl = new AccessControl(opts.accessCheck);
    this.#bindings = new KeyBindings(opts.keystores, store);
    this.#envelope = envelope;
    LISTS.set(this, this.#list);
  }

  /**
   * Load every persisted secret. No events are emitted for loading (as libvirt).
   * Two records on one (type, id) cannot be written by this driver (Q2 fix); if
   * found anyway, the usage index decides which one keeps it (libvirt: readdir order).
   */
  async load(): Promise<void> {
    // values stay sealed until first read: open time is then one JSON parse per secret
    for await (const [key, rec] of this.store.list<PersistedSecret>(SECRET_SPACE, { secrets: false })) {
      const def = fromPersisted(key, rec.data);
      const obj: SecretObj = rec.sealed === true ? { def, stored: true } : { def };
      const clash = def.usageType === "none" ? undefined : this.#list.findByUsage(def.usageType, def.usageId!);
      if (clash !== undefined) {
        const owner = (await this.store.get<PersistedUsage>(SECRET_USAGE_SPACE, usageIndexKey(def.usageType, def.usageId!)))?.data.uuid;
        const [keep, drop] = owner === def.uuid ? [obj, clash] : [clash, obj];
        process.emitWarning(`secret ${drop.def.uuid} not loaded: its usage is held by ${keep.def.uuid}`, "VirsecretLoadWarning");
        drop.value?.fill(0);
        if (keep === clash) continue;
        this.#list.remove(clash);
      }
      this.#list.add(obj);
    }
    await this.#bindings.load((uuid) => this.#list.get(uuid) !== undefined);
  }

  // ---- checks shared by the entry points ----

  #checkOpen(): void {
    if (this.#closed) throw new VirError("OPERATION_INVALID", "the secret driver connection is closed");
  }

  #checkWritable(fn: string): void {
    this.#checkOpen();
    if (this.readOnly) throw new VirError("OPERATION_DENIED", `read only access prevents ${fn}`);
  }

  #obj(uuid: string): SecretObj {
    const obj = this.#list.get(uuid);
    if (obj === undefined) throw noSecret(uuid);
    return obj;
  }

  /** The value, unsealing it from the store on first use. */
  async #valueOf(obj: SecretObj): Promise<Uint8Array | undefined> {
    if (obj.value !== undefined || obj.stored !== true) return obj.value;
    const rec = await this.store.get<PersistedSecret>(SECRET_SPACE, obj.def.uuid);
    if (obj.value !== undefined || obj.stored !== true || this.#list.get(obj.def.uuid) !== obj) {
      rec?.secret?.fill(0); // changed or undefined while we read
      return obj.value;
    }
    obj.stored = false;
    if (rec?.secret !== undefined && rec.secret.length > 0) obj.value = rec.secret;
    return obj.value;
  }

  #handle(def: SecretDef): Handle {
    return new Handle(this, def);
  }

  #emitLifecycle(def: SecretDef, event: number): void {
    const secret = this.#handle(def);
    const ev: LifecycleEvent = { secret, event, detail: 0 };
    this.#events.emit(SecretEventID.LIFECYCLE, def, secret, ev, (d) => this.#acl.canSee(d));
  }

  #emitValueChanged(def: SecretDef): void {
    const secret = this.#handle(def);
    this.#events.emit(SecretEventID.VALUE_CHANGED, def, secret, { secret }, (d) => this.#acl.canSee(d));
  }

  #putOps(def: SecretDef, value: Uint8Array | undefined): StoreOp[] {
    const ops: StoreOp[] = [
      value !== undefined
        ? { type: "put", space: SECRET_SPACE, key: def.uuid, data: toPersisted(def), secret: value }
        : { type: "put", space: SECRET_SPACE, key: def.uuid, data: toPersisted(def) },
    ];
    if (def.usageType !== "none") {
      const data: PersistedUsage = { uuid: def.uuid, usageType: def.usageType, usageId: def.usageId! };
      ops.push({ type: "put", space: SECRET_USAGE_SPACE, key: usageIndexKey(def.usageType, def.usageId!), data });
    }
    return ops;
  }

  #delOps(def: SecretDef): StoreOp[] {
    const ops: StoreOp[] = [{ type: "del", space: SECRET_SPACE, key: def.uuid }];
    if (def.usageType !== "none") ops.push({ type: "del", space: SECRET_USAGE_SPACE, key: usageIndexKey(def.usageType, def.usageId!) });
    return ops;
  }

  // ---- define ----

  async defineXML(xml: string, flags = 0): Promise<SecretHandle> {
    this.#checkWritable(FN.define);
    if (typeof xml !== "string") throw invalidArg(`xml in ${FN.define} must not be NULL`);
    checkFlags(flags, DefineFlags.VALIDATE, "secretDefineXML");
    const def = parseForDefine(xml, (flags & DefineFlags.VALIDATE) !== 0);
    return this.#queue.run(() => this.#define(def, undefined, []));
  }

  /** The define rules of spec §2.2 (5–9), with the Q1/Q2 fixes; `value` replaces the kept one. */
  async #define(def: SecretDef, value: Uint8Array | undefined, extraOps: readonly StoreOp[]): Promise<Handle> {
    this.#checkOpen();
    this.#acl.ensureSecret(def, "write", "save");
    const old = this.#list.get(def.uuid);
    if (old !== undefined) {
      if (old.def.usageId !== def.usageId) {
        throw new VirError("INTERNAL_ERROR", `a secret with UUID ${def.uuid} is already defined for use with ${old.def.usageId ?? "(null)"}`);
      }
      if (old.def.isPrivate && !def.isPrivate) {
        throw new VirError("INTERNAL_ERROR", "cannot change private flag on existing secret");
      }
      if (old.def.usageType !== def.usageType && def.usageType !== "none") {
        // Q2 fix: the same id under another type must not collide with another secret.
        const holder = this.#list.findByUsage(def.usageType, def.usageId!);
        if (holder !== undefined && holder !== old) {
          throw new VirError("INTERNAL_ERROR", `a secret with UUID ${holder.def.uuid} already defined for use with ${def.usageId}`);
        }
      }
    } else if (def.usageType !== "none") {
      const holder = this.#list.findByUsage(def.usageType, def.usageId!);
      if (holder !== undefined) {
        throw new VirError("INTERNAL_ERROR", `a secret with UUID ${holder.def.uuid} already defined for use with ${def.usageId}`);
      }
    }

    const binding = this.#bindings.get(def.uuid);
    if (binding !== undefined && value !== undefined) throw boundError(binding, FN.setValue);
    // a persistent redefine rewrites the record with its value; Q1 moves the value into memory
    const keptValue = value ?? (old !== undefined ? await this.#valueOf(old) : undefined);
    const ops: StoreOp[] = [];
    if (!def.ephemeral) {
      // new persistent: one record with the (kept or new) value, plus the usage index
      if (old !== undefined && !old.def.ephemeral && old.def.usageType !== "none" && defUsageKey(old.def) !== defUsageKey(def)) {
        ops.push({ type: "del", space: SECRET_USAGE_SPACE, key: usageIndexKey(old.def.usageType, old.def.usageId!) });
      }
      ops.push(...this.#putOps(def, keptValue));
      if (binding !== undefined && old?.def.ephemeral === true) ops.push(this.#bindings.putOp(binding));
    } else if (old !== undefined && !old.def.ephemeral) {
      // Q1 fix: persistent -> ephemeral takes definition and value out of the store
      ops.push(...this.#delOps(old.def));
      // a binding follows its secret into memory only
      if (binding !== undefined) ops.push(this.#bindings.delOp(def.uuid));
    }
    ops.push(...extraOps);
    if (ops.length > 0) await this.store.batch(ops);

    // committed: now the in-memory list
    let obj: SecretObj;
    if (old !== undefined) {
      this.#list.setDef(old, def);
      obj = old;
    } else {
      obj = { def };
      this.#list.add(obj);
    }
    if (value !== undefined) {
      if (obj.value !== undefined && obj.value !== value) obj.value.fill(0);
      obj.value = value;
      obj.stored = false;
    }
    this.#emitLifecycle(def, SecretLifecycleEvent.DEFINED);
    if (value !== undefined) this.#emitValueChanged(def);
    return this.#handle(def);
  }

  // ---- lookups and listing ----

  lookupByUUID(uuid: string): SecretHandle {
    this.#checkOpen();
    if (typeof uuid !== "string") throw invalidArg(`uuidstr in ${FN.lookupByUUID} must not be NULL`);
    const canon = canonicalUUID(uuid);
    if (canon === null) throw invalidArg(`uuidstr in ${FN.lookupByUUID} must be a valid UUID`);
    const obj = this.#obj(canon);
    this.#acl.ensureSecret(obj.def, "getattr");
    return this.#handle(obj.def);
  }

  lookupByUsage(usageType: SecretUsageTypeName | number, usageID: string): SecretHandle {
    this.#checkOpen();
    if (typeof usageID !== "string") throw invalidArg(`usageID in ${FN.lookupByUsage} must not be NULL`);
    const type = typeof usageType === "number" ? USAGE_BY_NUMBER.get(usageType) : isUsageTypeName(usageType) ? usageType : undefined;
    const obj = type === undefined ? undefined : this.#list.findByUsage(type, usageID);
    if (obj === undefined) throw new VirError("NO_SECRET", `no secret with matching usage '${usageID}'`);
    this.#acl.ensureSecret(obj.def, "getattr");
    return this.#handle(obj.def);
  }

  numOfSecrets(): number {
    this.#checkOpen();
    this.#acl.ensureConnect("search_secrets");
    if (!this.#acl.active) return this.#list.size;
    let n = 0;
    for (const obj of this.#list.values()) if (this.#acl.canSee(obj.def)) n++;
    return n;
  }

  listSecrets(max: number): string[] {
    this.#checkOpen();
    if (!Number.isInteger(max) || max < 0) throw invalidArg(`maxuuids in ${FN.listSecrets} must be zero or greater`);
    this.#acl.ensureConnect("search_secrets");
    const out: string[] = [];
    for (const obj of this.#list.sorted()) {
      if (out.length >= max) break;
      if (this.#acl.canSee(obj.def)) out.push(obj.def.uuid);
    }
    return out;
  }

  listAll(flags = 0): SecretHandle[] {
    this.#checkOpen();
    const all = ListAllFlags.EPHEMERAL | ListAllFlags.NO_EPHEMERAL | ListAllFlags.PRIVATE | ListAllFlags.NO_PRIVATE;
    checkFlags(flags, all, "secretConnectListAllSecrets");
    this.#acl.ensureConnect("search_secrets");
    const eph = flags & (ListAllFlags.EPHEMERAL | ListAllFlags.NO_EPHEMERAL);
    const priv = flags & (ListAllFlags.PRIVATE | ListAllFlags.NO_PRIVATE);
    const out: SecretHandle[] = [];
    for (const { def } of this.#list.sorted()) {
      // within a group any set bit may match; no bit set means no filter; groups AND
      if (eph !== 0 && !(eph & (def.ephemeral ? ListAllFlags.EPHEMERAL : ListAllFlags.NO_EPHEMERAL))) continue;
      if (priv !== 0 && !(priv & (def.isPrivate ? ListAllFlags.PRIVATE : ListAllFlags.NO_PRIVATE))) continue;
      if (!this.#acl.canSee(def)) continue;
      out.push(this.#handle(def));
    }
    return out;
  }

  // ---- per-secret operations (called through handles) ----

  getXMLDesc(uuid: string, flags: number): string {
    this.#checkOpen();
    checkFlags(flags, 0, "secretGetXMLDesc");
    const obj = this.#obj(uuid);
    this.#acl.ensureSecret(obj.def, "read");
    return formatSecretXML(obj.def);
  }

  async setValue(uuid: string, value: Uint8Array, flags: number): Promise<void> {
    this.#checkWritable(FN.setValue);
    if (!(value instanceof Uint8Array)) throw invalidArg(`value in ${FN.setValue} must not be NULL`);
    checkFlags(flags, 0, "secretSetValue");
    const copy = new Uint8Array(value); // the driver owns its copy
    try {
      await this.#queue.run(async () => {
        this.#checkOpen();
        const obj = this.#obj(uuid);
        this.#acl.ensureSecret(obj.def, "write");
        const binding = this.#bindings.get(uuid);
        if (binding !== undefined) throw boundError(binding, FN.setValue);
        checkValue(copy, FN.setValue);
        if (!obj.def.ephemeral) {
          await this.store.batch([{ type: "put", space: SECRET_SPACE, key: obj.def.uuid, data: toPersisted(obj.def), secret: copy }]);
        }
        if (obj.value !== undefined) obj.value.fill(0);
        obj.value = copy;
        obj.stored = false;
        this.#emitValueChanged(obj.def);
      });
    } catch (e) {
      copy.fill(0);
      throw e;
    }
  }

  async getValue(uuid: string, flags: number, elevated: boolean): Promise<Uint8Array> {
    this.#checkOpen();
    if (!elevated && this.readOnly) throw new VirError("OPERATION_DENIED", `read only access prevents ${FN.getValue}`);
    checkFlags(flags, 0, "secretGetValue");
    const obj = this.#obj(uuid);
    this.#acl.ensureSecret(obj.def, "read_secure");
    if (obj.def.isPrivate && !elevated) throw new VirError("INVALID_SECRET", "secret is private");
    const binding = this.#bindings.get(uuid);
    if (binding !== undefined) {
      // fetched on every read: a deleted key or an unbind is never answered from a cache
      const fetched = await this.#bindings.fetchValue(binding);
      if (this.#list.get(uuid) !== obj) {
        fetched.fill(0);
        throw noSecret(uuid);
      }
      return fetched;
    }
    const value = await this.#valueOf(obj);
    if (this.#list.get(uuid) !== obj) throw noSecret(uuid);
    if (value === undefined) throw new VirError("NO_SECRET", `secret '${uuid}' does not have a value`);
    return new Uint8Array(value);
  }

  async undefine(uuid: string, extraOps: readonly StoreOp[], elevated: boolean): Promise<void> {
    this.#checkWritable(FN.undefine);
    void elevated;
    return this.#queue.run(async () => {
      this.#checkOpen();
      const obj = this.#obj(uuid);
      this.#acl.ensureSecret(obj.def, "delete");
      const bound = this.#bindings.get(uuid) !== undefined;
      const ops = obj.def.ephemeral
        ? [...extraOps]
        : [...this.#delOps(obj.def), ...(bound ? [this.#bindings.delOp(uuid)] : []), ...extraOps];
      if (ops.length > 0) await this.store.batch(ops);
      this.#list.remove(obj);
      this.#bindings.delete(uuid);
      obj.stored = false;
      this.#emitLifecycle(obj.def, SecretLifecycleEvent.UNDEFINED);
      // libvirt memsets the value before freeing it
      if (obj.value !== undefined) {
        obj.value.fill(0);
        delete obj.value;
      }
    });
  }

  // ---- events ----

  eventRegisterAny(
    secret: SecretRef | null,
    eventID: SecretEventIDNumber,
    cb: (ev: LifecycleEvent | { secret: SecretRef }) => void,
  ): number {
    this.#checkOpen();
    let filter: string | null = null;
    if (secret !== null && secret !== undefined) {
      if (!(secret instanceof Handle) || !secret.belongsTo(this)) {
        const shown = typeof (secret as { uuid?: unknown }).uuid === "string" ? (secret as { uuid: string }).uuid : "";
        throw invalidArg(`secret '${shown}' in ${FN.register} must match connection`);
      }
      filter = secret.uuid;
    }
    // libvirt checks the arguments before the ACL
    if (typeof cb !== "function") throw invalidArg(`cb in ${FN.register} must not be NULL`);
    if (!Number.isInteger(eventID) || eventID < 0) throw invalidArg(`eventID in ${FN.register} must be zero or greater`);
    if (eventID >= 2) throw invalidArg(`eventID in ${FN.register} must be less than 2`);
    this.#acl.ensureConnect("search_secrets");
    return this.#events.register(filter, eventID, cb);
  }

  eventDeregisterAny(callbackID: number): void {
    this.#checkOpen();
    if (!Number.isInteger(callbackID) || callbackID < 0) {
      throw invalidArg(`callbackID in virConnectSecretEventDeregisterAny must be zero or greater`);
    }
    this.#acl.ensureConnect("read");
    this.#events.deregister(callbackID);
  }

  // ---- elevated access and maintenance ----

  elevated(): ElevatedSecretStoreAccess {
    this.#checkOpen();
    return {
      getValue: (uuid: string) => {
        const canon = typeof uuid === "string" ? canonicalUUID(uuid) : null;
        if (canon === null) return Promise.reject(invalidArg(`uuidstr in ${FN.lookupByUUID} must be a valid UUID`));
        return this.getValue(canon, 0, true);
      },
      defineWithValue: (xmlOrDef: string | SecretDef, value: Uint8Array, extraOps: readonly StoreOp[] = []) =>
        this.#defineWithValue(xmlOrDef, value, extraOps),
      undefine: (uuid: string, extraOps: readonly StoreOp[] = []) => {
        const canon = typeof uuid === "string" ? canonicalUUID(uuid) : null;
        if (canon === null) return Promise.reject(invalidArg(`uuidstr in ${FN.lookupByUUID} must be a valid UUID`));
        return this.undefine(canon, extraOps, true);
      },
    };
  }

  async #defineWithValue(xmlOrDef: string | SecretDef, value: Uint8Array, extraOps: readonly StoreOp[]): Promise<SecretHandle> {
    this.#checkWritable(FN.define);
    checkValue(value, FN.setValue);
    const def = typeof xmlOrDef === "string" ? parseSecretXML(xmlOrDef) : checkDef(xmlOrDef);
    const copy = new Uint8Array(value);
    try {
      return await this.#queue.run(() => this.#define(def, copy, extraOps));
    } catch (e) {
      copy.fill(0);
      throw e;
    }
  }

  rekey(newKey?: Uint8Array): Promise<void> {
    this.#checkWritable("rekey");
    return this.#queue.run(async () => {
      this.#checkKeyState("rekey");
      const env = this.#envelope;
      if (env === undefined) return this.store.rekey(newKey);
      await this.store.rekey(newKey, this.#keeper(env));
    });
  }

  wrapMasterKey(envelope: MasterKeyEnvelope): Promise<void> {
    this.#checkWritable("wrapMasterKey");
    return this.#queue.run(async () => {
      this.#checkKeyState("wrap the master key of");
      await this.store.rekey(undefined, this.#keeper(envelope));
    });
  }

  masterKeyWrapping(): MasterKeyWrapping | undefined {
    this.#checkOpen();
    return this.#envelope === undefined ? undefined : describeWrapping(this.#envelope);
  }

  #keeper(env: MasterKeyEnvelope) {
    return envelopeKeeper(this.root, env, (ok) => {
      // the store's key is the new one either way; its wrapped file is in place only if ok
      this.#envelope = env;
      if (!ok) this.#keyStateBroken = true;
    });
  }

  #checkKeyState(what: string): void {
    if (this.#keyStateBroken) {
      // another rekey would overwrite the pending wrapped key, the only copy of the store's key
      throw new VirError(
        "OPERATION_INVALID",
        `cannot ${what} secret root '${this.root}': an earlier change of its master key is unfinished; reopen the root to finish it`,
      );
    }
  }

  // ---- keystore bindings ----

  #canonOrReject(uuid: string): string {
    const canon = typeof uuid === "string" ? canonicalUUID(uuid) : null;
    if (canon === null) throw invalidArg(`uuidstr in ${FN.lookupByUUID} must be a valid UUID`);
    return canon;
  }

  async bindKey(uuid: string, req: KeyBindingRequest): Promise<void> {
    this.#checkWritable("bindKey");
    const canon = this.#canonOrReject(uuid);
    const binding = checkBindingRequest(canon, req);
    return this.#queue.run(async () => {
      this.#checkOpen();
      const obj = this.#obj(canon);
      this.#acl.ensureSecret(obj.def, "write");
      // prove the key readable now, so a wrong id fails here and not at the first read
      (await this.#bindings.fetchValue(binding, req.context)).fill(0);
      if (this.#list.get(canon) !== obj) throw noSecret(canon);
      if (!obj.def.ephemeral) {
        // the record loses any value it had: a bound value lives in the keystore only
        await this.store.batch([
          { type: "put", space: SECRET_SPACE, key: canon, data: toPersisted(obj.def) },
          this.#bindings.putOp(binding),
        ]);
      }
      obj.value?.fill(0);
      delete obj.value;
      obj.stored = false;
      this.#bindings.set(binding);
      this.#emitValueChanged(obj.def);
    });
  }

  async unbindKey(uuid: string): Promise<void> {
    this.#checkWritable("unbindKey");
    const canon = this.#canonOrReject(uuid);
    return this.#queue.run(async () => {
      this.#checkOpen();
      const obj = this.#obj(canon);
      this.#acl.ensureSecret(obj.def, "write");
      if (this.#bindings.get(canon) === undefined) {
        throw new VirError("OPERATION_INVALID", `secret '${canon}' is not bound to a keystore key`);
      }
      if (!obj.def.ephemeral) await this.store.batch([this.#bindings.delOp(canon)]);
      this.#bindings.delete(canon);
      this.#emitValueChanged(obj.def);
    });
  }

  keyBinding(uuid: string): KeyBinding | undefined {
    this.#checkOpen();
    const canon = this.#canonOrReject(uuid);
    const obj = this.#obj(canon);
    this.#acl.ensureSecret(obj.def, "read");
    return this.#bindings.get(canon);
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return this.#queue.run(async () => {
      if (this.#closed) return;
      this.#closed = true;
      this.#events.clear();
      this.#bindings.clear();
      for (const obj of this.#list.values()) obj.value?.fill(0);
      this.#list.clear();
      await this.store.close();
    });
  }
}

function boundError(b: KeyBinding, fn: string): VirError {
  return new VirError(
    "OPERATION_INVALID",
    `${fn}: secret '${b.uuid}' is bound to keystore key ${b.keyId}; its value comes from keystore '${b.keystore}' (unbind it first)`,
  );
}

/**
 * Parse for define, in libvirt's order: validateSecretXML reads the document
 * first (malformed input and a wrong root give the parser's errors), then
 * checks the schema; the parser's semantic checks come after.
 */
function parseForDefine(xml: string, validate: boolean): SecretDef {
  if (validate) validateSecretXML(xml);
  return parseSecretXML(xml);
}

/**
 * Open the embedded driver for a `secret:///embed?root=DIR` URI (default: see
 * uri.ts) and load every persisted secret. A second process opening the same
 * root gets the store's lock error.
 */
export async function openSecretDriver(opts: SecretDriverOptions = {}): Promise<SecretDriver> {
  const uri = opts.uri ?? defaultSecretURI();
  const { root } = parseSecretURI(uri);
  const masterKey = opts.masterKey !== undefined ? { key: opts.masterKey } : opts.masterKeyFile !== undefined ? { file: opts.masterKeyFile } : undefined;
  if (opts.masterKeyEnvelope !== undefined && masterKey !== undefined) {
    throw new VirError("INVALID_ARG", "masterKeyEnvelope cannot be combined with masterKey or masterKeyFile");
  }
  // connect:getattr, as libvirt checks on open
  new AccessControl(opts.accessCheck).ensureConnect("getattr");
  // a wrapped root (or an explicit envelope) opens through its keystore; otherwise plainly
  const wrapped = masterKey === undefined ? await openWrappedRoot(root, opts.masterKeyEnvelope, opts.keystores) : undefined;
  const store = wrapped?.store ?? (await SecretStore.open(masterKey !== undefined ? { root, masterKey } : { root }));
  const drv = new SecretDriverImpl(uri, root, store, opts, wrapped?.envelope);
  try {
    await drv.load();
  } catch (e) {
    await store.close().catch(() => undefined);
    throw e;
  }
  return drv;
}
