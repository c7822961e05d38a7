// Property tests for strict base64 (src/secret/base64.ts): every byte string
// round trips; any text the strict decoder accepts is, without its ASCII
// spaces, tabs and line breaks, exactly the canonical encoding of what it
// returns; anything else Buffer's lenient decoder would silently alter
// (skip, truncate, re-pad) is refused with a VirError.
import { expect } from "chai";
import fc from "fast-check";
import { isVirError } from "../../../src/errors.js";
import { decodeBase64Strict, encodeBase64 } from "../../../src/secret/base64.js";
import { mutated } from "./arbitraries.js";

const b64Char = fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ \n\t.*");
const b64ish = fc.array(b64Char, { maxLength: 24 }).map((c) => c.join(""));

function decodeOrError(s: string): Uint8Array | "refused" {
  try {
    return decodeBase64Strict(s, "prop");
  } catch (e) {
    expect(isVirError(e, "INVALID_ARG"), String(e)).to.equal(true);
    expect((e as Error).message).to.equal("invalid argument: invalid base64 in 'prop'");
    return "refused";
  }
}

describe("property: strict base64", () => {
  it("decode(encode(bytes)) === bytes, with or without surrounding whitespace or line wrapping", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 96 }), fc.constantFrom("", " ", "\n", "\r\n", "\t "), fc.integer({ min: 1, max: 80 }), (bytes, ws, width) => {
        const text = encodeBase64(bytes);
        expect(Buffer.from(decodeBase64Strict(text)).equals(Buffer.from(bytes))).to.equal(true);
        expect(Buffer.from(decodeBase64Strict(ws + text + ws)).equals(Buffer.from(bytes))).to.equal(true);
        const wrapped = (text.match(new RegExp(`.{1,${width}}`, "g")) ?? []).join(ws === "" ? "\n" : ws);
        expect(Buffer.from(decodeBase64Strict(wrapped)).equals(Buffer.from(bytes))).to.equal(true);
      }),
      { numRuns: 300 },
    );
  });

  it("accepted text is the canonical encoding of its result; what Buffer would alter is refused", () => {
    const inputs = fc.oneof(b64ish, fc.string({ maxLength: 16 }), fc.uint8Array({ maxLength: 24 }).chain((b) => mutated(encodeBase64(b))));
    fc.assert(
      fc.property(inputs, (s) => {
        const got = decodeOrError(s);
        // layout (spaces, tabs, line breaks) is skipped, as libvirt does; nothing else is
        const t = s.replace(/[ \t\r\n]+/g, "");
        const lenient = Buffer.from(t, "base64");
        if (got === "refused") {
          // refused only when the lenient decoder would not give `t` back
          expect(lenient.toString("base64")).to.not.equal(t);
        } else {
          expect(encodeBase64(got)).to.equal(t);
          expect(Buffer.from(got).equals(lenient)).to.equal(true);
        }
      }),
      { numRuns: 600 },
    );
  });
});
