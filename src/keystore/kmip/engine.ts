// The KMIP server's operation engine: one decoded request message from an
// authenticated owner in, one response message out. Transport-free, so it is
// tested directly. Behaviour follows PyKMIP 0.10 where a client can observe
// it (lifecycle, result reasons and messages), except that another owner's
// object is answered exactly like an absent one (Item Not Found).

import { randomBytes, randomUUID } from "node:crypto";
import { isKmip2, type KmipAttributes, type ProtocolVersion } from "./attributes.js";
import {
  BatchErrorContinuationOption,
  CryptographicAlgorithm,
  KeyFormatType,
  ObjectType,
  Operation,
  operationName,
  QueryFunction,
  ResultReason,
  ResultStatus,
  RevocationReasonCode,
  State,
} from "./enums.js";
import { KmipMessageError } from "./fields.js";
import * as M from "./messages.js";
import type { KmipObjectStore, StoredObject } from "./store.js";
import { Tag } from "./tags.js";
import { encodedSize, ttlv, type StructureItem, type TtlvItem } from "./ttlv.js";

export const SERVER_VERSIONS: readonly ProtocolVersion[] = [
  { major: 2, minor: 0 },
  { major: 1, minor: 4 },
  { major: 1, minor: 3 },
  { major: 1, minor: 2 },
  { major: 1, minor: 1 },
  { major: 1, minor: 0 },
];
export const VENDOR_IDENTIFICATION = "virsecret KMIP server";
const SUPPORTED_OPERATIONS = [
  Operation.Create,
  Operation.Register,
  Operation.Locate,
  Operation.Get,
  Operation.GetAttributes,
  Operation.Activate,
  Operation.Revoke,
  Operation.Destroy,
  Operation.Query,
  Operation.DiscoverVersions,
];
const AES_LENGTHS = [128, 192, 256, 512];
/** PyKMIP's window for a request Time Stamp */
const TIMESTAMP_WINDOW_S = 60;

/** A batch item failure with its KMIP Result Reason. */
class OpError extends Error {
  constructor(
    readonly reason: number,
    message: string,
  ) {
    super(message);
  }
}
const notFound = (uid: string): OpError => new OpError(ResultReason.ItemNotFound, `Could not locate object: ${uid}`);

const supported = (v: ProtocolVersion): boolean => SERVER_VERSIONS.some((s) => s.major === v.major && s.minor === v.minor);
const V1_0: ProtocolVersion = { major: 1, minor: 0 };
const now = (): number => Math.floor(Date.now() / 1000);

export class KmipEngine {
  /** per-object serialisation of read-modify-write operations */
  private readonly locks = new Map<string, Promise<unknown>>();

  /** `maxResponseBytes`: the encoded size a response may reach; later batch items are not run */
  constructor(
    private readonly store: KmipObjectStore,
    private readonly maxResponseBytes: number = Infinity,
  ) {}

  /** The response to a message that could not be decoded or parsed (PyKMIP: version 1.0 unless known, no Operation). */
  static invalidMessage(version: ProtocolVersion | undefined, message: string): M.ResponseMessage {
    return {
      header: { protocolVersion: version && supported(version) ? version : V1_0, timeStamp: now() },
      batchItems: [M.failure(undefined, ResultReason.InvalidMessage, message)],
    };
  }

  /** A response refusing every item of `req` with Authentication Not Successful. */
  static unauthenticated(version: ProtocolVersion | undefined, message: string): M.ResponseMessage {
    return {
      header: { protocolVersion: version && supported(version) ? version : V1_0, timeStamp: now() },
      batchItems: [M.failure(undefined, ResultReason.AuthenticationNotSuccessful, message)],
    };
  }

