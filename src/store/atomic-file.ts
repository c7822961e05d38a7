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

/** The temporary beside `target`: unique per writer, and naming its pid so a crash's leftover can be told from a live write. */
function tempName(target: string, pid: number, tag: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${pid}.${tag}.tmp`);
}

export async function writeFileAtomic(target: string, data: Uint8Array | string, opts: AtomicWriteOptions): Promise<void> {
  const dir = path.dirname(target);
  const tmp = tempName(target, process.pid, randomBytes(6).toString("hex"));
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

/** True if a process with this pid exists (EPERM means it exists but is not ours). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Remove the temporaries writeFileAtomic left beside `targets` when their
 * writer died between writing and renaming (they may hold key bytes). A
 * temporary of a live process is a write in progress and stays. Returns the
 * paths removed.
 */
export async function removeStaleTempFiles(targets: readonly string[]): Promise<string[]> {
  const removed: string[] = [];
  const byDir = new Map<string, Set<string>>();
  for (const t of targets) {
    const dir = path.dirname(t);
    if (!byDir.has(dir)) byDir.set(dir, new Set());
    byDir.get(dir)!.add(path.basename(t));
  }
  for (const [dir, names] of byDir) {
    let entries: string[];
    try {
      entries = await fs.readdir(dir);
    } catch {
      continue; // nothing to sweep where nothing can be listed
    }
    for (const entry of entries) {
      const m = /^\.(.+)\.(\d{1,10})\.([0-9a-f]{12})\.tmp$/.exec(entry);
      if (!m || !names.has(m[1]!) || isProcessAlive(Number(m[2]))) continue;
      const file = path.join(dir, entry);
      try {
        await fs.unlink(file);
        removed.push(file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      }
    }
  }
  return removed;
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
