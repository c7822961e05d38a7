// KMIP object attributes in both encodings: KMIP 1.x wraps each attribute in
// an `Attribute { Attribute Name, [Attribute Index], Attribute Value }`
// structure (inside Template-Attribute for Create/Register), KMIP 2.0 puts
// each attribute under its own tag inside an `Attributes` structure.

import { NameType, ResultReason } from "./enums.js";
import { KmipMessageError, reqField } from "./fields.js";
import { Tag } from "./tags.js";
import { ttlv, type StructureItem, type TtlvItem } from "./ttlv.js";

export interface ProtocolVersion {
  readonly major: number;
  readonly minor: number;
}
export const isKmip2 = (v: ProtocolVersion): boolean => v.major >= 2;

/** The attributes a key store reads and writes; dates are POSIX seconds. */
export interface KmipAttributes {
  uniqueIdentifier?: string;
  objectType?: number;
  cryptographicAlgorithm?: number;
  cryptographicLength?: number;
  cryptographicUsageMask?: number;
  /** Name values (Uninterpreted Text String); KMIP allows several */
  names?: string[];
  state?: number;
  initialDate?: number;
  activationDate?: number;
  deactivationDate?: number;
  destroyDate?: number;
  lastChangeDate?: number;
  originalCreationDate?: number;
  operationPolicyName?: string;
}

type Kind = "enum" | "int" | "text" | "date" | "name";
interface AttrDef {
  readonly key: keyof KmipAttributes;
  /** the 1.x Attribute Name string (must match exactly) */
  readonly name: string;
  readonly tag: number;
  readonly kind: Kind;
}

export const ATTRIBUTE_DEFS: readonly AttrDef[] = [
  { key: "uniqueIdentifier", name: "Unique Identifier", tag: Tag.UniqueIdentifier, kind: "text" },
  { key: "objectType", name: "Object Type", tag: Tag.ObjectType, kind: "enum" },
  { key: "cryptographicAlgorithm", name: "Cryptographic Algorithm", tag: Tag.CryptographicAlgorithm, kind: "enum" },
  { key: "cryptographicLength", name: "Cryptographic Length", tag: Tag.CryptographicLength, kind: "int" },
  { key: "cryptographicUsageMask", name: "Cryptographic Usage Mask", tag: Tag.CryptographicUsageMask, kind: "int" },
  { key: "names", name: "Name", tag: Tag.Name, kind: "name" },
  { key: "operationPolicyName", name: "Operation Policy Name", tag: Tag.OperationPolicyName, kind: "text" },
  { key: "state", name: "State", tag: Tag.State, kind: "enum" },
  { key: "initialDate", name: "Initial Date", tag: Tag.InitialDate, kind: "date" },
  { key: "activationDate", name: "Activation Date", tag: Tag.ActivationDate, kind: "date" },
  { key: "deactivationDate", name: "Deactivation Date", tag: Tag.DeactivationDate, kind: "date" },
  { key: "destroyDate", name: "Destroy Date", tag: Tag.DestroyDate, kind: "date" },
  { key: "lastChangeDate", name: "Last Change Date", tag: Tag.LastChangeDate, kind: "date" },
  { key: "originalCreationDate", name: "Original Creation Date", tag: Tag.OriginalCreationDate, kind: "date" },
];
const DEF_BY_NAME = new Map(ATTRIBUTE_DEFS.map((d) => [d.name, d]));
const DEF_BY_TAG = new Map(ATTRIBUTE_DEFS.map((d) => [d.tag, d]));
export const attributeDefByName = (name: string): AttrDef | undefined => DEF_BY_NAME.get(name);
export const attributeDefByTag = (tag: number): AttrDef | undefined => DEF_BY_TAG.get(tag);

function valueItems(def: AttrDef, attrs: KmipAttributes, tag: number): TtlvItem[] {
  const v = attrs[def.key];
  if (v === undefined) return [];
  switch (def.kind) {
    case "enum":
      return [ttlv.enum(tag, v as number)];
    case "int":
      return [ttlv.int(tag, v as number)];
    case "text":
      return [ttlv.text(tag, v as string)];
    case "date":
      return [ttlv.dateTime(tag, Math.floor(v as number))];
    case "name":
      return (v as string[]).map((n) =>
        ttlv.struct(tag, [ttlv.text(Tag.NameValue, n), ttlv.enum(Tag.NameType, NameType.UninterpretedTextString)]),
      );
  }
}

/**
 * The attribute items for `version`: 1.x `Attribute` structures, or 2.0
 * direct-tag items (the caller wraps the latter in `Attributes`).
 */
