// The volume driver: libvirt's storage driver for encrypted volumes in a
// directory pool (spec §5), over virsecret's secret driver, plus what libvirt
// does not do: generated secrets (random, or from a keystore key), bring your
// own key (a clone of the user's key), and deleting what a volume owns.
//
// Create, in this order, so that a failure anywhere leaves nothing behind and
// a crash leaves something the next open can finish:
//   1. checks: name, no such volume, the secret (libvirt's order: secret
//      first, then the format rules); for a generated secret also a free uuid
//      and a free usage id, and the keystore key (createKey / copyKey);
//   2. an intent record ("volume-pending": path and owned key id);
//   3. the passphrase into a 0600 temp file, qemu-img create, file removed;
//   4. ONE store batch: the generated secret with its value, the volume
//      record, and the intent's deletion.
// A failure after 2 unlinks the file, deletes the owned key (idempotently)
// and the intent. A crash after 2 leaves the intent; open() then removes the
// half-made file and the key. A file in the pool without record or intent is
// not ours and is never removed by recovery.
//
// Differences from libvirt 9.0, deliberate:
//  - a secret looked up by usage and of the wrong type is named by its real
//    uuid in the error (libvirt prints an uninitialised buffer there);
//  - delete removes the secret and key the volume owns (generated ones only;
//    a secret the user named is left alone, as libvirt does);
//  - a new volume file gets mode 0600 unless <permissions><mode> says otherwise
//    (libvirt's default for new volumes); owner/group are not changed.
import { chmod, mkdtemp, rm, rmdir, stat, unlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { VirError, isVirError } from "../errors.js";
import type { Context, KeyManager } from "../keystore/key-manager.js";
import { deleteKeyIdempotent } from "../keystore/util.js";
import type { SecretDef } from "../secret/def.js";
import type { SecretDriver } from "../secret/driver.js";
import type { StoreOp } from "../store/db.js";
import { SerialQueue } from "../serial-queue.js";
import { generateUUID } from "../uuid.js";
import { formatVolumeXML, parseVolumeXML } from "../xml/volume.js";
import { buildKeyCheckCommand, WRONG_PASSPHRASE_TEXT } from "./key-check.js";
import { isWrongPassphrase } from "./luks/luks1.js";
import { checkNativePassphrase, createNativeVolume } from "./luks/native-backend.js";
import { generatePassphrase, keyForVolume, passphraseOfKey } from "./passphrase.js";
import { DirPool, checkVolumeName } from "./pool.js";
import { QemuToolMissingError, buildCreateArgv, checkCreateRules, requireSingleSecret, runQemuImg, type RunQemuImgOptions } from "./qemu-img.js";
import {
  VOLUME_PENDING_SPACE,
  VOLUME_SPACE,
  checkPendingVolume,
  checkVolumeRecord,
  encryptionForRecord,
  type PendingVolume,
  type VolumeRecord,
} from "./records.js";
import { withSecretFile } from "./secret-file.js";
import type { SecretLookup, VolumeDef, VolumeType } from "./volume-def.js";

/** Who writes new volume files: libvirt's qemu-img command, or virsecret's own LUKS1/qcow2 writer. */
export type VolumeBackend = "qemu-img" | "native";

export interface OpenVolumeDriverOptions {
  /** the secret driver whose secrets volumes use; its store also keeps the volume records */
  readonly secrets: SecretDriver;
  /** the directory pool (absolute path; must exist) */
  readonly pool: string;
  /** with a keystore, generated passphrases come from keystore keys (and --key-id works) */
  readonly keystore?: KeyManager;
  /** the context keystore calls use when a call gives none (also for recovery at open) */
  readonly keystoreContext?: Context;
  /** LUKS PBKDF iteration time in ms; default qemu's (2000 ms, as libvirt) */
  readonly iterTimeMs?: number;
  /**
   * who writes volume files: "qemu-img" (default, libvirt's command line) or
   * "native" (LUKS1 / qcow2 written in TypeScript, no QEMU needed). Never
   * chosen automatically; key checks fall back to native when qemu is missing.
   */
  readonly backend?: VolumeBackend;
  /** the qemu-img program; default "qemu-img" on PATH */
  readonly qemuImg?: string;
  /** the qemu-io program (key checks of raw LUKS volumes); default "qemu-io" on PATH */
  readonly qemuIo?: string;
  /** environment for qemu-img and qemu-io; default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** per qemu-img run; the child is killed after this long */
  readonly timeoutMs?: number;
  /** where the 0600 secret files are made; default os.tmpdir() */
  readonly secretFileDir?: string;
}

export type GenerateSecretMode = "persistent" | "ephemeral";

export interface CreateVolumeOptions {
  /** generate the secret of an <encryption format='luks'> that names none */
  readonly generateSecret?: GenerateSecretMode;
  /** the generated secret is private (its value only readable through the elevated handle) */
  readonly private?: boolean;
  /** bring your own key: encrypt under a clone of this keystore key (implies a generated secret) */
  readonly keyId?: string;
  /** keystore caller; default the driver's keystoreContext */
  readonly ctx?: Context;
  /** stops qemu-img; the create is then rolled back */
  readonly signal?: AbortSignal;
}

export interface DeleteVolumeOptions {
  /** keystore caller for deleting an owned key; default the driver's keystoreContext */
  readonly ctx?: Context;
}

/** A volume's identity (virStorageVolPtr): for a dir pool the key is the path. */
export interface VolumeRef {
  readonly name: string;
  readonly path: string;
  readonly key: string;
}

/** virStorageVolInfo */
export interface VolumeInfo {
  readonly type: VolumeType;
  /** bytes */
  readonly capacity: bigint;
  /** bytes */
  readonly allocation: bigint;
}

export type KeyCheckResult =
  | { readonly ok: true; readonly secretUuid: string }
  | { readonly ok: false; readonly secretUuid: string; readonly reason: string };

export interface VolumeDriver {
  /** the pool directory (sanitized) */
  readonly pool: string;
  /** paths of half-made volumes removed by recovery when this driver opened */
  readonly recovered: readonly string[];
  createXML(xml: string, opts?: CreateVolumeOptions): Promise<VolumeRef>;
  lookupByName(name: string): Promise<VolumeRef>;
  lookupByPath(path: string): Promise<VolumeRef>;
  /** every volume in the pool, sorted by name */
  list(): Promise<VolumeRef[]>;
  getXMLDesc(name: string): Promise<string>;
  info(name: string): Promise<VolumeInfo>;
  delete(name: string, opts?: DeleteVolumeOptions): Promise<void>;
  /** does the volume's secret open it (qemu-img / qemu-io, or the native reader, really unlock it) */
  keyCheck(name: string): Promise<KeyCheckResult>;
  /** what the driver recorded for a volume it created; undefined for others */
  record(name: string): Promise<VolumeRecord | undefined>;
}

const GENERATE_MODES: readonly string[] = ["persistent", "ephemeral"];
/** Name prefix of the private directories passphrase files live in during a create. */
const WORK_DIR_PREFIX = "virsecret-vol-";

function noVolByName(name: string): VirError {
  return new VirError("NO_STORAGE_VOL", `no storage vol with matching name '${name}'`, "STORAGE");
}

function argError(detail: string): VirError {
  return new VirError("INVALID_ARG", detail, "STORAGE");
}

async function fileExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw new VirError("SYSTEM_ERROR", `cannot stat file '${path}': ${(e as NodeJS.ErrnoException).code ?? "error"}`, "STORAGE", { cause: e });
  }
}

