// An XPath 1.0 evaluator over the element tree of read.ts, for
// `secret-dumpxml --xpath`. It parses the whole XPath 1.0 grammar (so a
// syntax error is reported where libxml2 reports it, and a top-level string,
// number or boolean is told apart from a node-set) and evaluates location
// paths (every axis but namespace), unions, predicates, the operators and the
// core function library. Errors carry libxml2's texts ("Invalid expression",
// "Invalid predicate", "Unregistered function", …) because virsh lets libxml2
// print them.
//
// The tree follows libvirt's parse of a document (libxml2 with
// XML_PARSE_NOBLANKS): whitespace-only text between elements is not a node; a
// leaf element's text is one text node. Mixed content (non-blank text beside
// child elements) is not represented: read.ts keeps no text positions.

import { VirError } from "../errors.js";
import type { XmlElement } from "./read.js";

export interface XPathDocumentNode {
  readonly kind: "document";
  readonly parent: undefined;
  readonly children: readonly XPathElementNode[];
  readonly order: number;
}

export interface XPathElementNode {
  readonly kind: "element";
  readonly parent: XPathDocumentNode | XPathElementNode;
  readonly name: string;
  readonly ns: string | undefined;
  readonly attributes: readonly XPathAttributeNode[];
  readonly children: readonly (XPathElementNode | XPathTextNode)[];
  readonly order: number;
}

export interface XPathAttributeNode {
  readonly kind: "attribute";
  readonly parent: XPathElementNode;
  readonly name: string;
  readonly value: string;
  readonly order: number;
}

export interface XPathTextNode {
  readonly kind: "text";
  readonly parent: XPathElementNode;
  readonly value: string;
  readonly order: number;
}

export type XPathNode = XPathDocumentNode | XPathElementNode | XPathAttributeNode | XPathTextNode;
/** An XPath 1.0 value: a node-set (in document order, no duplicates), string, number or boolean. */
export type XPathValue = readonly XPathNode[] | string | number | boolean;

/**
 * A syntax or evaluation error, with libxml2's message. `position` is the
 * offset libxml2 points its caret at (syntax errors only). `report` is what
 * libxml2 prints on stderr for it.
 */
export class XPathError extends VirError {
  readonly reason: string;
  readonly expression: string;
  readonly position: number | undefined;
  readonly report: string;

  constructor(reason: string, expression: string, position?: number, preamble = "") {
    super("XML_ERROR", `XPath error : ${reason}`, "XML");
    this.name = "XPathError";
    this.reason = reason;
    this.expression = expression;
    this.position = position;
    // libxml2 quotes the expression and a caret only when the caret falls
    // inside it (and within its 100-column buffer).
    let report = `${preamble}XPath error : ${reason}\n`;
    if (position !== undefined && position < 100 && position < expression.length) {
      report += `${expression}\n${" ".repeat(position)}^\n`;
    }
    this.report = report;
  }
}

// ---------------------------------------------------------------------------
// The tree

/** Build the XPath view of a read document (document node at the top). */
export function xpathDocument(root: XmlElement): XPathDocumentNode {
  let order = 0;
  const doc = { kind: "document", parent: undefined, children: [] as XPathElementNode[], order: order++ } as const;
  const build = (el: XmlElement, parent: XPathDocumentNode | XPathElementNode): XPathElementNode => {
    const attributes: XPathAttributeNode[] = [];
    const children: (XPathElementNode | XPathTextNode)[] = [];
    const node: XPathElementNode = { kind: "element", parent, name: el.name, ns: el.ns, attributes, children, order: order++ };
    for (const [name, value] of el.attrs) attributes.push({ kind: "attribute", parent: node, name, value, order: order++ });
    if (el.children.length === 0) {
      if (el.text !== "") children.push({ kind: "text", parent: node, value: el.text, order: order++ });
    } else {
      for (const c of el.children) children.push(build(c, node));
    }
    return node;
  };
  doc.children.push(build(root, doc));
  return doc;
}

/** The XPath string-value of a node. */
export function stringValue(n: XPathNode): string {
  switch (n.kind) {
    case "attribute":
    case "text":
      return n.value;
    default: {
      let out = "";
      const walk = (m: XPathDocumentNode | XPathElementNode): void => {
        for (const c of m.children) {
          if (c.kind === "text") out += c.value;
          else walk(c);
        }
      };
      walk(n);
      return out;
    }
  }
}

// ---------------------------------------------------------------------------
// Tokens

type TokKind = "name" | "literal" | "number" | "var" | "op" | "end";
interface Tok {
  readonly kind: TokKind;
  readonly text: string;
  readonly pos: number;
  /** for literals: the text between the quotes; for numbers: the value */
  readonly value?: string | number;
}

