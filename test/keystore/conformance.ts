// The ONE conformance suite every KeyManager backend runs (local, kmip,
// barbican), in the shape of abstract-level's test suite: a backend's own
// test file calls keystoreConformance({ name, factory }) and the suite
// defines mocha describe/it blocks against fresh fixtures from the factory.
//
// Shape:
//   keystoreConformance({
//     name: "local",                      // shows in the suite title
//     factory: async () => ({             // called before EVERY test
//       km,                               // the backend under test (owner A, and B unless kmB)
//       kmB?,                             // B's view where identity is per connection (KMIP client certs)
//       ctxA, ctxB,                       // two owners who own NOTHING yet (fresh projects / users)
//       randomId?,                        // a well-formed id naming no object (default: a random UUID)
//       advanceTime?,                     // moves the backend's clock; without it expiry tests wait
//       cleanup?,                         // runs after km.close() (and kmB.close())
//     }),
//     bdd?,                               // mocha functions to define with (default: the globals)
//     scale?: { parallel?: 20, listing?: 250 },
//     timeoutMs?: 30000,
//   });
//
// Optional abilities come from km.supports, like abstract-level's manifest:
// storeKey is tested for every kind in supports.kinds, expiration only where
// supports.expiration is true; nothing else is optional. The suite checks
// behaviour through the public interface only, so it cannot be satisfied by
// a backend that merely special-cases the suite.
import { randomBytes, randomUUID } from "node:crypto";
import { expect } from "chai";
import {
  type Context,
  type KeyManager,
  type ManagedObject,
  type ManagedObjectKind,
  type NewManagedObject,
  KeyManagerError,
  KeyNotFound,
  NotAuthorized,
} from "../../src/keystore/key-manager.js";
import { MAX_KEY_OBJECT_BYTES, deleteKeyIdempotent } from "../../src/keystore/util.js";
import { rejection } from "../helpers/reject.js";

export interface KeystoreFixture {
  readonly km: KeyManager;
  readonly kmB?: KeyManager;
  readonly ctxA: Context;
  readonly ctxB: Context;
  readonly randomId?: () => string;
  readonly advanceTime?: (seconds: number) => Promise<void>;
  readonly cleanup?: () => Promise<void>;
}

/** The mocha functions the suite defines its tests with (a nested Mocha instance passes its own). */
export interface BddInterface {
  readonly describe: Mocha.SuiteFunction;
  readonly it: Mocha.TestFunction;
  readonly beforeEach: Mocha.HookFunction;
  readonly afterEach: Mocha.HookFunction;
}

export interface KeystoreConformanceOptions {
  readonly name: string;
  readonly factory: () => Promise<KeystoreFixture>;
  readonly bdd?: BddInterface;
  readonly scale?: { readonly parallel?: number; readonly listing?: number };
  readonly timeoutMs?: number;
}

const ALL_KINDS: readonly ManagedObjectKind[] = ["symmetric", "passphrase", "opaque"];

/** What a caller can observe of a "not found" error, with the id taken out. */
function errorShape(e: unknown, id: string): Record<string, unknown> {
  if (!(e instanceof Error)) return { notAnError: String(e) };
  const ex = e as Error & { code?: unknown; keyId?: unknown };
  return {
    class: e.constructor.name,
    name: e.name,
    code: ex.code,
    message: id === "" ? e.message : e.message.split(id).join("<id>"),
    keyIdIsTheId: ex.keyId === id,
    isKeyManagerError: e instanceof KeyManagerError,
    isKeyNotFound: e instanceof KeyNotFound,
    ownKeys: Object.keys(e).sort().join(","),
  };
}

function sampleObject(kind: ManagedObjectKind, name?: string): NewManagedObject {
  switch (kind) {
    case "symmetric":
      return { kind, algorithm: "AES", bitLength: 256, value: new Uint8Array(randomBytes(32)), ...(name ? { name } : {}) };
    case "passphrase":
      return { kind, value: new TextEncoder().encode(`correct horse ${randomUUID()}`), ...(name ? { name } : {}) };
    case "opaque": {
      // every byte value, so no encoding step (text, hex, base64) may lose any
      const v = new Uint8Array(1024);
      for (let i = 0; i < v.length; i++) v[i] = i & 0xff;
      v.set(randomBytes(16), 0);
      return { kind, value: v, ...(name ? { name } : {}) };
    }
  }
}

