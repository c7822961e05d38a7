// Hardened, generic XML reading for libvirt-style documents (secret, volume,
// keystore XML). A small single-pass well-formedness checker and tree builder:
// - DOCTYPE / ENTITY declarations are refused outright (no DTD, no entity
//   expansion, no external fetches: billion laughs and XXE cannot happen);
// - only the five predefined entities and character references are decoded;
// - values stay strings (no number coercion), whitespace is kept;
// - malformed input gives the error libvirt prints for libxml2 failures:
//   VIR_ERR_XML_DETAIL "(doc):LINE: message\n<context line>\n<caret line>",
//   using libxml2's wording for the common faults.
// Why not fast-xml-parser: its validator accepts several malformed documents
// (two roots, undefined entities, '<' in attribute values, invalid characters,
// bad character references, ']]>' in text) and reports positions and texts
// unlike libxml2, so every one of those would need a second scanner anyway.

import { VirError, type ErrorDomainName } from "../errors.js";

/** One element of a read document. */
export interface XmlElement {
  /**
   * The local name when the element is in a namespace; as libxml2 does, a
   * prefix that no xmlns declaration binds is kept ("x:secret").
   */
  readonly name: string;
  /** namespace URI, undefined for no namespace (libvirt's XPath only matches those) */
  readonly ns: string | undefined;
  /** attributes (xmlns declarations excluded), decoded and whitespace-normalised */
  readonly attrs: ReadonlyMap<string, string>;
  /** child elements in document order */
  readonly children: readonly XmlElement[];
  /** XPath string value: all descendant text and CDATA in document order */
  readonly text: string;
  /** 1-based line of the start tag */
  readonly line: number;
}

export interface ReadXMLOptions {
  /** name used in error messages; libvirt uses "(definition_of_secret)" or a file path */
  readonly docName?: string;
  /** when set, a different root element gives libvirt's "expecting root element" error */
  readonly rootName?: string;
  /** error domain for XML_DETAIL errors (libvirt passes the caller's domain) */
  readonly domain?: ErrorDomainName;
  /**
   * Quote the faulty line in errors, as libvirt does (default true). Pass
   * false for documents that may hold credentials (keystore settings): the
   * context line then reads "(not shown)" and the caret is omitted.
   */
  readonly quoteInput?: boolean;
}

export const DEFAULT_DOC_NAME = "(definition_of_secret)";

/** libxml2's default nesting limit (xmlParserMaxDepth). */
const MAX_DEPTH = 256;
/** libvirt's context buffer is 80 bytes, so at most 79 characters either way. */
const CONTEXT_MAX = 79;

const NAME_START =
  ":A-Z_a-z\\u00C0-\\u00D6\\u00D8-\\u00F6\\u00F8-\\u02FF\\u0370-\\u037D\\u037F-\\u1FFF\\u200C\\u200D" +
  "\\u2070-\\u218F\\u2C00-\\u2FEF\\u3001-\\uD7FF\\uF900-\\uFDCF\\uFDF0-\\uFFFD\\u{10000}-\\u{EFFFF}";
