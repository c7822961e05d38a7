// A schemas/*.rng checker for configuration tests: the schema is compiled with
// libxml2's RelaxNG engine on first use and kept, so a table of documents
// costs one compile.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ParseOption, RelaxNGValidator, XmlDocument } from "libxml2-wasm";

/** `accepts(xml)`: true when the document is valid against schemas/`file` (e.g. "keystore.rng"). */
export function relaxNG(file: string): { readonly file: string; accepts(xml: string): boolean } {
  const path = fileURLToPath(new URL(`../../schemas/${file}`, import.meta.url));
  let validator: RelaxNGValidator | undefined;
  const compiled = (): RelaxNGValidator => {
    if (validator) return validator;
    const rng = XmlDocument.fromString(readFileSync(path, "utf8"), { url: path, option: ParseOption.XML_PARSE_NONET });
    try {
      validator = RelaxNGValidator.fromDoc(rng);
    } finally {
      rng.dispose();
    }
    return validator;
  };
  return {
    file,
    accepts(xml: string): boolean {
      const v = compiled();
      const doc = XmlDocument.fromString(xml, { option: ParseOption.XML_PARSE_NONET });
      try {
        v.validate(doc);
        return true;
      } catch {
        return false;
      } finally {
        doc.dispose();
      }
    },
  };
}