const NCNAME_RE = /[A-Za-z_\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u02FF\u0370-\u037D\u037F-\u1FFF\u200C\u200D\u2070-\u218F\u2C00-\u2FEF\u3001-\uD7FF\uF900-\uFDCF\uFDF0-\uFFFD][\w.\-\u00B7\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u037D\u037F-\u1FFF\u200C\u200D\u203F\u2040\u2070-\u218F\u2C00-\u2FEF\u3001-\uD7FF\uF900-\uFDCF\uFDF0-\uFFFD]*/y;
const NUMBER_RE = /\d+(\.\d*)?|\.\d+/y;
const TWO_CHAR_OPS = ["//", "::", "..", "!=", "<=", ">="];
const ONE_CHAR_OPS = "/()[]@,|+-=<>*.";

function tokenize(s: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  const isSpace = (c: string | undefined): boolean => c === " " || c === "\t" || c === "\n" || c === "\r";
  for (;;) {
    while (isSpace(s[i])) i++;
    if (i >= s.length) {
      toks.push({ kind: "end", text: "", pos: s.length });
      return toks;
    }
    const c = s[i]!;
    if (c === '"' || c === "'") {
      const end = s.indexOf(c, i + 1);
      if (end < 0) throw new XPathError("Unfinished literal", s, s.length);
      toks.push({ kind: "literal", text: s.slice(i, end + 1), pos: i, value: s.slice(i + 1, end) });
      i = end + 1;
      continue;
    }
    NUMBER_RE.lastIndex = i;
    const num = NUMBER_RE.exec(s);
    if (num) {
      toks.push({ kind: "number", text: num[0], pos: i, value: Number(num[0]) });
      i += num[0].length;
      continue;
    }
    const two = s.slice(i, i + 2);
    if (TWO_CHAR_OPS.includes(two)) {
      toks.push({ kind: "op", text: two, pos: i });
      i += 2;
      continue;
    }
    if (ONE_CHAR_OPS.includes(c)) {
      toks.push({ kind: "op", text: c, pos: i });
      i++;
      continue;
    }
    if (c === "$") {
      NCNAME_RE.lastIndex = i + 1;
      const m = NCNAME_RE.exec(s);
      if (!m) throw new XPathError("Invalid expression", s, i + 1);
      toks.push({ kind: "var", text: s.slice(i, i + 1 + m[0].length), pos: i, value: m[0] });
      i += 1 + m[0].length;
      continue;
    }
    NCNAME_RE.lastIndex = i;
    const m = NCNAME_RE.exec(s);
    if (!m) throw new XPathError("Invalid expression", s, i);
    let name = m[0];
    // QName or prefix:* (no spaces around the colon)
    if (s[i + name.length] === ":" && s[i + name.length + 1] !== ":") {
      if (s[i + name.length + 1] === "*") name += ":*";
      else {
        NCNAME_RE.lastIndex = i + name.length + 1;
        const local = NCNAME_RE.exec(s);
        if (local) name += ":" + local[0];
      }
    }
    toks.push({ kind: "name", text: name, pos: i });
    i += name.length;
  }
}

// ---------------------------------------------------------------------------
// Syntax tree

type Axis =
  | "child" | "descendant" | "descendant-or-self" | "self" | "parent" | "ancestor" | "ancestor-or-self"
  | "attribute" | "following-sibling" | "preceding-sibling" | "following" | "preceding" | "namespace";
const AXES: readonly Axis[] = [
  "child", "descendant", "descendant-or-self", "self", "parent", "ancestor", "ancestor-or-self",
  "attribute", "following-sibling", "preceding-sibling", "following", "preceding", "namespace",
];
const REVERSE_AXES: ReadonlySet<Axis> = new Set(["parent", "ancestor", "ancestor-or-self", "preceding-sibling", "preceding"]);

type NodeTest =
  | { readonly type: "name"; readonly prefix: string | undefined; readonly local: string | undefined } // local undefined: "*"
  | { readonly type: "node" | "text" | "comment" | "pi" };

interface Step {
  readonly axis: Axis;
  readonly test: NodeTest;
  readonly predicates: readonly Expr[];
}

type Expr =
  | { readonly type: "path"; readonly absolute: boolean; readonly steps: readonly Step[] }
  | { readonly type: "filter"; readonly primary: Expr; readonly predicates: readonly Expr[]; readonly steps: readonly Step[] }
  | { readonly type: "binary"; readonly op: string; readonly left: Expr; readonly right: Expr }
  | { readonly type: "negate"; readonly operand: Expr }
  | { readonly type: "literal"; readonly value: string }
  | { readonly type: "number"; readonly value: number }
  | { readonly type: "var"; readonly name: string }
  | { readonly type: "call"; readonly name: string; readonly args: readonly Expr[] };

