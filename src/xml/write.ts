// libvirt-style XML output (virBuffer conventions): 2-space indentation,
// single-quoted attributes, every line ending in "\n", no XML declaration.
// Shared by secret and volume XML formatting.

/** An element to write: text content, child elements, or neither (self-closing). */
export interface XmlOut {
  readonly name: string;
  /** attributes in output order; undefined values are skipped */
  readonly attrs?: ReadonlyArray<readonly [string, string | undefined]>;
  /** child elements; ignored when `text` is given */
  readonly children?: readonly XmlOut[];
  /** text content; written as <name>text</name> on one line */
  readonly text?: string;
}

// virBufferEscapeString's table: five markup characters become entities and
// the C0 controls other than TAB, LF and CR (up to 0x19) vanish silently.
const ESCAPES: Readonly<Record<string, string>> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" };
const ESCAPE_RE = /[&<>"'\x01-\x08\x0B\x0C\x0E-\x19]/g;

/** Escape text or an attribute value exactly as libvirt's virBufferEscapeString. */
export function escapeXML(value: string): string {
  return value.replace(ESCAPE_RE, (c) => ESCAPES[c] ?? "");
}

function openTag(el: XmlOut): string {
  let out = "<" + el.name;
  for (const [name, value] of el.attrs ?? []) {
    if (value !== undefined) out += ` ${name}='${escapeXML(value)}'`;
  }
  return out;
}

/** Format one element and its subtree, starting at `indent` spaces. */
export function formatXML(el: XmlOut, indent = 0): string {
  const pad = " ".repeat(indent);
  if (el.text !== undefined) {
    return `${pad}${openTag(el)}>${escapeXML(el.text)}</${el.name}>\n`;
  }
  const children = el.children ?? [];
  if (children.length === 0) return `${pad}${openTag(el)}/>\n`;
  let out = `${pad}${openTag(el)}>\n`;
  for (const child of children) out += formatXML(child, indent + 2);
  return out + `${pad}</${el.name}>\n`;
}
