// The in-memory object list (virSecretObjList): one Map keyed by canonical
// uuid and one keyed by (usage type, usage id), so lookups never scan.
// Pure data structure: no policy (that is driver.ts), no I/O.
import type { SecretDef, SecretUsageTypeName } from "./def.js";

export interface SecretObj {
  def: SecretDef;
  /** driver-owned copy of the value; wiped (filled with 0) when replaced or removed */
  value?: Uint8Array;
  /** a value is sealed in the store and not unsealed yet (values load lazily) */
  stored?: boolean;
}

/** The usage-index key; usage type names contain no '/', so the split is unambiguous. */
export function usageKey(type: SecretUsageTypeName, id: string): string {
  return `${type}/${id}`;
}

/** The usage key a definition holds, or undefined for usage none. */
export function defUsageKey(def: SecretDef): string | undefined {
  return def.usageType === "none" || def.usageId === undefined ? undefined : usageKey(def.usageType, def.usageId);
}

export class SecretList {
  readonly #byUUID = new Map<string, SecretObj>();
  readonly #byUsage = new Map<string, SecretObj>();

  get size(): number {
    return this.#byUUID.size;
  }

  get(uuid: string): SecretObj | undefined {
    return this.#byUUID.get(uuid);
  }

  /** Usage type none never matches, as in libvirt. */
  findByUsage(type: SecretUsageTypeName, id: string): SecretObj | undefined {
    if (type === "none") return undefined;
    return this.#byUsage.get(usageKey(type, id));
  }

  /** Add a new object; the caller has checked uuid and usage uniqueness. */
  add(obj: SecretObj): void {
    if (this.#byUUID.has(obj.def.uuid)) throw new Error(`SecretList.add: duplicate uuid ${obj.def.uuid}`);
    const k = defUsageKey(obj.def);
    if (k !== undefined && this.#byUsage.has(k)) throw new Error(`SecretList.add: duplicate usage for ${obj.def.uuid}`);
    this.#byUUID.set(obj.def.uuid, obj);
    if (k !== undefined) this.#byUsage.set(k, obj);
  }

  /** Replace an object's definition (same uuid), moving its usage-index entry. */
  setDef(obj: SecretObj, def: SecretDef): void {
    if (def.uuid !== obj.def.uuid) throw new Error("SecretList.setDef: uuid change");
    const oldKey = defUsageKey(obj.def);
    const newKey = defUsageKey(def);
    if (newKey !== undefined && newKey !== oldKey) {
      const holder = this.#byUsage.get(newKey);
      if (holder !== undefined && holder !== obj) throw new Error(`SecretList.setDef: duplicate usage for ${def.uuid}`);
    }
    if (oldKey !== undefined && this.#byUsage.get(oldKey) === obj) this.#byUsage.delete(oldKey);
    obj.def = def;
    if (newKey !== undefined) this.#byUsage.set(newKey, obj);
  }

  /** Remove an object from both indexes. The caller wipes the value. */
  remove(obj: SecretObj): void {
    if (this.#byUUID.get(obj.def.uuid) !== obj) return;
    this.#byUUID.delete(obj.def.uuid);
    const k = defUsageKey(obj.def);
    if (k !== undefined && this.#byUsage.get(k) === obj) this.#byUsage.delete(k);
  }

  values(): IterableIterator<SecretObj> {
    return this.#byUUID.values();
  }

  /** Objects sorted by uuid, for stable listings. */
  sorted(): SecretObj[] {
    return [...this.#byUUID.values()].sort((a, b) => (a.def.uuid < b.def.uuid ? -1 : a.def.uuid > b.def.uuid ? 1 : 0));
  }

  clear(): void {
    this.#byUUID.clear();
    this.#byUsage.clear();
  }
}
