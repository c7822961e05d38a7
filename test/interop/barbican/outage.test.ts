// A Barbican that goes away mid-run. A private second Barbican API (own port,
// own sqlite dir, started and stopped with ../shared/peers' scripts) is
// stopped while clients work, frozen with SIGSTOP (accepts, never answers),
// and restarted on the same database to check what the failed calls left.
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { openBarbicanKeystore } from "../../../src/keystore/barbican.js";
import { type KeyManager, KeyManagerError } from "../../../src/keystore/key-manager.js";
import { expectReject } from "../../helpers/reject.js";
import { freshContext, PrivateBarbican } from "./peer.js";

const TIMEOUT_MS = 2000;
/** Slack over the deadline for timers and scheduling on a loaded CI machine. */
const SLACK_MS = 700;

describe("barbican interop: server stopped mid-run (private Barbican instance)", function () {
  this.timeout(180_000);
  let peer: PrivateBarbican;
  let km: KeyManager;
  const A = freshContext("outage");

  before(async () => {
    peer = await PrivateBarbican.start();
    km = await openBarbicanKeystore({ endpoint: peer.endpoint, auth: { type: "noauth" }, timeoutMs: TIMEOUT_MS, retries: 3 });
  });
  after(async () => {
    await km?.close();
    await peer?.destroy();
  });

  const clearError = (e: unknown): RegExp => {
    expect(e).to.be.instanceOf(KeyManagerError);
    expect((e as KeyManagerError).code).to.equal("KEY_MANAGER_ERROR");
    return new RegExp(`^Key manager error: Barbican at http://127\\.0\\.0\\.1:${peer.port}/v1 `);
  };

  it("stopped while working: every call fails fast with an error naming the endpoint; nothing half-done", async () => {
    const stored = new Map<string, string>(); // id -> hex of the bytes we stored
    const failures: { op: string; message: string; ms: number }[] = [];
    let stopped = false;
    let stopRequested = false;

    const worker = async (n: number): Promise<void> => {
      let failed = 0;
      for (let i = 0; failed < 3 && i < 500; i++) {
        const value = new Uint8Array(randomBytes(32));
        const t0 = Date.now();
        try {
          const id = await km.storeKey(A, { kind: "symmetric", algorithm: "AES", value, name: `w${n}-${i}` });
          stored.set(id, Buffer.from(value).toString("hex"));
          const back = await km.getKey(A, id);
          expect(Buffer.from(back.value!).toString("hex")).to.equal(stored.get(id));
        } catch (e) {
          if (!(e instanceof KeyManagerError) || !stopRequested) throw e;
          failures.push({ op: "store/get", message: e.message, ms: Date.now() - t0 });
          failed++;
        }
      }
    };
    const stopper = (async () => {
      while (stored.size < 15) await new Promise((r) => setTimeout(r, 10));
      stopRequested = true;
      await peer.stop();
      stopped = true;
    })();
    await Promise.all([worker(1), worker(2), worker(3), stopper]);
    expect(stopped).to.equal(true);
    expect(failures.length).to.be.at.least(9);
    for (const f of failures) {
      expect(f.message).to.match(/^Key manager error: Barbican at http:\/\/127\.0\.0\.1:\d+\/v1 (refused the connection \(ECONNREFUSED\): is the server running\?|closed the connection without an answer \(ECONNRESET\)|did not answer within 2000 ms)/);
      expect(f.message).to.contain(`:${peer.port}/v1`);
      expect(f.ms).to.be.below(TIMEOUT_MS + SLACK_MS);
    }

    // Down: each operation, on its own, fails within the deadline with ECONNREFUSED.
    const someId = [...stored.keys()][0]!;
    const ops: [string, () => Promise<unknown>][] = [
      ["createKey", () => km.createKey(A)],
      ["storeKey", () => km.storeKey(A, { kind: "opaque", value: Uint8Array.of(1) })],
      ["getKey", () => km.getKey(A, someId)],
      ["getKey metadataOnly", () => km.getKey(A, someId, { metadataOnly: true })],
      ["copyKey", () => km.copyKey(A, someId)],
      ["deleteKey", () => km.deleteKey(A, someId)],
      ["listKeys", () => km.listKeys(A)],
    ];
    for (const [what, op] of ops) {
      const t0 = Date.now();
      const e = await expectReject(op(), KeyManagerError);
      expect(Date.now() - t0, what).to.be.below(TIMEOUT_MS + SLACK_MS);
      expect(e.message, what).to.match(clearError(e));
      expect(e.message, what).to.contain("refused the connection (ECONNREFUSED): is the server running?");
    }

    // Back up on the same database: every key we reported stored is there with its bytes;
    // the only extra secrets can be writes that were in flight when the server died.
    await peer.resume();
    const after = await km.listKeys(A);
    const onServer = new Map(after.map((o) => [o.id, Buffer.from(o.value!).toString("hex")]));
    for (const [id, hex] of stored) expect(onServer.get(id), id).to.equal(hex);
    const extras = after.filter((o) => !stored.has(o.id));
    const inFlight = failures.filter((f) => /ECONNRESET|did not answer/.test(f.message)).length;
    expect(extras.length).to.be.at.most(inFlight);
    // and the deleteKey refused above did not happen
    expect(onServer.has(someId)).to.equal(true);
  });

  it("frozen (accepts, never answers): reads and copies fail within the deadline, then work again", async () => {
    const id = await km.storeKey(A, { kind: "opaque", value: Uint8Array.of(7, 7) });
    const before = (await km.listKeys(A, { metadataOnly: true })).length;
    const pgid = peer.pid();
    process.kill(-pgid, "SIGSTOP");
    try {
      for (const [what, op] of [
        ["getKey", () => km.getKey(A, id)],
        ["listKeys", () => km.listKeys(A)],
        ["copyKey", () => km.copyKey(A, id)],
      ] as const) {
        const t0 = Date.now();
        const e = await expectReject(op(), KeyManagerError);
        const took = Date.now() - t0;
        expect(took, what).to.be.within(TIMEOUT_MS - 50, TIMEOUT_MS + SLACK_MS);
        expect(e.message, what).to.match(clearError(e));
        expect(e.message, what).to.match(/did not answer within 2000 ms \(GET \/v1\/secrets/);
      }
    } finally {
      process.kill(-pgid, "SIGCONT");
    }
    // The failed copy never reached its POST: no new secret.
    expect((await km.getKey(A, id)).value).to.deep.equal(Uint8Array.of(7, 7));
    expect((await km.listKeys(A, { metadataOnly: true })).length).to.equal(before);
  });
});
