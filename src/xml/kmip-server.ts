// <kmip-server> XML → KmipServerConfig, the configuration of
// `virsecret kmip-server --config FILE.xml`. The grammar is
// schemas/kmip-server.rng; this parser enforces the same shape plus what a
// schema says badly (port and size ranges, path resolution, key placement).
//
//   <kmip-server>
//     <listen host='127.0.0.1' port='5696'/>     optional; both attributes optional
//                                                (port 0 = any free port, printed at start)
//     <tls min-version='1.2'>                    required; min-version optional ('1.2' | '1.3')
//       <ca>ca.pem</ca>                          CA that signs client certificates
//       <cert>server.pem</cert>                  server certificate
//       <key>server.key</key>                    its private key
//     </tls>
//     <data dir='/var/lib/virsecret-kmip'/>      required: LevelDB directory (created)
//     <seal-key file='/etc/virsecret/kmip.key'/> required: 32-byte seal key (created if absent)
//     <limits max-message-bytes='1048576' max-response-bytes='8388608'
//             idle-timeout-ms='300000'/>         optional; each attribute optional
//   </kmip-server>
//
// Relative paths are resolved against the directory of the configuration
// file (the caller passes it as `baseDir`), so a config and its PKI can move
// together. Children come in any order, each at most once; unknown elements
// and attributes are errors, so a misspelt <key> cannot pass unnoticed.
import { isAbsolute, relative, resolve, sep } from "node:path";
import { VirError } from "../errors.js";
import { KMIP_SERVER_MAX_RESPONSE_BYTES, type KmipServerConfig } from "../keystore/kmip/server-config.js";
import { DEFAULT_MAX_BYTES } from "../keystore/kmip/ttlv.js";
import { readXML, type XmlElement } from "./read.js";

export const KMIP_SERVER_DEFAULT_HOST = "127.0.0.1";
/** the IANA port for KMIP over TLS */
export const KMIP_SERVER_DEFAULT_PORT = 5696;
export const KMIP_SERVER_DEFAULT_IDLE_TIMEOUT_MS = 300_000;
/** below this not even a KMIP header with one batch item fits */
export const KMIP_SERVER_MIN_MESSAGE_BYTES = 1024;
/** each connection may buffer one message this large: bound memory */
export const KMIP_SERVER_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
export const KMIP_SERVER_MAX_IDLE_TIMEOUT_MS = 86_400_000;
/** below this a batch with one Get of a 256-bit key (plus the header) may not fit */
export const KMIP_SERVER_MIN_RESPONSE_BYTES = 1024;
/** each response is built whole in memory before it is written: bound it */
export const KMIP_SERVER_MAX_RESPONSE_BYTES_LIMIT = 256 * 1024 * 1024;

/**
 * A parsed configuration: every field the XML can set, filled (defaults
 * applied, paths absolute). Named, not Required<KmipServerConfig>, so a new
 * programmatic server option does not break the XML parser's type.
 */
export type ResolvedKmipServerConfig = Required<
  Pick<KmipServerConfig, "host" | "port" | "ca" | "cert" | "key" | "tlsMinVersion" | "dataDir" | "sealKeyFile" | "maxMessageBytes" | "maxResponseBytes" | "idleTimeoutMs">
>;

export interface ParseKmipServerXMLOptions {
  /** name used in well-formedness errors; the file path when loading from disk */
  readonly docName?: string;
  /** absolute directory that relative paths are resolved against; without it they are refused */
  readonly baseDir?: string;
}

const DOC_NAME = "(kmip_server_definition)";
const ROOT = "<kmip-server>";

function fail(detail: string): never {
  throw new VirError("XML_ERROR", detail, "KEYSTORE");
}

/** Quote document text in an error, clipped so a huge value cannot flood a log. */
function q(s: string): string {
  return `'${s.length > 80 ? `${s.slice(0, 80)}…` : s}'`;
}

function nonSpaceCount(s: string): number {
  return s.replace(/\s+/g, "").length;
}

