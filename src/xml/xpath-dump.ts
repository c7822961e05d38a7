// Serialising XPath results as virsh prints them for `--xpath [--wrap]`:
// libxml2's node dump with formatting on (2-space indent, double-quoted
// attributes, no indentation inside an element that has text children), each
// node as its own document; `--wrap` copies them under one `<nodes>` element.

import type { XPathAttributeNode, XPathNode } from "./xpath.js";

/** libxml2 stops indenting deeper than 60 levels (its indent buffer). */
const MAX_INDENT_LEVELS = 60;

function indent(level: number): string {
  return "  ".repeat(Math.min(level, MAX_INDENT_LEVELS));
}

/** libxml2's text escaping: markup characters and CR. */
function escapeText(s: string): string {
  return s.replace(/[&<>\r]/g, (c) => (c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : "&#13;"));
}

/** libxml2's attribute escaping: also the quote and the whitespace an attribute would lose. */
function escapeAttr(s: string): string {
  const map: Readonly<Record<string, string>> = {
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;",
  };
  return s.replace(/[&<>"\n\r\t]/g, (c) => map[c] ?? c);
}

function attr(name: string, value: string): string {
  return ` ${name}="${escapeAttr(value)}"`;
}

/** What an element's dump needs (a read element or the <nodes> wrapper). */
interface DumpElement {
  readonly name: string;
  readonly attributes: readonly { readonly name: string; readonly value: string }[];
  readonly children: readonly XPathNode[];
}

function dumpElement(el: DumpElement, level: number, format: boolean): string {
  let out = "<" + el.name;
  for (const a of el.attributes) out += attr(a.name, a.value);
  if (el.children.length === 0) return out + "/>";
  out += ">";
  // A text child makes libxml2 write this subtree exactly, without layout.
  const layout = format && !el.children.some((c) => c.kind === "text");
  if (layout) out += "\n";
  let childLevel = level + 1;
  for (const c of el.children) {
    if (layout && c.kind === "element") out += indent(childLevel);
    out += dump(c, childLevel, layout);
    if (layout) out += "\n";
    // libxml2's document dump leaves its depth counter one level up, so the
    // siblings after a copied document node come out one level shallower.
    if (c.kind === "document") childLevel = level;
  }
  if (layout) out += indent(level);
  return out + `</${el.name}>`;
}

function dump(n: XPathNode, level: number, format: boolean): string {
  switch (n.kind) {
    case "element":
      return dumpElement(n, level, format);
    case "text":
      return escapeText(n.value);
    case "attribute":
      return attr(n.name, n.value);
    case "document": {
      // libvirt's parsed documents carry encoding UTF-8, which the declaration names
      let out = '<?xml version="1.0" encoding="UTF-8"?>\n';
      for (const c of n.children) out += dumpElement(c, 0, format) + "\n";
      return out;
    }
  }
}

/** One node as libxml2's xmlNodeDump (level 0, formatted) writes it. */
export function dumpNode(n: XPathNode): string {
  return dump(n, 0, true);
}

/**
 * The nodes copied under a new `<nodes>` element, as virsh's --wrap does:
 * attributes become its attributes (a later one of the same name replaces an
 * earlier one), adjacent text nodes merge, everything else becomes a child.
 */
export function dumpWrapped(nodes: readonly XPathNode[]): string {
  const attributes: XPathAttributeNode[] = [];
  const children: XPathNode[] = [];
  for (const n of nodes) {
    if (n.kind === "attribute") {
      const old = attributes.findIndex((a) => a.name === n.name);
      if (old >= 0) attributes.splice(old, 1);
      attributes.push(n);
      continue;
    }
    const last = children[children.length - 1];
    if (n.kind === "text" && last?.kind === "text") {
      children[children.length - 1] = { ...last, value: last.value + n.value };
      continue;
    }
    children.push(n);
  }
  const wrapper: DumpElement = { name: "nodes", attributes, children };
  return dumpElement(wrapper, 0, true);
}

/** What `secret-dumpxml --xpath` writes to stdout for the selected nodes. */
export function formatXPathResult(nodes: readonly XPathNode[], wrap: boolean): string {
  if (wrap) return dumpWrapped(nodes) + "\n";
  return nodes.map((n) => dumpNode(n) + "\n").join("");
}
