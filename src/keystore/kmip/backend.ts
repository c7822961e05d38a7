// The KMIP key-manager backend: the KeyManager interface over a KMIP server
// (PyKMIP, an appliance, or our own server.ts).
//
// Identity: a KMIP server knows the caller only by the TLS client
// certificate, whose subject CN is the object owner. The per-call Context
// cannot change that identity (it is only checked to be present, before any
// I/O), so every caller of one KmipKeyManager shares one owner. Deployments
// that need per-project separation give each project its own certificate
// (its own <keystore> configuration).
//
// Mapping (keystore-spec §7): createKey = Create (left Pre-Active: Get works
// there, and Destroy needs no Revoke); storeKey = Register; getKey = Get +
// Get Attributes (metadata only = Get Attributes alone); deleteKey = Get
// Attributes State, Revoke if Active, Destroy; copyKey = Get + Register;
// listKeys = Locate (paged with Maximum Items / Offset Items) + Get Attributes.
// Item Not Found, Permission Denied (PyKMIP's answer for another owner's
// object) and 2.0's Object Not Found all become KeyNotFound with the same
// message, so an id reveals nothing about keys the caller does not own.

import { readFile } from "node:fs/promises";
import type { KmipKeystoreConfig } from "../config.js";
import {
  type Context,
  type CreateKeyOptions,
  type KeyManager,
  type KeyManagerSupports,
  type ListKeysFilter,
  type ManagedObject,
  type ManagedObjectKind,
  type NewManagedObject,
  KeyManagerError,
  KeyNotFound,
} from "../key-manager.js";
import { checkCreateOptions, checkStoreArgs, managedObject, requireContext } from "../util.js";
import type { KmipAttributes } from "./attributes.js";
import { KmipClient, KmipResultError, type KmipClientOptions } from "./client.js";
import {
  algorithmByName,
  algorithmName,
  CryptographicUsageMask,
  KeyFormatType,
  ObjectType,
  OPAQUE_DATA_TYPE_EXTENSION,
  ResultReason,
  RevocationReasonCode,
  SecretDataType,
  State,
} from "./enums.js";
import type { KmipObject } from "./messages.js";

/** Locate page size; PyKMIP and appliances handle 100 comfortably. */
const PAGE = 100;
/** Get/Get Attributes calls in flight while listing. */
const LIST_CONCURRENCY = 8;
/** Longest id sent to a server; KMIP ids are short (PyKMIP: decimal, appliances: UUIDs). */
const MAX_ID_LENGTH = 256;
const METADATA_NAMES = ["Object Type", "Cryptographic Algorithm", "Cryptographic Length", "Name", "Initial Date"];
const ENCRYPT_DECRYPT = CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt;

const KIND_BY_TYPE = new Map<number, ManagedObjectKind>([
  [ObjectType.SymmetricKey, "symmetric"],
  [ObjectType.SecretData, "passphrase"],
  [ObjectType.OpaqueObject, "opaque"],
]);
const TYPE_BY_KIND: Record<ManagedObjectKind, number> = {
  symmetric: ObjectType.SymmetricKey,
  passphrase: ObjectType.SecretData,
  opaque: ObjectType.OpaqueObject,
};

const NOT_FOUND_REASONS = new Set<number>([ResultReason.ItemNotFound, ResultReason.PermissionDenied, ResultReason.ObjectNotFound]);

export class KmipKeyManager implements KeyManager {
  readonly type = "kmip";
  readonly supports: KeyManagerSupports = { expiration: false, kinds: ["symmetric", "passphrase", "opaque"] };
  private closed = false;

  constructor(private readonly client: KmipClient) {}

  async createKey(ctx: Context | null | undefined, opts?: CreateKeyOptions): Promise<string> {
    requireContext(ctx);
    const o = checkCreateOptions(opts, Date.now() / 1000);
    if (o.expiration !== undefined) throw new KeyManagerError("the KMIP key manager does not enforce key expiration");
    const alg = algorithmByName(o.algorithm);
    if (alg === undefined) throw new KeyManagerError(`unsupported key algorithm '${o.algorithm}'`);
    return this.run("Create", undefined, () =>
      this.client.create(ObjectType.SymmetricKey, {
        cryptographicAlgorithm: alg,
        cryptographicLength: o.length,
        cryptographicUsageMask: ENCRYPT_DECRYPT,
        names: o.name !== undefined ? [o.name] : undefined,
      }),
    );
  }

