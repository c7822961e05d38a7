// One process per store root. LevelDB's own LOCK file (an fcntl lock the
// kernel drops when its holder dies) is what actually excludes a second
// process; ROOT/lock only records the holder's pid so the refusal can name it,
// as libvirt's driver.pid does. Because the kernel lock decides, a lock file
// left by a dead process (or naming a pid since reused) is simply taken over.
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { VirError } from "../errors.js";
import { isProcessAlive, writeFileAtomic } from "./atomic-file.js";

export const LOCK_FILE = "lock";

export function lockPath(root: string): string {
  return path.join(root, LOCK_FILE);
}

export { isProcessAlive };

/** The pid recorded in the lock file, if the file holds a sane one. */
export async function readLockHolder(root: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await fs.readFile(lockPath(root), "utf8");
  } catch {
    return undefined;
  }
  const m = /^\s*(\d{1,10})\s*$/.exec(text);
  if (!m) return undefined;
  const pid = Number(m[1]);
  return pid > 0 ? pid : undefined;
}

/** The error a second opener gets; names the root and, if known and alive, the holder. */
export async function lockBusyError(root: string, cause?: unknown): Promise<VirError> {
  const pid = await readLockHolder(root);
  let who: string;
  if (pid === process.pid) who = `held by pid ${pid} (this process)`;
  else if (pid !== undefined && isProcessAlive(pid)) who = `held by pid ${pid}`;
  else who = "held by another process";
  return new VirError("RESOURCE_BUSY", `Failed to acquire lock for secret root '${root}': ${who}`, "SECRET", { cause });
}

/** Record this process as the holder. Call only once LevelDB's lock is held. */
export async function claimLockFile(root: string): Promise<void> {
  await writeFileAtomic(lockPath(root), `${process.pid}\n`, { mode: 0o644 });
}

/** Remove the lock file if it still names this process (never another holder's). */
export async function releaseLockFile(root: string): Promise<void> {
  if ((await readLockHolder(root)) === process.pid) {
    await fs.unlink(lockPath(root)).catch(() => undefined);
  }
}