/** A compiled expression. */
export interface XPathExpression {
  readonly source: string;
  readonly expr: Expr;
}

const DESCENDANT_OR_SELF: Step = { axis: "descendant-or-self", test: { type: "node" }, predicates: [] };
const NODE_TYPES: Readonly<Record<string, "node" | "text" | "comment" | "pi">> = {
  node: "node",
  text: "text",
  comment: "comment",
  "processing-instruction": "pi",
};

/**
 * libxml2's XPATH_MAX_RECURSION_DEPTH (5000). Compiling a nested expression
 * (a group, a predicate, a function argument) costs 10 of it, so 500 levels
 * fail to compile; evaluation counts 1 per nested operation. Deeper input
 * would otherwise overflow the JS stack with a RangeError.
 */
const MAX_RECURSION_DEPTH = 5000;
const MAX_NESTED_EXPRESSIONS = MAX_RECURSION_DEPTH / 10;
const RECURSION_LIMIT = "Recursion limit exceeded";

class Parser {
  private k = 0;
  /** expressions being compiled inside one another */
  private nesting = 0;
  constructor(
    private readonly src: string,
    private readonly toks: readonly Tok[],
  ) {}

  private get cur(): Tok {
    return this.toks[this.k]!;
  }
  private peek(n = 1): Tok {
    return this.toks[Math.min(this.k + n, this.toks.length - 1)]!;
  }
  private isOp(text: string, t: Tok = this.cur): boolean {
    return t.kind === "op" && t.text === text;
  }
  private fail(reason = "Invalid expression", pos = this.cur.pos): never {
    throw new XPathError(reason, this.src, pos);
  }
  private expectOp(text: string, reason?: string): void {
    if (!this.isOp(text)) this.fail(reason);
    this.k++;
  }

  parse(): Expr {
    const e = this.orExpr();
    if (this.cur.kind !== "end") this.fail();
    return e;
  }

  /** An operator name (and/or/div/mod) only where an operator may stand. */
  private isOperatorName(name: string): boolean {
    return this.cur.kind === "name" && this.cur.text === name;
  }

  private orExpr(): Expr {
    if (this.nesting >= MAX_NESTED_EXPRESSIONS) this.fail(RECURSION_LIMIT);
    this.nesting++;
    let left = this.andExpr();
    while (this.isOperatorName("or")) {
      this.k++;
      left = { type: "binary", op: "or", left, right: this.andExpr() };
    }
    this.nesting--;
    return left;
  }
  private andExpr(): Expr {
    let left = this.equalityExpr();
    while (this.isOperatorName("and")) {
      this.k++;
      left = { type: "binary", op: "and", left, right: this.equalityExpr() };
    }
    return left;
  }
  private equalityExpr(): Expr {
    let left = this.relationalExpr();
    while (this.isOp("=") || this.isOp("!=")) {
      const op = this.cur.text;
      this.k++;
      left = { type: "binary", op, left, right: this.relationalExpr() };
    }
    return left;
  }
  private relationalExpr(): Expr {
    let left = this.additiveExpr();
    while (this.isOp("<") || this.isOp(">") || this.isOp("<=") || this.isOp(">=")) {
      const op = this.cur.text;
      this.k++;
      left = { type: "binary", op, left, right: this.additiveExpr() };
    }
    return left;
  }
  private additiveExpr(): Expr {
    let left = this.multiplicativeExpr();
    while (this.isOp("+") || this.isOp("-")) {
      const op = this.cur.text;
      this.k++;
      left = { type: "binary", op, left, right: this.multiplicativeExpr() };
    }
    return left;
  }
  private multiplicativeExpr(): Expr {
    let left = this.unaryExpr();
    while (this.isOp("*") || this.isOperatorName("div") || this.isOperatorName("mod")) {
      const op = this.cur.text;
      this.k++;
      left = { type: "binary", op, left, right: this.unaryExpr() };
    }
    return left;
  }
  private unaryExpr(): Expr {
    // as libxml2, a run of '-' keeps only its parity (a loop, not recursion)
    let minus = 0;
    while (this.isOp("-")) {
      this.k++;
      minus++;
    }
    const operand = this.unionExpr();
    if (minus === 0) return operand;
    const negated: Expr = { type: "negate", operand };
    // an even run still turns its operand into a number: -(-x)
    return minus % 2 === 1 ? negated : { type: "negate", operand: negated };
  }
  private unionExpr(): Expr {
    let left = this.pathExpr();
    while (this.isOp("|")) {
      this.k++;
      // libxml2 accepts a trailing '|' at the end of the expression
      if (this.cur.kind === "end") break;
      left = { type: "binary", op: "|", left, right: this.pathExpr() };
    }
    return left;
  }

