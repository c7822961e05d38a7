// <volume> XML: parse with libvirt 9.0's rules (virStorageVolDefParseXML and
// storage_encryption_conf.c, spec §5.1) for a directory pool, and format
// byte-exactly as virStorageVolDefFormat (the storagevolxml2xmlout fixtures).

import { VirError } from "../errors.js";
import { parseStorageSize, parseUnsignedInt, parseUnsignedLong, scaleInteger, ULLONG_MAX } from "../storage/units.js";
import {
  ENCRYPTION_ENGINES,
  ENCRYPTION_FORMATS,
  VOLUME_FORMATS,
  VOLUME_TYPES,
  type EncryptionCipher,
  type EncryptionEngine,
  type EncryptionFormat,
  type EncryptionIvgen,
  type SecretLookup,
  type VolumeBackingStore,
  type VolumeDef,
  type VolumeEncryption,
  type VolumeFeatures,
  type VolumeFormat,
  type VolumePermissions,
  type VolumeType,
} from "../storage/volume-def.js";
import { canonicalUUID } from "../uuid.js";
import { childrenNamed, readXML, type XmlElement } from "./read.js";
import { escapeXML } from "./write.js";

/** The document name libvirt gives volume XML in well-formedness errors. */
export const VOLUME_DOC_NAME = "(storage_volume_definition)";

export interface ParseVolumeXMLOptions {
  /** name used in well-formedness errors; a file path when loading from disk */
  readonly docName?: string;
  /**
   * When <capacity> may be absent: "backing" (vol-create: only with a
   * backing store, VIR_VOL_XML_PARSE_OPT_CAPACITY), "optional"
   * (VIR_VOL_XML_PARSE_NO_CAPACITY), "required". Default "backing".
   */
  readonly capacity?: "backing" | "optional" | "required";
}

// ---------------------------------------------------------------------------
// XPath-like helpers. libvirt reads every value with virXPathString, which
// reports an empty string as absent; these keep that rule.

/** All elements at a child path, in document order ("./a/b"). */
function nodes(el: XmlElement, path: readonly string[]): XmlElement[] {
  let cur = [el];
  for (const step of path) cur = cur.flatMap((e) => childrenNamed(e, step));
  return cur;
}

/** "string(./a/b)": text of the first match, undefined when absent or empty. */
function str(el: XmlElement, ...path: string[]): string | undefined {
  const t = nodes(el, path)[0]?.text;
  return t === undefined || t === "" ? undefined : t;
}

/** "string(./a/b/@attr)": the first such attribute in document order; undefined when absent or empty. */
function attrStr(el: XmlElement, path: readonly string[], attr: string): string | undefined {
  const t = nodes(el, path).find((e) => e.attrs.has(attr))?.attrs.get(attr);
  return t === undefined || t === "" ? undefined : t;
}

/** XPath number() then libvirt's virXPathLongLong: null unless a whole number. */
function xpathInteger(text: string): number | null {
  const m = /^[ \t\r\n]*(-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))[ \t\r\n]*$/.exec(text);
  if (!m) return null;
  const v = Number(m[1]);
  return Number.isInteger(v) ? v : null;
}

// ---------------------------------------------------------------------------
// Parsing

function parsePerms(el: XmlElement | undefined): VolumePermissions {
  if (!el) return {};
  const perms: { mode?: number; owner?: number; group?: number; label?: string } = {};
  const mode = str(el, "mode");
  if (mode !== undefined) {
    // virStrToLong_i(base 8), then only permission bits allowed
    const m = /^[ \t\n\v\f\r]*([+-]?)([0-7]+)$/.exec(mode);
    const v = m ? parseInt(m[2]!, 8) * (m[1] === "-" ? -1 : 1) : NaN;
    if (!Number.isInteger(v) || v < 0 || v > 0o777) throw new VirError("XML_ERROR", "malformed octal mode", "STORAGE");
    perms.mode = v;
  }
  for (const [field, key] of [["owner", "owner"], ["group", "group"]] as const) {
    const node = nodes(el, [field])[0];
    if (!node) continue;
    const v = xpathInteger(node.text);
    // uid_t/gid_t are 32-bit unsigned; -1 (or its unsigned twin) means "leave as is"
    if (v === null || ((v < 0 || v > 0xffffffff) && v !== -1)) {
      throw new VirError("XML_ERROR", `malformed ${field} element`, "STORAGE");
    }
    if (v !== -1 && v !== 0xffffffff) perms[key] = v;
  }
  const label = str(el, "label");
  if (label !== undefined) perms.label = label;
  return perms;
}

