// <keystore> XML → KeystoreConfig. The grammar is schemas/keystore.rng; this
// parser enforces the same shape plus the value rules a schema cannot say
// well (absolute paths, port and size ranges, URL shape, TLS pairing).
//
//   <keystore type='local'>                      every child optional
//     <root>/var/lib/agent/keys</root>           a root of its own (default: the caller's store)
//     <masterkey file='/etc/agent/keys.key'/>    only together with <root>
//   </keystore>
//
//   <keystore type='kmip'>
//     <host>kmip.example.org</host>              required
//     <port>5696</port>                          default 5696
//     <tls version='1.2'>                        required; version optional ('1.2' | '1.3')
//       <ca>/p</ca><cert>/p</cert><key>/p</key>  all three required (mutual TLS)
//     </tls>
//     <credential username='u' password-file='/p'/>   optional KMIP Credential
//     <pool size='4'/>                           1..64, default 4
//     <timeout ms='30000'/>                      1..3600000, default 30000
//   </keystore>
//
//   <keystore type='barbican'>
//     <endpoint>https://barbican:9311/v1</endpoint>   required, http or https
//     <auth type='noauth'/>                      required, one of:
//     <auth type='token'><token-file>/p</token-file></auth>        token-file optional
//     <auth type='keystone'>
//       <url>https://keystone:5000/v3</url>
//       <credential username='svc' password-file='/p'/>
//       <user-domain>Default</user-domain>       optional, default 'Default'
//       <project name='service' domain='Default'/>   domain optional, default 'Default'
//     </auth>
//     <tls version='1.3'><ca>/p</ca><cert>/p</cert><key>/p</key></tls>   optional, https only
//     <timeout ms='30000'/>
//   </keystore>
//
// Children may come in any order, each at most once. Unknown elements and
// attributes are errors: a misspelt <cert> must not silently mean "no TLS".
import { VirError } from "../errors.js";
import {
  type BarbicanAuthConfig,
  type BarbicanKeystoreConfig,
  type KeystoreConfig,
  type KeystoreTLSConfig,
  type KmipKeystoreConfig,
  type LocalKeystoreConfig,
  KEYSTORE_DEFAULT_POOL_SIZE,
  KEYSTORE_DEFAULT_TIMEOUT_MS,
  KEYSTORE_MAX_POOL_SIZE,
  KEYSTORE_MAX_TIMEOUT_MS,
  KMIP_DEFAULT_PORT,
} from "../keystore/config.js";
import { readXML, type XmlElement } from "./read.js";

export interface ParseKeystoreXMLOptions {
  /** name used in well-formedness errors; the file path when loading from disk */
  readonly docName?: string;
}

const DOC_NAME = "(keystore_definition)";

function fail(detail: string): never {
  throw new VirError("XML_ERROR", detail, "KEYSTORE");
}

/** Quote caller text in an error, bounded so a huge value cannot flood a log. */
function q(s: string): string {
  const t = s.length > 80 ? `${s.slice(0, 80)}…` : s;
  return `'${t}'`;
}

/**
 * The children of `el`, by name, refusing unknown, repeated and text content.
 * `where` names the element in errors.
 */
function childMap(el: XmlElement, allowed: readonly string[], where: string): Map<string, XmlElement> {
  const out = new Map<string, XmlElement>();
  for (const c of el.children) {
    if (!allowed.includes(c.name)) fail(`unexpected element <${c.name}> in ${where}`);
    if (out.has(c.name)) fail(`element <${c.name}> may appear only once in ${where}`);
    out.set(c.name, c);
  }
  if (ownText(el).trim() !== "") fail(`unexpected text in ${where}`);
  return out;
}

/** Text directly inside el (not inside its children). */
function ownText(el: XmlElement): string {
  // XmlElement.text is all descendant text in order; remove each child's text once, in
  // order. Whichever occurrence is removed, the non-space characters left are own text's.
  let rest = el.text;
  let out = "";
  for (const c of el.children) {
    const at = rest.indexOf(c.text);
    if (at < 0) break;
    out += rest.slice(0, at);
    rest = rest.slice(at + c.text.length);
  }
  return out + rest;
}

function checkAttrs(el: XmlElement, allowed: readonly string[]): void {
  for (const name of el.attrs.keys()) {
    if (!allowed.includes(name)) fail(`unexpected attribute '${name}' on <${el.name}>`);
  }
}

/** An element holding only text (no attributes, no children); trimmed. */
function leafText(el: XmlElement): string {
  checkAttrs(el, []);
  if (el.children.length > 0) fail(`element <${el.name}> must hold text only`);
  return el.text.trim();
}

function absolutePath(value: string, what: string): string {
  // eslint-disable-next-line no-control-regex
  if (!value.startsWith("/") || /[\u0000-\u001f\u007f]/.test(value)) {
    fail(`${what} must be an absolute path, got ${q(value)}`);
  }
  return value;
}

