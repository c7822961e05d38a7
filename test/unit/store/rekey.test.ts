import { expect } from "chai";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { isVirError } from "../../../src/errors.js";
import { SecretStore, type StoredRecord } from "../../../src/store/db.js";
import { generateMasterKey } from "../../../src/store/masterkey.js";
import { cleanupRoots, freshRoot, scanForMarker } from "./helpers.js";

const MARKER = new TextEncoder().encode("VIRSECRET-REKEY-PLAINTEXT-MARKER-0123456");

async function collect<T>(it: AsyncIterable<[string, StoredRecord<T>]>): Promise<Array<[string, StoredRecord<T>]>> {
  const out: Array<[string, StoredRecord<T>]> = [];
  for await (const e of it) out.push(e);
  return out;
}

async function fill(s: SecretStore, n: number): Promise<void> {
  const ops = [];
  for (let i = 0; i < n; i++) {
    ops.push({ type: "put" as const, space: "secrets", key: `s${String(i).padStart(4, "0")}`, data: { i }, secret: new Uint8Array([i & 255, 1, 2]) });
    ops.push({ type: "put" as const, space: "keys", key: `k${i}`, data: { owner: "x" }, secret: new Uint8Array(32).fill(i & 255) });
    ops.push({ type: "put" as const, space: "volumes", key: `/pool/v${i}.img`, data: { format: "luks" } });
  }
  await s.batch(ops);
}

async function checkAll(s: SecretStore, n: number): Promise<void> {
  // Only the records fill() made (tests add others beside them).
  const secrets = (await collect<{ i: number }>(s.list("secrets"))).filter(([k]) => /^s\d{4}$/.test(k));
  expect(secrets).to.have.length(n);
  for (const [, r] of secrets) expect(Array.from(r.secret!)).to.deep.equal([r.data.i & 255, 1, 2]);
  const keys = await collect(s.list("keys"));
  expect(keys).to.have.length(n);
  for (const [k, r] of keys) expect(r.secret![0]).to.equal(Number(k.slice(1)) & 255);
  const vols = await collect(s.list("volumes"));
  expect(vols).to.have.length(n);
  for (const [, r] of vols) expect(r).to.deep.equal({ data: { format: "luks" } });
}

async function openFails(p: Promise<SecretStore>, re: RegExp): Promise<void> {
  try {
    await (await p).close();
  } catch (e) {
    expect(isVirError(e)).to.equal(true);
    expect((e as Error).message).to.match(re);
    return;
  }
  throw new Error("open should have failed");
}

