// KMIP request/response messages: headers, batch items, and the payloads of
// the operations a key store uses. Header fields are written in the order
// the specification lists them (PyKMIP 0.10 parses the header strictly in
// order and rejects 1.2/1.4 extras such as correlation values, so we never
// send those).

import {
  decodeAttributeItems,
  decodeAttributeSelectors,
  encodeAttributeItems,
  encodeAttributeSelectors,
  encodeTemplateAttribute,
  isKmip2,
  type KmipAttributes,
  type ProtocolVersion,
} from "./attributes.js";
import { CredentialType, ObjectType, ResultReason, ResultStatus } from "./enums.js";
import { allFields, asStruct, KmipMessageError, optField, optStruct, reqField, reqStruct } from "./fields.js";
import { Tag } from "./tags.js";
import { ttlv, type StructureItem, type TtlvItem } from "./ttlv.js";

export type { ProtocolVersion } from "./attributes.js";

// ---------------------------------------------------------------- envelope

export interface RequestHeader {
  readonly protocolVersion: ProtocolVersion;
  readonly maximumResponseSize?: number;
  /** Credential type Username and Password */
  readonly authentication?: { readonly username: string; readonly password?: string };
  readonly batchErrorContinuationOption?: number;
  readonly batchOrderOption?: boolean;
  /** POSIX seconds */
  readonly timeStamp?: number;
}

export interface RequestBatchItem {
  readonly operation: number;
  readonly uniqueBatchItemId?: Uint8Array;
  readonly payload: StructureItem;
}

export interface RequestMessage {
  readonly header: RequestHeader;
  readonly batchItems: readonly RequestBatchItem[];
}

export interface ResponseHeader {
  readonly protocolVersion: ProtocolVersion;
  /** POSIX seconds */
  readonly timeStamp: number;
}

export interface ResponseBatchItem {
  /** absent when the request could not be parsed */
  readonly operation?: number;
  readonly uniqueBatchItemId?: Uint8Array;
  readonly resultStatus: number;
  readonly resultReason?: number;
  readonly resultMessage?: string;
  readonly payload?: StructureItem;
}

export interface ResponseMessage {
  readonly header: ResponseHeader;
  readonly batchItems: readonly ResponseBatchItem[];
}

const versionItem = (v: ProtocolVersion): StructureItem =>
  ttlv.struct(Tag.ProtocolVersion, [ttlv.int(Tag.ProtocolVersionMajor, v.major), ttlv.int(Tag.ProtocolVersionMinor, v.minor)]);

function readVersion(s: StructureItem): ProtocolVersion {
  return {
    major: reqField(s, Tag.ProtocolVersionMajor, "Integer"),
    minor: reqField(s, Tag.ProtocolVersionMinor, "Integer"),
  };
}

export function encodeRequestMessage(m: RequestMessage): StructureItem {
  const h = m.header;
  const auth = h.authentication
    ? ttlv.struct(Tag.Authentication, [
        ttlv.struct(Tag.Credential, [
          ttlv.enum(Tag.CredentialType, CredentialType.UsernameAndPassword),
          ttlv.struct(Tag.CredentialValue, [
            ttlv.text(Tag.Username, h.authentication.username),
            h.authentication.password !== undefined ? ttlv.text(Tag.Password, h.authentication.password) : undefined,
          ]),
        ]),
      ])
    : undefined;
  const header = ttlv.struct(Tag.RequestHeader, [
    versionItem(h.protocolVersion),
    h.maximumResponseSize !== undefined ? ttlv.int(Tag.MaximumResponseSize, h.maximumResponseSize) : undefined,
    auth,
    h.batchErrorContinuationOption !== undefined ? ttlv.enum(Tag.BatchErrorContinuationOption, h.batchErrorContinuationOption) : undefined,
    h.batchOrderOption !== undefined ? ttlv.bool(Tag.BatchOrderOption, h.batchOrderOption) : undefined,
    h.timeStamp !== undefined ? ttlv.dateTime(Tag.TimeStamp, h.timeStamp) : undefined,
    ttlv.int(Tag.BatchCount, m.batchItems.length),
  ]);
  const items = m.batchItems.map((b) =>
    ttlv.struct(Tag.BatchItem, [
      ttlv.enum(Tag.Operation, b.operation),
      b.uniqueBatchItemId ? ttlv.bytes(Tag.UniqueBatchItemId, b.uniqueBatchItemId) : undefined,
      b.payload,
    ]),
  );
  return ttlv.struct(Tag.RequestMessage, [header, ...items]);
}

