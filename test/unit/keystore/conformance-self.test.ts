// The conformance suite must be able to fail. Each case runs the whole suite
// in a nested Mocha instance against a backend wrapper, and checks which
// tests the suite reported as failed:
//   - a faithful pass-through wrapper: nothing fails (the harness is sound);
//   - a wrapper that LEAKS foreign keys (falls back to the key's creator);
//   - a wrapper that refuses foreign keys with a different error (Barbican's
//     403 passed through), which tells B that A's id exists;
//   - a wrapper that lists only the first page (castellan's Barbican list);
//   - a wrapper that serves a missing context as an anonymous owner.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { expect } from "chai";
import Mocha from "mocha";
import { type BddInterface, type KeystoreFixture, keystoreConformance } from "../../keystore/conformance.js";
import {
  type Context,
  type CreateKeyOptions,
  type KeyManager,
  type ListKeysFilter,
  type ManagedObject,
  type NewManagedObject,
  KeyManagerError,
  KeyNotFound,
} from "../../../src/keystore/key-manager.js";
import { LocalKeyManager } from "../../../src/keystore/local.js";
import { SecretStore } from "../../../src/store/db.js";

type Mode = "faithful" | "leaks-foreign-keys" | "forbids-foreign-keys" | "lists-one-page" | "trusts-no-context";

/** Wraps a real backend; `mode` decides how it treats another owner's key. */
class WrappedKeyManager implements KeyManager {
  readonly type = "wrapped";
  readonly #inner: KeyManager;
  readonly #mode: Mode;
  /** who created each id: the broken modes use it to reach foreign keys */
  readonly #creator = new Map<string, Context>();