  async handle(owner: string, req: M.RequestMessage): Promise<M.ResponseMessage> {
    const v = req.header.protocolVersion;
    if (!supported(v)) return KmipEngine.invalidMessage(undefined, `Protocol version ${v.major}.${v.minor} is not supported.`);
    const header = { protocolVersion: v, timeStamp: now() };
    const ts = req.header.timeStamp;
    if (ts !== undefined) {
      if (ts > header.timeStamp + 1) return { header, batchItems: [M.failure(undefined, ResultReason.InvalidMessage, "Future request rejected by server.")] };
      if (ts < header.timeStamp - TIMESTAMP_WINDOW_S) return { header, batchItems: [M.failure(undefined, ResultReason.InvalidMessage, "Stale request rejected by server.")] };
    }
    const option = req.header.batchErrorContinuationOption ?? BatchErrorContinuationOption.Stop;
    if (option === BatchErrorContinuationOption.Undo) {
      return { header, batchItems: [M.failure(undefined, ResultReason.FeatureNotSupported, "Undo option for batch handling is not supported.")] };
    }
    const items: M.ResponseBatchItem[] = [];
    let size = encodedSize(M.encodeResponseMessage({ header, batchItems: [] }));
    for (const item of req.batchItems) {
      let r = await this.runItem(owner, v, item);
      size += encodedSize(M.encodeResponseBatchItem(r));
      if (size > this.maxResponseBytes) {
        // whatever the continuation option: running more items would only grow what we hold
        r = M.failure(item.operation, ResultReason.ResponseTooLarge, "Response size exceeds the server's maximum.", item.uniqueBatchItemId);
        items.push(r);
        break;
      }
      items.push(r);
      if (r.resultStatus !== ResultStatus.Success && option === BatchErrorContinuationOption.Stop) break;
    }
    return { header, batchItems: items };
  }

  private async runItem(owner: string, v: ProtocolVersion, item: M.RequestBatchItem): Promise<M.ResponseBatchItem> {
    try {
      const payload = await this.dispatch(owner, v, item.operation, item.payload);
      return { operation: item.operation, uniqueBatchItemId: item.uniqueBatchItemId, resultStatus: ResultStatus.Success, payload };
    } catch (e) {
      if (e instanceof OpError || e instanceof KmipMessageError) return M.failure(item.operation, e.reason, e.message, item.uniqueBatchItemId);
      // store failures: say so without internals
      return M.failure(item.operation, ResultReason.GeneralFailure, "Operation failed. See server logs for more information.", item.uniqueBatchItemId);
    }
  }

  private dispatch(owner: string, v: ProtocolVersion, op: number, p: StructureItem): Promise<StructureItem> {
    switch (op) {
      case Operation.DiscoverVersions:
        return Promise.resolve(this.discoverVersions(p));
      case Operation.Query:
        return Promise.resolve(this.query(p));
      case Operation.Create:
        return this.create(owner, p);
      case Operation.Register:
        return this.register(owner, p);
      case Operation.Get:
        return this.get(owner, p);
      case Operation.GetAttributes:
        return this.getAttributes(owner, v, p);
      case Operation.Locate:
        return this.locate(owner, v, p);
      case Operation.Activate:
        return this.activate(owner, p);
      case Operation.Revoke:
        return this.revoke(owner, p);
      case Operation.Destroy:
        return this.destroy(owner, p);
      default:
        throw new OpError(ResultReason.OperationNotSupported, `${operationName(op)} operation is not supported by the server.`);
    }
  }

  private discoverVersions(p: StructureItem): StructureItem {
    const offered = M.decodeDiscoverVersions(p);
    const out = offered.length === 0 ? SERVER_VERSIONS : offered.filter(supported);
    return M.encodeDiscoverVersionsResponse(out);
  }

  private query(p: StructureItem): StructureItem {
    const fns = M.decodeQueryRequest(p);
    return M.encodeQueryResponse({
      operations: fns.includes(QueryFunction.QueryOperations) ? SUPPORTED_OPERATIONS : [],
      objectTypes: fns.includes(QueryFunction.QueryObjects) ? [ObjectType.SymmetricKey, ObjectType.SecretData, ObjectType.OpaqueObject] : [],
      vendorIdentification: fns.includes(QueryFunction.QueryServerInformation) ? VENDOR_IDENTIFICATION : undefined,
    });
  }

