import { expect } from "chai";
import { readFileSync } from "node:fs";
import { decodeTtlv, encodeTtlv, ttlv } from "../../../src/keystore/kmip/ttlv.js";
import { Tag } from "../../../src/keystore/kmip/tags.js";
import {
  CryptographicAlgorithm,
  KeyFormatType,
  ObjectType,
  Operation,
  ResultReason,
  ResultStatus,
  RevocationReasonCode,
  SecretDataType,
  State,
} from "../../../src/keystore/kmip/enums.js";
import * as M from "../../../src/keystore/kmip/messages.js";
import { KmipMessageError } from "../../../src/keystore/kmip/fields.js";
import type { ProtocolVersion } from "../../../src/keystore/kmip/attributes.js";

interface Vector {
  title: string;
  hex: string;
}
const here = new URL(".", import.meta.url);
const vectors = (JSON.parse(readFileSync(new URL("fixtures/pykmip-vectors.json", here), "utf8")) as { vectors: Vector[] }).vectors;
const vec = (title: string): Buffer => {
  const v = vectors.find((x) => x.title === title);
  if (!v) throw new Error(`no vector ${title}`);
  return Buffer.from(v.hex, "hex");
};

const request = (version: ProtocolVersion, operation: number, payload: ReturnType<typeof M.encodeUidRequest>): Buffer =>
  encodeTtlv(M.encodeRequestMessage({ header: { protocolVersion: version }, batchItems: [{ operation, payload }] }));
const response = (b: Buffer): M.ResponseBatchItem => {
  const m = M.parseResponseMessage(decodeTtlv(b));
  expect(m.batchItems).to.have.length(1);
  return m.batchItems[0];
};

const AES256 = {
  cryptographicAlgorithm: CryptographicAlgorithm.AES,
  cryptographicLength: 256,
  cryptographicUsageMask: 12,
};
const PASSWORD = Buffer.from("correct horse battery staple");

