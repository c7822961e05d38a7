import { expect } from "chai";
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { decodeTtlv, dumpTtlv, encodeTtlv, frameLength, ttlv, TtlvError, type TtlvItem } from "../../../src/keystore/kmip/ttlv.js";
import { Tag, tagSnakeName } from "../../../src/keystore/kmip/tags.js";

interface Vector {
  section: string;
  title: string;
  hex: string;
  decoded: string | null;
}
const here = new URL(".", import.meta.url);
const vectors = (JSON.parse(readFileSync(new URL("fixtures/pykmip-vectors.json", here), "utf8")) as { vectors: Vector[] }).vectors;
const spec37 = JSON.parse(readFileSync(new URL("fixtures/spec-3.7.json", here), "utf8")) as Record<string, string>;

const hex = (h: string): Buffer => Buffer.from(h, "hex");

function expectTtlvError(fn: () => unknown, code?: string): TtlvError {
  try {
    fn();
  } catch (e) {
    expect(e).to.be.instanceOf(TtlvError);
    if (code) expect((e as TtlvError).code).to.equal(code);
    return e as TtlvError;
  }
  expect.fail("expected a TtlvError");
}

describe("kmip/ttlv codec", () => {
  describe("keystore-spec §3.7 worked Create", () => {
    it("builds the KMIP 1.1 AES-256 Create request byte-for-byte", () => {
      const attr = (name: string, value: TtlvItem) =>
        ttlv.struct(Tag.Attribute, [ttlv.text(Tag.AttributeName, name), value]);
      const msg = ttlv.struct(Tag.RequestMessage, [
        ttlv.struct(Tag.RequestHeader, [
          ttlv.struct(Tag.ProtocolVersion, [ttlv.int(Tag.ProtocolVersionMajor, 1), ttlv.int(Tag.ProtocolVersionMinor, 1)]),
          ttlv.int(Tag.BatchCount, 1),
        ]),
        ttlv.struct(Tag.BatchItem, [
          ttlv.enum(Tag.Operation, 1),
          ttlv.struct(Tag.RequestPayload, [
            ttlv.enum(Tag.ObjectType, 2),
            ttlv.struct(Tag.TemplateAttribute, [
              attr("Cryptographic Algorithm", ttlv.enum(Tag.AttributeValue, 3)),
              attr("Cryptographic Length", ttlv.int(Tag.AttributeValue, 256)),
              attr("Cryptographic Usage Mask", ttlv.int(Tag.AttributeValue, 0x0c)),
            ]),
          ]),
        ]),
      ]);
      const bytes = encodeTtlv(msg);
      expect(bytes.length).to.equal(296);
      expect(bytes.toString("hex")).to.equal(spec37.createRequest11Aes256);
      expect(bytes[0xe8 + 2]).to.equal(0x01); // the 256 at offset 0xE8
    });

    for (const key of ["createRequest11Aes256", "createResponsePyKmip", "createResponsePublished", "createRequest20"]) {
      it(`decodes and re-encodes ${key} byte-for-byte`, () => {
        const b = hex(spec37[key]);
        const item = decodeTtlv(b);
        expect(encodeTtlv(item).equals(b)).to.equal(true);
      });
    }

    it("reads the fields of the PyKMIP response", () => {
      const item = decodeTtlv(hex(spec37.createResponsePyKmip));
      expect(item.tag).to.equal(Tag.ResponseMessage);
      const dump = dumpTtlv(item, tagSnakeName);
      expect(dump).to.contain("420092 TIME_STAMP <DateTime> len=8 = 1795347874");
      expect(dump).to.contain("420094 UNIQUE_IDENTIFIER <TextString> len=1 = '1'");
    });
  });

  describe("PyKMIP vectors (kmip-vectors.md)", () => {
    it("has all the captured vectors", () => {
      expect(vectors.length).to.be.greaterThanOrEqual(50);
    });
    for (const v of vectors) {
      it(`${v.title}: round-trips byte-for-byte and dumps as PyKMIP decoded it`, () => {
        const b = hex(v.hex);
        const item = decodeTtlv(b);
        expect(encodeTtlv(item).toString("hex")).to.equal(v.hex);
        if (v.decoded) expect(dumpTtlv(item, tagSnakeName, { showBytes: true })).to.equal(v.decoded);
        expect(frameLength(b.subarray(0, 8))).to.equal(b.length);
      });
    }
  });

  describe("item types", () => {
    it("encodes each of the ten types with correct length and padding", () => {
      const cases: [TtlvItem, string][] = [
        [ttlv.int(Tag.BatchCount, -2), "42000d0200000004fffffffe00000000"],
        [ttlv.long(Tag.BatchCount, -1n), "42000d0300000008ffffffffffffffff"],
        [ttlv.bigint(Tag.BatchCount, 0x0102n), "42000d04000000080000000000000102"],
        [ttlv.bigint(Tag.BatchCount, -1n), "42000d0400000008ffffffffffffffff"],
        [ttlv.enum(Tag.Operation, 0xffffffff), "42005c0500000004ffffffff00000000"],
        [ttlv.bool(Tag.BatchOrderOption, true), "4200100600000008" + "0000000000000001"],
        [ttlv.text(Tag.NameValue, "Hello World"), "420055070000000b" + "48656c6c6f20576f726c64" + "0000000000"],
        [ttlv.bytes(Tag.UniqueBatchItemId, new Uint8Array([1, 2, 3])), "4200930800000003010203" + "0000000000"],
        [ttlv.dateTime(Tag.TimeStamp, 0x47da67f8), "42009209000000080000000047da67f8"],
        [ttlv.interval(Tag.BatchCount, 864000), "42000d0a00000004000d2f0000000000"],
        [ttlv.struct(Tag.ProtocolVersion, []), "4200690100000000"],
        [ttlv.dateTimeExtended(Tag.TimeStamp, 1n), "4200920b00000008" + "0000000000000001"],
      ];
      for (const [item, h] of cases) {
        const b = encodeTtlv(item);
        expect(b.toString("hex"), item.type).to.equal(h);
        expect(b.length % 8).to.equal(0);
        expect(decodeTtlv(b)).to.deep.equal(item);
      }
    });

    it("sign-extends Big Integers to a multiple of 8 bytes", () => {
      const big = (1n << 64n) + 5n;
      const b = encodeTtlv(ttlv.bigint(Tag.BatchCount, big));
      expect(b.readUInt32BE(4)).to.equal(16);
      expect((decodeTtlv(b) as { value: bigint }).value).to.equal(big);
      const neg = -(1n << 63n) - 1n; // needs 9 bytes signed → 16
      const nb = encodeTtlv(ttlv.bigint(Tag.BatchCount, neg));
      expect(nb.readUInt32BE(4)).to.equal(16);
      expect((decodeTtlv(nb) as { value: bigint }).value).to.equal(neg);
    });

    it("refuses values that do not fit their type when encoding", () => {
      expectTtlvError(() => encodeTtlv(ttlv.int(Tag.BatchCount, 2 ** 31)), "OUT_OF_RANGE");
      expectTtlvError(() => encodeTtlv(ttlv.enum(Tag.Operation, -1)), "OUT_OF_RANGE");
      expectTtlvError(() => encodeTtlv(ttlv.long(Tag.BatchCount, 1n << 63n)), "OUT_OF_RANGE");
      expectTtlvError(() => encodeTtlv(ttlv.int(0x1000000, 1)), "BAD_TAG");
    });
  });

  describe("bounded decoding", () => {
    const good = () => hex(spec37.createRequest11Aes256);
    it("rejects a length that overruns", () => {
      const b = good();
      b.writeUInt32BE(0x7ffffff8, 4);
      expectTtlvError(() => decodeTtlv(b), "TRUNCATED");
      const c = good();
      c.writeUInt32BE(0xfffffff8, 12); // inner header claims ~4 GiB
      expectTtlvError(() => decodeTtlv(c), "TRUNCATED");
    });
    it("rejects a truncated message", () => {
      expectTtlvError(() => decodeTtlv(good().subarray(0, 100)), "TRUNCATED");
      expectTtlvError(() => decodeTtlv(new Uint8Array(3)), "TRUNCATED");
    });
    it("rejects trailing bytes, bad types, bad fixed lengths, bad padding, bad booleans, bad UTF-8", () => {
      expectTtlvError(() => decodeTtlv(Buffer.concat([good(), Buffer.alloc(8)])), "TRAILING_DATA");
      const t = good();
      t[3] = 0x0c;
      expectTtlvError(() => decodeTtlv(t), "BAD_TYPE");
      expectTtlvError(() => decodeTtlv(hex("42000d02000000080000000100000000")), "BAD_LENGTH");
      expectTtlvError(() => decodeTtlv(hex("42000d02000000040000000100000001")), "BAD_PADDING");
      expectTtlvError(() => decodeTtlv(hex("4200100600000008" + "0000000000000002")), "BAD_VALUE");
      expectTtlvError(() => decodeTtlv(hex("4200550700000002" + "c328000000000000")), "BAD_VALUE");
      expectTtlvError(() => decodeTtlv(hex("4200690100000004" + "0000000000000000")), "BAD_LENGTH");
    });
    it("rejects nesting deeper than the limit", () => {
      let item: TtlvItem = ttlv.int(Tag.BatchCount, 1);
      for (let i = 0; i < 40; i++) item = ttlv.struct(Tag.Attribute, [item]);
      const b = encodeTtlv(item);
      expectTtlvError(() => decodeTtlv(b), "TOO_DEEP");
      expect(() => decodeTtlv(b, { maxDepth: 64 })).not.to.throw();
    });
    it("rejects a message over the size cap, in the frame header already", () => {
      const b = good();
      expectTtlvError(() => decodeTtlv(b, { maxBytes: 200 }), "TOO_LARGE");
      const h = Buffer.from("4200780140000000", "hex"); // claims 1 GiB
      expectTtlvError(() => frameLength(h), "TOO_LARGE");
      expectTtlvError(() => frameLength(Buffer.from("4200780200000004", "hex")), "BAD_TYPE");
    });
  });

  describe("property tests", () => {
    const leaf: fc.Arbitrary<TtlvItem> = fc.oneof(
      fc.integer({ min: -0x80000000, max: 0x7fffffff }).map((v) => ttlv.int(Tag.BatchCount, v)),
      fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }).map((v) => ttlv.long(Tag.BatchCount, v)),
      fc.bigInt({ min: -(1n << 200n), max: 1n << 200n }).map((v) => ttlv.bigint(Tag.BatchCount, v)),
      fc.integer({ min: 0, max: 0xffffffff }).map((v) => ttlv.enum(Tag.Operation, v)),
      fc.boolean().map((v) => ttlv.bool(Tag.BatchOrderOption, v)),
      fc.string({ unit: "grapheme", maxLength: 40 }).map((v) => ttlv.text(Tag.NameValue, v)),
      fc.uint8Array({ maxLength: 40 }).map((v) => ttlv.bytes(Tag.KeyMaterial, v)),
      fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }).map((v) => ttlv.dateTime(Tag.TimeStamp, v)),
      fc.integer({ min: 0, max: 0xffffffff }).map((v) => ttlv.interval(Tag.BatchCount, v)),
      fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }).map((v) => ttlv.dateTimeExtended(Tag.TimeStamp, v)),
    );
    const tree = fc.letrec<{ node: TtlvItem }>((tie) => ({
      node: fc.oneof(
        { depthSize: "small", withCrossShrink: true },
        leaf,
        fc
          .tuple(fc.integer({ min: 0x420000, max: 0x54ffff }), fc.array(tie("node"), { maxLength: 5 }))
          .map(([tag, kids]) => ttlv.struct(tag, kids)),
      ),
    })).node;

    it("decode(encode(tree)) deep-equals tree and re-encodes to the same bytes", () => {
      fc.assert(
        fc.property(tree, (t) => {
          const b = encodeTtlv(t);
          const back = decodeTtlv(b, { maxDepth: 64 });
          expect(back).to.deep.equal(t);
          expect(encodeTtlv(back).equals(b)).to.equal(true);
        }),
        { numRuns: 500 },
      );
    });
  });

  describe("fuzz", () => {
    it("10k+ random and mutated messages give only TtlvError, quickly", function () {
      this.timeout(30000);
      const seeds = [...vectors.map((v) => hex(v.hex)), hex(spec37.createRequest11Aes256)];
      let rng = 0x12345678;
      const rand = (n: number): number => {
        rng ^= rng << 13;
        rng ^= rng >>> 17;
        rng ^= rng << 5;
        return (rng >>> 0) % n;
      };
      const started = Date.now();
      let ok = 0;
      let rejected = 0;
      for (let i = 0; i < 12000; i++) {
        let b: Buffer;
        if (i % 3 === 0) {
          b = Buffer.alloc(rand(300));
          for (let j = 0; j < b.length; j++) b[j] = rand(256);
          if (b.length >= 4 && rand(2)) b[0] = 0x42; // look like a tag more often
        } else {
          b = Buffer.from(seeds[rand(seeds.length)]);
          const edits = 1 + rand(4);
          for (let k = 0; k < edits; k++) {
            const op = rand(4);
            if (op === 0 && b.length) b[rand(b.length)] = rand(256);
            else if (op === 1 && b.length > 8) b = b.subarray(0, rand(b.length));
            else if (op === 2 && b.length >= 8) b.writeUInt32BE(rand(0xffffffff), 4 + 8 * rand(b.length >> 3));
            else b = Buffer.concat([b, Buffer.from([rand(256)])]);
          }
        }
        try {
          decodeTtlv(b);
          ok++;
        } catch (e) {
          if (!(e instanceof TtlvError)) throw e;
          rejected++;
        }
      }
      expect(ok + rejected).to.equal(12000);
      expect(rejected).to.be.greaterThan(1000);
      expect(Date.now() - started).to.be.lessThan(10000);
    });
  });
});
