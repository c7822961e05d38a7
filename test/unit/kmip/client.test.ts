import { expect } from "chai";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { KmipClient, KmipTransportError } from "../../../src/keystore/kmip/client.js";
import { KmipEngine } from "../../../src/keystore/kmip/engine.js";
import { FrameReader } from "../../../src/keystore/kmip/framing.js";
import * as M from "../../../src/keystore/kmip/messages.js";
import { KmipObjectStore } from "../../../src/keystore/kmip/store.js";
import { decodeTtlv, encodeTtlv, TtlvError } from "../../../src/keystore/kmip/ttlv.js";
import { expectReject } from "../../helpers/reject.js";
import { TestCa } from "./pki.js";

/**
 * A scripted TLS peer (a mock: the failure it injects cannot be provoked on
 * a real server on demand). It serves KMIP with the real engine, but drops
 * a connection without answering when `dropNext` is set, and counts
 * connections and requests.
 */
async function scriptedPeer(dir: string) {
  const ca = TestCa.create(join(dir, "pki"));
  const s = ca.issue("localhost", { eku: "serverAuth" });
  const store = await KmipObjectStore.open(join(dir, "db"), new Uint8Array(32).fill(7));
  const engine = new KmipEngine(store);
  const state = { connections: 0, requests: 0, dropNext: false };
  const server = tls.createServer({ cert: readFileSync(s.cert), key: readFileSync(s.key), ca: readFileSync(ca.cert), requestCert: true, rejectUnauthorized: true });
  server.on("secureConnection", (sock) => {
    state.connections++;
    const reader = new FrameReader();
    sock.on("error", () => sock.destroy());
    sock.on("data", async (chunk: Buffer) => {
      for (const f of reader.push(chunk)) {
        state.requests++;
        if (state.dropNext) {
          state.dropNext = false;
          sock.destroy();
          return;
        }
        const resp = await engine.handle("owner", M.parseRequestMessage(decodeTtlv(f)));
        sock.write(encodeTtlv(M.encodeResponseMessage(resp)));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as { port: number }).port;
  const me = ca.issue("owner");
  return {
    state,
    options: { host: "127.0.0.1", port, ca: readFileSync(ca.cert), cert: readFileSync(me.cert), key: readFileSync(me.key), protocolVersion: { major: 1, minor: 2 } },
    close: async () => {
      await new Promise<void>((r) => server.close(() => r()));
      await store.close();
    },
  };
}

describe("kmip/client", function () {
  this.timeout(20000);
  let dir: string;
  let peer: Awaited<ReturnType<typeof scriptedPeer>>;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "kmip-client-"));
    peer = await scriptedPeer(dir);
  });
  afterEach(async () => {
    await peer.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const AES = { cryptographicAlgorithm: 3, cryptographicLength: 256, cryptographicUsageMask: 12 };

  it("reuses one connection for sequential requests", async () => {
    const c = new KmipClient(peer.options);
    for (let i = 0; i < 5; i++) await c.query([1]);
    expect(peer.state.connections).to.equal(1);
    await c.close();
  });

  it("opens at most poolSize connections under load, and queues the rest", async () => {
    const c = new KmipClient({ ...peer.options, poolSize: 3 });
    await Promise.all(Array.from({ length: 30 }, () => c.query([1])));
    expect(peer.state.connections).to.equal(3);
    expect(peer.state.requests).to.equal(30);
    await c.close();
  });

  it("retries an idempotent read once on a fresh connection when a reused one breaks", async () => {
    const c = new KmipClient(peer.options);
    const id = await c.create(2, AES);
    peer.state.dropNext = true;
    const got = await c.get(id);
    expect(got.uniqueIdentifier).to.equal(id);
    expect(peer.state.connections).to.equal(2);
    await c.close();
  });

  it("does not retry a Create (it may have run): the caller gets a transport error", async () => {
    const c = new KmipClient(peer.options);
    await c.query([1]);
    peer.state.dropNext = true;
    const before = peer.state.requests;
    await expectReject(c.create(2, AES), KmipTransportError);
    expect(peer.state.requests - before).to.equal(1);
    // and the client recovers on the next call
    expect((await c.query([1])).operations.length).to.be.greaterThan(0);
    await c.close();
  });

  it("closes idle connections after the idle timeout", async () => {
    const c = new KmipClient({ ...peer.options, idleTimeoutMs: 100 });
    await c.query([1]);
    await new Promise((r) => setTimeout(r, 250));
    await c.query([1]);
    expect(peer.state.connections).to.equal(2);
    await c.close();
  });

  it("times out a request the server never answers", async () => {
    const c = new KmipClient({ ...peer.options, timeoutMs: 300 });
    await c.query([1]);
    // a server that reads but never replies: swallow the next request
    const silent = tls.createServer({ ...tlsServerOpts(dir) });
    silent.on("secureConnection", (s) => s.on("data", () => undefined));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()));
    const c2 = new KmipClient({ ...peer.options, port: (silent.address() as { port: number }).port, timeoutMs: 300, ca: readFileSync(join(dir, "pki", "ca.crt")) });
    const t0 = Date.now();
    const err = await expectReject(c2.query([1]), KmipTransportError);
    expect(err.message).to.match(/timed out/);
    expect(Date.now() - t0).to.be.lessThan(2000);
    await c2.close();
    await c.close();
    await new Promise<void>((r) => silent.close(() => r()));
  });

  it("fails a request queued for a pool slot within its own timeout, not after the requests ahead of it", async () => {
    const silent = tls.createServer({ ...tlsServerOpts(dir) });
    silent.on("secureConnection", (s) => s.on("data", () => undefined));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()));
    const c = new KmipClient({ ...peer.options, port: (silent.address() as { port: number }).port, timeoutMs: 300, poolSize: 1 });
    try {
      const t0 = Date.now();
      const done = await Promise.all(Array.from({ length: 4 }, () => expectReject(c.query([1]), KmipTransportError).then(() => Date.now() - t0)));
      // one after another, the fourth would fail after 4 × 300 ms
      for (const ms of done) expect(ms).to.be.lessThan(700);
    } finally {
      await c.close();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });

  it("refuses calls after close()", async () => {
    const c = new KmipClient(peer.options);
    await c.close();
    await expectReject(c.query([1]), KmipTransportError);
  });
});

