// Locate paging cost: listing n objects page by page must not read all n
// records for every page (that was n²/page-size LevelDB reads). Runs the real
// engine on a real LevelDB store and counts the records read from it.
import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KmipEngine } from "../../../src/keystore/kmip/engine.js";
import { CryptographicAlgorithm, ObjectType, Operation, ResultStatus, State } from "../../../src/keystore/kmip/enums.js";
import * as M from "../../../src/keystore/kmip/messages.js";
import { KmipObjectStore, type StoredObject } from "../../../src/keystore/kmip/store.js";

const V14 = { major: 1, minor: 4 };
const V12 = { major: 1, minor: 2 };

interface Reads {
  records: number;
}

/** Count every record the store reads from its LevelDB (iterator entries and point reads). */
function countReads(store: KmipObjectStore): Reads {
  const reads: Reads = { records: 0 };
  // the database is private: reach it the way a debugger would, for counting only
  const db = (store as unknown as { db: { iterator: (o: object) => { next: () => Promise<unknown> }; get: (k: string) => Promise<unknown> } }).db;
  const iterator = db.iterator.bind(db);
  db.iterator = (o: object) => {
    const it = iterator(o);
    const next = it.next.bind(it);
    it.next = async () => {
      const r = await next();
      if (r !== undefined) reads.records++;
      return r;
    };
    return it;
  };
  const get = db.get.bind(db);
  db.get = async (k: string) => {
    reads.records++;
    return get(k);
  };
  return reads;
}

function key(store: KmipObjectStore, owner: string, i: number, names: string[] = []): StoredObject {
  return {
    uid: `uid-${String(i).padStart(5, "0")}-${owner}`,
    owner,
    objectType: ObjectType.SymmetricKey,
    state: State.PreActive,
    seq: store.nextSeq(),
    attributes: { cryptographicAlgorithm: CryptographicAlgorithm.AES, cryptographicLength: 256, names },
    format: { keyFormatType: 1 },
  };
}

async function locate(engine: KmipEngine, owner: string, r: M.LocateRequest, v = V14): Promise<M.LocateResponse> {
  const resp = await engine.handle(owner, { header: { protocolVersion: v }, batchItems: [{ operation: Operation.Locate, payload: M.encodeLocateRequest(r, v) }] });
  const item = resp.batchItems[0];
  expect(item.resultStatus, item.resultMessage).to.equal(ResultStatus.Success);
  return M.decodeLocateResponse(item.payload!);
}

describe("kmip/engine Locate paging", function () {
  this.timeout(60_000);
  let dir: string;
  let store: KmipObjectStore;
  let engine: KmipEngine;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "virsecret-locate-"));
    store = await KmipObjectStore.open(join(dir, "db"), new Uint8Array(32).fill(3));
    engine = new KmipEngine(store);
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("pages 2000 objects newest first reading each record about once, not once per page", async () => {
    const made: string[] = [];
    for (let i = 0; i < 2000; i++) {
      const o = key(store, "alice", i);
      await store.put(o, new Uint8Array(32));
      made.push(o.uid);
    }
    // another owner's objects are neither listed nor counted
    for (let i = 0; i < 50; i++) await store.put(key(store, "bob", i), new Uint8Array(32));
    const reads = countReads(store);
    const seen: string[] = [];
    for (let offset = 0; offset < 2000; offset += 100) {
      const page = await locate(engine, "alice", { maximumItems: 100, offsetItems: offset, attributes: {} });
      expect(page.locatedItems).to.equal(2000);
      expect(page.uniqueIdentifiers).to.have.length(100);
      seen.push(...page.uniqueIdentifiers);
    }
    expect(seen).to.deep.equal([...made].reverse());
    // was 20 pages × 2000 = 40000
    expect(reads.records).to.be.at.most(2000);
  });

  it("sees creations, state changes and deletions made after the first Locate", async () => {
    const objs: StoredObject[] = [];
    for (let i = 0; i < 5; i++) {
      const o = key(store, "carol", i, i === 2 ? ["two"] : []);
      await store.put(o, new Uint8Array(32));
      objs.push(o);
    }
    expect((await locate(engine, "carol", { attributes: {} })).uniqueIdentifiers).to.deep.equal(objs.map((o) => o.uid).reverse());

    const late = key(store, "carol", 5);
    await store.put(late, new Uint8Array(32));
    await store.update({ ...objs[1], state: State.Active });
    await store.delete("carol", objs[3].uid);

    const all = await locate(engine, "carol", { attributes: {} });
    expect(all.uniqueIdentifiers).to.deep.equal([late.uid, objs[4].uid, objs[2].uid, objs[1].uid, objs[0].uid]);
    expect(all.locatedItems).to.equal(5);
    expect((await locate(engine, "carol", { attributes: { state: State.Active } })).uniqueIdentifiers).to.deep.equal([objs[1].uid]);
    expect((await locate(engine, "carol", { attributes: { names: ["two"] } })).uniqueIdentifiers).to.deep.equal([objs[2].uid]);
    // 1.2 has no Located Items; the page is the same
    const v12 = await locate(engine, "carol", { maximumItems: 2, offsetItems: 1, attributes: {} }, V12);
    expect(v12.locatedItems).to.equal(undefined);
    expect(v12.uniqueIdentifiers).to.deep.equal([objs[4].uid, objs[2].uid]);
  });

  it("a write racing the first Locate's load is not lost", async () => {
    for (let i = 0; i < 300; i++) await store.put(key(store, "dave", i), new Uint8Array(32));
    const extra = key(store, "dave", 300);
    const [first] = await Promise.all([locate(engine, "dave", { attributes: {} }), store.put(extra, new Uint8Array(32))]);
    expect(first.locatedItems === 300 || first.locatedItems === 301).to.equal(true);
    const after = await locate(engine, "dave", { attributes: {} });
    expect(after.locatedItems).to.equal(301);
    expect(after.uniqueIdentifiers[0]).to.equal(extra.uid);
  });
});
