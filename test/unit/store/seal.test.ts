import { expect } from "chai";
import fc from "fast-check";
import { isVirError } from "../../../src/errors.js";
import { SEAL_OVERHEAD, recordAad, seal, unseal } from "../../../src/store/seal.js";

const key = (b: number) => new Uint8Array(32).fill(b);

function unsealFails(k: Uint8Array, aad: string, blob: Uint8Array): boolean {
  try {
    unseal(k, aad, blob);
    return false;
  } catch (e) {
    return isVirError(e, "INTERNAL_ERROR") && (e as Error).message.startsWith(`internal error: cannot unseal value of '${aad}': `);
  }
}

describe("store/seal", () => {
  it("adds version, 24-byte random nonce and 16-byte tag; two seals differ", () => {
    const a = seal(key(1), "secrets/x", new Uint8Array([1, 2, 3]));
    const b = seal(key(1), "secrets/x", new Uint8Array([1, 2, 3]));
    expect(a.length).to.equal(3 + SEAL_OVERHEAD);
    expect(a[0]).to.equal(1);
    expect(Buffer.from(a).equals(Buffer.from(b))).to.equal(false);
    expect(Array.from(unseal(key(1), "secrets/x", a))).to.deep.equal([1, 2, 3]);
  });

  it("fails with a typed error for a wrong key, another record, truncation, unknown format", () => {
    const blob = seal(key(1), recordAad("secrets", "u1"), new TextEncoder().encode("hunter2"));
    expect(unsealFails(key(2), "secrets/u1", blob)).to.equal(true);
    expect(unsealFails(key(1), "secrets/u2", blob)).to.equal(true);
    expect(unsealFails(key(1), "secrets/u1", blob.subarray(0, SEAL_OVERHEAD - 1))).to.equal(true);
    const other = blob.slice();
    other[0] = 0x02;
    expect(unsealFails(key(1), "secrets/u1", other)).to.equal(true);
    try {
      unseal(key(2), "secrets/u1", blob);
      expect.fail("unseal with a wrong key succeeded");
    } catch (e) {
      expect((e as Error).message).to.equal(
        "internal error: cannot unseal value of 'secrets/u1': authentication failed (wrong master key or corrupted data)",
      );
      expect(String((e as Error).stack)).to.not.include("hunter2");
    }
  });

  it("refuses a master key that is not 32 bytes", () => {
    expect(() => seal(new Uint8Array(16), "a/b", new Uint8Array(1))).to.throw(/master key must be 32 bytes, got 16/);
  });

  it("property: unseal(seal(x)) === x for arbitrary bytes, keys and record names", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.string(), fc.uint8Array({ maxLength: 2048 }), (k, aad, plain) => {
        const out = unseal(k, aad, seal(k, aad, plain));
        expect(Buffer.from(out).equals(Buffer.from(plain))).to.equal(true);
      }),
      { numRuns: 300 },
    );
  });

  it("property: any single-bit flip anywhere in the sealed blob is detected", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ maxLength: 512 }),
        fc.nat(),
        fc.integer({ min: 0, max: 7 }),
        (k, plain, pos, bit) => {
          const blob = seal(k, "secrets/p", plain);
          const i = pos % blob.length;
          blob[i] ^= 1 << bit;
          expect(unsealFails(k, "secrets/p", blob)).to.equal(true);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("property: a blob never opens under another record name", () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.uint8Array({ maxLength: 64 }), (a, b, plain) => {
        fc.pre(a !== b);
        expect(unsealFails(key(3), b, seal(key(3), a, plain))).to.equal(true);
      }),
      { numRuns: 200 },
    );
  });
});
