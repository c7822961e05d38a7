// Secret driver benchmark: define, set-value, get-value, lookup-by-usage and
// cold open (load of every persisted secret) at n secrets, on real LevelDB.
// Each define and set-value is one synced batch, so those figures are
// dominated by fsync on the machine's disk.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { openSecretDriver } from "../src/secret/driver.js";
import { embedURI } from "../src/secret/uri.js";

export interface BenchFigure {
  readonly name: string;
  /** operations timed */
  readonly n: number;
  readonly totalMs: number;
  readonly perOpUs: number;
  readonly opsPerSec: number;
}

function figure(name: string, n: number, ms: number): BenchFigure {
  return { name, n, totalMs: Math.round(ms * 10) / 10, perOpUs: Math.round((ms * 1000) / Math.max(n, 1)), opsPerSec: Math.round((n * 1000) / Math.max(ms, 1e-6)) };
}

export async function benchSecrets(n: number): Promise<BenchFigure[]> {
  const root = await mkdtemp(join(tmpdir(), "virsecret-bench-"));
  const uri = embedURI(root);
  const out: BenchFigure[] = [];
  try {
    let drv = await openSecretDriver({ uri });
    const value = new Uint8Array(32).fill(7);
    const volume = (i: number) => `/var/lib/virsecret/bench/vol-${i}.img`;

    let t = performance.now();
    const uuids: string[] = [];
    for (let i = 0; i < n; i++) {
      const h = await drv.defineXML(`<secret ephemeral='no' private='no'><usage type='volume'><volume>${volume(i)}</volume></usage></secret>`);
      uuids.push(h.uuid);
    }
    out.push(figure("define", n, performance.now() - t));

    t = performance.now();
    for (const u of uuids) await drv.lookupByUUID(u).setValue(value);
    out.push(figure("set-value", n, performance.now() - t));

    t = performance.now();
    for (const u of uuids) (await drv.lookupByUUID(u).getValue()).fill(0);
    out.push(figure("get-value", n, performance.now() - t));

    t = performance.now();
    for (let i = 0; i < n; i++) drv.lookupByUsage("volume", volume(i));
    out.push(figure("lookup-by-usage", n, performance.now() - t));

    await drv.close();
    t = performance.now();
    drv = await openSecretDriver({ uri });
    const opened = performance.now() - t;
    if (drv.numOfSecrets() !== n) throw new Error(`cold open loaded ${drv.numOfSecrets()} of ${n} secrets`);
    out.push(figure("cold-open", 1, opened));
    await drv.close();
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  return out;
}

// `npx tsx bench/secret.ts [n]` runs it alone.
if (process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const n = Number(process.argv[2] ?? 10000);
  for (const f of await benchSecrets(n)) {
    console.log(`${f.name.padEnd(16)} n=${f.n}  ${f.totalMs} ms  ${f.perOpUs} µs/op  ${f.opsPerSec} op/s`);
  }
}
