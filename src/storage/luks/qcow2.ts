// qcow2 (qemu docs/interop/qcow2.txt) as far as an encrypted volume needs it:
// the header (v2 and v3, big-endian) with its extensions, the layout of a
// fresh image, and the guest-to-host cluster map through L1/L2 tables with
// allocation of new clusters and their refcounts.
//
// A fresh image is, cluster by cluster: the header (plus the Full Disk
// Encryption extension naming the LUKS area), the refcount table, refcount
// block(s), the L1 table, then the LUKS area; nothing is allocated for data.
// That is what `qemu-img create -f qcow2 -o encrypt.format=luks` writes.
//
// Writing allocates at the end of the file: first the refcount (a new
// refcount block when the cluster falls outside every existing one), then
// the data, then the L2 entry (a new L2 table first when the L1 entry is
// empty), then the L1 entry. A crash in between leaks a cluster (which
// `qemu-img check -r leaks` repairs) but never points a table at garbage.
// Refused on open: a backing file, an external data file, extended L2
// entries, unknown incompatible features; compressed clusters fail when read.
// Refused for writing only: internal snapshots (shared clusters), the dirty
// or corrupt bit, and refcounts other than 16 bits (qemu's default).
import type { FileHandle } from "node:fs/promises";
import { VirError } from "../../errors.js";

export const QCOW2_MAGIC = Buffer.from([0x51, 0x46, 0x49, 0xfb]);
export const QCOW2_CRYPT_NONE = 0;
export const QCOW2_CRYPT_AES = 1;
export const QCOW2_CRYPT_LUKS = 2;
/** header extension types */
export const EXT_END = 0;
export const EXT_FDE = 0x0537be77;
export const EXT_BACKING_FORMAT = 0xe2792aca;
export const EXT_FEATURE_NAMES = 0x6803f857;
export const EXT_BITMAPS = 0x23852875;
export const EXT_DATA_FILE = 0x44415441;

const V2_HEADER_LENGTH = 72;
/** v3 with the compression_type byte, padded to 8 (what qemu-img writes) */
const V3_HEADER_LENGTH = 112;
const OFFSET_MASK = 0x00fffffffffffe00n;
/** qemu's QCOW_MAX_L1_SIZE and QCOW_MAX_REFTABLE_SIZE, in bytes: tables larger than these are refused */
const MAX_L1_BYTES = 32 * 1024 * 1024;
const MAX_REFTABLE_BYTES = 8 * 1024 * 1024;
/** The largest host offset Node can address: a position that is not a safe integer means "the current position" to fs. */
const MAX_HOST_OFFSET = BigInt(Number.MAX_SAFE_INTEGER);
const COPIED = 1n << 63n;
const COMPRESSED = 1n << 62n;
const ZERO_FLAG = 1n;

/** incompatible feature bits */
const INCOMPAT_DIRTY = 1n;
const INCOMPAT_CORRUPT = 2n;
const INCOMPAT_DATA_FILE = 4n;
const INCOMPAT_COMPRESSION = 8n;
const INCOMPAT_EXTL2 = 16n;
const INCOMPAT_KNOWN = INCOMPAT_DIRTY | INCOMPAT_CORRUPT | INCOMPAT_DATA_FILE | INCOMPAT_COMPRESSION | INCOMPAT_EXTL2;

export interface Qcow2Header {
  readonly version: 2 | 3;
  readonly backingFileOffset: bigint;
  readonly backingFileSize: number;
  readonly clusterBits: number;
  /** guest size in bytes */
  readonly size: bigint;
  readonly cryptMethod: number;
  readonly l1Size: number;
  readonly l1TableOffset: bigint;
  readonly refcountTableOffset: bigint;
  readonly refcountTableClusters: number;
  readonly nbSnapshots: number;
  readonly snapshotsOffset: bigint;
  readonly incompatibleFeatures: bigint;
  readonly compatibleFeatures: bigint;
  readonly autoclearFeatures: bigint;
  readonly refcountOrder: number;
  readonly headerLength: number;
  /** the Full Disk Encryption header pointer extension (LUKS area) */
  readonly fde?: { readonly offset: bigint; readonly length: bigint };
  /** extension types found, in order (FDE included) */
  readonly extensions: readonly number[];
}

