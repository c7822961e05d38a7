// A FAULT-INJECTING wrapper around a real KeyManager (not a backend of its
// own): every call goes to the wrapped keystore, except that once armed with
// failAfter(method), the first call AFTER that method has succeeded fails with
// a KeyManagerError, as a keystore that goes away part way through would.
import {
  KeyManagerError,
  type Context,
  type CreateKeyOptions,
  type KeyManager,
  type ListKeysFilter,
  type ManagedObject,
  type NewManagedObject,
} from "../../../src/keystore/key-manager.js";

type Method = "createKey" | "storeKey" | "getKey" | "deleteKey" | "copyKey" | "listKeys";

export class FaultInjectingKeyManager implements KeyManager {
  readonly type: string;
  readonly supports: KeyManager["supports"];
  readonly calls: Method[] = [];
  #armedAfter: Method | undefined;
  #tripped = false;
  /** the call that was failed, once one was */
  failed: Method | undefined;

  constructor(readonly inner: KeyManager) {
    this.type = inner.type;
    this.supports = inner.supports;
  }

  /** Fail the first call made after `method` succeeds (once). */
  failAfter(method: Method): void {
    this.#armedAfter = method;
    this.#tripped = false;
  }

  async #call<T>(m: Method, fn: () => Promise<T>): Promise<T> {
    this.calls.push(m);
    if (this.#tripped) {
      this.#tripped = false;
      this.#armedAfter = undefined;
      this.failed = m;
      throw new KeyManagerError(`injected fault: the keystore failed during ${m}`);
    }
    const r = await fn();
    if (this.#armedAfter === m) this.#tripped = true;
    return r;
  }

  createKey(ctx: Context | null | undefined, opts?: CreateKeyOptions): Promise<string> {
    return this.#call("createKey", () => this.inner.createKey(ctx, opts));
  }
  storeKey(ctx: Context | null | undefined, obj: NewManagedObject, opts?: { expiration?: number }): Promise<string> {
    return this.#call("storeKey", () => this.inner.storeKey(ctx, obj, opts));
  }
  getKey(ctx: Context | null | undefined, id: string, opts?: { metadataOnly?: boolean }): Promise<ManagedObject> {
    return this.#call("getKey", () => this.inner.getKey(ctx, id, opts));
  }
  deleteKey(ctx: Context | null | undefined, id: string): Promise<void> {
    return this.#call("deleteKey", () => this.inner.deleteKey(ctx, id));
  }
  copyKey(ctx: Context | null | undefined, id: string): Promise<string> {
    return this.#call("copyKey", () => this.inner.copyKey(ctx, id));
  }
  listKeys(ctx: Context | null | undefined, filter?: ListKeysFilter): Promise<ManagedObject[]> {
    return this.#call("listKeys", () => this.inner.listKeys(ctx, filter));
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