function parseFormat(text: string | undefined): VolumeFormat {
  if (text === undefined) return "raw"; // a file pool's default format
  if (!(VOLUME_FORMATS as readonly string[]).includes(text)) {
    throw new VirError("XML_ERROR", `unknown volume format type ${text}`, "STORAGE");
  }
  return text as VolumeFormat;
}

function parseSecret(el: XmlElement): SecretLookup {
  const type = el.attrs.get("type");
  if (type === undefined) throw new VirError("XML_ERROR", "unknown volume encryption secret type", "STORAGE");
  if (type !== "passphrase") {
    throw new VirError("CONFIG_UNSUPPORTED", `unknown volume encryption secret type ${type}`, "STORAGE");
  }
  const uuid = el.attrs.get("uuid");
  const usage = el.attrs.get("usage");
  if (uuid === undefined && usage === undefined) {
    throw new VirError("XML_ERROR", "missing secret uuid or usage attribute", "STORAGE");
  }
  if (uuid !== undefined && usage !== undefined) {
    throw new VirError("XML_ERROR", "either secret uuid or usage expected", "STORAGE");
  }
  if (uuid !== undefined) {
    const canon = canonicalUUID(uuid);
    if (canon === null) throw new VirError("XML_ERROR", `invalid secret uuid '${uuid}'`, "STORAGE");
    return { type: "uuid", uuid: canon };
  }
  return { type: "usage", usage: usage! };
}

function parseCipher(el: XmlElement): EncryptionCipher {
  const name = el.attrs.get("name");
  if (name === undefined) throw new VirError("XML_ERROR", "cipher info missing 'name' attribute", "STORAGE");
  const sizeText = el.attrs.get("size");
  if (sizeText === undefined) {
    throw new VirError("XML_ERROR", "Missing required attribute 'size' in element 'cipher'", "STORAGE");
  }
  const size = parseUnsignedInt(sizeText);
  if (size === null) {
    throw new VirError(
      "XML_ERROR",
      `Invalid value for attribute 'size' in element 'cipher': '${sizeText}'. Expected non-negative integer value`,
      "STORAGE",
    );
  }
  const mode = el.attrs.get("mode");
  const hash = el.attrs.get("hash");
  return { name, size, ...(mode === undefined ? {} : { mode }), ...(hash === undefined ? {} : { hash }) };
}

function parseIvgen(el: XmlElement): EncryptionIvgen {
  const name = el.attrs.get("name");
  if (name === undefined) throw new VirError("XML_ERROR", "missing ivgen info name string", "STORAGE");
  const hash = el.attrs.get("hash");
  return { name, ...(hash === undefined ? {} : { hash }) };
}

/** virStorageEncryptionParseNode (spec §5.1), in libvirt's order. */
export function parseEncryption(el: XmlElement): VolumeEncryption {
  const formatText = el.attrs.get("format");
  if (formatText === undefined || formatText === "") {
    throw new VirError("XML_ERROR", "unknown volume encryption format", "STORAGE");
  }
  if (!(ENCRYPTION_FORMATS as readonly string[]).includes(formatText)) {
    throw new VirError("CONFIG_UNSUPPORTED", `unknown volume encryption format type ${formatText}`, "STORAGE");
  }
  const format = formatText as EncryptionFormat;

  let engine: EncryptionEngine = "default";
  const engineText = el.attrs.get("engine");
  if (engineText !== undefined) {
    // VIR_XML_PROP_NONZERO: naming the default explicitly is refused too
    if (engineText === "default" || !(ENCRYPTION_ENGINES as readonly string[]).includes(engineText)) {
      throw new VirError("XML_ERROR", `Invalid value for attribute 'engine' in element 'encryption': '${engineText}'.`, "STORAGE");
    }
    engine = engineText as EncryptionEngine;
  }

  const secrets = childrenNamed(el, "secret").map(parseSecret);

  let cipher: EncryptionCipher | undefined;
  let ivgen: EncryptionIvgen | undefined;
  if (format === "luks") {
    const c = childrenNamed(el, "cipher")[0];
    if (c) cipher = parseCipher(c);
    const iv = childrenNamed(el, "ivgen")[0];
    if (iv) {
      if (!cipher) throw new VirError("XML_ERROR", "ivgen element found, but cipher is missing", "STORAGE");
      ivgen = parseIvgen(iv);
    }
  }
  return { format, engine, secrets, ...(cipher ? { cipher } : {}), ...(ivgen ? { ivgen } : {}) };
}