function bad(what: string, detail: string): VirError {
  return new VirError("INTERNAL_ERROR", `${what} has an invalid qcow2 header: ${detail}`, "STORAGE");
}

/** An offset (and length) the file names, as a host position; refused past what Node can address. */
function hostOffset(what: string, field: string, offset: bigint, length = 0n): number {
  if (offset + length > MAX_HOST_OFFSET) throw bad(what, `${field} 0x${offset.toString(16)} is out of range`);
  return Number(offset);
}

function unsupported(what: string, detail: string): VirError {
  return new VirError("CONFIG_UNSUPPORTED", `${what}: ${detail} is not supported by the native qcow2 reader`, "STORAGE");
}

/** The header fields, the FDE extension when given, and the end-of-extensions marker. */
export function encodeQcow2Header(h: Omit<Qcow2Header, "headerLength" | "extensions">): Buffer {
  const len = h.version === 2 ? V2_HEADER_LENGTH : V3_HEADER_LENGTH;
  const ext = h.fde ? 8 + 16 : 0;
  const b = Buffer.alloc(len + ext + 8);
  QCOW2_MAGIC.copy(b, 0);
  b.writeUInt32BE(h.version, 4);
  b.writeBigUInt64BE(h.backingFileOffset, 8);
  b.writeUInt32BE(h.backingFileSize, 16);
  b.writeUInt32BE(h.clusterBits, 20);
  b.writeBigUInt64BE(h.size, 24);
  b.writeUInt32BE(h.cryptMethod, 32);
  b.writeUInt32BE(h.l1Size, 36);
  b.writeBigUInt64BE(h.l1TableOffset, 40);
  b.writeBigUInt64BE(h.refcountTableOffset, 48);
  b.writeUInt32BE(h.refcountTableClusters, 56);
  b.writeUInt32BE(h.nbSnapshots, 60);
  b.writeBigUInt64BE(h.snapshotsOffset, 64);
  if (h.version === 3) {
    b.writeBigUInt64BE(h.incompatibleFeatures, 72);
    b.writeBigUInt64BE(h.compatibleFeatures, 80);
    b.writeBigUInt64BE(h.autoclearFeatures, 88);
    b.writeUInt32BE(h.refcountOrder, 96);
    b.writeUInt32BE(len, 100);
    // byte 104: compression_type 0 (zlib)
  } else if (h.refcountOrder !== 4) {
    throw new VirError("INVALID_ARG", "qcow2 version 2 has 16-bit refcounts only", "STORAGE");
  }
  if (h.fde) {
    b.writeUInt32BE(EXT_FDE, len);
    b.writeUInt32BE(16, len + 4);
    b.writeBigUInt64BE(h.fde.offset, len + 8);
    b.writeBigUInt64BE(h.fde.length, len + 16);
  }
  // the end-of-extensions marker is the zeroed tail
  return b;
}

/**
 * Parse a qcow2 header and its extensions from the start of the file
 * (`buf` must hold the first cluster, or the whole file when shorter).
 */