  async storeKey(ctx: Context | null | undefined, obj: NewManagedObject, opts?: { expiration?: number }): Promise<string> {
    requireContext(ctx);
    if (checkStoreArgs(obj, opts, this.supports, Date.now() / 1000) !== undefined) {
      throw new KeyManagerError("the KMIP key manager does not enforce key expiration");
    }
    // copy now: the caller may reuse its buffer while the request is queued
    const value = new Uint8Array(obj.value);
    let object: KmipObject;
    const attributes: KmipAttributes = { names: obj.name !== undefined ? [obj.name] : undefined };
    if (obj.kind === "symmetric") {
      const alg = algorithmByName(obj.algorithm!);
      if (alg === undefined) throw new KeyManagerError(`unsupported key algorithm '${obj.algorithm!.slice(0, 32)}'`);
      const length = value.length * 8;
      object = { kind: "SymmetricKey", keyFormatType: KeyFormatType.Raw, cryptographicAlgorithm: alg, cryptographicLength: length, keyMaterial: value };
      Object.assign(attributes, { cryptographicAlgorithm: alg, cryptographicLength: length, cryptographicUsageMask: ENCRYPT_DECRYPT });
    } else if (obj.kind === "passphrase") {
      object = { kind: "SecretData", secretDataType: SecretDataType.Password, keyFormatType: KeyFormatType.Opaque, keyMaterial: value };
      attributes.cryptographicUsageMask = 0;
    } else {
      object = { kind: "OpaqueObject", opaqueDataType: OPAQUE_DATA_TYPE_EXTENSION, opaqueDataValue: value };
    }
    return this.run("Register", undefined, () => this.client.register(object, attributes));
  }

  async getKey(ctx: Context | null | undefined, id: string, opts?: { metadataOnly?: boolean }): Promise<ManagedObject> {
    requireContext(ctx);
    checkId(id);
    const o = await this.fetch(id, !opts?.metadataOnly);
    if (!o) throw new KeyManagerError(`KMIP object ${id} is of a type this key manager does not handle`);
    return o;
  }

  async deleteKey(ctx: Context | null | undefined, id: string): Promise<void> {
    requireContext(ctx);
    checkId(id);
    const attrs = await this.run("Get Attributes", id, () => this.client.getAttributes(id, ["State"]));
    // an Active object cannot be destroyed (KMIP lifecycle): deactivate it first
    if (attrs.state === State.Active) {
      await this.run("Revoke", id, () => this.client.revoke(id, RevocationReasonCode.CessationOfOperation));
    }
    await this.run("Destroy", id, () => this.client.destroy(id));
  }

  async copyKey(ctx: Context | null | undefined, id: string): Promise<string> {
    requireContext(ctx);
    checkId(id);
    const orig = await this.getKey(ctx, id);
    const copy: NewManagedObject = {
      kind: orig.kind,
      value: orig.value!,
      ...(orig.kind === "symmetric" ? { algorithm: orig.algorithm, bitLength: orig.bitLength } : {}),
      ...(orig.name !== undefined ? { name: orig.name } : {}),
    };
    return this.storeKey(ctx, copy);
  }

