// The master key(s) a reader may need. Normally one. During a rekey there
// are two, because LevelDB reads run on a snapshot taken when the read starts:
// a read that began before the rekey batch landed sees old-key records, one
// that began after sees new-key records, and neither may fail. A retired key
// is zeroed as soon as no reader still holds it.
import { seal, unseal } from "./seal.js";

export class MasterKeyHandle {
  private refs = 0;
  private retired = false;
  constructor(readonly bytes: Uint8Array) {}

  retain(): void {
    this.refs++;
  }
  release(): void {
    this.refs--;
    if (this.retired && this.refs <= 0) this.bytes.fill(0);
  }
  /** No new reader will get this key; zero it once the current ones are done. */
  retire(): void {
    this.retired = true;
    if (this.refs <= 0) this.bytes.fill(0);
  }
  /** Zero now, readers or not (store closing). */
  destroy(): void {
    this.retired = true;
    this.bytes.fill(0);
  }
}

export class KeyRing {
  /** `keys[0]` seals; all are tried (in order) when unsealing. */
  constructor(readonly keys: readonly MasterKeyHandle[]) {}

  get sealingKey(): MasterKeyHandle {
    return this.keys[0];
  }

  retain(): void {
    for (const k of this.keys) k.retain();
  }
  release(): void {
    for (const k of this.keys) k.release();
  }

  seal(aad: string, plaintext: Uint8Array): Uint8Array {
    return seal(this.sealingKey.bytes, aad, plaintext);
  }

  /** Unseal with the first key that authenticates; the error of the first key if none does. */
  unseal(aad: string, sealed: Uint8Array): Uint8Array {
    let first: unknown;
    for (const k of this.keys) {
      try {
        return unseal(k.bytes, aad, sealed);
      } catch (e) {
        first ??= e;
      }
    }
    throw first;
  }
}