  private async create(owner: string, p: StructureItem): Promise<StructureItem> {
    const req = M.decodeCreateRequest(p);
    if (req.objectType !== ObjectType.SymmetricKey) {
      throw new OpError(ResultReason.InvalidField, `Cannot create a ${objectTypeLabel(req.objectType)} object with the Create operation.`);
    }
    const a = req.attributes;
    if (a.cryptographicAlgorithm === undefined) throw new OpError(ResultReason.InvalidField, "The cryptographic algorithm must be specified as an attribute.");
    if (a.cryptographicLength === undefined) throw new OpError(ResultReason.InvalidField, "The cryptographic length must be specified as an attribute.");
    if (a.cryptographicUsageMask === undefined) throw new OpError(ResultReason.InvalidField, "The cryptographic usage mask must be specified as an attribute.");
    if (a.cryptographicAlgorithm !== CryptographicAlgorithm.AES) {
      throw new OpError(ResultReason.InvalidField, `The cryptographic algorithm (${a.cryptographicAlgorithm}) is not a supported symmetric key algorithm.`);
    }
    if (!AES_LENGTHS.includes(a.cryptographicLength)) {
      throw new OpError(ResultReason.InvalidField, `The cryptographic length (${a.cryptographicLength}) is not valid for the cryptographic algorithm (AES).`);
    }
    const material = randomBytes(a.cryptographicLength / 8);
    const obj = this.newObject(owner, ObjectType.SymmetricKey, a, { keyFormatType: KeyFormatType.Raw });
    await this.store.put(obj, material);
    material.fill(0);
    return M.encodeCreateResponse({ objectType: ObjectType.SymmetricKey, uniqueIdentifier: obj.uid });
  }

  private async register(owner: string, p: StructureItem): Promise<StructureItem> {
    const req = M.decodeRegisterRequest(p);
    const o = req.object;
    const a: KmipAttributes = { ...req.attributes };
    let material: Uint8Array;
    let format: StoredObject["format"];
    if (o.kind === "SymmetricKey") {
      if (o.keyFormatType !== KeyFormatType.Raw && o.keyFormatType !== KeyFormatType.TransparentSymmetricKey) {
        throw new OpError(ResultReason.KeyFormatTypeNotSupported, "Symmetric keys are stored in Raw or Transparent Symmetric Key format only.");
      }
      material = o.keyMaterial;
      a.cryptographicAlgorithm ??= o.cryptographicAlgorithm;
      a.cryptographicLength ??= o.cryptographicLength ?? material.length * 8;
      if (a.cryptographicLength !== material.length * 8) {
        throw new OpError(ResultReason.InvalidField, `The cryptographic length (${a.cryptographicLength}) does not match the key material (${material.length * 8} bits).`);
      }
      format = { keyFormatType: KeyFormatType.Raw };
    } else if (o.kind === "SecretData") {
      material = o.keyMaterial;
      format = { keyFormatType: o.keyFormatType, secretDataType: o.secretDataType };
    } else {
      material = o.opaqueDataValue;
      format = { opaqueDataType: o.opaqueDataType };
    }
    if (material.length === 0) throw new OpError(ResultReason.InvalidField, "The object has no key material.");
    const obj = this.newObject(owner, M.objectTypeOf(o), a, format);
    await this.store.put(obj, material);
    return M.encodeUidResponse(obj.uid);
  }

  private newObject(owner: string, objectType: number, a: KmipAttributes, format: StoredObject["format"]): StoredObject {
    const t = now();
    const attributes: KmipAttributes = {
      cryptographicAlgorithm: objectType === ObjectType.SymmetricKey ? a.cryptographicAlgorithm : undefined,
      cryptographicLength: objectType === ObjectType.SymmetricKey ? a.cryptographicLength : undefined,
      cryptographicUsageMask: a.cryptographicUsageMask,
      names: a.names,
      operationPolicyName: a.operationPolicyName ?? "default",
      initialDate: t,
      lastChangeDate: t,
    };
    return { uid: randomUUID(), owner, objectType, state: State.PreActive, seq: this.store.nextSeq(), attributes, format };
  }

  private async mustGet(owner: string, uid: string): Promise<StoredObject> {
    const o = await this.store.get(owner, uid);
    if (!o) throw notFound(uid);
    return o;
  }

