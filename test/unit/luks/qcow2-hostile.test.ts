// Crafted qcow2 files against the native reader: every table or cluster
// offset the file names is untrusted. Node treats a file position that is not
// a safe integer as "the current position", so an unchecked 2^55 offset would
// read (or, worse, write) the header cluster; a huge table size would be a
// multi-GiB allocation. Each must be a clear VirError instead, and the file
// must stay byte-for-byte as it was.
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { VirError } from "../../../src/errors.js";
import { createNativeVolume, openNativeVolume } from "../../../src/storage/luks/native-backend.js";
import { encodeQcow2Header, QCOW2_CRYPT_LUKS, type Qcow2Header } from "../../../src/storage/luks/qcow2.js";
import type { VolumeDef } from "../../../src/storage/volume-def.js";
import { parseVolumeXML } from "../../../src/xml/volume.js";

const C = 65536;
const COPIED = 1n << 63n;

// a valid 1 MiB v2 image: header, refcount table, refcount block, L1, nothing allocated
const BASE: Omit<Qcow2Header, "headerLength" | "extensions"> = {
  version: 2, backingFileOffset: 0n, backingFileSize: 0, clusterBits: 16, size: 1n << 20n, cryptMethod: 0, l1Size: 1,
  l1TableOffset: BigInt(3 * C), refcountTableOffset: BigInt(C), refcountTableClusters: 1, nbSnapshots: 0, snapshotsOffset: 0n,
  incompatibleFeatures: 0n, compatibleFeatures: 0n, autoclearFeatures: 0n, refcountOrder: 4,
};

function image(h: Partial<typeof BASE>, l1Entry = 0n): Buffer {
  const b = Buffer.alloc(4 * C);
  encodeQcow2Header({ ...BASE, ...h }).copy(b);
  b.writeBigUInt64BE(BigInt(2 * C), C); // refcount table -> block at cluster 2
  for (let i = 0; i < 4; i++) b.writeUInt16BE(1, 2 * C + 2 * i);
  b.writeBigUInt64BE(l1Entry, 3 * C);
  return b;
}

async function caught(fn: () => Promise<unknown>): Promise<VirError> {
  try {
    await fn();
  } catch (e) {
    expect(e, String(e)).to.be.instanceOf(VirError);
    return e as VirError;
  }
  throw new Error("expected a VirError");
}

describe("luks/qcow2: crafted headers and tables", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "virsecret-qcow2-hostile-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function put(name: string, b: Buffer): Promise<string> {
    const p = join(dir, name);
    await writeFile(p, b);
    return p;
  }

  it("an L1 entry past 2^53 is refused on read and on write, and the file is not touched", async () => {
    const bytes = image({}, (1n << 55n) | COPIED);
    const p = await put("far-l2.qcow2", bytes);
    const v = await openNativeVolume(p, undefined);
    try {
      const r = await caught(() => v.read(0, 512));
      expect(r.codeName).to.equal("INTERNAL_ERROR");
      expect(r.message).to.match(/invalid qcow2 header: L1 entry offset 0x80000000000000 is out of range/);
      const w = await caught(() => v.write(0, Buffer.alloc(512, 0xee)));
      expect(w.message).to.match(/L1 entry offset 0x80000000000000 is out of range/);
    } finally {
      await v.close();
    }
    expect((await readFile(p)).equals(bytes)).to.equal(true);
  });

  it("an L2 entry past 2^53 is refused, not read from the file's current position", async () => {
    const bytes = image({}, BigInt(4 * C) | COPIED);
    const l2 = Buffer.alloc(C);
    l2.writeBigUInt64BE((1n << 54n) | COPIED, 0);
    const p = await put("far-data.qcow2", Buffer.concat([bytes, l2]));
    const v = await openNativeVolume(p, undefined, { readOnly: true });
    try {
      const r = await caught(() => v.read(0, 512));
      expect(r.message).to.match(/L2 entry offset 0x40000000000000 is out of range/);
    } finally {
      await v.close();
    }
  });

  it("table offsets past 2^53 and a refcount table over qemu's 8 MiB are refused at open", async () => {
    const cases: [Partial<typeof BASE>, RegExp][] = [
      [{ l1TableOffset: 1n << 60n }, /l1_table_offset 0x1000000000000000 is out of range/],
      [{ refcountTableOffset: 1n << 60n }, /refcount_table_offset 0x1000000000000000 is out of range/],
      // 2^20 clusters of 64 KiB would be a 64 GiB buffer; 2 MiB clusters x 1000 a 2 GB one
      [{ refcountTableClusters: 1 << 20 }, /refcount_table_clusters 1048576 is too large/],
      [{ clusterBits: 21, refcountTableOffset: 2n << 20n, l1TableOffset: 4n << 20n, refcountTableClusters: 1000 }, /refcount_table_clusters 1000 is too large/],
    ];
    for (const [h, msg] of cases) {
      const p = await put("t.qcow2", image(h));
      for (const readOnly of [true, false]) {
        const e = await caught(() => openNativeVolume(p, undefined, { readOnly }));
        expect(e.codeName).to.equal("INTERNAL_ERROR");
        expect(e.message).to.match(msg);
      }
    }
  });

  it("an FDE extension pointing past 2^53 is refused before any LUKS read", async () => {
    const p = await put("fde.qcow2", image({ cryptMethod: QCOW2_CRYPT_LUKS, fde: { offset: 1n << 62n, length: 2068480n } }));
    const e = await caught(() => openNativeVolume(p, Buffer.from("pass")));
    expect(e.message).to.match(/invalid qcow2 header: FDE extension offset 0x4000000000000000 is out of range/);
  });
});

describe("luks/native-backend: capacities no file can have", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "virsecret-native-big-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function vol(format: string, capacity: string): VolumeDef {
    return parseVolumeXML(`<volume><name>big.${format}</name><capacity unit='B'>${capacity}</capacity>
      <target><path>${join(dir, "big." + format)}</path><format type='${format}'/></target></volume>`);
  }

  it("qcow2 larger than an L1 table of 32 MiB can map: qemu-img's error, no file left", async () => {
    const e = await caught(() => createNativeVolume(vol("qcow2", String(1n << 62n)), undefined));
    expect(e.codeName).to.equal("INVALID_ARG");
    expect(e.message).to.match(/The image size is too large for file format 'qcow2' \(try using a larger cluster size\)/);
    expect(await readdir(dir)).to.deep.equal([]);
  });

  it("raw past what a file offset can hold, or past the file system's limit: a VirError, no file left", async () => {
    for (const cap of [String(1n << 62n), String(1n << 50n)]) {
      const e = await caught(() => createNativeVolume(vol("raw", cap), undefined));
      expect(e.message).to.match(/big\.raw/);
      expect(await readdir(dir)).to.deep.equal([]);
    }
  });
});