for (const [label, version] of [
  ["1.2", { major: 1, minor: 2 }],
  ["2.0", { major: 2, minor: 0 }],
] as const) {
  describe(`kmip/messages KMIP ${label} against PyKMIP's bytes`, () => {
    const t = (s: string) => `[${label}] ${s}`;

    it("Create request with a Name", () => {
      const payload = M.encodeCreateRequest({ objectType: ObjectType.SymmetricKey, attributes: { ...AES256, names: ["vec-key"] } }, version);
      expect(request(version, Operation.Create, payload).toString("hex")).to.equal(vec(t("Create AES-256 named 'vec-key' — request")).toString("hex"));
      // and the server side reads it back
      const parsed = M.parseRequestMessage(decodeTtlv(vec(t("Create AES-256 named 'vec-key' — request"))));
      expect(parsed.header.protocolVersion).to.deep.equal(version);
      expect(M.decodeCreateRequest(parsed.batchItems[0].payload)).to.deep.equal({
        objectType: ObjectType.SymmetricKey,
        attributes: { ...AES256, names: ["vec-key"] },
      });
    });

    it("Create response", () => {
      const r = response(vec(t("Create AES-256 named 'vec-key' — response")));
      expect(r.resultStatus).to.equal(ResultStatus.Success);
      expect(r.operation).to.equal(Operation.Create);
      expect(M.decodeCreateResponse(r.payload!)).to.deep.equal({ objectType: 2, uniqueIdentifier: label === "1.2" ? "2" : "4" });
    });

    it("Get request/response of a symmetric key", () => {
      const uid = label === "1.2" ? "2" : "4";
      expect(request(version, Operation.Get, M.encodeGetRequest({ uniqueIdentifier: uid })).equals(vec(t("Get (the created key) — request")))).to.equal(true);
      const g = M.decodeGetResponse(response(vec(t("Get (the created key) — response"))).payload!);
      expect(g.uniqueIdentifier).to.equal(uid);
      expect(g.object.kind).to.equal("SymmetricKey");
      if (g.object.kind !== "SymmetricKey") return;
      expect(g.object.keyFormatType).to.equal(KeyFormatType.Raw);
      expect(g.object.cryptographicAlgorithm).to.equal(CryptographicAlgorithm.AES);
      expect(g.object.cryptographicLength).to.equal(256);
      expect(g.object.keyMaterial.length).to.equal(32);
    });

    it("Register Secret Data request, and the Get of it", () => {
      const payload = M.encodeRegisterRequest(
        {
          attributes: { cryptographicUsageMask: 0, names: ["vec-pass"] },
          object: { kind: "SecretData", secretDataType: SecretDataType.Password, keyFormatType: KeyFormatType.Opaque, keyMaterial: PASSWORD },
        },
        version,
      );
      const want = vec(t("Register SecretData PASSWORD 'correct horse battery staple' — request"));
      expect(request(version, Operation.Register, payload).toString("hex")).to.equal(want.toString("hex"));
      const reg = M.decodeRegisterRequest(M.parseRequestMessage(decodeTtlv(want)).batchItems[0].payload);
      expect(reg.attributes.names).to.deep.equal(["vec-pass"]);
      expect(reg.object.kind).to.equal("SecretData");
      const g = M.decodeGetResponse(response(vec(t("Get (the secret data) — response"))).payload!);
      expect(g.object.kind === "SecretData" && Buffer.from(g.object.keyMaterial).equals(PASSWORD)).to.equal(true);
    });

    it("Locate by Name", () => {
      const payload = M.encodeLocateRequest({ attributes: { names: ["vec-key"] } }, version);
      expect(request(version, Operation.Locate, payload).equals(vec(t("Locate by Name 'vec-key' — request")))).to.equal(true);
      const r = M.decodeLocateResponse(response(vec(t("Locate by Name 'vec-key' — response"))).payload!);
      expect(r.uniqueIdentifiers).to.deep.equal([label === "1.2" ? "2" : "4"]);
    });

    it("Get Attributes State", () => {
      const uid = label === "1.2" ? "2" : "4";
      const payload = M.encodeGetAttributesRequest({ uniqueIdentifier: uid, attributeNames: ["State"] }, version);
      expect(request(version, Operation.GetAttributes, payload).equals(vec(t("GetAttributes State — request")))).to.equal(true);
      const r = M.decodeGetAttributesResponse(response(vec(t("GetAttributes State — response"))).payload!);
      expect(r).to.deep.equal({ uniqueIdentifier: uid, attributes: { state: State.PreActive } });
      // our server's encoding of that response is PyKMIP's
      const item = M.decodeGetAttributesRequest(M.parseRequestMessage(decodeTtlv(vec(t("GetAttributes State — request")))).batchItems[0].payload);
      expect(item.attributeNames).to.deep.equal(["State"]);
      const ours = encodeTtlv(M.encodeGetAttributesResponse({ uniqueIdentifier: uid, attributes: { state: State.PreActive } }, version));
      const theirs = encodeTtlv(response(vec(t("GetAttributes State — response"))).payload!);
      expect(ours.equals(theirs)).to.equal(true);
    });

    it("Activate, Revoke, Destroy requests and responses", () => {
      const uid = label === "1.2" ? "2" : "4";
      expect(request(version, Operation.Activate, M.encodeUidRequest(uid)).equals(vec(t("Activate — request")))).to.equal(true);
      expect(
        request(version, Operation.Revoke, M.encodeRevokeRequest({ uniqueIdentifier: uid, revocationReasonCode: RevocationReasonCode.CessationOfOperation })).equals(
          vec(t("Revoke CESSATION_OF_OPERATION — request")),
        ),
      ).to.equal(true);
      expect(request(version, Operation.Destroy, M.encodeUidRequest(uid)).equals(vec(t("Destroy — request")))).to.equal(true);
      for (const name of ["Activate — response", "Revoke CESSATION_OF_OPERATION — response", "Destroy — response"]) {
        expect(M.decodeUidResponse(response(vec(t(name))).payload!)).to.equal(uid);
      }
    });

    it("error response: Item Not Found with its message", () => {
      const r = response(vec(t("Get unknown id '999999' (error response) — response")));
      expect(r.resultStatus).to.equal(ResultStatus.OperationFailed);
      expect(r.resultReason).to.equal(ResultReason.ItemNotFound);
      expect(r.resultMessage).to.equal("Could not locate object: 999999");
      expect(r.payload).to.equal(undefined);
      // re-encoding the failure with our builder gives PyKMIP's bytes
      const m = M.parseResponseMessage(decodeTtlv(vec(t("Get unknown id '999999' (error response) — response"))));
      const ours = M.encodeResponseMessage({
        header: m.header,
        batchItems: [M.failure(Operation.Get, ResultReason.ItemNotFound, "Could not locate object: 999999")],
      });
      expect(encodeTtlv(ours).equals(vec(t("Get unknown id '999999' (error response) — response")))).to.equal(true);
    });
  });
}