export function decodeQcow2Header(buf: Uint8Array, what = "the volume"): Qcow2Header {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  if (b.length < V2_HEADER_LENGTH || !b.subarray(0, 4).equals(QCOW2_MAGIC)) throw bad(what, "no qcow2 magic");
  const version = b.readUInt32BE(4);
  if (version !== 2 && version !== 3) throw unsupported(what, `qcow2 version ${version}`);
  const clusterBits = b.readUInt32BE(20);
  if (clusterBits < 9 || clusterBits > 21) throw bad(what, `cluster_bits ${clusterBits}`);
  let incompatibleFeatures = 0n;
  let compatibleFeatures = 0n;
  let autoclearFeatures = 0n;
  let refcountOrder = 4;
  let headerLength = V2_HEADER_LENGTH;
  if (version === 3) {
    if (b.length < 104) throw bad(what, "version 3 header cut short");
    incompatibleFeatures = b.readBigUInt64BE(72);
    compatibleFeatures = b.readBigUInt64BE(80);
    autoclearFeatures = b.readBigUInt64BE(88);
    refcountOrder = b.readUInt32BE(96);
    headerLength = b.readUInt32BE(100);
    if (headerLength < 104 || headerLength % 8 !== 0 || headerLength > b.length) throw bad(what, `header_length ${headerLength}`);
    if (refcountOrder > 6) throw bad(what, `refcount_order ${refcountOrder}`);
  }
  const extensions: number[] = [];
  let fde: Qcow2Header["fde"];
  const cluster = 1 << clusterBits;
  const end = Math.min(b.length, cluster);
  for (let o = headerLength; ; ) {
    if (o + 8 > end) throw bad(what, "header extensions run past the first cluster");
    const type = b.readUInt32BE(o);
    const len = b.readUInt32BE(o + 4);
    if (type === EXT_END) break;
    if (o + 8 + len > end) throw bad(what, `header extension 0x${type.toString(16)} runs past the first cluster`);
    extensions.push(type);
    if (type === EXT_FDE) {
      if (len !== 16) throw bad(what, `FDE extension length ${len}`);
      fde = { offset: b.readBigUInt64BE(o + 8), length: b.readBigUInt64BE(o + 16) };
    }
    o += 8 + Math.ceil(len / 8) * 8;
  }
  return {
    version,
    backingFileOffset: b.readBigUInt64BE(8),
    backingFileSize: b.readUInt32BE(16),
    clusterBits,
    size: b.readBigUInt64BE(24),
    cryptMethod: b.readUInt32BE(32),
    l1Size: b.readUInt32BE(36),
    l1TableOffset: b.readBigUInt64BE(40),
    refcountTableOffset: b.readBigUInt64BE(48),
    refcountTableClusters: b.readUInt32BE(56),
    nbSnapshots: b.readUInt32BE(60),
    snapshotsOffset: b.readBigUInt64BE(64),
    incompatibleFeatures,
    compatibleFeatures,
    autoclearFeatures,
    refcountOrder,
    headerLength,
    ...(fde ? { fde } : {}),
    extensions,
  };
}

// ---------------------------------------------------------------------------
// A fresh image

export interface Qcow2Layout {
  readonly clusterBits: number;
  readonly l1Size: number;
  readonly refcountTableOffset: number;
  readonly refcountTableClusters: number;
  /** host offsets of the refcount blocks, in refcount-table order */
  readonly refcountBlockOffsets: readonly number[];
  readonly l1TableOffset: number;
  /** host offset of the LUKS area (0 when there is none) */
  readonly luksOffset: number;
  /** clusters in the file; the file is exactly this long */
  readonly clusters: number;
}

/** Entries of an L2 table (or refcounts of a refcount block with 16-bit refcounts). */
const l2Entries = (clusterBits: number): number => 1 << (clusterBits - 3);