/** Children by name; refuses unknown and repeated elements and text between them. */
function childMap(el: XmlElement, allowed: readonly string[], where: string): Map<string, XmlElement> {
  const out = new Map<string, XmlElement>();
  let childChars = 0;
  for (const c of el.children) {
    if (c.ns !== undefined || !allowed.includes(c.name)) fail(`unexpected element <${c.name}> in ${where}`);
    if (out.has(c.name)) fail(`element <${c.name}> may appear only once in ${where}`);
    out.set(c.name, c);
    childChars += nonSpaceCount(c.text);
  }
  // `text` holds all descendant text, so any non-blank surplus is el's own
  if (nonSpaceCount(el.text) > childChars) fail(`unexpected text in ${where}`);
  return out;
}

function checkAttrs(el: XmlElement, allowed: readonly string[]): void {
  for (const name of el.attrs.keys()) {
    if (!allowed.includes(name)) fail(`unexpected attribute '${name}' on <${el.name}>`);
  }
}

/** An element with attributes only: no children, no text. */
function emptyElement(el: XmlElement, attrs: readonly string[]): void {
  checkAttrs(el, attrs);
  childMap(el, [], `<${el.name}>`);
}

function requiredAttr(el: XmlElement, name: string): string {
  const v = el.attrs.get(name);
  if (v === undefined || v.trim() === "") fail(`<${el.name}> needs a '${name}' attribute`);
  return v.trim();
}

function boundedInt(text: string, min: number, max: number, what: string): number {
  const t = text.trim();
  const n = /^[0-9]{1,10}$/.test(t) ? Number(t) : NaN;
  if (!(n >= min && n <= max)) fail(`${what} must be an integer from ${min} to ${max}, got ${q(text)}`);
  return n;
}

/** A file path, made absolute against baseDir when relative. */
function filePath(value: string, what: string, baseDir: string | undefined): string {
  // eslint-disable-next-line no-control-regex
  if (value === "" || /[\u0000-\u001f\u007f]/.test(value)) fail(`${what} must be a file path, got ${q(value)}`);
  if (isAbsolute(value)) return resolve(value);
  if (baseDir === undefined) {
    fail(`${what} is a relative path (${q(value)}) and there is no configuration file directory to resolve it against`);
  }
  return resolve(baseDir, value);
}