  private pathExpr(): Expr {
    const t = this.cur;
    const primary =
      t.kind === "literal" || t.kind === "number" || t.kind === "var" || this.isOp("(") ||
      (t.kind === "name" && this.isOp("(", this.peek()) && !(t.text in NODE_TYPES));
    if (!primary) return this.locationPath();
    const prim = this.primaryExpr();
    const predicates = this.predicates();
    const steps: Step[] = [];
    if (this.isOp("/") || this.isOp("//")) {
      this.relativePath(steps, true);
    }
    if (predicates.length === 0 && steps.length === 0) return prim;
    return { type: "filter", primary: prim, predicates, steps };
  }

  private primaryExpr(): Expr {
    const t = this.cur;
    if (t.kind === "literal") {
      this.k++;
      return { type: "literal", value: t.value as string };
    }
    if (t.kind === "number") {
      this.k++;
      return { type: "number", value: t.value as number };
    }
    if (t.kind === "var") {
      this.k++;
      return { type: "var", name: t.value as string };
    }
    if (this.isOp("(")) {
      this.k++;
      const e = this.orExpr();
      this.expectOp(")");
      return e;
    }
    // function call
    this.k += 2;
    const args: Expr[] = [];
    // libxml2 lets the end of the expression close an empty argument list
    if (this.cur.kind === "end") return { type: "call", name: t.text, args };
    if (!this.isOp(")")) {
      for (;;) {
        args.push(this.orExpr());
        if (this.isOp(",")) {
          this.k++;
          continue;
        }
        break;
      }
    }
    this.expectOp(")");
    return { type: "call", name: t.text, args };
  }

  private predicates(): Expr[] {
    const out: Expr[] = [];
    while (this.isOp("[")) {
      this.k++;
      out.push(this.orExpr());
      this.expectOp("]", "Invalid predicate");
    }
    return out;
  }

  private locationPath(): Expr {
    const steps: Step[] = [];
    if (this.isOp("/")) {
      this.k++;
      // "/" alone is the document; a step may follow
      if (this.startsStep()) this.relativePath(steps, false);
      return { type: "path", absolute: true, steps };
    }
    if (this.isOp("//")) {
      this.relativePath(steps, true);
      return { type: "path", absolute: true, steps };
    }
    this.relativePath(steps, false);
    return { type: "path", absolute: false, steps };
  }

  private startsStep(): boolean {
    const t = this.cur;
    return t.kind === "name" || this.isOp("*") || this.isOp("@") || this.isOp(".") || this.isOp("..");
  }

  /** Steps separated by / or //; `leadingSlash`: a / or // comes first. */
  private relativePath(steps: Step[], leadingSlash: boolean): void {
    let needSep = leadingSlash;
    for (;;) {
      if (needSep) {
        if (this.isOp("//")) steps.push(DESCENDANT_OR_SELF);
        else if (!this.isOp("/")) return;
        this.k++;
      }
      steps.push(this.step());
      needSep = true;
    }
  }

  private step(): Step {
    if (this.isOp(".")) {
      this.k++;
      return { axis: "self", test: { type: "node" }, predicates: [] };
    }
    if (this.isOp("..")) {
      this.k++;
      return { axis: "parent", test: { type: "node" }, predicates: [] };
    }
    let axis: Axis = "child";
    if (this.isOp("@")) {
      axis = "attribute";
      this.k++;
    } else if (this.cur.kind === "name" && this.isOp("::", this.peek())) {
      const name = this.cur.text;
      // libxml2 has stepped onto the '::' when it finds the name is no axis
      if (!(AXES as readonly string[]).includes(name)) this.fail("Invalid expression", this.peek().pos + 1);
      axis = name as Axis;
      this.k += 2;
    }
    const test = this.nodeTest();
    return { axis, test, predicates: this.predicates() };
  }

  private nodeTest(): NodeTest {
    const t = this.cur;
    if (this.isOp("*")) {
      this.k++;
      return { type: "name", prefix: undefined, local: undefined };
    }
    if (t.kind !== "name") this.fail();
    this.k++;
    const type = NODE_TYPES[t.text];
    if (type !== undefined && Object.hasOwn(NODE_TYPES, t.text) && this.isOp("(")) {
      this.k++;
      if (type === "pi" && this.cur.kind === "literal") this.k++;
      this.expectOp(")");
      return { type };
    }
    const colon = t.text.indexOf(":");
    if (colon < 0) return { type: "name", prefix: undefined, local: t.text };
    const local = t.text.slice(colon + 1);
    return { type: "name", prefix: t.text.slice(0, colon), local: local === "*" ? undefined : local };
  }
}

