// A small independent qcow2 consistency check for the unit tests (the real
// `qemu-img check` runs in test/interop/luks/): every cluster the metadata
// references must have refcount 1, every other cluster refcount 0, every
// L1/L2 entry must carry COPIED, and nothing may point past the file.
import { readFile } from "node:fs/promises";

export interface CheckResult {
  readonly errors: string[];
  /** data clusters mapped through L2 */
  readonly dataClusters: number;
  readonly l2Tables: number;
}

export async function checkQcow2(path: string): Promise<CheckResult> {
  const f = await readFile(path);
  const errors: string[] = [];
  const bits = f.readUInt32BE(20);
  const C = 1 << bits;
  const version = f.readUInt32BE(4);
  const clusters = Math.ceil(f.length / C);
  const refs = new Array<number>(clusters).fill(0);
  const ref = (off: bigint | number, n: number, what: string): void => {
    const o = Number(off);
    if (o % C !== 0) errors.push(`${what} at ${o} not aligned`);
    for (let i = 0; i < n; i++) {
      const c = o / C + i;
      if (c >= clusters) errors.push(`${what} cluster ${c} past the end of the file`);
      else refs[c]!++;
    }
  };
  ref(0, 1, "header");
  const l1Size = f.readUInt32BE(36);
  const l1Off = Number(f.readBigUInt64BE(40));
  const rtOff = Number(f.readBigUInt64BE(48));
  const rtClusters = f.readUInt32BE(56);
  ref(rtOff, rtClusters, "refcount table");
  ref(l1Off, Math.max(1, Math.ceil((l1Size * 8) / C)), "L1");
  // the FDE extension's LUKS area
  const hl = version === 3 ? f.readUInt32BE(100) : 72;
  for (let o = hl; o + 8 <= C; ) {
    const type = f.readUInt32BE(o);
    const len = f.readUInt32BE(o + 4);
    if (type === 0) break;
    if (type === 0x0537be77) ref(f.readBigUInt64BE(o + 8), Math.ceil(Number(f.readBigUInt64BE(o + 16)) / C), "LUKS area");
    o += 8 + Math.ceil(len / 8) * 8;
  }
  const rbOffsets: number[] = [];
  for (let i = 0; i < (rtClusters * C) / 8; i++) {
    const e = Number(f.readBigUInt64BE(rtOff + i * 8));
    if (e !== 0) {
      rbOffsets[i] = e;
      ref(e, 1, "refcount block");
    }
  }
  const MASK = 0x00fffffffffffe00n;
  const COPIED = 1n << 63n;
  let dataClusters = 0;
  let l2Tables = 0;
  for (let i = 0; i < l1Size; i++) {
    const e = f.readBigUInt64BE(l1Off + i * 8);
    const l2 = Number(e & MASK);
    if (l2 === 0) continue;
    if ((e & COPIED) === 0n) errors.push(`L1[${i}] lacks COPIED`);
    ref(l2, 1, "L2");
    l2Tables++;
    for (let j = 0; j < C / 8; j++) {
      const d = f.readBigUInt64BE(l2 + j * 8);
      const off = d & MASK;
      if (off === 0n) continue;
      if ((d & COPIED) === 0n) errors.push(`L2[${i}][${j}] lacks COPIED`);
      ref(off, 1, "data");
      dataClusters++;
    }
  }
  const perBlock = C / 2;
  for (let c = 0; c < clusters; c++) {
    const rb = rbOffsets[Math.floor(c / perBlock)];
    const rc = rb === undefined ? 0 : f.readUInt16BE(rb + (c % perBlock) * 2);
    if (rc !== refs[c]) errors.push(`cluster ${c}: refcount ${rc}, referenced ${refs[c]} times`);
  }
  return { errors, dataClusters, l2Tables };
}