  private async get(owner: string, p: StructureItem): Promise<StructureItem> {
    const req = M.decodeGetRequest(p);
    const uid = req.uniqueIdentifier;
    const o = await this.mustGet(owner, uid);
    const material = await this.store.material(owner, uid);
    if (!material) throw notFound(uid);
    let object: M.KmipObject;
    if (o.objectType === ObjectType.SymmetricKey) {
      const want = req.keyFormatType ?? KeyFormatType.Raw;
      if (want !== KeyFormatType.Raw && want !== KeyFormatType.TransparentSymmetricKey) {
        throw new OpError(ResultReason.KeyFormatTypeNotSupported, `Key format conversion from RAW to ${want} is unsupported.`);
      }
      object = {
        kind: "SymmetricKey",
        keyFormatType: KeyFormatType.Raw,
        cryptographicAlgorithm: o.attributes.cryptographicAlgorithm,
        cryptographicLength: o.attributes.cryptographicLength,
        keyMaterial: material,
      };
      if (want === KeyFormatType.TransparentSymmetricKey) return transparent(uid, object);
    } else if (o.objectType === ObjectType.SecretData) {
      if (req.keyFormatType !== undefined && req.keyFormatType !== o.format.keyFormatType) {
        throw new OpError(ResultReason.KeyFormatTypeNotSupported, "Key format conversion is unsupported for secret data.");
      }
      object = { kind: "SecretData", secretDataType: o.format.secretDataType ?? 1, keyFormatType: o.format.keyFormatType ?? KeyFormatType.Opaque, keyMaterial: material };
    } else {
      object = { kind: "OpaqueObject", opaqueDataType: o.format.opaqueDataType ?? 0x80000000, opaqueDataValue: material };
    }
    return M.encodeGetResponse({ uniqueIdentifier: uid, object });
  }

  private async getAttributes(owner: string, v: ProtocolVersion, p: StructureItem): Promise<StructureItem> {
    const req = M.decodeGetAttributesRequest(p);
    const o = await this.mustGet(owner, req.uniqueIdentifier);
    const all: KmipAttributes = { uniqueIdentifier: o.uid, objectType: o.objectType, state: o.state, ...o.attributes };
    let out: KmipAttributes = all;
    if (req.attributeNames.length) {
      const want = new Set(req.attributeNames);
      out = {};
      for (const [name, key] of ATTRIBUTE_KEYS) if (want.has(name) && all[key] !== undefined) (out as Record<string, unknown>)[key] = all[key];
    }
    return M.encodeGetAttributesResponse({ uniqueIdentifier: o.uid, attributes: out }, v);
  }

  private async locate(owner: string, v: ProtocolVersion, p: StructureItem): Promise<StructureItem> {
    const req = M.decodeLocateRequest(p);
    const f = req.attributes;
    // newest first, as PyKMIP; seq breaks ties, so pages are stable
    const matches = (await this.store.locateEntries(owner)).filter(
      (o) =>
        (f.objectType === undefined || o.objectType === f.objectType) &&
        (f.state === undefined || o.state === f.state) &&
        (f.cryptographicAlgorithm === undefined || o.cryptographicAlgorithm === f.cryptographicAlgorithm) &&
        (f.cryptographicLength === undefined || o.cryptographicLength === f.cryptographicLength) &&
        (!f.names?.length || f.names.every((n) => o.names?.includes(n))),
    );
    const offset = Math.max(0, req.offsetItems ?? 0);
    const max = req.maximumItems !== undefined && req.maximumItems >= 0 ? req.maximumItems : Infinity;
    const page = matches.slice(offset, offset + max).map((o) => o.uid);
    const withCount = isKmip2(v) || v.minor >= 3;
    return M.encodeLocateResponse({ locatedItems: withCount ? matches.length : undefined, uniqueIdentifiers: page });
  }

