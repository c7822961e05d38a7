// A directory pool, as libvirt's "dir" pool backend sees one: a directory
// whose entries are volumes named by their file names. It lists the files
// and probes each one's header (raw, raw LUKS, qcow/qcow2 with or without
// encryption) to rebuild its definition, as a pool refresh does (spec §5.3):
// the rebuilt <encryption format='luks'> has no secret, no cipher and no engine.
import { open, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { VirError } from "../errors.js";
import type { EncryptionFormat, VolumeDef, VolumeFormat, VolumeType } from "./volume-def.js";

/**
 * virFileSanitizePath: runs of '/' collapse to one and a trailing '/' goes,
 * except that a leading "//" (and only exactly two) is kept, as POSIX allows.
 */
export function sanitizePoolPath(path: string): string {
  const keepDouble = path.startsWith("//") && !path.startsWith("///");
  let p = path.replace(/\/{2,}/g, "/");
  if (p.length > 1 && p.endsWith("/")) p = p.slice(0, -1);
  return keepDouble ? "/" + p : p;
}

/** A volume name of a dir pool is one file name in the pool directory. */
export function checkVolumeName(name: string): void {
  if (name.includes("/")) {
    throw new VirError("OPERATION_INVALID", `volume name '${name}' cannot contain '/'`, "STORAGE");
  }
  // ours: libvirt's schema refuses these; a file system refuses the empty name and NUL
  if (name === "" || name === "." || name === ".." || name.includes("\0")) {
    throw new VirError("OPERATION_INVALID", `invalid volume name '${name.replace(/\0/g, "\\0")}'`, "STORAGE");
  }
}

/** What a header says about an image. */
export interface ProbedImage {
  readonly format: VolumeFormat;
  /** guest-visible size in bytes, when the header records one */
  readonly virtualSize?: bigint;
  readonly encryption?: EncryptionFormat;
  /** qcow2 compat level: "0.10" for version 2, "1.1" for version 3 */
  readonly compat?: string;
  readonly lazyRefcounts?: boolean;
  /** backing file name as recorded in a qcow/qcow2 header */
  readonly backingPath?: string;
}

const LUKS_MAGIC = Buffer.from([0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe]);
const QCOW_MAGIC = Buffer.from([0x51, 0x46, 0x49, 0xfb]);
/** Bytes read from the start of a file: enough for the LUKS and qcow2 headers and a backing name. */
export const PROBE_BYTES = 4096;

function backingName(head: Buffer, offset: bigint, size: number): string | undefined {
  if (offset === 0n || size === 0 || offset + BigInt(size) > BigInt(head.length)) return undefined;
  return head.subarray(Number(offset), Number(offset) + size).toString("utf8");
}

/**
 * Identify an image from its first bytes (qemu's on-disk formats: LUKS1 is
 * big-endian with payload-offset in 512-byte sectors at byte 104; qcow2 has
 * its size at byte 24 and crypt_method at byte 32, 1 = AES, 2 = LUKS).
 */
export function probeImageHeader(head: Buffer, fileSize: bigint): ProbedImage {
  if (head.length >= 108 && head.subarray(0, 6).equals(LUKS_MAGIC) && head.readUInt16BE(6) === 1) {
    const payload = BigInt(head.readUInt32BE(104)) * 512n;
    return { format: "raw", encryption: "luks", virtualSize: fileSize > payload ? fileSize - payload : 0n };
  }
  if (head.length >= 48 && head.subarray(0, 4).equals(QCOW_MAGIC)) {
    const version = head.readUInt32BE(4);
    if (version === 1) {
      const crypt = head.length >= 36 ? head.readUInt32BE(32) : 0;
      const backingPath = backingName(head, head.readBigUInt64BE(8), head.readUInt32BE(16));
      return {
        format: "qcow",
        virtualSize: head.readBigUInt64BE(24),
        ...(crypt === 1 ? { encryption: "qcow" as const } : {}),
        ...(backingPath === undefined ? {} : { backingPath }),
      };
    }
    if (version === 2 || version === 3) {
      const crypt = head.readUInt32BE(32);
      const backingPath = backingName(head, head.readBigUInt64BE(8), head.readUInt32BE(16));
      // compatible_features (v3 only), bit 0 = lazy refcounts
      const lazy = version === 3 && head.length >= 88 && (head.readBigUInt64BE(80) & 1n) === 1n;
      const encryption: EncryptionFormat | undefined = crypt === 2 ? "luks" : crypt === 1 ? "qcow" : undefined;
      return {
        format: "qcow2",
        virtualSize: head.readBigUInt64BE(24),
        compat: version === 2 ? "0.10" : "1.1",
        ...(lazy ? { lazyRefcounts: true } : {}),
        ...(encryption ? { encryption } : {}),
        ...(backingPath === undefined ? {} : { backingPath }),
      };
    }
  }
  return { format: "raw", virtualSize: fileSize };
}

function sysError(what: string, path: string, e: unknown): VirError {
  const err = e as NodeJS.ErrnoException;
  const text: Record<string, string> = {
    ENOENT: "No such file or directory",
    EACCES: "Permission denied",
    ENOTDIR: "Not a directory",
  };
  return new VirError("SYSTEM_ERROR", `${what} '${path}': ${text[err.code ?? ""] ?? err.code ?? err.message}`, "STORAGE", { cause: e });
}

export class DirPool {
  /** the pool directory, sanitized */
  readonly path: string;

  constructor(path: string) {
    if (!path.startsWith("/")) {
      throw new VirError("INVALID_ARG", `pool path '${path}' must be absolute`, "STORAGE");
    }
    this.path = sanitizePoolPath(path);
  }

  /** Where a volume of this name lives (libvirt: "<pool path>/<name>"); also its key. */
  volumePath(name: string): string {
    checkVolumeName(name);
    return join(this.path, name);
  }

  /** Throws unless the pool directory exists and is a directory. */
  async check(): Promise<void> {
    let st;
    try {
      st = await stat(this.path);
    } catch (e) {
      throw sysError("cannot open directory", this.path, e);
    }
    if (!st.isDirectory()) {
      throw new VirError("OPERATION_INVALID", `storage pool target path '${this.path}' is not a directory`, "STORAGE");
    }
  }

  /** Volume names: the regular files and directories in the pool, sorted. */
  async listVolumes(): Promise<string[]> {
    let entries;
    try {
      entries = await readdir(this.path, { withFileTypes: true });
    } catch (e) {
      throw sysError("cannot open directory", this.path, e);
    }
    return entries.filter((d) => d.isFile() || d.isDirectory()).map((d) => d.name).sort();
  }

  /** True when a volume file of this name exists. */
  async exists(name: string): Promise<boolean> {
    try {
      await stat(this.volumePath(name));
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw e;
    }
  }

  /**
   * Rebuild a volume's definition from the file, as a pool refresh does.
   * Encrypted images get an <encryption> of the probed format with no secret.
   */
  async probe(name: string): Promise<VolumeDef> {
    const path = this.volumePath(name);
    let st;
    try {
      st = await stat(path, { bigint: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") {
        throw new VirError("NO_STORAGE_VOL", `no storage vol with matching name '${name}'`, "STORAGE");
      }
      throw sysError("cannot stat file", path, e);
    }
    const permissions = { mode: Number(st.mode & 0o777n), owner: Number(st.uid), group: Number(st.gid) };
    const allocation = st.blocks * 512n;
    if (st.isDirectory()) {
      return {
        type: "dir", name, key: path, capacity: st.size, allocation, hasAllocation: true,
        target: { path, format: "dir", permissions, nocow: false },
      };
    }
    if (!st.isFile()) {
      throw new VirError("OPERATION_INVALID", `volume '${name}' is not a regular file`, "STORAGE");
    }
    const head = Buffer.alloc(PROBE_BYTES);
    let got = 0;
    try {
      const fh = await open(path, "r");
      try {
        got = (await fh.read(head, 0, PROBE_BYTES, 0)).bytesRead;
      } finally {
        await fh.close();
      }
    } catch (e) {
      throw sysError("cannot open volume", path, e);
    }
    const img = probeImageHeader(head.subarray(0, got), st.size);
    const type: VolumeType = "file";
    return {
      type,
      name,
      key: path,
      capacity: img.virtualSize ?? st.size,
      allocation,
      hasAllocation: true,
      target: {
        path,
        format: img.format,
        permissions,
        ...(img.encryption ? { encryption: { format: img.encryption, engine: "default" as const, secrets: [] } } : {}),
        ...(img.compat ? { compat: img.compat } : {}),
        nocow: false,
        ...(img.lazyRefcounts ? { features: { lazyRefcounts: true, extendedL2: false } } : {}),
      },
    };
  }
}