/**
 * The protocol version of a request, read as leniently as possible, so a
 * server can answer even a malformed message in the client's version.
 */
export function peekRequestVersion(item: TtlvItem): ProtocolVersion | undefined {
  try {
    const msg = asStruct(item, Tag.RequestMessage);
    return readVersion(reqStruct(reqStruct(msg, Tag.RequestHeader), Tag.ProtocolVersion));
  } catch {
    return undefined;
  }
}

export function parseRequestMessage(item: TtlvItem): RequestMessage {
  const msg = asStruct(item, Tag.RequestMessage);
  const h = reqStruct(msg, Tag.RequestHeader);
  const protocolVersion = readVersion(reqStruct(h, Tag.ProtocolVersion));
  let authentication: RequestHeader["authentication"];
  const auth = optStruct(h, Tag.Authentication);
  if (auth) {
    const cred = reqStruct(auth, Tag.Credential);
    const type = reqField(cred, Tag.CredentialType, "Enumeration");
    if (type === CredentialType.UsernameAndPassword) {
      const cv = reqStruct(cred, Tag.CredentialValue);
      authentication = { username: reqField(cv, Tag.Username, "TextString"), password: optField(cv, Tag.Password, "TextString") };
    }
  }
  const ts = optField(h, Tag.TimeStamp, "DateTime");
  const header: RequestHeader = {
    protocolVersion,
    maximumResponseSize: optField(h, Tag.MaximumResponseSize, "Integer"),
    authentication,
    batchErrorContinuationOption: optField(h, Tag.BatchErrorContinuationOption, "Enumeration"),
    batchOrderOption: optField(h, Tag.BatchOrderOption, "Boolean"),
    timeStamp: ts === undefined ? undefined : Number(ts),
  };
  const batchCount = reqField(h, Tag.BatchCount, "Integer");
  const batchItems: RequestBatchItem[] = [];
  for (const c of msg.value) {
    if (c.tag !== Tag.BatchItem) continue;
    const b = asStruct(c, Tag.BatchItem);
    batchItems.push({
      operation: reqField(b, Tag.Operation, "Enumeration"),
      uniqueBatchItemId: optField(b, Tag.UniqueBatchItemId, "ByteString"),
      payload: optStruct(b, Tag.RequestPayload) ?? ttlv.struct(Tag.RequestPayload, []),
    });
  }
  if (batchItems.length !== batchCount) {
    throw new KmipMessageError(ResultReason.InvalidMessage, `Batch Count is ${batchCount} but the message has ${batchItems.length} batch items`);
  }
  if (batchItems.length === 0) throw new KmipMessageError(ResultReason.InvalidMessage, "the request has no batch items");
  return { header, batchItems };
}

export function encodeResponseMessage(m: ResponseMessage): StructureItem {
  const header = ttlv.struct(Tag.ResponseHeader, [
    versionItem(m.header.protocolVersion),
    ttlv.dateTime(Tag.TimeStamp, m.header.timeStamp),
    ttlv.int(Tag.BatchCount, m.batchItems.length),
  ]);
  return ttlv.struct(Tag.ResponseMessage, [header, ...m.batchItems.map(encodeResponseBatchItem)]);
}

