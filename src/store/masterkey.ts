// Where the store's 32-byte master key comes from, in this order:
//   1. MasterKeyOptions.key            (given directly: tests, an unwrapped envelope key)
//   2. MasterKeyOptions.file           (a raw 32-byte key file, private to its owner)
//   3. $CREDENTIALS_DIRECTORY/secrets-encryption-key   (a systemd credential, as libvirt 12 names it)
//   4. ROOT/master.key                 (generated, 0600, on the store's first open)
// A root with ROOT/master.key.wrapped refuses 3 and 4: its key comes unwrapped
// from a keystore (envelope.ts) and is handed in as 1.
// Key bytes never appear in an error; only paths, lengths and modes do.
import { randomBytes } from "node:crypto";
import { constants as fsc, promises as fs } from "node:fs";
import * as path from "node:path";
import { VirError } from "../errors.js";
import { errnoText, writeFileAtomic } from "./atomic-file.js";
import { readWrappedKeyFile, wrappedRootError } from "./envelope.js";
import { MASTER_KEY_LENGTH } from "./seal.js";

export interface MasterKeyOptions {
  /** Path of a 32-byte raw key file; refused if group or others have any access to it. */
  file?: string;
  /** 32 bytes given directly (tests, envelope unwrap). The store keeps its own copy. */
  key?: Uint8Array;
}

/** systemd credential name libvirt 12 uses for the secret driver's key. */
export const CREDENTIAL_NAME = "secrets-encryption-key";
/** The generated key file inside a store root. */
export const ROOT_KEY_FILE = "master.key";

export type MasterKeySource = "option" | "file" | "credential" | "root-file" | "generated";

export interface LoadedMasterKey {
  /** A private copy: the store zeroes it on close. */
  key: Uint8Array;
  source: MasterKeySource;
  /** The file the key came from (absent for "option"). */
  path?: string;
}

export interface LoadMasterKeyOptions {
  /** Create ROOT/master.key when no other source exists (only for a store that has never been sealed). */
  generate?: boolean;
  /** Environment to read CREDENTIALS_DIRECTORY from (default process.env). */
  env?: NodeJS.ProcessEnv;
}

export function generateMasterKey(): Uint8Array {
  return new Uint8Array(randomBytes(MASTER_KEY_LENGTH));
}

function lengthError(file: string): VirError {
  // libvirt 12's text (VIR_ERR_INVALID_ENCR_KEY_SECRET). Our errors.ts has no
  // number for that new code, so the nearest existing one is used.
  return new VirError("INVALID_SECRET", `Encryption key length must be '${MASTER_KEY_LENGTH}' '${file}'`);
}

/**
 * Read a raw key file. With `privateOnly`, a file that group or others may
 * access in any way is refused (checked on the opened descriptor, so a swap
 * between check and read cannot slip through).
 */
export async function readKeyFile(file: string, opts: { privateOnly: boolean }): Promise<Uint8Array> {
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(file, fsc.O_RDONLY);
  } catch (e) {
    throw new VirError("SYSTEM_ERROR", `Failed to open file '${file}': ${errnoText(e)}`, "SECRET", { cause: e });
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) {
      throw new VirError("INVALID_ARG", `master key file '${file}' is not a regular file`);
    }
    if (opts.privateOnly && (st.mode & 0o077) !== 0) {
      const mode = (st.mode & 0o7777).toString(8).padStart(4, "0");
      throw new VirError(
        "INVALID_ARG",
        `master key file '${file}' is accessible by group or others (mode ${mode}); restrict it to its owner (chmod 600)`,
      );
    }
    // Read one byte more than a key so an oversize file is recognised without reading it all.
    const buf = new Uint8Array(MASTER_KEY_LENGTH + 1);
    let got = 0;
    while (got < buf.length) {
      const { bytesRead } = await fh.read(buf, got, buf.length - got, null);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    if (got !== MASTER_KEY_LENGTH) {
      buf.fill(0);
      throw lengthError(file);
    }
    const key = buf.slice(0, MASTER_KEY_LENGTH);
    buf.fill(0);
    return key;
  } catch (e) {
    if (e instanceof VirError) throw e;
    throw new VirError("SYSTEM_ERROR", `Failed to read file '${file}': ${errnoText(e)}`, "SECRET", { cause: e });
  } finally {
    await fh.close();
  }
}

