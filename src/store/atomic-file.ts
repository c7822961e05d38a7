// Crash-safe small-file writes (key files, the pid lock): write a private
// temporary file, fsync it, then move it into place and fsync the directory,
// so a reader sees either the old content or the whole new one, never a torn file.
import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import * as path from "node:path";

export interface AtomicWriteOptions {
  /** File mode; applied with fchmod so the umask cannot widen or narrow it. */
  mode: number;
  /** Fail with EEXIST instead of replacing an existing file. */
  exclusive?: boolean;
}

/** fsync a directory so a rename or link inside it survives a crash (best effort on odd filesystems). */
export async function fsyncDir(dir: string): Promise<void> {
  let fh: fs.FileHandle | undefined;
  try {
    fh = await fs.open(dir, "r");
    await fh.sync();
  } catch (e) {
    // Some filesystems refuse fsync on a directory; the data itself is already synced.
    if ((e as NodeJS.ErrnoException).code !== "EINVAL" && (e as NodeJS.ErrnoException).code !== "EISDIR") throw e;
  } finally {
    await fh?.close();
  }
}

export async function writeFileAtomic(target: string, data: Uint8Array | string, opts: AtomicWriteOptions): Promise<void> {
  const dir = path.dirname(target);
  // A unique name: two writers never share a temporary file.
  const tmp = path.join(dir, `.${path.basename(target)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  let fh: fs.FileHandle | undefined;
  try {
    fh = await fs.open(tmp, "wx", opts.mode);
    await fh.chmod(opts.mode);
    await fh.writeFile(data);
    await fh.sync();
    await fh.close();
    fh = undefined;
    if (opts.exclusive) {
      // link() fails with EEXIST where rename() would silently replace.
      await fs.link(tmp, target);
      await fs.unlink(tmp);
    } else {
      await fs.rename(tmp, target);
    }
    await fsyncDir(dir);
  } catch (e) {
    await fh?.close().catch(() => undefined);
    await fs.unlink(tmp).catch(() => undefined);
    throw e;
  }
}

/** A strerror-like text for a Node errno error, as libvirt prints after a path. */
export function errnoText(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case "ENOENT":
      return "No such file or directory";
    case "EACCES":
      return "Permission denied";
    case "EPERM":
      return "Operation not permitted";
    case "EISDIR":
      return "Is a directory";
    case "ENOTDIR":
      return "Not a directory";
    case "EEXIST":
      return "File exists";
    case "ENOSPC":
      return "No space left on device";
    case "EROFS":
      return "Read-only file system";
    default:
      return code ?? (e instanceof Error ? e.message : String(e));
  }
}
