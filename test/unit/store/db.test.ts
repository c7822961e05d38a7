import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { isVirError } from "../../../src/errors.js";
import { SecretStore, type StoredRecord } from "../../../src/store/db.js";
import { cleanupRoots, freshRoot, rawDb, scanForMarker } from "./helpers.js";

const KEY = new Uint8Array(32).fill(7);
// 40 distinctive bytes that cannot appear by chance.
const MARKER = new TextEncoder().encode("VIRSECRET-PLAINTEXT-MARKER-0123456789XYZ");

async function collect<T>(it: AsyncIterable<[string, StoredRecord<T>]>): Promise<Array<[string, StoredRecord<T>]>> {
  const out: Array<[string, StoredRecord<T>]> = [];
  for await (const e of it) out.push(e);
  return out;
}

async function expectVirError(p: Promise<unknown> | (() => unknown), code: string, re: RegExp): Promise<Error> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    expect(isVirError(e), `expected VirError, got ${String(e)}`).to.equal(true);
    expect((e as { codeName: string }).codeName).to.equal(code);
    expect((e as Error).message).to.match(re);
    return e as Error;
  }
  throw new Error("expected a VirError, nothing was thrown");
}

describe("store/db SecretStore", () => {
  afterEach(cleanupRoots);

  it("creates the root 0700 with db/, lock and a 0600 master.key", async () => {
    const root = freshRoot();
    const s = await SecretStore.open({ root });
    expect(statSync(root).mode & 0o777).to.equal(0o700);
    expect(statSync(path.join(root, "db")).isDirectory()).to.equal(true);
    expect(statSync(path.join(root, "master.key")).mode & 0o777).to.equal(0o600);
    expect(statSync(path.join(root, "master.key")).size).to.equal(32);
    expect(s.masterKeySource.source).to.equal("generated");
    await s.close();
    const again = await SecretStore.open({ root });
    expect(again.masterKeySource.source).to.equal("root-file");
    await again.close();
  });

  it("open removes the temporaries a killed writer left beside its key files, never a live writer's", async () => {
    const root = freshRoot();
    const keyDir = mkdtempSync(path.join(path.dirname(root), "keys-"));
    const keyFile = path.join(keyDir, "k.bin");
    writeFileSync(keyFile, KEY, { mode: 0o600 });
    await (await SecretStore.open({ root, masterKey: { file: keyFile } })).close();
    const dead = spawnSync(process.execPath, ["-e", "0"]).pid!;
    const tmp = (dir: string, name: string, pid: number): string => path.join(dir, `.${name}.${pid}.0123456789ab.tmp`);
    const stale = [
      tmp(root, "master.key", dead), tmp(root, "master.key.rekey", dead), tmp(root, "master.key.wrapped.rekey", dead),
      tmp(root, "lock", dead), tmp(keyDir, "k.bin", dead), tmp(keyDir, "k.bin.rekey", dead),
    ];
    const kept = [
      tmp(root, "master.key", process.pid), // a write in progress
      tmp(root, "someone-else", dead), // not a file the store writes
      tmp(keyDir, "other.bin", dead),
      path.join(root, ".master.key.tmp"),
    ];
    for (const f of [...stale, ...kept]) writeFileSync(f, "leftover key bytes", { mode: 0o600 });
    const s = await SecretStore.open({ root, masterKey: { file: keyFile } });
    await s.close();
    for (const f of stale) expect(existsSync(f), f).to.equal(false);
    for (const f of kept) expect(existsSync(f), f).to.equal(true);
    // a store with a generated key sweeps its root too, before and after the key exists
    const gen = freshRoot();
    await (await SecretStore.open({ root: gen })).close();
    writeFileSync(tmp(gen, "master.key", dead), "x");
    writeFileSync(tmp(gen, "master.key", process.pid), "x");
    await (await SecretStore.open({ root: gen })).close();
    expect(readdirSync(gen).filter((n) => n.endsWith(".tmp"))).to.deep.equal([path.basename(tmp(gen, "master.key", process.pid))]);
  });

  it("puts, gets, lists and deletes records in separate spaces", async () => {
    const root = freshRoot();
    const s = await SecretStore.open({ root, masterKey: { key: KEY } });
    await s.batch([
      { type: "put", space: "secrets", key: "b", data: { n: 2 }, secret: new Uint8Array([1, 2, 3]) },
      { type: "put", space: "secrets", key: "a", data: { n: 1 } },
      { type: "put", space: "secrets", key: "c", data: { n: 3 }, secret: new Uint8Array(0) },
      { type: "put", space: "usage", key: "volume/x", data: "b" },
      { type: "put", space: "secrets-x", key: "z", data: 0 },
    ]);
    const b = await s.get<{ n: number }>("secrets", "b");
    expect(b?.data).to.deep.equal({ n: 2 });
    expect(Array.from(b!.secret!)).to.deep.equal([1, 2, 3]);
    const a = await s.get("secrets", "a");
    expect(a).to.deep.equal({ data: { n: 1 } });
    expect((await s.get("secrets", "c"))!.secret!.length).to.equal(0);
    expect(await s.get("secrets", "nope")).to.equal(undefined);
    expect(await s.get("usage", "b")).to.equal(undefined);

    const all = await collect(s.list<{ n: number }>("secrets"));
    expect(all.map(([k]) => k)).to.deep.equal(["a", "b", "c"]);
    expect(all.map(([, r]) => r.data.n)).to.deep.equal([1, 2, 3]);
    expect((await collect(s.list("secrets", { gt: "a" }))).map(([k]) => k)).to.deep.equal(["b", "c"]);
    expect((await collect(s.list("secrets", { gte: "b", lt: "c" }))).map(([k]) => k)).to.deep.equal(["b"]);
    expect((await collect(s.list("secrets", { limit: 2 }))).map(([k]) => k)).to.deep.equal(["a", "b"]);
    expect((await collect(s.list("usage"))).map(([k]) => k)).to.deep.equal(["volume/x"]);
    // Listing without unsealing: data only, and a flag where a sealed secret exists.
    expect(await collect(s.list("secrets", { secrets: false }))).to.deep.equal([
      ["a", { data: { n: 1 } }],
      ["b", { data: { n: 2 }, sealed: true }],
      ["c", { data: { n: 3 }, sealed: true }],
    ]);
    expect(await collect(s.list("bindings"))).to.deep.equal([]);
    // "meta" also holds the store's key-check record, invisible to callers.
    expect(await collect(s.list("meta"))).to.deep.equal([]);
    expect(await s.get("meta", "master-key-check")).to.equal(undefined);
    await s.batch([
      { type: "put", space: "meta", key: "layout", data: 1 },
      { type: "put", space: "meta", key: "n", data: 2 },
    ]);
    expect((await collect(s.list("meta"))).map(([k]) => k)).to.deep.equal(["layout", "n"]);
    expect((await collect(s.list("meta", { limit: 1 }))).map(([k]) => k)).to.deep.equal(["layout"]);
    expect((await collect(s.list("meta", { gte: "m", limit: 1 }))).map(([k]) => k)).to.deep.equal(["n"]);

    await s.batch([
      { type: "del", space: "secrets", key: "b" },
      { type: "put", space: "secrets", key: "a", data: { n: 10 } },
    ]);
    expect(await s.get("secrets", "b")).to.equal(undefined);
    expect((await s.get<{ n: number }>("secrets", "a"))!.data.n).to.equal(10);
    await s.close();
  });

  it("keeps values across close and reopen", async () => {
    const root = freshRoot();
    let s = await SecretStore.open({ root });
    const ops = [];
    for (let i = 0; i < 50; i++) {
      ops.push({ type: "put" as const, space: "secrets", key: `k${String(i).padStart(3, "0")}`, data: { i }, secret: new Uint8Array([i, 255 - i]) });
    }
    await s.batch(ops);
    await s.close();
    s = await SecretStore.open({ root });
    const all = await collect(s.list<{ i: number }>("secrets"));
    expect(all).to.have.length(50);
    for (const [k, r] of all) {
      expect(k).to.equal(`k${String(r.data.i).padStart(3, "0")}`);
      expect(Array.from(r.secret!)).to.deep.equal([r.data.i, 255 - r.data.i]);
    }
    await s.close();
  });

  it("byte scan: no file under the root holds the plaintext, its base64 or its hex", async () => {
    const root = freshRoot();
    // Control: the scan does find each form when it is there.
    const ctlRoot = freshRoot();
    const ctl = await SecretStore.open({ root: ctlRoot, masterKey: { key: KEY } });
    await ctl.close();
    writeFileSync(path.join(ctlRoot, "leak-b64"), `x${Buffer.from(MARKER).toString("base64")}y`);
    writeFileSync(path.join(ctlRoot, "leak-hex"), Buffer.from(MARKER).toString("hex"));
    expect(scanForMarker(ctlRoot, MARKER).length).to.be.greaterThan(1);
    // Control: the scan sees through LevelDB's own files (log, then compressed tables
    // after a reopen), shown with the marker stored as plain, unsealed data.
    const plainRoot = freshRoot();
    let p = await SecretStore.open({ root: plainRoot, masterKey: { key: KEY } });
    await p.batch([{ type: "put", space: "meta", key: "plain", data: new TextDecoder().decode(MARKER) }]);
    expect(scanForMarker(plainRoot, MARKER).some((h) => h.includes(".log"))).to.equal(true);
    await p.close();
    p = await SecretStore.open({ root: plainRoot, masterKey: { key: KEY } });
    await p.close();
    expect(scanForMarker(plainRoot, MARKER).some((h) => h.includes(".ldb"))).to.equal(true);

    const s = await SecretStore.open({ root });
    await s.batch([
      { type: "put", space: "secrets", key: "11111111-2222-3333-4444-555555555555", data: { usage: "volume" }, secret: MARKER },
      { type: "put", space: "keys", key: "k1", data: {}, secret: MARKER },
    ]);
    // While open (LevelDB log) and after close (tables, compaction).
    expect(scanForMarker(root, MARKER)).to.deep.equal([]);
    await s.close();
    expect(scanForMarker(root, MARKER)).to.deep.equal([]);
    const again = await SecretStore.open({ root });
    expect(Buffer.from((await again.get("secrets", "11111111-2222-3333-4444-555555555555"))!.secret!).equals(Buffer.from(MARKER))).to.equal(true);
    await again.close();
    expect(scanForMarker(root, MARKER)).to.deep.equal([]); // now in compressed tables too
  });

  it("detects a flipped ciphertext byte with a typed error that carries no value", async () => {
    const root = freshRoot();
    const uuid = "0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f";
    let s = await SecretStore.open({ root, masterKey: { key: KEY } });
    await s.batch([{ type: "put", space: "secrets", key: uuid, data: { x: 1 }, secret: MARKER }]);
    await s.close();

    const db = await rawDb(root);
    const rec = JSON.parse((await db.get(`secrets/${uuid}`))!);
    const sealed = Buffer.from(rec.s, "base64");
    sealed[1 + 24 + 5] ^= 0x01; // inside the ciphertext, after version and nonce
    rec.s = sealed.toString("base64");
    await db.put(`secrets/${uuid}`, JSON.stringify(rec));
    await db.close();

    s = await SecretStore.open({ root, masterKey: { key: KEY } });
    const e = await expectVirError(
      s.get("secrets", uuid),
      "INTERNAL_ERROR",
      new RegExp(`^internal error: cannot unseal value of 'secrets/${uuid}': authentication failed \\(wrong master key or corrupted data\\)$`),
    );
    expect(e.message + String(e.stack)).to.not.include("VIRSECRET-PLAINTEXT");
    // list reports the same record the same way.
    await expectVirError(async () => collect(s.list("secrets")), "INTERNAL_ERROR", /cannot unseal value of 'secrets\//);
    await s.close();
  });

  it("refuses a sealed blob copied onto another record", async () => {
    const root = freshRoot();
    let s = await SecretStore.open({ root, masterKey: { key: KEY } });
    await s.batch([
      { type: "put", space: "secrets", key: "aaa", data: {}, secret: MARKER },
      { type: "put", space: "secrets", key: "bbb", data: {}, secret: new Uint8Array([9]) },
    ]);
    await s.close();
    const db = await rawDb(root);
    const a = JSON.parse((await db.get("secrets/aaa"))!);
    const b = JSON.parse((await db.get("secrets/bbb"))!);
    b.s = a.s;
    await db.put("secrets/bbb", JSON.stringify(b));
    await db.put("volumes/aaa", JSON.stringify(a)); // same key, other space
    await db.close();
    s = await SecretStore.open({ root, masterKey: { key: KEY } });
    await expectVirError(s.get("secrets", "bbb"), "INTERNAL_ERROR", /cannot unseal value of 'secrets\/bbb': authentication failed/);
    await expectVirError(s.get("volumes", "aaa"), "INTERNAL_ERROR", /cannot unseal value of 'volumes\/aaa'/);
    expect(Buffer.from((await s.get("secrets", "aaa"))!.secret!).equals(Buffer.from(MARKER))).to.equal(true);
    await s.close();
  });

  it("reports a record that is not valid JSON as corrupt", async () => {
    const root = freshRoot();
    let s = await SecretStore.open({ root, masterKey: { key: KEY } });
    await s.close();
    const db = await rawDb(root);
    await db.put("secrets/x", "{not json");
    await db.close();
    s = await SecretStore.open({ root, masterKey: { key: KEY } });
    await expectVirError(s.get("secrets", "x"), "INTERNAL_ERROR", /corrupt record 'secrets\/x'/);
    await s.close();
  });

  it("rejects bad arguments with INVALID_ARG and refuses use after close", async () => {
    const root = freshRoot();
    const s = await SecretStore.open({ root, masterKey: { key: KEY } });
    await expectVirError(() => s.get("Bad Space", "k"), "INVALID_ARG", /invalid store space name 'Bad Space'/);
    await expectVirError(() => s.get("secrets", ""), "INVALID_ARG", /invalid store key in space 'secrets'/);
    await expectVirError(() => s.get("secrets", "a\uD800"), "INVALID_ARG", /well-formed/);
    await expectVirError(() => s.batch([{ type: "put", space: "meta", key: "master-key-check", data: 1 }]), "INVALID_ARG", /reserved/);
    await expectVirError(
      () => s.batch([{ type: "put", space: "secrets", key: "k", data: 1, secret: "text" as unknown as Uint8Array }]),
      "INVALID_ARG",
      /secret must be a Uint8Array/,
    );
    await expectVirError(s.batch([{ type: "put", space: "secrets", key: "k", data: { n: 1n } }]), "INVALID_ARG", /not JSON-serialisable/);
    await expectVirError(() => s.list("secrets", { limit: -2 }), "INVALID_ARG", /limit/);
    // A failed validation writes nothing, not even the valid ops before it.
    await expectVirError(
      () => s.batch([{ type: "put", space: "secrets", key: "ok", data: 1 }, { type: "del", space: "x y", key: "k" }]),
      "INVALID_ARG",
      /space/,
    );
    expect(await s.get("secrets", "ok")).to.equal(undefined);
    await s.close();
    await expectVirError(() => s.get("secrets", "k"), "OPERATION_INVALID", /secret store '.*' is closed/);
    await expectVirError(() => s.batch([]), "OPERATION_INVALID", /is closed/);
    // Promise-returning methods reject rather than throw.
    const pending = s.batch([]);
    expect(pending).to.be.instanceOf(Promise);
    await pending.catch(() => undefined);
    await s.close(); // idempotent
  });

  it("lets queued batches finish when close() is called", async () => {
    const root = freshRoot();
    const s = await SecretStore.open({ root, masterKey: { key: KEY } });
    const writes = [];
    for (let i = 0; i < 20; i++) writes.push(s.batch([{ type: "put", space: "secrets", key: `q${i}`, data: i, secret: new Uint8Array([i]) }]));
    await s.close();
    await Promise.all(writes);
    const again = await SecretStore.open({ root, masterKey: { key: KEY } });
    expect((await collect(again.list("secrets"))).length).to.equal(20);
    await again.close();
  });

  it("a batch that fails in the write queue does not block the batches queued after it, nor close()", async () => {
    const root = freshRoot();
    const s = await SecretStore.open({ root, masterKey: { key: KEY } });
    // a BigInt passes the argument checks but cannot be encoded: it fails inside the queue
    const bad = s.batch([{ type: "put", space: "secrets", key: "bad", data: { n: 1n } }]);
    const good = s.batch([{ type: "put", space: "secrets", key: "good", data: 2, secret: new Uint8Array([2]) }]);
    const failed = await bad.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failed, "the BigInt batch must fail").to.not.equal(undefined);
    await good;
    await s.close();
    const again = await SecretStore.open({ root, masterKey: { key: KEY } });
    expect(await again.get("secrets", "bad")).to.equal(undefined);
    expect((await again.get<number>("secrets", "good"))?.data).to.equal(2);
    await again.close();
  });
});