function pathElement(el: XmlElement, what: string): string {
  return absolutePath(leafText(el), what);
}

function requiredAttr(el: XmlElement, name: string): string {
  const v = el.attrs.get(name);
  if (v === undefined || v.trim() === "") fail(`<${el.name}> needs a '${name}' attribute`);
  return v;
}

function boundedInt(text: string, min: number, max: number, what: string): number {
  const t = text.trim();
  if (!/^[0-9]{1,10}$/.test(t)) fail(`${what} must be an integer from ${min} to ${max}, got ${q(text)}`);
  const n = Number(t);
  if (n < min || n > max) fail(`${what} must be an integer from ${min} to ${max}, got ${q(text)}`);
  return n;
}

/** `<name attr='N'/>`: an empty element carrying one bounded integer. */
function intAttrElement(el: XmlElement, attr: string, min: number, max: number): number {
  checkAttrs(el, [attr]);
  childMap(el, [], `<${el.name}>`);
  return boundedInt(requiredAttr(el, attr), min, max, `<${el.name} ${attr}>`);
}

function plainName(value: string, what: string): string {
  // eslint-disable-next-line no-control-regex
  if (value === "" || value.length > 255 || /[\u0000-\u001f\u007f]/.test(value)) {
    fail(`${what} must be 1 to 255 printable characters, got ${q(value)}`);
  }
  return value;
}

function parseTLS(el: XmlElement, where: string): KeystoreTLSConfig {
  checkAttrs(el, ["version"]);
  const kids = childMap(el, ["ca", "cert", "key"], `<tls> of ${where}`);
  const version = el.attrs.get("version");
  if (version !== undefined && version !== "1.2" && version !== "1.3") {
    fail(`<tls version> must be '1.2' or '1.3', got ${q(version)}`);
  }
  const ca = kids.get("ca");
  const cert = kids.get("cert");
  const key = kids.get("key");
  if ((cert === undefined) !== (key === undefined)) fail(`<tls> of ${where} needs <cert> and <key> together`);
  return {
    ...(version !== undefined ? { version } : {}),
    ...(ca ? { ca: pathElement(ca, "<tls> <ca>") } : {}),
    ...(cert ? { cert: pathElement(cert, "<tls> <cert>") } : {}),
    ...(key ? { key: pathElement(key, "<tls> <key>") } : {}),
  };
}

function parseCredential(el: XmlElement): { username: string; passwordFile?: string } {
  checkAttrs(el, ["username", "password-file"]);
  childMap(el, [], "<credential>");
  const username = plainName(requiredAttr(el, "username"), "<credential username>");
  const pw = el.attrs.get("password-file");
  return { username, ...(pw !== undefined ? { passwordFile: absolutePath(pw, "<credential password-file>") } : {}) };
}

function parseLocal(root: XmlElement): LocalKeystoreConfig {
  const where = "keystore of type 'local'";
  const kids = childMap(root, ["root", "masterkey"], where);
  const dir = kids.get("root");
  const mk = kids.get("masterkey");
  if (mk && !dir) fail(`<masterkey> needs a <root> in ${where}`);
  let masterKeyFile: string | undefined;
  if (mk) {
    checkAttrs(mk, ["file"]);
    childMap(mk, [], "<masterkey>");
    masterKeyFile = absolutePath(requiredAttr(mk, "file"), "<masterkey file>");
  }
  return {
    type: "local",
    ...(dir ? { root: pathElement(dir, "keystore <root>") } : {}),
    ...(masterKeyFile !== undefined ? { masterKeyFile } : {}),
  };
}