  /** Run a read-modify-write on one object with no other such operation on it in between. */
  private async locked<T>(owner: string, uid: string, fn: () => Promise<T>): Promise<T> {
    const key = `${owner}\u0000${uid}`;
    const prev = this.locks.get(key) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.locks.get(key) === tail) this.locks.delete(key);
    }
  }

  private async activate(owner: string, p: StructureItem): Promise<StructureItem> {
    const uid = M.decodeUidRequest(p);
    return this.locked(owner, uid, async () => {
      const o = await this.mustGet(owner, uid);
      if (o.state !== State.PreActive) throw new OpError(ResultReason.PermissionDenied, "The object state is not pre-active and cannot be activated.");
      o.state = State.Active;
      o.attributes = { ...o.attributes, activationDate: now(), lastChangeDate: now() };
      await this.store.update(o);
      return M.encodeUidResponse(uid);
    });
  }

  private async revoke(owner: string, p: StructureItem): Promise<StructureItem> {
    const req = M.decodeRevokeRequest(p);
    const uid = req.uniqueIdentifier;
    return this.locked(owner, uid, async () => {
      const o = await this.mustGet(owner, uid);
      const compromise =
        req.revocationReasonCode === RevocationReasonCode.KeyCompromise || req.revocationReasonCode === RevocationReasonCode.CACompromise;
      if (compromise) {
        o.state = State.Compromised;
      } else {
        if (o.state !== State.Active) {
          throw new OpError(ResultReason.IllegalOperation, "The object is not active and cannot be revoked with reason other than KEY_COMPROMISE");
        }
        o.state = State.Deactivated;
        o.attributes = { ...o.attributes, deactivationDate: now() };
      }
      o.attributes = { ...o.attributes, lastChangeDate: now() };
      await this.store.update(o);
      return M.encodeUidResponse(uid);
    });
  }

  private async destroy(owner: string, p: StructureItem): Promise<StructureItem> {
    const uid = M.decodeUidRequest(p);
    return this.locked(owner, uid, async () => {
      const o = await this.mustGet(owner, uid);
      if (o.state === State.Active) throw new OpError(ResultReason.PermissionDenied, "Object is active and cannot be destroyed.");
      // like PyKMIP, the record goes entirely: a later Get finds nothing
      await this.store.delete(owner, uid);
      return M.encodeUidResponse(uid);
    });
  }
}

const ATTRIBUTE_KEYS: readonly [string, keyof KmipAttributes][] = [
  ["Unique Identifier", "uniqueIdentifier"],
  ["Object Type", "objectType"],
  ["Cryptographic Algorithm", "cryptographicAlgorithm"],
  ["Cryptographic Length", "cryptographicLength"],
  ["Cryptographic Usage Mask", "cryptographicUsageMask"],
  ["Name", "names"],
  ["Operation Policy Name", "operationPolicyName"],
  ["State", "state"],
  ["Initial Date", "initialDate"],
  ["Activation Date", "activationDate"],
  ["Deactivation Date", "deactivationDate"],
  ["Last Change Date", "lastChangeDate"],
];

function objectTypeLabel(t: number): string {
  const n = Object.entries(ObjectType).find(([, v]) => v === t)?.[0];
  return n ?? `type ${t}`;
}

/** A Get response with the key in Transparent Symmetric Key form (Key Material { Key }). */
function transparent(uid: string, o: Extract<M.KmipObject, { kind: "SymmetricKey" }>): StructureItem {
  const block: TtlvItem[] = [
    ttlv.enum(Tag.KeyFormatType, KeyFormatType.TransparentSymmetricKey),
    ttlv.struct(Tag.KeyValue, [ttlv.struct(Tag.KeyMaterial, [ttlv.bytes(Tag.Key, o.keyMaterial)])]),
  ];
  if (o.cryptographicAlgorithm !== undefined) block.push(ttlv.enum(Tag.CryptographicAlgorithm, o.cryptographicAlgorithm));
  if (o.cryptographicLength !== undefined) block.push(ttlv.int(Tag.CryptographicLength, o.cryptographicLength));
  return ttlv.struct(Tag.ResponsePayload, [
    ttlv.enum(Tag.ObjectType, ObjectType.SymmetricKey),
    ttlv.text(Tag.UniqueIdentifier, uid),
    ttlv.struct(Tag.SymmetricKey, [ttlv.struct(Tag.KeyBlock, block)]),
  ]);
}
