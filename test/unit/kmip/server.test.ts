import { expect } from "chai";
import { readFileSync, statSync, readdirSync } from "node:fs";
import { join } from "node:path";
import net from "node:net";
import tls from "node:tls";
import { KmipClient, KmipResultError, KmipTransportError } from "../../../src/keystore/kmip/client.js";
import { BatchErrorContinuationOption, CryptographicAlgorithm, ObjectType, Operation, ResultReason, ResultStatus, RevocationReasonCode, State } from "../../../src/keystore/kmip/enums.js";
import { FrameReader } from "../../../src/keystore/kmip/framing.js";
import * as M from "../../../src/keystore/kmip/messages.js";
import { decodeTtlv, encodeTtlv } from "../../../src/keystore/kmip/ttlv.js";
import { expectReject } from "../../helpers/reject.js";
import { TestCa } from "./pki.js";
import { KMIP_SERVER_MAX_RESPONSE_BYTES, startKmipServer } from "../../../src/keystore/kmip/server.js";
import { startTestServer, type TestServer } from "./server-fixture.js";

const AES = { cryptographicAlgorithm: CryptographicAlgorithm.AES, cryptographicLength: 256, cryptographicUsageMask: 12 };

async function failure(p: Promise<unknown>): Promise<KmipResultError> {
  try {
    await p;
  } catch (e) {
    expect(e).to.be.instanceOf(KmipResultError);
    return e as KmipResultError;
  }
  expect.fail("expected a KMIP failure");
}

/** Send raw bytes on one TLS connection and collect `count` framed responses. */
async function raw(srv: TestServer, cn: string, sends: Buffer[], count: number): Promise<M.ResponseMessage[]> {
  const o = srv.clientOptions(cn);
  const socket = tls.connect({ host: "127.0.0.1", port: srv.port, ca: o.ca, cert: o.cert, key: o.key });
  await new Promise<void>((r, j) => socket.once("secureConnect", () => r()).once("error", j));
  const out: M.ResponseMessage[] = [];
  let buf = Buffer.alloc(0);
  const done = new Promise<void>((resolve, reject) => {
    socket.on("data", (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      while (buf.length >= 8 && buf.length >= 8 + buf.readUInt32BE(4)) {
        const n = 8 + buf.readUInt32BE(4);
        out.push(M.parseResponseMessage(decodeTtlv(buf.subarray(0, n), { maxBytes: 64 * 1024 * 1024 })));
        buf = buf.subarray(n);
      }
      if (out.length >= count) resolve();
    });
    socket.on("close", () => (out.length >= count ? resolve() : reject(new Error(`connection closed after ${out.length} responses`))));
    setTimeout(() => reject(new Error("timeout")), 5000);
  });
  for (const s of sends) socket.write(s);
  await done;
  socket.destroy();
  return out;
}

const request = (op: number, payload: M.RequestBatchItem["payload"], v = { major: 1, minor: 2 }): Buffer =>
  encodeTtlv(M.encodeRequestMessage({ header: { protocolVersion: v }, batchItems: [{ operation: op, payload }] }));