export function encodeResponseBatchItem(b: ResponseBatchItem): StructureItem {
  return ttlv.struct(Tag.BatchItem, [
    b.operation !== undefined ? ttlv.enum(Tag.Operation, b.operation) : undefined,
    b.uniqueBatchItemId ? ttlv.bytes(Tag.UniqueBatchItemId, b.uniqueBatchItemId) : undefined,
    ttlv.enum(Tag.ResultStatus, b.resultStatus),
    b.resultReason !== undefined ? ttlv.enum(Tag.ResultReason, b.resultReason) : undefined,
    b.resultMessage !== undefined ? ttlv.text(Tag.ResultMessage, b.resultMessage) : undefined,
    b.payload,
  ]);
}

export function parseResponseMessage(item: TtlvItem): ResponseMessage {
  const msg = asStruct(item, Tag.ResponseMessage);
  const h = reqStruct(msg, Tag.ResponseHeader);
  const header: ResponseHeader = {
    protocolVersion: readVersion(reqStruct(h, Tag.ProtocolVersion)),
    timeStamp: Number(reqField(h, Tag.TimeStamp, "DateTime")),
  };
  const batchItems: ResponseBatchItem[] = [];
  for (const c of msg.value) {
    if (c.tag !== Tag.BatchItem) continue;
    const b = asStruct(c, Tag.BatchItem);
    batchItems.push({
      operation: optField(b, Tag.Operation, "Enumeration"),
      uniqueBatchItemId: optField(b, Tag.UniqueBatchItemId, "ByteString"),
      resultStatus: reqField(b, Tag.ResultStatus, "Enumeration"),
      resultReason: optField(b, Tag.ResultReason, "Enumeration"),
      resultMessage: optField(b, Tag.ResultMessage, "TextString"),
      payload: optStruct(b, Tag.ResponsePayload),
    });
  }
  return { header, batchItems };
}

/** A failed batch item. */
export function failure(operation: number | undefined, reason: number, message: string, uniqueBatchItemId?: Uint8Array): ResponseBatchItem {
  return { operation, uniqueBatchItemId, resultStatus: ResultStatus.OperationFailed, resultReason: reason, resultMessage: message };
}

// ---------------------------------------------------------------- managed objects

export type KmipObject =
  | {
      readonly kind: "SymmetricKey";
      readonly keyFormatType: number;
      readonly cryptographicAlgorithm?: number;
      readonly cryptographicLength?: number;
      readonly keyMaterial: Uint8Array;
    }
  | { readonly kind: "SecretData"; readonly secretDataType: number; readonly keyFormatType: number; readonly keyMaterial: Uint8Array }
  | { readonly kind: "OpaqueObject"; readonly opaqueDataType: number; readonly opaqueDataValue: Uint8Array };

export function objectTypeOf(o: KmipObject): number {
  return o.kind === "SymmetricKey" ? ObjectType.SymmetricKey : o.kind === "SecretData" ? ObjectType.SecretData : ObjectType.OpaqueObject;
}

export function encodeObject(o: KmipObject): StructureItem {
  switch (o.kind) {
    case "SymmetricKey":
      return ttlv.struct(Tag.SymmetricKey, [
        ttlv.struct(Tag.KeyBlock, [
          ttlv.enum(Tag.KeyFormatType, o.keyFormatType),
          ttlv.struct(Tag.KeyValue, [ttlv.bytes(Tag.KeyMaterial, o.keyMaterial)]),
          o.cryptographicAlgorithm !== undefined ? ttlv.enum(Tag.CryptographicAlgorithm, o.cryptographicAlgorithm) : undefined,
          o.cryptographicLength !== undefined ? ttlv.int(Tag.CryptographicLength, o.cryptographicLength) : undefined,
        ]),
      ]);
    case "SecretData":
      return ttlv.struct(Tag.SecretData, [
        ttlv.enum(Tag.SecretDataType, o.secretDataType),
        ttlv.struct(Tag.KeyBlock, [
          ttlv.enum(Tag.KeyFormatType, o.keyFormatType),
          ttlv.struct(Tag.KeyValue, [ttlv.bytes(Tag.KeyMaterial, o.keyMaterial)]),
        ]),
      ]);
    case "OpaqueObject":
      return ttlv.struct(Tag.OpaqueObject, [
        ttlv.enum(Tag.OpaqueDataType, o.opaqueDataType),
        ttlv.bytes(Tag.OpaqueDataValue, o.opaqueDataValue),
      ]);
  }
}

