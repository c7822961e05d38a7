// The native backend end to end on real files (Node only): create raw-LUKS
// and qcow2-LUKS volumes from volume XML, open them, write and read guest
// data at awkward offsets, reopen, and check the qcow2 metadata stays
// consistent (refcounts, COPIED flags) as clusters and tables are allocated.
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { VirError } from "../../../src/errors.js";
import { decodeLuks1Header, isWrongPassphrase } from "../../../src/storage/luks/luks1.js";
import {
  checkNativePassphrase,
  createNativeVolume,
  luksParamsOf,
  openNativeVolume,
  RAW_PAYLOAD_OFFSET,
} from "../../../src/storage/luks/native-backend.js";
import { decodeQcow2Header } from "../../../src/storage/luks/qcow2.js";
import type { VolumeDef } from "../../../src/storage/volume-def.js";
import { parseVolumeXML } from "../../../src/xml/volume.js";
import { checkQcow2 } from "./qcow2-check.js";

const UUID = "f52a81b2-424e-490c-823d-6bd4235bc572";
const KiB = 1024;
const MiB = 1024 * KiB;

async function caught(fn: () => Promise<unknown>): Promise<VirError> {
  try {
    await fn();
  } catch (e) {
    expect(e).to.be.instanceOf(VirError);
    return e as VirError;
  }
  throw new Error("expected a VirError");
}

