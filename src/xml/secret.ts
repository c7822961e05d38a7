// <secret> XML: parse with libvirt 9.0's rules and order (spec §1.2) and
// format byte-exactly as virSecretDefFormat (spec §1.3).

import { VirError } from "../errors.js";
import { SecretUsageType, USAGE_ID_ELEMENT, type SecretDef, type SecretUsageTypeName } from "../secret/def.js";
import { canonicalUUID, formatUUID, generateUUID, parseUUID } from "../uuid.js";
import { DEFAULT_DOC_NAME, childrenNamed, firstChild, readXML, type XmlElement } from "./read.js";
import { formatXML, type XmlOut } from "./write.js";

export interface ParseSecretXMLOptions {
  /** name used in well-formedness errors; a file path when loading from disk */
  readonly docName?: string;
}

// The message each usage type gives when its id element is missing or empty.
const MISSING_ID: Record<Exclude<SecretUsageTypeName, "none">, string> = {
  volume: "volume usage specified, but volume path is missing",
  ceph: "Ceph usage specified, but name is missing",
  iscsi: "iSCSI usage specified, but target is missing",
  tls: "TLS usage specified, but name is missing",
  vtpm: "vTPM usage specified, but name is missing",
};

// libvirt reads every value through an XPath helper that reports an empty
// string as absent (quirk Q7); this is that rule.
function present(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

function yesNo(root: XmlElement, attr: "ephemeral" | "private"): boolean {
  const value = present(root.attrs.get(attr));
  if (value === undefined || value === "no") return false;
  if (value === "yes") return true;
  throw new VirError("XML_ERROR", `invalid value of '${attr}'`);
}

function isUsageType(type: string): type is SecretUsageTypeName {
  return Object.hasOwn(SecretUsageType, type);
}

/** Text of the first `elem` child across all <usage> elements, as XPath "string(./usage/elem)". */
function firstUsageChildText(usages: readonly XmlElement[], elem: string): string | undefined {
  for (const usage of usages) {
    const found = firstChild(usage, elem);
    if (found) return found.text;
  }
  return undefined;
}

/**
 * Parse a <secret> document exactly as libvirt 9.0 does (no schema check;
 * see validate.ts for --validate). Throws VirError with libvirt's codes and texts.
 */
export function parseSecretXML(xml: string, opts: ParseSecretXMLOptions = {}): SecretDef {
  const root = readXML(xml, { docName: opts.docName ?? DEFAULT_DOC_NAME, rootName: "secret", domain: "SECRET" });

  const ephemeral = yesNo(root, "ephemeral");
  const isPrivate = yesNo(root, "private");

  const uuidText = present(firstChild(root, "uuid")?.text);
  let uuid: string;
  if (uuidText === undefined) {
    uuid = generateUUID();
  } else {
    const raw = parseUUID(uuidText);
    if (raw === null) throw new VirError("INTERNAL_ERROR", "malformed uuid element");
    uuid = formatUUID(raw);
  }

  const description = present(firstChild(root, "description")?.text);

  // Keys that are absent stay absent (no `description: undefined`).
  const base = { uuid, ephemeral, isPrivate, ...(description === undefined ? {} : { description }) };

  const usages = childrenNamed(root, "usage");
  if (usages.length === 0) return { ...base, usageType: "none" };

  // "string(./usage/@type)": the first type attribute in document order, even
  // when it sits on a later <usage> than the first one (verified against 9.0).
  const typeText = present(usages.find((u) => u.attrs.has("type"))?.attrs.get("type"));
  if (typeText === undefined) throw new VirError("XML_ERROR", "unknown secret usage type");
  if (!isUsageType(typeText)) throw new VirError("CONFIG_UNSUPPORTED", `unknown secret usage type ${typeText}`);
  if (typeText === "none") return { ...base, usageType: "none" };

  const usageId = present(firstUsageChildText(usages, USAGE_ID_ELEMENT[typeText]));
  if (usageId === undefined) throw new VirError("INTERNAL_ERROR", MISSING_ID[typeText]);
  return { ...base, usageType: typeText, usageId };
}

/** Format a definition as libvirt prints it: the dumpxml text and the on-disk <uuid>.xml. */
export function formatSecretXML(def: SecretDef): string {
  const uuid = canonicalUUID(def.uuid);
  if (uuid === null) throw new VirError("INTERNAL_ERROR", "malformed uuid element");
  const children: XmlOut[] = [{ name: "uuid", text: uuid }];
  if (present(def.description) !== undefined) children.push({ name: "description", text: def.description });
  if (def.usageType !== "none") {
    if (present(def.usageId) === undefined) throw new VirError("INTERNAL_ERROR", MISSING_ID[def.usageType]);
    children.push({
      name: "usage",
      attrs: [["type", def.usageType]],
      children: [{ name: USAGE_ID_ELEMENT[def.usageType], text: def.usageId }],
    });
  }
  return formatXML({
    name: "secret",
    attrs: [
      ["ephemeral", def.ephemeral ? "yes" : "no"],
      ["private", def.isPrivate ? "yes" : "no"],
    ],
    children,
  });
}