/** Where everything of a fresh image goes, for `capacity` guest bytes and a LUKS area of `luksBytes` (0: none). */
export function planQcow2(capacity: bigint, clusterBits: number, luksBytes: number): Qcow2Layout {
  const C = 1 << clusterBits;
  const perL2 = BigInt(l2Entries(clusterBits)) * BigInt(C);
  const l1Entries = (capacity + perL2 - 1n) / perL2;
  if (l1Entries * 8n > BigInt(MAX_L1_BYTES)) {
    // qemu-img's text for the same refusal
    throw new VirError("INVALID_ARG", "The image size is too large for file format 'qcow2' (try using a larger cluster size)", "STORAGE");
  }
  const l1Size = Number(l1Entries);
  const l1Clusters = Math.max(1, Math.ceil((l1Size * 8) / C));
  const luksClusters = Math.ceil(luksBytes / C);
  const perBlock = C / 2; // 16-bit refcounts
  const fixed = 1 + l1Clusters + luksClusters;
  let rt = 1;
  let rb = 1;
  // the refcount blocks count themselves and the table: iterate to a fixed point
  for (;;) {
    const total = fixed + rt + rb;
    const needRb = Math.ceil(total / perBlock);
    const needRt = Math.ceil((needRb * 8) / C);
    if (needRb === rb && needRt === rt) break;
    rb = needRb;
    rt = needRt;
  }
  const rtOffset = C;
  const rbOffsets = Array.from({ length: rb }, (_, i) => (1 + rt + i) * C);
  const l1Offset = (1 + rt + rb) * C;
  const luksOffset = luksClusters > 0 ? l1Offset + l1Clusters * C : 0;
  return {
    clusterBits,
    l1Size,
    refcountTableOffset: rtOffset,
    refcountTableClusters: rt,
    refcountBlockOffsets: rbOffsets,
    l1TableOffset: l1Offset,
    luksOffset,
    clusters: fixed + rt + rb,
  };
}

/** The metadata writes of a fresh image (the L1 table and LUKS area are left as zeros / sparse). */
export function freshQcow2Metadata(
  layout: Qcow2Layout,
  opts: { readonly capacity: bigint; readonly version: 2 | 3; readonly cryptMethod: number; readonly fdeLength?: number },
): { offset: number; data: Buffer }[] {
  const C = 1 << layout.clusterBits;
  const header = encodeQcow2Header({
    version: opts.version,
    backingFileOffset: 0n,
    backingFileSize: 0,
    clusterBits: layout.clusterBits,
    size: opts.capacity,
    cryptMethod: opts.cryptMethod,
    l1Size: layout.l1Size,
    l1TableOffset: BigInt(layout.l1TableOffset),
    refcountTableOffset: BigInt(layout.refcountTableOffset),
    refcountTableClusters: layout.refcountTableClusters,
    nbSnapshots: 0,
    snapshotsOffset: 0n,
    incompatibleFeatures: 0n,
    compatibleFeatures: 0n,
    autoclearFeatures: 0n,
    refcountOrder: 4,
    ...(opts.fdeLength !== undefined ? { fde: { offset: BigInt(layout.luksOffset), length: BigInt(opts.fdeLength) } } : {}),
  });
  if (header.length > C) throw new VirError("INVALID_ARG", "qcow2 header does not fit in one cluster", "STORAGE");
  const table = Buffer.alloc(layout.refcountTableClusters * C);
  layout.refcountBlockOffsets.forEach((off, i) => table.writeBigUInt64BE(BigInt(off), i * 8));
  const writes = [
    { offset: 0, data: header },
    { offset: layout.refcountTableOffset, data: table },
  ];
  const perBlock = C / 2;
  layout.refcountBlockOffsets.forEach((off, i) => {
    const block = Buffer.alloc(C);
    for (let j = 0; j < perBlock; j++) {
      if (i * perBlock + j < layout.clusters) block.writeUInt16BE(1, j * 2);
    }
    writes.push({ offset: off, data: block });
  });
  return writes;
}

// ---------------------------------------------------------------------------
// The cluster map of an open image

/** Where a guest cluster lives: a host offset, or nowhere (reads as zeros). */
export type ClusterMapping = { readonly kind: "data"; readonly host: number } | { readonly kind: "zero" };

/** Positions Node would misread (see MAX_HOST_OFFSET) are a VirError, never a read or write elsewhere. */
function checkPosition(offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(offset + length)) {
    throw new VirError("INTERNAL_ERROR", `file position ${offset}+${length} is out of range`, "STORAGE");
  }
}