describe("luks/native-backend: create, open, read, write", function () {
  this.timeout(60_000);
  let dir: string;
  const pass = Buffer.from("native pass\nwith a newline");

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "virsecret-luks-unit-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function vol(name: string, format: string, extra = "", enc = `<encryption format='luks'><secret type='passphrase' uuid='${UUID}'/>${extra}</encryption>`, capacity = "16 MiB", target = ""): VolumeDef {
    const [n, unit] = capacity.split(" ");
    return parseVolumeXML(`<volume><name>${name}</name><capacity unit='${unit ?? "B"}'>${n}</capacity>
      <target><path>${join(dir, name)}</path><format type='${format}'/>${target}${enc}</target></volume>`);
  }

  it("raw LUKS: header as cryptsetup lays it out, payload at 4096 sectors, sparse, mode 0600", async () => {
    const v = vol("r.img", "raw");
    await createNativeVolume(v, pass, { iterations: 1000 });
    const path = join(dir, "r.img");
    const st = await stat(path);
    expect(st.size).to.equal(RAW_PAYLOAD_OFFSET * 512 + 16 * MiB);
    expect(st.mode & 0o777).to.equal(0o600);
    expect(st.blocks * 512).to.be.lessThan(1 * MiB); // only the header and slot 0's material are written
    const h = decodeLuks1Header(await readFile(path));
    expect([h.cipherName, h.cipherMode, h.hashSpec, h.keyBytes, h.payloadOffset]).to.deep.equal(["aes", "xts-plain64", "sha256", 64, 4096]);
    expect(h.keySlots[0]!.iterations).to.equal(1000);
    const nv = await openNativeVolume(path, pass);
    expect(nv.format).to.equal("raw");
    expect(nv.capacity).to.equal(BigInt(16 * MiB));
    expect(nv.cipher).to.equal("aes-xts-plain64");
    expect(nv.keySlot).to.equal(0);
    await nv.close();
  });

  it("raw LUKS: unaligned writes keep their neighbours, reads after reopen return the bytes", async () => {
    await createNativeVolume(vol("r.img", "raw"), pass, { iterations: 1000 });
    const path = join(dir, "r.img");
    const a = await openNativeVolume(path, pass);
    const base = randomBytes(8192);
    await a.write(4096, base);
    const patch = Buffer.from("hello, sector boundary");
    await a.write(4096 + 500, patch); // crosses the 512-byte boundary at 5120... inside sector 8/9
    const inner = Buffer.alloc(3, 0xee);
    await a.write(4096 + 1030, inner); // inside one sector, neither edge aligned
    const want = Buffer.from(base);
    patch.copy(want, 500);
    inner.copy(want, 1030);
    expect((await a.read(4096, 8192)).equals(want)).to.equal(true);
    await a.close();
    const b = await openNativeVolume(path, pass, { readOnly: true });
    expect((await b.read(4096 + 1, 8000)).equals(want.subarray(1, 8001))).to.equal(true);
    // the file holds ciphertext, not the data
    expect((await readFile(path)).includes(patch)).to.equal(false);
    const ro = await caught(() => b.write(0, Buffer.alloc(1)));
    expect(ro.message).to.match(/is open read-only/);
    await b.close();
  });

  it("qcow2 v2 (libvirt's compat 0.10): writes allocate clusters and an L2 table; metadata stays consistent", async () => {
    await createNativeVolume(vol("q.qcow2", "qcow2"), pass, { iterations: 1000 });
    const path = join(dir, "q.qcow2");
    expect((await stat(path)).size).to.equal(36 * 64 * KiB);
    const fresh = await checkQcow2(path);
    expect(fresh.errors).to.deep.equal([]);
    expect(fresh.dataClusters).to.equal(0);
    const h = decodeQcow2Header(await readFile(path));
    expect([h.version, h.cryptMethod, h.size]).to.deep.equal([2, 2, BigInt(16 * MiB)]);

    const q = await openNativeVolume(path, pass);
    expect(q.format).to.equal("qcow2");
    expect((await q.read(0, 100_000)).every((b) => b === 0)).to.equal(true); // unallocated reads as zeros
    const data = randomBytes(200_000);
    await q.write(60_000, data); // spans guest clusters 0..3, none aligned
    await q.write(15 * MiB + 7, Buffer.from("tail of the disk"));
    const after = await checkQcow2(path);
    expect(after.errors).to.deep.equal([]);
    expect(after.l2Tables).to.equal(1);
    expect(after.dataClusters).to.equal(5);
    // the untouched start of cluster 0 still reads as zeros (a new cluster is written whole)
    expect((await q.read(0, 60_000)).every((b) => b === 0)).to.equal(true);
    expect((await q.read(60_000, data.length)).equals(data)).to.equal(true);
    // rewriting an allocated cluster stays in place
    await q.write(70_000, Buffer.alloc(10, 1));
    expect((await checkQcow2(path)).dataClusters).to.equal(5);
    await q.close();
    const r = await openNativeVolume(path, pass, { readOnly: true });
    const want = Buffer.from(data);
    Buffer.alloc(10, 1).copy(want, 10_000);
    expect((await r.read(60_000, data.length)).equals(want)).to.equal(true);
    expect((await r.read(15 * MiB + 7, 16)).toString()).to.equal("tail of the disk");
    await r.close();
  });

  it("qcow2 v3 with 512-byte clusters: new refcount blocks are allocated and count themselves", async () => {
    await createNativeVolume(vol("s.qcow2", "qcow2", "", undefined, "4 MiB", "<compat>1.1</compat><clusterSize unit='B'>512</clusterSize>"), pass, { iterations: 1000 });
    const path = join(dir, "s.qcow2");
    expect((await checkQcow2(path)).errors).to.deep.equal([]);
    const q = await openNativeVolume(path, pass);
    const data = randomBytes(400 * KiB); // 800 data clusters + L2 tables: several new refcount blocks
    await q.write(1 * MiB + 3, data);
    await q.close();
    const res = await checkQcow2(path);
    expect(res.errors).to.deep.equal([]);
    expect(res.dataClusters).to.equal(801);
    const r = await openNativeVolume(path, pass, { readOnly: true });
    expect((await r.read(1 * MiB + 3, data.length)).equals(data)).to.equal(true);
    await r.close();
  });

  it("unencrypted qcow2 is made and read too (no passphrase needed)", async () => {
    await createNativeVolume(vol("p.qcow2", "qcow2", "", ""), undefined);
    const path = join(dir, "p.qcow2");
    const q = await openNativeVolume(path, undefined);
    expect(q.encrypted).to.equal(false);
    await q.write(1000, Buffer.from("plain data"));
    await q.close();
    expect((await readFile(path)).includes(Buffer.from("plain data"))).to.equal(true);
    expect((await checkQcow2(path)).errors).to.deep.equal([]);
  });

  it("the XML's cipher is honoured: aes-256 cbc essiv sha256 and aes-128 xts sha1", async () => {
    const cbc = vol("c.img", "raw", "<cipher name='aes' size='256' mode='cbc' hash='sha256'/><ivgen name='essiv' hash='sha256'/>");
    expect(luksParamsOf(cbc)).to.deep.equal({ cipherName: "aes", mode: { chain: "cbc", ivgen: { name: "essiv", hash: "sha256" } }, hashSpec: "sha256", keyBytes: 32 });
    await createNativeVolume(cbc, pass, { iterations: 1000 });
    const h = decodeLuks1Header(await readFile(join(dir, "c.img")));
    expect([h.cipherMode, h.keyBytes]).to.deep.equal(["cbc-essiv:sha256", 32]);
    const x = vol("x.qcow2", "qcow2", "<cipher name='aes' size='128' mode='xts' hash='sha1'/>");
    await createNativeVolume(x, pass, { iterations: 1000 });
    for (const name of ["c.img", "x.qcow2"]) {
      const v = await openNativeVolume(join(dir, name), pass);
      await v.write(513, Buffer.from("cipher check"));
      expect((await v.read(513, 12)).toString()).to.equal("cipher check");
      await v.close();
    }
  });

  it("a wrong passphrase is INVALID_SECRET naming the path, for raw and qcow2, never echoing the passphrase", async () => {
    await createNativeVolume(vol("r.img", "raw"), pass, { iterations: 1000 });
    await createNativeVolume(vol("q.qcow2", "qcow2"), pass, { iterations: 1000 });
    for (const name of ["r.img", "q.qcow2"]) {
      const e = await caught(() => openNativeVolume(join(dir, name), Buffer.from("secret-guess-123")));
      expect(isWrongPassphrase(e)).to.equal(true);
      expect(e.message).to.equal(`Invalid secret: the passphrase does not open LUKS volume '${join(dir, name)}': Invalid password, cannot unlock any keyslot`);
      expect(e.message + e.stack).to.not.include("secret-guess-123");
      await checkNativePassphrase(join(dir, name), pass);
      const none = await caught(() => openNativeVolume(join(dir, name), undefined));
      expect(none.message).to.match(/is encrypted: a passphrase is needed/);
    }
  });

  it("refuses what it cannot do, with libvirt's rule errors first", async () => {
    const cases: [VolumeDef, Uint8Array | undefined, string | RegExp][] = [
      [vol("a.vmdk", "vmdk"), pass, "unsupported configuration: volume encryption unsupported with format vmdk"],
      [vol("b.img", "raw", "", "<encryption format='qcow'><secret type='passphrase' uuid='" + UUID + "'/></encryption>"), pass, "internal error: Only luks encryption is supported for raw files"],
      [vol("c.vmdk", "vmdk", "", ""), undefined, /native backend cannot create vmdk volumes/],
      [vol("d.img", "raw", "<cipher name='serpent' size='256' mode='xts' hash='sha256'/>"), pass, /supports cipher aes only, not 'serpent'/],
      [vol("e.img", "raw", "<cipher name='aes' size='192' mode='xts' hash='sha256'/>"), pass, /cannot use aes-192 with mode xts/],
      [vol("f.img", "raw", "<cipher name='aes' size='256' mode='xts' hash='sha256'/><ivgen name='benbi'/>"), pass, /ivgen plain, plain64 and essiv, not 'benbi'/],
      [vol("g.img", "raw"), undefined, /missing passphrase/],
      [vol("h.qcow2", "qcow2", "", undefined, "1 MiB", "<clusterSize unit='B'>1000</clusterSize>"), pass, /cluster size 1000 must be a power of two/],
    ];
    for (const [v, p, msg] of cases) {
      const e = await caught(() => createNativeVolume(v, p, { iterations: 1000 }));
      if (typeof msg === "string") expect(e.message).to.equal(msg);
      else expect(e.message).to.match(msg);
      expect(e.message).to.not.include(pass.toString());
    }
    // nothing was left behind
    const left = await readdir(dir);
    expect(left).to.deep.equal([]);
  });

  it("an existing file is STORAGE_VOL_EXIST and is left alone; an aborted create leaves nothing", async () => {
    const path = join(dir, "r.img");
    await writeFile(path, "not ours");
    const e = await caught(() => createNativeVolume(vol("r.img", "raw"), pass, { iterations: 1000 }));
    expect(e.codeName).to.equal("STORAGE_VOL_EXIST");
    expect(await readFile(path, "utf8")).to.equal("not ours");
    const ac = new AbortController();
    ac.abort();
    const a = await caught(() => createNativeVolume(vol("s.img", "raw"), pass, { iterations: 1000, signal: ac.signal }));
    expect(a.codeName).to.equal("OPERATION_ABORTED");
    const left = await readdir(dir);
    expect(left).to.deep.equal(["r.img"]);
  });

  it("capacity is rounded up to KiB like the qemu-img backend; ranges past the end are refused", async () => {
    await createNativeVolume(vol("r.img", "raw", "", undefined, "1000 B"), pass, { iterations: 1000 });
    const v = await openNativeVolume(join(dir, "r.img"), pass);
    expect(v.capacity).to.equal(1024n);
    await v.write(1000, Buffer.alloc(24, 3));
    const e = await caught(() => v.read(1000, 25));
    expect(e.message).to.match(/range 1000\+25 is past the end of volume/);
    const neg = await caught(() => v.read(-1, 1));
    expect(neg.message).to.match(/offset -1 is not a non-negative integer/);
    await v.close();
    await v.close(); // twice is fine
    const closed = await caught(() => v.read(0, 1));
    expect(closed.message).to.match(/is closed/);
  });

  it("opening something that is not a volume, or is missing, is a typed error", async () => {
    await writeFile(join(dir, "junk"), Buffer.alloc(4096, 1));
    expect((await caught(() => openNativeVolume(join(dir, "junk"), pass))).message).to.match(/is neither a LUKS nor a qcow2 volume/);
    expect((await caught(() => openNativeVolume(join(dir, "none"), pass))).codeName).to.equal("NO_STORAGE_VOL");
  });
});