describe("kmip/server", function () {
  this.timeout(30000);
  let srv: TestServer;
  let alice: KmipClient;
  let bob: KmipClient;
  before(async () => {
    srv = await startTestServer();
    alice = new KmipClient(srv.clientOptions("alice"));
    bob = new KmipClient(srv.clientOptions("bob"));
  });
  after(async () => {
    await alice?.close();
    await bob?.close();
    await srv?.stop();
  });

  it("answers Discover Versions and Query", async () => {
    expect(await alice.protocolVersion()).to.deep.equal({ major: 1, minor: 4 });
    const all = await alice.discoverVersions([]);
    expect(all.map((v) => `${v.major}.${v.minor}`)).to.deep.equal(["2.0", "1.4", "1.3", "1.2", "1.1", "1.0"]);
    expect(await alice.discoverVersions([{ major: 1, minor: 4 }, { major: 3, minor: 0 }, { major: 1, minor: 0 }])).to.deep.equal([
      { major: 1, minor: 4 },
      { major: 1, minor: 0 },
    ]);
    const q = await alice.query([1, 2, 3]);
    expect(q.operations).to.include.members([Operation.Create, Operation.Get, Operation.Destroy, Operation.Locate]);
    expect(q.objectTypes).to.deep.equal([ObjectType.SymmetricKey, ObjectType.SecretData, ObjectType.OpaqueObject]);
    expect(q.vendorIdentification).to.equal("virsecret KMIP server");
  });

  it("runs the PyKMIP lifecycle: Pre-Active → Active → Deactivated → destroyed", async () => {
    const id = await alice.create(ObjectType.SymmetricKey, { ...AES, names: ["life"] });
    let a = await alice.getAttributes(id);
    expect(a.state).to.equal(State.PreActive);
    expect(a.names).to.deep.equal(["life"]);
    expect(a.operationPolicyName).to.equal("default");
    expect((await alice.get(id)).object.kind).to.equal("SymmetricKey");
    await alice.activate(id);
    expect((await failure(alice.activate(id))).resultReason).to.equal(ResultReason.PermissionDenied);
    const e = await failure(alice.destroy(id));
    expect(e.resultReason).to.equal(ResultReason.PermissionDenied);
    expect(e.resultMessage).to.equal("Object is active and cannot be destroyed.");
    await alice.revoke(id, RevocationReasonCode.CessationOfOperation);
    a = await alice.getAttributes(id, ["State", "Deactivation Date"]);
    expect(a.state).to.equal(State.Deactivated);
    expect(a.deactivationDate).to.be.a("number");
    await alice.destroy(id);
    const gone = await failure(alice.get(id));
    expect(gone.resultReason).to.equal(ResultReason.ItemNotFound);
    expect(gone.resultMessage).to.equal(`Could not locate object: ${id}`);
  });

  it("refuses a non-compromise Revoke of a Pre-Active key, as PyKMIP does; compromise works", async () => {
    const id = await alice.create(ObjectType.SymmetricKey, AES);
    expect((await failure(alice.revoke(id))).resultReason).to.equal(ResultReason.IllegalOperation);
    await alice.revoke(id, RevocationReasonCode.KeyCompromise);
    expect((await alice.getAttributes(id, ["State"])).state).to.equal(State.Compromised);
    await alice.destroy(id);
  });

  it("validates Create like PyKMIP (usage mask required, AES lengths)", async () => {
    const noMask = await failure(alice.create(ObjectType.SymmetricKey, { cryptographicAlgorithm: 3, cryptographicLength: 256 }));
    expect(noMask.resultReason).to.equal(ResultReason.InvalidField);
    expect(noMask.resultMessage).to.equal("The cryptographic usage mask must be specified as an attribute.");
    const bad = await failure(alice.create(ObjectType.SymmetricKey, { ...AES, cryptographicLength: 200 }));
    expect(bad.resultMessage).to.equal("The cryptographic length (200) is not valid for the cryptographic algorithm (AES).");
    expect((await failure(alice.create(ObjectType.SecretData, AES))).resultReason).to.equal(ResultReason.InvalidField);
  });

  it("makes another owner's objects indistinguishable from absent ones, and does not list them", async () => {
    const id = await alice.create(ObjectType.SymmetricKey, { ...AES, names: ["mine"] });
    for (const op of [() => bob.get(id), () => bob.getAttributes(id), () => bob.destroy(id), () => bob.activate(id), () => bob.revoke(id)]) {
      const foreign = await failure(op());
      expect(foreign.resultReason).to.equal(ResultReason.ItemNotFound);
      expect(foreign.resultMessage).to.equal(`Could not locate object: ${id}`);
    }
    expect((await bob.locate({ attributes: { names: ["mine"] } })).uniqueIdentifiers).to.deep.equal([]);
    expect((await alice.locate({ attributes: { names: ["mine"] } })).uniqueIdentifiers).to.deep.equal([id]);
    expect((await alice.get(id)).uniqueIdentifier).to.equal(id);
  });

  it("pages Locate newest first with Located Items (1.3+)", async () => {
    const c = new KmipClient(srv.clientOptions("pager"));
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push(await c.create(ObjectType.SymmetricKey, AES));
    const p1 = await c.locate({ maximumItems: 3, offsetItems: 0, attributes: {} });
    const p2 = await c.locate({ maximumItems: 3, offsetItems: 3, attributes: {} });
    const p3 = await c.locate({ maximumItems: 3, offsetItems: 6, attributes: {} });
    expect(p1.locatedItems).to.equal(7);
    expect([...p1.uniqueIdentifiers, ...p2.uniqueIdentifiers, ...p3.uniqueIdentifiers]).to.deep.equal([...ids].reverse());
    await c.close();
  });

  it("serves KMIP 2.0 (Attributes encoding) as well", async () => {
    const c = new KmipClient(srv.clientOptions("v2", { protocolVersion: { major: 2, minor: 0 } }));
    const id = await c.create(ObjectType.SymmetricKey, { ...AES, names: ["two"] });
    const a = await c.getAttributes(id, ["State", "Name", "Cryptographic Length"]);
    expect(a).to.deep.equal({ state: State.PreActive, names: ["two"], cryptographicLength: 256 });
    expect((await c.locate({ attributes: { names: ["two"] } })).uniqueIdentifiers).to.deep.equal([id]);
    await c.close();
  });

  it("answers malformed messages with Invalid Message and keeps serving the connection", async () => {
    const good = request(Operation.Query, M.encodeQueryRequest([1]));
    const garbage = Buffer.from(good);
    garbage[20] = 0x0e; // a bad item type inside an otherwise framed message
    const wrongShape = encodeTtlv(M.encodeResponseMessage({ header: { protocolVersion: { major: 1, minor: 2 }, timeStamp: 0 }, batchItems: [] }));
    const v3 = request(Operation.Query, M.encodeQueryRequest([1]), { major: 3, minor: 0 });
    const out = await raw(srv, "raw-1", [garbage, wrongShape, v3, good], 4);
    for (const r of out.slice(0, 3)) {
      expect(r.batchItems[0].resultStatus).to.equal(ResultStatus.OperationFailed);
      expect(r.batchItems[0].resultReason).to.equal(ResultReason.InvalidMessage);
      expect(r.batchItems[0].operation).to.equal(undefined);
      expect(r.header.protocolVersion).to.deep.equal({ major: 1, minor: 0 });
    }
    expect(out[3].batchItems[0].resultStatus).to.equal(ResultStatus.Success);
  });

  it("answers an unusable frame header once and closes only that connection", async () => {
    const huge = Buffer.from("42007801ffffff00", "hex");
    const out = await raw(srv, "raw-2", [huge], 1);
    expect(out[0].batchItems[0].resultReason).to.equal(ResultReason.InvalidMessage);
    expect((await alice.query([1])).operations.length).to.be.greaterThan(0);
  });

  it("handles batches: items run in order, Stop halts at the first failure", async () => {
    const msg = encodeTtlv(
      M.encodeRequestMessage({
        header: { protocolVersion: { major: 1, minor: 2 } },
        batchItems: [
          { operation: Operation.Query, uniqueBatchItemId: new Uint8Array([1]), payload: M.encodeQueryRequest([3]) },
          { operation: Operation.Get, uniqueBatchItemId: new Uint8Array([2]), payload: M.encodeGetRequest({ uniqueIdentifier: "nope" }) },
          { operation: Operation.Query, uniqueBatchItemId: new Uint8Array([3]), payload: M.encodeQueryRequest([3]) },
        ],
      }),
    );
    const [r] = await raw(srv, "raw-3", [msg], 1);
    expect(r.batchItems.map((b) => b.resultStatus)).to.deep.equal([ResultStatus.Success, ResultStatus.OperationFailed]);
    expect(Buffer.from(r.batchItems[1].uniqueBatchItemId!).toString("hex")).to.equal("02");
  });

  it("rejects stale time stamps and honours Maximum Response Size", async () => {
    const stale = encodeTtlv(
      M.encodeRequestMessage({ header: { protocolVersion: { major: 1, minor: 2 }, timeStamp: Math.floor(Date.now() / 1000) - 3600 }, batchItems: [{ operation: Operation.Query, payload: M.encodeQueryRequest([1]) }] }),
    );
    const small = encodeTtlv(
      M.encodeRequestMessage({ header: { protocolVersion: { major: 1, minor: 2 }, maximumResponseSize: 100 }, batchItems: [{ operation: Operation.Query, payload: M.encodeQueryRequest([1, 3]) }] }),
    );
    const [a, b] = await raw(srv, "raw-4", [stale, small], 2);
    expect(a.batchItems[0].resultMessage).to.equal("Stale request rejected by server.");
    expect(b.batchItems[0].resultReason).to.equal(ResultReason.ResponseTooLarge);
  });

  it("serves many connections concurrently", async () => {
    const clients = Array.from({ length: 8 }, (_, i) => new KmipClient(srv.clientOptions(`conc-${i}`, { poolSize: 2 })));
    const ids = await Promise.all(clients.flatMap((c) => [0, 1, 2].map(() => c.create(ObjectType.SymmetricKey, AES))));
    expect(new Set(ids).size).to.equal(24);
    const located = await Promise.all(clients.map((c) => c.locate({ attributes: {} })));
    for (const l of located) expect(l.uniqueIdentifiers).to.have.length(3);
    await Promise.all(clients.map((c) => c.close()));
  });

  it("holds a bounded amount for a client that pipelines requests without reading answers, and answers them all once it reads", async () => {
    const o = srv.clientOptions("flood");
    const c = new KmipClient(o);
    const id = await c.register({ kind: "OpaqueObject", opaqueDataType: 0x80000000, opaqueDataValue: Buffer.alloc(512 * 1024, 7) }, {});
    await c.close();
    const get = request(Operation.Get, M.encodeGetRequest({ uniqueIdentifier: id }));
    const count = 200; // 100 MB of answers if the server buffered them all
    const socket = tls.connect({ host: "127.0.0.1", port: srv.port, ca: o.ca, cert: o.cert, key: o.key });
    try {
      await new Promise<void>((r, j) => socket.once("secureConnect", () => r()).once("error", j));
      socket.pause();
      const before = process.memoryUsage().arrayBuffers;
      socket.write(Buffer.concat(Array.from({ length: count }, () => get)));
      await new Promise((r) => setTimeout(r, 1500));
      expect(process.memoryUsage().arrayBuffers - before).to.be.lessThan(30e6);
      // reading again, every answer arrives
      let got = 0;
      const reader = new FrameReader(2 * 1024 * 1024);
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`only ${got} answers`)), 20000);
        socket.on("data", (chunk: Buffer) => {
          for (const f of reader.push(chunk)) {
            expect(M.parseResponseMessage(decodeTtlv(f)).batchItems[0].resultStatus).to.equal(ResultStatus.Success);
            if (++got === count) {
              clearTimeout(t);
              resolve();
            }
          }
        });
        socket.resume();
      });
    } finally {
      socket.destroy();
    }
  });

  it("stops a batch whose answers outgrow the response cap with Response Too Large, instead of building them all", async () => {
    const c = new KmipClient(srv.clientOptions("batch-flood"));
    const id = await c.register({ kind: "OpaqueObject", opaqueDataType: 0x80000000, opaqueDataValue: Buffer.alloc(512 * 1024, 9) }, {});
    await c.close();
    // a 5 KB request asking for 25 MB of answers
    const items = Array.from({ length: 50 }, () => ({ operation: Operation.Get, payload: M.encodeGetRequest({ uniqueIdentifier: id }) }));
    const msg = encodeTtlv(M.encodeRequestMessage({ header: { protocolVersion: { major: 1, minor: 2 }, batchErrorContinuationOption: BatchErrorContinuationOption.Continue }, batchItems: items }));
    const [r] = await raw(srv, "batch-flood", [msg], 1);
    const last = r.batchItems[r.batchItems.length - 1];
    expect(r.batchItems.length).to.be.lessThan(50);
    expect(last.resultReason).to.equal(ResultReason.ResponseTooLarge);
    expect(r.batchItems.slice(0, -1).every((b) => b.resultStatus === ResultStatus.Success)).to.equal(true);
    expect(encodeTtlv(M.encodeResponseMessage(r)).length).to.be.at.most(KMIP_SERVER_MAX_RESPONSE_BYTES);
  });

  it("keeps objects across a restart and never writes key bytes in clear", async () => {
    const c = new KmipClient(srv.clientOptions("durable"));
    const value = Buffer.from("00112233445566778899aabbccddeeff8899aabbccddeeff0011223344556677", "hex");
    const id = await c.register({ kind: "SymmetricKey", keyFormatType: 1, cryptographicAlgorithm: 3, cryptographicLength: 256, keyMaterial: value }, { names: ["durable"] });
    await c.close();
    await srv.restart();
    const c2 = new KmipClient(srv.clientOptions("durable"));
    const got = await c2.get(id);
    expect(got.object.kind === "SymmetricKey" && Buffer.from(got.object.keyMaterial).equals(value)).to.equal(true);
    await c2.close();
    alice = new KmipClient(srv.clientOptions("alice"));
    bob = new KmipClient(srv.clientOptions("bob"));
    const db = join(srv.dir, "db");
    for (const f of readdirSync(db)) {
      const bytes = readFileSync(join(db, f));
      expect(bytes.includes(value), f).to.equal(false);
      expect(bytes.includes(Buffer.from(value.toString("hex"))), f).to.equal(false);
    }
    expect(statSync(srv.config.sealKeyFile).mode & 0o777).to.equal(0o600);
  });

  it("releases its data directory when it cannot listen (port in use), so a retry on the same data works", async () => {
    const dataDir = join(srv.dir, "db-retry");
    const cfg = { ...srv.config, dataDir, port: srv.port };
    let err: unknown;
    try {
      await startKmipServer(cfg);
    } catch (e) {
      err = e;
    }
    expect((err as NodeJS.ErrnoException | undefined)?.code).to.equal("EADDRINUSE");
    const again = await startKmipServer({ ...cfg, port: 0 });
    await again.close();
  });

  it("keeps serving after a server-level 'error' event (reported as a warning, not a crash)", async () => {
    const s = await startKmipServer({ ...srv.config, dataDir: join(srv.dir, "db-error-event"), port: 0 });
    try {
      const warned = new Promise<Error>((r) => process.once("warning", r));
      // the tls.Server behind the handle: the only way to raise its event from a test
      const servers = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().filter((h): h is tls.Server => h instanceof tls.Server);
      const mine = servers.find((h) => (h.address() as { port?: number } | null)?.port === s.port)!;
      mine.emit("error", new Error("accept failed: EMFILE"));
      expect((await warned).message).to.equal("KMIP server: accept failed: EMFILE");
      const c = new KmipClient({ ...srv.clientOptions("after-error"), port: s.port });
      await c.query([1]);
      await c.close();
    } finally {
      await s.close();
    }
  });

  describe("TLS", () => {
    const connectWith = (opts: tls.ConnectionOptions): Promise<string> =>
      new Promise((resolve) => {
        const s = tls.connect({ host: "127.0.0.1", port: srv.port, ca: readFileSync(srv.ca.cert), ...opts });
        s.once("secureConnect", () => {
          // TLS 1.3 reports a refused client certificate after the handshake: send a request and see
          s.write(request(Operation.Query, M.encodeQueryRequest([1])));
        });
        s.once("data", () => {
          s.destroy();
          resolve("served");
        });
        s.once("error", (e) => resolve(`refused: ${e.message}`));
        s.once("close", () => resolve("refused: closed"));
      });

    it("refuses a client without a certificate", async () => {
      expect(await connectWith({})).to.match(/^refused/);
    });

    it("refuses a client certificate from another CA", async () => {
      const other = TestCa.create(join(srv.dir, "other-ca"), "other CA");
      const me = other.issue("mallory");
      expect(await connectWith({ cert: readFileSync(me.cert), key: readFileSync(me.key) })).to.match(/^refused/);
    });

    it("refuses an expired client certificate", async () => {
      const me = srv.issue("expired", { expired: true });
      expect(await connectWith({ cert: readFileSync(me.cert), key: readFileSync(me.key) })).to.match(/^refused/);
      const ok = srv.issue("fresh");
      expect(await connectWith({ cert: readFileSync(ok.cert), key: readFileSync(ok.key) })).to.equal("served");
    });

    it("refuses a client certificate made for servers only (no clientAuth usage)", async () => {
      const me = srv.issue("server-only", { eku: "serverAuth" });
      expect(await connectWith({ cert: readFileSync(me.cert), key: readFileSync(me.key) })).to.match(/^refused/);
    });

    it("our client refuses a server whose certificate does not match the host", async () => {
      const other = await startTestServer();
      try {
        const wrong = other.ca.issue("wrong.example", { eku: "serverAuth", san: "DNS:wrong.example" });
        const s2 = await startTestServer({ cert: wrong.cert, key: wrong.key, ca: other.ca.cert });
        try {
          const me = other.ca.issue("client");
          const c = new KmipClient({ host: "127.0.0.1", port: s2.port, ca: readFileSync(other.ca.cert), cert: readFileSync(me.cert), key: readFileSync(me.key) });
          const err = await expectReject(c.query([1]), KmipTransportError);
          expect(err.message).to.match(/altnames|IP: 127\.0\.0\.1|does not match/i);
          await c.close();
        } finally {
          await s2.stop();
        }
      } finally {
        await other.stop();
      }
    });

    it("negotiates an ECDHE suite with TLS 1.2 pinned", async () => {
      const o = srv.clientOptions("tls12");
      const s = tls.connect({ host: "127.0.0.1", port: srv.port, ca: o.ca, cert: o.cert, key: o.key, maxVersion: "TLSv1.2" });
      await new Promise<void>((r, j) => s.once("secureConnect", () => r()).once("error", j));
      expect(s.getProtocol()).to.equal("TLSv1.2");
      expect(s.getCipher().name).to.match(/^ECDHE-/);
      s.destroy();
    });
  });

  it("shuts down in well under a second while a client has connected but not finished its TLS handshake", async () => {
    const s = await startTestServer();
    const silent = net.connect(s.port, "127.0.0.1");
    try {
      await new Promise<void>((r, j) => silent.once("connect", () => r()).once("error", j));
      await new Promise((r) => setTimeout(r, 50)); // the server has accepted it
      const t0 = Date.now();
      await s.stop();
      expect(Date.now() - t0).to.be.lessThan(800);
    } finally {
      silent.destroy();
    }
  });

  it("shuts down in well under a second, with connections open and a request in flight", async () => {
    const s = await startTestServer();
    const cs = Array.from({ length: 4 }, (_, i) => new KmipClient(s.clientOptions(`sd-${i}`)));
    await Promise.all(cs.map((c) => c.query([1])));
    const inflight = cs[0].create(ObjectType.SymmetricKey, AES).catch((e: Error) => e);
    const t0 = Date.now();
    await s.stop();
    expect(Date.now() - t0).to.be.lessThan(800);
    await inflight;
    await Promise.all(cs.map((c) => c.close()));
  });
});
