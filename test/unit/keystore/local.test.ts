// The local key manager: the shared conformance suite (real LevelDB on disk,
// a fresh root per test), then what only a local backend can show: owner
// rules, persistence across reopen, the shared-store lifecycle, and that no
// key byte reaches any file under the root.
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { expect } from "chai";
import { rejection } from "../../helpers/reject.js";
import { keystoreConformance } from "../../keystore/conformance.js";
import { KeyManagerError, KeyNotFound, NotAuthorized, type Context } from "../../../src/keystore/key-manager.js";
import { KEYS_SPACE, LocalKeyManager, openLocalKeystore } from "../../../src/keystore/local.js";
import { SecretStore } from "../../../src/store/db.js";

const tempRoot = (): Promise<string> => mkdtemp(join(tmpdir(), "virsecret-ks-local-"));
const alice: Context = { user: "alice", project: "tenant-a" };
const bob: Context = { user: "bob", project: "tenant-b" };

// 1. A LocalKeyManager over a store the caller opened (the driver's shared root).
keystoreConformance({
  name: "local (shared store)",
  factory: async () => {
    const root = await tempRoot();
    const store = await SecretStore.open({ root, masterKey: { key: new Uint8Array(randomBytes(32)) } });
    let skew = 0;
    const km = new LocalKeyManager(store, { now: () => Date.now() + skew });
    return {
      km,
      ctxA: alice,
      ctxB: bob,
      advanceTime: async (s) => {
        skew += s * 1000;
      },
      cleanup: async () => {
        await store.close();
        await rm(root, { recursive: true, force: true });
      },
    };
  },
});

// 2. openLocalKeystore with a root of its own; no clock control, so expiry really waits.
keystoreConformance({
  name: "local (own root)",
  factory: async () => {
    const root = await tempRoot();
    const km = await openLocalKeystore({ root });
    return { km, ctxA: { user: "carol" }, ctxB: { user: "dave" }, cleanup: () => rm(root, { recursive: true, force: true }) };
  },
});