function parseKmip(root: XmlElement): KmipKeystoreConfig {
  const where = "keystore of type 'kmip'";
  const kids = childMap(root, ["host", "port", "tls", "credential", "pool", "timeout"], where);
  const hostEl = kids.get("host");
  if (!hostEl) fail(`missing <host> in ${where}`);
  const host = leafText(hostEl);
  if (!/^(\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*|[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)$/.test(host)) {
    fail(`<host> must be a host name or an IP address, got ${q(host)}`);
  }
  const portEl = kids.get("port");
  const port = portEl ? boundedInt(leafText(portEl), 1, 65535, "<port>") : KMIP_DEFAULT_PORT;
  const tlsEl = kids.get("tls");
  if (!tlsEl) fail(`missing <tls> in ${where}: KMIP runs over mutual TLS`);
  const tls = parseTLS(tlsEl, where);
  if (tls.ca === undefined || tls.cert === undefined || tls.key === undefined) {
    fail(`<tls> of ${where} needs <ca>, <cert> and <key> (mutual TLS)`);
  }
  const credEl = kids.get("credential");
  const poolEl = kids.get("pool");
  const timeoutEl = kids.get("timeout");
  return {
    type: "kmip",
    host: host.startsWith("[") ? host.slice(1, -1) : host,
    port,
    tls: { ...tls, ca: tls.ca, cert: tls.cert, key: tls.key },
    ...(credEl ? { credential: parseCredential(credEl) } : {}),
    poolSize: poolEl ? intAttrElement(poolEl, "size", 1, KEYSTORE_MAX_POOL_SIZE) : KEYSTORE_DEFAULT_POOL_SIZE,
    timeoutMs: timeoutEl ? intAttrElement(timeoutEl, "ms", 1, KEYSTORE_MAX_TIMEOUT_MS) : KEYSTORE_DEFAULT_TIMEOUT_MS,
  };
}

/** An http(s) URL without credentials, query or fragment; trailing '/' dropped. */
function httpURL(text: string, what: string): string {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    fail(`${what} must be an http:// or https:// URL, got ${q(text)}`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") fail(`${what} must be an http:// or https:// URL, got ${q(text)}`);
  if (u.username !== "" || u.password !== "") fail(`${what} must not carry credentials; use <auth>`);
  if (u.search !== "" || u.hash !== "") fail(`${what} must not have a query or fragment, got ${q(text)}`);
  return u.href.replace(/\/+$/, "");
}

function parseBarbicanAuth(el: XmlElement): BarbicanAuthConfig {
  checkAttrs(el, ["type"]);
  const type = el.attrs.get("type");
  switch (type) {
    case "noauth":
      childMap(el, [], "<auth type='noauth'>");
      return { type };
    case "token": {
      const kids = childMap(el, ["token-file"], "<auth type='token'>");
      const tf = kids.get("token-file");
      return { type, ...(tf ? { tokenFile: pathElement(tf, "<token-file>") } : {}) };
    }
    case "keystone": {
      const where = "<auth type='keystone'>";
      const kids = childMap(el, ["url", "credential", "user-domain", "project"], where);
      const url = kids.get("url");
      const cred = kids.get("credential");
      const project = kids.get("project");
      if (!url) fail(`missing <url> in ${where}`);
      if (!cred) fail(`missing <credential> in ${where}`);
      if (!project) fail(`missing <project> in ${where}`);
      const c = parseCredential(cred);
      if (c.passwordFile === undefined) fail(`<credential> in ${where} needs a 'password-file' attribute`);
      checkAttrs(project, ["name", "domain"]);
      childMap(project, [], "<project>");
      const ud = kids.get("user-domain");
      return {
        type,
        url: httpURL(leafText(url), "<auth> <url>"),
        username: c.username,
        passwordFile: c.passwordFile,
        userDomain: ud ? plainName(leafText(ud), "<user-domain>") : "Default",
        project: plainName(requiredAttr(project, "name"), "<project name>"),
        projectDomain: plainName(project.attrs.get("domain") ?? "Default", "<project domain>"),
      };
    }
    case undefined:
      return fail("<auth> needs a 'type' attribute: 'noauth', 'token' or 'keystone'");
    default:
      return fail(`unknown <auth> type ${q(type)}: expected 'noauth', 'token' or 'keystone'`);
  }
}

function parseBarbican(root: XmlElement): BarbicanKeystoreConfig {
  const where = "keystore of type 'barbican'";
  const kids = childMap(root, ["endpoint", "auth", "tls", "timeout"], where);
  const ep = kids.get("endpoint");
  if (!ep) fail(`missing <endpoint> in ${where}`);
  const endpoint = httpURL(leafText(ep), "<endpoint>");
  const authEl = kids.get("auth");
  if (!authEl) fail(`missing <auth> in ${where}`);
  const tlsEl = kids.get("tls");
  const tls = tlsEl ? parseTLS(tlsEl, where) : undefined;
  if (tls && !endpoint.startsWith("https:")) fail(`<tls> needs an https:// <endpoint>, got ${q(endpoint)}`);
  const timeoutEl = kids.get("timeout");
  return {
    type: "barbican",
    endpoint,
    auth: parseBarbicanAuth(authEl),
    ...(tls ? { tls } : {}),
    timeoutMs: timeoutEl ? intAttrElement(timeoutEl, "ms", 1, KEYSTORE_MAX_TIMEOUT_MS) : KEYSTORE_DEFAULT_TIMEOUT_MS,
  };
}

/**
 * Parse a <keystore> document. Throws VirError XML_DETAIL for malformed XML
 * and XML_ERROR (domain KEYSTORE) naming what is wrong for a bad config.
 */
export function parseKeystoreXML(xml: string, opts: ParseKeystoreXMLOptions = {}): KeystoreConfig {
  const root = readXML(xml, { docName: opts.docName ?? DOC_NAME, rootName: "keystore", domain: "KEYSTORE" });
  checkAttrs(root, ["type"]);
  const type = root.attrs.get("type");
  switch (type) {
    case "local":
      return parseLocal(root);
    case "kmip":
      return parseKmip(root);
    case "barbican":
      return parseBarbican(root);
    case undefined:
      return fail("missing keystore type: <keystore type='local|kmip|barbican'>");
    default:
      return fail(`unknown keystore type ${q(type)}: expected 'local', 'kmip' or 'barbican'`);
  }
}