describe("kmip/messages envelope", () => {
  it("Discover Versions request/response (PyKMIP)", () => {
    const b = request({ major: 1, minor: 4 }, Operation.DiscoverVersions, M.encodeDiscoverVersionsRequest([]));
    expect(b.equals(vec("DiscoverVersions (empty list), protocol 1.4 — request"))).to.equal(true);
    const r = response(vec("DiscoverVersions — response"));
    expect(M.decodeDiscoverVersions(r.payload!).map((v) => `${v.major}.${v.minor}`)).to.deep.equal(["2.0", "1.4", "1.3", "1.2", "1.1", "1.0"]);
  });

  it("the unparseable-request error has no Operation", () => {
    const r = response(vec("Create with protocol version 3.0 — response"));
    expect(r.operation).to.equal(undefined);
    expect(r.resultReason).to.equal(ResultReason.InvalidMessage);
  });

  it("writes credentials and time stamp in spec order, and reads them back", () => {
    const msg = M.encodeRequestMessage({
      header: { protocolVersion: { major: 1, minor: 2 }, authentication: { username: "u", password: "p" }, timeStamp: 1000, maximumResponseSize: 4096 },
      batchItems: [{ operation: Operation.Query, payload: M.encodeQueryRequest([1, 3]) }],
    });
    const header = msg.value[0];
    expect(header.type === "Structure" && header.value.map((c) => c.tag)).to.deep.equal([
      Tag.ProtocolVersion,
      Tag.MaximumResponseSize,
      Tag.Authentication,
      Tag.TimeStamp,
      Tag.BatchCount,
    ]);
    const back = M.parseRequestMessage(decodeTtlv(encodeTtlv(msg)));
    expect(back.header.authentication).to.deep.equal({ username: "u", password: "p" });
    expect(back.header.timeStamp).to.equal(1000);
    expect(M.decodeQueryRequest(back.batchItems[0].payload)).to.deep.equal([1, 3]);
  });

  it("rejects a batch count that does not match, a missing header, a wrong field type", () => {
    const good = M.encodeRequestMessage({ header: { protocolVersion: { major: 1, minor: 2 } }, batchItems: [{ operation: 1, payload: M.encodeUidRequest("1") }] });
    const bad1 = ttlv.struct(Tag.RequestMessage, [good.value[0], good.value[1], good.value[1]]);
    expect(() => M.parseRequestMessage(bad1)).to.throw(KmipMessageError, /Batch Count/);
    expect(() => M.parseRequestMessage(ttlv.struct(Tag.RequestMessage, [good.value[1]]))).to.throw(KmipMessageError, /Request Header|RequestHeader/);
    const p = ttlv.struct(Tag.RequestPayload, [ttlv.int(Tag.UniqueIdentifier, 5)]);
    expect(() => M.decodeGetRequest(p)).to.throw(KmipMessageError);
    expect(M.peekRequestVersion(good)).to.deep.equal({ major: 1, minor: 2 });
    expect(M.peekRequestVersion(ttlv.int(Tag.BatchCount, 1))).to.equal(undefined);
  });

  it("round-trips Opaque Objects, Query, Locate paging", () => {
    const v = { major: 1, minor: 4 };
    const reg = M.decodeRegisterRequest(
      M.encodeRegisterRequest({ attributes: { names: ["o"] }, object: { kind: "OpaqueObject", opaqueDataType: 0x80000000, opaqueDataValue: new Uint8Array([9]) } }, v),
    );
    expect(reg.object).to.deep.equal({ kind: "OpaqueObject", opaqueDataType: 0x80000000, opaqueDataValue: new Uint8Array([9]) });
    const q = M.decodeQueryResponse(M.encodeQueryResponse({ operations: [1, 10], objectTypes: [2], vendorIdentification: "x" }));
    expect(q).to.deep.equal({ operations: [1, 10], objectTypes: [2], vendorIdentification: "x" });
    const loc = M.decodeLocateRequest(M.encodeLocateRequest({ maximumItems: 10, offsetItems: 20, attributes: { objectType: 2 } }, v));
    expect(loc).to.deep.equal({ maximumItems: 10, offsetItems: 20, storageStatusMask: undefined, attributes: { objectType: 2 } });
    const lr = M.decodeLocateResponse(M.encodeLocateResponse({ locatedItems: 3, uniqueIdentifiers: ["a", "b"] }));
    expect(lr).to.deep.equal({ locatedItems: 3, uniqueIdentifiers: ["a", "b"] });
  });
});
