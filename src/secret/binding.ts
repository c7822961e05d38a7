// Keystore-backed secrets: a secret bound to a keystore key takes its value
// from the keystore on every read (scenario 8: hosts sharing one keystore see
// one value). The value is held only for the length of the read and never
// written to the store; only the binding is persisted (space "bindings").
//
// A binding names its keystore by a reference string, not by an object, so it
// can be resolved again after a restart: the driver is opened with
// `keystores`, either a map from reference to KeyManager or a resolver
// callback (the CLI's treats the reference as the path of a <keystore> XML
// file). The driver never closes a keystore it resolved: whoever supplies
// them closes them, after the driver.
//
// The caller identity is persisted as user, project and roles only; a token
// is never stored (a token-authenticated keystore gets its token from its own
// configuration).
//
// No value cache: a read after the key was deleted (or the secret unbound)
// fails with a clear error instead of serving stale bytes. The price is one
// keystore round trip per read.
//
// secret/ knows keystores only through the interface module
// keystore/key-manager.ts; backends are never imported here.
import { VirError } from "../errors.js";
import { type Context, type KeyManager, type ManagedObject, KeyManagerError, passphraseFromKey } from "../keystore/key-manager.js";
import type { SecretStore, StoreOp } from "../store/db.js";

/** Store space with one record per persistent bound secret, keyed by uuid. */
export const BINDING_SPACE = "bindings";

/** Longest keystore reference, key id and context field accepted. */
const MAX_REF = 4096;
const MAX_FIELD = 255;
const MAX_ROLES = 64;

/** The identity a binding reads with: what of a Context may be persisted. */
export interface BindingContext {
  readonly user?: string;
  readonly project?: string;
  readonly roles?: readonly string[];
}

/** drv.bindKey's argument. */
export interface KeyBindingRequest {
  /** reference of the keystore, as the driver's `keystores` option resolves it */
  readonly keystore: string;
  /** the key's id in that keystore */
  readonly keyId: string;
  /** caller the keystore acts for; a token in it is used for the check at bind time only, never kept */
  readonly context: Context;
}

/** A secret's binding, as drv.keyBinding(uuid) shows it. */
export interface KeyBinding {
  readonly uuid: string;
  readonly keystore: string;
  readonly keyId: string;
  readonly context: BindingContext;
}

/**
 * Where bound secrets find their keystores: a map from reference to
 * KeyManager, or a callback (undefined: no such keystore). The callback is
 * called at most once per reference while it succeeds; `store` is the
 * driver's own store, for a local keystore that lives in the same root. It is
 * absent when the reference names the keystore whose key wraps the root's
 * master key (recorded in master.key.wrapped): the store is not open yet then,
 * and a keystore inside it could not hold that key anyway.
 */
export type KeystoreResolver = (ref: string, env: { readonly store?: SecretStore }) => KeyManager | undefined | Promise<KeyManager | undefined>;
export type KeystoreSource = KeystoreResolver | Readonly<Record<string, KeyManager>>;

interface PersistedBinding {
  readonly v: 1;
  readonly uuid: string;
  readonly keystore: string;
  readonly keyId: string;
  readonly user?: string;
  readonly project?: string;
  readonly roles?: readonly string[];
}

function bad(what: string): never {
  throw new VirError("INVALID_ARG", `invalid key binding: ${what}`);
}