/** Parse an XPath 1.0 expression; throws XPathError on a syntax error. */
export function compileXPath(source: string): XPathExpression {
  const toks = tokenize(source);
  // XPath's lexical rule: after a token that ends an operand, '*' is multiply
  // and and/or/div/mod are operators; elsewhere they are names. The parser
  // asks for operator names only in operator position, and a '*' there is
  // taken by multiplicativeExpr before any name test could see it.
  return { source, expr: new Parser(source, toks).parse() };
}

// ---------------------------------------------------------------------------
// Evaluation

interface Context {
  readonly node: XPathNode;
  readonly position: number;
  readonly size: number;
  readonly src: string;
  /** shared by every context of one evaluation: nesting of evaluate() calls */
  readonly run: { depth: number };
}

function isNodeSet(v: XPathValue): v is readonly XPathNode[] {
  return Array.isArray(v);
}

function evalError(ctx: Context, reason: string, preamble?: string): never {
  throw new XPathError(reason, ctx.src, undefined, preamble);
}

/** XPath's number-to-string rule, as libxml2 formats it. */
export function numberToString(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Infinity) return "Infinity";
  if (n === -Infinity) return "-Infinity";
  if (Number.isInteger(n) && Math.abs(n) < 1e15) return String(n === 0 ? 0 : n);
  const s = n.toPrecision(15);
  if (s.includes("e")) return s.replace(/\.?0+e/, "e");
  return s.includes(".") ? s.replace(/\.?0+$/, "") : s;
}

function toStr(v: XPathValue): string {
  if (isNodeSet(v)) return v.length === 0 ? "" : stringValue(v[0]!);
  if (typeof v === "number") return numberToString(v);
  if (typeof v === "boolean") return v ? "true" : "false";
  return v;
}

function strToNum(s: string): number {
  const t = s.trim();
  return /^-?(\d+(\.\d*)?|\.\d+)$/.test(t) ? Number(t) : NaN;
}

function toNum(v: XPathValue): number {
  if (typeof v === "number") return v;
  if (typeof v === "boolean") return v ? 1 : 0;
  return strToNum(toStr(v));
}

function toBool(v: XPathValue): boolean {
  if (isNodeSet(v)) return v.length > 0;
  if (typeof v === "number") return v !== 0 && !Number.isNaN(v);
  if (typeof v === "string") return v.length > 0;
  return v;
}

function inDocumentOrder(nodes: Iterable<XPathNode>): XPathNode[] {
  const seen = new Map<number, XPathNode>();
  for (const n of nodes) seen.set(n.order, n);
  return [...seen.values()].sort((a, b) => a.order - b.order);
}

function childNodes(n: XPathNode): readonly XPathNode[] {
  return n.kind === "document" || n.kind === "element" ? n.children : [];
}

function descendants(n: XPathNode, out: XPathNode[]): void {
  for (const c of childNodes(n)) {
    out.push(c);
    descendants(c, out);
  }
}

function rootOf(n: XPathNode): XPathDocumentNode {
  let cur: XPathNode = n;
  while (cur.parent !== undefined) cur = cur.parent;
  return cur as XPathDocumentNode;
}

/** Nodes on `axis` from `n`, in axis order (reverse axes nearest first). */
function axisNodes(n: XPathNode, axis: Axis): XPathNode[] {
  switch (axis) {
    case "child":
      return [...childNodes(n)];
    case "descendant": {
      const out: XPathNode[] = [];
      descendants(n, out);
      return out;
    }
    case "descendant-or-self": {
      const out: XPathNode[] = [n];
      descendants(n, out);
      return out;
    }
    case "self":
      return [n];
    case "parent":
      return n.parent ? [n.parent] : [];
    case "ancestor":
    case "ancestor-or-self": {
      const out: XPathNode[] = axis === "ancestor-or-self" ? [n] : [];
      for (let p = n.parent; p !== undefined; p = p.parent) out.push(p);
      return out;
    }
    case "attribute":
      return n.kind === "element" ? [...n.attributes] : [];
    case "following-sibling":
    case "preceding-sibling": {
      if (n.kind === "attribute" || n.parent === undefined) return [];
      const sibs = childNodes(n.parent);
      const i = sibs.indexOf(n);
      return axis === "following-sibling" ? sibs.slice(i + 1) : sibs.slice(0, i).reverse();
    }
    case "following":
    case "preceding": {
      const all: XPathNode[] = [];
      descendants(rootOf(n), all);
      // an attribute's following nodes start after its element's attributes
      const anchor = n.kind === "attribute" ? n.parent : n;
      if (axis === "following") {
        const sub: XPathNode[] = [];
        descendants(anchor, sub);
        const last = sub.length > 0 ? sub[sub.length - 1]!.order : anchor.order;
        return all.filter((m) => m.order > last);
      }
      const ancestors = new Set<XPathNode>();
      for (let p = anchor.parent; p !== undefined; p = p.parent) ancestors.add(p);
      return all.filter((m) => m.order < anchor.order && !ancestors.has(m)).reverse();
    }
    case "namespace":
      return [];
  }
}

