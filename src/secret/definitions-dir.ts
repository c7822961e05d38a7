// `secret-define DIR`: apply a directory of secret definitions idempotently,
// the way configuration management wants it. Each `NAME.xml` (sorted by name)
// may have its value beside it as raw bytes in `NAME.value` or as base64 in
// `NAME.base64` (NAME being the file's base name or the secret's uuid).
// Running the same directory twice changes nothing and reports "unchanged".
import { readdir, readFile, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { VirError, isVirError } from "../errors.js";
import { formatSecretXML, parseSecretXML } from "../xml/secret.js";
import { validateSecretXML } from "../xml/validate.js";
import { decodeBase64Strict } from "./base64.js";
import type { SecretDef } from "./def.js";
import type { SecretDriver } from "./driver.js";
import type { SecretHandle } from "./api.js";

const MAX_FILE = 10 * 1024 * 1024;

export type DefinitionResult = "created" | "updated" | "unchanged" | "value-set" | "error";

export interface DefinitionEntry {
  /** the .xml file name */
  readonly file: string;
  readonly uuid?: string;
  /** created: new secret; updated: definition changed; value-set: only the value changed */
  readonly result: DefinitionResult;
  /** the value file applied, if any */
  readonly valueFile?: string;
  /** the error, for result "error" (never contains value bytes) */
  readonly error?: VirError | Error;
}

async function readIfExists(path: string): Promise<Buffer | undefined> {
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new VirError("READ_FAILED", `cannot read '${path}': not a regular file`);
    if (st.size > MAX_FILE) throw new VirError("READ_FAILED", `cannot read '${path}': file exceeds ${MAX_FILE} bytes`);
    return await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

/** The value file for a definition: `.value` (raw) or `.base64`, by base name or uuid; both at once is ambiguous. */
async function readValueFile(dir: string, stem: string, uuid: string): Promise<{ file: string; value: Uint8Array } | undefined> {
  for (const name of stem === uuid ? [stem] : [stem, uuid]) {
    const rawPath = join(dir, `${name}.value`);
    const b64Path = join(dir, `${name}.base64`);
    const raw = await readIfExists(rawPath);
    const b64 = await readIfExists(b64Path);
    if (raw !== undefined && b64 !== undefined) {
      raw.fill(0);
      b64.fill(0);
      throw new VirError("INVALID_ARG", `both '${name}.value' and '${name}.base64' exist; keep only one`);
    }
    if (raw !== undefined) return { file: `${name}.value`, value: new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength) };
    if (b64 !== undefined) {
      try {
        return { file: `${name}.base64`, value: decodeBase64Strict(b64.toString("latin1"), b64Path) };
      } finally {
        b64.fill(0);
      }
    }
  }
  return undefined;
}

/**
 * Apply every `*.xml` in `dir`. A definition without `<uuid>` is matched to
 * the existing secret holding its usage (so re-runs are idempotent); without
 * both it would create a new secret every run and is reported as an error.
 * With `validate`, each file is checked against the schema first.
 */
export async function defineFromDirectory(drv: SecretDriver, dir: string, opts: { validate?: boolean } = {}): Promise<DefinitionEntry[]> {
  const files = (await readdir(dir)).filter((n) => n.endsWith(".xml")).sort();
  const out: DefinitionEntry[] = [];
  for (const file of files) {
    let uuid: string | undefined;
    let valueFile: string | undefined;
    let value: Uint8Array | undefined;
    try {
      const path = join(dir, file);
      const text = await readIfExists(path);
      if (text === undefined) throw new VirError("READ_FAILED", `Failed to open file '${path}': No such file or directory`);
      const xml = text.toString("utf8");
      if (opts.validate === true) await validateSecretXML(xml);
      let def: SecretDef = parseSecretXML(xml, { docName: path });
      // A missing <uuid> is generated anew on every parse: detect it that way.
      const generated = parseSecretXML(xml, { docName: path }).uuid !== def.uuid;
      if (generated) {
        let holder: SecretHandle | undefined;
        if (def.usageType !== "none") {
          try {
            holder = drv.lookupByUsage(def.usageType, def.usageId!);
          } catch (e) {
            if (!isVirError(e, "NO_SECRET")) throw e;
          }
        } else {
          throw new VirError("INVALID_ARG", `'${file}' has neither <uuid> nor <usage>, so it cannot be applied idempotently`);
        }
        if (holder !== undefined) def = { ...def, uuid: holder.uuid };
      }
      uuid = def.uuid;
      const vf = await readValueFile(dir, basename(file, ".xml"), def.uuid);
      if (vf !== undefined) {
        valueFile = vf.file;
        value = vf.value;
      }

      let current: SecretHandle | undefined;
      try {
        current = drv.lookupByUUID(def.uuid);
      } catch (e) {
        if (!isVirError(e, "NO_SECRET")) throw e;
      }
      const wanted = formatSecretXML(def);
      const defSame = current !== undefined && current.getXMLDesc() === wanted;
      let valueSame = true;
      if (current !== undefined && value !== undefined) {
        let cur: Uint8Array | undefined;
        try {
          cur = await drv.elevated().getValue(def.uuid);
        } catch (e) {
          if (!isVirError(e, "NO_SECRET")) throw e;
        }
        valueSame = cur !== undefined && equalBytes(cur, value);
        cur?.fill(0);
      }

      let result: DefinitionResult;
      if (defSame && valueSame) {
        result = "unchanged";
      } else if (defSame) {
        await current!.setValue(value!);
        result = "value-set";
      } else {
        // definition and value in one batch when there is a value
        if (value !== undefined && (current === undefined || !valueSame)) await drv.elevated().defineWithValue(wanted, value);
        else await drv.defineXML(wanted, 0);
        result = current === undefined ? "created" : "updated";
      }
      out.push({ file, uuid, result, ...(valueFile !== undefined ? { valueFile } : {}) });
    } catch (e) {
      out.push({
        file,
        ...(uuid !== undefined ? { uuid } : {}),
        result: "error",
        ...(valueFile !== undefined ? { valueFile } : {}),
        error: e instanceof Error ? e : new Error(String(e)),
      });
    } finally {
      value?.fill(0);
    }
  }
  return out;
}
