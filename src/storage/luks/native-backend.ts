// The native volume backend: creates raw-LUKS and qcow2-LUKS files from a
// volume definition and a passphrase in TypeScript (no qemu-img), and opens
// them (or ones qemu-img / cryptsetup made) to read and write guest data.
//
// Choices, documented because the tools leave them open:
//  - raw LUKS: payload-offset 4096 sectors (cryptsetup's LUKS1 default: the
//    data starts on a 1 MiB boundary); qemu-img would write 4040. Both read
//    the offset from the header, so either opens the other's volumes.
//  - qcow2 LUKS: the LUKS area is exactly the header plus 8 key slots (4040
//    sectors for a 64-byte key), its payload-offset says the same, as qemu
//    writes it; inside qcow2 payload-offset is ignored.
//  - sizes: capacity rounded up to KiB, as the qemu-img backend passes
//    `<KiB>K` (libvirt's command line), so both backends make equal sizes.
//  - the payload is not written: unwritten LUKS sectors decrypt to noise,
//    as on a volume qemu-img creates; unallocated qcow2 clusters read zeros.
//  - qcow2 version 2 unless <compat>1.1</compat> (libvirt adds compat=0.10).
//
// Raw data IVs count sectors from the payload start; qcow2 data IVs are the
// host file offset / 512 (qemu's crypt_physical_offset for LUKS in qcow2).
import { open, unlink, type FileHandle } from "node:fs/promises";
import { VirError } from "../../errors.js";
import { SerialQueue } from "../../serial-queue.js";
import { checkCreateRules } from "../qemu-img.js";
import type { VolumeDef } from "../volume-def.js";
import { decodeLuks1Header, formatLuks1, LUKS1_HEADER_SIZE, LUKS_MAGIC, unlockLuks1, type Luks1Header } from "./luks1.js";
import { freshQcow2Metadata, planQcow2, Qcow2Map, QCOW2_CRYPT_LUKS, QCOW2_CRYPT_NONE, QCOW2_MAGIC, readAt, writeAt } from "./qcow2.js";
import { createSectorCipher, formatCipherMode, SECTOR_SIZE, type CipherMode, type SectorCipher } from "./xts.js";

/** payload-offset of raw LUKS volumes we make: cryptsetup's 1 MiB-aligned 4096 sectors */
export const RAW_PAYLOAD_OFFSET = 4096;
const DEFAULT_CLUSTER_BITS = 16;

function unsupported(detail: string): VirError {
  return new VirError("CONFIG_UNSUPPORTED", detail, "STORAGE");
}

function sysError(what: string, path: string, e: unknown): VirError {
  const code = (e as NodeJS.ErrnoException).code;
  return new VirError("SYSTEM_ERROR", `${what} '${path}': ${code ?? (e as Error).message}`, "STORAGE", { cause: e });
}

export interface LuksParams {
  readonly cipherName: string;
  readonly mode: CipherMode;
  readonly hashSpec: string;
  readonly keyBytes: number;
}

/**
 * The LUKS parameters an <encryption format='luks'> asks for, with qemu's
 * defaults (aes-256, xts, plain64, sha256) for what it leaves out.
 */
export function luksParamsOf(vol: VolumeDef): LuksParams {
  const c = vol.target.encryption?.cipher;
  const iv = vol.target.encryption?.ivgen;
  const cipherName = (c?.name ?? "aes").toLowerCase();
  const size = c?.size ?? 256;
  const chain = (c?.mode ?? "xts").toLowerCase();
  const hashSpec = (c?.hash ?? "sha256").toLowerCase();
  if (cipherName !== "aes") throw unsupported(`the native LUKS backend supports cipher aes only, not '${cipherName.slice(0, 32)}'`);
  if (chain !== "xts" && chain !== "cbc") throw unsupported(`the native LUKS backend supports cipher modes xts and cbc, not '${chain.slice(0, 32)}'`);
  if (![128, 192, 256].includes(size) || (chain === "xts" && size === 192)) {
    throw unsupported(`the native LUKS backend cannot use aes-${size} with mode ${chain}`);
  }
  const ivName = (iv?.name ?? "plain64").toLowerCase();
  let mode: CipherMode;
  if (ivName === "essiv") mode = { chain, ivgen: { name: "essiv", hash: (iv?.hash ?? "sha256").toLowerCase() } };
  else if (ivName === "plain64" || ivName === "plain") mode = { chain, ivgen: { name: ivName } };
  else throw unsupported(`the native LUKS backend supports ivgen plain, plain64 and essiv, not '${ivName.slice(0, 32)}'`);
  const keyBytes = (size / 8) * (chain === "xts" ? 2 : 1);
  return { cipherName, mode, hashSpec, keyBytes };
}