function readKeyMaterial(block: StructureItem): Uint8Array {
  const kv = block.value.find((c) => c.tag === Tag.KeyValue);
  if (!kv) throw new KmipMessageError(ResultReason.KeyValueNotPresent, "Key Block has no Key Value");
  // wrapped keys carry Key Value as a Byte String; we do not unwrap
  if (kv.type !== "Structure") throw new KmipMessageError(ResultReason.FeatureNotSupported, "wrapped Key Values are not supported");
  const km = kv.value.find((c) => c.tag === Tag.KeyMaterial);
  if (!km) throw new KmipMessageError(ResultReason.KeyValueNotPresent, "Key Value has no Key Material");
  if (km.type === "ByteString") return km.value;
  if (km.type === "Structure") return reqField(km, Tag.Key, "ByteString", ResultReason.InvalidField); // Transparent Symmetric Key
  throw new KmipMessageError(ResultReason.InvalidField, `Key Material is a ${km.type}`);
}

/** The managed object inside a Register request or Get response payload. */
export function decodeObject(objectType: number, payload: StructureItem): KmipObject {
  switch (objectType) {
    case ObjectType.SymmetricKey: {
      const block = reqStruct(reqStruct(payload, Tag.SymmetricKey, ResultReason.InvalidField), Tag.KeyBlock, ResultReason.InvalidField);
      return {
        kind: "SymmetricKey",
        keyFormatType: reqField(block, Tag.KeyFormatType, "Enumeration", ResultReason.InvalidField),
        cryptographicAlgorithm: optField(block, Tag.CryptographicAlgorithm, "Enumeration"),
        cryptographicLength: optField(block, Tag.CryptographicLength, "Integer"),
        keyMaterial: readKeyMaterial(block),
      };
    }
    case ObjectType.SecretData: {
      const sd = reqStruct(payload, Tag.SecretData, ResultReason.InvalidField);
      const block = reqStruct(sd, Tag.KeyBlock, ResultReason.InvalidField);
      return {
        kind: "SecretData",
        secretDataType: reqField(sd, Tag.SecretDataType, "Enumeration", ResultReason.InvalidField),
        keyFormatType: reqField(block, Tag.KeyFormatType, "Enumeration", ResultReason.InvalidField),
        keyMaterial: readKeyMaterial(block),
      };
    }
    case ObjectType.OpaqueObject: {
      const oo = reqStruct(payload, Tag.OpaqueObject, ResultReason.InvalidField);
      return {
        kind: "OpaqueObject",
        opaqueDataType: reqField(oo, Tag.OpaqueDataType, "Enumeration", ResultReason.InvalidField),
        opaqueDataValue: reqField(oo, Tag.OpaqueDataValue, "ByteString", ResultReason.InvalidField),
      };
    }
    default:
      throw new KmipMessageError(ResultReason.FeatureNotSupported, `object type ${objectType} is not supported`);
  }
}

// ---------------------------------------------------------------- payloads

const reqPayload = (items: readonly (TtlvItem | undefined)[]): StructureItem => ttlv.struct(Tag.RequestPayload, items);
const respPayload = (items: readonly (TtlvItem | undefined)[]): StructureItem => ttlv.struct(Tag.ResponsePayload, items);
const uidItem = (uid: string | undefined): TtlvItem | undefined => (uid === undefined ? undefined : ttlv.text(Tag.UniqueIdentifier, uid));

