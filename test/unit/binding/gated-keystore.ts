// A MOCK around a real KeyManager for fault tests of the envelope: it counts
// getKey calls and, on a chosen call, either waits for the test to open a
// gate (so the test can act between two steps of a wrap or rekey), or hangs
// for good after touching a signal file (a child process then gets killed),
// or answers with other key bytes (a backend that does not give a key back).
import { writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import type { KeyManager, ManagedObject } from "../../../src/keystore/key-manager.js";

export interface GateOptions {
  /** the 1-based getKey call that waits on open() */
  readonly gateOn?: number;
  /** the 1-based getKey call that writes `signalFile` and never returns */
  readonly hangOn?: number;
  readonly signalFile?: string;
  /** the 1-based getKey call that returns random bytes instead of the key */
  readonly lieOn?: number;
}

export class GatedKeystore {
  calls = 0;
  readonly km: KeyManager;
  #release: (() => void) | undefined;
  #reached: (() => void) | undefined;
  /** resolves when the gated call is waiting */
  readonly reached: Promise<void>;

  constructor(inner: KeyManager, opts: GateOptions) {
    this.reached = new Promise((r) => (this.#reached = r));
    const gate = new Promise<void>((r) => (this.#release = r));
    const getKey = async (...args: Parameters<KeyManager["getKey"]>): Promise<ManagedObject> => {
      const n = ++this.calls;
      if (n === opts.hangOn) {
        writeFileSync(opts.signalFile!, String(process.pid));
        // a bare pending promise would let the process exit (nothing keeps
        // the event loop alive); the timer keeps it there until it is killed
        await new Promise(() => setInterval(() => undefined, 60_000));
      }
      if (n === opts.gateOn) {
        this.#reached!();
        await gate;
      }
      const obj = await inner.getKey(...args);
      if (n === opts.lieOn && obj.value !== undefined) {
        obj.value.fill(0);
        return { ...obj, value: new Uint8Array(randomBytes(obj.value.length)) };
      }
      return obj;
    };
    this.km = Object.assign(Object.create(inner) as KeyManager, { getKey, close: () => inner.close() });
  }

  open(): void {
    this.#release!();
  }
}
