// LUKS1 header codec, key-slot layout, formatting and unlocking, in memory.
import { randomBytes } from "node:crypto";
import { expect } from "chai";
import fc from "fast-check";
import { VirError } from "../../../src/errors.js";
import { WRONG_PASSPHRASE_TEXT } from "../../../src/storage/key-check.js";
import {
  MAX_UNLOCK_ITERATIONS,
  decodeLuks1Header,
  encodeLuks1Header,
  formatLuks1,
  isWrongPassphrase,
  LUKS1_HEADER_SIZE,
  luks1Layout,
  unlockLuks1,
  type Luks1Header,
  type Luks1KeySlot,
} from "../../../src/storage/luks/luks1.js";

/** The LUKS area a format describes, as one buffer. */
function areaOf(f: Awaited<ReturnType<typeof formatLuks1>>): Buffer {
  const area = Buffer.alloc(f.areaBytes);
  for (const w of f.writes) w.data.copy(area, w.offset);
  return area;
}

const reader = (area: Buffer) => async (o: number, l: number): Promise<Buffer> => Buffer.from(area.subarray(o, o + l));

const printable = (max: number): fc.Arbitrary<string> =>
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: max });

const slotArb: fc.Arbitrary<Luks1KeySlot> = fc.record({
  active: fc.boolean(),
  iterations: fc.integer({ min: 1, max: 0xffffffff }),
  salt: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((u) => Buffer.from(u)),
  keyMaterialOffset: fc.integer({ min: 1, max: 0xffffffff }),
  stripes: fc.integer({ min: 1, max: 65536 }),
});

const headerArb: fc.Arbitrary<Luks1Header> = fc.record({
  cipherName: printable(31),
  cipherMode: printable(31),
  hashSpec: printable(31),
  payloadOffset: fc.integer({ min: 0, max: 0xffffffff }),
  keyBytes: fc.integer({ min: 1, max: 64 }),
  mkDigest: fc.uint8Array({ minLength: 20, maxLength: 20 }).map((u) => Buffer.from(u)),
  mkDigestSalt: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((u) => Buffer.from(u)),
  mkDigestIterations: fc.integer({ min: 1, max: 0xffffffff }),
  uuid: printable(39),
  keySlots: fc.array(slotArb, { minLength: 8, maxLength: 8 }),
});