const NAME_CHAR = NAME_START + "\\-.0-9\\u00B7\\u0300-\\u036F\\u203F\\u2040";
const NAME_RE = new RegExp(`[${NAME_START}][${NAME_CHAR}]*`, "uy");
/** Any character outside XML 1.0's Char production (lone surrogates included). */
const BAD_CHAR_RE = /[^\t\n\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
const PREDEFINED: Readonly<Record<string, string>> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

function isSpace(c: string | undefined): boolean {
  return c === " " || c === "\t" || c === "\n";
}

function isXmlChar(cp: number): boolean {
  return (
    cp === 0x9 || cp === 0xa || cp === 0xd ||
    (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff)
  );
}

interface OpenElement {
  /** qualified name as written, for end-tag matching */
  name: string;
  attrs: Map<string, string>;
  /** in-scope namespace bindings: prefix ("" for the default) to URI */
  scope: ReadonlyMap<string, string>;
  children: ReadElement[];
  /** text runs and child elements, in document order */
  parts: (string | ReadElement)[];
  line: number;
}

/**
 * A read element. Its string value is built on first use from its own text
 * runs and its children's: storing every element's full descendant text
 * would copy deep text once per ancestor (256 levels × a 10 MB document).
 */
class ReadElement implements XmlElement {
  #text: string | undefined;

  constructor(
    readonly name: string,
    readonly ns: string | undefined,
    readonly attrs: ReadonlyMap<string, string>,
    readonly children: readonly ReadElement[],
    private readonly parts: readonly (string | ReadElement)[],
    readonly line: number,
  ) {}

  get text(): string {
    if (this.#text !== undefined) return this.#text;
    // walk with an explicit stack (no recursion); descendants keep no copy of their own
    const out: string[] = [];
    const stack: (string | ReadElement)[] = [this];
    while (stack.length > 0) {
      const top = stack.pop()!;
      if (typeof top === "string") out.push(top);
      else if (top.#text !== undefined) out.push(top.#text);
      else for (let k = top.parts.length - 1; k >= 0; k--) stack.push(top.parts[k]!);
    }
    this.#text = out.join("");
    return this.#text;
  }
}

/**
 * Read one XML document into an element tree. Throws VirError XML_DETAIL for
 * malformed or refused input and XML_ERROR for a wrong root element.
 */
export function readXML(xml: string, opts: ReadXMLOptions = {}): XmlElement {
  const root = new Reader(xml, opts.docName ?? DEFAULT_DOC_NAME, opts.domain ?? "SECRET", opts.quoteInput ?? true).document();
  if (opts.rootName !== undefined && root.name !== opts.rootName) {
    throw new VirError("XML_ERROR", `expecting root element of '${opts.rootName}', not '${root.name}'`, "XML");
  }
  return root;
}

/** The first no-namespace child element called `name` (libvirt's "./name[1]"). */
export function firstChild(el: XmlElement, name: string): XmlElement | undefined {
  return el.children.find((c) => c.ns === undefined && c.name === name);
}

/** All no-namespace child elements called `name`, in document order ("./name"). */
export function childrenNamed(el: XmlElement, name: string): XmlElement[] {
  return el.children.filter((c) => c.ns === undefined && c.name === name);
}

const XML_NAMESPACE = "http://www.w3.org/XML/1998/namespace";
const ROOT_SCOPE: ReadonlyMap<string, string> = new Map([["xml", XML_NAMESPACE]]);

class Reader {
  private readonly s: string;
  private i = 0;

  constructor(
    xml: string,
    private readonly docName: string,
    private readonly domain: ErrorDomainName,
    private readonly quoteInput: boolean,
  ) {
    // XML end-of-line handling: CR LF and lone CR both become LF before parsing.
    this.s = xml.replace(/\r\n?/g, "\n");
  }

  document(): XmlElement {
    const s = this.s;
    if (s.length === 0) this.fail("Document is empty", 0);
    if (s[0] === "\uFEFF") this.i = 1;
    if (s.startsWith("<?xml", this.i) && isSpace(s[this.i + 5])) this.xmlDecl();
    this.misc(true);
    if (this.i >= s.length || s[this.i] !== "<") this.fail("Start tag expected, '<' not found", this.i);
    const root = this.element();
    this.misc(false);
    if (this.i < s.length) this.fail("Extra content at the end of the document", this.i);
    return root;
  }

  /** Report like libvirt's libxml2 error handler: "(doc):LINE: msg\ncontext\ncaret". */
  private fail(message: string, pos: number): never {
    const s = this.s;
    let line = 1;
    for (let k = 0; k < pos && k < s.length; k++) if (s.charCodeAt(k) === 10) line++;
    let context: string;
    let caret: string;
    if (!this.quoteInput) {
      context = "(not shown)";
      caret = "^";
    } else if (pos >= s.length && (s.length === 0 || s.endsWith("\n"))) {
      // libxml2 has no input buffer left here and libvirt prints "(null)".
      context = "(null)";
      caret = "^";
    } else {
      let cur = Math.min(pos, s.length);
      while (cur > 0 && (cur >= s.length || s[cur] === "\n")) cur--;
      let n = 0;
      while (n++ < CONTEXT_MAX && cur > 0 && s[cur] !== "\n") cur--;
      if (s[cur] === "\n") cur++;
      const col = Math.max(0, pos - cur);
      let end = cur;
      while (end < s.length && s[end] !== "\n" && end - cur < CONTEXT_MAX) end++;
      context = s.slice(cur, end);
      caret = "";
      for (let k = 0; k < col && k < CONTEXT_MAX; k++) caret += context[k] === "\t" ? "\t" : "-";
      caret += "^";
    }
    throw new VirError("XML_DETAIL", `${this.docName}:${line}: ${message}\n${context}\n${caret}`, this.domain);
  }

  // Start tags come in document order, so count lines forward from the last
  // position asked about instead of from the start (keeps reading linear).
  private linePos = 0;
  private lineNo = 1;

  private lineAt(pos: number): number {
    if (pos < this.linePos) {
      this.linePos = 0;
      this.lineNo = 1;
    }
    for (; this.linePos < pos; this.linePos++) if (this.s.charCodeAt(this.linePos) === 10) this.lineNo++;
    return this.lineNo;
  }

  private skipSpace(): boolean {
    const start = this.i;
    while (isSpace(this.s[this.i])) this.i++;
    return this.i > start;
  }

  private name(): string | undefined {
    NAME_RE.lastIndex = this.i;
    const m = NAME_RE.exec(this.s);
    if (!m) return undefined;
    this.i += m[0].length;
    return m[0];
  }

  /** Fail at the first character that XML 1.0 does not allow in s[from, to). */
  private checkChars(from: number, to: number, message: (cp: number) => string): void {
    const m = BAD_CHAR_RE.exec(this.s.slice(from, to));
    if (m) this.fail(message(m[0].codePointAt(0) ?? 0), from + m.index);
  }

  private xmlDecl(): void {
    const start = this.i;
    const end = this.s.indexOf("?>", start);
    if (end < 0) this.fail("parsing XML declaration: '?>' expected", this.s.length);
    const body = this.s.slice(start + 5, end);
    if (!/^\s+version\s*=\s*(['"])[^'"]*\1/.test(body)) this.fail("Malformed declaration expecting version", start + 6);
    this.checkChars(start, end, (cp) => `Char 0x${cp.toString(16).toUpperCase()} out of allowed range`);
    this.i = end + 2;
  }

  /** Whitespace, comments and PIs around the root; DOCTYPE is refused. */
  private misc(prolog: boolean): void {
    const s = this.s;
    for (;;) {
      this.skipSpace();
      if (s.startsWith("<!--", this.i)) this.comment();
      else if (s.startsWith("<?", this.i)) this.pi();
      else if (s.startsWith("<!", this.i)) {
        if (/^<!(DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)/i.test(s.slice(this.i, this.i + 10))) {
          this.fail("DOCTYPE and entity declarations are not allowed in this document", this.i);
        }
        if (prolog) this.fail("StartTag: invalid element name", this.i + 1);
        return;
      } else return;
    }
  }

  private comment(): string {
    const start = this.i;
    const body = start + 4;
    const end = this.s.indexOf("-->", body);
    if (end < 0) this.fail("Comment not terminated", this.s.length);
    const dd = this.s.indexOf("--", body);
    if (dd < end) this.fail(`Double hyphen within comment: ${this.s.slice(start, dd)}`, dd);
    this.checkChars(body, end, (cp) => `xmlParseComment: invalid xmlChar value ${cp}`);
    this.i = end + 3;
    return "";
  }

  private pi(): void {
    this.i += 2;
    const target = this.name();
    if (target === undefined) this.fail("xmlParsePI : no target name", this.i);
    if (target.toLowerCase() === "xml") this.fail("XML declaration allowed only at the start of the document", this.i);
    const end = this.s.indexOf("?>", this.i);
    if (end < 0) this.fail(`ParsePI: PI ${target} never end ...`, this.s.length);
    if (end > this.i && !isSpace(this.s[this.i])) this.fail(`ParsePI: PI ${target} space expected`, this.i);
    this.checkChars(this.i, end, (cp) => `xmlParsePI: invalid xmlChar value ${cp}`);
    this.i = end + 2;
  }

  /** A character or entity reference at this.i ('&'); returns its text. */
  private reference(): string {
    const s = this.s;
    const amp = this.i;
    if (s[amp + 1] === "#") {
      const hex = s[amp + 2] === "x";
      const re = hex ? /[0-9a-fA-F]+;/y : /[0-9]+;/y;
      re.lastIndex = amp + (hex ? 3 : 2);
      const m = re.exec(s);
      if (!m) this.fail(hex ? "CharRef: invalid hexadecimal value" : "CharRef: invalid decimal value", re.lastIndex || amp + 2);
      this.i = amp + (hex ? 3 : 2) + m[0].length;
      const digits = m[0].slice(0, -1);
      // Long digit strings would lose precision; anything past 0x10FFFF is invalid anyway.
      const cp = digits.replace(/^0+/, "").length > 8 ? 0x110000 : parseInt(digits, hex ? 16 : 10);
      if (cp > 0x10ffff) this.fail("xmlParseCharRef: character reference out of bounds", this.i);
      if (!isXmlChar(cp)) this.fail(`xmlParseCharRef: invalid xmlChar value ${cp}`, this.i);
      return String.fromCodePoint(cp);
    }
    this.i = amp + 1;
    const name = this.name();
    if (name === undefined) this.fail("xmlParseEntityRef: no name", amp + 1);
    if (s[this.i] !== ";") this.fail("EntityRef: expecting ';'", this.i);
    this.i++;
    const value = PREDEFINED[name];
    if (value === undefined || !Object.hasOwn(PREDEFINED, name)) this.fail(this.quoteInput ? `Entity '${name}' not defined` : "Entity not defined", this.i);
    return value;
  }

  /** Attribute value at this.i (the quote); literal whitespace becomes a space. */
  private attrValue(): string {
    const s = this.s;
    const quote = s[this.i];
    if (quote !== "'" && quote !== '"') this.fail(`AttValue: " or ' expected`, this.i);
    this.i++;
    let out = "";
    for (;;) {
      const c = s[this.i];
      if (c === undefined) this.fail(`AttValue: ${quote} expected`, this.i);
      if (c === quote) {
        this.i++;
        return out;
      }
      if (c === "<") this.fail("Unescaped '<' not allowed in attributes values", this.i);
      if (c === "&") {
        out += this.reference();
        continue;
      }
      const cp = s.codePointAt(this.i) ?? 0;
      if (!isXmlChar(cp) || (cp >= 0xd800 && cp <= 0xdfff)) this.fail("invalid character in attribute value", this.i);
      out += c === "\t" || c === "\n" ? " " : String.fromCodePoint(cp);
      this.i += cp > 0xffff ? 2 : 1;
    }
  }

  /** A start tag at this.i ('<'); returns the open element, or the closed one if empty. */
  private startTag(parentScope: ReadonlyMap<string, string>): { el: OpenElement; empty: boolean } {
    const s = this.s;
    const lt = this.i;
    this.i++;
    const name = this.name();
    if (name === undefined) this.fail("StartTag: invalid element name", lt + 1);
    const attrs = new Map<string, string>();
    for (;;) {
      const spaced = this.skipSpace();
      const closing = s[this.i] === ">" ? 1 : s.startsWith("/>", this.i) ? 2 : 0;
      if (closing > 0) {
        this.i += closing;
        const scope = withDeclarations(parentScope, attrs);
        return { el: { name, attrs, scope, children: [], parts: [], line: this.lineAt(lt) }, empty: closing === 2 };
      }
      if (this.i >= s.length) this.fail(`Couldn't find end of Start Tag ${name} line ${this.lineAt(lt)}`, this.i);
      if (!spaced) this.fail("attributes construct error", this.i);
      const attrName = this.name();
      if (attrName === undefined) this.fail("error parsing attribute name", this.i);
      this.skipSpace();
      if (s[this.i] !== "=") this.fail(`Specification mandates value for attribute ${attrName}`, this.i);
      this.i++;
      this.skipSpace();
      const value = this.attrValue();
      if (attrs.has(attrName)) this.fail(`Attribute ${attrName} redefined`, this.i);
      attrs.set(attrName, value);
    }
  }

  private close(open: OpenElement): ReadElement {
    const colon = open.name.indexOf(":");
    const prefix = colon > 0 ? open.name.slice(0, colon) : "";
    const ns = open.scope.get(prefix);
    const name = ns !== undefined && colon > 0 ? open.name.slice(colon + 1) : open.name;
    for (const key of [...open.attrs.keys()]) if (key === "xmlns" || key.startsWith("xmlns:")) open.attrs.delete(key);
    return new ReadElement(name, ns, open.attrs, open.children, open.parts, open.line);
  }

  /** The root element and everything inside it, without recursion. */
  private element(): XmlElement {
    const s = this.s;
    const first = this.startTag(ROOT_SCOPE);
    if (first.empty) return this.close(first.el);
    const stack: OpenElement[] = [first.el];
    for (;;) {
      const top = stack[stack.length - 1]!;
      if (this.i >= s.length) this.fail(`Premature end of data in tag ${top.name} line ${top.line}`, s.length);
      const c = s[this.i];
      if (c === "<") {
        if (s[this.i + 1] === "/") {
          this.i += 2;
          let name = this.name();
          if (name === undefined) {
            // libxml2 names an unreadable end tag "unparsable" when '>' follows.
            if (s[this.i] !== ">") this.fail("expected '>'", this.i);
            name = "unparsable";
          }
          this.skipSpace();
          if (s[this.i] !== ">") {
            if (this.i >= s.length) this.fail(`Premature end of data in tag ${top.name} line ${top.line}`, s.length);
            this.fail("expected '>'", this.i);
          }
          this.i++;
          if (name !== top.name) {
            this.fail(`Opening and ending tag mismatch: ${top.name} line ${top.line} and ${name}`, this.i);
          }
          stack.pop();
          const done = this.close(top);
          const parent = stack[stack.length - 1];
          if (parent === undefined) return done;
          parent.children.push(done);
          parent.parts.push(done);
        } else if (s.startsWith("<!--", this.i)) {
          this.comment();
        } else if (s.startsWith("<![CDATA[", this.i)) {
          const body = this.i + 9;
          const end = s.indexOf("]]>", body);
          if (end < 0) this.fail("CData section not finished", this.i);
          this.checkChars(body, end, (cp) => `PCDATA invalid Char value ${cp}`);
          top.parts.push(s.slice(body, end));
          this.i = end + 3;
        } else if (s[this.i + 1] === "?") {
          this.pi();
        } else if (s[this.i + 1] === "!") {
          this.fail("StartTag: invalid element name", this.i + 1);
        } else {
          if (stack.length >= MAX_DEPTH) {
            this.fail(`Excessive depth in document: ${MAX_DEPTH} use XML_PARSE_HUGE option`, this.i);
          }
          const child = this.startTag(top.scope);
          if (child.empty) {
            const done = this.close(child.el);
            top.children.push(done);
            top.parts.push(done);
          } else {
            stack.push(child.el);
          }
        }
      } else if (c === "&") {
        top.parts.push(this.reference());
      } else {
        let end = this.i;
        while (end < s.length && s[end] !== "<" && s[end] !== "&") end++;
        const run = s.slice(this.i, end);
        this.checkChars(this.i, end, (cp) => `PCDATA invalid Char value ${cp}`);
        const cdataEnd = run.indexOf("]]>");
        if (cdataEnd >= 0) this.fail("Sequence ']]>' not allowed in content", this.i + cdataEnd);
        top.parts.push(run);
        this.i = end;
      }
    }
  }
}

/** Namespace bindings in force inside an element with these attributes. */
function withDeclarations(parent: ReadonlyMap<string, string>, attrs: ReadonlyMap<string, string>): ReadonlyMap<string, string> {
  let scope: Map<string, string> | undefined;
  for (const [key, uri] of attrs) {
    const prefix = key === "xmlns" ? "" : key.startsWith("xmlns:") ? key.slice(6) : undefined;
    if (prefix === undefined) continue;
    scope ??= new Map(parent);
    // An empty URI undeclares (only meaningful for the default namespace).
    if (uri === "") scope.delete(prefix);
    else scope.set(prefix, uri);
  }
  return scope ?? parent;
}