function checkText(v: unknown, what: string, max: number): string {
  if (typeof v !== "string" || v === "") bad(`${what} must be a non-empty string`);
  if (v.length > max) bad(`${what} is longer than ${max} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(v)) bad(`${what} contains control characters`);
  return v;
}

function checkContext(ctx: unknown): BindingContext {
  if (ctx === null || typeof ctx !== "object") bad("context must be an object with user and/or project");
  const c = ctx as Context;
  const out: { user?: string; project?: string; roles?: string[] } = {};
  if (c.user !== undefined) out.user = checkText(c.user, "context user", MAX_FIELD);
  if (c.project !== undefined) out.project = checkText(c.project, "context project", MAX_FIELD);
  if (c.roles !== undefined) {
    if (!Array.isArray(c.roles) || c.roles.length > MAX_ROLES) bad(`context roles must be an array of at most ${MAX_ROLES} strings`);
    out.roles = c.roles.map((r) => checkText(r, "context role", MAX_FIELD));
  }
  return out;
}

/** Validate a bindKey request for the secret `uuid` (canonical). */
export function checkBindingRequest(uuid: string, req: KeyBindingRequest): KeyBinding {
  if (req === null || typeof req !== "object") bad("expected { keystore, keyId, context }");
  return {
    uuid,
    keystore: checkText(req.keystore, "keystore reference", MAX_REF),
    keyId: checkText(req.keyId, "key id", MAX_REF),
    context: checkContext(req.context),
  };
}

function fromPersisted(key: string, p: PersistedBinding): KeyBinding {
  try {
    if (p === null || typeof p !== "object" || p.v !== 1 || p.uuid !== key) throw new Error("shape");
    return checkBindingRequest(key, {
      keystore: p.keystore,
      keyId: p.keyId,
      context: {
        ...(p.user !== undefined ? { user: p.user } : {}),
        ...(p.project !== undefined ? { project: p.project } : {}),
        ...(p.roles !== undefined ? { roles: p.roles } : {}),
      },
    });
  } catch {
    throw new VirError("INTERNAL_ERROR", `corrupt key binding record '${key}' in the store`);
  }
}

function toPersisted(b: KeyBinding): PersistedBinding {
  return {
    v: 1,
    uuid: b.uuid,
    keystore: b.keystore,
    keyId: b.keyId,
    ...(b.context.user !== undefined ? { user: b.context.user } : {}),
    ...(b.context.project !== undefined ? { project: b.context.project } : {}),
    ...(b.context.roles !== undefined ? { roles: [...b.context.roles] } : {}),
  };
}

/** The driver's bindings: an in-memory map, its store records, and value resolution. */
export class KeyBindings {
  readonly #byUUID = new Map<string, KeyBinding>();
  readonly #keystores = new Map<string, Promise<KeyManager>>();
  readonly #source: KeystoreSource | undefined;
  readonly #store: SecretStore;

  constructor(source: KeystoreSource | undefined, store: SecretStore) {
    if (source !== undefined && typeof source !== "function" && (source === null || typeof source !== "object")) {
      throw new VirError("INVALID_ARG", "keystores must be a map of KeyManagers or a resolver function");
    }
    this.#source = source;
    this.#store = store;
  }

  get(uuid: string): KeyBinding | undefined {
    return this.#byUUID.get(uuid);
  }

  set(b: KeyBinding): void {
    this.#byUUID.set(b.uuid, b);
  }

  delete(uuid: string): void {
    this.#byUUID.delete(uuid);
  }

  clear(): void {
    this.#byUUID.clear();
    this.#keystores.clear();
  }

  putOp(b: KeyBinding): StoreOp {
    return { type: "put", space: BINDING_SPACE, key: b.uuid, data: toPersisted(b) };
  }

  delOp(uuid: string): StoreOp {
    return { type: "del", space: BINDING_SPACE, key: uuid };
  }

  /** Load persisted bindings; one naming no loaded secret is skipped with a warning. */
  async load(has: (uuid: string) => boolean): Promise<void> {
    for await (const [key, rec] of this.#store.list<PersistedBinding>(BINDING_SPACE, { secrets: false })) {
      const b = fromPersisted(key, rec.data);
      if (!has(b.uuid)) {
        process.emitWarning(`key binding of secret ${b.uuid} ignored: no such secret is loaded`, "VirsecretLoadWarning");
        continue;
      }
      this.#byUUID.set(b.uuid, b);
    }
  }

  /** The KeyManager a reference names (resolved once, then remembered). */
  async keystore(b: KeyBinding): Promise<KeyManager> {
    let p = this.#keystores.get(b.keystore);
    if (p === undefined) {
      p = this.#resolve(b);
      this.#keystores.set(b.keystore, p);
      // a failed resolution is retried on the next read
      p.catch(() => {
        if (this.#keystores.get(b.keystore) === p) this.#keystores.delete(b.keystore);
      });
    }
    return p;
  }

  async #resolve(b: KeyBinding): Promise<KeyManager> {
    const src = this.#source;
    let km: KeyManager | undefined;
    try {
      if (typeof src === "function") km = await src(b.keystore, { store: this.#store });
      else if (src !== undefined && Object.hasOwn(src, b.keystore)) km = src[b.keystore];
    } catch (e) {
      throw new VirError(
        "OPERATION_FAILED",
        `cannot open keystore '${b.keystore}' for secret '${b.uuid}': ${e instanceof Error ? e.message : String(e)}`,
        "SECRET",
        { cause: e },
      );
    }
    if (km === undefined || km === null || typeof km.getKey !== "function") {
      throw new VirError(
        "OPERATION_INVALID",
        `secret '${b.uuid}' is bound to keystore '${b.keystore}', which this connection was not opened with (see the keystores option)`,
      );
    }
    return km;
  }

  /**
   * The secret's value now: the key fetched from its keystore and turned into
   * a passphrase (lowercase hex of the key bytes; a passphrase object's text).
   * `ctx` overrides the persisted identity (bindKey's check passes the caller's
   * full context, token included).
   */
  async fetchValue(b: KeyBinding, ctx?: Context): Promise<Uint8Array> {
    const km = await this.keystore(b);
    let obj: ManagedObject;
    try {
      obj = await km.getKey(ctx ?? b.context, b.keyId);
    } catch (e) {
      throw keyError(b, e);
    }
    let pass: Uint8Array | undefined;
    try {
      pass = passphraseFromKey(obj);
      // a fresh buffer the caller owns: the passphrase may alias the key bytes
      const out = new Uint8Array(pass);
      if (out.length === 0) throw new VirError("INVALID_SECRET", `keystore key ${b.keyId} of secret '${b.uuid}' is empty`);
      return out;
    } catch (e) {
      throw keyError(b, e);
    } finally {
      // both the key bytes and the hex passphrase made from them (a separate buffer for a symmetric key)
      pass?.fill(0);
      obj.value?.fill(0);
    }
  }
}

/** A keystore failure on a bound secret's read, as a VirError naming secret, keystore and key (never bytes). */
function keyError(b: KeyBinding, e: unknown): VirError {
  if (e instanceof VirError) return e;
  const why = e instanceof Error ? e.message : String(e);
  const code = e instanceof KeyManagerError ? e.code : (e as { code?: unknown } | null)?.code;
  if (code === "KEY_NOT_FOUND") {
    return new VirError(
      "NO_SECRET",
      `secret '${b.uuid}' is bound to keystore key ${b.keyId}, which keystore '${b.keystore}' does not have (${why})`,
      "SECRET",
      { cause: e },
    );
  }
  if (code === "KEY_NOT_AUTHORIZED") {
    return new VirError("ACCESS_DENIED", `keystore '${b.keystore}' refused key ${b.keyId} of secret '${b.uuid}': ${why}`, "SECRET", { cause: e });
  }
  return new VirError("OPERATION_FAILED", `cannot read keystore key ${b.keyId} of secret '${b.uuid}' from keystore '${b.keystore}': ${why}`, "SECRET", {
    cause: e,
  });
}