describe("store/rekey", () => {
  afterEach(cleanupRoots);

  it("re-seals every space under a generated key kept in ROOT/master.key; old key no longer opens", async () => {
    const root = freshRoot();
    const keyPath = path.join(root, "master.key");
    let s = await SecretStore.open({ root });
    await fill(s, 40);
    await s.batch([{ type: "put", space: "bindings", key: "m", data: null, secret: MARKER }]);
    const oldKey = new Uint8Array(readFileSync(keyPath));
    await s.rekey();
    const newKey = new Uint8Array(readFileSync(keyPath));
    expect(newKey.length).to.equal(32);
    expect(Buffer.from(newKey).equals(Buffer.from(oldKey))).to.equal(false);
    expect(statSync(keyPath).mode & 0o777).to.equal(0o600);
    expect(existsSync(keyPath + ".rekey")).to.equal(false);
    // Still usable in the same session, under the new key.
    await checkAll(s, 40);
    await s.batch([{ type: "put", space: "secrets", key: "late", data: {}, secret: new Uint8Array([9]) }]);
    await s.close();

    await openFails(SecretStore.open({ root, masterKey: { key: oldKey } }), /wrong master key for secret store/);
    s = await SecretStore.open({ root });
    await checkAll(s, 40);
    expect(Buffer.from((await s.get("bindings", "m"))!.secret!).equals(Buffer.from(MARKER))).to.equal(true);
    expect(Array.from((await s.get("secrets", "late"))!.secret!)).to.deep.equal([9]);
    await s.close();
    const t = await SecretStore.open({ root, masterKey: { key: newKey } });
    await t.close();
    expect(scanForMarker(root, MARKER)).to.deep.equal([]);
  });

  it("rekey(newKey) with a key given directly: new key opens, old does not", async () => {
    const root = freshRoot();
    const k1 = generateMasterKey();
    const k2 = generateMasterKey();
    let s = await SecretStore.open({ root, masterKey: { key: k1 } });
    await fill(s, 10);
    await s.rekey(k2);
    await s.close();
    expect(existsSync(path.join(root, "master.key"))).to.equal(false);
    await openFails(SecretStore.open({ root, masterKey: { key: k1 } }), /wrong master key/);
    s = await SecretStore.open({ root, masterKey: { key: k2 } });
    await checkAll(s, 10);
    await s.close();
  });

  it("rewrites a given key file (0600) and refuses a generated key where it cannot keep one", async () => {
    const root = freshRoot();
    const file = path.join(path.dirname(root), "store.key");
    writeFileSync(file, generateMasterKey(), { mode: 0o600 });
    const before = readFileSync(file);
    let s = await SecretStore.open({ root, masterKey: { file } });
    await fill(s, 5);
    await s.rekey();
    await s.close();
    expect(readFileSync(file).equals(before)).to.equal(false);
    expect(statSync(file).mode & 0o777).to.equal(0o600);
    s = await SecretStore.open({ root, masterKey: { file } });
    await checkAll(s, 5);
    await s.close();

    const other = freshRoot();
    const d = await SecretStore.open({ root: other, masterKey: { key: generateMasterKey() } });
    let err: unknown;
    await d.rekey().catch((e: unknown) => (err = e));
    expect(isVirError(err, "OPERATION_INVALID"), String(err)).to.equal(true);
    expect((err as Error).message).to.match(/cannot rekey secret store '.*' with a generated key: the key given in the options cannot be rewritten/);
    err = undefined;
    await d.rekey(new Uint8Array(31)).catch((e: unknown) => (err = e));
    expect((err as Error).message).to.equal("invalid argument: master key must be 32 bytes, got 31");
    // The store is unchanged and usable.
    await d.batch([{ type: "put", space: "secrets", key: "x", data: 1, secret: new Uint8Array([1]) }]);
    await d.close();
  });

  it("finishes a rekey interrupted between its batch and the key-file rename", async () => {
    const root = freshRoot();
    const keyPath = path.join(root, "master.key");
    const s = await SecretStore.open({ root });
    await fill(s, 8);
    const oldKey = readFileSync(keyPath);
    await s.rekey();
    await s.close();
    const newKey = readFileSync(keyPath);
    // The state a crash right after the batch leaves: old key in place, new key pending.
    writeFileSync(keyPath, oldKey);
    writeFileSync(keyPath + ".rekey", newKey, { mode: 0o600 });
    const t = await SecretStore.open({ root });
    await checkAll(t, 8);
    await t.close();
    expect(readFileSync(keyPath).equals(newKey)).to.equal(true);
    expect(existsSync(keyPath + ".rekey")).to.equal(false);
  });

  it("drops a pending key left by a rekey whose batch never landed", async () => {
    const root = freshRoot();
    const keyPath = path.join(root, "master.key");
    await (await SecretStore.open({ root })).close();
    const key = readFileSync(keyPath);
    writeFileSync(keyPath + ".rekey", generateMasterKey(), { mode: 0o600 });
    const t = await SecretStore.open({ root });
    await t.close();
    expect(readFileSync(keyPath).equals(key)).to.equal(true);
    expect(existsSync(keyPath + ".rekey")).to.equal(false);
  });

  it("a failed rekey (a corrupted record) changes nothing", async () => {
    const root = freshRoot();
    const keyPath = path.join(root, "master.key");
    let s = await SecretStore.open({ root });
    await fill(s, 3);
    await s.close();
    const { rawDb } = await import("./helpers.js");
    const db = await rawDb(root);
    const rec = JSON.parse((await db.get("keys/k1"))!);
    const b = Buffer.from(rec.s, "base64");
    b[b.length - 1] ^= 0x80;
    rec.s = b.toString("base64");
    await db.put("keys/k1", JSON.stringify(rec));
    await db.close();
    const key = readFileSync(keyPath);
    s = await SecretStore.open({ root });
    try {
      await s.rekey();
      expect.fail("rekey should fail on a corrupted record");
    } catch (e) {
      expect((e as Error).message).to.equal("internal error: cannot unseal value of 'keys/k1': authentication failed (wrong master key or corrupted data)");
    }
    expect(readFileSync(keyPath).equals(key)).to.equal(true);
    expect(existsSync(keyPath + ".rekey")).to.equal(false);
    // Everything else still opens under the unchanged key, in this session and the next.
    expect(Array.from((await s.get("secrets", "s0001"))!.secret!)).to.deep.equal([1, 1, 2]);
    await s.close();
    s = await SecretStore.open({ root });
    expect(Array.from((await s.get("keys", "k2"))!.secret!)).to.deep.equal(Array(32).fill(2));
    await s.close();
  });

  it("readers and writers running across a rekey neither fail nor lose data", async () => {
    const root = freshRoot();
    const s = await SecretStore.open({ root });
    await fill(s, 300);
    // A listing started before the rekey keeps its snapshot and its key.
    const early = s.list<{ i: number }>("secrets")[Symbol.asyncIterator]();
    const first = await early.next();
    expect(first.done).to.equal(false);
    const gets: Array<Promise<unknown>> = [];
    const rekeyed = s.rekey();
    const during = s.batch([{ type: "put", space: "secrets", key: "during", data: {}, secret: new Uint8Array([7]) }]);
    for (let i = 0; i < 300; i += 7) gets.push(s.get("keys", `k${i}`).then((r) => expect(r!.secret![0]).to.equal(i & 255)));
    await rekeyed;
    await during;
    await Promise.all(gets);
    let count = 1;
    for (let r = await early.next(); !r.done; r = await early.next()) {
      expect(Array.from(r.value[1].secret!)).to.deep.equal([r.value[1].data.i & 255, 1, 2]);
      count++;
    }
    expect(count).to.equal(300);
    await s.close();
    const t = await SecretStore.open({ root });
    await checkAll(t, 300);
    expect(Array.from((await t.get("secrets", "during"))!.secret!)).to.deep.equal([7]);
    await t.close();
  });
});
