// src/index.ts is the whole public API: every type its exports' signatures
// name is itself exported (a user can write it down), no export needs an
// internal type to be used, and every library function README.md names is
// exported. The check reads the sources with the TypeScript compiler.
import { expect } from "chai";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import * as api from "../../../src/index.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const INDEX = `${ROOT}src/index.ts`;
/**
 * Exported as handles only: users pass them on (drv.store to openKeystore or
 * LocalKeyManager), never call into them, so their members are not API.
 */
const OPAQUE = new Set(["SecretStore"]);

interface ApiFacts {
  /** types the exported declarations mention that index.ts does not export */
  readonly unexported: string[];
  /** member names of the exported classes and interfaces (methods a README line may name) */
  readonly members: Set<string>;
  /** where an exported signature says `any` */
  readonly anys: string[];
}

function apiFacts(): ApiFacts {
  const program = ts.createProgram([INDEX], {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    types: ["node"],
    noEmit: true,
  });
  const checker = program.getTypeChecker();
  const resolve = (s: ts.Symbol): ts.Symbol => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s);
  const exported = new Set(checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(INDEX)!)!).map(resolve));
  const seen = new Set<ts.Symbol>();
  const missing = new Set<string>();
  const anys: string[] = [];
  const inSrc = (d: ts.Declaration): boolean => d.getSourceFile().fileName.startsWith(`${ROOT}src/`);
  const isHidden = (n: ts.Node): boolean =>
    ((ts.isPropertyDeclaration(n) || ts.isMethodDeclaration(n) || ts.isGetAccessor(n) || ts.isParameter(n)) &&
      n.name !== undefined && ts.isPrivateIdentifier(n.name)) ||
    (ts.canHaveModifiers(n) && (ts.getCombinedModifierFlags(n as ts.Declaration) & ts.ModifierFlags.Private) !== 0 && !ts.isParameter(n));
  const walk = (n: ts.Node): void => {
    if (isHidden(n)) return;
    // a body or an initialiser is implementation, not signature
    if ((ts.isFunctionLike(n) || ts.isVariableDeclaration(n)) && "body" in n && n.body) {
      for (const c of [...(("parameters" in n ? n.parameters : []) as ts.Node[]), ...("type" in n && n.type ? [n.type as ts.Node] : [])]) walk(c);
      return;
    }
    if (ts.isVariableDeclaration(n)) {
      if (n.type) walk(n.type);
      return;
    }
    if (n.kind === ts.SyntaxKind.AnyKeyword) {
      const { line } = n.getSourceFile().getLineAndCharacterOfPosition(n.getStart());
      anys.push(`${n.getSourceFile().fileName.slice(ROOT.length)}:${line + 1}`);
    }
    let name: ts.Node | undefined;
    if (ts.isTypeReferenceNode(n)) name = n.typeName;
    else if (ts.isExpressionWithTypeArguments(n)) name = n.expression;
    else if (ts.isTypeQueryNode(n)) name = n.exprName;
    if (name) {
      const s = checker.getSymbolAtLocation(name);
      if (s) visit(resolve(s));
    }
    ts.forEachChild(n, walk);
  };
  const visit = (s: ts.Symbol): void => {
    if (seen.has(s)) return;
    seen.add(s);
    const decls = (s.declarations ?? []).filter(inSrc);
    if (decls.length === 0) return;
    // a type parameter belongs to its declaration
    if (decls.every((d) => ts.isTypeParameterDeclaration(d))) return;
    if (!exported.has(s)) missing.add(`${s.name} (${decls[0]!.getSourceFile().fileName.slice(ROOT.length)})`);
    if (!OPAQUE.has(s.name)) for (const d of decls) walk(d);
  };
  for (const s of exported) visit(s);
  const members = new Set<string>();
  for (const s of exported) {
    for (const d of s.declarations ?? []) {
      if (ts.isInterfaceDeclaration(d) || ts.isClassDeclaration(d)) {
        for (const m of d.members) if (m.name && ts.isIdentifier(m.name)) members.add(m.name.text);
      }
    }
  }
  return { unexported: [...missing].sort(), members, anys };
}

describe("public API (src/index.ts)", function () {
  this.timeout(60000);
  let facts: ApiFacts;
  before(() => {
    facts = apiFacts();
  });

  it("every type named by an exported signature is exported too", () => {
    expect(facts.unexported).to.deep.equal([]);
  });

  it("no exported signature uses `any`", () => {
    expect(facts.anys).to.deep.equal([]);
  });

  it("every library function README.md names is exported", () => {
    const readme = readFileSync(`${ROOT}README.md`, "utf8");
    const lib = readme.slice(readme.indexOf("## The library"), readme.indexOf("## Keystore configuration"));
    expect(lib.length).to.be.greaterThan(100);
    // `name(` not preceded by `.`: an exported function, or a method of an exported type
    const names = new Set([...lib.matchAll(/(?<![.\w])([a-z][A-Za-z0-9]+)\(/g)].map((m) => m[1]!));
    for (const word of ["import", "await", "const"]) names.delete(word);
    expect(names.size).to.be.greaterThan(10);
    const missing = [...names].filter((n) => typeof (api as Record<string, unknown>)[n] !== "function" && !facts.members.has(n));
    expect(missing, "named in README.md, not exported as a function").to.deep.equal([]);
    for (const m of lib.matchAll(/import \{([^}]*)\} from "virsecret"/g)) {
      for (const n of m[1]!.split(",").map((x) => x.trim())) expect(api, n).to.have.property(n);
    }
  });
});