function matches(n: XPathNode, test: NodeTest, axis: Axis, ctx: Context): boolean {
  switch (test.type) {
    case "node":
      return true;
    case "text":
      return n.kind === "text";
    case "comment":
    case "pi":
      return false; // read.ts keeps no comments or processing instructions
    case "name": {
      // no namespace prefixes are registered (virsh registers none)
      if (test.prefix !== undefined) evalError(ctx, "Undefined namespace prefix");
      const principal = axis === "attribute" ? "attribute" : "element";
      if (n.kind !== principal) return false;
      if (test.local === undefined) return true;
      if (n.kind === "element") return n.ns === undefined && n.name === test.local;
      return n.kind === "attribute" && n.name === test.local;
    }
  }
}

function applyPredicates(nodes: XPathNode[], predicates: readonly Expr[], ctx: Context): XPathNode[] {
  let cur = nodes;
  for (const p of predicates) {
    const size = cur.length;
    cur = cur.filter((node, i) => {
      const v = evaluate(p, { node, position: i + 1, size, src: ctx.src, run: ctx.run });
      return typeof v === "number" ? v === i + 1 : toBool(v);
    });
  }
  return cur;
}

function applySteps(start: readonly XPathNode[], steps: readonly Step[], ctx: Context): XPathNode[] {
  let cur: XPathNode[] = [...start];
  for (const step of steps) {
    const next: XPathNode[] = [];
    for (const n of cur) {
      const picked = axisNodes(n, step.axis).filter((m) => matches(m, step.test, step.axis, ctx));
      next.push(...applyPredicates(picked, step.predicates, ctx));
    }
    cur = inDocumentOrder(next);
  }
  return cur;
}

function compare(op: string, a: XPathValue, b: XPathValue): boolean {
  // node-sets compare as "some member's string-value satisfies it"
  if (isNodeSet(a) || isNodeSet(b)) {
    if (isNodeSet(a) && isNodeSet(b)) {
      return a.some((x) => b.some((y) => compare(op, stringValue(x), stringValue(y))));
    }
    if (isNodeSet(a)) {
      if (typeof b === "boolean") return compare(op, toBool(a), b);
      return a.some((x) => compare(op, typeof b === "number" ? strToNum(stringValue(x)) : stringValue(x), b));
    }
    const bs = b as readonly XPathNode[];
    if (typeof a === "boolean") return compare(op, a, toBool(bs));
    return bs.some((y) => compare(op, a, typeof a === "number" ? strToNum(stringValue(y)) : stringValue(y)));
  }
  if (op === "=" || op === "!=") {
    let eq: boolean;
    if (typeof a === "boolean" || typeof b === "boolean") eq = toBool(a) === toBool(b);
    else if (typeof a === "number" || typeof b === "number") eq = toNum(a) === toNum(b);
    else eq = a === b;
    return op === "=" ? eq : !eq;
  }
  const x = toNum(a);
  const y = toNum(b);
  switch (op) {
    case "<":
      return x < y;
    case ">":
      return x > y;
    case "<=":
      return x <= y;
    default:
      return x >= y;
  }
}

function evaluate(e: Expr, ctx: Context): XPathValue {
  if (ctx.run.depth >= MAX_RECURSION_DEPTH) evalError(ctx, RECURSION_LIMIT);
  ctx.run.depth++;
  try {
    return evaluateNode(e, ctx);
  } finally {
    ctx.run.depth--;
  }
}

