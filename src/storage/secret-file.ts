// The secret value handed to qemu-img: written raw (no newline) to a 0600
// file inside a fresh 0700 directory, so no other user can open or even
// find it, and removed again by dispose() on every path. The value itself
// is never logged and never put on a command line.
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VirError } from "../errors.js";

export interface SecretFile {
  /** absolute path of the 0600 file holding the value */
  readonly path: string;
  /** unlink the file and its private directory; safe to call more than once */
  dispose(): Promise<void>;
}

export interface SecretFileOptions {
  /** where the private directory is made; default os.tmpdir() (libvirt uses its storage state dir) */
  readonly dir?: string;
  /** file name stem, e.g. "<pool>.<vol>"; default "secret" */
  readonly name?: string;
}

/** Write `value` to a new private file and return its path and a disposer. */
export async function writeSecretFile(value: Uint8Array, opts: SecretFileOptions = {}): Promise<SecretFile> {
  const stem = (opts.name ?? "secret").replace(/[/\0]/g, "_");
  let dir: string;
  try {
    dir = await mkdtemp(join(opts.dir ?? tmpdir(), "virsecret-"));
  } catch (e) {
    throw new VirError("SYSTEM_ERROR", `cannot create directory for the volume secret: ${(e as Error).message}`, "STORAGE", { cause: e });
  }
  const path = join(dir, `${stem}.secret`);
  let disposed = false;
  const dispose = async (): Promise<void> => {
    if (disposed) return;
    disposed = true;
    await rm(dir, { recursive: true, force: true });
  };
  try {
    // 'wx': never follow or reuse an existing name; mode 0600 before any byte is written.
    const fh = await open(path, "wx", 0o600);
    try {
      await fh.chmod(0o600); // umask can only narrow it; make the mode exact anyway
      await fh.writeFile(value);
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch (e) {
    await dispose();
    throw new VirError("SYSTEM_ERROR", `cannot write the volume secret file '${path}': ${(e as NodeJS.ErrnoException).code ?? "error"}`, "STORAGE", { cause: e });
  }
  return { path, dispose };
}

/** Run `fn` with the value in a secret file; the file is gone when this settles. */
export async function withSecretFile<T>(value: Uint8Array, fn: (path: string) => Promise<T>, opts?: SecretFileOptions): Promise<T> {
  const f = await writeSecretFile(value, opts);
  try {
    return await fn(f.path);
  } finally {
    await f.dispose();
  }
}