describe("luks/luks1: header codec", () => {
  it("property: decode(encode(h)) = h, 592 bytes, magic and version 1", () => {
    fc.assert(
      fc.property(headerArb, (h) => {
        const b = encodeLuks1Header(h);
        expect(b.length).to.equal(LUKS1_HEADER_SIZE);
        expect(b.subarray(0, 8).toString("hex")).to.equal("4c554b53babe0001");
        expect(decodeLuks1Header(b)).to.deep.equal(h);
      }),
      { numRuns: 300 },
    );
  });

  it("puts every field at its spec offset, big-endian", () => {
    const h: Luks1Header = {
      cipherName: "aes", cipherMode: "xts-plain64", hashSpec: "sha256", payloadOffset: 4040, keyBytes: 64,
      mkDigest: Buffer.alloc(20, 0xd1), mkDigestSalt: Buffer.alloc(32, 0x5a), mkDigestIterations: 0x2ea3,
      uuid: "22cee5dc-9c8d-41eb-9667-ae510183333a",
      keySlots: Array.from({ length: 8 }, (_, i) => ({
        active: i === 0, iterations: i === 0 ? 0xb71e : 0, salt: Buffer.alloc(32, i === 0 ? 0x42 : 0),
        keyMaterialOffset: 8 + 504 * i, stripes: 4000,
      })),
    };
    const b = encodeLuks1Header(h);
    expect(b.subarray(8, 12).toString("latin1")).to.equal("aes\0");
    expect(b.subarray(40, 52).toString("latin1")).to.equal("xts-plain64\0");
    expect(b.readUInt32BE(104)).to.equal(4040);
    expect(b.readUInt32BE(108)).to.equal(64);
    expect(b.readUInt32BE(164)).to.equal(0x2ea3);
    expect(b.subarray(168, 204).toString("latin1")).to.equal(h.uuid);
    // slot 0 active, slot 1 disabled at its offset: the bytes qemu-img 7.2 writes
    expect(b.subarray(208, 216).toString("hex")).to.equal("00ac71f30000b71e");
    expect(b.subarray(248, 256).toString("hex")).to.equal("0000000800000fa0");
    expect(b.subarray(256, 264).toString("hex")).to.equal("0000dead00000000");
    expect(b.subarray(296, 304).toString("hex")).to.equal("0000020000000fa0");
  });

  it("refuses damaged headers with typed errors naming the volume", () => {
    const f = Buffer.alloc(LUKS1_HEADER_SIZE);
    expect(() => decodeLuks1Header(f, "vol 'x'")).to.throw(VirError, "vol 'x' has an invalid LUKS1 header: no LUKS magic");
    expect(() => decodeLuks1Header(Buffer.alloc(10))).to.throw(VirError, /only 10 bytes/);
    const good = encodeLuks1Header({
      cipherName: "aes", cipherMode: "xts-plain64", hashSpec: "sha256", payloadOffset: 4096, keyBytes: 64,
      mkDigest: Buffer.alloc(20), mkDigestSalt: Buffer.alloc(32), mkDigestIterations: 1000, uuid: "u",
      keySlots: Array.from({ length: 8 }, (_, i) => ({ active: i === 0, iterations: 1000, salt: Buffer.alloc(32), keyMaterialOffset: 8, stripes: 4000 })),
    });
    const v2 = Buffer.from(good);
    v2.writeUInt16BE(2, 6);
    expect(() => decodeLuks1Header(v2)).to.throw(VirError, /LUKS version 2; only LUKS1 is supported/);
    const badState = Buffer.from(good);
    badState.writeUInt32BE(0x12345678, 208 + 48 * 3);
    expect(() => decodeLuks1Header(badState)).to.throw(VirError, /key slot 3 has state 0x12345678/);
    const badKey = Buffer.from(good);
    badKey.writeUInt32BE(65, 108);
    expect(() => decodeLuks1Header(badKey)).to.throw(VirError, /key-bytes 65 out of range/);
    const zeroIter = Buffer.from(good);
    zeroIter.writeUInt32BE(0, 212);
    expect(() => decodeLuks1Header(zeroIter)).to.throw(VirError, /key slot 0 has 0 iterations/);
    const nonAscii = Buffer.from(good);
    nonAscii[9] = 0xff;
    expect(() => decodeLuks1Header(nonAscii)).to.throw(VirError, /cipher-name is not printable ASCII/);
  });

  it("refuses strings that do not fit with their NUL", () => {
    const h = decodeLuks1Header(encodeLuks1Header({
      cipherName: "aes", cipherMode: "xts-plain64", hashSpec: "sha256", payloadOffset: 4096, keyBytes: 64,
      mkDigest: Buffer.alloc(20), mkDigestSalt: Buffer.alloc(32), mkDigestIterations: 1, uuid: "u",
      keySlots: Array.from({ length: 8 }, () => ({ active: false, iterations: 0, salt: Buffer.alloc(32), keyMaterialOffset: 8, stripes: 4000 })),
    }));
    expect(() => encodeLuks1Header({ ...h, cipherMode: "x".repeat(32) })).to.throw(VirError, /cipher-mode must be printable ASCII shorter than 32/);
  });
});

