// libvirt's on-disk secret layout (spec §3.2–§3.4), in and out:
//   import: <uuid>.xml + <uuid>.base64 (9.0) or <uuid>.aes256cbc (12.1+, given the key)
//   export: libvirt 9.0's layout, which every libvirt since reads.
// Per-file problems never abort the run: each uuid gets a line in the report.
import { createDecipheriv } from "node:crypto";
import { constants as fsc } from "node:fs";
import { chmod, mkdir, open, readdir, readFile, rename, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { VirError, isVirError } from "../errors.js";
import { parseSecretXML } from "../xml/secret.js";
import { ListAllFlags } from "./api.js";
import { decodeBase64Strict, encodeBase64 } from "./base64.js";
import type { SecretDef } from "./def.js";
import type { SecretDriver } from "./driver.js";

/** libvirt's cap on a secret file read (10 MiB). */
const MAX_FILE = 10 * 1024 * 1024;

export type ImportStatus = "imported" | "skipped";

export interface ImportEntry {
  /** the .xml file name */
  readonly file: string;
  /** canonical uuid, when the file parsed */
  readonly uuid?: string;
  readonly status: ImportStatus;
  /** where the value came from */
  readonly value: "none" | "base64" | "aes256cbc";
  /** why a file was skipped, or a note on an imported one; never contains value bytes */
  readonly message?: string;
}

export interface ImportOptions {
  /** libvirt 12's 32-byte secrets-encryption-key, needed for `.aes256cbc` values */
  readonly aes256cbcKey?: Uint8Array;
}

async function readCapped(path: string): Promise<Buffer> {
  const st = await stat(path);
  if (!st.isFile()) throw new VirError("READ_FAILED", `cannot read '${path}'`);
  if (st.size > MAX_FILE) throw new VirError("READ_FAILED", `cannot read '${path}': file exceeds ${MAX_FILE} bytes`);
  return readFile(path);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw e;
  }
}

/** Decrypt libvirt 12's `.aes256cbc` content: base64(IV(16) ‖ AES-256-CBC(value ‖ PKCS#7)). */
export function decryptAes256cbc(text: string, key: Uint8Array, what: string): Uint8Array {
  if (key.length !== 32) throw new VirError("INVALID_ARG", `Encryption key length must be '32'`);
  const raw = decodeBase64Strict(text, what);
  if (raw.length < 32 || (raw.length - 16) % 16 !== 0) {
    throw new VirError("INVALID_SECRET", `Encrypted secret size '${raw.length}' is invalid`);
  }
  let a: Buffer | undefined;
  let b: Buffer | undefined;
  try {
    const d = createDecipheriv("aes-256-cbc", key, raw.subarray(0, 16));
    a = d.update(raw.subarray(16));
    b = d.final();
    const out = new Uint8Array(a.length + b.length);
    out.set(a, 0);
    out.set(b, a.length);
    return out;
  } catch {
    throw new VirError("INVALID_SECRET", `cannot decrypt '${what}': wrong key or corrupt data`);
  } finally {
    // a failed padding check still leaves update()'s plaintext of all blocks but the last
    a?.fill(0);
    b?.fill(0);
    raw.fill(0);
  }
}

/**
 * Import a libvirt secrets directory (`/etc/libvirt/secrets` or
 * `<root>/etc/secrets`) following libvirt's load rules (§3.3): only `*.xml`,
 * the file name must be `<canonical uuid>.xml`, bad files are skipped and
 * reported. Values: `.aes256cbc` then `.base64` (the later wins, as libvirt),
 * decoded strictly (garbage is an error, not some other value). Existing
 * secrets of the same uuid are redefined (the define rules apply).
 */
export async function importLibvirtDir(drv: SecretDriver, dir: string, opts: ImportOptions = {}): Promise<ImportEntry[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith(".xml")).sort();
  const report: ImportEntry[] = [];
  for (const file of names) {
    const path = join(dir, file);
    let def: SecretDef | undefined;
    let value: Uint8Array | undefined;
    let source: ImportEntry["value"] = "none";
    let note: string | undefined;
    try {
      const xml = (await readCapped(path)).toString("utf8");
      def = parseSecretXML(xml, { docName: path });
      if (file !== `${def.uuid}.xml`) {
        throw new VirError("INTERNAL_ERROR", `<uuid> does not match secret file name '${file}'`);
      }
      const aesPath = join(dir, `${def.uuid}.aes256cbc`);
      const b64Path = join(dir, `${def.uuid}.base64`);
      if (await exists(aesPath)) {
        if (opts.aes256cbcKey === undefined) {
          if (!(await exists(b64Path))) {
            throw new VirError("INVALID_SECRET", `'${aesPath}' is encrypted and no secrets-encryption-key was given`);
          }
          note = `'${def.uuid}.aes256cbc' ignored: no key given`;
        } else {
          value = decryptAes256cbc((await readCapped(aesPath)).toString("latin1"), opts.aes256cbcKey, aesPath);
          source = "aes256cbc";
        }
      }
      if (await exists(b64Path)) {
        const decoded = decodeBase64Strict((await readCapped(b64Path)).toString("latin1"), b64Path);
        value?.fill(0);
        value = decoded;
        source = "base64";
      }
      if (value !== undefined && value.length === 0) {
        // libvirt treats an empty value as none; we never store empty values
        value = undefined;
        source = "none";
        note = "empty value file ignored";
      }
      const xmlOut = xml;
      if (value !== undefined) await drv.elevated().defineWithValue(xmlOut, value);
      else await drv.defineXML(xmlOut, 0);
      report.push({ file, uuid: def.uuid, status: "imported", value: source, ...(note !== undefined ? { message: note } : {}) });
    } catch (e) {
      report.push({
        file,
        ...(def !== undefined ? { uuid: def.uuid } : {}),
        status: "skipped",
        value: "none",
        message: `Error reading secret: ${errorText(e)}`,
      });
    } finally {
      value?.fill(0);
    }
  }
  return report;
}

