// Property tests for the lenient UUID parser (src/uuid.ts, virUUIDParse):
// any 16 bytes written as hex pairs in either case, with runs of '-' and ' '
// between pairs and whitespace around, parse back to the same bytes; any
// other text gives null. The oracle is a regular expression of the rule.
import { expect } from "chai";
import fc from "fast-check";
import { canonicalUUID, formatUUID, parseUUID } from "../../../src/uuid.js";
import { mutated } from "./arbitraries.js";

const WS = " \t\n\v\f\r";
const RULE = /^[ \t\n\v\f\r]*[0-9a-fA-F]{2}(?:[- ]*[0-9a-fA-F]{2}){15}[ \t\n\v\f\r]*$/;

const sep = fc.array(fc.constantFrom("-", " "), { maxLength: 3 }).map((c) => c.join(""));
const ws = fc.array(fc.constantFrom(...WS), { maxLength: 3 }).map((c) => c.join(""));

const written = fc
  .record({
    bytes: fc.uint8Array({ minLength: 16, maxLength: 16 }),
    upper: fc.array(fc.boolean(), { minLength: 16, maxLength: 16 }),
    seps: fc.array(sep, { minLength: 15, maxLength: 15 }),
    lead: ws,
    trail: ws,
  })
  .map(({ bytes, upper, seps, lead, trail }) => {
    const pairs = [...bytes].map((b, i) => {
      const h = b.toString(16).padStart(2, "0");
      return upper[i] ? h.toUpperCase() : h;
    });
    return { bytes, text: lead + pairs.map((p, i) => (i === 0 ? p : seps[i - 1] + p)).join("") + trail };
  });

describe("property: lenient UUID parser", () => {
  it("16 bytes written with random case, separators and surrounding whitespace parse back", () => {
    fc.assert(
      fc.property(written, ({ bytes, text }) => {
        expect(parseUUID(text)).to.deep.equal(bytes);
        expect(canonicalUUID(text)).to.equal(formatUUID(bytes));
      }),
      { numRuns: 400 },
    );
  });

  it("anything else is null (mutations and arbitrary strings against the rule)", () => {
    const inputs = fc.oneof(written.chain((w) => mutated(w.text)), fc.string({ maxLength: 40 }), written.map((w) => `{${w.text}}`));
    fc.assert(
      fc.property(inputs, (text) => {
        const got = parseUUID(text);
        if (!RULE.test(text)) {
          expect(got, JSON.stringify(text)).to.equal(null);
          return;
        }
        const hex = text.replace(/[^0-9a-fA-F]/g, "");
        expect(got).to.deep.equal(Uint8Array.from(Buffer.from(hex, "hex")));
      }),
      { numRuns: 600 },
    );
  });
});
