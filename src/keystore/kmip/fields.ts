// Typed reads of a TTLV structure's children. A missing required field or a
// field of the wrong type is a KmipMessageError carrying the KMIP Result
// Reason a server answers with (Invalid Message / Missing Data / Invalid Field).

import { ResultReason } from "./enums.js";
import { tagName } from "./tags.js";
import type { ItemTypeName, StructureItem, TtlvItem } from "./ttlv.js";

export class KmipMessageError extends Error {
  /** the KMIP Result Reason this maps to */
  readonly reason: number;
  constructor(reason: number, message: string) {
    super(message);
    this.name = "KmipMessageError";
    this.reason = reason;
  }
}

type ValueOf<T extends ItemTypeName> = Extract<TtlvItem, { type: T }>["value"];

export function findChild(s: StructureItem, tag: number): TtlvItem | undefined {
  return s.value.find((c) => c.tag === tag);
}

export function optField<T extends ItemTypeName>(s: StructureItem, tag: number, type: T): ValueOf<T> | undefined {
  const c = findChild(s, tag);
  if (!c) return undefined;
  if (c.type !== type) throw new KmipMessageError(ResultReason.InvalidField, `${tagName(tag)} must be a ${type}, got a ${c.type}`);
  return c.value as ValueOf<T> | undefined;
}

export function reqField<T extends ItemTypeName>(s: StructureItem, tag: number, type: T, reason: number = ResultReason.InvalidMessage): ValueOf<T> {
  const v = optField(s, tag, type);
  if (v === undefined) throw new KmipMessageError(reason, `${tagName(s.tag)} is missing ${tagName(tag)}`);
  return v;
}

export function allFields<T extends ItemTypeName>(s: StructureItem, tag: number, type: T): ValueOf<T>[] {
  const out: ValueOf<T>[] = [];
  for (const c of s.value) {
    if (c.tag !== tag) continue;
    if (c.type !== type) throw new KmipMessageError(ResultReason.InvalidField, `${tagName(tag)} must be a ${type}, got a ${c.type}`);
    out.push(c.value as ValueOf<T>);
  }
  return out;
}

export function optStruct(s: StructureItem, tag: number): StructureItem | undefined {
  const c = findChild(s, tag);
  if (!c) return undefined;
  if (c.type !== "Structure") throw new KmipMessageError(ResultReason.InvalidField, `${tagName(tag)} must be a Structure, got a ${c.type}`);
  return c;
}

export function reqStruct(s: StructureItem, tag: number, reason: number = ResultReason.InvalidMessage): StructureItem {
  const c = optStruct(s, tag);
  if (!c) throw new KmipMessageError(reason, `${tagName(s.tag)} is missing ${tagName(tag)}`);
  return c;
}

export function asStruct(item: TtlvItem, tag: number): StructureItem {
  if (item.tag !== tag || item.type !== "Structure") {
    throw new KmipMessageError(ResultReason.InvalidMessage, `expected a ${tagName(tag)} structure, got ${tagName(item.tag)} (${item.type})`);
  }
  return item;
}