/** Unique Identifier of a payload; 2.0 also allows Integer or Enumeration placeholders, which we do not chain. */
function optUid(p: StructureItem): string | undefined {
  const c = p.value.find((x) => x.tag === Tag.UniqueIdentifier);
  if (!c) return undefined;
  if (c.type === "TextString") return c.value;
  throw new KmipMessageError(ResultReason.InvalidField, "Unique Identifier placeholders are not supported; send the identifier");
}
function reqUid(p: StructureItem): string {
  const u = optUid(p);
  if (u === undefined) throw new KmipMessageError(ResultReason.MissingData, "Unique Identifier is required (ID placeholders are not supported)");
  return u;
}

// Create
export interface CreateRequest {
  readonly objectType: number;
  readonly attributes: KmipAttributes;
}
export const encodeCreateRequest = (r: CreateRequest, v: ProtocolVersion): StructureItem =>
  reqPayload([ttlv.enum(Tag.ObjectType, r.objectType), encodeTemplateAttribute(r.attributes, v)]);
export function decodeCreateRequest(p: StructureItem, unknown?: string[]): CreateRequest {
  return {
    objectType: reqField(p, Tag.ObjectType, "Enumeration", ResultReason.InvalidField),
    attributes: decodeAttributeItems(p.value.filter((c) => c.tag === Tag.TemplateAttribute || c.tag === Tag.Attributes), unknown),
  };
}
export interface CreateResponse {
  readonly objectType: number;
  readonly uniqueIdentifier: string;
}
export const encodeCreateResponse = (r: CreateResponse): StructureItem =>
  respPayload([ttlv.enum(Tag.ObjectType, r.objectType), ttlv.text(Tag.UniqueIdentifier, r.uniqueIdentifier)]);
export const decodeCreateResponse = (p: StructureItem): CreateResponse => ({
  objectType: reqField(p, Tag.ObjectType, "Enumeration"),
  uniqueIdentifier: reqUid(p),
});

// Register
export interface RegisterRequest {
  readonly attributes: KmipAttributes;
  readonly object: KmipObject;
}
export const encodeRegisterRequest = (r: RegisterRequest, v: ProtocolVersion): StructureItem =>
  reqPayload([ttlv.enum(Tag.ObjectType, objectTypeOf(r.object)), encodeTemplateAttribute(r.attributes, v), encodeObject(r.object)]);
export function decodeRegisterRequest(p: StructureItem, unknown?: string[]): RegisterRequest {
  const objectType = reqField(p, Tag.ObjectType, "Enumeration", ResultReason.InvalidField);
  return {
    attributes: decodeAttributeItems(p.value.filter((c) => c.tag === Tag.TemplateAttribute || c.tag === Tag.Attributes), unknown),
    object: decodeObject(objectType, p),
  };
}

/** Payloads that are just a Unique Identifier: Register/Activate/Revoke/Destroy responses, and Get/Activate/Destroy requests. */
export const encodeUidResponse = (uid: string): StructureItem => respPayload([uidItem(uid)]);
export const decodeUidResponse = (p: StructureItem): string => reqUid(p);

// Get
export interface GetRequest {
  readonly uniqueIdentifier: string;
  readonly keyFormatType?: number;
}
export const encodeGetRequest = (r: GetRequest): StructureItem =>
  reqPayload([uidItem(r.uniqueIdentifier), r.keyFormatType !== undefined ? ttlv.enum(Tag.KeyFormatType, r.keyFormatType) : undefined]);