  async listKeys(ctx: Context | null | undefined, filter?: ListKeysFilter): Promise<ManagedObject[]> {
    requireContext(ctx);
    const attributes: KmipAttributes = {};
    if (filter?.kind !== undefined) {
      const t = TYPE_BY_KIND[filter.kind];
      if (t === undefined) throw new KeyManagerError(`unknown managed object kind '${String(filter.kind).slice(0, 32)}'`);
      attributes.objectType = t;
    }
    if (filter?.name !== undefined) {
      if (typeof filter.name !== "string") throw new KeyManagerError("key name must be a string");
      attributes.names = [filter.name];
    }
    const ids: string[] = [];
    const seen = new Set<string>();
    for (let offset = 0; ; offset += PAGE) {
      const page = await this.run("Locate", undefined, () => this.client.locate({ maximumItems: PAGE, offsetItems: offset, attributes }));
      let fresh = 0;
      for (const u of page.uniqueIdentifiers) {
        if (seen.has(u)) continue;
        seen.add(u);
        ids.push(u);
        fresh++;
      }
      if (page.uniqueIdentifiers.length < PAGE) break;
      // a server that ignores Offset Items returns the first page again
      if (fresh === 0) throw new KeyManagerError("KMIP server does not page Locate results (Offset Items ignored)");
    }
    const out: (ManagedObject | undefined)[] = new Array(ids.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < ids.length) {
        const i = next++;
        try {
          // objects of other types (certificates, ...) are not key-manager objects
          out[i] = (await this.fetch(ids[i], !filter?.metadataOnly)) ?? undefined;
        } catch (e) {
          // deleted between Locate and Get: not part of the listing
          if (!(e instanceof KeyNotFound)) throw e;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(LIST_CONCURRENCY, ids.length) }, worker));
    return out.filter((o): o is ManagedObject => o !== undefined);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.client.close();
  }

  /** Metadata from Get Attributes, and the value from Get when asked; null for object types we do not handle. */
  private async fetch(id: string, withValue: boolean): Promise<ManagedObject | null> {
    const attrs = await this.run("Get Attributes", id, () => this.client.getAttributes(id, METADATA_NAMES));
    const kind = attrs.objectType !== undefined ? KIND_BY_TYPE.get(attrs.objectType) : undefined;
    if (!kind) return null;
    const got = withValue ? (await this.run("Get", id, () => this.client.get(id))).object : undefined;
    const symmetric = kind === "symmetric";
    return managedObject({
      id,
      kind,
      created: Math.floor(attrs.initialDate ?? 0),
      algorithm: symmetric && attrs.cryptographicAlgorithm !== undefined ? algorithmName(attrs.cryptographicAlgorithm) : undefined,
      bitLength: symmetric ? attrs.cryptographicLength : undefined,
      name: attrs.names?.length ? attrs.names[0] : undefined,
      value: got === undefined ? undefined : new Uint8Array(got.kind === "OpaqueObject" ? got.opaqueDataValue : got.keyMaterial),
    });
  }

  /** Run one KMIP operation, turning its failures into key-manager errors. */
  private async run<T>(what: string, id: string | undefined, op: () => Promise<T>): Promise<T> {
    if (this.closed) throw new KeyManagerError("the KMIP key manager is closed");
    try {
      return await op();
    } catch (e) {
      if (e instanceof KmipResultError) {
        // no cause attached: absent and foreign must look identical
        if (id !== undefined && e.resultReason !== undefined && NOT_FOUND_REASONS.has(e.resultReason)) throw new KeyNotFound(id);
        throw new KeyManagerError(`KMIP ${what} failed: ${e.message.replace(/^KMIP \S+ failed: /, "")}`);
      }
      if (e instanceof KeyManagerError) throw e;
      throw new KeyManagerError(`KMIP ${what}${id !== undefined ? ` of ${id}` : ""} failed: ${(e as Error).message}`, { cause: e });
    }
  }
}

/** Ids a KMIP server could hold; anything else names no object, without asking the server. */
function checkId(id: unknown): asserts id is string {
  if (typeof id !== "string") throw new KeyManagerError("key id must be a string");
  // PyKMIP treats an empty identifier as the batch's ID placeholder: never send one
  // eslint-disable-next-line no-control-regex
  if (id === "" || id.length > MAX_ID_LENGTH || /[\u0000-\u001f\u007f]/.test(id)) throw new KeyNotFound(id.slice(0, MAX_ID_LENGTH));
}

/** Client options from a `<keystore type='kmip'>` configuration (reads the TLS and password files). */
export async function kmipClientOptions(cfg: KmipKeystoreConfig): Promise<KmipClientOptions> {
  const read = async (what: string, path: string): Promise<Buffer> => {
    try {
      return await readFile(path);
    } catch (e) {
      throw new KeyManagerError(`cannot read the KMIP ${what} file '${path}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  };
  const [ca, cert, key] = await Promise.all([read("CA", cfg.tls.ca), read("client certificate", cfg.tls.cert), read("client key", cfg.tls.key)]);
  let credential: KmipClientOptions["credential"];
  if (cfg.credential) {
    const password = cfg.credential.passwordFile
      ? (await read("password", cfg.credential.passwordFile)).toString("utf8").replace(/\r?\n$/, "")
      : undefined;
    credential = { username: cfg.credential.username, password };
  }
  return {
    host: cfg.host,
    port: cfg.port,
    ca,
    cert,
    key,
    tlsVersion: cfg.tls.version === "1.2" ? "TLSv1.2" : cfg.tls.version === "1.3" ? "TLSv1.3" : undefined,
    credential,
    poolSize: cfg.poolSize,
    timeoutMs: cfg.timeoutMs,
  };
}

/** Open the KMIP backend of a `<keystore type='kmip'>` configuration. No connection is made until the first call. */
export async function openKmipKeystore(cfg: KmipKeystoreConfig): Promise<KeyManager> {
  return new KmipKeyManager(new KmipClient(await kmipClientOptions(cfg)));
}