async function readAt(fh: FileHandle, offset: number, length: number): Promise<Buffer> {
  checkPosition(offset, length);
  const b = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(b, got, length - got, offset + got);
    if (bytesRead === 0) break; // past the end of the file: zeros, as a sparse tail
    got += bytesRead;
  }
  return b;
}

async function writeAt(fh: FileHandle, offset: number, data: Uint8Array): Promise<void> {
  checkPosition(offset, data.length);
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await fh.write(data, done, data.length - done, offset + done);
    done += bytesWritten;
  }
}

export { readAt, writeAt };

/** A small LRU of cluster-sized tables. */
class TableCache {
  readonly #map = new Map<number, Buffer>();
  constructor(readonly limit: number) {}
  get(k: number): Buffer | undefined {
    const v = this.#map.get(k);
    if (v) {
      this.#map.delete(k);
      this.#map.set(k, v);
    }
    return v;
  }
  set(k: number, v: Buffer): void {
    this.#map.set(k, v);
    if (this.#map.size > this.limit) this.#map.delete(this.#map.keys().next().value!);
  }
}

export class Qcow2Map {
  readonly header: Qcow2Header;
  readonly clusterSize: number;
  readonly writable: boolean;
  readonly #fh: FileHandle;
  readonly #what: string;
  readonly #l1: Buffer;
  readonly #refTable: Buffer;
  readonly #l2 = new TableCache(64);
  readonly #rb = new TableCache(16);
  /** the next host cluster to hand out (the end of the file) */
  #next: number;
  #autoclearCleared = false;

  private constructor(fh: FileHandle, header: Qcow2Header, l1: Buffer, refTable: Buffer, fileSize: number, writable: boolean, what: string) {
    this.#fh = fh;
    this.header = header;
    this.clusterSize = 1 << header.clusterBits;
    this.#l1 = l1;
    this.#refTable = refTable;
    this.#next = Math.ceil(fileSize / this.clusterSize);
    this.writable = writable;
    this.#what = what;
  }

  /** Read the header and tables of an open qcow2 file; refuses what this reader cannot handle. */
  static async open(fh: FileHandle, writable: boolean, what = "the volume"): Promise<Qcow2Map> {
    const st = await fh.stat();
    const head = await readAt(fh, 0, 4096);
    if (!head.subarray(0, 4).equals(QCOW2_MAGIC)) throw bad(what, "no qcow2 magic");
    const bits = head.readUInt32BE(20);
    if (bits < 9 || bits > 21) throw bad(what, `cluster_bits ${bits}`);
    const first = bits > 12 ? await readAt(fh, 0, Math.min(1 << bits, Math.max(st.size, 4096))) : head;
    const h = decodeQcow2Header(first, what);
    const unknown = h.incompatibleFeatures & ~INCOMPAT_KNOWN;
    if (unknown !== 0n) throw unsupported(what, `incompatible feature bits 0x${unknown.toString(16)}`);
    if (h.incompatibleFeatures & INCOMPAT_DATA_FILE) throw unsupported(what, "an external data file");
    if (h.incompatibleFeatures & INCOMPAT_EXTL2) throw unsupported(what, "extended L2 entries");
    if (h.backingFileOffset !== 0n) throw unsupported(what, "a backing file");
    if (writable) {
      if (h.incompatibleFeatures & (INCOMPAT_DIRTY | INCOMPAT_CORRUPT)) {
        throw unsupported(what, "writing an image marked dirty or corrupt (run qemu-img check -r all)");
      }
      if (h.nbSnapshots !== 0) throw unsupported(what, "writing an image with internal snapshots");
      if (h.refcountOrder !== 4) throw unsupported(what, `writing refcounts of ${1 << h.refcountOrder} bits`);
    }
    const C = 1 << h.clusterBits;
    if (h.l1Size * 8 > MAX_L1_BYTES) throw bad(what, `l1_size ${h.l1Size}`);
    const perL2 = BigInt(l2Entries(h.clusterBits)) * BigInt(C);
    if (BigInt(h.l1Size) * perL2 < h.size) throw bad(what, `l1_size ${h.l1Size} does not cover the image size`);
    if (h.l1TableOffset % BigInt(C) !== 0n || h.refcountTableOffset % BigInt(C) !== 0n) throw bad(what, "tables not cluster aligned");
    if (h.refcountTableClusters < 1) throw bad(what, "refcount_table_clusters 0");
    // the table is read whole: its size is bounded before anything is allocated
    if (h.refcountTableClusters * C > MAX_REFTABLE_BYTES) throw bad(what, `refcount_table_clusters ${h.refcountTableClusters} is too large`);
    const l1Offset = hostOffset(what, "l1_table_offset", h.l1TableOffset, BigInt(h.l1Size * 8));
    const rtOffset = hostOffset(what, "refcount_table_offset", h.refcountTableOffset, BigInt(h.refcountTableClusters * C));
    if (h.fde) hostOffset(what, "FDE extension offset", h.fde.offset, h.fde.length);
    const l1 = await readAt(fh, l1Offset, h.l1Size * 8);
    const rt = await readAt(fh, rtOffset, h.refcountTableClusters * C);
    return new Qcow2Map(fh, h, l1, rt, st.size, writable, what);
  }