  constructor(inner: KeyManager, mode: Mode) {
    this.#inner = inner;
    this.#mode = mode;
  }
  get supports() {
    return this.#inner.supports;
  }
  #ctx(ctx: Context | null | undefined): Context | null | undefined {
    return this.#mode === "trusts-no-context" && !ctx ? { user: "anonymous" } : ctx;
  }
  async createKey(c: Context | null | undefined, opts?: CreateKeyOptions): Promise<string> {
    const ctx = this.#ctx(c);
    const id = await this.#inner.createKey(ctx, opts);
    if (ctx) this.#creator.set(id, ctx);
    return id;
  }
  async storeKey(c: Context | null | undefined, obj: NewManagedObject, opts?: { expiration?: number }): Promise<string> {
    const ctx = this.#ctx(c);
    const id = await this.#inner.storeKey(ctx, obj, opts);
    if (ctx) this.#creator.set(id, ctx);
    return id;
  }
  getKey(c: Context | null | undefined, id: string, opts?: { metadataOnly?: boolean }): Promise<ManagedObject> {
    const ctx = this.#ctx(c);
    return this.#foreign(() => this.#inner.getKey(ctx, id, opts), (c) => this.#inner.getKey(c, id, opts), id);
  }
  deleteKey(c: Context | null | undefined, id: string): Promise<void> {
    const ctx = this.#ctx(c);
    return this.#foreign(() => this.#inner.deleteKey(ctx, id), (c) => this.#inner.deleteKey(c, id), id);
  }
  copyKey(c: Context | null | undefined, id: string): Promise<string> {
    const ctx = this.#ctx(c);
    // the leak: the copy is made as the key's creator, for the caller to use
    return this.#foreign(() => this.#inner.copyKey(ctx, id), async (c) => {
      const obj = await this.#inner.getKey(c, id);
      return this.#inner.storeKey(ctx, { kind: obj.kind, algorithm: obj.algorithm, name: obj.name, value: obj.value! } as NewManagedObject);
    }, id);
  }
  async listKeys(c: Context | null | undefined, filter?: ListKeysFilter): Promise<ManagedObject[]> {
    const all = await this.#inner.listKeys(this.#ctx(c), filter);
    return this.#mode === "lists-one-page" ? all.slice(0, 10) : all;
  }
  close(): Promise<void> {
    return this.#inner.close();
  }

  async #foreign<T>(own: () => Promise<T>, asCreator: (c: Context) => Promise<T>, id: string): Promise<T> {
    try {
      return await own();
    } catch (e) {
      const creator = this.#creator.get(id);
      if ((this.#mode !== "leaks-foreign-keys" && this.#mode !== "forbids-foreign-keys") || !(e instanceof KeyNotFound) || !creator) throw e;
      if (this.#mode === "forbids-foreign-keys") throw new KeyManagerError("Forbidden: the secret belongs to another project");
      return asCreator(creator);
    }
  }
}

interface Outcome {
  passed: string[];
  failed: string[];
}

/** Runs the conformance suite in its own Mocha instance and reports per-test results. */
async function runConformance(mode: Mode): Promise<Outcome> {
  const m = new Mocha({ reporter: Mocha.reporters.Base, timeout: 60_000 });
  const bdd: Record<string, unknown> = {};
  m.suite.emit("pre-require", bdd, "conformance-self", m);
  const roots: string[] = [];
  let clock = Date.now();
  const factory = async (): Promise<KeystoreFixture> => {
    const root = await mkdtemp(join(tmpdir(), "virsecret-ks-self-"));
    roots.push(root);
    const store = await SecretStore.open({ root, masterKey: { key: new Uint8Array(randomBytes(32)) } });
    clock = Date.now();
    const inner = new LocalKeyManager(store, { now: () => clock });
    return {
      km: new WrappedKeyManager(inner, mode),
      ctxA: { user: "alice", project: "tenant-a" },
      ctxB: { user: "bob", project: "tenant-b" },
      advanceTime: async (s) => {
        clock += s * 1000;
      },
      cleanup: async () => {
        await store.close();
        await rm(root, { recursive: true, force: true });
      },
    };
  };
  keystoreConformance({ name: mode, factory, bdd: bdd as unknown as BddInterface, scale: { parallel: 6, listing: 40 } });
  const out: Outcome = { passed: [], failed: [] };
  await new Promise<void>((resolve) => {
    const runner = m.run(() => resolve());
    runner.on("pass", (t) => out.passed.push(t.title));
    runner.on("fail", (t) => out.failed.push(t.title));
  });
  for (const r of roots) await rm(r, { recursive: true, force: true });
  return out;
}

const FOREIGN_TESTS = [
  "look exactly like absent keys to get, delete and copy",
  "are not listed, and B's failed copy created nothing",
  "work both ways: A cannot reach B's key either",
  "deleteKeyIdempotent treats a foreign key as absent and leaves it",
];

describe("keystore conformance suite (self-test)", function () {
  this.timeout(180_000);

  it("passes a faithful wrapper of the local backend: the harness itself is sound", async function () {
    const r = await runConformance("faithful");
    expect(r.failed).to.deep.equal([]);
    expect(r.passed.length).to.be.greaterThan(30);
  });

  it("fails a backend that leaks another owner's keys, in exactly the ownership tests", async function () {
    const r = await runConformance("leaks-foreign-keys");
    expect(r.failed).to.include.members(FOREIGN_TESTS);
    // the rest of the contract still holds for this wrapper, so only ownership is blamed
    expect(r.failed.filter((t) => !FOREIGN_TESTS.includes(t))).to.deep.equal([]);
    expect(r.passed).to.include("defaults to a 256-bit AES symmetric key");
  });

  it("fails a backend that answers foreign keys with a different error than absent ones", async function () {
    const r = await runConformance("forbids-foreign-keys");
    expect(r.failed).to.include("look exactly like absent keys to get, delete and copy");
    expect(r.failed).to.include("work both ways: A cannot reach B's key either");
    expect(r.failed.length).to.be.greaterThan(0);
  });

  it("fails a backend whose listing stops after the first page", async function () {
    const r = await runConformance("lists-one-page");
    expect(r.failed).to.include("returns all 40 keys (backends page internally), filters included");
    expect(r.passed).to.include("look exactly like absent keys to get, delete and copy");
  });

  it("fails a backend that serves a missing context", async function () {
    const r = await runConformance("trusts-no-context");
    expect(r.failed).to.include.members([
      "refuses a null context with NotAuthorized on every method",
      "refuses a undefined context with NotAuthorized on every method",
      "deleteKeyIdempotent deletes a present key and swallows only KeyNotFound",
    ]);
  });
});