/** Remove a volume file (or an empty directory volume); false when it was already gone. */
async function removeVolumeFile(path: string): Promise<boolean> {
  try {
    const st = await stat(path);
    if (st.isDirectory()) await rmdir(path);
    else await unlink(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw new VirError("SYSTEM_ERROR", `cannot remove volume file '${path}': ${(e as NodeJS.ErrnoException).code ?? "error"}`, "STORAGE", { cause: e });
  }
}

function checkCreateOpts(opts: CreateVolumeOptions): void {
  if (opts === null || typeof opts !== "object") throw argError("create options must be an object");
  if (opts.generateSecret !== undefined && !GENERATE_MODES.includes(opts.generateSecret)) {
    throw argError(`generateSecret must be 'persistent' or 'ephemeral', not '${String(opts.generateSecret).slice(0, 32)}'`);
  }
  if (opts.private !== undefined && typeof opts.private !== "boolean") throw argError("private must be a boolean");
  if (opts.keyId !== undefined && (typeof opts.keyId !== "string" || opts.keyId === "")) {
    throw argError("keyId must be a non-empty string");
  }
}

class VolumeDriverImpl implements VolumeDriver {
  readonly pool: string;
  recovered: string[] = [];
  readonly #dir: DirPool;
  readonly #secrets: SecretDriver;
  readonly #ks: KeyManager | undefined;
  readonly #ctx: Context | undefined;
  readonly #opts: OpenVolumeDriverOptions;
  /** creates and deletes, one at a time */
  readonly #queue = new SerialQueue();

  constructor(opts: OpenVolumeDriverOptions) {
    this.#dir = new DirPool(opts.pool);
    this.pool = this.#dir.path;
    this.#secrets = opts.secrets;
    this.#ks = opts.keystore;
    this.#ctx = opts.keystoreContext;
    this.#opts = opts;
  }

  get #store() {
    return this.#secrets.store;
  }

  #runOpts(extra: Partial<RunQemuImgOptions> = {}): RunQemuImgOptions {
    return {
      ...(this.#opts.env ? { env: this.#opts.env } : {}),
      ...(this.#opts.timeoutMs !== undefined ? { timeoutMs: this.#opts.timeoutMs } : {}),
      ...extra,
    };
  }

  /** Path of a volume named `name`; a name no file can have is simply not found. */
  #pathOf(name: string): string {
    if (typeof name !== "string") throw argError("volume name must be a string");
    try {
      return this.#dir.volumePath(name);
    } catch (e) {
      if (isVirError(e, "OPERATION_INVALID")) throw noVolByName(name);
      throw e;
    }
  }

  async #recordAt(path: string): Promise<VolumeRecord | undefined> {
    const r = await this.#store.get<unknown>(VOLUME_SPACE, path);
    return r === undefined ? undefined : checkVolumeRecord(path, r.data);
  }

  // ---- recovery ----

  /** Finish what crashed creates left: their half-made files and owned keys go. */
  async recover(): Promise<void> {
    const pending: PendingVolume[] = [];
    // '/' is 0x2f and '0' 0x30: exactly the paths directly or deeper under the pool
    const range = { gte: this.pool + "/", lt: this.pool + "0", secrets: false };
    for await (const [key, rec] of this.#store.list<unknown>(VOLUME_PENDING_SPACE, range)) {
      if (dirname(key) !== this.pool) continue;
      try {
        pending.push(checkPendingVolume(key, rec.data));
      } catch (e) {
        // a damaged intent must not lock the pool; it is left for a person to look at
        process.emitWarning(`${(e as Error).message}; skipped`, "VirsecretRecoveryWarning");
      }
    }
    for (const p of pending) {
      try {
        if (await this.#undoPending(p)) this.recovered.push(p.path);
      } catch (e) {
        // a keystore or file that cannot be reached now must not lock the pool: the intent stays
        process.emitWarning(
          `volume ${p.name}: an interrupted create could not be cleaned up (${(e as Error).message}); the next open retries`,
          "VirsecretRecoveryWarning",
        );
      }
    }
  }

  /** Remove what one interrupted create left; false when it must wait for a keystore. */
  async #undoPending(p: PendingVolume): Promise<boolean> {
    // the passphrase file of a killed create (only a directory we named, never a path from elsewhere)
    if (p.workDir !== undefined && basename(p.workDir).startsWith(WORK_DIR_PREFIX)) {
      await rm(p.workDir, { recursive: true, force: true });
    }
    if ((await this.#recordAt(p.path)) === undefined) {
      // never committed: the file was being made by us
      await removeVolumeFile(p.path);
      if (p.keyId !== undefined) {
        if (!this.#ks) {
          process.emitWarning(
            `volume ${p.name}: an interrupted create left keystore key ${p.keyId}; open with the keystore to remove it`,
            "VirsecretRecoveryWarning",
          );
          return false;
        }
        await deleteKeyIdempotent(this.#ks, this.#ctx, p.keyId);
      }
    }
    await this.#store.batch([{ type: "del", space: VOLUME_PENDING_SPACE, key: p.path }]);
    return true;
  }

  // ---- secrets ----

  /**
   * Spec §5.2 step 1: find the secret by uuid or by usage (type volume), check
   * its type (volume or none), read its value through the elevated handle.
   */
  async #resolveSecret(lookup: SecretLookup): Promise<{ uuid: string; value: Uint8Array }> {
    const h = lookup.type === "uuid" ? this.#secrets.lookupByUUID(lookup.uuid) : this.#secrets.lookupByUsage("volume", lookup.usage);
    if (h.usageType !== "volume" && h.usageType !== "none") {
      throw argError(`secret with uuid ${h.uuid} is of type '${h.usageType}' not expected 'volume' type`);
    }
    const value = await this.#secrets.elevated().getValue(h.uuid);
    return { uuid: h.uuid, value };
  }

  #secretExists(uuid: string): boolean {
    try {
      this.#secrets.lookupByUUID(uuid);
      return true;
    } catch (e) {
      if (isVirError(e, "NO_SECRET")) return false;
      throw e;
    }
  }

  /** A random uuid no secret has (libvirt's generator gave up after 65536 clashes). */
  #freshUUID(): string {
    for (let i = 0; i < 65536; i++) {
      const u = generateUUID();
      if (!this.#secretExists(u)) return u;
    }
    throw new VirError("INTERNAL_ERROR", "too many conflicts when generating a uuid", "STORAGE");
  }

  // ---- create ----

  createXML(xml: string, opts: CreateVolumeOptions = {}): Promise<VolumeRef> {
    if (typeof xml !== "string") return Promise.reject(argError("xml in virStorageVolCreateXML must not be NULL"));
    try {
      checkCreateOpts(opts);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#queue.run(() => this.#create(xml, opts));
  }

  async #create(xml: string, opts: CreateVolumeOptions): Promise<VolumeRef> {
    const parsed = parseVolumeXML(xml);
    // a dir pool decides where a volume lives: "<pool>/<name>", which is also its key
    const path = this.#dir.volumePath(parsed.name);
    const vol: VolumeDef = { ...parsed, type: "file", key: path, target: { ...parsed.target, path } };
    await this.#dir.check();
    if ((await fileExists(path)) || (await this.#recordAt(path)) !== undefined ||
        (await this.#store.get(VOLUME_PENDING_SPACE, path)) !== undefined) {
      throw new VirError("STORAGE_VOL_EXIST", `'${vol.name}'`, "STORAGE");
    }
    const enc = vol.target.encryption;
    const generate = opts.generateSecret !== undefined || opts.keyId !== undefined;
    if (generate) {
      if (!enc) throw argError("a generated secret needs an <encryption format='luks'> element in the volume description");
      if (enc.secrets.length > 0) {
        throw argError("the encryption description already names a secret; a secret is generated only when it names none");
      }
      if (opts.keyId !== undefined && !this.#ks) throw argError("a key id (bring your own key) needs a keystore");
      return this.#createGenerated(vol, opts);
    }
    if (opts.private === true) throw argError("'private' applies only to a generated secret");
    if (!enc) return this.#build(vol, undefined, { ownsSecret: false });
    const lookup = requireSingleSecret(vol);
    const { uuid, value } = await this.#resolveSecret(lookup);
    try {
      checkCreateRules(vol);
      return await this.#build(vol, value, { secretUuid: uuid, ownsSecret: false }, opts.signal);
    } finally {
      value.fill(0);
    }
  }

  async #createGenerated(vol: VolumeDef, opts: CreateVolumeOptions): Promise<VolumeRef> {
    const path = vol.target.path!;
    const enc = vol.target.encryption!;
    const uuid = this.#freshUUID();
    // the generated secret's usage is the volume path: no other secret may hold it
    try {
      const holder = this.#secrets.lookupByUsage("volume", path);
      throw new VirError("INTERNAL_ERROR", `a secret with UUID ${holder.uuid} already defined for use with ${path}`);
    } catch (e) {
      if (!isVirError(e, "NO_SECRET")) throw e;
    }
    const withSecret: VolumeDef = {
      ...vol,
      target: { ...vol.target, encryption: { ...enc, secrets: [{ type: "uuid", uuid }] } },
    };
    checkCreateRules(withSecret);
    const def: SecretDef = {
      uuid,
      ephemeral: opts.generateSecret === "ephemeral",
      isPrivate: opts.private === true,
      usageType: "volume",
      usageId: path,
    };

    const ks = this.#ks;
    const ctx = opts.ctx ?? this.#ctx;
    let keyId: string | undefined;
    if (ks) keyId = await keyForVolume(ks, ctx, opts.keyId);
    let value: Uint8Array | undefined;
    try {
      return await this.#build(withSecret, async () => {
        value = ks ? await passphraseOfKey(ks, ctx, keyId!) : generatePassphrase();
        return value;
      }, { secretUuid: uuid, ownsSecret: true, ...(keyId !== undefined ? { keyId, ownsKey: true } : {}), def, ctx }, opts.signal);
    } finally {
      value?.fill(0);
    }
  }

  /**
   * Steps 2-4 of a create, with the rollback. `value` is the passphrase, or a
   * function that fetches it once the intent is on disk (a keystore read that
   * fails must still find the owned key recorded).
   */
  async #build(
    vol: VolumeDef,
    value: Uint8Array | (() => Promise<Uint8Array>) | undefined,
    own: { secretUuid?: string; ownsSecret: boolean; keyId?: string; ownsKey?: boolean; def?: SecretDef; ctx?: Context },
    signal?: AbortSignal,
  ): Promise<VolumeRef> {
    const path = vol.target.path!;
    const ownedKey = own.ownsKey === true ? own.keyId : undefined;
    let intent = false;
    let started = false;
    let workDir: string | undefined;
    try {
      // a private directory for the passphrase file, named in the intent so a
      // crash cannot leave the passphrase on disk past the next open
      if (value !== undefined) workDir = await mkdtemp(join(this.#opts.secretFileDir ?? tmpdir(), WORK_DIR_PREFIX));
      const pending: PendingVolume = {
        v: 1,
        name: vol.name,
        path,
        ...(ownedKey !== undefined ? { keyId: ownedKey } : {}),
        ...(workDir !== undefined ? { workDir } : {}),
        started: Date.now(),
      };
      await this.#store.batch([{ type: "put", space: VOLUME_PENDING_SPACE, key: path, data: pending }]);
      intent = true;
      const passphrase = typeof value === "function" ? await value() : value;

      started = true;
      const run = async (secretPath?: string): Promise<void> => {
        const argv = buildCreateArgv(vol, {
          ...(secretPath !== undefined ? { secretPath } : {}),
          poolPath: this.pool,
          ...(this.#opts.iterTimeMs !== undefined ? { iterTimeMs: this.#opts.iterTimeMs } : {}),
        });
        if (this.#opts.qemuImg !== undefined) argv[0] = this.#opts.qemuImg;
        await runQemuImg(argv, this.#runOpts(signal ? { signal } : {}));
      };
      if (this.#opts.backend === "native") {
        try {
          await createNativeVolume(vol, passphrase, {
            ...(this.#opts.iterTimeMs !== undefined ? { iterTimeMs: this.#opts.iterTimeMs } : {}),
            ...(signal ? { signal } : {}),
          });
        } catch (e) {
          // its exclusive create found a file made since our check: not ours, so the rollback leaves it
          if (isVirError(e, "STORAGE_VOL_EXIST")) started = false;
          throw e;
        }
      } else if (passphrase !== undefined) {
        await withSecretFile(passphrase, run, {
          name: `${this.pool.split("/").pop() || "pool"}.${vol.name}`,
          dir: workDir!,
        });
      } else {
        await run();
      }
      try {
        await chmod(path, vol.target.permissions.mode ?? 0o600);
      } catch (e) {
        throw new VirError("SYSTEM_ERROR", `cannot set mode of '${path}': ${(e as NodeJS.ErrnoException).code ?? "error"}`, "STORAGE", { cause: e });
      }

      const record: VolumeRecord = {
        v: 1,
        name: vol.name,
        path,
        format: vol.target.format,
        capacity: vol.capacity.toString(),
        ...(own.secretUuid !== undefined ? { secretUuid: own.secretUuid } : {}),
        ownsSecret: own.ownsSecret,
        ...(own.keyId !== undefined ? { keyId: own.keyId, ownsKey: own.ownsKey === true } : {}),
        ...(vol.target.encryption ? { encryption: encryptionForRecord(vol.target.encryption) } : {}),
      };
      const ops: StoreOp[] = [
        { type: "put", space: VOLUME_SPACE, key: path, data: record },
        { type: "del", space: VOLUME_PENDING_SPACE, key: path },
      ];
      if (own.def) await this.#secrets.elevated().defineWithValue(own.def, passphrase!, ops);
      else await this.#store.batch(ops);
      return { name: vol.name, path, key: path };
    } catch (e) {
      await this.#rollback(vol.name, path, started, ownedKey, own.ctx, intent);
      throw e;
    } finally {
      if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
    }
  }

  /** Undo a failed create. What cannot be undone now stays in the intent for the next open. */
  async #rollback(name: string, path: string, started: boolean, keyId: string | undefined, ctx: Context | undefined, intent: boolean): Promise<void> {
    let left = false;
    if (started) {
      try {
        await removeVolumeFile(path);
      } catch {
        left = true;
      }
    }
    if (keyId !== undefined && this.#ks) {
      try {
        await deleteKeyIdempotent(this.#ks, ctx, keyId);
      } catch {
        left = true;
      }
    }
    try {
      if (!left && intent) {
        await this.#store.batch([{ type: "del", space: VOLUME_PENDING_SPACE, key: path }]);
      } else if (left && !intent) {
        const pending: PendingVolume = { v: 1, name, path, ...(keyId !== undefined ? { keyId } : {}), started: Date.now() };
        await this.#store.batch([{ type: "put", space: VOLUME_PENDING_SPACE, key: path, data: pending }]);
      }
    } catch {
      left = true;
    }
    if (left) {
      process.emitWarning(`volume ${name}: a failed create could not be fully undone; the next open retries`, "VirsecretRollbackWarning");
    }
  }

  // ---- lookups ----

  async lookupByName(name: string): Promise<VolumeRef> {
    const path = this.#pathOf(name);
    if (!(await fileExists(path))) throw noVolByName(name);
    return { name, path, key: path };
  }

  async lookupByPath(path: string): Promise<VolumeRef> {
    if (typeof path !== "string") throw argError("path in virStorageVolLookupByPath must not be NULL");
    const notFound = new VirError("NO_STORAGE_VOL", `no storage vol with matching path '${path}'`, "STORAGE");
    if (!path.startsWith("/")) throw notFound;
    const clean = new DirPool(path).path;
    const name = clean.slice(this.pool.length + 1);
    if (dirname(clean) !== this.pool || name === "") throw notFound;
    try {
      checkVolumeName(name);
    } catch {
      throw notFound;
    }
    if (!(await fileExists(clean))) throw notFound;
    return { name, path: clean, key: clean };
  }

  async list(): Promise<VolumeRef[]> {
    const names = await this.#dir.listVolumes();
    return names.map((name) => {
      const path = this.#dir.volumePath(name);
      return { name, path, key: path };
    });
  }

  async record(name: string): Promise<VolumeRecord | undefined> {
    return this.#recordAt(this.#pathOf(name));
  }

  /** The definition as vol-dumpxml shows it: the file probed, the encryption as created. */
  async #describe(name: string): Promise<{ def: VolumeDef; rec: VolumeRecord | undefined }> {
    const path = this.#pathOf(name);
    const def = await this.#dir.probe(name);
    const rec = await this.#recordAt(path);
    const probed = def.target.encryption;
    if (!probed) return { def, rec };
    let encryption = rec?.encryption;
    if (encryption === undefined) {
      // spec §5.3: a volume found in the pool gets the secret whose usage is its path
      try {
        const h = this.#secrets.lookupByUsage("volume", path);
        encryption = { ...probed, secrets: [{ type: "uuid", uuid: h.uuid }] };
      } catch (e) {
        if (!isVirError(e, "NO_SECRET")) throw e;
        encryption = probed;
      }
    }
    return { def: { ...def, target: { ...def.target, encryption } }, rec };
  }

  async getXMLDesc(name: string): Promise<string> {
    return formatVolumeXML((await this.#describe(name)).def);
  }

  async info(name: string): Promise<VolumeInfo> {
    this.#pathOf(name);
    const def = await this.#dir.probe(name);
    return { type: def.type, capacity: def.capacity, allocation: def.allocation };
  }

  // ---- delete ----

  delete(name: string, opts: DeleteVolumeOptions = {}): Promise<void> {
    return this.#queue.run(async () => {
      const path = this.#pathOf(name);
      const rec = await this.#recordAt(path);
      // a record whose file is gone is a delete that stopped half way: finish it
      if (rec === undefined && !(await fileExists(path))) throw noVolByName(name);
      if (rec?.ownsKey === true && !this.#ks) {
        throw new VirError(
          "OPERATION_INVALID",
          `volume '${name}' owns keystore key ${rec.keyId}: deleting it needs the keystore`,
          "STORAGE",
        );
      }
      // file first, then the key, then secret and record in one batch: each
      // step can be repeated, so a failed delete is finished by deleting again
      await removeVolumeFile(path);
      if (rec === undefined) return;
      if (rec.ownsKey === true) await deleteKeyIdempotent(this.#ks!, opts.ctx ?? this.#ctx, rec.keyId!);
      const ops: StoreOp[] = [{ type: "del", space: VOLUME_SPACE, key: path }];
      if (rec.ownsSecret && this.#secretExists(rec.secretUuid!)) {
        await this.#secrets.elevated().undefine(rec.secretUuid!, ops);
      } else {
        await this.#store.batch(ops);
      }
    });
  }

  // ---- key check ----

  async keyCheck(name: string): Promise<KeyCheckResult> {
    const { def, rec } = await this.#describe(name);
    const enc = def.target.encryption;
    if (!enc) throw new VirError("OPERATION_INVALID", `volume '${name}' is not encrypted`, "STORAGE");
    if (enc.format !== "luks") {
      throw new VirError("CONFIG_UNSUPPORTED", `volume encryption format ${enc.format} cannot be checked; only luks`, "STORAGE");
    }
    const lookup: SecretLookup | undefined =
      rec?.secretUuid !== undefined ? { type: "uuid", uuid: rec.secretUuid } : enc.secrets[0];
    if (lookup === undefined) throw new VirError("XML_ERROR", "no secret provided for luks encryption", "STORAGE");
    const { uuid, value } = await this.#resolveSecret(lookup);
    try {
      if (this.#opts.backend === "native") {
        await checkNativePassphrase(def.target.path!, value);
        return { ok: true, secretUuid: uuid };
      }
      await withSecretFile(value, async (secretPath) => {
        const cmd = buildKeyCheckCommand(def.target.format, def.target.path!, secretPath, def.capacity, {
          ...(this.#opts.qemuImg !== undefined ? { qemuImg: this.#opts.qemuImg } : {}),
          ...(this.#opts.qemuIo !== undefined ? { qemuIo: this.#opts.qemuIo } : {}),
        });
        try {
          await runQemuImg(cmd.argv, this.#runOpts({ maxTries: 1 }));
        } catch (e) {
          if (e instanceof QemuToolMissingError) {
            // no QEMU here: the native reader unlocks the volume instead
            await checkNativePassphrase(def.target.path!, value);
            return;
          }
          throw e;
        }
      }, {
        name: `${this.pool.split("/").pop() || "pool"}.${name}.check`,
        ...(this.#opts.secretFileDir !== undefined ? { dir: this.#opts.secretFileDir } : {}),
      });
      return { ok: true, secretUuid: uuid };
    } catch (e) {
      if (isWrongPassphrase(e) || (e instanceof VirError && e.message.includes(WRONG_PASSPHRASE_TEXT))) {
        return { ok: false, secretUuid: uuid, reason: WRONG_PASSPHRASE_TEXT };
      }
      throw e;
    } finally {
      value.fill(0);
    }
  }
}

/**
 * Open the volume driver of a directory pool. Interrupted creates found in
 * the store for this pool are finished first (their files and keys removed).
 */
export async function openVolumeDriver(opts: OpenVolumeDriverOptions): Promise<VolumeDriver> {
  if (opts === null || typeof opts !== "object" || !opts.secrets) throw argError("openVolumeDriver needs a secret driver");
  if (typeof opts.pool !== "string") throw argError("openVolumeDriver needs a pool directory");
  if (opts.backend !== undefined && opts.backend !== "qemu-img" && opts.backend !== "native") {
    throw argError(`backend must be 'qemu-img' or 'native', not '${String(opts.backend).slice(0, 32)}'`);
  }
  if (opts.iterTimeMs !== undefined && (!Number.isSafeInteger(opts.iterTimeMs) || opts.iterTimeMs <= 0)) {
    throw argError(`iteration time must be a positive integer of milliseconds, not ${opts.iterTimeMs}`);
  }
  const drv = new VolumeDriverImpl(opts);
  await new DirPool(drv.pool).check();
  await drv.recover();
  return drv;
}