  #entryOffset(e: bigint, kind: string): number {
    const off = e & OFFSET_MASK;
    if (off % BigInt(this.clusterSize) !== 0n) throw bad(this.#what, `${kind} entry offset 0x${off.toString(16)} not cluster aligned`);
    return hostOffset(this.#what, `${kind} entry offset`, off, BigInt(this.clusterSize));
  }

  async #loadL2(l1i: number): Promise<{ table: Buffer; offset: number } | undefined> {
    const e = this.#l1.readBigUInt64BE(l1i * 8);
    const off = this.#entryOffset(e, "L1");
    if (off === 0) return undefined;
    let t = this.#l2.get(off);
    if (!t) {
      t = await readAt(this.#fh, off, this.clusterSize);
      this.#l2.set(off, t);
    }
    return { table: t, offset: off };
  }

  #split(guestCluster: number): { l1i: number; l2i: number } {
    const n = l2Entries(this.header.clusterBits);
    const l1i = Math.floor(guestCluster / n);
    if (l1i >= this.header.l1Size) throw new VirError("INTERNAL_ERROR", `guest cluster ${guestCluster} is past the L1 table`, "STORAGE");
    return { l1i, l2i: guestCluster % n };
  }

  /** Where guest cluster `guestCluster` is. */
  async lookup(guestCluster: number): Promise<ClusterMapping> {
    const { l1i, l2i } = this.#split(guestCluster);
    const l2 = await this.#loadL2(l1i);
    if (!l2) return { kind: "zero" };
    const e = l2.table.readBigUInt64BE(l2i * 8);
    if (e & COMPRESSED) throw unsupported(this.#what, "a compressed cluster");
    const off = this.#entryOffset(e, "L2");
    // the zero flag (v3) wins over a preallocated offset
    if (off === 0 || (this.header.version === 3 && (e & ZERO_FLAG) !== 0n)) return { kind: "zero" };
    // an entry without COPIED is shared with a snapshot: writing it in place would change the snapshot
    return { kind: "data", host: off };
  }

  /** True when a mapped guest cluster can be overwritten in place. */
  async inPlace(guestCluster: number): Promise<boolean> {
    const { l1i, l2i } = this.#split(guestCluster);
    const l2 = await this.#loadL2(l1i);
    if (!l2) return false;
    const l1e = this.#l1.readBigUInt64BE(l1i * 8);
    const e = l2.table.readBigUInt64BE(l2i * 8);
    return (l1e & COPIED) !== 0n && (e & COPIED) !== 0n;
  }

  /** The host offset a zero-flagged cluster already owns, for reuse; 0 when none. */
  async preallocated(guestCluster: number): Promise<number> {
    const { l1i, l2i } = this.#split(guestCluster);
    const l2 = await this.#loadL2(l1i);
    if (!l2) return 0;
    const e = l2.table.readBigUInt64BE(l2i * 8);
    return (e & COPIED) !== 0n ? this.#entryOffset(e, "L2") : 0;
  }

  #needWritable(): void {
    if (!this.writable) throw new VirError("OPERATION_INVALID", `${this.#what} is open read-only`, "STORAGE");
  }