const hex = (b: Uint8Array | undefined): string => (b ? Buffer.from(b).toString("hex") : "<none>");
const nowSec = (): number => Date.now() / 1000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function expectSameMetadata(got: ManagedObject, want: NewManagedObject): void {
  expect(got.kind).to.equal(want.kind);
  if (want.kind === "symmetric") {
    expect(got.algorithm?.toUpperCase()).to.equal(want.algorithm?.toUpperCase());
    expect(got.bitLength).to.equal(want.value.length * 8);
  }
  expect(got.name).to.equal(want.name);
}

export function keystoreConformance(opts: KeystoreConformanceOptions): void {
  const bdd: BddInterface = opts.bdd ?? { describe, it: globalThis.it, beforeEach, afterEach };
  const parallel = opts.scale?.parallel ?? 20;
  const listing = opts.scale?.listing ?? 250;
  const { it } = bdd;

  bdd.describe(`KeyManager conformance: ${opts.name}`, function () {
    this.timeout(opts.timeoutMs ?? 30_000);
    let f: KeystoreFixture;
    let km: KeyManager;
    let kmB: KeyManager;
    let A: Context;
    let B: Context;
    const randomId = (): string => (f.randomId ? f.randomId() : randomUUID());

    bdd.beforeEach(async function () {
      f = await opts.factory();
      km = f.km;
      kmB = f.kmB ?? f.km;
      A = f.ctxA;
      B = f.ctxB;
    });
    bdd.afterEach(async function () {
      if (!f) return;
      await f.km.close();
      if (f.kmB) await f.kmB.close();
      if (f.cleanup) await f.cleanup();
    });

    bdd.describe("manifest", function () {
      it("declares a type and the kinds it stores, symmetric among them", function () {
        expect(km.type).to.be.a("string").and.not.equal("");
        expect(km.supports.kinds).to.include("symmetric");
        for (const k of km.supports.kinds) expect(ALL_KINDS).to.include(k);
        expect(km.supports.expiration).to.be.a("boolean");
      });
    });

    bdd.describe("createKey", function () {
      it("defaults to a 256-bit AES symmetric key", async function () {
        const before = Math.floor(nowSec()) - 1;
        const id = await km.createKey(A);
        const after = Math.ceil(nowSec()) + 1;
        expect(id).to.be.a("string").and.not.equal("");
        const k = await km.getKey(A, id);
        expect(k.id).to.equal(id);
        expect(k.kind).to.equal("symmetric");
        expect(k.algorithm?.toUpperCase()).to.equal("AES");
        expect(k.bitLength).to.equal(256);
        expect(k.value).to.be.instanceOf(Uint8Array);
        expect(k.value!.length).to.equal(32);
        expect(Number.isInteger(k.created)).to.equal(true, "created is whole POSIX seconds");
        expect(k.created).to.be.within(before, after);
        expect(k.expiration).to.equal(undefined);
      });

      it("makes exactly length/8 bytes (128 → 16) and keeps the name", async function () {
        const id = await km.createKey(A, { length: 128, name: "vol-key" });
        const k = await km.getKey(A, id);
        expect(k.bitLength).to.equal(128);
        expect(k.value!.length).to.equal(16);
        expect(k.name).to.equal("vol-key");
      });

      it("accepts cinder's lower-case algorithm name 'aes'", async function () {
        const id = await km.createKey(A, { algorithm: "aes", length: 256 });
        const k = await km.getKey(A, id);
        expect(k.algorithm?.toUpperCase()).to.equal("AES");
        expect(k.value!.length).to.equal(32);
      });

      it("gives every key a new id and new random bytes", async function () {
        const a = await km.createKey(A);
        const b = await km.createKey(A);
        expect(a).to.not.equal(b);
        const [ka, kb] = await Promise.all([km.getKey(A, a), km.getKey(A, b)]);
        expect(hex(ka.value)).to.not.equal(hex(kb.value));
        expect(hex(ka.value)).to.not.match(/^(00)+$/);
      });
    });

    // A backend that lacks an optional ability must say so with a
    // KeyManagerError and store nothing, never ignore the request: so these
    // tests assert the refusal instead of being skipped.
    const refusesKind = async (kind: ManagedObjectKind): Promise<void> => {
      const e = await rejection(km.storeKey(A, sampleObject(kind, `unsupported-${kind}`)));
      expect(e).to.be.instanceOf(KeyManagerError);
      expect(await km.listKeys(A)).to.deep.equal([]);
    };
    const refusesExpiration = async (): Promise<void> => {
      const exp = Math.floor(nowSec()) + 3600;
      for (const call of [() => km.createKey(A, { expiration: exp }), () => km.storeKey(A, sampleObject("symmetric"), { expiration: exp })]) {
        const e = await rejection(call());
        expect(e).to.be.instanceOf(KeyManagerError);
        expect((e as KeyManagerError).code).to.equal("KEY_MANAGER_ERROR");
      }
      expect(await km.listKeys(A)).to.deep.equal([]);
    };

    bdd.describe("storeKey and getKey", function () {
      for (const kind of ALL_KINDS) {
        it(`round-trips a ${kind} object (bytes and metadata)`, async function () {
          if (!km.supports.kinds.includes(kind)) return refusesKind(kind);
          const obj = sampleObject(kind, `stored-${kind}`);
          const id = await km.storeKey(A, obj);
          const k = await km.getKey(A, id);
          expect(k.id).to.equal(id);
          expectSameMetadata(k, obj);
          expect(hex(k.value)).to.equal(hex(obj.value));
          if (kind !== "symmetric") expect(k.bitLength).to.equal(undefined);
          expect(Number.isInteger(k.created)).to.equal(true);
        });

        it(`returns ${kind} metadata without a value when metadataOnly`, async function () {
          if (!km.supports.kinds.includes(kind)) return refusesKind(kind);
          const obj = sampleObject(kind, `meta-${kind}`);
          const id = await km.storeKey(A, obj);
          const full = await km.getKey(A, id);
          const meta = await km.getKey(A, id, { metadataOnly: true });
          expect(meta.value).to.equal(undefined);
          expectSameMetadata(meta, obj);
          expect(meta.id).to.equal(id);
          expect(meta.created).to.equal(full.created);
        });
      }

      it("hands out copies: changing a returned value changes nothing stored", async function () {
        const obj = sampleObject("symmetric");
        const id = await km.storeKey(A, obj);
        const k = await km.getKey(A, id);
        k.value!.fill(0);
        expect(hex((await km.getKey(A, id)).value)).to.equal(hex(obj.value));
      });

      it("is not affected by the caller changing its input after the call", async function () {
        const obj = sampleObject("symmetric");
        const want = hex(obj.value);
        const id = await km.storeKey(A, obj);
        (obj.value as Uint8Array).fill(7);
        expect(hex((await km.getKey(A, id)).value)).to.equal(want);
      });

      it("gives KeyNotFound with the id for an absent key", async function () {
        const id = randomId();
        const e = await rejection(km.getKey(A, id));
        expect(e).to.be.instanceOf(KeyNotFound);
        expect((e as KeyNotFound).code).to.equal("KEY_NOT_FOUND");
        expect((e as KeyNotFound).keyId).to.equal(id);
      });
    });

    bdd.describe("deleteKey", function () {
      it("removes the key; a second delete gives KeyNotFound", async function () {
        const id = await km.createKey(A);
        await km.deleteKey(A, id);
        expect(await rejection(km.getKey(A, id))).to.be.instanceOf(KeyNotFound);
        const e = await rejection(km.deleteKey(A, id));
        expect(e).to.be.instanceOf(KeyNotFound);
        expect((e as KeyNotFound).keyId).to.equal(id);
      });

      it("deleteKeyIdempotent deletes a present key and swallows only KeyNotFound", async function () {
        const id = await km.createKey(A);
        expect(await deleteKeyIdempotent(km, A, id)).to.equal(true);
        expect(await deleteKeyIdempotent(km, A, id)).to.equal(false);
        expect(await deleteKeyIdempotent(km, A, randomId())).to.equal(false);
        expect(await rejection(deleteKeyIdempotent(km, null, randomId()))).to.be.instanceOf(NotAuthorized);
      });

      it("deletes only the named key", async function () {
        const a = await km.createKey(A);
        const b = await km.createKey(A);
        await km.deleteKey(A, a);
        expect((await km.getKey(A, b)).id).to.equal(b);
      });
    });

    bdd.describe("copyKey", function () {
      it("makes a new id with equal bytes and metadata; the original stays", async function () {
        const obj = sampleObject("symmetric", "byok");
        const id = await km.storeKey(A, obj);
        const copy = await km.copyKey(A, id);
        expect(copy).to.be.a("string").and.not.equal(id);
        const [orig, dup] = await Promise.all([km.getKey(A, id), km.getKey(A, copy)]);
        expect(hex(dup.value)).to.equal(hex(obj.value));
        expect(hex(orig.value)).to.equal(hex(obj.value));
        expectSameMetadata(dup, obj);
        expect(dup.id).to.equal(copy);
      });

      it("copy and original are independent: deleting one leaves the other", async function () {
        const id = await km.createKey(A);
        const c1 = await km.copyKey(A, id);
        const c2 = await km.copyKey(A, id);
        expect(new Set([id, c1, c2]).size).to.equal(3);
        await km.deleteKey(A, c1);
        const orig = await km.getKey(A, id);
        await km.deleteKey(A, id);
        expect(hex((await km.getKey(A, c2)).value)).to.equal(hex(orig.value));
      });

      for (const kind of ["passphrase", "opaque"] as const) {
        it(`copies a ${kind} object`, async function () {
          if (!km.supports.kinds.includes(kind)) return refusesKind(kind);
          const obj = sampleObject(kind, `copy-${kind}`);
          const id = await km.storeKey(A, obj);
          const c = await km.copyKey(A, id);
          const dup = await km.getKey(A, c);
          expectSameMetadata(dup, obj);
          expect(hex(dup.value)).to.equal(hex(obj.value));
        });
      }

      it("gives KeyNotFound for an absent key and creates nothing", async function () {
        const id = randomId();
        const e = await rejection(km.copyKey(A, id));
        expect(e).to.be.instanceOf(KeyNotFound);
        expect((e as KeyNotFound).keyId).to.equal(id);
        expect(await km.listKeys(A)).to.have.length(0);
      });
    });

    bdd.describe("listKeys", function () {
      it("is empty for a fresh owner", async function () {
        expect(await km.listKeys(A)).to.deep.equal([]);
      });

      it("lists every own object, with values unless metadataOnly, and filters by kind and name", async function () {
        const want = new Map<string, NewManagedObject>();
        for (const name of ["alpha", "beta", "beta"]) {
          const o = sampleObject("symmetric", name);
          want.set(await km.storeKey(A, o), o);
        }
        for (const kind of km.supports.kinds.filter((k) => k !== "symmetric")) {
          const o = sampleObject(kind, "beta");
          want.set(await km.storeKey(A, o), o);
        }
        const all = await km.listKeys(A);
        expect(all.map((o) => o.id).sort()).to.deep.equal([...want.keys()].sort());
        for (const o of all) {
          expect(hex(o.value)).to.equal(hex(want.get(o.id)!.value));
          expectSameMetadata(o, want.get(o.id)!);
        }
        const meta = await km.listKeys(A, { metadataOnly: true });
        expect(meta).to.have.length(want.size);
        for (const o of meta) expect(o.value).to.equal(undefined);

        const sym = await km.listKeys(A, { kind: "symmetric" });
        expect(sym.map((o) => o.id).sort()).to.deep.equal(
          [...want].filter(([, o]) => o.kind === "symmetric").map(([id]) => id).sort(),
        );
        const beta = await km.listKeys(A, { name: "beta" });
        expect(beta.map((o) => o.id).sort()).to.deep.equal(
          [...want].filter(([, o]) => o.name === "beta").map(([id]) => id).sort(),
        );
        const symBeta = await km.listKeys(A, { kind: "symmetric", name: "beta" });
        expect(symBeta).to.have.length(2);
        expect(await km.listKeys(A, { name: "gamma" })).to.deep.equal([]);
      });

      it("no longer lists a deleted key", async function () {
        const a = await km.createKey(A);
        const b = await km.createKey(A);
        await km.deleteKey(A, a);
        expect((await km.listKeys(A)).map((o) => o.id)).to.deep.equal([b]);
      });
    });

    bdd.describe("context", function () {
      const calls = (k: KeyManager, ctx: null | undefined, id: string): Array<[string, () => Promise<unknown>]> => [
        ["createKey", () => k.createKey(ctx)],
        ["storeKey", () => k.storeKey(ctx, sampleObject("symmetric"))],
        ["getKey", () => k.getKey(ctx, id)],
        ["getKey metadataOnly", () => k.getKey(ctx, id, { metadataOnly: true })],
        ["deleteKey", () => k.deleteKey(ctx, id)],
        ["copyKey", () => k.copyKey(ctx, id)],
        ["listKeys", () => k.listKeys(ctx)],
      ];

      for (const ctx of [null, undefined]) {
        it(`refuses a ${String(ctx)} context with NotAuthorized on every method`, async function () {
          const id = await km.createKey(A);
          for (const [what, call] of calls(km, ctx, id)) {
            const e = await rejection(call());
            expect(e, what).to.be.instanceOf(NotAuthorized);
            expect((e as NotAuthorized).code, what).to.equal("KEY_NOT_AUTHORIZED");
          }
          // nothing was created, nothing deleted
          expect((await km.listKeys(A)).map((o) => o.id)).to.deep.equal([id]);
        });
      }

      it("refuses a missing context before any I/O (still NotAuthorized once closed)", async function () {
        await km.close();
        for (const [what, call] of calls(km, null, randomId())) {
          expect(await rejection(call()), what).to.be.instanceOf(NotAuthorized);
        }
      });

      it("close() may be called twice", async function () {
        await km.close();
        await km.close();
      });
    });

    bdd.describe("another owner's keys", function () {
      // B must learn nothing about A's ids: every error for A's key must be
      // the error for an id that names nothing (same class, code, message
      // with the id taken out, same fields).
      const ops = (k: KeyManager, ctx: Context): Array<[string, (id: string) => Promise<unknown>]> => [
        ["getKey", (id) => k.getKey(ctx, id)],
        ["getKey metadataOnly", (id) => k.getKey(ctx, id, { metadataOnly: true })],
        ["deleteKey", (id) => k.deleteKey(ctx, id)],
        ["copyKey", (id) => k.copyKey(ctx, id)],
      ];

      it("look exactly like absent keys to get, delete and copy", async function () {
        const obj = sampleObject("symmetric", "a-secret");
        const idA = await km.storeKey(A, obj);
        const gone = await kmB.createKey(B);
        await kmB.deleteKey(B, gone);
        for (const [what, op] of ops(kmB, B)) {
          const absent = randomId();
          const eForeign = await rejection(op(idA));
          const eAbsent = await rejection(op(absent));
          const eDeleted = await rejection(op(gone));
          expect(eForeign, `${what} on another owner's key`).to.be.instanceOf(KeyNotFound);
          expect(errorShape(eForeign, idA), what).to.deep.equal(errorShape(eAbsent, absent));
          expect(errorShape(eDeleted, gone), what).to.deep.equal(errorShape(eAbsent, absent));
          expect(String((eForeign as Error).message)).to.not.include(hex(obj.value));
          expect(String((eForeign as Error).stack)).to.not.include(hex(obj.value));
        }
        // and A's key is untouched by all of it
        const k = await km.getKey(A, idA);
        expect(hex(k.value)).to.equal(hex(obj.value));
      });

      it("are not listed, and B's failed copy created nothing", async function () {
        const idA = await km.createKey(A, { name: "shared-name" });
        await rejection(kmB.copyKey(B, idA));
        expect(await kmB.listKeys(B)).to.deep.equal([]);
        expect(await kmB.listKeys(B, { name: "shared-name" })).to.deep.equal([]);
        const idB = await kmB.createKey(B, { name: "shared-name" });
        expect((await kmB.listKeys(B)).map((o) => o.id)).to.deep.equal([idB]);
        expect((await km.listKeys(A)).map((o) => o.id)).to.deep.equal([idA]);
      });

      it("work both ways: A cannot reach B's key either", async function () {
        const idB = await kmB.createKey(B);
        for (const [what, op] of ops(km, A)) {
          const absent = randomId();
          expect(errorShape(await rejection(op(idB)), idB), what).to.deep.equal(
            errorShape(await rejection(op(absent)), absent),
          );
        }
        expect((await kmB.getKey(B, idB)).id).to.equal(idB);
      });

      it("deleteKeyIdempotent treats a foreign key as absent and leaves it", async function () {
        const idA = await km.createKey(A);
        expect(await deleteKeyIdempotent(kmB, B, idA)).to.equal(false);
        expect((await km.getKey(A, idA)).id).to.equal(idA);
      });
    });

    bdd.describe("expiration", function () {
      const passTime = async (until: number): Promise<void> => {
        if (f.advanceTime) {
          await f.advanceTime(until - nowSec() + 1);
          return;
        }
        while (nowSec() <= until + 0.05) await sleep(100);
      };

      it("records the expiration given to createKey and storeKey", async function () {
        if (!km.supports.expiration) return refusesExpiration();
        const exp = Math.floor(nowSec()) + 3600;
        const a = await km.createKey(A, { expiration: exp });
        const b = await km.storeKey(A, sampleObject("symmetric"), { expiration: exp });
        expect((await km.getKey(A, a)).expiration).to.equal(exp);
        expect((await km.getKey(A, b, { metadataOnly: true })).expiration).to.equal(exp);
      });

      it("makes an expired key absent to get, copy, delete and list", async function () {
        if (!km.supports.expiration) return refusesExpiration();
        this.timeout(20_000);
        const exp = Math.floor(nowSec()) + 2;
        const id = await km.createKey(A, { expiration: exp });
        const keep = await km.createKey(A);
        expect((await km.getKey(A, id)).id).to.equal(id);
        await passTime(exp);
        for (const call of [() => km.getKey(A, id), () => km.copyKey(A, id), () => km.deleteKey(A, id)]) {
          const e = await rejection(call());
          expect(e).to.be.instanceOf(KeyNotFound);
          expect((e as KeyNotFound).keyId).to.equal(id);
        }
        expect((await km.listKeys(A)).map((o) => o.id)).to.deep.equal([keep]);
      });

      it("refuses an expiration in the past", async function () {
        if (!km.supports.expiration) return refusesExpiration();
        const past = Math.floor(nowSec()) - 60;
        const e = await rejection(km.createKey(A, { expiration: past }));
        expect(e).to.be.instanceOf(KeyManagerError);
        expect((e as KeyManagerError).code).to.equal("KEY_MANAGER_ERROR");
        expect(await km.listKeys(A)).to.deep.equal([]);
      });
    });

    bdd.describe("concurrency", function () {
      it(`creates ${parallel} keys at once with unique ids, then deletes them all at once`, async function () {
        const ids = await Promise.all(Array.from({ length: parallel }, (_, i) => km.createKey(A, { name: `p${i}` })));
        expect(new Set(ids).size).to.equal(parallel);
        const got = await Promise.all(ids.map((id) => km.getKey(A, id)));
        expect(new Set(got.map((k) => hex(k.value))).size).to.equal(parallel);
        expect((await km.listKeys(A)).length).to.equal(parallel);
        await Promise.all(ids.map((id) => km.deleteKey(A, id)));
        expect(await km.listKeys(A)).to.deep.equal([]);
      });

      it("runs stores, copies and two owners' calls side by side", async function () {
        const src = await km.createKey(A);
        const work: Array<Promise<string>> = [];
        for (let i = 0; i < parallel; i++) {
          work.push(i % 2 ? km.copyKey(A, src) : km.storeKey(A, sampleObject("symmetric", `s${i}`)));
          work.push(kmB.createKey(B));
        }
        const ids = await Promise.all(work);
        expect(new Set([src, ...ids]).size).to.equal(ids.length + 1);
        expect((await km.listKeys(A)).length).to.equal(parallel + 1);
        expect((await kmB.listKeys(B)).length).to.equal(parallel);
      });

      it("lets parallel deletes of one key succeed (at least once) and the rest give KeyNotFound", async function () {
        const id = await km.createKey(A);
        const results = await Promise.allSettled(Array.from({ length: 5 }, () => km.deleteKey(A, id)));
        const ok = results.filter((r) => r.status === "fulfilled").length;
        expect(ok).to.be.at.least(1);
        for (const r of results) if (r.status === "rejected") expect(r.reason).to.be.instanceOf(KeyNotFound);
        expect(await rejection(km.getKey(A, id))).to.be.instanceOf(KeyNotFound);
      });
    });

    bdd.describe("large listings", function () {
      it(`returns all ${listing} keys (backends page internally), filters included`, async function () {
        this.timeout(Math.max(60_000, opts.timeoutMs ?? 0));
        const ids: string[] = [];
        const tenth = new Set<string>();
        for (let start = 0; start < listing; start += 25) {
          const batch = await Promise.all(
            Array.from({ length: Math.min(25, listing - start) }, (_, j) => {
              const i = start + j;
              return km.createKey(A, { name: i % 10 === 0 ? "tenth" : `bulk-${i}`, length: 128 });
            }),
          );
          batch.forEach((id, j) => {
            ids.push(id);
            if ((start + j) % 10 === 0) tenth.add(id);
          });
        }
        const all = await km.listKeys(A, { metadataOnly: true });
        expect(all.length).to.equal(listing);
        expect(all.map((o) => o.id).sort()).to.deep.equal([...ids].sort());
        const named = await km.listKeys(A, { name: "tenth" });
        expect(named.map((o) => o.id).sort()).to.deep.equal([...tenth].sort());
        for (const o of named) expect(o.value!.length).to.equal(16);
      });
    });

    bdd.describe("bad input", function () {
      const expectManagerError = (e: unknown, what: string): void => {
        expect(e, what).to.be.instanceOf(KeyManagerError);
        expect((e as KeyManagerError).code, what).to.equal("KEY_MANAGER_ERROR");
      };

      it("refuses an unknown algorithm", async function () {
        expectManagerError(await rejection(km.createKey(A, { algorithm: "ROT13" })), "ROT13");
        expectManagerError(await rejection(km.createKey(A, { algorithm: "" })), "empty algorithm");
        expect(await km.listKeys(A)).to.deep.equal([]);
      });

      it("refuses lengths that are 0, negative, odd, fractional or not a multiple of 8", async function () {
        for (const length of [0, -8, 7, 1.5, 100, Number.NaN, Number.POSITIVE_INFINITY]) {
          expectManagerError(await rejection(km.createKey(A, { length })), `length ${length}`);
        }
        expect(await km.listKeys(A)).to.deep.equal([]);
      });

      it(`refuses a value over the ${MAX_KEY_OBJECT_BYTES}-byte cap, and an empty one`, async function () {
        const kind = km.supports.kinds.includes("opaque") ? "opaque" : "symmetric";
        const huge: NewManagedObject =
          kind === "opaque"
            ? { kind, value: new Uint8Array(MAX_KEY_OBJECT_BYTES + 1) }
            : { kind, algorithm: "AES", value: new Uint8Array(MAX_KEY_OBJECT_BYTES + 1) };
        expectManagerError(await rejection(km.storeKey(A, huge)), "huge value");
        expectManagerError(
          await rejection(km.storeKey(A, { kind: "symmetric", algorithm: "AES", value: new Uint8Array(0) })),
          "empty value",
        );
        expect(await km.listKeys(A)).to.deep.equal([]);
      });

      it("refuses malformed objects: unknown kind, non-bytes value, wrong bit length, over-long name", async function () {
        const bad: Array<[string, unknown]> = [
          ["unknown kind", { kind: "private", value: new Uint8Array(8) }],
          ["string value", { kind: "symmetric", algorithm: "AES", value: "00112233" }],
          ["bit length mismatch", { kind: "symmetric", algorithm: "AES", bitLength: 128, value: new Uint8Array(32) }],
          ["name too long", { kind: "symmetric", algorithm: "AES", value: new Uint8Array(32), name: "n".repeat(300) }],
        ];
        for (const [what, obj] of bad) {
          expectManagerError(await rejection(km.storeKey(A, obj as NewManagedObject)), what);
        }
        expect(await km.listKeys(A)).to.deep.equal([]);
      });

      it("answers malformed ids with a KeyManagerError and keeps working", async function () {
        const ids = ["", "../x", "x".repeat(10_000), "a/b", "%2e%2e%2fx", "\u0000", " ", "\u{1F511}"];
        for (const id of ids) {
          for (const [what, call] of [
            ["getKey", () => km.getKey(A, id)],
            ["deleteKey", () => km.deleteKey(A, id)],
            ["copyKey", () => km.copyKey(A, id)],
          ] as const) {
            const e = await rejection(call());
            const label = `${what}(${JSON.stringify(id.slice(0, 12))})`;
            expect(e, label).to.be.instanceOf(KeyManagerError);
            expect((e as KeyManagerError).code, label).to.not.equal("KEY_NOT_AUTHORIZED");
          }
        }
        for (const id of [42, null, undefined, {}] as unknown as string[]) {
          expect(await rejection(km.getKey(A, id)), `id ${String(id)}`).to.be.instanceOf(KeyManagerError);
        }
        const id = await km.createKey(A);
        expect((await km.getKey(A, id)).id).to.equal(id);
        expect((await km.listKeys(A)).map((o) => o.id)).to.deep.equal([id]);
      });
    });
  });
}