describe("luks/luks1: layout", () => {
  it("64-byte keys: slots at 8, 512, …, 3536, 504 sectors apart, ending at 4040 (qemu's payload offset)", () => {
    const l = luks1Layout(64);
    expect(l.slotOffsets).to.deep.equal([8, 512, 1016, 1520, 2024, 2528, 3032, 3536]);
    expect(l.slotSectors).to.equal(500);
    expect(l.end).to.equal(4040);
  });

  it("32-byte keys: 250 sectors of material, 256-sector (4 KiB-aligned) steps", () => {
    const l = luks1Layout(32);
    expect(l.slotOffsets[1]! - l.slotOffsets[0]!).to.equal(256);
    expect(l.slotSectors).to.equal(250);
    expect(l.end).to.equal(8 + 8 * 256);
  });
});

describe("luks/luks1: format and unlock", () => {
  const pass = Buffer.from("correct horse battery staple");

  it("formats aes-xts-plain64 sha256 512-bit with slot 0 active, and the passphrase unlocks it", async () => {
    const f = await formatLuks1(pass, { iterations: 1000 });
    const h = f.header;
    expect([h.cipherName, h.cipherMode, h.hashSpec, h.keyBytes, h.payloadOffset]).to.deep.equal(["aes", "xts-plain64", "sha256", 64, 4040]);
    expect(h.keySlots.map((s) => s.active)).to.deep.equal([true, false, false, false, false, false, false, false]);
    expect(h.uuid).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const area = areaOf(f);
    const decoded = decodeLuks1Header(area);
    expect(decoded).to.deep.equal(h);
    const u = await unlockLuks1(decoded, reader(area), pass);
    expect(u.slot).to.equal(0);
    expect(u.masterKey.equals(f.masterKey)).to.equal(true);
    // the key material is not the plain AF split: it is encrypted under the slot key
    expect(area.includes(f.masterKey)).to.equal(false);
  });

  it("refuses a header asking for more PBKDF2 iterations than MAX_UNLOCK_ITERATIONS before spending them", async () => {
    const f = await formatLuks1(pass, { iterations: 1000 });
    const hostile = [
      { ...f.header, keySlots: f.header.keySlots.map((s, i) => (i === 0 ? { ...s, iterations: 0xffffffff } : s)) },
      { ...f.header, mkDigestIterations: MAX_UNLOCK_ITERATIONS + 1 },
    ];
    for (const h of hostile) {
      const started = Date.now();
      let err: unknown;
      try {
        await unlockLuks1(h, reader(areaOf(f)), pass, "LUKS volume '/p/v.img'");
      } catch (e) {
        err = e;
      }
      expect(Date.now() - started).to.be.lessThan(2000);
      expect(err).to.be.instanceOf(VirError);
      expect((err as VirError).codeName).to.equal("CONFIG_UNSUPPORTED");
      expect((err as VirError).message).to.match(/^unsupported configuration: LUKS volume '\/p\/v\.img': (key slot 0|the master-key digest) asks for \d+ PBKDF2 iterations, over the limit of 100000000$/);
    }
  });

  it("a wrong passphrase is INVALID_SECRET with qemu's text, and never shows the passphrase", async () => {
    const f = await formatLuks1(pass, { iterations: 1000 });
    let err: unknown;
    try {
      await unlockLuks1(f.header, reader(areaOf(f)), Buffer.from("wrong horse"), "LUKS volume '/p/v.img'");
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(VirError);
    const e = err as VirError;
    expect(e.codeName).to.equal("INVALID_SECRET");
    expect(e.message).to.equal(`Invalid secret: the passphrase does not open LUKS volume '/p/v.img': ${WRONG_PASSPHRASE_TEXT}`);
    expect(isWrongPassphrase(e)).to.equal(true);
    expect(e.message + String(e.stack)).to.not.include("wrong horse");
  });

  it("tries every active slot: the key found in slot 5 behind a slot 0 that does not open", async () => {
    const f = await formatLuks1(pass, { iterations: 1000 });
    const other = await formatLuks1(Buffer.from("other"), { iterations: 1000 });
    const area = areaOf(f);
    // move slot 0's material to slot 5's area; slot 0 gets another volume's (wrong) material
    const l = luks1Layout(64);
    const s0 = f.header.keySlots[0]!;
    const len = l.slotSectors * 512;
    area.copy(area, l.slotOffsets[5]! * 512, s0.keyMaterialOffset * 512, s0.keyMaterialOffset * 512 + len);
    areaOf(other).copy(area, s0.keyMaterialOffset * 512, s0.keyMaterialOffset * 512, s0.keyMaterialOffset * 512 + len);
    const slots = f.header.keySlots.map((s, i) =>
      i === 0 ? { ...other.header.keySlots[0]! } : i === 5 ? { ...s0, keyMaterialOffset: l.slotOffsets[5]! } : s,
    );
    const h: Luks1Header = { ...f.header, keySlots: slots };
    const u = await unlockLuks1(h, reader(area), pass);
    expect(u.slot).to.equal(5);
    expect(u.masterKey.equals(f.masterKey)).to.equal(true);
    // slot 0 opens with its own passphrase but yields a key whose digest does not match
    let err: unknown;
    try {
      await unlockLuks1(h, reader(area), Buffer.from("other"));
    } catch (e) {
      err = e;
    }
    expect(isWrongPassphrase(err)).to.equal(true);
  });

  it("cbc-essiv:sha256 with a 256-bit key and a cryptsetup-style payload offset", async () => {
    const f = await formatLuks1(pass, { cipherMode: "cbc-essiv:sha256", keyBytes: 32, iterations: 1000, payloadOffset: () => 4096 });
    expect(f.header.keyBytes).to.equal(32);
    expect(f.header.payloadOffset).to.equal(4096);
    const u = await unlockLuks1(decodeLuks1Header(areaOf(f)), reader(areaOf(f)), pass);
    expect(u.masterKey.equals(f.masterKey)).to.equal(true);
  });

  it("iteration counts follow the time asked (with the 1000 floor) and the master key differs each time", async () => {
    const a = await formatLuks1(pass, { iterTimeMs: 1 });
    const b = await formatLuks1(pass, { iterTimeMs: 50 });
    expect(a.header.keySlots[0]!.iterations).to.be.at.least(1000);
    expect(b.header.keySlots[0]!.iterations).to.be.greaterThan(a.header.keySlots[0]!.iterations);
    expect(b.header.mkDigestIterations).to.be.at.least(1000);
    expect(a.masterKey.equals(b.masterKey)).to.equal(false);
    expect(a.masterKey.subarray(0, 32).equals(a.masterKey.subarray(32))).to.equal(false);
  });

  it("refuses bad options with typed errors", async () => {
    const cases: [Parameters<typeof formatLuks1>[1], RegExp][] = [
      [{ iterations: 10 }, /iterations must be an integer from 1000/],
      [{ hashSpec: "md4x" }, /LUKS hash 'md4x' is not supported/],
      [{ cipherMode: "xts-benbi" }, /cipher mode 'xts-benbi' is not supported/],
      [{ keyBytes: 48 }, /384-bit key is not supported/],
      [{ iterations: 1000, payloadOffset: () => 100 }, /payload offset 100 would overlap the key slots/],
    ];
    for (const [opts, re] of cases) {
      let err: unknown;
      try {
        await formatLuks1(pass, opts);
      } catch (e) {
        err = e;
      }
      expect(err, String(re)).to.be.instanceOf(VirError);
      expect((err as Error).message).to.match(re);
    }
    let empty: unknown;
    try {
      await formatLuks1(Buffer.alloc(0));
    } catch (e) {
      empty = e;
    }
    expect((empty as Error).message).to.match(/passphrase must not be empty/);
  });

  it("unlocks with binary passphrases (NUL, newline, high bytes)", async () => {
    const bin = Buffer.concat([Buffer.from([0, 10, 255, 128]), randomBytes(60)]);
    const f = await formatLuks1(bin, { iterations: 1000 });
    const u = await unlockLuks1(f.header, reader(areaOf(f)), bin);
    expect(u.masterKey.equals(f.masterKey)).to.equal(true);
  });
});
