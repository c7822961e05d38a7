// qcow2 header codec and fresh-image layout, checked against the bytes
// qemu-img 7.2 writes for `create -f qcow2 -o encrypt.format=luks … 16M`.
import { expect } from "chai";
import fc from "fast-check";
import { VirError } from "../../../src/errors.js";
import {
  decodeQcow2Header,
  encodeQcow2Header,
  EXT_FDE,
  freshQcow2Metadata,
  planQcow2,
  QCOW2_CRYPT_LUKS,
  type Qcow2Header,
} from "../../../src/storage/luks/qcow2.js";

const MiB = 1024 * 1024;

// qemu-img 7.2: -o encrypt.format=luks,…,compat=0.10 16M (first 0x60 bytes; the rest of cluster 0 is zero)
const QEMU_V2 = Buffer.from(
  "514649fb000000020000000000000000000000000000001000000000010000000000000200000001000000000003000000000000000100000000000100000000" +
    "00000000000000000537be7700000010000000000004000000000000001f9000",
  "hex",
);
// the same with compat 1.1 (first 0x88 bytes: header, FDE; qemu then adds a feature-name table)
const QEMU_V3 = Buffer.from(
  "514649fb000000030000000000000000000000000000001000000000010000000000000200000001000000000003000000000000000100000000000100000000" +
    "0000000000000000000000000000000000000000000000000000000000000000000000040000007000000000000000000537be77000000100000000000040000" +
    "00000000001f9000",
  "hex",
);

function cluster(b: Buffer): Buffer {
  const c = Buffer.alloc(65536);
  b.copy(c);
  return c;
}

describe("luks/qcow2: header codec", () => {
  it("decodes qemu-img's v2 and v3 LUKS headers", () => {
    for (const [bytes, version, hl] of [[QEMU_V2, 2, 72], [QEMU_V3, 3, 112]] as const) {
      const h = decodeQcow2Header(cluster(bytes));
      expect(h.version).to.equal(version);
      expect(h.headerLength).to.equal(hl);
      expect(h.clusterBits).to.equal(16);
      expect(h.size).to.equal(16n * 1024n * 1024n);
      expect(h.cryptMethod).to.equal(QCOW2_CRYPT_LUKS);
      expect(h.l1Size).to.equal(1);
      expect(h.l1TableOffset).to.equal(0x30000n);
      expect(h.refcountTableOffset).to.equal(0x10000n);
      expect(h.refcountTableClusters).to.equal(1);
      expect(h.refcountOrder).to.equal(4);
      expect(h.fde).to.deep.equal({ offset: 0x40000n, length: 2068480n });
      expect(h.extensions).to.deep.equal([EXT_FDE]);
    }
  });

  it("a fresh 16 MiB LUKS image has qemu-img's layout and header bytes", () => {
    const l = planQcow2(16n * BigInt(MiB), 16, 2068480);
    expect(l).to.deep.equal({
      clusterBits: 16, l1Size: 1, refcountTableOffset: 0x10000, refcountTableClusters: 1,
      refcountBlockOffsets: [0x20000], l1TableOffset: 0x30000, luksOffset: 0x40000, clusters: 36,
    });
    const v2 = freshQcow2Metadata(l, { capacity: 16n * BigInt(MiB), version: 2, cryptMethod: 2, fdeLength: 2068480 });
    expect(cluster(v2[0]!.data).equals(cluster(QEMU_V2))).to.equal(true);
    const v3 = freshQcow2Metadata(l, { capacity: 16n * BigInt(MiB), version: 3, cryptMethod: 2, fdeLength: 2068480 });
    expect(v3[0]!.data.subarray(0, QEMU_V3.length).equals(QEMU_V3)).to.equal(true);
    // refcount table -> block at 0x20000; the block counts clusters 0..35 once
    expect(v3[1]!.offset).to.equal(0x10000);
    expect(v3[1]!.data.readBigUInt64BE(0)).to.equal(0x20000n);
    const rb = v3[2]!.data;
    for (let i = 0; i < 40; i++) expect(rb.readUInt16BE(i * 2), `cluster ${i}`).to.equal(i < 36 ? 1 : 0);
  });

  it("small clusters need several refcount blocks; the plan counts them too", () => {
    const l = planQcow2(64n * BigInt(MiB), 9, 2068480);
    // 4040 LUKS clusters alone exceed one 512-byte block's 256 refcounts
    expect(l.refcountBlockOffsets.length).to.be.greaterThan(15);
    expect(l.refcountBlockOffsets.length * 256).to.be.at.least(l.clusters);
    expect((l.refcountBlockOffsets.length - 1) * 256).to.be.lessThan(l.clusters);
    expect(l.refcountTableClusters * 64).to.be.at.least(l.refcountBlockOffsets.length);
    // L1: one entry per 64 clusters of 512 B -> 2048 entries (32 clusters)
    expect(l.l1Size).to.equal((64 * MiB) / (64 * 512));
    expect(l.luksOffset - l.l1TableOffset).to.equal(((l.l1Size * 8) / 512) * 512);
  });

  it("property: encode/decode round trip of any v2/v3 header", () => {
    const u64 = fc.bigInt({ min: 0n, max: (1n << 63n) - 1n });
    fc.assert(
      fc.property(
        fc.constantFrom(2 as const, 3 as const), fc.integer({ min: 9, max: 21 }), u64, fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: 0, max: 0xffffff }), u64, u64, fc.integer({ min: 1, max: 1000 }), fc.option(fc.record({ offset: u64, length: u64 }), { nil: undefined }),
        fc.bigInt({ min: 0n, max: 31n }), fc.bigInt({ min: 0n, max: 1n }),
        (version, clusterBits, size, cryptMethod, l1Size, l1, rt, rtc, fde, incompat, compat) => {
          const h: Omit<Qcow2Header, "headerLength" | "extensions"> = {
            version, backingFileOffset: 0n, backingFileSize: 0, clusterBits, size, cryptMethod, l1Size,
            l1TableOffset: l1, refcountTableOffset: rt, refcountTableClusters: rtc, nbSnapshots: 0, snapshotsOffset: 0n,
            incompatibleFeatures: version === 3 ? incompat : 0n, compatibleFeatures: version === 3 ? compat : 0n,
            autoclearFeatures: 0n, refcountOrder: 4, ...(fde ? { fde } : {}),
          };
          const buf = Buffer.alloc(1 << clusterBits);
          encodeQcow2Header(h).copy(buf);
          const d = decodeQcow2Header(buf);
          expect(d).to.deep.equal({ ...h, headerLength: version === 2 ? 72 : 112, extensions: fde ? [EXT_FDE] : [] });
        },
      ),
      { numRuns: 300 },
    );
  });

  it("refuses what is not qcow2 v2/v3 with typed errors", () => {
    expect(() => decodeQcow2Header(Buffer.alloc(512))).to.throw(VirError, /no qcow2 magic/);
    const v1 = cluster(QEMU_V2);
    v1.writeUInt32BE(1, 4);
    expect(() => decodeQcow2Header(v1)).to.throw(VirError, /qcow2 version 1 is not supported/);
    const badBits = cluster(QEMU_V2);
    badBits.writeUInt32BE(30, 20);
    expect(() => decodeQcow2Header(badBits)).to.throw(VirError, /cluster_bits 30/);
    const longExt = cluster(QEMU_V2);
    longExt.writeUInt32BE(0x10000, 76); // the FDE extension's length
    expect(() => decodeQcow2Header(longExt)).to.throw(VirError, /runs past the first cluster/);
  });
});