/** Write a key file atomically with mode 0600; `exclusive` refuses to replace an existing one. */
export async function writeKeyFile(file: string, key: Uint8Array, opts: { exclusive?: boolean } = {}): Promise<void> {
  if (key.length !== MASTER_KEY_LENGTH) throw lengthError(file);
  try {
    await writeFileAtomic(file, key, { mode: 0o600, exclusive: opts.exclusive });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") throw e; // the caller decides what a lost race means
    throw new VirError("SYSTEM_ERROR", `Failed to write file '${file}': ${errnoText(e)}`, "SECRET", { cause: e });
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.lstat(file);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw new VirError("SYSTEM_ERROR", `cannot access '${file}': ${errnoText(e)}`, "SECRET", { cause: e });
  }
}

/** The credential file path if $CREDENTIALS_DIRECTORY is set (whether or not the file exists). */
export function credentialPath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dir = env.CREDENTIALS_DIRECTORY;
  return dir ? path.join(dir, CREDENTIAL_NAME) : undefined;
}

export function rootKeyPath(root: string): string {
  return path.join(root, ROOT_KEY_FILE);
}

/** Find and read the master key for the store at `root` (see the order at the top of this file). */
export async function loadMasterKey(
  opts: MasterKeyOptions | undefined,
  root: string,
  load: LoadMasterKeyOptions = {},
): Promise<LoadedMasterKey> {
  if (opts?.key !== undefined) {
    if (!(opts.key instanceof Uint8Array) || opts.key.length !== MASTER_KEY_LENGTH) {
      const len = opts.key instanceof Uint8Array ? opts.key.length : 0;
      throw new VirError("INVALID_ARG", `master key must be ${MASTER_KEY_LENGTH} bytes, got ${len}`);
    }
    return { key: opts.key.slice(), source: "option" };
  }
  if (opts?.file !== undefined) {
    const file = path.resolve(opts.file);
    return { key: await readKeyFile(file, { privateOnly: true }), source: "file", path: file };
  }
  // A root whose key is wrapped by a keystore key opens only through that
  // keystore (store/envelope.ts): never fall back to, or generate, a plain key.
  const wrapped = await readWrappedKeyFile(root);
  if (wrapped !== undefined) throw wrappedRootError(root, wrapped.keyId, wrapped.reference);
  const cred = credentialPath(load.env ?? process.env);
  if (cred !== undefined && (await exists(cred))) {
    // The credentials directory is private to the systemd unit and its file
    // modes are systemd's choice, not the operator's, so no mode check here.
    return { key: await readKeyFile(cred, { privateOnly: false }), source: "credential", path: cred };
  }
  const own = rootKeyPath(root);
  if (await exists(own)) {
    return { key: await readKeyFile(own, { privateOnly: true }), source: "root-file", path: own };
  }
  if (!load.generate) {
    throw new VirError(
      "OPERATION_FAILED",
      `no master key for secret store '${root}': '${own}' is missing and no key, key file or ` +
        `$CREDENTIALS_DIRECTORY/${CREDENTIAL_NAME} was given`,
    );
  }
  const key = generateMasterKey();
  try {
    await writeKeyFile(own, key, { exclusive: true });
  } catch (e) {
    key.fill(0);
    if ((e as NodeJS.ErrnoException).code === "EEXIST") {
      // Someone created it between our check and our link: use theirs.
      return { key: await readKeyFile(own, { privateOnly: true }), source: "root-file", path: own };
    }
    throw e;
  }
  return { key, source: "generated", path: own };
}