export interface NativeCreateOptions {
  /** PBKDF2 time of the key slot in ms (qemu's iter-time); default 2000 */
  readonly iterTimeMs?: number;
  /** exact key-slot iterations instead (at least 1000) */
  readonly iterations?: number;
  /** file mode of the new file; default 0600 */
  readonly mode?: number;
  /** stops the create; the half-made file is removed */
  readonly signal?: AbortSignal;
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new VirError("OPERATION_ABORTED", "native volume creation was stopped before it finished", "STORAGE");
}

/**
 * Create the file of `vol` (its target.path, which must not exist): raw or
 * qcow2, LUKS-encrypted with `passphrase` when it has an <encryption>.
 * libvirt's format rules apply first (the same errors as the qemu-img backend).
 */
export async function createNativeVolume(vol: VolumeDef, passphrase: Uint8Array | undefined, opts: NativeCreateOptions = {}): Promise<void> {
  const plan = checkCreateRules(vol);
  const t = vol.target;
  const path = t.path;
  if (path === undefined || path === "") throw new VirError("INTERNAL_ERROR", `volume '${vol.name}' has no target path`, "STORAGE");
  if (vol.backingStore) throw unsupported("the native backend cannot create a volume with a backing store");
  if (t.nocow) throw unsupported("the native backend cannot set nocow");
  if (plan.format !== "raw" && plan.format !== "qcow2") throw unsupported(`the native backend cannot create ${plan.format} volumes`);
  const enc = t.encryption;
  if (enc && (passphrase === undefined || passphrase.length === 0)) {
    throw new VirError("INTERNAL_ERROR", "missing passphrase for an encrypted volume", "STORAGE");
  }
  let version: 2 | 3 = 2;
  let clusterBits = DEFAULT_CLUSTER_BITS;
  if (plan.format === "qcow2") {
    if (t.compat === "1.1") version = 3;
    else if (t.compat !== undefined && t.compat !== "0.10") throw unsupported(`qcow2 compat '${t.compat}' is not supported by the native backend`);
    if (t.features?.extendedL2) throw unsupported("the native backend cannot create qcow2 with extended L2 entries");
    if (t.features?.lazyRefcounts && version !== 3) {
      throw unsupported(`lazy_refcounts not supported with compat level ${t.compat ?? "0.10"}`);
    }
    if (t.clusterSize !== undefined && t.clusterSize > 0n) {
      const cs = Number(t.clusterSize);
      clusterBits = Math.log2(cs);
      if (!Number.isInteger(clusterBits) || clusterBits < 9 || clusterBits > 21) {
        throw new VirError("INVALID_ARG", `cluster size ${t.clusterSize} must be a power of two between 512 and 2 MiB`, "STORAGE");
      }
    }
  }
  const capacity = ((vol.capacity + 1023n) / 1024n) * 1024n;
  const params = enc ? luksParamsOf(vol) : undefined;
  checkAborted(opts.signal);

  let fh: FileHandle;
  try {
    fh = await open(path, "wx", opts.mode ?? 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") throw new VirError("STORAGE_VOL_EXIST", `'${vol.name}'`, "STORAGE");
    throw sysError("cannot create volume file", path, e);
  }
  let ok = false;
  try {
    let luks: Awaited<ReturnType<typeof formatLuks1>> | undefined;
    if (params) {
      luks = await formatLuks1(passphrase!, {
        cipherName: params.cipherName,
        cipherMode: formatCipherMode(params.mode),
        hashSpec: params.hashSpec,
        keyBytes: params.keyBytes,
        ...(opts.iterTimeMs !== undefined ? { iterTimeMs: opts.iterTimeMs } : {}),
        ...(opts.iterations !== undefined ? { iterations: opts.iterations } : {}),
        ...(plan.format === "raw" ? { payloadOffset: (l) => Math.max(RAW_PAYLOAD_OFFSET, Math.ceil(l.end / 2048) * 2048) } : {}),
      });
      // the key itself is not needed to create: nothing of the payload is written
      luks.masterKey.fill(0);
    }
    checkAborted(opts.signal);
    if (plan.format === "raw") {
      if (luks) for (const w of luks.writes) await writeAt(fh, w.offset, w.data);
      const size = BigInt((luks?.header.payloadOffset ?? 0) * SECTOR_SIZE) + capacity;
      if (size > BigInt(Number.MAX_SAFE_INTEGER)) {
        throw new VirError("INVALID_ARG", `volume '${vol.name}' of ${capacity} bytes is larger than a file can be`, "STORAGE");
      }
      await fh.truncate(Number(size));
    } else {
      const layout = planQcow2(capacity, clusterBits, luks?.areaBytes ?? 0);
      const meta = freshQcow2Metadata(layout, {
        capacity,
        version,
        cryptMethod: luks ? QCOW2_CRYPT_LUKS : QCOW2_CRYPT_NONE,
        ...(luks ? { fdeLength: luks.areaBytes } : {}),
      });
      if (t.features?.lazyRefcounts) meta[0]!.data.writeBigUInt64BE(1n, 80); // compatible_features bit 0
      for (const w of meta) await writeAt(fh, w.offset, w.data);
      if (luks) for (const w of luks.writes) await writeAt(fh, layout.luksOffset + w.offset, w.data);
      await fh.truncate(layout.clusters << clusterBits);
    }
    await fh.sync();
    ok = true;
  } catch (e) {
    // an errno (EFBIG, ENOSPC, …) or an out-of-range size names the file, as every other failure here does
    if (e instanceof VirError) throw e;
    throw sysError("cannot write volume file", path, e);
  } finally {
    await fh.close();
    if (!ok) await unlink(path).catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------
// Opening a volume

export interface NativeVolume {
  readonly path: string;
  readonly format: "raw" | "qcow2";
  readonly encrypted: boolean;
  /** guest bytes */
  readonly capacity: bigint;
  /** e.g. "aes-xts-plain64" for an encrypted volume */
  readonly cipher?: string;
  /** the key slot the passphrase opened */
  readonly keySlot?: number;
  read(offset: number | bigint, length: number): Promise<Buffer>;
  write(offset: number | bigint, data: Uint8Array): Promise<void>;
  /** flush to stable storage */
  flush(): Promise<void>;
  /** zeroes the volume key and closes the file; safe to call twice */
  close(): Promise<void>;
}

export interface OpenNativeOptions {
  /** open without write access */
  readonly readOnly?: boolean;
}

/** Reads and writes whole-sector-aligned host ranges through the cipher. */
class SectorIO {
  constructor(
    private readonly fh: FileHandle,
    private readonly cipher: SectorCipher | undefined,
    /** host offset of IV sector 0 */
    private readonly ivBase: number,
  ) {}

  #iv(host: number): bigint {
    return BigInt((host - this.ivBase) / SECTOR_SIZE);
  }

  async read(host: number, length: number): Promise<Buffer> {
    if (!this.cipher) return readAt(this.fh, host, length);
    const a = Math.floor(host / SECTOR_SIZE) * SECTOR_SIZE;
    const b = Math.ceil((host + length) / SECTOR_SIZE) * SECTOR_SIZE;
    const plain = this.cipher.decrypt(await readAt(this.fh, a, b - a), this.#iv(a));
    return plain.subarray(host - a, host - a + length);
  }

  async write(host: number, data: Uint8Array): Promise<void> {
    if (!this.cipher) return writeAt(this.fh, host, data);
    const end = host + data.length;
    const a = Math.floor(host / SECTOR_SIZE) * SECTOR_SIZE;
    const b = Math.ceil(end / SECTOR_SIZE) * SECTOR_SIZE;
    const buf = Buffer.alloc(b - a);
    // partial edge sectors keep the rest of their plaintext
    const firstPartial = a < host;
    const lastPartial = end < b;
    if (firstPartial) (await this.read(a, SECTOR_SIZE)).copy(buf, 0);
    if (lastPartial && !(firstPartial && b - SECTOR_SIZE === a)) {
      (await this.read(b - SECTOR_SIZE, SECTOR_SIZE)).copy(buf, b - SECTOR_SIZE - a);
    }
    Buffer.from(data.buffer, data.byteOffset, data.length).copy(buf, host - a);
    await writeAt(this.fh, a, this.cipher.encrypt(buf, this.#iv(a)));
  }
}

function toOffset(offset: number | bigint): number {
  const n = typeof offset === "bigint" ? Number(offset) : offset;
  if (!Number.isSafeInteger(n) || n < 0) throw new VirError("INVALID_ARG", `offset ${String(offset)} is not a non-negative integer`, "STORAGE");
  return n;
}

async function unlockAt(fh: FileHandle, base: number, areaLimit: number | undefined, passphrase: Uint8Array | undefined, path: string): Promise<{ header: Luks1Header; masterKey: Buffer; slot: number }> {
  const what = `LUKS volume '${path}'`;
  const header = decodeLuks1Header(await readAt(fh, base, LUKS1_HEADER_SIZE), what);
  if (passphrase === undefined || passphrase.length === 0) {
    throw new VirError("INVALID_ARG", `${what} is encrypted: a passphrase is needed to open it`, "STORAGE");
  }
  const read = async (o: number, l: number): Promise<Buffer> => {
    if (areaLimit !== undefined && o + l > areaLimit) throw new VirError("INTERNAL_ERROR", `${what}: key material lies outside the LUKS area`, "STORAGE");
    return readAt(fh, base + o, l);
  };
  const { masterKey, slot } = await unlockLuks1(header, read, passphrase, what);
  return { header, masterKey, slot };
}

/**
 * Open a raw LUKS or qcow2 (LUKS or unencrypted) volume. A passphrase no key
 * slot takes throws VirError INVALID_SECRET whose text includes qemu's
 * "Invalid password, cannot unlock any keyslot" (see isWrongPassphrase).
 */
export async function openNativeVolume(path: string, passphrase: Uint8Array | undefined, opts: OpenNativeOptions = {}): Promise<NativeVolume> {
  const writable = opts.readOnly !== true;
  let fh: FileHandle;
  try {
    fh = await open(path, writable ? "r+" : "r");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") {
      throw new VirError("NO_STORAGE_VOL", `no storage vol with matching path '${path}'`, "STORAGE");
    }
    throw sysError("cannot open volume", path, e);
  }
  let cipher: SectorCipher | undefined;
  try {
    const head = await readAt(fh, 0, 8);
    const size = (await fh.stat()).size;
    // a volume's operations one at a time: qcow2 allocation must not interleave
    const mutex = new SerialQueue();
    let closed = false;
    const guard = (offset: number, length: number, capacity: bigint): void => {
      if (closed) throw new VirError("OPERATION_INVALID", `volume '${path}' is closed`, "STORAGE");
      if (!Number.isSafeInteger(length) || length < 0) throw new VirError("INVALID_ARG", `length ${length} is not a non-negative integer`, "STORAGE");
      if (BigInt(offset) + BigInt(length) > capacity) {
        throw new VirError("INVALID_ARG", `range ${offset}+${length} is past the end of volume '${path}' (${capacity} bytes)`, "STORAGE");
      }
    };
    const common = {
      path,
      flush: () => mutex.run(() => fh.sync()),
      close: () => mutex.run(async () => {
        if (closed) return;
        closed = true;
        cipher?.dispose();
        await fh.close();
      }),
    };
    const readOnly = (): Promise<void> =>
      Promise.reject(new VirError("OPERATION_INVALID", `volume '${path}' is open read-only`, "STORAGE"));

    if (head.subarray(0, 6).equals(LUKS_MAGIC)) {
      const { header, masterKey, slot } = await unlockAt(fh, 0, undefined, passphrase, path);
      try {
        cipher = createSectorCipher(header.cipherName, header.cipherMode, masterKey);
      } finally {
        masterKey.fill(0);
      }
      const base = header.payloadOffset * SECTOR_SIZE;
      if (base > size) throw new VirError("INTERNAL_ERROR", `LUKS volume '${path}' is shorter than its payload offset`, "STORAGE");
      const capacity = BigInt(Math.floor((size - base) / SECTOR_SIZE) * SECTOR_SIZE);
      const io = new SectorIO(fh, cipher, base);
      return {
        ...common,
        format: "raw",
        encrypted: true,
        capacity,
        cipher: `${header.cipherName}-${header.cipherMode}`,
        keySlot: slot,
        read: (offset, length) => mutex.run(async () => {
          const o = toOffset(offset);
          guard(o, length, capacity);
          return io.read(base + o, length);
        }),
        write: !writable ? readOnly : (offset, data) => mutex.run(async () => {
          const o = toOffset(offset);
          guard(o, data.length, capacity);
          await io.write(base + o, data);
        }),
      };
    }

    if (head.subarray(0, 4).equals(QCOW2_MAGIC)) {
      const map = await Qcow2Map.open(fh, writable, `qcow2 volume '${path}'`);
      const h = map.header;
      let keySlot: number | undefined;
      let cipherName: string | undefined;
      if (h.cryptMethod === QCOW2_CRYPT_LUKS) {
        if (!h.fde) throw new VirError("INTERNAL_ERROR", `qcow2 volume '${path}' is LUKS-encrypted but has no encryption header extension`, "STORAGE");
        const u = await unlockAt(fh, Number(h.fde.offset), Number(h.fde.length), passphrase, path);
        try {
          cipher = createSectorCipher(u.header.cipherName, u.header.cipherMode, u.masterKey);
        } finally {
          u.masterKey.fill(0);
        }
        keySlot = u.slot;
        cipherName = `${u.header.cipherName}-${u.header.cipherMode}`;
      } else if (h.cryptMethod !== QCOW2_CRYPT_NONE) {
        throw unsupported(`qcow2 volume '${path}' uses the legacy AES encryption (crypt_method ${h.cryptMethod})`);
      }
      const C = map.clusterSize;
      const io = new SectorIO(fh, cipher, 0);
      const capacity = h.size;
      return {
        ...common,
        format: "qcow2",
        encrypted: cipher !== undefined,
        capacity,
        ...(cipherName !== undefined ? { cipher: cipherName } : {}),
        ...(keySlot !== undefined ? { keySlot } : {}),
        read: (offset, length) => mutex.run(async () => {
          const o = toOffset(offset);
          guard(o, length, capacity);
          const out = Buffer.alloc(length);
          for (let pos = 0; pos < length; ) {
            const g = o + pos;
            const inOff = g % C;
            const n = Math.min(C - inOff, length - pos);
            const m = await map.lookup(Math.floor(g / C));
            if (m.kind === "data") (await io.read(m.host + inOff, n)).copy(out, pos);
            pos += n;
          }
          return out;
        }),
        write: !writable ? readOnly : (offset, data) => mutex.run(async () => {
          const o = toOffset(offset);
          guard(o, data.length, capacity);
          const src = Buffer.from(data.buffer, data.byteOffset, data.length);
          for (let pos = 0; pos < src.length; ) {
            const g = o + pos;
            const gc = Math.floor(g / C);
            const inOff = g % C;
            const n = Math.min(C - inOff, src.length - pos);
            const m = await map.lookup(gc);
            if (m.kind === "data") {
              if (!(await map.inPlace(gc))) throw unsupported(`qcow2 volume '${path}': writing a cluster shared with a snapshot`);
              await io.write(m.host + inOff, src.subarray(pos, pos + n));
            } else {
              // a new cluster is written whole: the rest of it must read as zeros
              const full = Buffer.alloc(C);
              src.copy(full, inOff, pos, pos + n);
              const host = (await map.preallocated(gc)) || (await map.allocateCluster());
              await io.write(host, full);
              await map.map(gc, host);
            }
            pos += n;
          }
        }),
      };
    }
    throw unsupported(`'${path}' is neither a LUKS nor a qcow2 volume`);
  } catch (e) {
    cipher?.dispose();
    await fh.close().catch(() => undefined);
    throw e;
  }
}

/** Does `passphrase` open the volume at `path`? Resolves when it does; throws the wrong-passphrase error otherwise. */
export async function checkNativePassphrase(path: string, passphrase: Uint8Array): Promise<void> {
  const v = await openNativeVolume(path, passphrase, { readOnly: true });
  await v.close();
}