function tlsServerOpts(dir: string): tls.TlsOptions {
  const ca = new TestCa(join(dir, "pki"), join(dir, "pki", "ca.crt"), join(dir, "pki", "ca.key"));
  const s = ca.issue("localhost", { eku: "serverAuth" });
  return { cert: readFileSync(s.cert), key: readFileSync(s.key), ca: readFileSync(ca.cert), requestCert: true, rejectUnauthorized: true };
}

describe("kmip/framing", () => {
  it("reassembles messages split and merged across reads, and refuses a header over the cap", () => {
    const msg = (n: number) => encodeTtlv(M.encodeRequestMessage({ header: { protocolVersion: { major: 1, minor: 2 } }, batchItems: [{ operation: 0x18, payload: M.encodeQueryRequest(Array(n).fill(1)) }] }));
    const a = msg(1);
    const b = msg(5);
    const stream = Buffer.concat([a, b, a]);
    for (const cut of [1, 3, 7, 8, 9, 50, a.length, a.length + 1, stream.length - 1]) {
      const r = new FrameReader();
      const got = [...r.push(stream.subarray(0, cut)), ...r.push(stream.subarray(cut))];
      expect(got.map((g) => g.toString("hex"))).to.deep.equal([a, b, a].map((g) => g.toString("hex")));
      expect(r.buffered).to.equal(0);
    }
    const r = new FrameReader(64);
    expect(() => r.push(a)).to.throw(TtlvError, /TOO_LARGE/);
  });
});