export const decodeGetRequest = (p: StructureItem): GetRequest => ({
  uniqueIdentifier: reqUid(p),
  keyFormatType: optField(p, Tag.KeyFormatType, "Enumeration"),
});
export interface GetResponse {
  readonly uniqueIdentifier: string;
  readonly object: KmipObject;
}
export const encodeGetResponse = (r: GetResponse): StructureItem =>
  respPayload([ttlv.enum(Tag.ObjectType, objectTypeOf(r.object)), ttlv.text(Tag.UniqueIdentifier, r.uniqueIdentifier), encodeObject(r.object)]);
export function decodeGetResponse(p: StructureItem): GetResponse {
  const objectType = reqField(p, Tag.ObjectType, "Enumeration");
  return { uniqueIdentifier: reqUid(p), object: decodeObject(objectType, p) };
}

// Activate / Destroy (requests carry only the identifier)
export const encodeUidRequest = (uid: string): StructureItem => reqPayload([uidItem(uid)]);
export const decodeUidRequest = (p: StructureItem): string => reqUid(p);

// Revoke
export interface RevokeRequest {
  readonly uniqueIdentifier: string;
  readonly revocationReasonCode: number;
  readonly revocationMessage?: string;
  /** POSIX seconds; required for Key Compromise / CA Compromise */
  readonly compromiseOccurrenceDate?: number;
}
export const encodeRevokeRequest = (r: RevokeRequest): StructureItem =>
  reqPayload([
    uidItem(r.uniqueIdentifier),
    ttlv.struct(Tag.RevocationReason, [
      ttlv.enum(Tag.RevocationReasonCode, r.revocationReasonCode),
      r.revocationMessage !== undefined ? ttlv.text(Tag.RevocationMessage, r.revocationMessage) : undefined,
    ]),
    r.compromiseOccurrenceDate !== undefined ? ttlv.dateTime(Tag.CompromiseOccurrenceDate, r.compromiseOccurrenceDate) : undefined,
  ]);
export function decodeRevokeRequest(p: StructureItem): RevokeRequest {
  const reason = reqStruct(p, Tag.RevocationReason, ResultReason.MissingData);
  const d = optField(p, Tag.CompromiseOccurrenceDate, "DateTime");
  return {
    uniqueIdentifier: reqUid(p),
    revocationReasonCode: reqField(reason, Tag.RevocationReasonCode, "Enumeration", ResultReason.MissingData),
    revocationMessage: optField(reason, Tag.RevocationMessage, "TextString"),
    compromiseOccurrenceDate: d === undefined ? undefined : Number(d),
  };
}

// Get Attributes
export interface GetAttributesRequest {
  readonly uniqueIdentifier: string;
  /** 1.x attribute names; empty = all */
  readonly attributeNames: readonly string[];
}
export const encodeGetAttributesRequest = (r: GetAttributesRequest, v: ProtocolVersion): StructureItem =>
  reqPayload([uidItem(r.uniqueIdentifier), ...encodeAttributeSelectors(r.attributeNames, v)]);
export const decodeGetAttributesRequest = (p: StructureItem): GetAttributesRequest => ({
  uniqueIdentifier: reqUid(p),
  attributeNames: decodeAttributeSelectors(p),
});
export interface GetAttributesResponse {
  readonly uniqueIdentifier: string;
  readonly attributes: KmipAttributes;
}
export const encodeGetAttributesResponse = (r: GetAttributesResponse, v: ProtocolVersion): StructureItem =>
  respPayload([
    ttlv.text(Tag.UniqueIdentifier, r.uniqueIdentifier),
    ...(isKmip2(v) ? [ttlv.struct(Tag.Attributes, encodeAttributeItems(r.attributes, v))] : encodeAttributeItems(r.attributes, v)),
  ]);
export const decodeGetAttributesResponse = (p: StructureItem): GetAttributesResponse => ({
  uniqueIdentifier: reqUid(p),
  attributes: decodeAttributeItems(p.value.filter((c) => c.tag === Tag.Attribute || c.tag === Tag.Attributes)),
});

