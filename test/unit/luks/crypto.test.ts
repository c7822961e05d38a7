// The LUKS building blocks on their own: the sector cipher against the IEEE
// 1619 XTS-AES vectors (512-byte data units), plain/plain64/essiv IVs, the AF
// splitter (round trip, diffusion, properties) and PBKDF2 iteration sizing.
import { createCipheriv, createHash, pbkdf2Sync } from "node:crypto";
import { expect } from "chai";
import fc from "fast-check";
import { VirError } from "../../../src/errors.js";
import { afMerge, afSplit, diffuse } from "../../../src/storage/luks/af.js";
import { iterationsForTime, MIN_ITERATIONS, pbkdf2Async } from "../../../src/storage/luks/pbkdf.js";
import { createSectorCipher, formatCipherMode, parseCipherMode } from "../../../src/storage/luks/xts.js";

const hex = (s: string): Buffer => Buffer.from(s, "hex");

// IEEE 1619-2007 XTS-AES-128, vectors 4 and 5: Key1 ‖ Key2, data unit 512 bytes.
const V_KEY = hex("27182818284590452353602874713526" + "31415926535897932384626433832795");
const V4_PT = Buffer.from(Array.from({ length: 512 }, (_, i) => i % 256));
const V4_CT = hex(
  "27a7479befa1d476489f308cd4cfa6e2a96e4bbe3208ff25287dd3819616e89cc78cf7f5e543445f8333d8fa7f56000005279fa5d8b5e4ad40e736ddb4d35412" +
    "328063fd2aab53e5ea1e0a9f332500a5df9487d07a5c92cc512c8866c7e860ce93fdf166a24912b422976146ae20ce846bb7dc9ba94a767aaef20c0d61ad0265" +
    "5ea92dc4c4e41a8952c651d33174be51a10c421110e6d81588ede82103a252d8a750e8768defffed9122810aaeb99f9172af82b604dc4b8e51bcb08235a6f434" +
    "1332e4ca60482a4ba1a03b3e65008fc5da76b70bf1690db4eae29c5f1badd03c5ccf2a55d705ddcd86d449511ceb7ec30bf12b1fa35b913f9f747a8afd1b130e" +
    "94bff94effd01a91735ca1726acd0b197c4e5b03393697e126826fb6bbde8ecc1e08298516e2c9ed03ff3c1b7860f6de76d4cecd94c8119855ef5297ca67e9f3" +
    "e7ff72b1e99785ca0a7e7720c5b36dc6d72cac9574c8cbbc2f801e23e56fd344b07f22154beba0f08ce8891e643ed995c94d9a69c9f1b5f499027a78572aeebd" +
    "74d20cc39881c213ee770b1010e4bea718846977ae119f7a023ab58cca0ad752afe656bb3c17256a9f6e9bf19fdd5a38fc82bbe872c5539edb609ef4f79c203e" +
    "bb140f2e583cb2ad15b4aa5b655016a8449277dbd477ef2c8d6c017db738b18deb4a427d1923ce3ff262735779a418f20a282df920147beabe421ee5319d0568",
);
// vector 5: data unit sequence number 1, plaintext = vector 4's ciphertext
const V5_CT = hex(
  "264d3ca8512194fec312c8c9891f279fefdd608d0c027b60483a3fa811d65ee59d52d9e40ec5672d81532b38b6b089ce951f0f9c35590b8b978d175213f329bb" +
    "1c2fd30f2f7f30492a61a532a79f51d36f5e31a7c9a12c286082ff7d2394d18f783e1a8e72c722caaaa52d8f065657d2631fd25bfd8e5baad6e527d763517501" +
    "c68c5edc3cdd55435c532d7125c8614deed9adaa3acade5888b87bef641c4c994c8091b5bcd387f3963fb5bc37aa922fbfe3df4e5b915e6eb514717bdd2a7407" +
    "9a5073f5c4bfd46adf7d282e7a393a52579d11a028da4d9cd9c77124f9648ee383b1ac763930e7162a8d37f350b2f74b8472cf09902063c6b32e8c2d9290cefb" +
    "d7346d1c779a0df50edcde4531da07b099c638e83a755944df2aef1aa31752fd323dcb710fb4bfbb9d22b925bc3577e1b8949e729a90bbafeacf7f7879e7b114" +
    "7e28ba0bae940db795a61b15ecf4df8db07b824bb062802cc98a9545bb2aaeed77cb3fc6db15dcd7d80d7d5bc406c4970a3478ada8899b329198eb61c193fb62" +
    "75aa8ca340344a75a862aebe92eee1ce032fd950b47d7704a3876923b4ad62844bf4a09c4dbe8b4397184b7471360c9564880aedddb9baa4af2e75394b08cd32" +
    "ff479c57a07d3eab5d54de5f9738b8d27f27a9f0ab11799d7b7ffefb2704c95c6ad12c39f1e867a4b7b1d7818a4b753dfd2a89ccb45e001a03a867b187f225dd",
);