function parseListen(el: XmlElement | undefined): { host: string; port: number } {
  if (!el) return { host: KMIP_SERVER_DEFAULT_HOST, port: KMIP_SERVER_DEFAULT_PORT };
  emptyElement(el, ["host", "port"]);
  let host = el.attrs.get("host")?.trim() ?? KMIP_SERVER_DEFAULT_HOST;
  // a bracketed IPv6 literal, a bare one (it has a ':'), or a DNS name / IPv4 address
  if (!/^(\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*|[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)$/.test(host)) {
    fail(`<listen host> must be a host name or an IP address, got ${q(host)}`);
  }
  if (host.startsWith("[")) host = host.slice(1, -1);
  const p = el.attrs.get("port");
  return { host, port: p === undefined ? KMIP_SERVER_DEFAULT_PORT : boundedInt(p, 0, 65535, "<listen port>") };
}

function parseTLS(el: XmlElement, baseDir: string | undefined): { ca: string; cert: string; key: string; tlsMinVersion: "TLSv1.2" | "TLSv1.3" } {
  checkAttrs(el, ["min-version"]);
  const kids = childMap(el, ["ca", "cert", "key"], "<tls>");
  const v = el.attrs.get("min-version");
  if (v !== undefined && v !== "1.2" && v !== "1.3") fail(`<tls min-version> must be '1.2' or '1.3', got ${q(v)}`);
  const file = (name: "ca" | "cert" | "key", why: string): string => {
    const c = kids.get(name);
    if (!c) fail(`missing <${name}> in <tls>: ${why}`);
    checkAttrs(c, []);
    if (c.children.length > 0) fail(`element <${name}> must hold text only`);
    return filePath(c.text.trim(), `<tls> <${name}>`, baseDir);
  };
  return {
    ca: file("ca", "the CA that signs client certificates (mutual TLS)"),
    cert: file("cert", "the server certificate"),
    key: file("key", "the server certificate's private key"),
    tlsMinVersion: v === "1.3" ? "TLSv1.3" : "TLSv1.2",
  };
}

function parseLimits(el: XmlElement | undefined): { maxMessageBytes: number; maxResponseBytes: number; idleTimeoutMs: number } {
  const defaults = { maxMessageBytes: DEFAULT_MAX_BYTES, maxResponseBytes: KMIP_SERVER_MAX_RESPONSE_BYTES, idleTimeoutMs: KMIP_SERVER_DEFAULT_IDLE_TIMEOUT_MS };
  if (!el) return defaults;
  emptyElement(el, ["max-message-bytes", "max-response-bytes", "idle-timeout-ms"]);
  const mb = el.attrs.get("max-message-bytes");
  const rb = el.attrs.get("max-response-bytes");
  const idle = el.attrs.get("idle-timeout-ms");
  return {
    maxMessageBytes:
      mb === undefined ? defaults.maxMessageBytes : boundedInt(mb, KMIP_SERVER_MIN_MESSAGE_BYTES, KMIP_SERVER_MAX_MESSAGE_BYTES, "<limits max-message-bytes>"),
    maxResponseBytes:
      rb === undefined
        ? defaults.maxResponseBytes
        : boundedInt(rb, KMIP_SERVER_MIN_RESPONSE_BYTES, KMIP_SERVER_MAX_RESPONSE_BYTES_LIMIT, "<limits max-response-bytes>"),
    idleTimeoutMs: idle === undefined ? defaults.idleTimeoutMs : boundedInt(idle, 1, KMIP_SERVER_MAX_IDLE_TIMEOUT_MS, "<limits idle-timeout-ms>"),
  };
}

/**
 * Parse a <kmip-server> document. Throws VirError XML_DETAIL for malformed
 * XML (without quoting the document) and XML_ERROR (domain KEYSTORE) naming
 * what is wrong for a bad configuration.
 */
export function parseKmipServerXML(xml: string, opts: ParseKmipServerXMLOptions = {}): ResolvedKmipServerConfig {
  const root = readXML(xml, { docName: opts.docName ?? DOC_NAME, rootName: "kmip-server", domain: "KEYSTORE", quoteInput: false });
  checkAttrs(root, []);
  const kids = childMap(root, ["listen", "tls", "data", "seal-key", "limits"], ROOT);
  const baseDir = opts.baseDir;

  const tlsEl = kids.get("tls");
  if (!tlsEl) fail(`missing <tls> in ${ROOT}: the KMIP server runs over mutual TLS`);
  const dataEl = kids.get("data");
  if (!dataEl) fail(`missing <data dir='…'/> in ${ROOT}: where the KMIP objects are stored`);
  emptyElement(dataEl, ["dir"]);
  const dataDir = filePath(requiredAttr(dataEl, "dir"), "<data dir>", baseDir);
  const sealEl = kids.get("seal-key");
  if (!sealEl) fail(`missing <seal-key file='…'/> in ${ROOT}: the key that seals the stored objects`);
  emptyElement(sealEl, ["file"]);
  const sealKeyFile = filePath(requiredAttr(sealEl, "file"), "<seal-key file>", baseDir);
  // the seal key must not travel with the data it protects (backups, copies)
  const rel = relative(dataDir, sealKeyFile);
  if (rel === "" || (rel.split(sep)[0] !== ".." && !isAbsolute(rel))) {
    fail(`<seal-key file> must lie outside <data dir>: a copy of the data would carry its own key`);
  }

  return {
    ...parseListen(kids.get("listen")),
    ...parseTLS(tlsEl, baseDir),
    dataDir,
    sealKeyFile,
    ...parseLimits(kids.get("limits")),
  };
}