// Locate
export interface LocateRequest {
  readonly maximumItems?: number;
  /** KMIP 1.3+ */
  readonly offsetItems?: number;
  readonly storageStatusMask?: number;
  /** filters: Object Type, Name, ... */
  readonly attributes: KmipAttributes;
}
export function encodeLocateRequest(r: LocateRequest, v: ProtocolVersion): StructureItem {
  const attrs = encodeAttributeItems(r.attributes, v);
  return reqPayload([
    r.maximumItems !== undefined ? ttlv.int(Tag.MaximumItems, r.maximumItems) : undefined,
    r.offsetItems !== undefined ? ttlv.int(Tag.OffsetItems, r.offsetItems) : undefined,
    r.storageStatusMask !== undefined ? ttlv.int(Tag.StorageStatusMask, r.storageStatusMask) : undefined,
    ...(isKmip2(v) ? (attrs.length ? [ttlv.struct(Tag.Attributes, attrs)] : []) : attrs),
  ]);
}
export function decodeLocateRequest(p: StructureItem, unknown?: string[]): LocateRequest {
  return {
    maximumItems: optField(p, Tag.MaximumItems, "Integer"),
    offsetItems: optField(p, Tag.OffsetItems, "Integer"),
    storageStatusMask: optField(p, Tag.StorageStatusMask, "Integer"),
    attributes: decodeAttributeItems(p.value.filter((c) => c.tag === Tag.Attribute || c.tag === Tag.Attributes), unknown),
  };
}
export interface LocateResponse {
  readonly locatedItems?: number;
  readonly uniqueIdentifiers: readonly string[];
}
export const encodeLocateResponse = (r: LocateResponse): StructureItem =>
  respPayload([
    r.locatedItems !== undefined ? ttlv.int(Tag.LocatedItems, r.locatedItems) : undefined,
    ...r.uniqueIdentifiers.map((u) => ttlv.text(Tag.UniqueIdentifier, u)),
  ]);
export const decodeLocateResponse = (p: StructureItem): LocateResponse => ({
  locatedItems: optField(p, Tag.LocatedItems, "Integer"),
  uniqueIdentifiers: allFields(p, Tag.UniqueIdentifier, "TextString"),
});

// Query
export const encodeQueryRequest = (functions: readonly number[]): StructureItem =>
  reqPayload(functions.map((f) => ttlv.enum(Tag.QueryFunction, f)));
export const decodeQueryRequest = (p: StructureItem): number[] => allFields(p, Tag.QueryFunction, "Enumeration");
export interface QueryResponse {
  readonly operations: readonly number[];
  readonly objectTypes: readonly number[];
  readonly vendorIdentification?: string;
}
export const encodeQueryResponse = (r: QueryResponse): StructureItem =>
  respPayload([
    ...r.operations.map((o) => ttlv.enum(Tag.Operation, o)),
    ...r.objectTypes.map((o) => ttlv.enum(Tag.ObjectType, o)),
    r.vendorIdentification !== undefined ? ttlv.text(Tag.VendorIdentification, r.vendorIdentification) : undefined,
  ]);
export const decodeQueryResponse = (p: StructureItem): QueryResponse => ({
  operations: allFields(p, Tag.Operation, "Enumeration"),
  objectTypes: allFields(p, Tag.ObjectType, "Enumeration"),
  vendorIdentification: optField(p, Tag.VendorIdentification, "TextString"),
});

// Discover Versions (same shape both ways)
export const encodeDiscoverVersionsRequest = (versions: readonly ProtocolVersion[]): StructureItem => reqPayload(versions.map(versionItem));
export const encodeDiscoverVersionsResponse = (versions: readonly ProtocolVersion[]): StructureItem => respPayload(versions.map(versionItem));
export function decodeDiscoverVersions(p: StructureItem): ProtocolVersion[] {
  return p.value.filter((c) => c.tag === Tag.ProtocolVersion).map((c) => readVersion(asStruct(c, Tag.ProtocolVersion)));
}