export function encodeAttributeItems(attrs: KmipAttributes, version: ProtocolVersion, order: readonly AttrDef[] = ATTRIBUTE_DEFS): TtlvItem[] {
  const out: TtlvItem[] = [];
  for (const def of order) {
    if (isKmip2(version)) out.push(...valueItems(def, attrs, def.tag));
    else
      for (const v of valueItems(def, attrs, Tag.AttributeValue))
        out.push(ttlv.struct(Tag.Attribute, [ttlv.text(Tag.AttributeName, def.name), v]));
  }
  return out;
}

/** Template-Attribute (1.x) or Attributes (2.0) for Create and Register. */
export function encodeTemplateAttribute(attrs: KmipAttributes, version: ProtocolVersion, order?: readonly AttrDef[]): StructureItem {
  return ttlv.struct(isKmip2(version) ? Tag.Attributes : Tag.TemplateAttribute, encodeAttributeItems(attrs, version, order));
}

function readValue(def: AttrDef, item: TtlvItem, into: KmipAttributes): void {
  const bad = (): never => {
    throw new KmipMessageError(ResultReason.InvalidField, `attribute '${def.name}' has a ${item.type} value`);
  };
  switch (def.kind) {
    case "enum":
      if (item.type !== "Enumeration") bad();
      (into as Record<string, unknown>)[def.key] = item.value;
      return;
    case "int":
      if (item.type !== "Integer") bad();
      (into as Record<string, unknown>)[def.key] = item.value;
      return;
    case "text":
      if (item.type !== "TextString") bad();
      (into as Record<string, unknown>)[def.key] = item.value;
      return;
    case "date":
      if (item.type !== "DateTime") bad();
      (into as Record<string, unknown>)[def.key] = Number(item.value);
      return;
    case "name": {
      if (item.type !== "Structure") return bad();
      const value = reqField(item, Tag.NameValue, "TextString", ResultReason.InvalidField);
      (into.names ??= []).push(value);
      return;
    }
  }
}

/**
 * Read attributes from a list of items in either encoding: `Attribute`
 * structures (1.x), direct-tag items (2.0), or the Template-Attribute /
 * Attributes wrappers themselves. Unknown attributes are skipped (KMIP lets a
 * server ignore attributes it does not keep); `unknown` lists their names.
 */
export function decodeAttributeItems(items: readonly TtlvItem[], unknown?: string[]): KmipAttributes {
  const out: KmipAttributes = {};
  const visit = (it: TtlvItem): void => {
    if ((it.tag === Tag.TemplateAttribute || it.tag === Tag.Attributes) && it.type === "Structure") {
      for (const c of it.value) visit(c);
      return;
    }
    if (it.tag === Tag.Attribute && it.type === "Structure") {
      const name = reqField(it, Tag.AttributeName, "TextString", ResultReason.InvalidField);
      const value = it.value.find((c) => c.tag === Tag.AttributeValue);
      if (!value) throw new KmipMessageError(ResultReason.InvalidField, `attribute '${name}' has no value`);
      const def = DEF_BY_NAME.get(name);
      if (def) readValue(def, value, out);
      else unknown?.push(name);
      return;
    }
    const def = DEF_BY_TAG.get(it.tag);
    if (def) readValue(def, it, out);
  };
  for (const it of items) visit(it);
  return out;
}

/** Names to ask for in Get Attributes: 1.x Attribute Name strings, 2.0 Attribute Reference enums (the tag). */
export function encodeAttributeSelectors(names: readonly string[], version: ProtocolVersion): TtlvItem[] {
  return names.map((n) => {
    const def = DEF_BY_NAME.get(n);
    if (isKmip2(version)) {
      if (!def) throw new KmipMessageError(ResultReason.InvalidField, `no KMIP 2.0 attribute reference for '${n}'`);
      return ttlv.enum(Tag.AttributeReference, def.tag);
    }
    return ttlv.text(Tag.AttributeName, n);
  });
}

/** The attribute names a Get Attributes request selects (empty = all). */
export function decodeAttributeSelectors(payload: StructureItem): string[] {
  const out: string[] = [];
  for (const c of payload.value) {
    if (c.tag === Tag.AttributeName && c.type === "TextString") out.push(c.value);
    else if (c.tag === Tag.AttributeReference && c.type === "Enumeration") {
      const def = DEF_BY_TAG.get(c.value);
      // an unknown reference still selects something, just nothing we keep
      out.push(def ? def.name : `tag:${c.value}`);
    }
  }
  return out;
}