/** virStorageFileCheckCompat: "<unsigned>.<unsigned>". */
function checkCompat(compat: string): void {
  const parts = compat.split(".");
  const ok = parts.length >= 2 && [parts[0]!, parts.slice(1).join(".")].every((p) => /^[ \t\n\v\f\r]*[+-]?[0-9]+$/.test(p));
  if (!ok) throw new VirError("XML_ERROR", "forbidden characters in 'compat' attribute", "STORAGE");
}

const FEATURE_NAMES: Record<string, keyof VolumeFeatures> = {
  lazy_refcounts: "lazyRefcounts",
  extended_l2: "extendedL2",
};

/**
 * Parse a <volume> document as libvirt 9.0 does for a directory pool.
 * Throws VirError (domain STORAGE) with libvirt's codes and texts.
 */
export function parseVolumeXML(xml: string, opts: ParseVolumeXMLOptions = {}): VolumeDef {
  const root = readXML(xml, { docName: opts.docName ?? VOLUME_DOC_NAME, rootName: "volume", domain: "STORAGE" });

  const name = str(root, "name");
  if (name === undefined) throw new VirError("XML_ERROR", "missing volume name element", "STORAGE");
  // normally generated by the pool, but kept when given (as libvirt's tests do)
  const key = str(root, "key");

  let type: VolumeType = "file";
  const typeText = root.attrs.get("type");
  if (typeText !== undefined && typeText !== "") {
    if (!(VOLUME_TYPES as readonly string[]).includes(typeText)) {
      throw new VirError("INTERNAL_ERROR", `unknown volume type '${typeText}'`, "STORAGE");
    }
    type = typeText as VolumeType;
  }

  let backingStore: VolumeBackingStore | undefined;
  const backingPath = str(root, "backingStore", "path");
  if (backingPath !== undefined) {
    backingStore = {
      path: backingPath,
      format: parseFormat(attrStr(root, ["backingStore", "format"], "type")),
      permissions: parsePerms(nodes(root, ["backingStore", "permissions"])[0]),
    };
  }

  const capacityText = str(root, "capacity");
  let capacity = 0n;
  if (capacityText !== undefined) {
    capacity = parseStorageSize(capacityText, attrStr(root, ["capacity"], "unit"));
  } else {
    const mode = opts.capacity ?? "backing";
    if (mode === "required" || (mode === "backing" && !backingStore)) {
      throw new VirError("XML_ERROR", "missing capacity element", "STORAGE");
    }
  }
  const allocationText = str(root, "allocation");
  const allocation =
    allocationText !== undefined ? parseStorageSize(allocationText, attrStr(root, ["allocation"], "unit")) : capacity;

  const path = str(root, "target", "path");
  const format = parseFormat(attrStr(root, ["target", "format"], "type"));
  const permissions = parsePerms(nodes(root, ["target", "permissions"])[0]);

  const encNode = nodes(root, ["target", "encryption"])[0];
  const encryption = encNode ? parseEncryption(encNode) : undefined;

  let compat = str(root, "target", "compat");
  if (compat !== undefined) checkCompat(compat);

  const nocow = nodes(root, ["target", "nocow"]).length > 0;

  let features: VolumeFeatures | undefined;
  const featuresNode = nodes(root, ["target", "features"])[0];
  if (featuresNode) {
    // features are a qcow2 v3 thing: asking for any implies compat 1.1
    compat ??= "1.1";
    const f = { lazyRefcounts: false, extendedL2: false };
    for (const child of nodes(root, ["target", "features"]).flatMap((e) => e.children)) {
      const k = FEATURE_NAMES[child.name];
      if (k === undefined || !Object.hasOwn(FEATURE_NAMES, child.name)) {
        throw new VirError("CONFIG_UNSUPPORTED", `unsupported feature ${child.name}`, "STORAGE");
      }
      f[k] = true;
    }
    features = f;
  }

  let clusterSize: bigint | undefined;
  const clusterText = str(root, "target", "clusterSize");
  if (clusterText !== undefined) {
    const v = parseUnsignedLong(clusterText);
    if (v === null) {
      throw new VirError(
        "XML_ERROR",
        `Invalid value '${clusterText}' for element or attribute 'string(./target/clusterSize)'`,
        "STORAGE",
      );
    }
    clusterSize = scaleInteger(v, attrStr(root, ["target", "clusterSize"], "unit"), 1n, ULLONG_MAX);
  }

  return {
    type,
    name,
    ...(key === undefined ? {} : { key }),
    capacity,
    allocation,
    hasAllocation: allocationText !== undefined,
    target: {
      ...(path === undefined ? {} : { path }),
      format,
      permissions,
      ...(encryption ? { encryption } : {}),
      ...(compat === undefined ? {} : { compat }),
      nocow,
      ...(clusterSize === undefined ? {} : { clusterSize }),
      ...(features ? { features } : {}),
    },
    ...(backingStore ? { backingStore } : {}),
  };
}

