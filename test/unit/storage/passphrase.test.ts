// src/storage/passphrase.ts: the passphrases a new volume gets, and that no
// intermediate copy of one is left unzeroed. SPIES (not mocks) wrap
// Buffer.from / TextEncoder.encode to catch the intermediates they hand out.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import type { Context } from "../../../src/keystore/key-manager.js";
import { openLocalKeystore, type LocalKeyManager } from "../../../src/keystore/local.js";
import { generatePassphrase, passphraseOfKey } from "../../../src/storage/passphrase.js";

const HEX64 = /^[0-9a-f]{64}$/;
const ctx: Context = { user: "ops", project: "infra" };
const allZero = (b: Uint8Array): boolean => b.every((x) => x === 0);

describe("storage/passphrase", function () {
  let dir: string;
  let km: LocalKeyManager;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "virsecret-passphrase-"));
    km = await openLocalKeystore({ root: join(dir, "keys") });
  });
  afterEach(async () => {
    await km.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("generatePassphrase: 64 lowercase hex characters, and the ASCII intermediate is zeroed", () => {
    const made: Buffer[] = [];
    const real = Buffer.from;
    const spy = function (this: unknown, ...a: unknown[]): Buffer {
      const out = (real as (...x: unknown[]) => Buffer).apply(Buffer, a);
      if (typeof a[0] === "string" && HEX64.test(a[0])) made.push(out);
      return out;
    };
    Buffer.from = spy as typeof Buffer.from;
    let p: Uint8Array;
    try {
      p = generatePassphrase();
    } finally {
      Buffer.from = real;
    }
    expect(Buffer.from(p).toString("ascii")).to.match(HEX64);
    expect(made.length).to.equal(1);
    expect(made[0]!.buffer).to.not.equal(p.buffer);
    expect(allZero(made[0]!), "the ASCII intermediate still holds the passphrase").to.equal(true);
    expect(Buffer.from(generatePassphrase()).equals(Buffer.from(p))).to.equal(false);
  });

  it("passphraseOfKey: lowercase hex of the key bytes; the hex made from them is zeroed", async () => {
    const keyId = await km.createKey(ctx, { length: 256 });
    const keyHex = Buffer.from((await km.getKey(ctx, keyId)).value!).toString("hex");
    const made: Uint8Array[] = [];
    const real = TextEncoder.prototype.encode;
    TextEncoder.prototype.encode = function (this: InstanceType<typeof TextEncoder>, input?: string) {
      const out = real.call(this, input);
      if (input !== undefined && HEX64.test(input)) made.push(out);
      return out;
    };
    let p: Uint8Array;
    try {
      p = await passphraseOfKey(km, ctx, keyId);
    } finally {
      TextEncoder.prototype.encode = real;
    }
    expect(Buffer.from(p).toString("ascii")).to.equal(keyHex);
    expect(made.length).to.be.greaterThan(0);
    for (const m of made) expect(allZero(m), "an unwiped copy of the passphrase").to.equal(true);
  });

  it("passphraseOfKey of a passphrase object gives its text in a buffer of the caller's own", async () => {
    const keyId = await km.storeKey(ctx, { kind: "passphrase", value: new TextEncoder().encode("correct horse") });
    const p = await passphraseOfKey(km, ctx, keyId);
    expect(Buffer.from(p).toString("utf8")).to.equal("correct horse");
  });
});