  async #clearAutoclear(): Promise<void> {
    // bits we do not maintain (e.g. persistent bitmaps) go stale once we write
    if (this.#autoclearCleared || this.header.version !== 3 || this.header.autoclearFeatures === 0n) return;
    const b = Buffer.alloc(8);
    await writeAt(this.#fh, 88, b);
    this.#autoclearCleared = true;
  }

  async #setRefcount(cluster: number, value: number): Promise<void> {
    const perBlock = this.clusterSize / 2;
    const rbi = Math.floor(cluster / perBlock);
    const off = this.#entryOffset(this.#refTable.readBigUInt64BE(rbi * 8), "refcount table");
    let block = this.#rb.get(off);
    if (!block) {
      block = await readAt(this.#fh, off, this.clusterSize);
      this.#rb.set(off, block);
    }
    const j = cluster % perBlock;
    block.writeUInt16BE(value, j * 2);
    await writeAt(this.#fh, off + j * 2, block.subarray(j * 2, j * 2 + 2));
  }

  /** A new host cluster with refcount 1 (content not written); returns its offset. */
  async allocateCluster(): Promise<number> {
    this.#needWritable();
    await this.#clearAutoclear();
    const perBlock = this.clusterSize / 2;
    for (;;) {
      const idx = this.#next++;
      const rbi = Math.floor(idx / perBlock);
      if ((rbi + 1) * 8 > this.#refTable.length) {
        throw unsupported(this.#what, "growing the refcount table (the image is too large)");
      }
      if (this.#refTable.readBigUInt64BE(rbi * 8) === 0n) {
        // no block covers idx: idx becomes that block, counting itself
        const block = Buffer.alloc(this.clusterSize);
        block.writeUInt16BE(1, (idx % perBlock) * 2);
        const off = idx * this.clusterSize;
        await writeAt(this.#fh, off, block);
        this.#rb.set(off, block);
        this.#refTable.writeBigUInt64BE(BigInt(off), rbi * 8);
        await writeAt(this.#fh, Number(this.header.refcountTableOffset) + rbi * 8, this.#refTable.subarray(rbi * 8, rbi * 8 + 8));
        continue;
      }
      await this.#setRefcount(idx, 1);
      return idx * this.clusterSize;
    }
  }

  /** Point guest cluster `guestCluster` at host cluster `host` (already allocated and written). */
  async map(guestCluster: number, host: number): Promise<void> {
    this.#needWritable();
    const { l1i, l2i } = this.#split(guestCluster);
    let l2 = await this.#loadL2(l1i);
    if (!l2) {
      const off = await this.allocateCluster();
      const table = Buffer.alloc(this.clusterSize);
      await writeAt(this.#fh, off, table);
      this.#l2.set(off, table);
      this.#l1.writeBigUInt64BE(BigInt(off) | COPIED, l1i * 8);
      await writeAt(this.#fh, Number(this.header.l1TableOffset) + l1i * 8, this.#l1.subarray(l1i * 8, l1i * 8 + 8));
      l2 = { table, offset: off };
    }
    l2.table.writeBigUInt64BE(BigInt(host) | COPIED, l2i * 8);
    await writeAt(this.#fh, l2.offset + l2i * 8, l2.table.subarray(l2i * 8, l2i * 8 + 8));
  }
}
