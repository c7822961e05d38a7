// src/storage/units.ts: libvirt's size suffixes (virScaleInteger), its
// strtoull checks, and qemu-img's "<KiB>K" size argument.
import { expect } from "chai";
import { LLONG_MAX, parseStorageSize, parseUnsignedInt, parseUnsignedLong, qemuImgSizeArg, scaleInteger, unitScale } from "../../../src/storage/units.js";
import { expectVirErrorSync } from "./helpers.js";

describe("storage/units", () => {
  it("every libvirt unit, case-insensitively", () => {
    const K = 1024n;
    const table: Array<[string, bigint]> = [
      ["b", 1n], ["B", 1n], ["byte", 1n], ["bytes", 1n], ["BYTES", 1n],
      ["k", K], ["KiB", K], ["KB", 1000n], ["kb", 1000n],
      ["M", K ** 2n], ["MiB", K ** 2n], ["MB", 1000n ** 2n],
      ["G", K ** 3n], ["GiB", K ** 3n], ["GB", 1000n ** 3n],
      ["T", K ** 4n], ["TiB", K ** 4n], ["TB", 1000n ** 4n],
      ["P", K ** 5n], ["PiB", K ** 5n], ["PB", 1000n ** 5n],
      ["E", K ** 6n], ["EiB", K ** 6n], ["EB", 1000n ** 6n],
    ];
    for (const [u, f] of table) expect(unitScale(u), u).to.equal(f);
    for (const bad of ["x", "KiBB", "Ki", "kbytes", "Z", "ZiB", "bit", ""]) expect(unitScale(bad), bad).to.equal(null);
  });

  it("parseStorageSize scales and reports libvirt's errors", () => {
    expect(parseStorageSize("5", "G")).to.equal(5368709120n);
    expect(parseStorageSize("294912", undefined)).to.equal(294912n);
    expect(parseStorageSize(" +7", "KB")).to.equal(7000n);
    expect(parseStorageSize("0", "EiB")).to.equal(0n);
    expect(parseStorageSize(String(LLONG_MAX), "b")).to.equal(LLONG_MAX);
    for (const bad of ["", " ", "5 ", "1e3", "0x10", "-1", "- 1", "1.0", "18446744073709551616"]) {
      expectVirErrorSync(() => parseStorageSize(bad, undefined), "XML_ERROR", "XML error: malformed capacity element");
    }
    expectVirErrorSync(() => parseStorageSize(String(LLONG_MAX + 1n), undefined), "OVERFLOW", `numerical overflow: value too large: ${LLONG_MAX + 1n}`);
    expectVirErrorSync(() => parseStorageSize("10", "EB"), "OVERFLOW", "numerical overflow: value too large: 10EB");
    expectVirErrorSync(() => parseStorageSize("1", "yottabytes"), "INVALID_ARG", "invalid argument: unknown suffix 'yottabytes'");
  });

  it("scaleInteger uses the given scale when there is no unit", () => {
    expect(scaleInteger(3n, undefined, 1024n, LLONG_MAX)).to.equal(3072n);
    expect(scaleInteger(3n, "", 1024n, LLONG_MAX)).to.equal(3072n);
    expect(scaleInteger(3n, "b", 1024n, LLONG_MAX)).to.equal(3n);
  });

  it("parseUnsignedLong / parseUnsignedInt bounds", () => {
    expect(parseUnsignedLong("18446744073709551615")).to.equal((1n << 64n) - 1n);
    expect(parseUnsignedLong("18446744073709551616")).to.equal(null);
    expect(parseUnsignedInt("4294967295")).to.equal(4294967295);
    expect(parseUnsignedInt("4294967296")).to.equal(null);
    expect(parseUnsignedInt("\t256")).to.equal(256);
  });

  it("qemu-img size argument rounds up to whole KiB", () => {
    expect(qemuImgSizeArg(0n)).to.equal("0K");
    expect(qemuImgSizeArg(1n)).to.equal("1K");
    expect(qemuImgSizeArg(1024n)).to.equal("1K");
    expect(qemuImgSizeArg(1025n)).to.equal("2K");
    expect(qemuImgSizeArg(5368709120n)).to.equal("5242880K");
    expect(qemuImgSizeArg(LLONG_MAX)).to.equal("9007199254740992K");
  });
});
