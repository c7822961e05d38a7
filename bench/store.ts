// Store benchmark: batch put, single-record put (each fsynced), get, full
// listing, rekey and cold open at n records, on real LevelDB in a temp dir.
// Exported for `npm run bench`; runnable alone: `npx tsx bench/store.ts [n]`.
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { SecretStore, type StoreOp } from "../src/store/db.js";
import { generateMasterKey } from "../src/store/masterkey.js";

export interface StoreBenchFigures {
  n: number;
  /** n records written in batches of 500 ops, each batch synced. */
  bulkPutMs: number;
  bulkPutPerSec: number;
  /** one record per batch (what a define does), each synced: mean latency. */
  singlePutOps: number;
  singlePutMsPerOp: number;
  /** n point reads with unsealing, in random order. */
  getMs: number;
  getPerSec: number;
  /** one pass over the whole space, unsealing every record. */
  listMs: number;
  /** one pass over the whole space without unsealing (an index rebuild at startup). */
  listDataOnlyMs: number;
  /** re-seal all n values under a new master key (one batch). */
  rekeyMs: number;
  /** open of a closed store holding n records (lock, LevelDB open, key check) plus one get. */
  coldOpenMs: number;
}

const BULK_CHUNK = 500;

function ms(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e6;
}

function record(uuid: string): StoreOp {
  return {
    type: "put",
    space: "secrets",
    key: uuid,
    data: { uuid, ephemeral: false, private: true, usage: { type: "volume", id: `/var/lib/libvirt/images/${uuid}.qcow2` } },
    secret: generateMasterKey(), // 32 random bytes, a typical LUKS passphrase size
  };
}

export async function benchStore(n: number): Promise<StoreBenchFigures> {
  const dir = mkdtempSync(path.join(tmpdir(), "virsecret-bench-store-"));
  const root = path.join(dir, "root");
  const key = generateMasterKey();
  try {
    let store = await SecretStore.open({ root, masterKey: { key } });
    const uuids = Array.from({ length: n }, () => randomUUID());

    let t = process.hrtime.bigint();
    for (let i = 0; i < n; i += BULK_CHUNK) await store.batch(uuids.slice(i, i + BULK_CHUNK).map(record));
    const bulkPutMs = ms(t);

    const singlePutOps = Math.min(n, 200);
    t = process.hrtime.bigint();
    for (let i = 0; i < singlePutOps; i++) {
      await store.batch([{ type: "put", space: "single", key: uuids[i], data: { i }, secret: new Uint8Array([i & 255]) }]);
    }
    const singlePutMs = ms(t);

    const order = uuids.slice().sort(() => Math.random() - 0.5);
    t = process.hrtime.bigint();
    for (const u of order) {
      const r = await store.get("secrets", u);
      if (r?.secret?.length !== 32) throw new Error(`bench: record ${u} came back wrong`);
    }
    const getMs = ms(t);

    t = process.hrtime.bigint();
    let seen = 0;
    for await (const [, r] of store.list("secrets")) if (r.secret) seen++;
    const listMs = ms(t);
    if (seen !== n) throw new Error(`bench: listed ${seen} of ${n}`);

    t = process.hrtime.bigint();
    seen = 0;
    for await (const [, r] of store.list("secrets", { secrets: false })) if (r.sealed) seen++;
    const listDataOnlyMs = ms(t);
    if (seen !== n) throw new Error(`bench: listed ${seen} of ${n} without unsealing`);

    const newKey = generateMasterKey();
    t = process.hrtime.bigint();
    await store.rekey(newKey);
    const rekeyMs = ms(t);
    await store.close();

    t = process.hrtime.bigint();
    store = await SecretStore.open({ root, masterKey: { key: newKey } });
    if (n > 0 && (await store.get("secrets", uuids[0])) === undefined) throw new Error("bench: cold open lost a record");
    const coldOpenMs = ms(t);
    await store.close();

    const round = (x: number) => Math.round(x * 100) / 100;
    return {
      n,
      bulkPutMs: round(bulkPutMs),
      bulkPutPerSec: Math.round((n / bulkPutMs) * 1000),
      singlePutOps,
      singlePutMsPerOp: round(singlePutMs / Math.max(singlePutOps, 1)),
      getMs: round(getMs),
      getPerSec: Math.round((n / getMs) * 1000),
      listMs: round(listMs),
      listDataOnlyMs: round(listDataOnlyMs),
      rekeyMs: round(rekeyMs),
      coldOpenMs: round(coldOpenMs),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const n = Number(process.argv[2] ?? 10000);
  console.log(JSON.stringify(await benchStore(n), null, 2));
}
