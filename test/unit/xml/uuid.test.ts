// src/uuid.ts: libvirt's lenient virUUIDParse, the canonical form, v4 generation.
import { expect } from "chai";
import fc from "fast-check";
import { canonicalUUID, formatUUID, generateUUID, parseUUID } from "../../../src/uuid.js";

const CANONICAL = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe("uuid", () => {
  describe("parseUUID (virUUIDParse leniency, spec §1.2.6)", () => {
    const accepted: Array<[string, string]> = [
      ["  12345678-1234-1234-1234-123456789ABC ", "12345678-1234-1234-1234-123456789abc"],
      ["1234567812341234123412345678abcd", "12345678-1234-1234-1234-12345678abcd"],
      ["1234-5678-1234-1234-1234-12345678-abcf", "12345678-1234-1234-1234-12345678abcf"],
      ["00000000-0000-0000-0000-000000000000", "00000000-0000-0000-0000-000000000000"],
      ["12 34 56 78 12 34 12 34 12 34 12 34 56 78 9a bc", "12345678-1234-1234-1234-123456789abc"],
      ["12--34-- --5678123412341234123456789abc\n\t", "12345678-1234-1234-1234-123456789abc"],
      ["\n\t 12345678123412341234123456789abc", "12345678-1234-1234-1234-123456789abc"],
    ];
    for (const [input, canonical] of accepted) {
      it(`accepts ${JSON.stringify(input)}`, () => {
        expect(canonicalUUID(input)).to.equal(canonical);
      });
    }
    const rejected = [
      "{12345678-1234-1234-1234-123456789abc}",
      "not-a-uuid",
      " ",
      "",
      "12345678-1234-1234-1234-123456789ab", // 31 digits
      "12345678-1234-1234-1234-123456789abcd", // 33 digits
      "-12345678-1234-1234-1234-123456789abc", // separator before the first pair
      "1-2345678-1234-1234-1234-123456789abc", // separator inside a pair
      "12345678-1234-1234-1234-123456789abc-", // separator after the last pair
      "12345678-1234-1234-1234-123456789abc x",
      "12345678_1234_1234_1234_123456789abc",
      "g2345678-1234-1234-1234-123456789abc",
    ];
    for (const input of rejected) {
      it(`rejects ${JSON.stringify(input)}`, () => {
        expect(parseUUID(input)).to.equal(null);
        expect(canonicalUUID(input)).to.equal(null);
      });
    }
    it("returns the 16 raw bytes", () => {
      expect(Array.from(parseUUID("000102030405060708090a0b0c0d0eff")!)).to.deep.equal([
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 255,
      ]);
    });
  });

  describe("formatUUID", () => {
    it("prints lower-case 8-4-4-4-12", () => {
      const raw = Uint8Array.from([0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0xab, 0xcd]);
      expect(formatUUID(raw)).to.equal("deadbeef-0001-0203-0405-06070809abcd");
    });
    it("round-trips any 16 bytes through parseUUID", () => {
      fc.assert(
        fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (raw) => {
          const text = formatUUID(raw);
          expect(text).to.match(CANONICAL);
          expect(Array.from(parseUUID(text)!)).to.deep.equal(Array.from(raw));
          expect(canonicalUUID(text.toUpperCase().replace(/-/g, ""))).to.equal(text);
        }),
      );
    });
  });

  describe("generateUUID", () => {
    it("makes canonical RFC 4122 version-4 variant-1 UUIDs", () => {
      for (let n = 0; n < 200; n++) {
        const u = generateUUID();
        expect(u).to.match(CANONICAL);
        expect(u[14]).to.equal("4");
        expect("89ab").to.include(u[19]!);
      }
    });
    it("does not repeat", () => {
      const seen = new Set(Array.from({ length: 1000 }, () => generateUUID()));
      expect(seen.size).to.equal(1000);
    });
  });
});
