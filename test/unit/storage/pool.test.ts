// src/storage/pool.ts: path sanitising (libvirt's pool-dir fixture path),
// volume names, listing, and header probing of synthetic LUKS1 / qcow
// headers laid out as qemu writes them (npm-stack.md §4.1, §4.2).
import { mkdir, mkdtemp, rm, writeFile, chmod } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { DirPool, probeImageHeader, sanitizePoolPath } from "../../../src/storage/pool.js";
import { formatVolumeXML } from "../../../src/xml/volume.js";
import { expectVirError, expectVirErrorSync } from "./helpers.js";

function luksHeader(payloadSectors: number): Buffer {
  const h = Buffer.alloc(592);
  Buffer.from([0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe]).copy(h, 0);
  h.writeUInt16BE(1, 6);
  h.write("aes", 8);
  h.write("xts-plain64", 40);
  h.write("sha256", 72);
  h.writeUInt32BE(payloadSectors, 104);
  h.writeUInt32BE(64, 108);
  return h;
}

function qcowHeader(version: number, size: bigint, crypt: number, opts: { lazy?: boolean; backing?: string } = {}): Buffer {
  const h = Buffer.alloc(512);
  Buffer.from([0x51, 0x46, 0x49, 0xfb]).copy(h, 0);
  h.writeUInt32BE(version, 4);
  if (opts.backing) {
    h.writeBigUInt64BE(200n, 8);
    h.writeUInt32BE(opts.backing.length, 16);
    h.write(opts.backing, 200);
  }
  h.writeBigUInt64BE(size, 24);
  h.writeUInt32BE(crypt, 32);
  if (opts.lazy) h.writeBigUInt64BE(1n, 80);
  return h;
}

describe("storage/pool", () => {
  it("sanitizes the pool path as libvirt (pool-dir.xml's target path)", () => {
    expect(sanitizePoolPath("///var/////lib/libvirt/images//")).to.equal("/var/lib/libvirt/images");
    expect(sanitizePoolPath("//srv/pool/")).to.equal("//srv/pool");
    expect(sanitizePoolPath("/")).to.equal("/");
    expect(new DirPool("/srv//pool/").path).to.equal("/srv/pool");
    expectVirErrorSync(() => new DirPool("rel/pool"), "INVALID_ARG", "invalid argument: pool path 'rel/pool' must be absolute");
  });

  it("volume names are one file name", () => {
    const pool = new DirPool("/srv/pool");
    expect(pool.volumePath("a.img")).to.equal("/srv/pool/a.img");
    expectVirErrorSync(() => pool.volumePath("../etc/passwd"), "OPERATION_INVALID", "Requested operation is not valid: volume name '../etc/passwd' cannot contain '/'");
    expectVirErrorSync(() => pool.volumePath(".."), "OPERATION_INVALID", "Requested operation is not valid: invalid volume name '..'");
    expectVirErrorSync(() => pool.volumePath(""), "OPERATION_INVALID", "Requested operation is not valid: invalid volume name ''");
  });

  describe("probeImageHeader", () => {
    it("raw LUKS1: encryption luks, size = file size - payload", () => {
      expect(probeImageHeader(luksHeader(4040), 16n * 1048576n + 4040n * 512n)).to.deep.equal({ format: "raw", encryption: "luks", virtualSize: 16n * 1048576n });
    });
    it("qcow2 v2 and v3, with and without LUKS or AES, lazy refcounts and a backing name", () => {
      expect(probeImageHeader(qcowHeader(3, 1024n, 2), 9999n)).to.deep.equal({ format: "qcow2", virtualSize: 1024n, compat: "1.1", encryption: "luks" });
      expect(probeImageHeader(qcowHeader(2, 1024n, 0), 9999n)).to.deep.equal({ format: "qcow2", virtualSize: 1024n, compat: "0.10" });
      expect(probeImageHeader(qcowHeader(3, 5n, 1, { lazy: true, backing: "/base.img" }), 9999n)).to.deep.equal({
        format: "qcow2", virtualSize: 5n, compat: "1.1", lazyRefcounts: true, encryption: "qcow", backingPath: "/base.img",
      });
      expect(probeImageHeader(qcowHeader(1, 7n, 1), 9999n)).to.deep.equal({ format: "qcow", virtualSize: 7n, encryption: "qcow" });
    });
    it("anything else is raw of the file's size (including short files and LUKS2)", () => {
      expect(probeImageHeader(Buffer.alloc(0), 0n)).to.deep.equal({ format: "raw", virtualSize: 0n });
      const luks2 = luksHeader(0);
      luks2.writeUInt16BE(2, 6);
      expect(probeImageHeader(luks2, 100n)).to.deep.equal({ format: "raw", virtualSize: 100n });
      expect(probeImageHeader(Buffer.from("QFI"), 3n)).to.deep.equal({ format: "raw", virtualSize: 3n });
    });
  });

  describe("on disk", () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), "virsecret-pool-test-"));
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it("lists files and directories, sorted; exists()", async () => {
      await writeFile(join(dir, "b.img"), "");
      await writeFile(join(dir, "a.qcow2"), "");
      await mkdir(join(dir, "sub"));
      const pool = new DirPool(dir);
      await pool.check();
      expect(await pool.listVolumes()).to.deep.equal(["a.qcow2", "b.img", "sub"]);
      expect(await pool.exists("b.img")).to.equal(true);
      expect(await pool.exists("c.img")).to.equal(false);
    });

    it("a missing pool directory or volume gives libvirt-style errors", async () => {
      const pool = new DirPool(join(dir, "nope"));
      await expectVirError(() => pool.check(), "SYSTEM_ERROR", `cannot open directory '${join(dir, "nope")}': No such file or directory`);
      await expectVirError(() => pool.listVolumes(), "SYSTEM_ERROR", /No such file or directory/);
      await expectVirError(() => new DirPool(dir).probe("x.img"), "NO_STORAGE_VOL", "Storage volume not found: no storage vol with matching name 'x.img'");
    });

    it("probe rebuilds a LUKS volume's definition with an encryption that names no secret", async () => {
      const file = Buffer.concat([luksHeader(8), Buffer.alloc(8 * 512 - 592), Buffer.alloc(4096)]);
      await writeFile(join(dir, "l.img"), file);
      await chmod(join(dir, "l.img"), 0o640);
      const def = await new DirPool(dir).probe("l.img");
      expect(def.capacity).to.equal(4096n);
      expect(def.key).to.equal(join(dir, "l.img"));
      expect(def.target.format).to.equal("raw");
      expect(def.target.permissions.mode).to.equal(0o640);
      expect(def.target.encryption).to.deep.equal({ format: "luks", engine: "default", secrets: [] });
      expect(formatVolumeXML(def)).to.contain("    <encryption format='luks'>\n    </encryption>\n");
    });

    it("probe of a qcow2 file reads its size and compat", async () => {
      await writeFile(join(dir, "q.qcow2"), qcowHeader(3, 1048576n, 0));
      const def = await new DirPool(dir).probe("q.qcow2");
      expect(def.capacity).to.equal(1048576n);
      expect(def.target.format).to.equal("qcow2");
      expect(def.target.compat).to.equal("1.1");
      expect(def.target.encryption).to.equal(undefined);
    });
  });
});