describe("luks/xts: sector cipher", () => {
  it("matches IEEE 1619 XTS-AES-128 vector 4 (sector 0) both ways", () => {
    const c = createSectorCipher("aes", "xts-plain64", V_KEY);
    expect(c.encrypt(V4_PT, 0n).equals(V4_CT)).to.equal(true);
    expect(c.decrypt(V4_CT, 0n).equals(V4_PT)).to.equal(true);
  });

  it("matches vector 5 (sector 1) and numbers several sectors from the first one", () => {
    const c = createSectorCipher("aes", "xts-plain64", V_KEY);
    expect(c.encrypt(V4_CT, 1n).equals(V5_CT)).to.equal(true);
    // two sectors in one call: sector 0 then sector 1
    const two = c.encrypt(Buffer.concat([V4_PT, V4_CT]), 0n);
    expect(two.equals(Buffer.concat([V4_CT, V5_CT]))).to.equal(true);
  });

  it("plain64 and plain differ only past 2^32 sectors", () => {
    const key = Buffer.alloc(64);
    for (let i = 0; i < 64; i++) key[i] = i;
    const p64 = createSectorCipher("aes", "xts-plain64", key);
    const p32 = createSectorCipher("aes", "xts-plain", key);
    const data = Buffer.alloc(512, 7);
    expect(p64.encrypt(data, 5n).equals(p32.encrypt(data, 5n))).to.equal(true);
    const big = (1n << 32n) + 5n;
    expect(p64.encrypt(data, big).equals(p32.encrypt(data, big))).to.equal(false);
    expect(p32.encrypt(data, big).equals(p32.encrypt(data, 5n))).to.equal(true);
  });

  it("cbc-essiv:sha256 uses E_{sha256(key)}(sector) as the CBC IV", () => {
    const key = hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    const data = Buffer.from(Array.from({ length: 1024 }, (_, i) => (i * 7) & 0xff));
    const got = createSectorCipher("aes", "cbc-essiv:sha256", key).encrypt(data, 41n);
    const salt = createHash("sha256").update(key).digest();
    const want: Buffer[] = [];
    for (let s = 0; s < 2; s++) {
      const block = Buffer.alloc(16);
      block.writeBigUInt64LE(41n + BigInt(s));
      const ecb = createCipheriv("aes-256-ecb", salt, null).setAutoPadding(false);
      const iv = Buffer.concat([ecb.update(block), ecb.final()]);
      const cbc = createCipheriv("aes-256-cbc", key, iv).setAutoPadding(false);
      want.push(cbc.update(data.subarray(s * 512, s * 512 + 512)), cbc.final());
    }
    expect(got.equals(Buffer.concat(want))).to.equal(true);
    expect(createSectorCipher("aes", "cbc-essiv:sha256", key).decrypt(got, 41n).equals(data)).to.equal(true);
  });

  it("refuses an XTS key with equal halves, partial sectors and unknown modes with typed errors", () => {
    const half = Buffer.alloc(32, 9);
    expect(() => createSectorCipher("aes", "xts-plain64", Buffer.concat([half, half]))).to.throw(VirError, /two halves are equal/);
    const c = createSectorCipher("aes", "xts-plain64", V_KEY);
    expect(() => c.encrypt(Buffer.alloc(100), 0n)).to.throw(VirError, /not a whole number of sectors/);
    expect(() => parseCipherMode("ecb")).to.throw(VirError, /cipher mode 'ecb' is not supported/);
    expect(() => createSectorCipher("twofish", "xts-plain64", V_KEY)).to.throw(VirError, /twofish-xts-plain64 with a 256-bit key is not supported/);
    expect(() => createSectorCipher("aes", "xts-plain64", Buffer.alloc(48, 1))).to.throw(VirError, /384-bit key/);
  });

  it("a disposed cipher is unusable", () => {
    const c = createSectorCipher("aes", "xts-plain64", V_KEY);
    c.dispose();
    expect(() => c.encrypt(V4_PT, 0n)).to.throw(VirError, /closed/);
  });

  it("parses and formats cipher modes", () => {
    for (const m of ["xts-plain64", "xts-plain", "cbc-plain64", "cbc-essiv:sha256"]) {
      expect(formatCipherMode(parseCipherMode(m))).to.equal(m);
    }
  });
});

