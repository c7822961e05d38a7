// Shared helpers for the storage unit tests: libvirt's fixture files and
// exact VirError assertions (test/helpers/vir-error.ts's, plus the error's
// number and domain).
import { readFileSync } from "node:fs";
import { expect } from "chai";
import { ErrorCode, ErrorDomain, type ErrorCodeName, type VirError } from "../../../src/errors.js";
import { expectVirError as expectSharedVirError, expectVirErrorIs, virErrorOf } from "../../helpers/vir-error.js";

const FIXTURES = new URL("fixtures/libvirt/", import.meta.url);

/** A verbatim libvirt 9.0 fixture: "xmlin/x.xml", "xmlout/x.xml" or "argv/x.argv". */
export function fixture(rel: string): string {
  return readFileSync(new URL(rel, FIXTURES), "utf8");
}

/**
 * libvirt's .argv test files print one option (with its value) per line,
 * each line but the last ending in " \"; no argument contains a space.
 */
export function argvFixture(name: string): string[] {
  return fixture(`argv/${name}.argv`).replace(/ \\\n/g, " ").trim().split(/\s+/);
}

type DomainName = keyof typeof ErrorDomain;

/** `e` carries this code's number and sits in `domain` (the shared helpers check name and message). */
function expectCodeAndDomain(e: VirError, code: ErrorCodeName, domain: DomainName): void {
  expect(e.code).to.equal(ErrorCode[code]);
  expect(e.domain).to.equal(ErrorDomain[domain]);
}

/** Assert a sync or async call fails with a VirError of this code, full message and domain (default STORAGE). */
export async function expectVirError(fn: () => unknown, code: ErrorCodeName, message: string | RegExp, domain: DomainName = "STORAGE"): Promise<VirError> {
  const e = await expectSharedVirError(fn, code, message);
  expectCodeAndDomain(e, code, domain);
  return e;
}

/** Same, for calls that are synchronous (no await needed by the caller). */
export function expectVirErrorSync(fn: () => unknown, code: ErrorCodeName, message: string | RegExp, domain: DomainName = "STORAGE"): VirError {
  const e = virErrorOf(fn, `${code}: ${String(message)}`);
  expectVirErrorIs(e, code, message);
  expectCodeAndDomain(e, code, domain);
  return e;
}
