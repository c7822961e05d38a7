// Property tests: formatting is a fixed point of parsing, and no input makes
// the parser or the validator throw anything but a VirError.
import { expect } from "chai";
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { VirError } from "../../../src/errors.js";
import { USAGE_ID_ELEMENT, type SecretDef } from "../../../src/secret/def.js";
import { formatUUID } from "../../../src/uuid.js";
import { formatSecretXML, parseSecretXML } from "../../../src/xml/secret.js";
import { validateSecretXML } from "../../../src/xml/validate.js";

// Text XML can carry and libvirt writes unchanged: any Unicode scalar value
// that is an XML Char, minus CR (read back as LF by every XML parser, libvirt
// included) and minus the controls virBufferEscapeString drops.
const xmlChar = fc
  .oneof(
    fc.constantFrom("&", "<", ">", '"', "'", " ", "\t", "\n", "]]>", "&amp;", "ü", "\u{1F600}"),
    fc.integer({ min: 0x20, max: 0x10ffff }).filter((cp) => (cp < 0xd800 || cp > 0xdfff) && cp !== 0xfffe && cp !== 0xffff).map((cp) => String.fromCodePoint(cp)),
  );
const xmlText = fc.array(xmlChar, { maxLength: 40 }).map((parts) => parts.join(""));
const uuid = fc.uint8Array({ minLength: 16, maxLength: 16 }).map(formatUUID);

const secretDef: fc.Arbitrary<SecretDef> = fc
  .record({
    uuid,
    ephemeral: fc.boolean(),
    isPrivate: fc.boolean(),
    description: fc.option(xmlText.filter((s) => s !== ""), { nil: undefined }),
    usage: fc.option(
      fc.record({
        usageType: fc.constantFrom("volume", "ceph", "iscsi", "tls", "vtpm" as const),
        usageId: xmlText.filter((s) => s !== ""),
      }),
      { nil: undefined },
    ),
  })
  .map(({ description, usage, ...rest }) => ({
    ...rest,
    ...(description === undefined ? {} : { description }),
    ...(usage === undefined ? { usageType: "none" as const } : usage),
  }));

function onlyVirErrors(run: () => unknown): void {
  try {
    run();
  } catch (e) {
    if (!(e instanceof VirError)) throw e;
    // Every error renders its libvirt text and nothing else.
    expect(e.message.length).to.be.greaterThan(0);
  }
}

describe("xml properties", () => {
  it("parse(format(def)) gives back def, and format is a fixed point", () => {
    fc.assert(
      fc.property(secretDef, (def) => {
        const xml = formatSecretXML(def);
        const back = parseSecretXML(xml);
        expect(back).to.deep.equal(def);
        expect(formatSecretXML(back)).to.equal(xml);
      }),
      { numRuns: 500 },
    );
  });

  it("dropped control characters vanish on output and the rest survives", () => {
    const withControls = fc
      .array(fc.oneof(xmlChar, fc.constantFrom("\u0001", "\u0008", "\u000b", "\u000c", "\u000e", "\u0019")), { minLength: 1, maxLength: 30 })
      .map((p) => p.join(""));
    fc.assert(
      fc.property(uuid, withControls, withControls, (u, description, usageId) => {
        const clean = (s: string) => s.replace(/[\x01-\x08\x0B\x0C\x0E-\x19]/g, "");
        fc.pre(clean(usageId) !== "");
        const def: SecretDef = { uuid: u, ephemeral: false, isPrivate: true, description, usageType: "tls", usageId };
        const back = parseSecretXML(formatSecretXML(def));
        expect(back.description).to.equal(clean(description) === "" ? undefined : clean(description));
        expect(back.usageId).to.equal(clean(usageId));
      }),
    );
  });

  it("well-formed input with the id element of each type parses to that id", () => {
    fc.assert(
      fc.property(fc.constantFrom("volume", "ceph", "iscsi", "tls", "vtpm" as const), xmlText.filter((s) => s !== ""), (type, id) => {
        const elem = USAGE_ID_ELEMENT[type];
        const escaped = id.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
        const def = parseSecretXML(`<secret><usage type='${type}'><${elem}>${escaped}</${elem}></usage></secret>`);
        expect(def.usageId).to.equal(id);
      }),
    );
  });

  it("arbitrary strings give a definition or a VirError, never anything else", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: "binary" }), fc.string({ unit: fc.constantFrom("<", ">", "/", "&", ";", "#", "x", "'", '"', "=", " ", "!", "?", "-", "[", "]", "secret", "uuid", "usage") })), (s) => {
        onlyVirErrors(() => parseSecretXML(s));
      }),
      { numRuns: 1000 },
    );
  });

  // Random edits of a valid document reach far deeper into the parser than random strings.
  const SEED = readFileSync(
    fileURLToPath(new URL("../../../fixtures/secret/roundtrip/description-escapes.xml", import.meta.url)),
    "utf8",
  );
  const edit = fc.record({
    at: fc.nat(),
    del: fc.nat({ max: 6 }),
    ins: fc.string({ unit: fc.constantFrom("<", ">", "/", "&", ";", "#", "x", "'", '"', "=", " ", "\n", "!", "?", "-", "]]>", "&amp;", "&#0;", "&#x41;", "<!DOCTYPE a>", "<usage type='ceph'>", "</usage>", "<name>", "\u0000", "\u0001", "\uD800", "uuid", "volume") , maxLength: 3 }),
  });
  const mutated = fc.array(edit, { minLength: 1, maxLength: 5 }).map((edits) => {
    let s = SEED;
    for (const { at, del, ins } of edits) {
      const p = at % (s.length + 1);
      s = s.slice(0, p) + ins + s.slice(p + del);
    }
    return s;
  });

  it("mutated valid documents give a definition or a VirError", () => {
    fc.assert(fc.property(mutated, (s) => onlyVirErrors(() => parseSecretXML(s))), { numRuns: 3000 });
  });

  it("the validator gives only VirErrors too, and accepts nothing the parser rejects", () => {
    fc.assert(
      fc.property(mutated, (s) => {
        let parsed = true;
        try {
          parseSecretXML(s);
        } catch (e) {
          if (!(e instanceof VirError)) throw e;
          parsed = false;
        }
        let valid = true;
        try {
          validateSecretXML(s);
        } catch (e) {
          if (!(e instanceof VirError)) throw e;
          valid = false;
        }
        if (valid) expect(parsed, "schema-valid but parser-rejected").to.equal(true);
      }),
      { numRuns: 1000 },
    );
  });
});
