// Schema check for define-with-validation (libvirt's VIR_SECRET_DEFINE_VALIDATE,
// `virsh secret-define --validate`): the document is first read by our
// hardened reader (so malformed input, DOCTYPEs and a wrong root give the same
// errors as without the flag), then checked against schemas/secret.rng with
// libxml2's RelaxNG engine (libxml2-wasm). The compiled schema is cached.

import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { RelaxNGValidator, XmlDocument, XmlLibError, ParseOption } from "libxml2-wasm";
import { VirError } from "../errors.js";
import { DEFAULT_DOC_NAME, readXML } from "./read.js";

export interface ValidateSecretXMLOptions {
  /** name used in well-formedness errors (see parseSecretXML) */
  readonly docName?: string;
}

// The schema ships at <package>/schemas; this file runs from src/xml (tsx) or
// dist/src/xml (built), so try both depths rather than trusting the cwd.
function findSchema(file: string): string {
  for (const up of ["../../schemas/", "../../../schemas/"]) {
    const path = fileURLToPath(new URL(up + file, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new VirError("INTERNAL_ERROR", `cannot find RelaxNG schema ${file}`, "XML");
}

interface CompiledSchema {
  readonly path: string;
  readonly validator: RelaxNGValidator;
}

let secretSchema: CompiledSchema | undefined;

function compiled(): CompiledSchema {
  if (secretSchema) return secretSchema;
  const path = findSchema("secret.rng");
  const rngDoc = XmlDocument.fromString(readFileSync(path, "utf8"), { url: path, option: ParseOption.XML_PARSE_NONET });
  try {
    secretSchema = { path, validator: RelaxNGValidator.fromDoc(rngDoc) };
  } catch (e) {
    throw new VirError("INTERNAL_ERROR", `Unable to parse RNG ${path}`, "XML", { cause: e });
  } finally {
    rngDoc.dispose();
  }
  return secretSchema;
}

/** Absolute path of the schema the validator uses (it appears in error messages). */
export function secretSchemaPath(): string {
  return compiled().path;
}

/**
 * Check a <secret> document as libvirt's --validate does. Throws the
 * reader's errors for malformed input or a wrong root, and
 * VirError XML_INVALID_SCHEMA "XML document failed to validate against schema:
 * Unable to validate doc against <path>\n<relaxng messages, one per line>".
 */
export function validateSecretXML(xml: string, opts: ValidateSecretXMLOptions = {}): void {
  // Our reader refuses DOCTYPEs, so libxml2 never sees a DTD or an entity.
  readXML(xml, { docName: opts.docName ?? DEFAULT_DOC_NAME, rootName: "secret", domain: "SECRET" });
  const { path, validator } = compiled();
  let doc: XmlDocument;
  try {
    doc = XmlDocument.fromString(xml, { option: ParseOption.XML_PARSE_NONET });
  } catch (e) {
    // Unreachable for documents our reader accepts, kept so nothing escapes untyped.
    throw new VirError("XML_ERROR", "failed to parse xml document '(definition_of_secret)'", "XML", { cause: e });
  }
  try {
    validator.validate(doc);
  } catch (e) {
    if (!(e instanceof XmlLibError)) throw e;
    const lines = e.details.map((d) => d.message.replace(/\n+$/, "") + "\n").join("");
    throw new VirError("XML_INVALID_SCHEMA", `Unable to validate doc against ${path}\n${lines}`, "XML");
  } finally {
    doc.dispose();
  }
}