/** Every regular file under dir, recursively. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

describe("LocalKeyManager", function () {
  let root: string;
  beforeEach(async function () {
    root = await tempRoot();
  });
  afterEach(async function () {
    await rm(root, { recursive: true, force: true });
  });

  describe("owners", function () {
    it("refuses a context with neither project nor user", async function () {
      const km = await openLocalKeystore({ root });
      try {
        for (const ctx of [{}, { roles: ["admin"] }, { project: "", user: "" }, { token: "t" }] as Context[]) {
          expect(await rejection(km.createKey(ctx)), JSON.stringify(ctx)).to.be.instanceOf(NotAuthorized);
          expect(await rejection(km.listKeys(ctx)), JSON.stringify(ctx)).to.be.instanceOf(NotAuthorized);
        }
      } finally {
        await km.close();
      }
    });

    it("scopes to the project when there is one, else to the user", async function () {
      const km = await openLocalKeystore({ root });
      try {
        const id = await km.createKey({ user: "u1", project: "p" });
        // another user of the same project sees it (Barbican's project scope)
        expect((await km.getKey({ user: "u2", project: "p" }, id)).id).to.equal(id);
        // a user named like the project is someone else
        expect(await rejection(km.getKey({ user: "p" }, id))).to.be.instanceOf(KeyNotFound);
        // a user-only context owns its own keys
        const mine = await km.createKey({ user: "u1" });
        expect(await rejection(km.getKey({ user: "u1", project: "p" }, mine))).to.be.instanceOf(KeyNotFound);
        expect((await km.listKeys({ user: "u1" })).map((o) => o.id)).to.deep.equal([mine]);
      } finally {
        await km.close();
      }
    });

    it("keeps owners apart even when names contain '/' or are very long", async function () {
      const km = await openLocalKeystore({ root });
      try {
        const a = await km.createKey({ project: "a/b" });
        const b = await km.createKey({ project: "a" });
        const long = await km.createKey({ project: "x".repeat(10_000) });
        expect((await km.listKeys({ project: "a/b" })).map((o) => o.id)).to.deep.equal([a]);
        expect((await km.listKeys({ project: "a" })).map((o) => o.id)).to.deep.equal([b]);
        expect((await km.listKeys({ project: "x".repeat(10_000) })).map((o) => o.id)).to.deep.equal([long]);
        expect(await km.listKeys({ project: "x".repeat(9_999) })).to.deep.equal([]);
      } finally {
        await km.close();
      }
    });

    it("accepts an id in upper case as the same key", async function () {
      const km = await openLocalKeystore({ root });
      try {
        const id = await km.createKey(alice);
        expect((await km.getKey(alice, id.toUpperCase())).id).to.equal(id);
      } finally {
        await km.close();
      }
    });
  });

  describe("concurrency", function () {
    it("lets exactly one of several parallel deletes of a key succeed", async function () {
      const km = await openLocalKeystore({ root });
      try {
        const id = await km.createKey(alice);
        const results = await Promise.allSettled(Array.from({ length: 8 }, () => km.deleteKey(alice, id)));
        expect(results.filter((r) => r.status === "fulfilled")).to.have.length(1);
        for (const r of results) if (r.status === "rejected") expect(r.reason).to.be.instanceOf(KeyNotFound);
      } finally {
        await km.close();
      }
    });
  });

  describe("persistence", function () {
    it("reads the same bytes and metadata after closing and reopening the root", async function () {
      const exp = Math.floor(Date.now() / 1000) + 3600;
      let km = await openLocalKeystore({ root });
      const id = await km.createKey(alice, { name: "disk-1", expiration: exp });
      const pass = await km.storeKey(bob, { kind: "passphrase", name: "pp", value: new TextEncoder().encode("s3cret text") });
      const before = await km.getKey(alice, id);
      await km.close();
      km = await openLocalKeystore({ root });
      try {
        expect(await km.getKey(alice, id)).to.deep.equal(before);
        const p = await km.getKey(bob, pass);
        expect(new TextDecoder().decode(p.value)).to.equal("s3cret text");
        expect(p.kind).to.equal("passphrase");
        expect(p.name).to.equal("pp");
        expect((await km.getKey(alice, id)).expiration).to.equal(exp);
      } finally {
        await km.close();
      }
    });

    it("cannot be read with another master key", async function () {
      const keyFile = join(root, "..", `${root.split("/").pop()}.key`);
      await writeFile(keyFile, randomBytes(32), { mode: 0o600 });
      try {
        const km = await openLocalKeystore({ root, masterKey: { file: keyFile } });
        await km.createKey(alice);
        await km.close();
        const e = await rejection(openLocalKeystore({ root, masterKey: { key: new Uint8Array(randomBytes(32)) } }));
        expect(String((e as Error).message)).to.match(/wrong master key/);
      } finally {
        await rm(keyFile, { force: true });
      }
    });

    it("physically removes an expired key when it is next touched", async function () {
      let now = Date.now();
      const store = await SecretStore.open({ root });
      try {
        const km = new LocalKeyManager(store, { now: () => now });
        const id = await km.createKey(alice, { expiration: Math.floor(now / 1000) + 10 });
        const count = async (): Promise<number> => {
          let n = 0;
          for await (const _ of store.list(KEYS_SPACE)) n++;
          return n;
        };
        expect(await count()).to.equal(1);
        now += 11_000;
        expect(await km.listKeys(alice)).to.deep.equal([]);
        expect(await count()).to.equal(0);
        expect(await rejection(km.getKey(alice, id))).to.be.instanceOf(KeyNotFound);
      } finally {
        await store.close();
      }
    });
  });

  describe("shared store", function () {
    it("does not close a store it was given; openLocalKeystore closes its own", async function () {
      const store = await SecretStore.open({ root });
      const km = new LocalKeyManager(store);
      const id = await km.createKey(alice);
      await km.close();
      // the store still serves the driver: the key record is there
      expect(await store.get(KEYS_SPACE, `${encodeURIComponent("project:tenant-a")}/${id}`)).to.not.equal(undefined);
      expect(await rejection(km.getKey(alice, id))).to.be.instanceOf(KeyManagerError);
      await store.close();

      const own = await openLocalKeystore({ root });
      await own.close();
      // had it stayed open, its lock would refuse this open
      const again = await SecretStore.open({ root });
      await again.close();
    });

    it("turns store failures into KeyManagerError", async function () {
      const store = await SecretStore.open({ root });
      const km = new LocalKeyManager(store);
      const id = await km.createKey(alice);
      await store.close();
      for (const call of [() => km.getKey(alice, id), () => km.createKey(alice), () => km.listKeys(alice), () => km.deleteKey(alice, id)]) {
        const e = await rejection(call());
        expect(e).to.be.instanceOf(KeyManagerError);
        expect((e as KeyManagerError).code).to.equal("KEY_MANAGER_ERROR");
      }
    });
  });

  describe("at rest", function () {
    it("never writes key bytes (raw, hex or base64) to any file under the root", async function () {
      const km = await openLocalKeystore({ root });
      const secrets: Uint8Array[] = [];
      const ids: string[] = [];
      for (let i = 0; i < 8; i++) ids.push(await km.createKey(alice, { length: i % 2 ? 128 : 256 }));
      ids.push(await km.storeKey(alice, { kind: "passphrase", value: new TextEncoder().encode("correct horse battery staple 0123") }));
      ids.push(await km.storeKey(alice, { kind: "opaque", value: new Uint8Array(randomBytes(512)) }));
      for (const id of ids) secrets.push((await km.getKey(alice, id)).value!);
      ids.push(await km.copyKey(alice, ids[0]!));
      await km.close();

      const files = await filesUnder(root);
      expect(files.length).to.be.greaterThan(0);
      let bytes = 0;
      for (const file of files) {
        const content = await readFile(file);
        bytes += content.length;
        const text = content.toString("latin1");
        for (const s of secrets) {
          const raw = Buffer.from(s);
          expect(content.indexOf(raw), `raw key bytes in ${file}`).to.equal(-1);
          expect(text.includes(raw.toString("hex")), `hex key in ${file}`).to.equal(false);
          expect(text.toLowerCase().includes(raw.toString("hex")), `HEX key in ${file}`).to.equal(false);
          expect(text.includes(raw.toString("base64").slice(0, 20)), `base64 key in ${file}`).to.equal(false);
        }
      }
      expect(bytes).to.be.greaterThan(0);
      // the root itself is private
      expect((await stat(root)).mode & 0o077).to.equal(0);
    });
  });
});
