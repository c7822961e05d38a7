// Property tests for storage sizes (src/storage/units.ts): a value written
// with any unit libvirt knows parses back to value × factor, results above
// LLONG_MAX are refused as overflow, digits past ULLONG_MAX as malformed, and
// qemu-img's "<KiB>K" argument covers the size with less than 1 KiB spare.
import { expect } from "chai";
import fc from "fast-check";
import { isVirError } from "../../../src/errors.js";
import { LLONG_MAX, ULLONG_MAX, parseStorageSize, qemuImgSizeArg, unitScale } from "../../../src/storage/units.js";

// The factors written out, independent of unitScale's arithmetic.
const UNITS: readonly [string, bigint][] = [
  ["b", 1n], ["byte", 1n], ["bytes", 1n],
  ["k", 1024n], ["KiB", 1024n], ["KB", 1000n],
  ["M", 1024n ** 2n], ["MiB", 1024n ** 2n], ["mb", 1000n ** 2n],
  ["G", 1024n ** 3n], ["GiB", 1024n ** 3n], ["GB", 1000n ** 3n],
  ["T", 1024n ** 4n], ["tib", 1024n ** 4n], ["TB", 1000n ** 4n],
  ["P", 1024n ** 5n], ["PiB", 1024n ** 5n], ["PB", 1000n ** 5n],
  ["E", 1024n ** 6n], ["EiB", 1024n ** 6n], ["EB", 1000n ** 6n],
];

function outcome(f: () => bigint): bigint | string {
  try {
    return f();
  } catch (e) {
    expect(isVirError(e), String(e)).to.equal(true);
    return (e as { codeName: string }).codeName;
  }
}

describe("property: storage size units", () => {
  it("parse(format(value, unit)) is value × factor, or OVERFLOW past LLONG_MAX", () => {
    const value = fc.oneof(fc.bigInt({ min: 0n, max: 1n << 20n }), fc.bigInt({ min: 0n, max: ULLONG_MAX }));
    fc.assert(
      fc.property(value, fc.constantFrom(...UNITS), fc.constantFrom("", " ", "\t\n", "+", " +"), (v, [unit, factor], lead) => {
        expect(unitScale(unit)).to.equal(factor);
        const got = outcome(() => parseStorageSize(lead + v.toString(), unit));
        expect(got).to.equal(v * factor <= LLONG_MAX ? v * factor : "OVERFLOW");
        // no unit means bytes
        if (factor === 1n) expect(outcome(() => parseStorageSize(v.toString(), undefined))).to.equal(got);
      }),
      { numRuns: 500 },
    );
  });

  it("digits past ULLONG_MAX, signs, junk: malformed capacity (XML_ERROR)", () => {
    const bad = fc.oneof(
      fc.bigInt({ min: ULLONG_MAX + 1n, max: ULLONG_MAX * 1000n }).map(String),
      fc.bigInt({ min: 1n, max: 1000n }).map((v) => `-${v}`),
      fc.tuple(fc.nat(), fc.constantFrom("x", " 1", ".5", "e3", "0x1", " ")).map(([n, s]) => `${n}${s}`),
      fc.constant(""),
    );
    fc.assert(
      fc.property(bad, (text) => {
        expect(outcome(() => parseStorageSize(text, "bytes"))).to.equal("XML_ERROR");
      }),
      { numRuns: 200 },
    );
  });

  it("an unknown unit is INVALID_ARG", () => {
    const known = new Set(UNITS.map(([u]) => u.toLowerCase()));
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 4 }).filter((u) => !known.has(u.toLowerCase())), (unit) => {
        expect(outcome(() => parseStorageSize("1", unit))).to.equal("INVALID_ARG");
      }),
      { numRuns: 200 },
    );
  });

  it("qemu-img's K argument covers the size with less than 1 KiB spare", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: LLONG_MAX }), (bytes) => {
        const arg = qemuImgSizeArg(bytes);
        expect(arg).to.match(/^[0-9]+K$/);
        // (near LLONG_MAX the rounded-up size passes 2^63, as in libvirt, so
        // it is read back with plain arithmetic rather than parseStorageSize)
        const back = BigInt(arg.slice(0, -1)) * 1024n;
        expect(back >= bytes && back - bytes < 1024n).to.equal(true);
      }),
      { numRuns: 300 },
    );
  });
});