// ---------------------------------------------------------------------------
// Formatting (virBuffer style: 2-space indent, single quotes, "\n" after each line)

class Lines {
  private out = "";
  private indent = 0;
  line(text: string): void {
    this.out += " ".repeat(this.indent) + text + "\n";
  }
  open(text: string): void {
    this.line(text);
    this.indent += 2;
  }
  close(text: string): void {
    this.indent -= 2;
    this.line(text);
  }
  toString(): string {
    return this.out;
  }
}

/** `<name>value</name>` with libvirt's escaping, or nothing when absent (virBufferEscapeString). */
function textLine(b: Lines, name: string, value: string | undefined): void {
  if (value !== undefined) b.line(`<${name}>${escapeXML(value)}</${name}>`);
}

function formatPerms(b: Lines, p: VolumePermissions): void {
  if (p.mode === undefined && p.owner === undefined && p.group === undefined && p.label === undefined) return;
  b.open("<permissions>");
  if (p.mode !== undefined) b.line(`<mode>0${p.mode.toString(8)}</mode>`);
  // printed through a C int, as libvirt does
  if (p.owner !== undefined) b.line(`<owner>${p.owner | 0}</owner>`);
  if (p.group !== undefined) b.line(`<group>${p.group | 0}</group>`);
  textLine(b, "label", p.label);
  b.close("</permissions>");
}

/** virStorageEncryptionFormat; an encryption with no children still spans two lines. */
function formatEncryption(b: Lines, enc: VolumeEncryption): void {
  const engine = enc.engine === "default" ? "" : ` engine='${enc.engine}'`;
  b.open(`<encryption format='${enc.format}'${engine}>`);
  for (const s of enc.secrets) {
    if (s.type === "uuid") b.line(`<secret type='passphrase' uuid='${s.uuid}'/>`);
    else b.line(`<secret type='passphrase' usage='${escapeXML(s.usage)}'/>`);
  }
  if (enc.format === "luks" && enc.cipher) {
    const c = enc.cipher;
    let line = `<cipher name='${escapeXML(c.name)}' size='${c.size}'`;
    if (c.mode !== undefined) line += ` mode='${escapeXML(c.mode)}'`;
    if (c.hash !== undefined) line += ` hash='${escapeXML(c.hash)}'`;
    b.line(line + "/>");
    if (enc.ivgen) {
      let iv = `<ivgen name='${escapeXML(enc.ivgen.name)}'`;
      if (enc.ivgen.hash !== undefined) iv += ` hash='${escapeXML(enc.ivgen.hash)}'`;
      b.line(iv + "/>");
    }
  }
  b.close("</encryption>");
}

/** Format as virStorageVolDefFormat does for a file pool. */
export function formatVolumeXML(def: VolumeDef): string {
  const b = new Lines();
  b.open(`<volume type='${def.type}'>`);
  textLine(b, "name", def.name);
  textLine(b, "key", def.key);
  b.line(`<capacity unit='bytes'>${def.capacity}</capacity>`);
  b.line(`<allocation unit='bytes'>${def.allocation}</allocation>`);

  const t = def.target;
  b.open("<target>");
  textLine(b, "path", t.path);
  b.line(`<format type='${t.format}'/>`);
  formatPerms(b, t.permissions);
  if (t.encryption) formatEncryption(b, t.encryption);
  textLine(b, "compat", t.compat);
  if (t.clusterSize !== undefined && t.clusterSize > 0n) b.line(`<clusterSize unit='B'>${t.clusterSize}</clusterSize>`);
  if (t.features) {
    const names = Object.entries(FEATURE_NAMES).filter(([, k]) => t.features![k]).map(([n]) => n);
    if (names.length === 0) b.line("<features/>");
    else {
      b.open("<features>");
      for (const n of names) b.line(`<${n}/>`);
      b.close("</features>");
    }
  }
  b.close("</target>");

  const bs = def.backingStore;
  if (bs) {
    b.open("<backingStore>");
    textLine(b, "path", bs.path);
    b.line(`<format type='${bs.format}'/>`);
    formatPerms(b, bs.permissions);
    b.close("</backingStore>");
  }
  b.close("</volume>");
  return b.toString();
}
