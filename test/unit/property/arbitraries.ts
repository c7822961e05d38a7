// Shared generators for the property tests: XML-safe text, document
// mutations, and the "only VirError" check.
import { expect } from "chai";
import fc from "fast-check";
import { VirError } from "../../../src/errors.js";

/**
 * One character libvirt-style XML writes and reads back unchanged: an XML
 * Char other than CR (read back as LF) and the C0 controls that
 * virBufferEscapeString drops. Markup characters are over-represented.
 */
export const xmlChar: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom("&", "<", ">", '"', "'", " ", "\t", "\n", "]]>", "&amp;", "ü", "\u{1F600}", "\u00A0"),
  fc
    .integer({ min: 0x20, max: 0x10ffff })
    .filter((cp) => (cp < 0xd800 || cp > 0xdfff) && cp !== 0xfffe && cp !== 0xffff)
    .map((cp) => String.fromCodePoint(cp)),
);

export const xmlText = (maxLength = 30): fc.Arbitrary<string> =>
  fc.array(xmlChar, { maxLength }).map((parts) => parts.join(""));

export const nonEmptyXmlText = (maxLength = 30): fc.Arbitrary<string> =>
  fc.array(xmlChar, { minLength: 1, maxLength }).map((parts) => parts.join(""));

/** Pieces an edit may insert: markup fragments, entities, odd characters. */
const fragment = fc.oneof(
  fc.constantFrom(
    "<", ">", "/>", "</", "&", "&amp;", "&#0;", "&#x110000;", "&lt", "'", '"', "=", "<!--", "-->", "<![CDATA[", "]]>",
    "<!DOCTYPE x>", "<?pi?>", "\u0000", "\uFFFE", "\uD800", "x", "-1", "99999999999999999999999", "0x1", " ", "\n",
  ),
  fc.string({ maxLength: 6 }),
);

/** A random edit: delete, insert or duplicate a slice of the document. */
const edit = fc.tuple(fc.constantFrom("delete", "insert", "duplicate", "replace"), fc.nat(), fc.nat({ max: 12 }), fragment);

/** Apply 1-3 random edits to a document. */
export function mutated(doc: string): fc.Arbitrary<string> {
  return fc.array(edit, { minLength: 1, maxLength: 3 }).map((edits) => {
    let s = doc;
    for (const [kind, at, len, text] of edits) {
      const i = s.length === 0 ? 0 : at % (s.length + 1);
      switch (kind) {
        case "delete":
          s = s.slice(0, i) + s.slice(i + len);
          break;
        case "insert":
          s = s.slice(0, i) + text + s.slice(i);
          break;
        case "duplicate":
          s = s.slice(0, i + len) + s.slice(i, i + len) + s.slice(i + len);
          break;
        case "replace":
          s = s.slice(0, i) + text + s.slice(i + len);
          break;
      }
    }
    return s;
  });
}

/** Run `f`; anything it throws must be a VirError. */
export function onlyVirError(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    expect(e, String(e instanceof Error ? e.stack : e)).to.be.instanceOf(VirError);
  }
}

/**
 * Text for an attribute value: as xmlText without TAB and LF, which XML
 * attribute-value normalisation reads back as spaces (libvirt writes them
 * literally, so they do not survive its round trip either).
 */
export const attrText = (maxLength = 30): fc.Arbitrary<string> =>
  fc.array(xmlChar.filter((c) => c !== "\t" && c !== "\n"), { maxLength }).map((parts) => parts.join(""));