function evaluateNode(e: Expr, ctx: Context): XPathValue {
  switch (e.type) {
    case "literal":
    case "number":
      return e.value;
    case "var":
      return evalError(ctx, "Undefined variable");
    case "negate":
      return -toNum(evaluate(e.operand, ctx));
    case "path": {
      const start = e.absolute ? [rootOf(ctx.node)] : [ctx.node];
      return applySteps(start, e.steps, ctx);
    }
    case "filter": {
      const v = evaluate(e.primary, ctx);
      if (e.predicates.length === 0 && e.steps.length === 0) return v;
      if (!isNodeSet(v)) return evalError(ctx, "Invalid type");
      return applySteps(applyPredicates([...v], e.predicates, ctx), e.steps, ctx);
    }
    case "call":
      return callFunction(e.name, e.args, ctx);
    case "binary":
      return binaryChain(e, ctx);
  }
}

type BinaryExpr = Extract<Expr, { type: "binary" }>;

/**
 * A left-deep chain (`a or b or c …`, `1 + 2 + 3 …`) walked in a loop, not
 * recursed into: a long chain would overflow the JS stack long before
 * libxml2's depth limit, which still counts each link.
 */
function binaryChain(e: BinaryExpr, ctx: Context): XPathValue {
  const spine: BinaryExpr[] = [];
  let first: Expr = e;
  while (first.type === "binary") {
    spine.push(first);
    first = first.left;
  }
  if (ctx.run.depth + spine.length >= MAX_RECURSION_DEPTH) evalError(ctx, RECURSION_LIMIT);
  ctx.run.depth += spine.length;
  try {
    let acc = evaluate(first, ctx);
    for (let i = spine.length - 1; i >= 0; i--) acc = binary(spine[i]!.op, acc, spine[i]!.right, ctx);
    return acc;
  } finally {
    ctx.run.depth -= spine.length;
  }
}

/** `a op r` with the left operand already evaluated. */
function binary(op: string, a: XPathValue, r: Expr, ctx: Context): XPathValue {
  if (op === "or") return toBool(a) || toBool(evaluate(r, ctx));
  if (op === "and") return toBool(a) && toBool(evaluate(r, ctx));
  const b = evaluate(r, ctx);
  switch (op) {
    case "|":
      if (!isNodeSet(a) || !isNodeSet(b)) return evalError(ctx, "Invalid type");
      return inDocumentOrder([...a, ...b]);
    case "+":
      return toNum(a) + toNum(b);
    case "-":
      return toNum(a) - toNum(b);
    case "*":
      return toNum(a) * toNum(b);
    case "div":
      return toNum(a) / toNum(b);
    case "mod":
      return toNum(a) % toNum(b);
    default:
      return compare(op, a, b);
  }
}

function callFunction(name: string, argExprs: readonly Expr[], ctx: Context): XPathValue {
  const fn = FUNCTIONS.get(name);
  if (fn === undefined) evalError(ctx, "Unregistered function", `xmlXPathCompOpEval: function ${name} not found\n`);
  const [min, max] = fn.arity;
  if (argExprs.length < min || argExprs.length > max) evalError(ctx, "Invalid number of arguments");
  const args = argExprs.map((a) => evaluate(a, ctx));
  return fn.run(args, ctx);
}

interface XPathFunction {
  readonly arity: readonly [number, number];
  run(args: readonly XPathValue[], ctx: Context): XPathValue;
}

function nodeSetArg(v: XPathValue | undefined, ctx: Context): readonly XPathNode[] {
  if (v === undefined) return [ctx.node];
  if (!isNodeSet(v)) return evalError(ctx, "Invalid type");
  return v;
}

const strArg = (args: readonly XPathValue[], i: number, ctx: Context): string =>
  args[i] === undefined ? stringValue(ctx.node) : toStr(args[i]!);

function nodeName(n: XPathNode | undefined): string {
  return n?.kind === "element" || n?.kind === "attribute" ? n.name : "";
}

function xpathRound(n: number): number {
  if (!Number.isFinite(n) || n === 0) return n;
  if (n < 0 && n >= -0.5) return -0;
  return Math.floor(n + 0.5);
}

