import { expect } from "chai";
import { decodeBase64Strict, encodeBase64 } from "../../../src/secret/base64.js";
import { dec, enc, expectVirError } from "./helpers.js";

describe("secret/base64 (Q6 fix: strict decoding)", () => {
  it("decodes standard base64, tolerating surrounding whitespace", () => {
    expect(dec(decodeBase64Strict("aGVsbG8="))).to.equal("hello");
    expect(dec(decodeBase64Strict("aGVsbG8=\n"))).to.equal("hello");
    expect(decodeBase64Strict("").length).to.equal(0);
  });
  it("encodes without newline, as libvirt's .base64 files", () => {
    expect(encodeBase64(enc("hello"))).to.equal("aGVsbG8=");
  });
  it("reads line-wrapped base64 as libvirt does (coreutils `base64` wraps at 76 columns)", () => {
    expect(dec(decodeBase64Strict("aGVs\nbG8="))).to.equal("hello");
    expect(dec(decodeBase64Strict("aGVs bG8=\r\n"))).to.equal("hello");
    const value = new Uint8Array(100).map((_, i) => (i * 37) & 0xff);
    const wrapped = (encodeBase64(value).match(/.{1,76}/g) ?? []).join("\n") + "\n";
    expect(wrapped.split("\n").length).to.equal(3);
    expect([...decodeBase64Strict(wrapped)]).to.deep.equal([...value]);
  });
  it("rejects garbage that libvirt 9.0 would load silently", async () => {
    for (const bad of ["!!!not base64***", "aGVs-bG8=", "aGVsbG8", "aGVsbG8==", "aGVsbG9=", "a=GV", "aGVs\u00a0bG8=", "aGVsbG8=\naGVsbG8="]) {
      await expectVirError(() => decodeBase64Strict(bad), "INVALID_ARG", "invalid argument: invalid base64 data");
    }
    await expectVirError(() => decodeBase64Strict("***", "/x/y.base64"), "INVALID_ARG", "invalid argument: invalid base64 in '/x/y.base64'");
  });
  it("never echoes the input in the error", async () => {
    const e = await expectVirError(() => decodeBase64Strict("TOPSECRET!"), "INVALID_ARG", /invalid base64/);
    expect(e.message).to.not.include("TOPSECRET");
  });
});
