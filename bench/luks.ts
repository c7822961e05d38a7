// Native LUKS benchmark: create time of raw-LUKS and qcow2-LUKS volumes (the
// PBKDF2 part is fixed at 1000 iterations so the figure is the format work,
// plus one create at qemu's 2000 ms iter-time shown apart), unlock time, and
// sequential read/write throughput of the native reader/writer in 1 MiB
// requests. qcow2 is measured twice for writes: into fresh clusters
// (allocation) and over allocated ones (in place).
// Exported for `npm run bench`; runnable alone: `npx tsx bench/luks.ts [MiB]`.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { createNativeVolume, openNativeVolume } from "../src/storage/luks/native-backend.js";
import { parseVolumeXML } from "../src/xml/volume.js";

export interface LuksBenchRow {
  format: "raw" | "qcow2";
  /** create with 1000 PBKDF2 iterations: header, AF split, key material, layout */
  createMs: number;
  /** open with the right passphrase (PBKDF2 1000 iterations, AF merge, digest) */
  unlockMs: number;
  /** sequential writes into never-written space (qcow2: cluster allocation) */
  writeFreshMiBs: number;
  /** sequential rewrites of the same range */
  writeMiBs: number;
  readMiBs: number;
}

export interface LuksBenchFigures {
  mib: number;
  /** one raw create at qemu's default 2000 ms iter-time (the PBKDF2 cost users see) */
  createDefaultIterTimeMs: number;
  rows: LuksBenchRow[];
}

function ms(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e6;
}

const round = (x: number): number => Math.round(x * 10) / 10;

export async function benchLuks(mib = 64, opts: { defaultIterTime?: boolean } = {}): Promise<LuksBenchFigures> {
  const dir = mkdtempSync(path.join(tmpdir(), "virsecret-bench-luks-"));
  const pass = Buffer.from("benchmark passphrase");
  const def = (name: string, format: string): ReturnType<typeof parseVolumeXML> =>
    parseVolumeXML(`<volume><name>${name}</name><capacity unit='MiB'>${mib}</capacity><target><path>${path.join(dir, name)}</path>
      <format type='${format}'/><encryption format='luks'><secret type='passphrase' uuid='f52a81b2-424e-490c-823d-6bd4235bc572'/></encryption></target></volume>`);
  try {
    const rows: LuksBenchRow[] = [];
    const chunk = randomBytes(1024 * 1024);
    for (const format of ["raw", "qcow2"] as const) {
      const name = `bench.${format}`;
      let t = process.hrtime.bigint();
      await createNativeVolume(def(name, format), pass, { iterations: 1000 });
      const createMs = ms(t);
      t = process.hrtime.bigint();
      const v = await openNativeVolume(path.join(dir, name), pass);
      const unlockMs = ms(t);
      const pass1 = async (): Promise<number> => {
        const s = process.hrtime.bigint();
        for (let i = 0; i < mib; i++) await v.write(i * chunk.length, chunk);
        await v.flush();
        return mib / (ms(s) / 1000);
      };
      const writeFreshMiBs = await pass1();
      const writeMiBs = await pass1();
      t = process.hrtime.bigint();
      for (let i = 0; i < mib; i++) {
        const got = await v.read(i * chunk.length, chunk.length);
        if (!got.equals(chunk)) throw new Error(`bench: ${format} read back differs at MiB ${i}`);
      }
      const readMiBs = mib / (ms(t) / 1000);
      await v.close();
      rows.push({ format, createMs: round(createMs), unlockMs: round(unlockMs), writeFreshMiBs: round(writeFreshMiBs), writeMiBs: round(writeMiBs), readMiBs: round(readMiBs) });
    }
    let createDefaultIterTimeMs = 0;
    if (opts.defaultIterTime !== false) {
      const t = process.hrtime.bigint();
      await createNativeVolume(def("default.raw", "raw"), pass, {});
      createDefaultIterTimeMs = round(ms(t));
    }
    return { mib, createDefaultIterTimeMs, rows };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const mib = Number(process.argv[2] ?? 64);
  const r = await benchLuks(mib);
  console.log(`# native LUKS, ${r.mib} MiB volumes; create at qemu's 2000 ms iter-time: ${r.createDefaultIterTimeMs} ms`);
  console.table(r.rows);
}