export interface ExportEntry {
  readonly uuid: string;
  /** path of the written `<uuid>.xml` */
  readonly xml: string;
  /** path of the written `<uuid>.base64`, absent when the secret has no value */
  readonly base64?: string;
  /** a stale `<uuid>.base64` was removed because the secret has no value (or a bound one) */
  readonly removedStaleValue?: boolean;
  /** the secret is bound to this keystore key: its definition is exported, its value is not */
  readonly boundKey?: { readonly keystore: string; readonly keyId: string };
}

/** libvirt's virFileRewrite: `<file>.new`, forced mode, fsync, close, rename; `.new` unlinked on error. */
async function rewriteFile(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.new`;
  const fh = await open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC, 0o600);
  try {
    await fh.chmod(0o600);
    await fh.writeFile(data);
    await fh.sync();
    await fh.close();
    await rename(tmp, path);
  } catch (e) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}

/**
 * Write every persistent secret in libvirt 9.0's layout: `<uuid>.xml` (the
 * exact dumpxml string) and `<uuid>.base64` (standard base64, no newline),
 * files 0600, directory 0700 (created with its parents if missing). Ephemeral secrets are not
 * exported. Private values ARE exported (read through the elevated handle):
 * the target is the operator's own libvirt config directory.
 *
 * A secret bound to a keystore key is exported WITHOUT its value (entry
 * `boundKey`): the value belongs to the keystore, and writing it in base64
 * would leave a keystore-held key in a directory anyone copying /etc/libvirt
 * takes along. The keystore is not even asked, so a deleted key does not
 * fail the export.
 */
export async function exportLibvirtDir(drv: SecretDriver, dir: string): Promise<ExportEntry[]> {
  // parents too (e.g. <root>/etc/secrets), each 0700 as libvirt makes them
  const made = await mkdir(dir, { recursive: true, mode: 0o700 });
  if (made !== undefined) await chmod(dir, 0o700); // mkdir's mode is filtered by the umask
  const report: ExportEntry[] = [];
  const elevated = drv.elevated();
  for (const h of drv.listAll(ListAllFlags.NO_EPHEMERAL)) {
    const xmlPath = join(dir, `${h.uuid}.xml`);
    const b64Path = join(dir, `${h.uuid}.base64`);
    const binding = drv.keyBinding(h.uuid);
    let value: Uint8Array | undefined;
    try {
      if (binding === undefined) value = await elevated.getValue(h.uuid);
    } catch (e) {
      if (!isVirError(e, "NO_SECRET") || !/does not have a value/.test(e.detail)) throw e;
    }
    try {
      if (value !== undefined) {
        // value first, then XML, as libvirt does when a secret becomes persistent
        const text = Buffer.from(encodeBase64(value), "latin1");
        try {
          await rewriteFile(b64Path, text);
        } finally {
          text.fill(0);
        }
        await rewriteFile(xmlPath, h.getXMLDesc());
        report.push({ uuid: h.uuid, xml: xmlPath, base64: b64Path });
      } else {
        await rewriteFile(xmlPath, h.getXMLDesc());
        let removed = false;
        try {
          await unlink(b64Path);
          removed = true;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
        }
        report.push({
          uuid: h.uuid,
          xml: xmlPath,
          ...(removed ? { removedStaleValue: true } : {}),
          ...(binding !== undefined ? { boundKey: { keystore: binding.keystore, keyId: binding.keyId } } : {}),
        });
      }
    } finally {
      value?.fill(0);
    }
  }
  // make the renames durable
  const d = await open(dir, fsc.O_RDONLY);
  try {
    await d.sync();
  } finally {
    await d.close();
  }
  return report;
}

function errorText(e: unknown): string {
  if (e instanceof VirError) return e.message;
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err.code === "string" && typeof err.path === "string") return `cannot read '${err.path}': ${err.code}`;
  return e instanceof Error ? e.message : String(e);
}