describe("luks/af: anti-forensic split and merge", () => {
  it("diffuse hashes digest-sized chunks with a big-endian counter", () => {
    const buf = Buffer.from(Array.from({ length: 40 }, (_, i) => i));
    const h = (j: number, part: Buffer): Buffer => {
      const c = Buffer.alloc(4);
      c.writeUInt32BE(j);
      return createHash("sha256").update(c).update(part).digest();
    };
    const want = Buffer.concat([h(0, buf.subarray(0, 32)), h(1, buf.subarray(32)).subarray(0, 8)]);
    expect(diffuse(buf, "sha256").equals(want)).to.equal(true);
  });

  it("split of a 64-byte key into 4000 stripes merges back; a changed stripe breaks it", () => {
    const key = Buffer.from(Array.from({ length: 64 }, (_, i) => 255 - i));
    const m = afSplit(key, 4000, "sha256");
    expect(m.length).to.equal(64 * 4000);
    expect(afMerge(m, 64, 4000, "sha256").equals(key)).to.equal(true);
    m[1234] ^= 1;
    expect(afMerge(m, 64, 4000, "sha256").equals(key)).to.equal(false);
  });

  it("the last stripe is the chained diffusion xor the key (one-stripe split is the key itself)", () => {
    const key = Buffer.from("0123456789abcdef0123456789abcdef");
    expect(afSplit(key, 1, "sha1").equals(key)).to.equal(true);
    const s0 = Buffer.alloc(32, 0x11);
    const two = afSplit(key, 2, "sha256", () => Buffer.from(s0));
    const d = diffuse(s0, "sha256");
    const last = Buffer.from(d.map((b, i) => b ^ key[i]!));
    expect(two.equals(Buffer.concat([s0, last]))).to.equal(true);
  });

  it("property: merge(split(k)) = k for any key, stripe count and hash", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 96 }),
        fc.integer({ min: 1, max: 64 }),
        fc.constantFrom("sha1", "sha256", "sha512", "ripemd160"),
        (key, stripes, hash) => {
          const m = afSplit(key, stripes, hash);
          expect(m.length).to.equal(key.length * stripes);
          expect(afMerge(m, key.length, stripes, hash).equals(Buffer.from(key))).to.equal(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("refuses an unknown hash", () => {
    expect(() => afSplit(Buffer.alloc(32), 10, "nohash")).to.throw(VirError, /LUKS hash 'nohash' is not supported/);
  });
});

describe("luks/pbkdf: PBKDF2 and iteration sizing", () => {
  it("pbkdf2Async equals node's pbkdf2Sync", async () => {
    const got = await pbkdf2Async(Buffer.from("pass"), Buffer.from("salt"), 1234, 64, "sha256");
    expect(got.equals(pbkdf2Sync("pass", "salt", 1234, 64, "sha256"))).to.equal(true);
  });

  it("sizes iterations to the time asked, never below the floor", async () => {
    const tiny = await iterationsForTime("sha256", 64, 0.001);
    expect(tiny).to.equal(MIN_ITERATIONS);
    const ten = await iterationsForTime("sha256", 64, 10);
    const hundred = await iterationsForTime("sha256", 64, 100);
    expect(hundred).to.be.greaterThan(ten);
    // one measured rate: 10x the time is 10x the iterations (within rounding)
    expect(Math.abs(hundred - 10 * ten)).to.be.lessThan(20);
    const t0 = Date.now();
    await pbkdf2Async(Buffer.from("x"), Buffer.alloc(32), hundred, 64, "sha256");
    // loose bounds: a busy CI machine is slower, never 10x faster
    expect(Date.now() - t0).to.be.lessThan(2000);
  });

  it("refuses a non-positive time", async () => {
    let err: unknown;
    try {
      await iterationsForTime("sha256", 64, 0);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(VirError);
    expect((err as VirError).message).to.match(/iteration time must be a positive number/);
  });
});