const MANY = Number.MAX_SAFE_INTEGER;
const FUNCTIONS: ReadonlyMap<string, XPathFunction> = new Map<string, XPathFunction>([
  ["last", { arity: [0, 0], run: (_a, c) => c.size }],
  ["position", { arity: [0, 0], run: (_a, c) => c.position }],
  ["count", { arity: [1, 1], run: (a, c) => nodeSetArg(a[0], c).length }],
  ["id", { arity: [1, 1], run: () => [] }], // no DTD, so no ID attributes
  ["local-name", { arity: [0, 1], run: (a, c) => nodeName(nodeSetArg(a[0], c)[0]).replace(/^[^:]*:/, "") }],
  ["name", { arity: [0, 1], run: (a, c) => nodeName(nodeSetArg(a[0], c)[0]) }],
  ["namespace-uri", { arity: [0, 1], run: (a, c) => { const n = nodeSetArg(a[0], c)[0]; return n?.kind === "element" ? (n.ns ?? "") : ""; } }],
  ["string", { arity: [0, 1], run: (a, c) => strArg(a, 0, c) }],
  ["concat", { arity: [2, MANY], run: (a) => a.map(toStr).join("") }],
  ["starts-with", { arity: [2, 2], run: (a) => toStr(a[0]!).startsWith(toStr(a[1]!)) }],
  ["contains", { arity: [2, 2], run: (a) => toStr(a[0]!).includes(toStr(a[1]!)) }],
  ["substring-before", { arity: [2, 2], run: (a) => { const s = toStr(a[0]!); const i = s.indexOf(toStr(a[1]!)); return i < 0 ? "" : s.slice(0, i); } }],
  ["substring-after", { arity: [2, 2], run: (a) => { const s = toStr(a[0]!); const t = toStr(a[1]!); const i = s.indexOf(t); return i < 0 ? "" : s.slice(i + t.length); } }],
  ["substring", {
    arity: [2, 3],
    run: (a) => {
      const chars = [...toStr(a[0]!)];
      const start = xpathRound(toNum(a[1]!));
      const end = a[2] === undefined ? Infinity : start + xpathRound(toNum(a[2]));
      return chars.filter((_ch, i) => i + 1 >= start && i + 1 < end).join("");
    },
  }],
  ["string-length", { arity: [0, 1], run: (a, c) => [...strArg(a, 0, c)].length }],
  ["normalize-space", { arity: [0, 1], run: (a, c) => strArg(a, 0, c).split(/[ \t\r\n]+/).filter(Boolean).join(" ") }],
  ["translate", {
    arity: [3, 3],
    run: (a) => {
      const from = [...toStr(a[1]!)];
      const to = [...toStr(a[2]!)];
      return [...toStr(a[0]!)].map((ch) => { const i = from.indexOf(ch); return i < 0 ? ch : (to[i] ?? ""); }).join("");
    },
  }],
  ["boolean", { arity: [1, 1], run: (a) => toBool(a[0]!) }],
  ["not", { arity: [1, 1], run: (a) => !toBool(a[0]!) }],
  ["true", { arity: [0, 0], run: () => true }],
  ["false", { arity: [0, 0], run: () => false }],
  ["lang", {
    arity: [1, 1],
    run: (a, c) => {
      const want = toStr(a[0]!).toLowerCase();
      for (let n: XPathNode | undefined = c.node; n !== undefined; n = n.parent) {
        if (n.kind !== "element") continue;
        const lang = n.attributes.find((x) => x.name === "xml:lang");
        if (lang) { const v = lang.value.toLowerCase(); return v === want || v.startsWith(want + "-"); }
      }
      return false;
    },
  }],
  ["number", { arity: [0, 1], run: (a, c) => (a[0] === undefined ? strToNum(stringValue(c.node)) : toNum(a[0])) }],
  ["sum", { arity: [1, 1], run: (a, c) => nodeSetArg(a[0], c).reduce((s, n) => s + strToNum(stringValue(n)), 0) }],
  ["floor", { arity: [1, 1], run: (a) => Math.floor(toNum(a[0]!)) }],
  ["ceiling", { arity: [1, 1], run: (a) => Math.ceil(toNum(a[0]!)) }],
  ["round", { arity: [1, 1], run: (a) => xpathRound(toNum(a[0]!)) }],
]);

/**
 * Evaluate `expr` with `context` as the context node (position 1 of 1).
 * Throws XPathError for syntax and evaluation errors.
 */
export function evaluateXPath(expr: string | XPathExpression, context: XPathNode): XPathValue {
  const compiled = typeof expr === "string" ? compileXPath(expr) : expr;
  return evaluate(compiled.expr, { node: context, position: 1, size: 1, src: compiled.source, run: { depth: 0 } });
}

/**
 * libvirt's virXPathNodeSet over a read document, the root element being the
 * context node (as virsh sets it): the selected nodes in document order.
 * A result that is not a node-set gives VirError INTERNAL_ERROR
 * `Incorrect xpath '<expr>'`; syntax and evaluation errors throw XPathError.
 */
export function selectNodes(expr: string, root: XmlElement | XPathDocumentNode): readonly XPathNode[] {
  const doc = "kind" in root ? root : xpathDocument(root);
  const v = evaluateXPath(expr, doc.children[0] ?? doc);
  if (!isNodeSet(v)) throw new VirError("INTERNAL_ERROR", `Incorrect xpath '${expr}'`, "XML");
  return v;
}
